"""The overlapped gradient all-reduce (issue 27) in one process, on a stand-in communicator that plays a
second rank: buckets start during backward in bucket order, and the result is exactly the blocking
GradientReducer's (mean and sum, unused parameters, two backward passes in one step, eval forwards)."""

import numpy as np
import pytest

import cvprimer as cp
import cvprimer.functional as F
import cvprimer.nn as nn
from cvprimer.distributed import DataParallel, GradientReducer
from cvprimer.distributed.parallel import OverlappedReducer


class TwoRankStandIn:
    """A communicator whose 'other rank' contributes 0.5 to every gradient entry and count (not our gradient,
    and independent of how the buffers are cut); records when each nonblocking all-reduce started."""

    def __init__(self) -> None:
        self.rank, self.world_size = 0, 2
        self.launches: list[int] = []
        self.phase = "backward"
        self.stats = {"allreduce_calls": 0, "allreduce_bytes": 0, "comm_time": 0.0}

    def _other(self, buf: np.ndarray) -> None:
        buf += 0.5

    def allreduce_(self, buf: np.ndarray) -> np.ndarray:
        self._other(buf)
        return buf

    def iallreduce_(self, buf: np.ndarray) -> object:
        self.launches.append(self.phase)
        self._other(buf)
        return ("request", buf.size)

    def test_all(self, requests) -> None:
        pass

    def wait_all(self, requests) -> None:
        pass

    def barrier(self) -> None:
        pass

    def bcast_object(self, obj, root=0):
        return obj

    def bcast_(self, buf, root=0):  # rank 0 is us: the broadcast leaves everything as it is
        return buf


def net(seed: int = 0, extra: bool = False) -> nn.Module:
    rng = np.random.default_rng(seed)
    layers = [nn.Conv2d(2, 6, 3, padding=1, rng=rng), nn.ReLU(), nn.Conv2d(6, 8, 3, padding=1, rng=rng), nn.ReLU(),
              nn.Flatten(), nn.Linear(8 * 6 * 6, 5, rng=rng)]
    m = nn.Sequential(*layers).double()
    if extra:
        return WithUnused(m, nn.Linear(3, 3, rng=rng).double())
    return m


class WithUnused(nn.Module):
    def __init__(self, body: nn.Module, unused: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.unused = unused  # gets no gradient

    def forward(self, x):
        return self.body(x)


def data(seed: int = 1):
    rng = np.random.default_rng(seed)
    return cp.tensor(rng.standard_normal((4, 2, 6, 6))), cp.tensor(rng.integers(0, 5, 4))


def blocking_grads(model_seed: int, op: str, extra: bool = False, backwards: int = 1) -> list:
    m = net(model_seed, extra)
    x, y = data()
    for _ in range(backwards):
        F.cross_entropy(m(x), y).backward()
    GradientReducer(m.parameters(), TwoRankStandIn())(op)
    return [None if p.grad is None else p.grad.data.copy() for p in m.parameters()]


def overlapped(op: str, extra: bool = False, backwards: int = 1, bucket_bytes: int = 600):
    m = net(0, extra)
    comm = TwoRankStandIn()
    dp = DataParallel(m, comm, bucket_bytes=bucket_bytes, overlap=True)
    x, y = data()
    for _ in range(backwards):
        F.cross_entropy(dp(x), y).backward()
    in_backward = list(comm.launches)
    comm.phase = "finish"
    sent = dp.allreduce_gradients(op)
    return m, dp, comm, in_backward, sent


@pytest.mark.parametrize("op", ["mean", "sum"])
def test_same_numbers_as_the_blocking_reducer(op):
    m, dp, comm, in_backward, sent = overlapped(op)
    ref = blocking_grads(0, op)
    assert len(dp.overlapped.buckets) >= 3  # several buckets at 600 bytes
    for p, r in zip(m.parameters(), ref, strict=True):
        np.testing.assert_array_equal(p.grad.data, r)
    assert sent == sum(b.buf.nbytes for b in dp.overlapped.buckets) == dp.reducer.payload_bytes


def test_every_bucket_starts_during_backward_in_order():
    m, dp, comm, in_backward, _ = overlapped("mean")
    assert in_backward == ["backward"] * len(dp.overlapped.buckets)  # none left for finish()
    assert dp.overlapped.launched_in_backward == len(dp.overlapped.buckets)
    # buckets hold parameters in reverse order: the last layer's gradient (ready first) is in bucket 0
    params = list(m.parameters())
    assert dp.overlapped.where[id(params[-1])][0] == 0
    assert dp.overlapped.where[id(params[0])][0] == len(dp.overlapped.buckets) - 1


def test_a_parameter_without_gradient_is_sent_at_finish():
    m, dp, comm, in_backward, _ = overlapped("mean", extra=True)
    ref = blocking_grads(0, "mean", extra=True)
    assert "finish" in comm.launches  # its bucket could not fill during backward
    for p, r in zip(m.parameters(), ref, strict=True):
        np.testing.assert_array_equal(p.grad.data, r)


def test_two_backward_passes_in_one_step_reduce_the_accumulated_gradient():
    m, dp, comm, in_backward, _ = overlapped("mean", backwards=2)
    ref = blocking_grads(0, "mean", backwards=2)
    for p, r in zip(m.parameters(), ref, strict=True):
        np.testing.assert_array_equal(p.grad.data, r)


def test_eval_and_no_grad_forwards_do_not_arm():
    m = net(0)
    comm = TwoRankStandIn()
    dp = DataParallel(m, comm, bucket_bytes=600, overlap=True)
    x, y = data()
    dp.eval()
    F.cross_entropy(dp(x), y).backward()
    assert comm.launches == []  # hooks ignored: not armed
    dp.train()
    with cp.no_grad():
        dp(x)
    assert not dp.overlapped.armed
    dp.allreduce_gradients()  # not armed: everything reduced from .grad at once
    ref = blocking_grads(0, "mean")
    for p, r in zip(m.parameters(), ref, strict=True):
        np.testing.assert_array_equal(p.grad.data, r)


def test_steps_reset_and_one_process_is_a_no_op():
    m, dp, comm, _, _ = overlapped("mean")
    x, y = data(2)
    comm.launches.clear()
    comm.phase = "backward"
    dp.module.zero_grad()
    F.cross_entropy(dp(x), y).backward()
    assert comm.launches == ["backward"] * len(dp.overlapped.buckets)  # the second step overlaps again
    from cvprimer.distributed import Communicator

    single = DataParallel(net(0), Communicator(None), overlap=True)
    F.cross_entropy(single(x), y).backward()
    before = [p.grad.data.copy() for p in single.parameters()]
    assert single.allreduce_gradients() == 0
    assert all(np.array_equal(p.grad.data, b) for p, b in zip(single.parameters(), before, strict=True))


def test_blocking_is_the_default():
    """Overlap is opt-in: with it every rank must run each backward through the wrapper (a rank-local backward
    would start collectives the others never join); the default keeps rank-local backward passes free."""
    comm = TwoRankStandIn()
    dp = DataParallel(net(0), comm)
    x, y = data()
    F.cross_entropy(dp(x), y).backward()
    assert dp.overlapped is None and comm.launches == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="bucket_bytes"):
        OverlappedReducer(list(net(0).parameters()), TwoRankStandIn(), 0)
    _, dp, _, _, _ = overlapped("mean")
    with pytest.raises(ValueError, match="op must be"):
        dp.allreduce_gradients("max")
