"""The distributed package in one process: identity collectives, SyncBatchNorm == BatchNorm, conversion,
the bucketed reducer (against a fake two-rank communicator), bytes_per_step, and a one-rank Trainer."""

import numpy as np
import pytest

import cvprimer as cp
import cvprimer.functional as F
import cvprimer.nn as nn
from cvprimer import optim
from cvprimer.distributed import (
    Communicator,
    GradientReducer,
    SyncBatchNorm,
    bytes_per_step,
    convert_sync_batchnorm,
)
from cvprimer.distributed.sync_batch_norm import combine_moments
from cvprimer.models import get_model


def test_single_process_collectives_are_identities():
    c = Communicator()
    assert (c.rank, c.world_size, c.is_main) == (0, 1, True)
    a = np.arange(4.0)
    assert c.allreduce_(a) is a and a.tolist() == [0, 1, 2, 3]
    assert c.allgather(a).shape == (1, 4)
    assert c.bcast_(a) is a and c.bcast_object({"k": 1}) == {"k": 1}
    assert c.allreduce_scalars([1.5, 2]) == [1.5, 2.0]
    with pytest.raises(ValueError, match="C-contiguous"):
        c.allreduce_(np.zeros((4, 4))[:, 0])


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 3, 4, 4)])
def test_sync_batch_norm_on_one_rank_is_batch_norm(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3 + 1
    gy = rng.standard_normal(shape)
    ref = nn.BatchNorm1d(3, dtype=np.float64) if len(shape) < 4 else nn.BatchNorm2d(3, dtype=np.float64)
    sbn = SyncBatchNorm(3, dtype=np.float64, comm=Communicator())
    for m in (ref, sbn):
        m.weight.data[...] = [0.5, 2.0, -1.0]
        m.bias.data[...] = [0.1, 0.0, 0.3]
    outs = []
    for m in (ref, sbn):
        xt = cp.tensor(x, requires_grad=True)
        y = m(xt)
        y.backward(cp.tensor(gy))
        outs.append((y.data, xt.grad.data, m.weight.grad.data, m.bias.grad.data, m.running_mean.data.copy(),
                     m.running_var.data.copy()))
    for a, b in zip(*outs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    sbn.eval()
    ref.eval()
    np.testing.assert_allclose(sbn(cp.tensor(x)).data, ref(cp.tensor(x)).data, rtol=1e-13, atol=1e-13)


def test_combine_moments_is_the_union():
    rng = np.random.default_rng(1)
    parts = [rng.standard_normal((n, 2)) * 5 + 3 for n in (3, 7, 1)]
    counts = np.array([len(p) for p in parts])
    means = np.stack([p.mean(0) for p in parts])
    m2s = np.stack([((p - p.mean(0)) ** 2).sum(0) for p in parts])
    total, mean, var = combine_moments(counts, means, m2s)
    allx = np.concatenate(parts)
    assert total == 11
    np.testing.assert_allclose(mean, allx.mean(0), rtol=1e-14)
    np.testing.assert_allclose(var, allx.var(0), rtol=1e-13)


def test_convert_sync_batchnorm_keeps_parameters_and_keys():
    model = get_model("resnet20", rng=np.random.default_rng(0))
    keys, params = list(model.state_dict()), list(model.parameters())
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    convert_sync_batchnorm(model, Communicator())
    assert sum(isinstance(m, SyncBatchNorm) for m in model.modules()) == n_bn == 19
    assert list(model.state_dict()) == keys
    assert all(a is b for a, b in zip(model.parameters(), params, strict=True))  # optimizers stay valid


class FakeTwoRanks(Communicator):
    """Pretends the other rank holds the same gradients: Allreduce doubles the buffer; records call sizes."""

    def __init__(self):
        super().__init__()
        self.world_size, self.calls = 2, []

    def allreduce_(self, buf):
        self.calls.append(buf.nbytes)
        buf *= 2
        return buf


def _model_with_grads():
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3), nn.Linear(3, 2)).double()
    out = model[2](model[1](model[0](cp.tensor(np.ones((2, 5))))))  # model[3] gets no gradient
    out.sum().backward()
    return model


@pytest.mark.parametrize("bucket_bytes, n_calls", [(None, 1), (10**6, 1), (8 * 12, 4)])
def test_reducer_mean_sum_none_and_buckets(bucket_bytes, n_calls):
    model = _model_with_grads()
    before = [None if p.grad is None else p.grad.data.copy() for p in model.parameters()]
    comm = FakeTwoRanks()
    reducer = GradientReducer(model.parameters(), comm, bucket_bytes)
    assert reducer(op="mean") == reducer.payload_bytes == 8 * (5 * 4 + 4 + 4 * 3 + 3 + 3 * 2 + 2 + 6)
    assert len(comm.calls) == n_calls
    for p, b in zip(model.parameters(), before, strict=True):
        assert (p.grad is None) == (b is None)  # a parameter no rank touched keeps grad None
        if b is not None:
            assert np.array_equal(p.grad.data, b)  # mean of two equal gradients
    reducer(op="sum")
    assert np.array_equal(model[0].weight.grad.data, 2 * before[0])


def test_bytes_per_step_lenet5():
    info = bytes_per_step(get_model("lenet5"), world_size=4)
    assert info["gradient_bytes"] == 61706 * 4 and info["parameters"] == 10
    assert info["payload_bytes"] == 61706 * 4 + 10 * 4
    assert info["ring_bytes_per_rank"] == pytest.approx(2 * 3 / 4 * info["payload_bytes"])


def test_one_rank_trainer_is_the_plain_trainer():
    """distributed=<one-process communicator> changes nothing: same history and parameters, bit for bit."""
    from cvprimer.data import ArrayDataset, DataLoader
    from cvprimer.train import Trainer

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 6)), rng.integers(0, 3, 40)

    def fit(dist):
        model = nn.Sequential(nn.Linear(6, 8, rng=np.random.default_rng(1)), nn.BatchNorm1d(8), nn.ReLU(),
                              nn.Linear(8, 3, rng=np.random.default_rng(2))).double()
        t = Trainer(model, F.cross_entropy, optim.Adam(model.parameters(), lr=0.01), distributed=dist)
        h = t.fit(DataLoader(ArrayDataset(x, y), batch_size=8, shuffle=True, rng=3),
                  DataLoader(ArrayDataset(x, y), batch_size=16), epochs=2)
        return [{k: v for k, v in e.items() if k != "time"} for e in h], model.state_dict()

    (ha, sa), (hb, sb) = fit(None), fit(Communicator())
    assert ha == hb
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)
