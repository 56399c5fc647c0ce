r"""Run folders that are never lost or silently overwritten.

* :func:`prepare_new` refuses a folder that already holds anything unless ``overwrite`` is given, and even then
  only clears a folder that *is* a run folder (it has ``config.json``): the files a run writes are removed,
  anything else in it is left alone. A folder that holds other things is never cleared.
* :func:`check_resumable` says exactly why a folder cannot be resumed: not a run folder, or killed before its
  first checkpoint (with the way out: start over with ``--overwrite``).
* :class:`RunLock` is held while a process trains: ``<run>/.lock`` holds the owner's pid, created with
  ``O_EXCL`` so two processes cannot both take it; a lock left by a process that no longer exists (killed) is
  stale and is taken over.

Every refusal raises :class:`RunDirError` (a ``ValueError``) whose message names the folder and what to do.
"""

from __future__ import annotations

import errno
import os
import shutil
from typing import Any

RUN_FILES = ("config.json", "summary.json", "curves.png", "steps.csv", "epochs.csv", "epochs.jsonl")
RUN_DIRS = ("checkpoints",)
LOCK = ".lock"


class RunDirError(ValueError):
    """A run folder that cannot be used as asked (the message says why and what to do)."""


def _is_run(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "config.json"))


def prepare_new(path: str, overwrite: bool = False) -> None:
    """Make ``path`` an empty run folder, or refuse (see the module docstring)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise RunDirError(f"--run-dir {path!r} is a file, not a folder")
    entries = [e for e in os.listdir(path) if e != LOCK] if os.path.isdir(path) else []
    if entries:
        if not _is_run(path):
            raise RunDirError(f"--run-dir {path!r} is not empty and is not a run folder (no config.json); choose "
                              f"an empty or new folder")
        if not overwrite:
            raise RunDirError(f"--run-dir {path!r} already holds a run; continue it with --resume {path}, or "
                              f"start it over with --overwrite")
        for name in RUN_FILES:
            p = os.path.join(path, name)
            if os.path.isfile(p):
                os.unlink(p)
        for name in RUN_DIRS:
            shutil.rmtree(os.path.join(path, name), ignore_errors=True)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise RunDirError(f"cannot create the run folder {path!r}: {e.strerror or e}") from None
    if not os.access(path, os.W_OK):
        raise RunDirError(f"the run folder {path!r} is not writable")


def check_resumable(path: str) -> str:
    """The checkpoint to resume ``path`` from, or a :class:`RunDirError` saying why there is none."""
    if not os.path.isdir(path):
        raise RunDirError(f"--resume {path!r}: no such folder")
    if not _is_run(path):
        raise RunDirError(f"--resume {path!r} is not a run folder (no config.json)")
    last = os.path.join(path, "checkpoints", "last.npz")
    if not os.path.isfile(last):
        raise RunDirError(f"--resume {path!r}: the run has no checkpoint yet (it stopped before its first epoch "
                          f"ended); start it over with --run-dir {path} --overwrite")
    return last


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class RunLock:
    """``with RunLock(run_dir): ...`` holds ``run_dir/.lock`` for this process (see the module docstring)."""

    def __init__(self, run_dir: str) -> None:
        self.path = os.path.join(run_dir, LOCK)
        self.held = False

    def acquire(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pid = self._owner()
                if pid is not None and pid != os.getpid() and _alive(pid):
                    raise RunDirError(f"the run folder {os.path.dirname(self.path)!r} is in use by process {pid}; "
                                      f"wait for it to finish or stop it") from None
                try:  # stale: its owner is gone (or the file is unreadable); take it over
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
                continue
            except OSError as e:
                if e.errno in (errno.EACCES, errno.EROFS):
                    raise RunDirError(f"cannot lock the run folder {os.path.dirname(self.path)!r}: "
                                      f"{e.strerror}") from None
                raise
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            self.held = True
            return
        raise RunDirError(f"could not take the lock {self.path!r} (another process keeps taking it)")

    def _owner(self) -> int | None:
        try:
            with open(self.path, encoding="ascii") as f:
                return int(f.read().strip() or -1)
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.held and self._owner() == os.getpid():
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        self.held = False

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
