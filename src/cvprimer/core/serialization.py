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
import struct
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


# a deflated member can expand at most ~1032 times (zlib's limit); a claimed size beyond that is a lie
_MAX_DEFLATE_RATIO = 1100


def _member_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype, int]:
    """``(shape, dtype, header length)`` of one ``.npy`` member, checked against the member's stored size.

    The ``.npy`` header is read (a few hundred bytes) and its promise, ``prod(shape) * itemsize`` data bytes,
    must equal the member's size less the header, which must itself agree with the bytes stored in the
    archive: so a 300-byte file claiming shape ``(10**12,)`` is refused before anything is allocated.
    """
    name = info.filename
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise ValueError(f"member {name!r} claims {info.file_size} bytes but stores {info.compress_size}")
    elif info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + 4096:
        raise ValueError(f"member {name!r} claims {info.file_size} bytes from {info.compress_size} compressed")
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:  # pragma: no cover - read_magic accepts only these today
            raise ValueError(f"member {name!r} has .npy format version {version}")
        header = f.tell() if f.seekable() else None
    if dtype.hasobject:
        raise ValueError(f"member {name!r} holds Python objects (dtype {dtype}), which would need unpickling")
    if any(int(n) < 0 for n in shape):
        raise ValueError(f"member {name!r} has a negative shape {shape}")
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if header is not None and need != info.file_size - header:
        raise ValueError(f"member {name!r} header claims shape {shape} of {dtype} ({need} bytes) but the member "
                         f"holds {info.file_size - header} bytes of data")
    if need > info.file_size:
        raise ValueError(f"member {name!r} header claims shape {shape} of {dtype} ({need} bytes) but the member "
                         f"is only {info.file_size} bytes")
    return tuple(shape), dtype, header or 0


def _listed_entries(path: str, size: int) -> int | None:
    """The member count that the archive's end-of-central-directory record states (None if not found or ZIP64):
    ``zipfile`` trusts the directory entries themselves, so a damaged length field can hide members."""
    with open(path, "rb") as f:
        f.seek(max(0, size - 22 - 65535))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    total = struct.unpack("<H", tail[at + 10:at + 12])[0]
    return None if total == 0xFFFF else total


def load(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read an ``.npz`` written by :func:`save` into a ``{name: np.ndarray}`` dict (no pickle).

    Damaged or hostile files (empty, truncated, random bytes, a flipped byte, a member whose header claims
    more data than the file holds, object arrays) raise one ``ValueError`` naming the file and what is wrong;
    every member's header is checked against its stored size before any array is allocated, and the
    archive's CRCs are verified while reading.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load: no such file {path!r}")
    try:
        size = os.path.getsize(path)
        if size == 0:
            raise ValueError("the file is empty")
        if not zipfile.is_zipfile(path):
            raise ValueError("not an .npz archive (expected a file written by cp.save)")
        out: dict[str, np.ndarray] = {}
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if sum(i.compress_size for i in infos) > size:
                raise ValueError(f"the archive lists more stored bytes than the file's {size}")
            listed = _listed_entries(path, size)
            if listed is not None and listed != len(infos):
                raise ValueError(f"the archive's directory is damaged (it lists {listed} members, {len(infos)} "
                                 "could be read)")
            odd = [i.filename for i in infos if not i.filename.endswith(".npy") or i.is_dir()]
            if odd:  # cp.save writes .npy members only: anything else is damage (or not ours)
                raise ValueError(f"member {odd[0]!r} is not an .npy array")
            checked = [(info, _member_header(zf, info)) for info in infos]
            for info, _ in checked:  # every header checked first: nothing allocated for a lying file
                with zf.open(info) as f:
                    out[info.filename[:-4]] = np.lib.format.read_array(f, allow_pickle=False)
        return out
    except MemoryError:
        raise ValueError(f"load: {path!r} cannot be read: not enough memory") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError, OverflowError,
            SyntaxError, UnicodeDecodeError, NotImplementedError, RuntimeError) as e:
        msg = " ".join(str(e).split()) or type(e).__name__
        raise ValueError(f"load: {path!r} cannot be read (damaged, or not written by cp.save): {msg}") from None
