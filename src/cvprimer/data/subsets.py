r"""Dataset combinators with ``torch.utils.data``'s names: :class:`TensorDataset`, :class:`Subset`,
:class:`ConcatDataset` and :func:`random_split`.

Each has ``gather(indices)``, so :class:`~cvprimer.data.DataLoader` builds a batch with one fancy index
per array where the underlying data allows it, instead of one ``__getitem__`` per sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from cvprimer.core.random import get_rng
from cvprimer.core.tensor import Tensor


def _gather_from(dataset: Any, idx: np.ndarray) -> Any:
    if isinstance(getattr(dataset, "images", None), np.ndarray) and isinstance(getattr(dataset, "labels", None),
                                                                                np.ndarray):
        return dataset.images[idx], dataset.labels[idx]
    if callable(getattr(dataset, "gather", None)):
        return dataset.gather(idx)
    from cvprimer.data.loader import default_collate

    return default_collate([dataset[int(i)] for i in idx])


class TensorDataset:
    """Samples are the ``i``-th rows of each array/Tensor: ``ds[i] == (a[i], b[i], ...)``; all share
    the leading size N."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one array or Tensor")
        arrays = [t.data if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
        sizes = [a.shape[0] if a.ndim else None for a in arrays]
        if None in sizes or len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: all arrays need the same leading size, got shapes "
                             f"{[a.shape for a in arrays]}")
        self.tensors = tuple(arrays)

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])

    def __getitem__(self, index: Any) -> tuple[Any, ...]:
        return tuple(a[index] for a in self.tensors)

    def gather(self, idx: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(a[idx] for a in self.tensors)


class Subset:
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int] | np.ndarray) -> None:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"Subset: indices must lie in [-{n}, {n}) for a dataset of {n} samples, got "
                             f"[{idx.min()}, {idx.max()}]")
        self.dataset, self.indices = dataset, idx

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, (list, np.ndarray)):
            return _gather_from(self.dataset, self.indices[np.asarray(i, dtype=np.int64)])
        return self.dataset[int(self.indices[i])]

    def gather(self, idx: np.ndarray) -> Any:
        return _gather_from(self.dataset, self.indices[idx])


class ConcatDataset:
    """Datasets one after another: indices ``0..len(a)-1`` are ``a``'s, the next ``len(b)`` are ``b``'s, ..."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: expected at least one dataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, i: int) -> Any:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"ConcatDataset: index {i} out of range for {n} samples")
        i = i % n
        d = int(np.searchsorted(self.cumulative_sizes, i, side="right"))
        return self.datasets[d][i - (self.cumulative_sizes[d - 1] if d else 0)]


def random_split(dataset: Any, lengths: Sequence[int | float],
                 generator: np.random.Generator | int | None = None) -> list[Subset]:
    r"""Split ``dataset`` into non-overlapping random :class:`Subset`\ s of the given ``lengths``.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1: then each part gets
    ``floor(n * f)`` samples and the remainder is handed out one at a time, round-robin from the first
    part (PyTorch's rule). The permutation comes from ``generator`` (a Generator or int seed); the parts'
    sizes match PyTorch's, the indices in them cannot (a different random stream).
    """
    n = len(dataset)
    ls = list(lengths)
    if not ls:
        raise ValueError("random_split: expected at least one length")
    if all(isinstance(x, (int, np.integer)) for x in ls):
        sizes = [int(x) for x in ls]
    elif math.isclose(sum(ls), 1.0) and all(0 <= x <= 1 for x in ls):
        sizes = [int(math.floor(n * f)) for f in ls]
        for k in range(n - sum(sizes)):
            sizes[k % len(sizes)] += 1
    else:
        raise ValueError(f"random_split: lengths must be counts summing to {n} or fractions summing to 1, got {ls}")
    if any(s < 0 for s in sizes) or sum(sizes) != n:
        raise ValueError(f"random_split: the lengths {sizes} must be >= 0 and sum to the dataset's {n} samples")
    perm = get_rng(generator).permutation(n)
    out, at = [], 0
    for s in sizes:
        out.append(Subset(dataset, perm[at:at + s]))
        at += s
    return out
