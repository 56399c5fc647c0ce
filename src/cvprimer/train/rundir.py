r"""Run folders that are never lost or silently overwritten, and files of the user's that are never deleted.

* Ownership: a run folder is one that cvprimer made. :func:`prepare_new` writes a marker,
  ``<run>/.cvprimer-run.json``, before anything else; it holds the manifest of the files and folders the run
  wrote (paths relative to the run folder). Every file a run writes is first *claimed* (:func:`claim`: its
  path is added to the manifest, atomically, before the file is created), so a kill at any point leaves a
  manifest that lists at least every file the run made.
* :func:`prepare_new` accepts a new or empty folder (or one holding only the lock, the marker and what the
  manifest lists but no longer exists). A folder that holds a run is refused unless ``overwrite`` is given;
  ``overwrite`` then removes exactly the files the manifest lists (plus :func:`~cvprimer.core.serialization.
  atomic_write`'s own left-over ``.tmp-XXXXXXXX`` files, from a kill mid-write) and the folders it lists once
  they are empty: a file of the user's inside a run folder (``checkpoints/keep-epoch2-best.npz``) survives.
  A non-empty folder without the marker is never cleared, not even with ``overwrite``; the refusal names one
  of its files.
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
import json
import os
import re
from typing import Any

LOCK = ".lock"
MARKER = ".cvprimer-run.json"
MARKER_FORMAT = "cvprimer-run-1"
_TMP = re.compile(r"^\.tmp-[A-Za-z0-9_]{8}(\.[A-Za-z0-9]+)?$")  # atomic_write's temporary files (mkstemp names)


class RunDirError(ValueError):
    """A run folder that cannot be used as asked (the message says why and what to do)."""


def _is_run(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "config.json"))


def read_manifest(root: str) -> dict[str, list[str]] | None:
    """The manifest of the run folder ``root`` (``{"files": [...], "dirs": [...]}``, relative paths), or None when
    ``root`` has no marker. A marker that is not a manifest raises :class:`RunDirError`."""
    path = os.path.join(root, MARKER)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        ok = (isinstance(data, dict) and data.get("format") == MARKER_FORMAT
              and all(isinstance(data.get(k), list) and all(isinstance(x, str) for x in data[k])
                      for k in ("files", "dirs")))
    except (OSError, ValueError) as e:
        raise RunDirError(f"the run marker {path!r} cannot be read ({e}); remove the folder by hand if it is yours"
                          ) from None
    if not ok:
        raise RunDirError(f"the run marker {path!r} is not a {MARKER_FORMAT} manifest; remove the folder by hand if "
                          f"it is yours")
    return {"files": list(data["files"]), "dirs": list(data["dirs"])}


def _write_manifest(root: str, manifest: dict[str, list[str]]) -> None:
    from cvprimer.core.serialization import atomic_write  # imported when used: the lock stays light to import

    atomic_write(os.path.join(root, MARKER), json.dumps({"format": MARKER_FORMAT, "files": sorted(manifest["files"]),
                                                         "dirs": sorted(manifest["dirs"])}, indent=1))


def _inside(root: str, rel: str) -> str | None:
    """``root/rel`` when ``rel`` is a plain relative path that stays inside ``root`` (a hostile manifest naming
    ``../x`` or ``/etc/x`` is ignored), else None."""
    if os.path.isabs(rel) or not rel or any(part in ("", ".", "..") for part in rel.split("/")):
        return None
    path = os.path.join(root, rel)
    real_root = os.path.realpath(root)
    parent = os.path.realpath(os.path.dirname(path))  # a folder on the way that is a link out of the run: refused
    return path if parent == real_root or parent.startswith(real_root + os.sep) else None


def _run_root(path: str) -> str | None:
    """The run folder that holds ``path`` (its folder or that folder's parent has the marker), or None."""
    d = os.path.dirname(os.path.abspath(path))
    for cand in (d, os.path.dirname(d)):
        if os.path.isfile(os.path.join(cand, MARKER)):
            return cand
    return None


def claim(path: str | os.PathLike[str], is_dir: bool = False) -> None:
    """Add ``path`` (a file, or a folder with ``is_dir``) to the manifest of the run folder that holds it, before it
    is written; a no-op outside a run folder (a :class:`~cvprimer.train.Trainer` used as a library) or for a path
    already listed. The folders between the run folder and ``path`` are listed too."""
    path = os.path.abspath(os.fspath(path))
    root = _run_root(path if not is_dir else os.path.join(path, "x"))
    if root is None:
        return
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    try:
        manifest = read_manifest(root)
    except RunDirError:
        return  # a damaged marker: --overwrite will refuse the folder rather than guess
    if manifest is None:
        return
    parts = rel.split("/")
    dirs = ["/".join(parts[:i]) for i in range(1, len(parts) if not is_dir else len(parts) + 1)]
    new_files = [] if is_dir or rel in manifest["files"] else [rel]
    new_dirs = [d for d in dirs if d not in manifest["dirs"]]
    if new_files or new_dirs:
        manifest["files"] += new_files
        manifest["dirs"] += new_dirs
        _write_manifest(root, manifest)


def write_file(path: str | os.PathLike[str], data: Any) -> None:
    """Claim ``path`` for its run folder (:func:`claim`), then write ``data`` (text, bytes or a function writing to a
    binary file) atomically; an OSError (a full disk, a path that is a folder) is a
    :class:`~cvprimer.core.serialization.WriteError` naming the file (one line), and leaves the earlier file, if
    any, intact."""
    from cvprimer.core.serialization import atomic_write

    claim(path)
    atomic_write(path, data)


def _clear(path: str, manifest: dict[str, list[str]]) -> None:
    """Remove what the manifest lists (and atomic_write's left-over temporary files in its folders), then the
    listed folders that are left empty."""
    for rel in manifest["files"]:
        p = _inside(path, rel)
        if p is not None and (os.path.islink(p) or os.path.isfile(p)):
            os.unlink(p)
    for rel in ["", *manifest["dirs"]]:
        d = _inside(path, rel) if rel else path
        if d is not None and os.path.isdir(d) and not os.path.islink(d):
            for name in os.listdir(d):
                if _TMP.match(name) and os.path.isfile(os.path.join(d, name)):
                    os.unlink(os.path.join(d, name))
    for rel in sorted(manifest["dirs"], key=lambda r: -r.count("/")):  # deepest first
        d = _inside(path, rel)
        if d is not None and os.path.isdir(d) and not os.path.islink(d) and not os.listdir(d):
            os.rmdir(d)


def prepare_new(path: str, overwrite: bool = False) -> None:
    """Make ``path`` an empty run folder holding its marker, or refuse (see the module docstring)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise RunDirError(f"--run-dir {path!r} is a file, not a folder")
    manifest = read_manifest(path) if os.path.isdir(path) else None
    if manifest is None and os.path.isdir(path):
        entries = sorted(e for e in os.listdir(path) if e != LOCK)
        if entries and _is_run(path):
            raise RunDirError(f"--run-dir {path!r} already holds a run that has no {MARKER} manifest (made by an "
                              f"older cvprimer, or by hand), so --overwrite cannot tell its files from yours: "
                              f"continue it with --resume {path}, or choose a new folder")
        if entries:  # never cleared, not even with --overwrite
            more = "" if len(entries) == 1 else f" (and {len(entries) - 1} more)"
            raise RunDirError(f"--run-dir {path!r} holds {entries[0]!r}{more}, which cvprimer did not write (no "
                              f"{MARKER}); choose an empty or new folder")
    if manifest is not None:
        if not overwrite and any(os.path.lexists(p) for rel in manifest["files"]
                                 if (p := _inside(path, rel)) is not None):
            raise RunDirError(f"--run-dir {path!r} already holds a run; continue it with --resume {path}, or "
                              f"start it over with --overwrite")
        _clear(path, manifest)  # only what the run wrote (and atomic_write's left-overs); the user's files stay
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise RunDirError(f"cannot create the run folder {path!r}: {e.strerror or e}") from None
    if not os.access(path, os.W_OK):
        raise RunDirError(f"the run folder {path!r} is not writable")
    try:
        _write_manifest(path, {"files": [], "dirs": []})
    except OSError as e:
        raise RunDirError(f"cannot write the run marker {os.path.join(path, MARKER)!r}: {e.strerror or e}") from None


def check_run_folder(path: str) -> None:
    """A :class:`RunDirError` unless ``path`` is a run folder (to resume)."""
    if not os.path.isdir(path):
        raise RunDirError(f"--resume {path!r}: no such folder")
    if not _is_run(path) and os.path.isfile(os.path.join(path, MARKER)):
        raise RunDirError(f"--resume {path!r}: the run stopped before it wrote its config.json, so there is nothing "
                          f"to resume; start it over with --run-dir {path}")
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
