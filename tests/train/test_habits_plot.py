"""`cvprimer plot RUN_DIR...` (issue 26): runs' curves overlaid in one PNG; one-line errors; never overwrites."""

from __future__ import annotations

import json
import struct
import sys

import numpy as np
import pytest

import cvprimer as cp
import cvprimer.functional as F
from conftest import TinyMLP
from cvprimer.cli import main
from cvprimer.data import ArrayDataset, DataLoader
from cvprimer.optim import SGD
from cvprimer.train import plot_cli
from cvprimer.train.callbacks import History
from cvprimer.train.trainer import Trainer

pytest.importorskip("matplotlib")


def _run(folder, digits, lr=0.1, epochs=2, **kw):
    """A run folder as `cvprimer train` leaves it, as far as plot reads it: config.json and the History logs."""
    (xt, yt), (xv, yv) = digits
    cp.manual_seed(0)
    model = TinyMLP(seed=0)
    t = Trainer(model, F.cross_entropy, SGD(model.parameters(), lr=lr), callbacks=[History(folder)], **kw)
    hist = t.fit(DataLoader(ArrayDataset(xt, yt), batch_size=100, shuffle=True, rng=np.random.default_rng(0)),
                 DataLoader(ArrayDataset(xv, yv), batch_size=100), epochs=epochs)
    (folder / "config.json").write_text(json.dumps({"lr": lr}))
    return hist


def _png_size(path):
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])


@pytest.fixture(scope="module")
def runs(tmp_path_factory, digits):
    root = tmp_path_factory.mktemp("runs")
    a, b = root / "x" / "fast", root / "y" / "fast"
    _run(a, digits, lr=0.2)
    _run(b, digits, lr=0.05, epochs=3, max_steps=9)  # 6 batches per epoch: cut halfway through epoch 2
    return root, a, b


def test_plot_overlays_runs_in_one_png(runs, capsys):
    root, a, b = runs
    out = root / "cmp.png"
    assert main(["plot", str(a), str(b), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out} (2 run(s): loss, acc, lr)"
    assert _png_size(out) == (1560, 380)  # three panels of 5.2 x 3.8 inches at 100 dpi
    out2 = root / "two.png"
    assert main(["plot", str(a), "--metric", "acc", "lr", "--out", str(out2)]) == 0
    assert _png_size(out2) == (1040, 380)


def test_what_is_drawn_is_what_the_logs_hold(runs):
    _, a, b = runs
    da, db = plot_cli._collect([str(a), str(b)], ["loss", "acc", "lr"])
    rows = [json.loads(x) for x in (b / "epochs.jsonl").read_text().splitlines()]
    assert [r["val_acc"] for r in db["rows"]] == [r["val_acc"] for r in rows]
    assert da["x"] == [1.0, 2.0] and db["x"] == [1.0, 1.5]  # the cut epoch ends halfway
    assert [int(s["step"]) for s in db["steps"]] == list(range(1, 10))
    # two folders with the same name are told apart by their paths
    assert plot_cli._labels([str(a), str(b), "z/other/"]) == [str(a), str(b), "other"]


def test_errors_are_one_line_and_nothing_is_overwritten(runs, tmp_path, capsys):
    root, a, _ = runs
    (tmp_path / "notrun").mkdir()
    (tmp_path / "fresh").mkdir()
    (tmp_path / "fresh" / "config.json").write_text("{}")
    noacc = tmp_path / "noacc"
    noacc.mkdir()
    (noacc / "config.json").write_text("{}")
    (noacc / "epochs.jsonl").write_text(json.dumps({"epoch": 1, "train_loss": 1.0}) + "\n")
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"the user's own file")
    cases = [
        ([str(tmp_path / "nope")], "no such folder"),
        ([str(tmp_path / "notrun")], "is not a run folder (no config.json)"),
        ([str(tmp_path / "fresh")], "has no epoch logs yet"),
        ([str(noacc), "--metric", "acc"], "--metric acc: no run logs train_acc or val_acc (they log epoch, "
                                           "train_loss)"),
        ([str(a), "--out", str(mine)], "already exists; cvprimer plot never overwrites a file"),
        ([str(a), "--out", str(tmp_path / "x.jpg")], "expected a .png file name"),
    ]
    for argv, needle in cases:
        if "--out" not in argv:
            argv = [*argv, "--out", str(tmp_path / "o.png")]
        assert main(["plot", *argv]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("cvprimer plot: ") and needle in err[0], err
    assert mine.read_bytes() == b"the user's own file"
    assert not (tmp_path / "o.png").exists()


def test_without_matplotlib_one_line_names_the_extra(runs, tmp_path, capsys, monkeypatch):
    _, a, _ = runs
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["plot", str(a), "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ['cvprimer plot: needs matplotlib (for cvprimer plot), which is not installed: '
                   'pip install "cvprimer[plot]"']
