"""Issue 25 point 7: full disks and odd paths. Every write goes through ``atomic_write`` (or, for the append-only
logs, History's guard), which turns an OSError into one line naming the file (``WriteError``) and leaves the
earlier file and the folder as they were: a run stopped by a full disk writes its summary when it still fits and
can be resumed.

A full disk is simulated in-process (``os.fsync`` or the log files' ``write`` raising ENOSPC); the last test uses
a real 64 KiB tmpfs when this process may mount one (root), and is skipped otherwise.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess

import pytest

from cvprimer.cli import main
from cvprimer.core.serialization import WriteError, atomic_write
from cvprimer.errors import UserError

TINY = ["--model", "lenet5", "--dataset", "digits", "--resize", "32", "--batch-size", "128", "--quiet"]


def _enospc(*a, **k):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_atomic_write_into_a_folder_is_one_line_naming_it(tmp_path):
    (tmp_path / "index.html").mkdir()
    with pytest.raises(WriteError) as e:
        atomic_write(tmp_path / "index.html", "<html>")
    assert str(e.value) == f"cannot write {str(tmp_path / 'index.html')!r}: it is a folder, not a file"
    assert e.value.errno == errno.EISDIR and isinstance(e.value, OSError) and isinstance(e.value, UserError)
    assert os.listdir(tmp_path) == ["index.html"]  # no temporary file left


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    path.write_text("old")
    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(WriteError, match=f"^cannot write {str(path)!r}: No space left on device$") as e:
        atomic_write(path, "new")
    assert e.value.errno == errno.ENOSPC
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["summary.json"]


class _Full:
    """A log file whose writes fail with ENOSPC once ``state['full']`` is set."""

    def __init__(self, f, state):
        self.f, self.state = f, state

    def write(self, text):
        if self.state["full"]:
            _enospc()
        return self.f.write(text)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def test_a_full_disk_while_logging_stops_the_run_resumably(tmp_path, capsys, monkeypatch):
    import builtins

    import cvprimer.train.callbacks as callbacks
    from cvprimer.train.trainer import Trainer

    state = {"full": False}
    real_open = builtins.open

    def logs_open(path, mode="r", *a, **k):
        f = real_open(path, mode, *a, **k)
        return _Full(f, state) if ("a" in mode or "w" in mode) else f

    own = Trainer._update

    def fill_in_epoch_2(self, clip):
        state["full"] = self.epoch == 2
        return own(self, clip)

    monkeypatch.setattr(callbacks, "open", logs_open, raising=False)
    monkeypatch.setattr(Trainer, "_update", fill_in_epoch_2)
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "2", "--run-dir", str(run)]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"cvprimer train: stopped: cannot write {str(run / 'steps.csv')!r}: No space left on "
                           "device"), line
    summary = json.loads((run / "summary.json").read_text())
    assert "No space left on device" in summary["error"] and summary["epochs_run"] == 1
    monkeypatch.undo()  # space again: the run resumes from its epoch-1 checkpoint and finishes
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert [json.loads(x)["epoch"] for x in (run / "epochs.jsonl").read_text().splitlines()] == [1, 2]


def test_summary_that_cannot_be_written_is_one_line(tmp_path, capsys, monkeypatch):
    import cvprimer.core.serialization as ser

    real = ser._atomic_write

    def no_summary(path, data):
        if str(path).endswith("summary.json"):
            _enospc()
        return real(path, data)

    monkeypatch.setattr(ser, "_atomic_write", no_summary)
    assert main(["train", *TINY, "--max-steps", "1", "--run-dir", str(tmp_path / "run")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("cvprimer train: ") and "summary.json" in line and "No space left" in line, line


def _can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.mark.skipif(not _can_mount(), reason="a real tmpfs needs root")
def test_a_real_64k_tmpfs(tmp_path, capsys):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("mount refused (a container without the capability)")
    try:
        run = mnt / "run"
        code = main(["train", *TINY, "--epochs", "1", "--run-dir", str(run)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(err) == 1 and "No space left on device" in err[0], err
        assert json.loads((run / "summary.json").read_text())["error"]  # it still fits, and says why
        assert not [p for p in run.rglob(".tmp-*")]
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
