"""A checkpoint refuses to load into an optimizer or scheduler it was not saved with; best.npz is written before
last.npz."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import TinyMLP
from cvprimer.optim import SGD, Adam, lr_scheduler
from cvprimer.train.callbacks import ModelCheckpoint
from cvprimer.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def _model():
    return TinyMLP(seed=0)


def test_sgd_state_does_not_load_into_adam(tmp_path):
    m = _model()
    save_checkpoint(tmp_path / "c.npz", m, SGD(m.parameters(), lr=0.1, momentum=0.9))
    m2 = _model()
    with pytest.raises(CheckpointError, match="holds SGD state but the optimizer is Adam"):
        load_checkpoint(tmp_path / "c.npz", m2, Adam(m2.parameters(), lr=1e-3))


def test_parameter_groups_must_match(tmp_path):
    m = _model()
    save_checkpoint(tmp_path / "c.npz", m, SGD(m.parameters(), lr=0.1))
    m2 = _model()
    groups = [{"params": [m2.fc1.weight, m2.fc1.bias]}, {"params": [m2.fc2.weight, m2.fc2.bias], "lr": 0.01}]
    with pytest.raises(CheckpointError, match="1 parameter groups, the optimizer 2"):
        load_checkpoint(tmp_path / "c.npz", m2, SGD(groups, lr=0.1))


def test_scheduler_must_match(tmp_path):
    m = _model()
    opt = SGD(m.parameters(), lr=0.1)
    save_checkpoint(tmp_path / "c.npz", m, opt, lr_scheduler.StepLR(opt, step_size=2))
    m2 = _model()
    opt2 = SGD(m2.parameters(), lr=0.1)
    with pytest.raises(CheckpointError, match="scheduler StepLR but is being loaded with None"):
        load_checkpoint(tmp_path / "c.npz", m2, opt2)
    with pytest.raises(CheckpointError, match="scheduler StepLR but is being loaded with CosineAnnealingLR"):
        load_checkpoint(tmp_path / "c.npz", m2, opt2, lr_scheduler.CosineAnnealingLR(opt2, T_max=5))
    load_checkpoint(tmp_path / "c.npz", m2, opt2, lr_scheduler.StepLR(opt2, step_size=2))


def test_best_is_written_before_last(tmp_path):
    order = []

    class Fake:
        def save_checkpoint(self, path, epoch):
            order.append(path.rsplit("/", 1)[-1])

    cb = ModelCheckpoint(tmp_path, "val_acc", "max")
    cb.on_epoch_end(Fake(), 1, {"val_acc": np.float64(0.5)})
    assert order == ["best.npz", "last.npz"]
