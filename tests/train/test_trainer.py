"""Trainer: learning, early stopping, checkpoints, exact resume, history files, monitors, guards."""

import json
import os

import numpy as np
import pytest

import cvprimer as cp
import cvprimer.functional as F
from conftest import TinyMLP
from cvprimer.optim import SGD, Adam
from cvprimer.train.callbacks import Callback, EarlyStopping, History, ModelCheckpoint
from cvprimer.train.checkpoint import CheckpointError
from cvprimer.train.monitors import GradientMonitor, NaNGuard, NonFiniteError
from cvprimer.train.trainer import Trainer


def make_trainer(callbacks=(), lr=0.1, opt=SGD, seed=0, **kw):
    cp.manual_seed(seed)
    model = TinyMLP(seed=seed)
    optim = opt(model.parameters(), lr=lr, **({"momentum": 0.9} if opt is SGD else {}))
    return Trainer(model, F.cross_entropy, optim, callbacks=list(callbacks), **kw)


def test_fit_learns_digits(loaders):
    tr, va = loaders()
    t = make_trainer()
    hist = t.fit(tr, va, epochs=5)
    assert hist[-1]["train_loss"] < 0.5 * hist[0]["train_loss"]
    assert hist[-1]["val_acc"] > 0.85
    assert t.predict(va.dataset.images).shape == (300, 10)


class StopAfter(Callback):
    """Simulates a kill (Ctrl-C) right after epoch ``k``."""

    def __init__(self, k):
        self.k = k

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == self.k:
            raise KeyboardInterrupt


def test_interrupted_and_resumed_run_is_bit_identical(loaders, tmp_path):
    tr, va = loaders()
    full = make_trainer([ModelCheckpoint(tmp_path / "a"), EarlyStopping(patience=99, restore_best=False)])
    full.fit(tr, va, epochs=4)
    tr, va = loaders()
    part = make_trainer([ModelCheckpoint(tmp_path / "b"), EarlyStopping(patience=99, restore_best=False),
                         StopAfter(2)])
    part.fit(tr, va, epochs=4)
    assert part.interrupted
    tr, va = loaders(seed=12345)  # a different loader seed: the checkpoint must restore the shuffling state
    cp.manual_seed(999)  # and the default generator (dropout)
    resumed = make_trainer([ModelCheckpoint(tmp_path / "b"), EarlyStopping(patience=99, restore_best=False)],
                           seed=7)
    hist = resumed.fit(tr, va, epochs=4, resume=str(tmp_path / "b" / "last.npz"))
    assert [h["epoch"] for h in hist] == [3, 4]
    for (n, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items(), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=n)


def test_early_stopping_restores_best_epoch_weights(loaders):
    tr, va = loaders()
    snapshots = {}

    class Snap(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            snapshots[epoch] = {k: v.copy() for k, v in trainer.model.state_dict().items()}

    es = EarlyStopping(monitor="val_loss", patience=2)
    # lr high enough that validation loss bounces: the best epoch is not the last one
    t = make_trainer([Snap(), es], lr=0.9)
    hist = t.fit(tr, va, epochs=12)
    best = min(hist, key=lambda h: h["val_loss"])["epoch"]
    assert es.best_epoch == best
    for k, v in t.model.state_dict().items():
        np.testing.assert_array_equal(v, snapshots[best][k])


@pytest.mark.parametrize("curve,stop_epoch", [([1.0, 0.9, 0.95, 0.96, 0.97], 4), ([1.0, 0.8, 0.6, 0.5, 0.4], None)])
def test_early_stopping_on_scripted_curves(curve, stop_epoch):
    es = EarlyStopping(patience=2, restore_best=False)

    class T:
        stop_training = False

    t = T()
    for e, v in enumerate(curve, 1):
        es.on_epoch_end(t, e, {"val_loss": v})
        if t.stop_training:
            break
    assert es.stopped_epoch == stop_epoch


def test_history_files_written_as_training_goes(loaders, tmp_path):
    tr, va = loaders()
    t = make_trainer([History(tmp_path)])
    t.fit(tr, va, epochs=2)
    lines = (tmp_path / "epochs.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2]
    steps = (tmp_path / "steps.csv").read_text().splitlines()
    assert steps[0] == "epoch,step,loss,lr" and len(steps) == 1 + 2 * 12
    assert (tmp_path / "epochs.csv").read_text().startswith("epoch,")


def test_checkpoint_of_another_model_is_a_clear_error(loaders, tmp_path):
    tr, va = loaders()
    t = make_trainer([ModelCheckpoint(tmp_path)])
    t.fit(tr, va, epochs=1)
    other = Trainer(TinyMLP(hidden=16), F.cross_entropy, SGD(TinyMLP(hidden=16).parameters(), lr=0.1))
    msg = r"shape mismatches .*'fc1.weight: checkpoint \(32, 64\) vs model \(16, 64\)"
    with pytest.raises(CheckpointError, match=msg):
        other.load_checkpoint(str(tmp_path / "last.npz"))


def test_failed_checkpoint_write_keeps_the_previous_one(loaders, tmp_path, monkeypatch):
    tr, va = loaders()
    t = make_trainer([ModelCheckpoint(tmp_path)])
    t.fit(tr, va, epochs=1)
    before = (tmp_path / "last.npz").read_bytes()

    def full_disk(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(CheckpointError, match="previous checkpoint"):
        t.fit(tr, va, epochs=1)
    assert (tmp_path / "last.npz").read_bytes() == before
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_nan_guard_names_the_step_and_first_layer(digits):
    from cvprimer.data import ArrayDataset, DataLoader

    (x, y), _ = digits
    x = x[:100].copy()
    x[60, 5] = np.nan  # a corrupt sample in the second batch of 50
    t = make_trainer([NaNGuard()])
    with pytest.raises(NonFiniteError, match=r"non-finite loss \(nan\) at epoch 1, step 1; first non-finite output: "
                       r"fc1 \(Lin\)"):
        t.fit(DataLoader(ArrayDataset(x, y[:100]), batch_size=50), epochs=1)


def test_gradient_monitor_records_layers_and_update_ratios(loaders):
    tr, va = loaders()
    gm = GradientMonitor()
    t = make_trainer([gm])
    t.fit(tr, None, epochs=1)
    m = gm.monitors()
    assert list(m["grad_norms"]) == ["fc1", "fc2"] and len(m["grad_norms"]["fc1"]) == 12
    assert 0 < np.median(m["update_ratio"]["fc1"]) < 1


def test_bad_input_errors(loaders, digits):
    tr, va = loaders()
    t = make_trainer()
    from cvprimer.data import ArrayDataset, DataLoader

    empty = DataLoader(ArrayDataset(tr.dataset.images[:0], tr.dataset.labels[:0]), batch_size=4)
    with pytest.raises(ValueError, match="yielded no batches"):
        t.fit(empty, epochs=1)
    bad = DataLoader(ArrayDataset(tr.dataset.images[:8], tr.dataset.labels[:8] + 10), batch_size=4)
    with pytest.raises(ValueError, match=r"labels range 1\d\.\.1\d but the model has 10 outputs"):
        t.fit(bad, epochs=1)


def test_gradient_accumulation_equals_one_big_batch(digits):
    (x, y), _ = digits
    from cvprimer.data import ArrayDataset, DataLoader

    t1 = make_trainer(opt=SGD, lr=0.1)
    t1.model.p = 0.0
    t1.fit(DataLoader(ArrayDataset(x[:100], y[:100]), batch_size=100), epochs=1)
    t2 = make_trainer(opt=SGD, lr=0.1, accumulate=4)
    t2.model.p = 0.0
    t2.fit(DataLoader(ArrayDataset(x[:100], y[:100]), batch_size=25), epochs=1)
    for a, b in zip(t1.model.parameters(), t2.model.parameters(), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-6)
    assert t1.global_step == t2.global_step == 1


def test_adam_also_trains(loaders):
    tr, va = loaders()
    t = make_trainer(opt=Adam, lr=1e-2)
    assert t.fit(tr, va, epochs=3)[-1]["val_acc"] > 0.85


def test_progress_line_has_loss_metric_lr_and_eta(capsys, monkeypatch):
    """Without tqdm, on a terminal: the plain line (the tqdm bar is tested in test_habits_progress.py)."""
    import sys

    from cvprimer.train import progress

    monkeypatch.setattr(progress, "_tqdm", lambda: None)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    bar = progress.EpochProgress(2, 10, initial=2)
    bar.update(0.5, 0.75, 0.1)
    err = capsys.readouterr().err
    assert "epoch 2 batch 3/10 loss 0.5000 acc 0.750 lr 0.1" in err and "eta" in err
