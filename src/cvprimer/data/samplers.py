r"""Samplers (``torch.utils.data``'s names): which dataset indices an epoch visits, in which order.

Two protocols, both understood by :class:`~cvprimer.data.DataLoader`:

* ``indices(rng) -> int64 array`` and ``__len__``: the epoch's whole order drawn from the *loader's*
  generator, so a loader's seed fixes every epoch (the samplers here, ``ClassBalancedSampler``,
  ``DistributedSampler``);
* PyTorch's: ``__iter__`` yielding indices and ``__len__``; the samplers here iterate that way too,
  drawing from their own ``generator`` (or the default one).

:class:`BatchSampler` groups a sampler's indices into batches (the loader's ``batch_sampler=``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import Any, Protocol

import numpy as np

from cvprimer.core.random import get_rng


class Sampler(Protocol):
    def __len__(self) -> int: ...

    def indices(self, rng: np.random.Generator) -> np.ndarray: ...


def _size(name: str, data_source: Sized | int) -> int:
    if isinstance(data_source, (int, np.integer)):
        n = int(data_source)
    elif hasattr(data_source, "__len__"):
        n = len(data_source)
    else:
        raise TypeError(f"{name}: expected a dataset (with __len__) or a length, got {type(data_source).__name__}")
    if n < 0:
        raise ValueError(f"{name}: the length must be >= 0, got {n}")
    return n


class _Base:
    generator: Any = None

    def indices(self, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def __iter__(self) -> Iterator[int]:
        rng = self.generator if self.generator is not None else get_rng(None)
        return iter(self.indices(rng).tolist())


class SequentialSampler(_Base):
    """0, 1, ..., n-1 every epoch. ``data_source``: a dataset or its length."""

    def __init__(self, data_source: Sized | int) -> None:
        self.n = _size("SequentialSampler", data_source)

    def __len__(self) -> int:
        return self.n

    def indices(self, rng: np.random.Generator) -> np.ndarray:
        return np.arange(self.n, dtype=np.int64)


class RandomSampler(_Base):
    """A fresh permutation every epoch (each index once), or with ``replacement=True`` ``num_samples``
    uniform draws. ``data_source``: a dataset or its length; ``generator``: for ``iter(sampler)``."""

    def __init__(self, data_source: Sized | int, replacement: bool = False, num_samples: int | None = None,
                 generator: np.random.Generator | int | None = None) -> None:
        self.n = _size("RandomSampler", data_source)
        if num_samples is not None and (not isinstance(num_samples, (int, np.integer)) or num_samples < 1):
            raise ValueError(f"RandomSampler: num_samples must be a positive int, got {num_samples!r}")
        self.replacement = bool(replacement)
        self.num_samples = int(num_samples) if num_samples is not None else self.n
        self.generator = get_rng(generator) if generator is not None else None

    def __len__(self) -> int:
        return self.num_samples

    def indices(self, rng: np.random.Generator) -> np.ndarray:
        if self.replacement:
            return rng.integers(0, self.n, size=self.num_samples).astype(np.int64)
        reps = -(-self.num_samples // max(self.n, 1))  # PyTorch: whole permutations, then the remainder
        perm = np.concatenate([rng.permutation(self.n) for _ in range(reps)]) if self.n else np.zeros(0)
        return perm[: self.num_samples].astype(np.int64)


class SubsetRandomSampler(_Base):
    """The given indices in a fresh random order every epoch."""

    def __init__(self, indices: Any, generator: np.random.Generator | int | None = None) -> None:
        self.idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.generator = get_rng(generator) if generator is not None else None

    def __len__(self) -> int:
        return int(self.idx.size)

    def indices(self, rng: np.random.Generator) -> np.ndarray:
        return self.idx[rng.permutation(self.idx.size)]


class WeightedRandomSampler(_Base):
    """``num_samples`` indices drawn with probability proportional to ``weights`` (as PyTorch's)."""

    def __init__(self, weights: Any, num_samples: int, replacement: bool = True,
                 generator: np.random.Generator | int | None = None) -> None:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or w.size == 0 or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError(f"WeightedRandomSampler: expected a 1-D array of non-negative finite weights with a "
                             f"positive sum, got shape {w.shape}")
        if num_samples < 1 or (not replacement and num_samples > np.count_nonzero(w)):
            raise ValueError(f"WeightedRandomSampler: cannot draw {num_samples} samples from "
                             f"{np.count_nonzero(w)} non-zero weights (replacement={replacement})")
        self.p = w / w.sum()
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = get_rng(generator) if generator is not None else None

    def __len__(self) -> int:
        return self.num_samples

    def indices(self, rng: np.random.Generator) -> np.ndarray:
        return rng.choice(self.p.size, size=self.num_samples, replace=self.replacement, p=self.p).astype(np.int64)


def sampler_order(sampler: Any, rng: np.random.Generator) -> np.ndarray:
    """One epoch of ``sampler`` as an int64 array: from ``indices(rng)`` when it has one, else by iterating."""
    if hasattr(sampler, "indices") and callable(sampler.indices):
        out = np.asarray(sampler.indices(rng), dtype=np.int64)
    elif hasattr(sampler, "__iter__"):
        out = np.fromiter((int(i) for i in sampler), dtype=np.int64)
    else:
        raise TypeError(f"sampler: expected indices(rng) or __iter__, got {type(sampler).__name__}")
    return out.reshape(-1)


class BatchSampler:
    """Group a sampler's indices into lists of ``batch_size`` (the last one shorter unless ``drop_last``).

    Example
    -------
    >>> list(BatchSampler(SequentialSampler(5), batch_size=2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler: Any, batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"BatchSampler: batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last must be a bool, got {drop_last!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), drop_last

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def batches(self, rng: np.random.Generator) -> list[np.ndarray]:
        """One epoch of batches, the order drawn from ``rng`` (see :func:`sampler_order`)."""
        order = sampler_order(self.sampler, rng)
        stop = order.size - order.size % self.batch_size if self.drop_last else order.size
        return [order[s:s + self.batch_size] for s in range(0, stop, self.batch_size)]

    def __iter__(self) -> Iterator[list[int]]:
        gen = getattr(self.sampler, "generator", None)
        for b in self.batches(gen if gen is not None else get_rng(None)):
            yield b.tolist()
