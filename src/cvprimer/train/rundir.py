r"""Run folders that are never lost or silently overwritten.

* :func:`prepare_new` refuses a folder that already holds anything unless ``overwrite`` is given, and even then
  only clears a folder that *is* a run folder (it has ``config.json``): the files a run writes are removed,
  anything else in it is left alone. A folder that holds other things is never cleared.
* :func:`check_resumable` says exactly why a folder cannot be resumed: not a run folder, or killed before its
  first checkpoint (with the way out: start over with ``--overwrite``).
* :class:`RunLock` is held while a process trains: an OS lock (``fcntl.flock``, exclusive) on ``<run>/.lock``,
  held on an open descriptor for the run's whole life. The kernel decides who holds it, so two processes can
  never both hold it, and it goes away with its process however that process ends (a kill included): a left-over
  ``.lock`` file (empty, or naming a pid that now belongs to another process) never locks a folder. The file's
  text (the owner's pid) is only there to name the owner in the refusal.

Every refusal raises :class:`RunDirError` (a ``ValueError``) whose message names the folder and what to do.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from typing import Any

RUN_FILES = ("config.json", "summary.json", "curves.png", "steps.csv", "epochs.csv", "epochs.jsonl",
             "lr_finder.csv", "lr_finder.png")
RUN_DIRS = ("checkpoints", "tensorboard")
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


def check_run_folder(path: str) -> None:
    """A :class:`RunDirError` unless ``path`` is a run folder (to resume)."""
    if not os.path.isdir(path):
        raise RunDirError(f"--resume {path!r}: no such folder")
    if not _is_run(path):
        raise RunDirError(f"--resume {path!r} is not a run folder (no config.json)")


def check_resumable(path: str) -> str:
    """The checkpoint to resume ``path`` from, or a :class:`RunDirError` saying why there is none."""
    check_run_folder(path)
    last = os.path.join(path, "checkpoints", "last.npz")
    if not os.path.isfile(last):
        raise RunDirError(f"--resume {path!r}: the run has no checkpoint yet (it stopped before its first epoch "
                          f"ended); start it over with --run-dir {path} --overwrite")
    return last


class RunLock:
    r"""``with RunLock(run_dir): ...`` holds ``run_dir/.lock`` for this process (see the module docstring).

    Rule: open (or create) ``.lock``, take ``flock(LOCK_EX | LOCK_NB)`` on it, then check that the path still
    names the inode that was locked (a releasing holder unlinks the file while it still holds the lock, so a
    waiter that opened the old file must start again on the new one); write the pid. Releasing unlinks the
    file, then closes the descriptor (which drops the OS lock).
    """

    _TRIES = 50  # each retry means a holder released between our open and our flock: bounded, never a spin

    def __init__(self, run_dir: str) -> None:
        self.path = os.path.join(run_dir, LOCK)
        self.held = False
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`RunDirError` naming the folder and the owner's pid (when known)."""
        if self.held:
            return
        folder = os.path.dirname(self.path)
        for _ in range(self._TRIES):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise RunDirError(f"cannot lock the run folder {folder!r}: cannot open {self.path!r}: "
                                  f"{e.strerror or e}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    pid = self._owner()
                    who = f"process {pid}" if pid is not None else "another process"
                    raise RunDirError(f"the run folder {folder!r} is in use by {who}; wait for it to finish or "
                                      f"stop it") from None
                raise RunDirError(f"cannot lock the run folder {folder!r}: {e.strerror or e}") from None
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                st = None
            mine = os.fstat(fd)
            if st is None or (st.st_dev, st.st_ino) != (mine.st_dev, mine.st_ino):
                os.close(fd)  # we locked a file its holder has just unlinked: start again on the new one
                continue
            self._fd, self.held = fd, True
            try:  # the pid only names the owner in a refusal; the OS lock is what excludes
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode("ascii"))
            except OSError:  # a full disk: the lock is held all the same
                pass
            return
        raise RunDirError(f"could not take the lock {self.path!r} (another process keeps taking it)")

    def _owner(self) -> int | None:
        try:
            with open(self.path, encoding="ascii") as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if pid > 0 else None

    def release(self) -> None:
        """Unlink ``.lock`` (while still holding it) and drop the OS lock; a no-op when not held."""
        if self._fd is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            os.close(self._fd)
        self._fd, self.held = None, False

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
