r"""CIFAR-10 and CIFAR-100 in their *binary* distributions (never the pickled Python ones).

Record layout: CIFAR-10 ``<1 label byte><3072 pixel bytes>`` (3073 bytes); CIFAR-100
``<1 coarse label byte><1 fine label byte><3072 pixel bytes>`` (3074 bytes). The pixels are the red,
then green, then blue 32x32 planes in row-major order, so a record reshapes straight to (3, 32, 32).
A file whose size is not a whole number of records, or with a label out of range, is refused.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from cvprimer.data.datasets.base import ArrayDataset

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_PIXELS = 3 * 32 * 32


def _names_file(directory: str, filename: str, count: int) -> list[str] | None:
    path = os.path.join(directory, filename)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        names = [line.strip() for line in fh if line.strip()]
    return names if len(names) == count else None


def load_cifar_binary(paths: str | os.PathLike | Sequence[str | os.PathLike], *, variant: str = "cifar10",
                      label: str = "fine") -> ArrayDataset:
    r"""Read one or more CIFAR binary batch files into (N, 3, 32, 32) float32 in [0, 1] and int64 labels.

    Parameters
    ----------
    paths : one file or a list of files (e.g. ``data_batch_1.bin`` ... ``data_batch_5.bin``).
    variant : ``"cifar10"`` (3073-byte records, 10 classes) or ``"cifar100"`` (3074-byte records).
    label : for CIFAR-100, ``"fine"`` (100 classes) or ``"coarse"`` (20 superclasses).

    Class names: CIFAR-10's ten names; for CIFAR-100 the ``fine_label_names.txt`` /
    ``coarse_label_names.txt`` files of the binary distribution when they sit next to the first file,
    otherwise ``"0"`` .. ``"99"``.
    """
    if variant not in ("cifar10", "cifar100"):
        raise ValueError(f"load_cifar_binary: variant must be 'cifar10' or 'cifar100', got {variant!r}")
    if label not in ("fine", "coarse"):
        raise ValueError(f"load_cifar_binary: label must be 'fine' or 'coarse', got {label!r}")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not paths:
        raise ValueError("load_cifar_binary: expected at least one file")
    head = 1 if variant == "cifar10" else 2
    record = head + _PIXELS
    n_classes = 10 if variant == "cifar10" else (100 if label == "fine" else 20)
    images, labels = [], []
    for path in paths:
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % record:
            raise ValueError(f"load_cifar_binary: {os.fspath(path)!r} has {raw.size} bytes; expected a whole "
                             f"number of {record}-byte {variant} records (truncated or wrong variant?)")
        recs = raw.reshape(-1, record)
        col = 0 if variant == "cifar10" or label == "coarse" else 1
        lab = recs[:, col].astype(np.int64)
        if lab.max() >= n_classes:
            bad = int(np.argmax(lab >= n_classes))
            raise ValueError(f"load_cifar_binary: {os.fspath(path)!r} record {bad} has {label} label "
                             f"{lab[bad]}; expected 0..{n_classes - 1} for {variant}")
        images.append(recs[:, head:].reshape(-1, 3, 32, 32))
        labels.append(lab)
    x = np.concatenate(images).astype(np.float32) / np.float32(255.0)
    y = np.concatenate(labels)
    if variant == "cifar10":
        names: list[str] | None = list(CIFAR10_CLASSES)
    else:
        names = _names_file(os.path.dirname(os.fspath(paths[0])), f"{label}_label_names.txt", n_classes)
        if names is None:
            names = [str(i) for i in range(n_classes)]
    return ArrayDataset(x, y, names, variant)


def load_cifar_dir(root: str | os.PathLike, *, variant: str = "cifar10", train: bool = True,
                   label: str = "fine") -> ArrayDataset:
    """Load the train or test split from an extracted ``cifar-10-batches-bin`` / ``cifar-100-binary`` folder."""
    root = os.fspath(root)
    if variant == "cifar10":
        files = [f"data_batch_{i}.bin" for i in range(1, 6)] if train else ["test_batch.bin"]
    else:
        files = ["train.bin"] if train else ["test.bin"]
    paths = [os.path.join(root, f) for f in files]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise FileNotFoundError(f"load_cifar_dir: expected {files} in {root!r}; missing {missing}")
    return load_cifar_binary(paths, variant=variant, label=label)
