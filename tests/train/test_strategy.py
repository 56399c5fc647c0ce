"""The Trainer's strategy object (issue 28 point 5): the Trainer asks its strategy and never which process it is;
the hooks are called where the module docstring of cvprimer.train.strategy says; data parallel over two MPI ranks
(overlapped and blocking all-reduce, with gradient accumulation and clipping) gives the one-process parameters on
the global batch.

Run as a script under ``mpiexec -n 2`` it is the worker of the last test."""

import io
import json
import os
import sys
import tokenize

import numpy as np
import pytest

import cvprimer.functional as F
from cvprimer import nn, optim
from cvprimer.data import ArrayDataset, DataLoader
from cvprimer.distributed import DistributedSampler
from cvprimer.distributed.comm import Communicator
from cvprimer.train import Trainer
from cvprimer.train.callbacks import Callback
from cvprimer.train.strategy import DataParallelStrategy, SingleProcess, make_strategy

N, BATCH, EPOCHS, SEED = 24, 8, 2, 5


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, 6)), rng.integers(0, 3, N)


def _model():
    return nn.Sequential(nn.Linear(6, 16, rng=np.random.default_rng(1)), nn.ReLU(),
                         nn.Linear(16, 3, rng=np.random.default_rng(2))).double()


def _fit(strategy, rank=0, world=1):
    """Adam, 3 global batches of 8 per epoch, gradients accumulated over 2 (so each epoch ends on a lone batch),
    clipped to norm 0.5; the loaders' shards interleave, so the ranks' batches together are the global batch."""
    x, y = _data()
    model = _model()
    launched = []

    class Overlap(Callback):
        def on_after_step(self, trainer):
            red = getattr(trainer.strategy, "_overlapped", None)
            launched.append(0 if red is None else red.launched_in_backward)

    t = Trainer(model, F.cross_entropy, optim.Adam(model.parameters(), lr=0.05), accumulate=2,
                clip_grad_norm=0.5, strategy=strategy, callbacks=[Overlap()])
    train = DataLoader(ArrayDataset(x, y), batch_size=BATCH // world, rng=SEED,
                       sampler=DistributedSampler(N, rank=rank, world_size=world))
    val = DataLoader(ArrayDataset(x, y), batch_size=5, sampler=DistributedSampler(N, rank=rank, world_size=world,
                                                                                  shuffle=False, pad=False))
    hist = t.fit(train, val, epochs=EPOCHS)
    hist = [{k: v for k, v in h.items() if k != "time"} for h in hist]
    return hist, {k: v.copy() for k, v in model.state_dict().items()}, launched


def test_trainer_holds_no_process_branches():
    """No name or comment in trainer.py mentions a communicator or a rank: the strategy carries them."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "src", "cvprimer", "train", "trainer.py")
    with open(path, encoding="utf-8") as f:
        toks = list(tokenize.generate_tokens(io.StringIO(f.read()).readline))
    words = [t.string for t in toks if t.type in (tokenize.NAME, tokenize.COMMENT)]
    assert len(words) > 500  # the file was read
    bad = [w for w in words if "comm" in w.lower() or "rank" in w.lower() or "world" in w.lower()]
    assert bad == [], bad


def test_make_strategy_and_single_process_hooks():
    s = make_strategy(None)
    assert type(s) is SingleProcess and make_strategy(False).is_main and make_strategy(s) is s
    assert s.local_batch(64) == 64 and s.sampler(10) is None and s.rank_transform("t") == "t"
    assert s.reduce_sums([1.5, 2]) == [1.5, 2] and s.stops_alone and s.world_size == 1
    dp = make_strategy(Communicator())
    assert isinstance(dp, DataParallelStrategy) and dp.overlap and dp.is_main and dp.stops_alone
    assert dp.local_batch(64) == 64 and len(dp.sampler(10)) == 10
    d = Communicator().dup()  # the overlapped reducer's own communicator; one process: another single one
    assert d.world_size == 1 and d is not dp.comm
    d.free()
    with pytest.raises(TypeError, match="DataParallelStrategy: expected a cvprimer.distributed.Communicator"):
        DataParallelStrategy("world")


def test_trainer_refuses_two_strategies_and_a_foreign_object():
    m = _model()
    with pytest.raises(ValueError, match="Trainer: give strategy= or distributed=, not both"):
        Trainer(m, F.cross_entropy, optim.SGD(m.parameters(), lr=0.1), strategy=SingleProcess(), distributed=True)
    with pytest.raises(TypeError, match="Trainer: strategy must be .*got str"):
        Trainer(m, F.cross_entropy, optim.SGD(m.parameters(), lr=0.1), strategy="ddp")


class Recording(SingleProcess):
    """One process, recording every hook the Trainer calls; ``main`` and ``alone`` stand in for another rank."""

    def __init__(self, main=True, alone=True):
        self.calls, self.is_main, self._alone = [], main, alone

    @property
    def stops_alone(self):
        return self._alone

    def start(self, model, optimizer):
        self.calls.append("start")

    def end(self):
        self.calls.append("end")

    def backward(self, loss, will_step):
        self.calls.append(f"backward:{int(will_step)}")
        loss.backward()

    def reduce_gradients(self):
        self.calls.append("reduce_gradients")

    def reduce_sums(self, values):
        self.calls.append("reduce_sums")
        return list(values)

    def sync_buffers(self, model):
        self.calls.append("sync_buffers")


def test_hooks_in_the_order_of_an_epoch():
    """3 batches, accumulate 2: backward (no step follows), backward (step), reduce, then the lone last batch's
    backward (announced as a step: the loader's length says it is the last), its reduce; the epoch's sums and
    buffers; the validation's sums; end."""
    s = Recording()
    hist, _, _ = _fit_with(s, epochs=1)
    assert s.calls == ["start", "backward:0", "backward:1", "reduce_gradients", "backward:1", "reduce_gradients",
                       "reduce_sums", "sync_buffers", "reduce_sums", "end"]
    assert hist[0]["step"] == 2


def _fit_with(strategy, epochs=1, tmp_path=None, interrupt=False):
    x, y = _data()
    model = _model()
    cbs = []
    if tmp_path is not None:
        from cvprimer.train.callbacks import ModelCheckpoint

        cbs.append(ModelCheckpoint(str(tmp_path), "val_loss", "min"))
    if interrupt:
        class Stop(Callback):
            def on_batch_end(self, trainer, logs):
                raise KeyboardInterrupt
        cbs.append(Stop())
    t = Trainer(model, F.cross_entropy, optim.SGD(model.parameters(), lr=0.1), accumulate=2, strategy=strategy,
                callbacks=cbs)
    hist = t.fit(DataLoader(ArrayDataset(x, y), batch_size=BATCH, rng=SEED), DataLoader(ArrayDataset(x, y),
                 batch_size=N), epochs=epochs)
    return hist, t, model


def test_only_the_main_process_writes_checkpoints(tmp_path):
    _fit_with(Recording(main=True), tmp_path=tmp_path / "main")
    _fit_with(Recording(main=False), tmp_path=tmp_path / "other")
    assert "last.npz" in os.listdir(tmp_path / "main")
    assert os.listdir(tmp_path / "other") == []  # the folder is made on every process, written on the main one


def test_ctrl_c_ends_cleanly_only_where_a_process_may_stop_alone():
    s = Recording(alone=True)
    _, t, _ = _fit_with(s, interrupt=True)
    assert t.interrupted and s.calls[-1] == "end"
    s = Recording(alone=False)
    with pytest.raises(KeyboardInterrupt):
        _fit_with(s, interrupt=True)
    assert s.calls[-1] == "end"  # the gradient hooks are removed on the way out too


@pytest.mark.parametrize("overlap", [True, False])
def test_one_process_data_parallel_changes_nothing(overlap):
    """DataParallelStrategy over a one-process communicator: the history and parameters of SingleProcess, bit for
    bit, with the overlapped or the blocking reducer."""
    (ha, sa, _), (hb, sb, _) = _fit(SingleProcess()), _fit(DataParallelStrategy(Communicator(), overlap=overlap))
    assert ha == hb and all(np.array_equal(sa[k], sb[k]) for k in sa)


def test_two_ranks_match_one_process_on_the_global_batch(tmp_path):
    """Under mpiexec -n 2, overlapped and blocking: the ranks agree bit for bit with each other and between the two
    reducers, the overlapped one started its all-reduce during backward, and the parameters are those of one
    process on the global batch of 8 (float64, to 1e-12 of the largest)."""
    pytest.importorskip("mpi4py")
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "distributed"))
    from mpi_testing import run_mpi

    proc = run_mpi([os.path.abspath(__file__), str(tmp_path)], n=2, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref_hist, ref, _ = _fit(SingleProcess())
    got = {}
    for overlap in (True, False):
        runs = [np.load(tmp_path / f"r{r}_o{int(overlap)}.npz") for r in (0, 1)]
        hists = [json.loads((tmp_path / f"r{r}_o{int(overlap)}.json").read_text()) for r in (0, 1)]
        assert hists[0]["hist"] == hists[1]["hist"]
        assert all(np.array_equal(runs[0][k], runs[1][k]) for k in ref)
        got[overlap] = runs[0]
        if overlap:
            assert min(hists[0]["launched"]) >= 1  # every step: a bucket went out before backward ended
        else:
            assert hists[0]["launched"] == [0] * len(hists[0]["launched"])
        for k in ref:
            scale = np.abs(ref[k]).max()
            np.testing.assert_allclose(runs[0][k], ref[k], rtol=0, atol=1e-12 * scale)
        for a, b in zip(hists[0]["hist"], ref_hist, strict=True):
            assert a["step"] == b["step"] and abs(a["val_loss"] - b["val_loss"]) < 1e-12
            assert abs(a["train_loss"] - b["train_loss"]) < 1e-12
    assert all(np.array_equal(got[True][k], got[False][k]) for k in ref)
    assert not all(np.array_equal(ref[k], _model().state_dict()[k]) for k in ref)  # it trained


def _worker(out):
    from cvprimer.distributed import init

    comm = init()
    for overlap in (True, False):
        hist, state, launched = _fit(DataParallelStrategy(comm, overlap=overlap), comm.rank, comm.world_size)
        np.savez(os.path.join(out, f"r{comm.rank}_o{int(overlap)}.npz"), **state)
        with open(os.path.join(out, f"r{comm.rank}_o{int(overlap)}.json"), "w", encoding="utf-8") as f:
            json.dump({"hist": hist, "launched": launched}, f)


if __name__ == "__main__":
    _worker(sys.argv[1])
