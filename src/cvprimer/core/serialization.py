r"""``cp.save`` / ``cp.load``: dicts of arrays as ``.npz`` files, written atomically, never pickled.

Writing: the archive goes to a temporary file in the destination directory, is flushed and
fsynced, then ``os.replace``d over the destination, so a crash mid-write leaves either the old
file or the new one, never a truncated checkpoint. Reading uses ``np.load(allow_pickle=False)``
(object arrays are refused on both sides), validates that the file is an ``.npz`` archive and
returns plain NumPy arrays.

Differences from PyTorch: ``torch.save`` pickles arbitrary objects; we store only a flat
``{str: array}`` mapping (nested state is flattened by its owner, e.g. ``Module.state_dict``).
The path is used as given (no ``.npz`` suffix is appended).
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from cvprimer.core.tensor import Tensor


def _as_array(key: str, v: Any) -> np.ndarray:
    arr = v.data if isinstance(v, Tensor) else np.asarray(v)
    if arr.dtype.kind not in "biufcSU":
        raise TypeError(
            f"save: value for key {key!r} has dtype {arr.dtype} (shape {arr.shape}); only numeric, "
            "bool and string arrays can be stored without pickling"
        )
    return arr


def save(obj: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a ``{name: array or Tensor or number}`` mapping to ``path`` as an uncompressed ``.npz``.

    Atomic: temporary file in the same directory, fsync, ``os.replace``.

    Example
    -------
    >>> import numpy as np, tempfile, os, cvprimer as cp
    >>> p = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> cp.save({"w": np.eye(2)}, p)
    >>> cp.load(p)["w"].shape
    (2, 2)
    """
    if not isinstance(obj, Mapping):
        raise TypeError(f"save: expected a mapping of str -> array, got {type(obj).__name__}")
    arrays = {}
    for k, v in obj.items():
        if not isinstance(k, str) or not k:
            raise TypeError(f"save: keys must be non-empty strings, got {k!r}")
        arrays[k] = _as_array(k, v)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: directory {directory!r} does not exist")
    def write(f: Any) -> None:
        # written member by member (as np.savez does) so that any key, even "file", works
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for k, arr in arrays.items():
                with zf.open(k + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(arr), allow_pickle=False)

    atomic_write(path, write)


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], data: str | bytes | Callable[[Any], None]) -> None:
    """Write ``data`` (text, bytes, or a function writing to a binary file) to ``path`` atomically.

    The bytes go to a temporary file in the destination directory, which is flushed, fsynced and
    ``os.replace``d over ``path``; the directory is then fsynced so the rename itself survives a
    crash. On any failure the temporary file is removed and an existing ``path`` is left intact.
    The file gets the permissions an ordinary ``open(path, "w")`` would give (0666 less the umask), not
    the private 0600 of a temporary file. Every file cvprimer writes (checkpoints, reports, run
    summaries, plots) goes through here.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable (POSIX); harmless where directories cannot be opened
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(dfd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(dfd)


def load(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read an ``.npz`` written by :func:`save` into a ``{name: np.ndarray}`` dict (no pickle)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load: no such file {path!r}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"load: {path!r} is not an .npz archive (expected a file written by cp.save)")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: np.array(z[k]) for k in z.files}
    except ValueError as e:
        raise ValueError(f"load: {path!r} holds data that would need unpickling or is corrupt: {e}") from e
    except (OSError, zipfile.BadZipFile, KeyError) as e:
        raise ValueError(f"load: {path!r} is not a valid .npz archive: {e}") from e
