r"""The lab's cache key: a cached result is served only when everything that could change it is unchanged.

The key of one experiment's record is a SHA-256 over

* the experiment's id, the mode (``quick``/``full``) and the exact seed list;
* the source of every engine module loaded in the process that ran it (recorded after the run, so lazily
  imported engine code counts too), and of the lab's own modules only those the experiment's module imports,
  transitively (the registry imports every experiment and helper; those of other experiments do not count);
* the frame and report code (:data:`FRAME_FILES`): how figures are aggregated, decided and shown;
* the versions of the packages that compute figures (:data:`PACKAGES`) and of Python.

The record stores the list of module files (``code_files``, paths inside the ``cvprimer`` package) and the key
(``code_version``); :func:`is_fresh` recomputes the key from the files as they are now. A file that changed or
disappeared, a new package version, another mode or seed list: the record is stale, ``cvprimer lab`` re-runs it
and ``lab show``/``lab report`` mark it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import re
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from typing import Any

import cvprimer

PACKAGE_ROOT = os.path.dirname(os.path.abspath(cvprimer.__file__))
# the frame: how a result is run, aggregated, decided and rendered (always part of every key)
FRAME_FILES = ("lab/experiment.py", "lab/runner.py", "lab/aggregate.py", "lab/cache.py", "lab/schedule.py",
               "lab/results.py", "lab/report/__init__.py", "lab/report/html.py", "lab/report/assets.py",
               "lab/report/i18n.py")
PACKAGES = ("numpy", "numba", "scipy", "scikit-image", "scikit-learn", "mlxtend", "matplotlib")
_IMPORTS_LAB = re.compile(r"(?:from|import)\s+(cvprimer\.lab(?:\.\w+)+)")
_FROM_LAB = re.compile(r"from\s+cvprimer\.lab\s+import\s+\(?([\w\s,]+)\)?")


@functools.lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """Versions of Python and of the packages that compute figures (``"absent"`` when not installed)."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def _rel(path: str) -> str | None:
    path = os.path.abspath(path)
    if not path.startswith(PACKAGE_ROOT + os.sep):
        return None
    return os.path.relpath(path, PACKAGE_ROOT).replace(os.sep, "/")


def _lab_imports(name: str) -> set[str]:
    """The ``cvprimer.lab`` modules that module ``name``'s source imports (``from cvprimer.lab.x import``,
    ``import cvprimer.lab.x``, ``from cvprimer.lab import x``)."""
    mod = sys.modules.get(name)
    path = getattr(mod, "__file__", None)
    if not path:
        return set()
    try:
        with open(path, encoding="utf-8") as fh:
            src = fh.read()
    except OSError:
        return set()
    found = set(_IMPORTS_LAB.findall(src))
    for names in _FROM_LAB.findall(src):
        found.update(f"cvprimer.lab.{n.strip().split(' as ')[0]}" for n in names.split(",") if n.strip())
    return {f for f in found if f in sys.modules}


def lab_closure(own_module: str) -> set[str]:
    """``own_module`` and every ``cvprimer.lab`` module it imports, transitively."""
    seen, todo = {own_module}, [own_module]
    while todo:
        for dep in _lab_imports(todo.pop()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def loaded_files(own_module: str) -> list[str]:
    """The cvprimer source files loaded in this process that bear on ``own_module``'s results (sorted): every
    engine module loaded (outside ``cvprimer.lab``; a superset when earlier tasks ran in the same process), and of
    the lab's own modules only those the experiment's module imports, transitively (the registry imports every
    experiment and helper, so an edit of another experiment's helper must not invalidate this one)."""
    lab = lab_closure(own_module)
    files = set()
    for name, m in list(sys.modules.items()):
        if not (name == "cvprimer" or name.startswith("cvprimer.")):
            continue
        if name.startswith("cvprimer.lab.") and name not in lab:
            continue  # frame files are part of every key anyway (FRAME_FILES)
        f = getattr(m, "__file__", None)
        rel = _rel(f) if f else None
        if rel:
            files.add(rel)
    return sorted(files)


@functools.lru_cache(maxsize=4096)
def _digest(rel: str, stamp: tuple[int, int]) -> str:
    with open(os.path.join(PACKAGE_ROOT, rel), "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def file_digest(rel: str) -> str | None:
    """SHA-256 of a package file's bytes (None when it no longer exists, or when ``rel`` -- read from a record
    that may come from anywhere -- is not a ``.py`` file inside the package); cached per (size, mtime)."""
    if not rel.endswith(".py") or _rel(os.path.join(PACKAGE_ROOT, rel)) != rel:
        return None
    try:
        st = os.stat(os.path.join(PACKAGE_ROOT, rel))
    except OSError:
        return None
    return _digest(rel, (st.st_size, st.st_mtime_ns))


def code_key(exp_id: str, files: Iterable[str], mode: str, seeds: Sequence[int]) -> str | None:
    """The cache key (hex); None when one of ``files`` no longer exists (the record cannot be fresh)."""
    h = hashlib.sha256()
    h.update(f"{exp_id}\n{mode}\n{list(map(int, seeds))}\n".encode())
    for rel in sorted(set(files) | set(FRAME_FILES)):
        d = file_digest(rel)
        if d is None:
            return None
        h.update(f"{rel} {d}\n".encode())
    for k, v in sorted(versions().items()):
        h.update(f"{k}=={v}\n".encode())
    return h.hexdigest()[:32]


def stale_reason(rec: dict[str, Any], mode: str | None = None, seeds: Sequence[int] | None = None) -> str | None:
    """Why a record may not be served (None: it is fresh). ``mode``/``seeds``: what the caller asks for
    (None: whatever the record holds, i.e. only "is it still what this code would compute?")."""
    if rec.get("status") != "ok":
        return "not a finished result"
    if mode is not None and rec.get("mode") != mode:
        return f"mode {rec.get('mode')}, asked {mode}"
    if seeds is not None and rec.get("seeds") != list(seeds):
        return f"seeds {rec.get('seeds')}, asked {list(seeds)}"
    files = rec.get("code_files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return "no code key (written by an older cvprimer)"
    key = code_key(str(rec.get("id")), files, str(rec.get("mode")), rec.get("seeds") or [])
    if key is None or key != rec.get("code_version"):
        return "the code or package versions changed since it ran"
    return None
