"""Exact resume across optimizers, schedulers (epoch and step interval, plateau, one-cycle, warm-up),
gradient accumulation with a partial last group and clipping; and the Trainer options each checked directly
(the plateau scheduler sees the validation loss, clipping bounds the step, the partial group is applied)."""

from __future__ import annotations

import numpy as np
import pytest

import cvprimer as cp
import cvprimer.functional as F
from conftest import TinyMLP
from cvprimer.data import ArrayDataset, DataLoader
from cvprimer.optim import SGD, Adam, AdamW, lr_scheduler, schedules
from cvprimer.train.callbacks import Callback, ModelCheckpoint
from cvprimer.train.trainer import Trainer

OPTS = {
    "sgd": lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
    "adam": lambda p: Adam(p, lr=3e-3),
    "adamw": lambda p: AdamW(p, lr=3e-3, weight_decay=0.05),
}
SCHEDS = {
    "none": (None, "epoch"),
    "step-epoch": (lambda o: lr_scheduler.StepLR(o, step_size=1, gamma=0.5), "epoch"),
    "cosine-step": (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=30), "step"),
    "onecycle": (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.01, total_steps=40), "step"),
    "plateau": (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=0, factor=0.5), "epoch"),
    "warmup": (lambda o: lr_scheduler.ScheduleLR(
        o, lambda lr: schedules.warmup("linear", 8, lr).then(schedules.cosine(lr, 30))), "step"),
}


class StopAfter(Callback):
    def __init__(self, k: int) -> None:
        self.k = k

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == self.k:
            raise KeyboardInterrupt


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((70, 64)).astype(np.float32)
    y = rng.integers(0, 10, 70)
    return x, y


def _trainer(opt: str, sched: str, callbacks, accumulate=1, clip=None, seed=0):
    cp.manual_seed(seed)
    model = TinyMLP(seed=seed)
    o = OPTS[opt](model.parameters())
    make, interval = SCHEDS[sched]
    return Trainer(model, F.cross_entropy, o, scheduler=make(o) if make else None, scheduler_interval=interval,
                   callbacks=list(callbacks), accumulate=accumulate, clip_grad_norm=clip)


def _loaders(seed: int):
    x, y = _data()
    return (DataLoader(ArrayDataset(x[:50], y[:50]), batch_size=16, shuffle=True, rng=np.random.default_rng(seed)),
            DataLoader(ArrayDataset(x[50:], y[50:]), batch_size=20))


@pytest.mark.parametrize("opt, sched, accumulate, clip", [
    ("sgd", "step-epoch", 1, None), ("adam", "cosine-step", 1, 0.5), ("adamw", "onecycle", 1, None),
    ("adam", "plateau", 1, None), ("sgd", "warmup", 3, 1.0), ("adamw", "none", 3, None),
])
def test_resume_is_bit_identical(tmp_path, opt, sched, accumulate, clip):
    full = _trainer(opt, sched, [ModelCheckpoint(tmp_path / "a")], accumulate, clip)
    full.fit(*_loaders(1), epochs=4)
    part = _trainer(opt, sched, [ModelCheckpoint(tmp_path / "b"), StopAfter(2)], accumulate, clip)
    part.fit(*_loaders(1), epochs=4)
    assert part.interrupted
    cp.manual_seed(777)
    resumed = _trainer(opt, sched, [ModelCheckpoint(tmp_path / "b")], accumulate, clip, seed=5)
    hist = resumed.fit(*_loaders(999), epochs=4, resume=str(tmp_path / "b" / "last.npz"))
    assert [h["epoch"] for h in hist] == [3, 4]
    assert resumed.optimizer.param_groups[0]["lr"] == full.optimizer.param_groups[0]["lr"]
    for (n, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items(), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=n)
    sa, sb = full.optimizer.state_dict(), resumed.optimizer.state_dict()
    assert sa.keys() == sb.keys()


def test_plateau_scheduler_is_stepped_on_the_validation_loss():
    seen = []
    t = _trainer("sgd", "plateau", [])

    class Spy(lr_scheduler.ReduceLROnPlateau):
        def step(self, metric):
            seen.append(metric)
            super().step(metric)

    t.scheduler = Spy(t.optimizer, patience=0)
    hist = t.fit(*_loaders(1), epochs=2)
    assert seen == [h["val_loss"] for h in hist]
    assert all(h["val_loss"] != h["train_loss"] for h in hist)


def test_clip_grad_norm_bounds_the_plain_sgd_step():
    cp.manual_seed(0)
    model = TinyMLP(seed=0)
    before = [p.data.copy() for p in model.parameters()]
    lr, clip = 1.0, 1e-3
    t = Trainer(model, F.cross_entropy, SGD(model.parameters(), lr=lr), clip_grad_norm=clip)
    x, y = _data()
    t.fit(DataLoader(ArrayDataset(x[:16], y[:16]), batch_size=16), epochs=1)
    step = np.sqrt(sum(float(((p.data - b) ** 2).sum()) for p, b in zip(model.parameters(), before, strict=True)))
    assert step == pytest.approx(lr * clip, rel=1e-4)


def test_partial_last_accumulation_group_is_applied():
    steps = []

    class Count(Callback):
        def on_after_step(self, trainer):
            steps.append(trainer.global_step)

    x, y = _data()
    t = _trainer("sgd", "none", [Count()], accumulate=3)
    t.model.p = 0.0  # no dropout: the reference below draws no masks
    before = [p.data.copy() for p in t.model.parameters()]
    t.fit(DataLoader(ArrayDataset(x[:64], y[:64]), batch_size=16), epochs=1)  # 4 batches: groups of 3 and 1
    assert len(steps) == 2

    # the same two updates by hand: mean gradient of batches 0-2 (each loss / 3), then batch 3 alone (/ 3)
    cp.manual_seed(0)
    ref = TinyMLP(seed=0, p=0.0)
    opt = SGD(ref.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
    for group in ([0, 1, 2], [3]):
        opt.zero_grad()
        for b in group:
            (F.cross_entropy(ref(cp.Tensor(x[16 * b:16 * b + 16])), cp.Tensor(y[16 * b:16 * b + 16])) / 3).backward()
        opt.step()
    for p, q, b in zip(t.model.parameters(), ref.parameters(), before, strict=True):
        assert not np.array_equal(p.data, b)
        np.testing.assert_allclose(p.data, q.data, rtol=1e-6, atol=1e-7)
