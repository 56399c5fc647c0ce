"""Trainer habits (issue 26): max_steps mid-epoch and its exact resume, evaluation every N steps, exact
training accuracy beside the running one. References are computed in each test independently of the Trainer
(NumPy cross-entropy on ``predict`` outputs, an uninterrupted run)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import cvprimer as cp
import cvprimer.functional as F
from conftest import TinyMLP
from cvprimer.data import ArrayDataset, DataLoader
from cvprimer.optim import SGD, lr_scheduler
from cvprimer.train.callbacks import Callback, History, ModelCheckpoint
from cvprimer.train.trainer import Trainer


def _trainer(callbacks=(), seed=0, **kw):
    cp.manual_seed(seed)
    model = TinyMLP(seed=seed, p=0.2)  # dropout: the default generator matters
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=40)
    return Trainer(model, F.cross_entropy, opt, scheduler=sched, scheduler_interval="step",
                   callbacks=list(callbacks), **kw)


def _loaders(digits, seed=1, batch=50):
    (xt, yt), (xv, yv) = digits
    return (DataLoader(ArrayDataset(xt, yt), batch_size=batch, shuffle=True, rng=np.random.default_rng(seed),
                       prefetch=1),
            DataLoader(ArrayDataset(xv, yv), batch_size=100))


def _ce_acc(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    z = logits.astype(np.float64)
    lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
    return float(np.mean(lse - z[np.arange(len(y)), y])), float(np.mean(z.argmax(1) == y))


def _params(t):
    return {k: v.copy() for k, v in t.model.state_dict().items()}


def _strip_time(path):
    return [{k: v for k, v in json.loads(ln).items() if k != "time"} for ln in path.read_text().splitlines()]


def test_max_steps_stops_mid_epoch(digits):
    tr, va = _loaders(digits)  # 12 batches per epoch
    t = _trainer(max_steps=17)
    hist = t.fit(tr, va, epochs=5)
    assert t.global_step == 17
    assert [h["epoch"] for h in hist] == [1, 2]
    assert [h["step"] for h in hist] == [12, 17]
    assert [h["partial_epoch"] for h in hist] == [False, True]
    assert "val_acc" in hist[-1] and "train_loss" in hist[-1]
    # epochs still bound it: 2 epochs of 12 batches end before 100 steps
    t2 = _trainer(max_steps=100)
    assert len(t2.fit(*_loaders(digits), epochs=2)) == 2 and t2.global_step == 24


def test_max_steps_at_an_epoch_end_is_not_partial(digits):
    t = _trainer(max_steps=12)
    hist = t.fit(*_loaders(digits), epochs=3)
    assert [h["partial_epoch"] for h in hist] == [False] and t.global_step == 12


@pytest.mark.parametrize("accumulate", [1, 2])
def test_resume_after_max_steps_is_bit_identical(digits, tmp_path, accumulate):
    full = _trainer([History(tmp_path / "a"), ModelCheckpoint(tmp_path / "a")], max_steps=22, accumulate=accumulate)
    full.fit(*_loaders(digits), epochs=9)
    part = _trainer([History(tmp_path / "b"), ModelCheckpoint(tmp_path / "b")], max_steps=5, accumulate=accumulate)
    part.fit(*_loaders(digits), epochs=9)
    assert part.global_step == 5
    cp.manual_seed(123)  # the checkpoint, not the caller's seeds, decides what follows
    resumed = _trainer([History(tmp_path / "b"), ModelCheckpoint(tmp_path / "b")], seed=4, max_steps=22,
                       accumulate=accumulate)
    hist = resumed.fit(*_loaders(digits, seed=99), epochs=9, resume=str(tmp_path / "b" / "last.npz"))
    assert resumed.global_step == full.global_step == 22
    assert hist[0]["epoch"] == 1  # the cut epoch is continued, not restarted
    for k, v in _params(full).items():
        np.testing.assert_array_equal(_params(resumed)[k], v, err_msg=k)
    # the logs of the resumed run read as those of the uninterrupted one
    assert (tmp_path / "b" / "steps.csv").read_text() == (tmp_path / "a" / "steps.csv").read_text()
    assert _strip_time(tmp_path / "b" / "epochs.jsonl") == _strip_time(tmp_path / "a" / "epochs.jsonl")


def test_resume_of_a_finished_max_steps_run_trains_nothing_and_keeps_logs(digits, tmp_path):
    t = _trainer([History(tmp_path), ModelCheckpoint(tmp_path)], max_steps=5)
    t.fit(*_loaders(digits), epochs=3)
    before = (tmp_path / "epochs.jsonl").read_text(), _params(t)
    again = _trainer([History(tmp_path), ModelCheckpoint(tmp_path)], max_steps=5)
    assert again.fit(*_loaders(digits), epochs=3, resume=str(tmp_path / "last.npz")) == []
    assert (tmp_path / "epochs.jsonl").read_text() == before[0]
    for k, v in before[1].items():
        np.testing.assert_array_equal(_params(again)[k], v)


class _Reference(Callback):
    """At each logged evaluation, the validation loss/accuracy recomputed from ``predict`` with NumPy."""

    def __init__(self, xv, yv):
        self.xv, self.yv, self.seen = xv, yv, {}

    def on_batch_end(self, trainer, logs):
        if "val_loss" in logs:  # predict draws no random numbers
            self.seen[logs["step"]] = (logs["val_loss"], logs["val_acc"], _ce_acc(trainer.predict(self.xv), self.yv))


def test_eval_every_logs_validation_on_those_steps(digits, tmp_path):
    (_, _), (xv, yv) = digits
    ref = _Reference(xv, yv)
    t = _trainer([ref, History(tmp_path)], eval_every=5)
    t.fit(*_loaders(digits), epochs=2)  # 24 steps: evaluations at 5, 10, 15, 20
    assert sorted(ref.seen) == [5, 10, 15, 20]
    for loss, acc, (want_loss, want_acc) in ref.seen.values():
        assert loss == pytest.approx(want_loss, rel=1e-5) and acc == pytest.approx(want_acc, abs=1e-12)
    rows = list(csv.DictReader((tmp_path / "steps.csv").open()))
    assert list(rows[0]) == ["epoch", "step", "loss", "lr", "val_loss", "val_acc"]
    filled = [int(r["step"]) for r in rows if r["val_loss"]]
    assert filled == [5, 10, 15, 20] and len(rows) == 24
    assert float(rows[4]["val_loss"]) == pytest.approx(ref.seen[5][0], rel=1e-12)


def test_eval_every_and_exact_train_eval_leave_training_unchanged(digits):
    plain = _trainer()
    plain.fit(*_loaders(digits), epochs=2)
    busy = _trainer(eval_every=3, train_eval="exact")
    busy.fit(*_loaders(digits), epochs=2)
    for k, v in _params(plain).items():
        np.testing.assert_array_equal(_params(busy)[k], v, err_msg=k)


def test_exact_train_accuracy_is_the_final_weights_on_the_training_set(digits):
    (xt, yt), _ = digits
    t = _trainer(train_eval="exact")
    hist = t.fit(*_loaders(digits), epochs=1)
    want_loss, want_acc = _ce_acc(t.predict(xt), yt)
    h = hist[-1]
    assert h["train_loss_exact"] == pytest.approx(want_loss, rel=1e-5)
    assert h["train_acc_exact"] == pytest.approx(want_acc, abs=1e-12)
    # the running mean lags a model that is still learning fast: after one epoch it is clearly lower
    assert h["train_acc"] < h["train_acc_exact"] - 0.05
    running = _trainer().fit(*_loaders(digits), epochs=1)[-1]
    assert "train_acc_exact" not in running and running["train_acc"] == h["train_acc"]


def test_bad_options_are_clear_errors(digits):
    with pytest.raises(ValueError, match=r"Trainer: max_steps must be None or an integer >= 1, got 0"):
        _trainer(max_steps=0)
    with pytest.raises(ValueError, match=r"Trainer: train_eval must be 'running' or 'exact', got 'both'"):
        _trainer(train_eval="both")
    tr, _ = _loaders(digits)
    with pytest.raises(ValueError, match=r"Trainer: eval_every=5 needs a val_loader in fit\(\)"):
        _trainer(eval_every=5).fit(tr, None, epochs=1)
    with pytest.raises(ValueError, match=r"train_eval='exact' needs the train loader's .dataset"):
        _trainer(train_eval="exact").fit([(np.zeros((2, 64), np.float32), np.zeros(2, np.int64))], epochs=1)
