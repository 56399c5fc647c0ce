"""Run folders: never silently overwritten, resumable or told why not, locked while a process trains."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cvprimer.train.rundir import RunDirError, RunLock, check_resumable, claim, prepare_new


def test_new_folder_and_empty_folder_are_fine(tmp_path):
    prepare_new(str(tmp_path / "a"))
    (tmp_path / "b").mkdir()
    prepare_new(str(tmp_path / "b"))
    assert (tmp_path / "a").is_dir()


def test_existing_run_is_refused_unless_overwrite(tmp_path):
    run = tmp_path / "run"
    prepare_new(str(run))  # the marker first; then the run claims each file before writing it
    for rel in ("config.json", "checkpoints/last.npz"):
        claim(str(run / rel))
        (run / rel).parent.mkdir(exist_ok=True)
        (run / rel).write_bytes(b"x")
    (run / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="already holds a run.*--resume.*--overwrite"):
        prepare_new(str(run))
    assert (run / "config.json").exists()
    prepare_new(str(run), overwrite=True)
    assert not (run / "config.json").exists() and not (run / "checkpoints").exists()
    assert (run / "notes.txt").read_text() == "mine"  # only the run's own files are removed


def test_a_folder_that_is_not_a_run_is_never_cleared(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"x")
    with pytest.raises(RunDirError, match="holds 'a.jpg', which cvprimer did not write"):
        prepare_new(str(tmp_path / "photos"), overwrite=True)
    assert (tmp_path / "photos" / "a.jpg").exists()
    (tmp_path / "f").write_text("x")
    with pytest.raises(RunDirError, match="is a file"):
        prepare_new(str(tmp_path / "f"))


def test_resume_says_why_not(tmp_path):
    with pytest.raises(RunDirError, match="no such folder"):
        check_resumable(str(tmp_path / "nope"))
    with pytest.raises(RunDirError, match="not a run folder"):
        check_resumable(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(RunDirError, match="no checkpoint yet.*--overwrite"):
        check_resumable(str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.npz").write_bytes(b"x")
    assert check_resumable(str(tmp_path)).endswith("last.npz")


def test_lock_refuses_a_live_owner_and_takes_over_a_dead_one(tmp_path):
    code = ("import sys, time\nfrom cvprimer.train.rundir import RunLock\n"
            "RunLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:  # the owner holds the OS lock (a pid written in .lock alone locks nothing: issue 25, point 13)
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunDirError, match=f"in use by process {holder.pid}"):
            RunLock(str(tmp_path)).acquire()
    finally:
        holder.kill()
        holder.wait()
    with RunLock(str(tmp_path)) as lock:  # the owner is dead: stale lock taken over
        assert lock.held and (tmp_path / ".lock").read_text() == str(os.getpid())
    assert not (tmp_path / ".lock").exists()


def test_lock_is_exclusive_between_two_holders(tmp_path):
    a = RunLock(str(tmp_path))
    a.acquire()
    code = ("import sys; from cvprimer.train.rundir import RunLock, RunDirError\n"
            "try:\n    RunLock(sys.argv[1]).acquire()\nexcept RunDirError as e:\n    print(e); sys.exit(3)\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
    a.release()
    assert r.returncode == 3 and f"in use by process {os.getpid()}" in r.stdout
