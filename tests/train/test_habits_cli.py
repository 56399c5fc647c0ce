"""`cvprimer train` habits (issue 26): --max-steps (and extending it on --resume), --eval-every, --train-eval,
--find-lr; the flags a resume may and may not change."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from cvprimer.cli import main
from cvprimer.core.serialization import load
from cvprimer.optim import lr_range_test
from cvprimer.train.find_lr import _AsTensors
from cvprimer.train.run import TrainConfig, build_training, load_splits

# 12 steps per epoch; a constant lr: a schedule over the run's length is rebuilt for the new length when a resume
# extends it (as with --epochs), so only a length-free schedule can give the same bits as one longer run
BASE = ["train", "--model", "lenet5", "--dataset", "digits", "--resize", "32", "--batch-size", "128", "--quiet",
        "--optimizer", "adam", "--lr", "0.003"]


def _model_arrays(run):
    arrs = load(str(run / "checkpoints" / "last.npz"))
    return {k: v for k, v in arrs.items() if k.startswith("model/")}


def test_max_steps_then_resume_with_more_equals_one_run(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([*BASE, "--epochs", "3", "--max-steps", "13", "--eval-every", "5", "--run-dir", str(a)]) == 0
    assert main([*BASE, "--epochs", "3", "--max-steps", "4", "--eval-every", "5", "--run-dir", str(b)]) == 0
    s = json.loads((b / "summary.json").read_text())
    assert s["steps_run"] == 4 and s["stopped_at_max_steps"] and s["final"]["partial_epoch"] is True
    assert s["epochs_run"] == 1 and s["final"]["step"] == 4
    # a resume may extend --max-steps (as --epochs), not change how the run is evaluated or logged
    assert main(["train", "--resume", str(b), "--eval-every", "3", "--quiet"]) == 2
    assert "cannot change --eval-every" in capsys.readouterr().err
    assert main(["train", "--resume", str(b), "--max-steps", "3", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("cvprimer train: --max-steps 3: the run already made 4 optimizer steps; give at least 4")
    assert main(["train", "--resume", str(b), "--max-steps", "13", "--quiet"]) == 0
    for k, v in _model_arrays(a).items():
        np.testing.assert_array_equal(_model_arrays(b)[k], v, err_msg=k)
    assert (b / "steps.csv").read_text() == (a / "steps.csv").read_text()
    rows = list(csv.DictReader((a / "steps.csv").open()))
    assert [int(r["step"]) for r in rows if r["val_loss"]] == [5, 10]
    sa, sb = (json.loads((r / "summary.json").read_text()) for r in (a, b))
    assert sb["steps_run"] == sa["steps_run"] == 13 and sb["final"]["val_acc"] == sa["final"]["val_acc"]
    assert [json.loads(x)["step"] for x in (b / "epochs.jsonl").read_text().splitlines()] == [12, 13]


def test_train_eval_exact_logs_both_and_names_them(tmp_path):
    run = tmp_path / "run"
    assert main([*BASE, "--epochs", "1", "--train-eval", "exact", "--run-dir", str(run)]) == 0
    header = (run / "epochs.csv").read_text().splitlines()[0].split(",")
    for col in ("train_loss", "train_acc", "train_loss_exact", "train_acc_exact", "val_acc"):
        assert col in header, col
    assert json.loads((run / "config.json").read_text())["train_eval"] == "exact"


def test_bad_values_are_one_line(tmp_path, capsys):
    for argv, needle in ((["--max-steps", "0"], "--max-steps: expected an integer >= 1, got '0'"),
                         (["--eval-every", "x"], "--eval-every: "),
                         (["--train-eval", "both"], "--train-eval: invalid choice: 'both'")):
        with pytest.raises(SystemExit) as e:  # argparse's own exit, through the one-line parser
            main([*BASE, *argv, "--run-dir", str(tmp_path / "r")])
        assert e.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "r").exists()


def test_find_lr_writes_its_curve_and_suggests_what_the_library_does(tmp_path, capsys):
    # the two runs may run under different automatic thread budgets (a busy machine): the results do not depend
    # on the thread count (tests/core/test_thread_count_independence.py), so the curves agree to the bit
    run = tmp_path / "lr"
    argv = ["train", "--model", "lenet5", "--dataset", "digits", "--resize", "32", "--batch-size", "32", "--seed", "3"]
    assert main([*argv, "--find-lr", "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("suggested lr ") and "lr_finder.png" in out
    assert (run / "lr_finder.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (run / "checkpoints").exists() and not (run / "steps.csv").exists()  # nothing trained
    rows = list(csv.DictReader((run / "lr_finder.csv").open()))
    # the reference: the same configuration built afresh and the library's range test run on it
    cfg = TrainConfig(model="lenet5", dataset="digits", resize=32, batch_size=32, seed=3)
    splits, nc = load_splits(cfg)
    su = build_training(cfg, splits, nc)
    res = lr_range_test(su.model, su.loss_fn, su.optimizer, _AsTensors(su.train_loader))
    assert len(rows) == len(res.lrs) and [float(r["lr"]) for r in rows] == res.lrs
    assert [float(r["loss"]) for r in rows] == res.losses
    assert f"suggested lr {res.suggested_lr:.3g} " in out
    assert 1e-4 < res.suggested_lr < 1.0  # a sane suggestion for LeNet-5 with momentum SGD on digits


def test_find_lr_refuses_resume(tmp_path, capsys):
    assert main(["train", "--find-lr", "--resume", str(tmp_path), "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == ("cvprimer train: --find-lr tests a fresh model and cannot be "
                                               "combined with --resume")


@pytest.mark.parametrize("flags", [["--tensorboard"], ["--train-eval", "exact"]])
def test_resume_refuses_other_logging_flags(tmp_path, capsys, flags):
    # compared with the saved run's values (issue 25 point 16): this run saved the defaults
    (tmp_path / "config.json").write_text(json.dumps({"model": "lenet5", "dataset": "digits"}))
    assert main(["train", "--resume", str(tmp_path), *flags, "--quiet"]) == 2
    assert "cannot change --" + flags[0].lstrip("-") in capsys.readouterr().err
