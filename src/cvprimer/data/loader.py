r"""Samplers and the ``DataLoader``: batches of (images, labels) as NumPy arrays, optionally prefetched.

Determinism: every epoch draws, from the loader's generator and before any batch is built, (1) the
index order from the sampler and (2) one 64-bit seed; batch ``b``'s transform gets its own generator
``default_rng([seed, b])``. The batches are therefore identical whether they are prepared in the
consuming thread (``prefetch=0``) or ahead of time by a background thread (``prefetch=1`` or ``2``
batches in flight), and whatever the timing.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

from cvprimer.core.random import get_rng
from cvprimer.data.augment.base import Batch


class Sampler(Protocol):
    def __len__(self) -> int: ...

    def indices(self, rng: np.random.Generator) -> np.ndarray: ...


class SequentialSampler:
    """0, 1, ..., n-1 every epoch."""

    def __init__(self, n: int) -> None:
        self.n = int(n)

    def __len__(self) -> int:
        return self.n

    def indices(self, rng: np.random.Generator) -> np.ndarray:
        return np.arange(self.n, dtype=np.int64)


class RandomSampler:
    """A fresh permutation every epoch: each index exactly once per epoch."""

    def __init__(self, n: int) -> None:
        self.n = int(n)

    def __len__(self) -> int:
        return self.n

    def indices(self, rng: np.random.Generator) -> np.ndarray:
        return rng.permutation(self.n).astype(np.int64)


class WeightedRandomSampler:
    """``num_samples`` indices drawn with probability proportional to ``weights`` (as PyTorch's)."""

    def __init__(self, weights: np.ndarray, num_samples: int, replacement: bool = True) -> None:
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

    def __len__(self) -> int:
        return self.num_samples

    def indices(self, rng: np.random.Generator) -> np.ndarray:
        return rng.choice(self.p.size, size=self.num_samples, replace=self.replacement, p=self.p).astype(np.int64)


class DataLoader:
    r"""Iterate over a dataset in batches ``(images, labels)`` of NumPy arrays.

    Parameters
    ----------
    dataset : anything with ``__len__`` and ``__getitem__ -> (image, label)``; an object with ``images``
        and ``labels`` arrays (e.g. :class:`ArrayDataset`) is gathered with one fancy index per batch.
    batch_size, shuffle, drop_last : as in PyTorch.
    rng : generator (or int seed) for shuffling and the transform; None uses the default generator.
    transform : applied to each whole batch as ``transform(Batch(images, labels), rng=...)``; it returns
        a :class:`Batch` (any augmentation, ``Compose``, mixup/cutmix with soft labels) or a tuple.
    sampler : an object with ``indices(rng) -> index array`` and ``__len__`` (excludes ``shuffle``).
    prefetch : 0 (build batches when asked), 1 or 2 (a background thread keeps that many ready).

    Example
    -------
    >>> import numpy as np
    >>> from cvprimer.data import ArrayDataset, DataLoader
    >>> ds = ArrayDataset(np.zeros((10, 1, 4, 4), np.float32), np.arange(10) % 2)
    >>> [x.shape[0] for x, _ in DataLoader(ds, batch_size=4, shuffle=True, rng=0)]
    [4, 4, 2]
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 rng: np.random.Generator | int | None = None, transform: Any = None, sampler: Any = None,
                 prefetch: int = 0) -> None:
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: expected a dataset with __len__ and __getitem__, got "
                            f"{type(dataset).__name__}")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if prefetch not in (0, 1, 2):
            raise ValueError(f"DataLoader: prefetch must be 0, 1 or 2, got {prefetch!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.drop_last = drop_last
        self.rng = get_rng(rng) if rng is not None else None
        self.transform = transform
        self.sampler = sampler if sampler is not None else (
            RandomSampler(len(dataset)) if shuffle else SequentialSampler(len(dataset)))
        self.prefetch = prefetch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _gather(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ds = self.dataset
        if isinstance(getattr(ds, "images", None), np.ndarray) and isinstance(getattr(ds, "labels", None),
                                                                               np.ndarray):
            return ds.images[idx], ds.labels[idx]
        items = [ds[int(i)] for i in idx]
        return np.stack([np.asarray(a) for a, _ in items]), np.asarray([b for _, b in items])

    def _make(self, b: int, idx: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        images, labels = self._gather(idx)
        if self.transform is None:
            return images, labels
        out = self.transform(Batch(images=images, labels=labels), rng=np.random.default_rng([seed, b]))
        if isinstance(out, Batch):
            return out.images, out.labels
        return out

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        gen = self.rng if self.rng is not None else get_rng(None)
        order = np.asarray(self.sampler.indices(gen), dtype=np.int64)
        seed = int(gen.integers(0, 2**63 - 1))
        stop = order.size - order.size % self.batch_size if self.drop_last else order.size
        chunks = [order[s:s + self.batch_size] for s in range(0, stop, self.batch_size)]
        if self.prefetch == 0:
            for b, idx in enumerate(chunks):
                yield self._make(b, idx, seed)
            return
        yield from self._prefetched(chunks, seed)

    def _prefetched(self, chunks: list[np.ndarray], seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        cancelled = threading.Event()
        done = object()

        def put(item: Any) -> bool:
            while not cancelled.is_set():
                try:
                    q.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            try:
                for b, idx in enumerate(chunks):
                    if not put(("ok", self._make(b, idx, seed))):
                        return
                put(("ok", done))
            except BaseException as exc:  # re-raised in the consuming thread
                put(("error", exc))

        worker = threading.Thread(target=produce, name="cvprimer-prefetch", daemon=True)
        worker.start()
        try:
            while True:
                kind, item = q.get()
                if kind == "error":
                    raise item
                if item is done:
                    return
                yield item
        finally:
            cancelled.set()
            worker.join(timeout=5.0)
