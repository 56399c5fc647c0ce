"""TensorBoardLogger (issue 26): the event files read back record by record (a small TFRecord reader here,
tensorboardX's own protobuf classes to decode them) hold the step and epoch logs the Trainer produced."""

from __future__ import annotations

import csv
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
from cvprimer.train.callbacks import History
from cvprimer.train.tensorboard import TensorBoardLogger
from cvprimer.train.trainer import Trainer

pytest.importorskip("tensorboardX")  # the tensorboard extra (part of `test`); the missing case is tested below


def read_scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the event files of ``folder``: TFRecords (u64 length, u32 crc, data, u32 crc)."""
    from tensorboardX.proto import event_pb2

    files = sorted(folder.glob("events.out.tfevents.*"))
    assert files, f"no event file in {folder}"
    out: dict[str, list[tuple[int, float]]] = {}
    for path in files:
        raw = path.read_bytes()
        pos = 0
        while pos < len(raw):
            (n,) = struct.unpack("<Q", raw[pos:pos + 8])
            data = raw[pos + 12:pos + 12 + n]
            assert len(data) == n, "truncated record"
            pos += 12 + n + 4
            ev = event_pb2.Event.FromString(data)
            for v in ev.summary.value:
                out.setdefault(v.tag, []).append((ev.step, v.simple_value))
        assert pos == len(raw)
    return out


def test_event_file_holds_the_step_and_epoch_logs(digits, tmp_path):
    (xt, yt), (xv, yv) = digits
    cp.manual_seed(0)
    model = TinyMLP(seed=0)
    t = Trainer(model, F.cross_entropy, SGD(model.parameters(), lr=0.1, momentum=0.9), eval_every=4,
                callbacks=[History(tmp_path), TensorBoardLogger(tmp_path / "tb")])
    tr = DataLoader(ArrayDataset(xt, yt), batch_size=100, shuffle=True, rng=np.random.default_rng(0))
    hist = t.fit(tr, DataLoader(ArrayDataset(xv, yv), batch_size=100), epochs=2)
    sc = read_scalars(tmp_path / "tb")
    rows = list(csv.DictReader((tmp_path / "steps.csv").open()))
    assert [s for s, _ in sc["step/loss"]] == [int(r["step"]) for r in rows] == list(range(1, 13))
    np.testing.assert_allclose([v for _, v in sc["step/loss"]], [float(r["loss"]) for r in rows], rtol=1e-6)
    assert [s for s, _ in sc["step/val_acc"]] == [4, 8, 12]
    np.testing.assert_allclose([v for _, v in sc["step/val_loss"]],
                               [float(r["val_loss"]) for r in rows if r["val_loss"]], rtol=1e-6)
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
        got = sc[f"epoch/{key}"]
        assert [s for s, _ in got] == [6, 12], key
        np.testing.assert_allclose([v for _, v in got], [h[key] for h in hist], rtol=1e-6, err_msg=key)
    assert [v for _, v in sc["epoch/epoch"]] == [1.0, 2.0]


def test_cli_tensorboard_writes_events_into_the_run_folder(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--model", "lenet5", "--dataset", "digits", "--resize", "32", "--epochs", "1",
                 "--max-steps", "3", "--tensorboard", "--run-dir", str(run), "--quiet"]) == 0
    sc = read_scalars(run / "tensorboard")
    assert [s for s, _ in sc["step/loss"]] == [1, 2, 3]
    final = json.loads((run / "summary.json").read_text())["final"]
    assert sc["epoch/val_acc"][0][1] == pytest.approx(final["val_acc"], rel=1e-6)


def test_missing_tensorboardx_is_one_line_naming_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import tensorboardX now raises ImportError
    run = tmp_path / "run"
    assert main(["train", "--dataset", "digits", "--tensorboard", "--run-dir", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ['cvprimer train: needs tensorboardX (for --tensorboard), which is not installed: '
                   'pip install "cvprimer[tensorboard]"']
    assert not run.exists()
    with pytest.raises(ImportError, match=r'cvprimer\[tensorboard\]'):
        TensorBoardLogger(tmp_path / "tb")


def test_resume_marks_the_checkpoint_step_for_tensorboard_to_purge(digits, tmp_path):
    """The resumed writer's first event is TensorBoard's purge marker (SessionLog START) at the checkpoint's
    step + 1, so the steps an interrupted run logged after its checkpoint are dropped from the curves."""
    from tensorboardX.proto import event_pb2

    from cvprimer.train.callbacks import ModelCheckpoint

    (xt, yt), _ = digits

    def fit(max_steps, resume=None):
        cp.manual_seed(0)
        model = TinyMLP(seed=0)
        t = Trainer(model, F.cross_entropy, SGD(model.parameters(), lr=0.1), max_steps=max_steps,
                    callbacks=[ModelCheckpoint(tmp_path), TensorBoardLogger(tmp_path / "tb")])
        t.fit(DataLoader(ArrayDataset(xt, yt), batch_size=100, shuffle=True, rng=np.random.default_rng(0)),
              epochs=3, resume=resume)

    fit(4)
    fit(9, resume=str(tmp_path / "last.npz"))
    files = sorted((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert len(files) == 2
    assert [f.name.rsplit(".", 1)[1] for f in files] == ["step0", "step4"]
    raw = files[1].read_bytes()
    events, pos = [], 0
    while pos < len(raw):
        (n,) = struct.unpack("<Q", raw[pos:pos + 8])
        events.append(event_pb2.Event.FromString(raw[pos + 12:pos + 12 + n]))
        pos += 16 + n
    starts = [e for e in events if e.HasField("session_log")]
    assert [(e.step, e.session_log.status) for e in starts] == [(5, event_pb2.SessionLog.START)]
    assert [e.step for e in events if e.summary.value and e.summary.value[0].tag == "step/loss"] == [5, 6, 7, 8, 9]
