r"""``cp.save`` / ``cp.load``: arrays, tensors and nested containers as ``.npz`` files, written atomically,
never pickled.

Writing: the archive goes to a temporary file in the destination directory, is flushed and
fsynced, then ``os.replace``d over the destination, so a crash mid-write leaves either the old
file or the new one, never a truncated checkpoint. Reading uses ``np.load(allow_pickle=False)``
(object arrays are refused on both sides), validates that the file is an ``.npz`` archive.

Two layouts, chosen by what is saved:

* a flat ``{str: ndarray}`` mapping (a model's ``state_dict()``, a checkpoint's arrays): one ``.npy`` member per
  key, and ``load`` returns the same ``{str: ndarray}`` dict;
* anything else, as ``torch.save`` takes it: dicts (str or int keys), lists and tuples nested to any depth, with
  Tensors, NumPy arrays and scalars, Python ``bool``/``int``/``float``/``str``/``None`` as leaves
  (``{'model': sd, 'opt': opt.state_dict(), 'epoch': 3}``). Each array or tensor is one ``.npy`` member; the
  structure and the plain values are one JSON string, the member ``__tree__``. ``load`` rebuilds the same
  structure: tensors as tensors (with their ``requires_grad``), arrays as arrays, a tensor or array saved
  twice as one object, ``OrderedDict`` as ``OrderedDict``, values exactly (floats by their shortest repr).

Differences from PyTorch: ``torch.save`` pickles arbitrary objects; we store only the types above (anything else
is a ``TypeError`` naming where it sits), so loading a file never runs code. The path is used as given (no
``.npz`` suffix is appended).
"""

from __future__ import annotations

import errno
import json
import os
import struct
import tempfile
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from cvprimer.core.tensor import Tensor
from cvprimer.errors import UserError


def _as_array(key: str, v: Any) -> np.ndarray:
    arr = v.data if isinstance(v, Tensor) else np.asarray(v)
    if arr.dtype.kind not in "biufcSU":
        raise TypeError(
            f"save: value for key {key!r} has dtype {arr.dtype} (shape {arr.shape}); only numeric, "
            "bool and string arrays can be stored without pickling"
        )
    return arr


TREE_MEMBER = "__tree__"


def _is_flat(obj: Any) -> bool:
    """The first layout: a mapping of non-empty string keys to NumPy arrays (what cvprimer wrote before trees)."""
    return isinstance(obj, Mapping) and TREE_MEMBER not in obj and all(
        isinstance(k, str) and k and isinstance(v, np.ndarray) for k, v in obj.items())


class _TreeWriter:
    """Turns a nested object into a JSON-able description and a ``{member: array}`` dict."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._seen: dict[int, str] = {}  # id of a tensor/array already stored -> its member
        self._keep: list[Any] = []  # keeps those objects alive, so their ids stay theirs while writing

    def _member(self, where: str, obj: Any, arr: np.ndarray) -> str:
        name = self._seen.get(id(obj))
        if name is None:
            name = self._seen[id(obj)] = str(len(self.arrays))
            self.arrays[name] = _as_array(where, arr)
            self._keep.append(obj)
        return name

    def node(self, obj: Any, where: str) -> Any:
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return {"v": obj}
        if isinstance(obj, Tensor):
            return {"T": self._member(where, obj, obj.data), "rg": bool(obj.requires_grad)}
        if isinstance(obj, np.ndarray):
            return {"A": self._member(where, obj, obj)}
        if isinstance(obj, np.generic):
            return {"g": self._member(where, obj, np.asarray(obj))}
        if isinstance(obj, Mapping):
            items = []
            for k, v in obj.items():
                if isinstance(k, bool) or not isinstance(k, (str, int)):
                    raise TypeError(f"save: {where} has a key {k!r} of type {type(k).__name__}; only str and int "
                                    "keys can be stored without pickling")
                items.append(["s" if isinstance(k, str) else "i", k, self.node(v, f"{where}[{k!r}]")])
            return {"d": items, **({"o": 1} if isinstance(obj, OrderedDict) else {})}
        if isinstance(obj, (list, tuple)):
            kids = [self.node(v, f"{where}[{i}]") for i, v in enumerate(obj)]
            return {"t": kids} if isinstance(obj, tuple) else {"l": kids}
        raise TypeError(f"save: {where} has type {type(obj).__name__}; only tensors, arrays, numbers, strings, None "
                        "and dicts/lists/tuples of them can be stored without pickling")


def _rebuild(node: Any, arrays: Mapping[str, np.ndarray], made: dict[str, Any]) -> Any:
    """The object that :class:`_TreeWriter` described (``made``: each member's object, built once)."""
    if not isinstance(node, dict) or len(node) == 0:
        raise ValueError(f"bad tree node {node!r}")
    if "v" in node:
        return node["v"]
    for tag in ("T", "A", "g"):
        if tag in node:
            name = node[tag]
            if name not in arrays:
                raise ValueError(f"the tree names a missing member {name!r}")
            key = f"{tag}{name}"
            if key not in made:
                arr = arrays[name]
                made[key] = (Tensor(arr, requires_grad=bool(node.get("rg", False))) if tag == "T"
                             else arr if tag == "A" else arr[()])
            return made[key]
    if "d" in node:
        out: dict[Any, Any] = OrderedDict() if node.get("o") else {}
        for kind, k, v in node["d"]:
            out[str(k) if kind == "s" else int(k)] = _rebuild(v, arrays, made)
        return out
    if "l" in node:
        return [_rebuild(v, arrays, made) for v in node["l"]]
    if "t" in node:
        return tuple(_rebuild(v, arrays, made) for v in node["t"])
    raise ValueError(f"bad tree node with keys {sorted(node)}")


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` to ``path`` as an uncompressed ``.npz``, atomically (temporary file, fsync, ``os.replace``).

    ``obj``: a flat ``{str: ndarray}`` mapping (one member per key), or any nesting of dicts (str or int keys),
    lists and tuples whose leaves are Tensors, arrays, NumPy scalars, bool/int/float/str/None (see the module
    docstring). :func:`load` gives it back.

    Example
    -------
    >>> import numpy as np, tempfile, os, cvprimer as cp
    >>> p = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> cp.save({"w": np.eye(2)}, p)
    >>> cp.load(p)["w"].shape
    (2, 2)
    >>> cp.save({"model": {"w": cp.ones(2)}, "epoch": 3, "lrs": [0.1, 0.01]}, p)
    >>> back = cp.load(p)
    >>> back["epoch"], back["lrs"], back["model"]["w"]
    (3, [0.1, 0.01], tensor([1., 1.]))
    """
    if _is_flat(obj):
        arrays = {k: _as_array(k, v) for k, v in obj.items()}
    else:
        if isinstance(obj, Mapping):  # the old layout's key rules still hold for a mapping's own keys
            for k in obj:
                if isinstance(k, str) and not k:
                    raise TypeError(f"save: keys must be non-empty strings or ints, got {k!r}")
        w = _TreeWriter()
        tree = w.node(obj, "obj")
        arrays = dict(w.arrays)
        arrays[TREE_MEMBER] = np.array(json.dumps(tree, allow_nan=True))
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


class WriteError(UserError, OSError):
    """A file that cannot be written (a full disk, a folder where the file should be, no permission): one line
    naming the file, ``cannot write 'PATH': REASON``. Both an ``OSError`` (with the original ``errno``, so code that
    handles OSError keeps doing so) and a :class:`~cvprimer.errors.UserError` (so the command line prints it as one
    line, exit status 2, wherever it comes from)."""

    def __init__(self, path: str, cause: OSError) -> None:
        reason = cause.strerror or str(cause) or type(cause).__name__
        OSError.__init__(self, cause.errno, f"cannot write {path!r}: {reason}")
        self.filename = path

    def __str__(self) -> str:
        return str(self.strerror)


def write_error(path: str | os.PathLike[str], cause: OSError) -> WriteError:
    """``cause`` as a :class:`WriteError` naming ``path`` (itself when it already is one)."""
    return cause if isinstance(cause, WriteError) else WriteError(os.fspath(path), cause)


def atomic_write(path: str | os.PathLike[str], data: str | bytes | Callable[[Any], None]) -> None:
    """Write ``data`` (text, bytes, or a function writing to a binary file) to ``path`` atomically.

    The bytes go to a temporary file in the destination directory, which is flushed, fsynced and
    ``os.replace``d over ``path``; the directory is then fsynced so the rename itself survives a
    crash. On any failure the temporary file is removed and an existing ``path`` is left intact; an
    ``OSError`` (a full disk, ``path`` a folder, a missing or read-only folder) is raised as a :class:`WriteError`
    naming ``path``, in one line. The file gets the permissions an ordinary ``open(path, "w")`` would give (0666
    less the umask), not the private 0600 of a temporary file. Every file cvprimer writes (checkpoints, reports,
    run summaries, plots) goes through here.
    """
    try:
        _atomic_write(os.fspath(path), data)
    except WriteError:
        raise
    except OSError as e:
        raise WriteError(os.fspath(path), e) from None


def _atomic_write(path: str, data: str | bytes | Callable[[Any], None]) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):  # os.replace would give EISDIR after the bytes were written: say it first
        raise IsADirectoryError(errno.EISDIR, "it is a folder, not a file")
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


def _check_location(target: Any) -> None:
    from cvprimer.core.device import check_device

    check_device("load: map_location", target)


def load(path: str | os.PathLike[str], map_location: Any = None, *, weights_only: bool | None = None) -> Any:
    """Read an ``.npz`` written by :func:`save` (no pickle): a flat ``{name: np.ndarray}`` dict, or the nested
    object that was saved (see the module docstring).

    ``map_location`` (PyTorch's; None, ``'cpu'``, a CPU ``device`` or a dict/callable mapping to the CPU) and
    ``weights_only`` are accepted so ``torch.load(path, map_location=device, weights_only=True)`` runs
    unchanged: everything loads on the CPU and nothing is ever unpickled, whatever ``weights_only`` says.
    A ``map_location`` naming another device is refused.

    Damaged or hostile files (empty, truncated, random bytes, a flipped byte, a member whose header claims
    more data than the file holds, object arrays) raise one ``ValueError`` naming the file and what is wrong;
    every member's header is checked against its stored size before any array is allocated, and the
    archive's CRCs are verified while reading.
    """
    if isinstance(map_location, Mapping):
        for target in map_location.values():
            _check_location(target)
    elif map_location is not None and not callable(map_location):
        _check_location(map_location)
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
        if TREE_MEMBER in out:
            tree = out.pop(TREE_MEMBER)
            if tree.shape != () or tree.dtype.kind != "U":
                raise ValueError(f"member {TREE_MEMBER!r} is {tree.dtype} of shape {tree.shape}, expected one "
                                 "JSON string")
            return _rebuild(json.loads(str(tree)), out, {})
        return out
    except MemoryError:
        raise ValueError(f"load: {path!r} cannot be read: not enough memory") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError, OverflowError,
            SyntaxError, UnicodeDecodeError, NotImplementedError, RuntimeError, RecursionError) as e:
        msg = " ".join(str(e).split()) or type(e).__name__
        raise ValueError(f"load: {path!r} cannot be read (damaged, or not written by cp.save): {msg}") from None
