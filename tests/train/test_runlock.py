"""The run-folder lock is an OS lock (issue 25, point 13): a left-over ``.lock`` never locks a folder, and
two processes never hold it at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from cvprimer.train.rundir import RunDirError, RunLock

_HOLD = ("import sys, time\nfrom cvprimer.train.rundir import RunLock\n"
         "lock = RunLock(sys.argv[1]); lock.acquire(); print('held', flush=True); time.sleep(60)\n")


@pytest.mark.parametrize("text", ["", "1", "-1", "garbage", str(os.getpid())])
def test_a_left_over_lock_file_never_locks_the_folder(tmp_path, text):
    # an empty file (a full disk while writing it, a kill), pid 1 (alive, never ours), our own pid
    (tmp_path / ".lock").write_text(text)
    with RunLock(str(tmp_path)) as lock:
        assert lock.held and (tmp_path / ".lock").read_text() == str(os.getpid())
    assert not (tmp_path / ".lock").exists()


def test_a_live_holder_is_refused_by_pid_and_its_kill_frees_the_folder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunDirError, match=f"in use by process {holder.pid}; wait"):
            RunLock(str(tmp_path)).acquire()
    finally:
        holder.kill()  # SIGKILL: no clean-up ran, the .lock file stays behind
        holder.wait()
    assert (tmp_path / ".lock").read_text() == str(holder.pid)
    with RunLock(str(tmp_path)) as lock:
        assert lock.held


_RACER = r"""
import sys, time
from cvprimer.train.rundir import RunDirError, RunLock
folder, start = sys.argv[1], float(sys.argv[2])
lock = RunLock(folder)
while time.time() < start:
    pass
try:
    lock.acquire()
    out = "held"
except RunDirError:
    out = "refused"
import os
open(os.path.join(os.path.dirname(folder), f"tried-{os.path.basename(folder)}-{os.getpid()}"), "w").close()
if out == "held":  # hold until every racer has tried (a loaded machine starts them late): a second holder counts
    deadline = time.time() + 50
    while time.time() < deadline and sum(n.startswith(f"tried-{os.path.basename(folder)}-")
                                         for n in os.listdir(os.path.dirname(folder))) < int(sys.argv[3]):
        time.sleep(0.02)
    lock.release()
print(out, flush=True)
"""


def test_racing_processes_never_both_hold_the_lock(tmp_path):
    racers, rounds = 6, 4
    for r in range(rounds):
        folder = tmp_path / f"r{r}"
        folder.mkdir()
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, timeout=60).stdout.strip()
        (folder / ".lock").write_text(dead)  # a stale lock left by a killed run: every racer may take it over
        start = time.time() + 3.0  # after the interpreters have started
        procs = [subprocess.Popen([sys.executable, "-c", _RACER, str(folder), repr(start), str(racers)],
                                  stdout=subprocess.PIPE, text=True) for _ in range(racers)]
        outs = [p.communicate(timeout=60)[0].strip() for p in procs]
        assert all(p.returncode == 0 for p in procs)
        assert sorted(outs).count("held") == 1, f"round {r}: {outs}"
