"""Issue 25 points 14 and 15: every way a fresh run stops early leaves a folder and advice that work: Ctrl-C
before the first checkpoint does not advise a ``--resume`` that is then refused; a checkpoint that cannot be
written is reported as what it is and the summary is still written; a folder left by a kill before config.json
was written says so on ``--resume`` and can be rerun."""

from __future__ import annotations

import errno
import json

from cvprimer.cli import main

TINY = ["--model", "lenet5", "--dataset", "digits", "--resize", "32", "--batch-size", "128", "--quiet"]


def _err(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_ctrl_c_in_epoch_1_advises_what_works(tmp_path, capsys, monkeypatch):
    from cvprimer.train.trainer import Trainer

    own = Trainer._update
    calls = []

    def interrupt_at_step_2(self, clip):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return own(self, clip)

    monkeypatch.setattr(Trainer, "_update", interrupt_at_step_2)
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "2", "--run-dir", str(run)]) == 130
    (line,) = _err(capsys)
    assert "interrupted after 0 epoch(s)" in line and "--resume" not in line, line
    assert f"--run-dir {run} --overwrite" in line and json.loads((run / "summary.json").read_text())["interrupted"]
    monkeypatch.setattr(Trainer, "_update", own)
    assert main(["train", "--resume", str(run)]) == 2  # indeed nothing to resume
    assert "no checkpoint yet" in _err(capsys)[0]
    assert main(["train", *TINY, "--epochs", "1", "--run-dir", str(run), "--overwrite"]) == 0  # the advice works


def test_ctrl_c_after_a_checkpoint_still_advises_resume(tmp_path, capsys, monkeypatch):
    from cvprimer.train.trainer import Trainer

    own = Trainer._update

    def interrupt_in_epoch_2(self, clip):
        if self.epoch == 2:
            raise KeyboardInterrupt
        return own(self, clip)

    monkeypatch.setattr(Trainer, "_update", interrupt_in_epoch_2)
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "2", "--run-dir", str(run)]) == 130
    (line,) = _err(capsys)
    assert f"interrupted after 1 epoch(s); continue with `cvprimer train --resume {run}`" in line, line
    monkeypatch.setattr(Trainer, "_update", own)
    assert main(["train", "--resume", str(run), "--quiet"]) == 0


def test_a_checkpoint_that_cannot_be_written_is_reported_and_leaves_a_summary(tmp_path, capsys, monkeypatch):
    import cvprimer.train.checkpoint as ckpt

    def full_disk(arrays, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt, "save", full_disk)  # simulated in-process: no tmpfs can be mounted here
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--run-dir", str(run)]) == 1
    (line,) = _err(capsys)
    assert line.startswith("cvprimer train: stopped: checkpoint: cannot write ") and "--resume" not in line
    assert "No space left on device" in line and "best.npz" in line, line
    summary = json.loads((run / "summary.json").read_text())
    assert "cannot write" in summary["error"] and summary["epochs_run"] == 1


def test_resume_of_a_folder_killed_before_config_json_says_so(tmp_path, capsys):
    from cvprimer.train.rundir import prepare_new

    run = tmp_path / "run"
    prepare_new(str(run))  # what is left when the kill came during the config.json write
    assert main(["train", "--resume", str(run)]) == 2
    (line,) = _err(capsys)
    assert "stopped before it wrote its config.json" in line and f"--run-dir {run}" in line
    assert main(["train", *TINY, "--max-steps", "1", "--run-dir", str(run)]) == 0
