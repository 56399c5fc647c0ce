r"""MNIST / Fashion-MNIST / EMNIST IDX files (plain or gzip), read and validated without trusting them.

Format (LeCun's): bytes 0-1 are zero; byte 2 is the dtype code (0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64); byte 3 is the number of dimensions ``d``; then ``d`` big-endian
uint32 sizes; then ``prod(sizes)`` big-endian values. Images files have ``d = 3`` (N, rows, cols),
label files ``d = 1``. Every field is checked, and a file whose payload is shorter or longer than its
header announces is refused with an error naming the file and the byte counts.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Sequence

import numpy as np

from cvprimer.core.serialization import atomic_write
from cvprimer.data.datasets.base import ArrayDataset

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
_CODES = {v.newbyteorder("=") if v.itemsize > 1 else v: k for k, v in IDX_DTYPES.items()}


def _read_bytes(path: str | os.PathLike) -> bytes:
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise ValueError(f"read_idx: {os.fspath(path)!r} is a corrupt or truncated gzip file ({exc})") from exc
    return raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (plain or gzip) into a native-endian ndarray, validating every header field."""
    name = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"read_idx: {name!r} has {len(raw)} bytes; expected at least the 4-byte magic number")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"read_idx: {name!r} starts with bytes {raw[0]:#04x} {raw[1]:#04x}; an IDX magic "
                         f"number starts with two zero bytes")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        raise ValueError(f"read_idx: {name!r} has dtype code {code:#04x}; expected one of "
                         f"{[hex(c) for c in IDX_DTYPES]}")
    if ndim == 0:
        raise ValueError(f"read_idx: {name!r} declares 0 dimensions; expected at least 1")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {name!r} is truncated inside its header: {len(raw)} bytes, expected "
                         f"{header} for {ndim} dimension sizes")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    payload = len(raw) - header
    if payload != expected:
        kind = "truncated" if payload < expected else "longer than its header says"
        raise ValueError(f"read_idx: {name!r} is {kind}: header says shape {dims} of {dtype.name} "
                         f"({expected} data bytes), file holds {payload}")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzip if ``compress`` or the name ends with ``.gz``)."""
    arr = np.asarray(array)
    key = arr.dtype.newbyteorder("=") if arr.dtype.itemsize > 1 else arr.dtype
    if key not in _CODES:
        raise TypeError(f"write_idx: dtype {arr.dtype} has no IDX code; expected one of "
                        f"uint8, int8, int16, int32, float32, float64")
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"write_idx: expected an array of 1..255 dimensions, got shape {arr.shape}")
    code = _CODES[key]
    body = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    body += np.ascontiguousarray(arr, dtype=IDX_DTYPES[code]).tobytes()
    if compress is None:
        compress = os.fspath(path).endswith(".gz")
    atomic_write(path, gzip.compress(body) if compress else body)


def load_idx_dataset(images_path: str | os.PathLike, labels_path: str | os.PathLike, *,
                     transpose: bool = False, class_names: Sequence[str] | None = None,
                     name: str = "") -> ArrayDataset:
    r"""Load an MNIST-style pair of IDX files as (N, 1, rows, cols) float32 in [0, 1] and int64 labels.

    Parameters
    ----------
    images_path, labels_path : the ``*-images-idx3-ubyte[.gz]`` and ``*-labels-idx1-ubyte[.gz]`` files.
    transpose : EMNIST stores every image transposed; ``transpose=True`` swaps rows and columns back.
    class_names : optional names; default ``"0"``, ``"1"``, ... up to the largest label.

    Raises ``ValueError`` when the image file is not 3-D uint8, the label file is not 1-D, or the two
    counts differ.
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"load_idx_dataset: {os.fspath(images_path)!r} holds shape {images.shape} of "
                         f"{images.dtype}; expected a 3-D uint8 image file (N, rows, cols)")
    if labels.ndim != 1:
        raise ValueError(f"load_idx_dataset: {os.fspath(labels_path)!r} holds shape {labels.shape}; expected a "
                         f"1-D label file")
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"load_idx_dataset: {images.shape[0]} images in {os.fspath(images_path)!r} but "
                         f"{labels.shape[0]} labels in {os.fspath(labels_path)!r}; expected equal counts")
    if labels.dtype.kind == "f" and not (np.isfinite(labels).all() and np.array_equal(labels, np.round(labels))):
        bad = labels[~(np.isfinite(labels) & (labels == np.round(labels)))][:3]
        raise ValueError(f"load_idx_dataset: {os.fspath(labels_path)!r} holds {labels.dtype} labels that are not "
                         f"whole numbers (e.g. {bad.tolist()}); expected integer class labels")
    if labels.size and labels.min() < 0:
        raise ValueError(f"load_idx_dataset: {os.fspath(labels_path)!r} holds negative labels (min "
                         f"{labels.min()}); expected class labels 0, 1, ...")
    if transpose:
        images = images.transpose(0, 2, 1)
    x = np.ascontiguousarray(images[:, None], dtype=np.float32) / np.float32(255.0)
    y = labels.astype(np.int64)
    if class_names is None:
        class_names = [str(i) for i in range(int(y.max()) + 1 if y.size else 0)]
    return ArrayDataset(x, y, class_names, name)


FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot")
