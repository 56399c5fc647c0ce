"""Progress (issue 26): the Trainer and the lab draw their bars with tqdm.auto (a widget in Jupyter, text on a
terminal, nothing in a log file), and fall back without tqdm."""

from __future__ import annotations

import functools
import io
import sys

import numpy as np
import pytest

import cvprimer as cp
import cvprimer.functional as F
from conftest import TinyMLP
from cvprimer.data import ArrayDataset, DataLoader
from cvprimer.lab import schedule
from cvprimer.optim import SGD
from cvprimer.train import progress
from cvprimer.train.trainer import Trainer

tqdm_auto = pytest.importorskip("tqdm.auto")


class _TTY(io.StringIO):
    def isatty(self):
        return True


def _fit(digits, verbose=True):
    (xt, yt), _ = digits
    cp.manual_seed(0)
    model = TinyMLP(seed=0)
    t = Trainer(model, F.cross_entropy, SGD(model.parameters(), lr=0.1), verbose=verbose)
    t.fit(DataLoader(ArrayDataset(xt, yt), batch_size=100, shuffle=True, rng=np.random.default_rng(0)), epochs=1)


def test_both_bars_are_tqdm_auto(monkeypatch):
    assert progress._tqdm() is tqdm_auto.tqdm
    bar = schedule._bar(3, True)
    try:
        assert isinstance(bar, tqdm_auto.tqdm)
    finally:
        bar.close()
    seen = {}

    class Fake:
        def __init__(self, **kw):
            seen.update(kw)

        def close(self):
            pass

    monkeypatch.setattr(progress, "_tqdm", lambda: Fake)
    progress.EpochProgress(3, 12, initial=5).close()
    # disable=None: shown on a terminal, silent in a log file; tqdm.notebook turns None into "shown"
    assert seen["disable"] is None and seen["total"] == 12 and seen["initial"] == 5 and seen["desc"] == "epoch 3"
    assert seen["file"] is sys.stderr and seen["leave"] is False


def test_trainer_bar_on_a_terminal_and_nothing_in_a_log(digits, monkeypatch, capsys):
    # the real tqdm.auto bar, redrawn at every update (by default it redraws at most every 0.1 s)
    monkeypatch.setattr(progress, "_tqdm", lambda: functools.partial(tqdm_auto.tqdm, mininterval=0, miniters=1))
    tty = _TTY()
    monkeypatch.setattr(sys, "stderr", tty)
    _fit(digits)
    text = tty.getvalue()
    assert "epoch 1:" in text and "6/6 [" in text and "batch/s" in text and "loss=" in text and "lr=0.1" in text
    assert capsys.readouterr().out.startswith("epoch 1  step 6  lr 0.1000  train_loss ")
    log = io.StringIO()  # not a terminal
    monkeypatch.setattr(sys, "stderr", log)
    _fit(digits)
    assert log.getvalue() == ""


def test_without_tqdm_the_trainer_falls_back_and_the_lab_has_no_bar(digits, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    monkeypatch.setitem(sys.modules, "tqdm", None)
    assert progress._tqdm() is None and schedule._bar(3, True) is None
    tty = _TTY()
    monkeypatch.setattr(sys, "stderr", tty)
    _fit(digits)
    assert "epoch 1 batch 6/6 loss " in tty.getvalue()
