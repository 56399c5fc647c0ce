"""``cvprimer train`` as a careless user runs it: every user error one line and exit 2 before anything is
written, runs never overwritten or lost, resume exact or refused with the reason, interruption and NaN stops
reported with a non-zero exit and a summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cvprimer.cli import main

TINY = ["--model", "lenet5", "--dataset", "digits", "--resize", "32", "--batch-size", "128", "--quiet"]


def _one_line(capsys, needle: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cvprimer train:") and needle in err[0], err


@pytest.mark.parametrize("argv, needle", [
    (["--val-fraction", "1.5"], "--val-fraction"), (["--lr", "nan"], "--lr"), (["--lr", "-1"], "--lr"),
    (["--epochs", "0"], "--epochs"), (["--momentum", "1"], "--momentum"), (["--dropout", "1.2"], "--dropout"),
    (["--early-stopping", "0"], "--early-stopping"), (["--seed", "-3"], "--seed"),
    (["--dataset", "no/such/folder"], "--dataset"), (["--model", "resnet9000"], "--model"),
    (["--augment", "sharpen"], "--augment"), (["--warmup-epochs", "20"], "--warmup-epochs"),
])
def test_bad_values_are_one_line_and_write_nothing(tmp_path, capsys, argv, needle):
    run = tmp_path / "run"
    with pytest.raises(SystemExit) if needle in ("--val-fraction", "--lr", "--epochs", "--momentum", "--dropout",
                                                  "--early-stopping", "--seed") else _nothing() as e:
        rc = main(["train", *argv, "--run-dir", str(run), "--quiet"])
    code = e.value.code if e is not None and hasattr(e, "value") else rc
    assert code == 2
    _one_line(capsys, needle)
    assert not run.exists()


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _fake_run(path, checkpoint=False):
    (path / "checkpoints").mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model": "lenet5", "dataset": "digits", "epochs": 1}))
    if checkpoint:
        (path / "checkpoints" / "last.npz").write_bytes(b"not a checkpoint")


def test_existing_run_is_never_overwritten_silently(tmp_path, capsys):
    run = tmp_path / "run"
    _fake_run(run)
    before = (run / "config.json").read_bytes()
    assert main(["train", *TINY, "--epochs", "1", "--run-dir", str(run)]) == 2
    _one_line(capsys, "already holds a run")
    assert (run / "config.json").read_bytes() == before


def test_resume_refuses_changes_and_explains_missing_checkpoints(tmp_path, capsys):
    run = tmp_path / "run"
    _fake_run(run)
    assert main(["train", "--resume", str(run), "--lr", "0.5"]) == 2
    _one_line(capsys, "cannot change --lr")
    assert main(["train", "--resume", str(run)]) == 2
    _one_line(capsys, "no checkpoint yet")
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    _one_line(capsys, "no such folder")
    (run / "checkpoints" / "last.npz").write_bytes(b"garbage")
    assert main(["train", "--resume", str(run), "--epochs", "3"]) == 2
    _one_line(capsys, "cannot be read")


def test_live_lock_refuses_a_second_process(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    code = ("import sys, time\nfrom cvprimer.train.rundir import RunLock\n"
            "RunLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(run)], stdout=subprocess.PIPE, text=True)
    try:  # the holder takes the OS lock (a pid written into .lock alone locks nothing: issue 25, point 13)
        assert holder.stdout.readline().strip() == "held"
        assert main(["train", *TINY, "--epochs", "1", "--run-dir", str(run)]) == 2
        _one_line(capsys, f"in use by process {holder.pid}")
    finally:
        holder.kill()
        holder.wait()


def test_extend_with_epochs_then_overwrite(tmp_path):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--run-dir", str(run)]) == 0
    assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet"]) == 0
    epochs = [json.loads(x)["epoch"] for x in (run / "epochs.jsonl").read_text().splitlines()]
    assert epochs == [1, 2] and json.loads((run / "config.json").read_text())["epochs"] == 2
    assert not (run / ".lock").exists()
    assert main(["train", *TINY, "--epochs", "1", "--run-dir", str(run), "--overwrite"]) == 0
    epochs = [json.loads(x)["epoch"] for x in (run / "epochs.jsonl").read_text().splitlines()]
    assert epochs == [1]


def test_model_that_does_not_fit_the_images_is_a_user_error(tmp_path, capsys):
    assert main(["train", "--model", "lenet5", "--dataset", "digits", "--resize", "28", "--epochs", "1",
                 "--quiet", "--run-dir", str(tmp_path / "r")]) == 2
    _one_line(capsys, "cannot train on images of shape (1, 28, 28)")


def test_interrupt_during_start_up_writes_a_summary_and_exits_130(tmp_path, capsys, monkeypatch):
    import cvprimer.train.run as run_mod

    def stop(cfg):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_mod, "_load_data", stop)
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--run-dir", str(run)]) == 130
    assert "interrupted" in capsys.readouterr().err
    s = json.loads((run / "summary.json").read_text())
    assert s["interrupted"] and s["epochs_run"] == 0


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow that the NaN guard then stops
def test_nan_stop_exits_1_with_the_reason(tmp_path, capsys):
    run = tmp_path / "run"
    rc = main(["train", *TINY, "--epochs", "2", "--optimizer", "sgd", "--lr", "1e30", "--run-dir", str(run)])
    err = capsys.readouterr().err
    assert rc == 1 and "stopped:" in err
    assert json.loads((run / "summary.json").read_text())["error"]


def _folder(root, sizes, classes=("a", "b")):
    for c in classes:
        (root / c).mkdir(parents=True)
        for i, (w, h) in enumerate(sizes):
            Image.fromarray(np.full((h, w, 3), 40 * i, np.uint8)).save(root / c / f"{i}.png")
    return root


def test_image_folders_mixed_sizes_empty_validation_single_class(tmp_path, capsys):
    mixed = _folder(tmp_path / "mixed", [(8, 8), (9, 7), (8, 8), (10, 10), (8, 8)])
    assert main(["train", "--model", "lenet5", "--dataset", str(mixed), "--epochs", "1", "--quiet",
                 "--run-dir", str(tmp_path / "r1")]) == 2
    _one_line(capsys, "different sizes")
    assert main(["train", "--model", "lenet5", "--dataset", str(mixed), "--resize", "32", "--epochs", "1",
                 "--quiet", "--run-dir", str(tmp_path / "r2")]) == 0
    tiny = _folder(tmp_path / "tiny", [(8, 8)])
    assert main(["train", "--model", "lenet5", "--dataset", str(tiny), "--resize", "32", "--epochs", "1",
                 "--quiet", "--run-dir", str(tmp_path / "r3")]) == 2
    _one_line(capsys, "validation split")
    one = _folder(tmp_path / "one", [(8, 8)] * 6, classes=("only",))
    main(["train", "--model", "lenet5", "--dataset", str(one), "--resize", "32", "--epochs", "1", "--quiet",
          "--run-dir", str(tmp_path / "r4")])
    assert "single class" in capsys.readouterr().err


def test_module_entry_point_has_no_traceback_for_user_errors(tmp_path):
    r = subprocess.run([sys.executable, "-m", "cvprimer", "train", "--dataset", "nope", "--run-dir",
                        os.fspath(tmp_path / "x")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
