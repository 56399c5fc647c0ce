r"""The dataset protocol, an in-memory array dataset, and the input checks every data function shares.

Conventions of the whole ``cvprimer.data`` package: images are NCHW floating arrays (float32 unless
asked otherwise), labels are int64 class indices of shape ``(N,)``. Everything is NumPy; nothing here
imports from ``cvprimer.nn`` or ``cvprimer.optim``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Dataset(Protocol):
    """Anything with a length and ``dataset[i] -> (image, label)`` is a dataset."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[Any, Any]: ...


def check_images(images: Any, name: str, *, rank: int = 4, floating: bool = True) -> np.ndarray:
    """Return ``images`` as an ndarray after checking rank and dtype; raise naming ``name`` otherwise."""
    if not isinstance(images, np.ndarray):
        raise TypeError(f"{name}: expected images as a numpy.ndarray of shape (N, C, H, W), "
                        f"got {type(images).__name__}")
    if images.ndim != rank:
        raise ValueError(f"{name}: expected images of rank {rank} (N, C, H, W), got shape {images.shape}")
    if floating and not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"{name}: expected a floating image array (float32/float64 in [0, 1]), "
                        f"got dtype {images.dtype}; convert with images.astype(np.float32) / 255")
    return images


def check_labels(labels: Any, n: int | None, name: str) -> np.ndarray:
    """Return ``labels`` as an int64 ``(N,)`` array; raise naming ``name`` if that is impossible."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected labels of shape (N,), got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(arr == np.round(arr)):
            raise TypeError(f"{name}: expected integer class labels, got dtype {arr.dtype}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name}: got {n} samples but {arr.shape[0]} labels; expected one label per sample")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name}: expected labels >= 0, got minimum {arr.min()}")
    return arr.astype(np.int64, copy=False)


class ArrayDataset:
    """A dataset held in memory: ``images`` (N, ...) and ``labels`` (N,), plus optional class names.

    Indexing with an int returns ``(image, label)``; indexing with an integer array (or slice) returns
    the batch ``(images[idx], labels[idx])``, which is what :class:`~cvprimer.data.DataLoader` uses so
    that batches are gathered with one fancy index instead of a Python loop.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray | Sequence[int],
                 class_names: Sequence[str] | None = None, name: str = "") -> None:
        if not isinstance(images, np.ndarray) or images.ndim < 1:
            raise TypeError(f"ArrayDataset: expected images as an ndarray with a leading sample axis, "
                            f"got {type(images).__name__}")
        self.images = images
        self.labels = check_labels(labels, images.shape[0], "ArrayDataset")
        self.class_names = list(class_names) if class_names is not None else None
        if self.class_names is not None and self.labels.size and self.labels.max() >= len(self.class_names):
            raise ValueError(f"ArrayDataset: label {self.labels.max()} has no name among "
                             f"{len(self.class_names)} class names")
        self.name = name

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: Any) -> tuple[Any, Any]:
        return self.images[index], self.labels[index]

    @property
    def num_classes(self) -> int:
        if self.class_names is not None:
            return len(self.class_names)
        return int(self.labels.max()) + 1 if self.labels.size else 0

    def __repr__(self) -> str:
        return (f"ArrayDataset(name={self.name!r}, images={self.images.shape} {self.images.dtype}, "
                f"classes={self.num_classes})")
