r"""The ``DataLoader``: batches of a dataset as Tensors, built in the consuming process, a background
thread or worker processes, identically in all three.

Determinism: every epoch draws, from the loader's generator and before any batch is built, (1) the
index order from the sampler and (2) one 64-bit seed; batch ``b``'s transform gets its own generator
``default_rng([seed, b])``. A batch is therefore a function of (indices, seed, b) alone, and the batches
are the same whether they are built when asked (``num_workers=0, prefetch=0``), ahead of time by a
thread (``prefetch=1`` or ``2``) or by worker processes (``num_workers > 0``, see
:mod:`cvprimer.data.workers`), whatever the timing.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from cvprimer.core.random import get_rng
from cvprimer.core.tensor import Tensor
from cvprimer.data.augment.base import Batch
from cvprimer.data.samplers import (  # noqa: F401 - the samplers' historical import path
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from cvprimer.data.workers import WorkerPool


def default_collate(samples: list[Any]) -> Any:
    r"""Stack a list of samples into one batch, field by field, as NumPy arrays (PyTorch's rules).

    Arrays and Tensors are stacked on a new axis 0; Python ints become int64 and floats float64 arrays;
    tuples/lists (equal lengths) and dicts are collated per field; strings stay a list. The loader turns the
    arrays into Tensors. Difference from PyTorch: a tuple sample gives a tuple (PyTorch gives a list).
    """
    if not samples:
        raise ValueError("default_collate: got an empty batch")
    e = samples[0]
    if isinstance(e, Tensor):
        return np.stack([s.data for s in samples])
    if isinstance(e, np.ndarray):
        return np.stack([np.asarray(s) for s in samples])
    if isinstance(e, (bool, np.bool_)):
        return np.asarray(samples, dtype=bool)
    if isinstance(e, (int, np.integer)):
        return np.asarray(samples, dtype=np.int64)
    if isinstance(e, (float, np.floating)):
        return np.asarray(samples, dtype=e.dtype if isinstance(e, np.floating) else np.float64)
    if isinstance(e, (str, bytes)):
        return list(samples)
    if isinstance(e, Mapping):
        return {k: default_collate([s[k] for s in samples]) for k in e}
    if isinstance(e, (tuple, list)):
        if any(len(s) != len(e) for s in samples):
            raise ValueError(f"default_collate: samples of different lengths in one batch "
                             f"({sorted({len(s) for s in samples})}); each sample must have the same fields")
        cols = [default_collate(list(c)) for c in zip(*samples, strict=True)]
        return type(e)(*cols) if hasattr(e, "_fields") else (tuple(cols) if isinstance(e, tuple) else cols)
    raise TypeError(f"default_collate: cannot batch samples of type {type(e).__name__}; expected arrays, "
                    "Tensors, numbers, strings, or tuples/lists/dicts of those (or pass collate_fn=)")


def to_tensors(batch: Any) -> Any:
    """NumPy arrays inside ``batch`` (nested tuples, lists, dicts) wrapped as Tensors (no copy)."""
    if isinstance(batch, np.ndarray):
        return Tensor(batch)
    if isinstance(batch, Mapping):
        return {k: to_tensors(v) for k, v in batch.items()}
    if isinstance(batch, tuple):
        vals = [to_tensors(v) for v in batch]
        return type(batch)(*vals) if hasattr(batch, "_fields") else tuple(vals)
    if isinstance(batch, list) and batch and not isinstance(batch[0], (str, bytes)):
        return [to_tensors(v) for v in batch]
    return batch


class BatchMaker:
    """Builds batch ``b`` from its indices: gather (one fancy index when the dataset allows it), collate,
    transform. Picklable, so worker processes run the very same code as the main process."""

    def __init__(self, dataset: Any, transform: Any, collate_fn: Callable[[list[Any]], Any] | None) -> None:
        self.dataset, self.transform, self.collate_fn = dataset, transform, collate_fn

    def _gather(self, idx: np.ndarray) -> Any:
        ds = self.dataset
        if isinstance(getattr(ds, "images", None), np.ndarray) and isinstance(getattr(ds, "labels", None),
                                                                               np.ndarray):
            return ds.images[idx], ds.labels[idx]
        if callable(getattr(ds, "gather", None)):
            return ds.gather(idx)
        return default_collate([ds[int(i)] for i in idx])

    def __call__(self, b: int, idx: np.ndarray, seed: int) -> Any:
        if self.collate_fn is not None:
            return self.collate_fn([self.dataset[int(i)] for i in idx])
        batch = self._gather(idx)
        if self.transform is None:
            return batch
        images, labels = batch
        out = self.transform(Batch(images=np.asarray(images), labels=np.asarray(labels)),
                             rng=np.random.default_rng([seed, b]))
        return (out.images, out.labels) if isinstance(out, Batch) else out


class DataLoader:
    r"""Iterate over a dataset in batches (PyTorch's arguments; batches of Tensors).

    Parameters
    ----------
    dataset : anything with ``__len__`` and ``__getitem__``; an object with ``images`` and ``labels`` arrays
        (e.g. :class:`ArrayDataset`) or a ``gather(indices)`` method is batched with one fancy index.
    batch_size, shuffle, drop_last : as in PyTorch.
    sampler : the epoch's order: ``indices(rng)`` (drawn from the loader's generator) or PyTorch's
        ``__iter__`` protocol; excludes ``shuffle``.
    batch_sampler : yields lists of indices, one per batch; excludes batch_size, shuffle, sampler, drop_last.
    num_workers : 0 builds batches in this process; ``k > 0`` starts ``k`` worker processes per epoch (or once,
        with ``persistent_workers=True``); the batches are identical either way.
    collate_fn : ``collate_fn(list of samples) -> batch``, yielded as it returns it; default
        :func:`default_collate` followed by wrapping every array as a Tensor.
    pin_memory : accepted for PyTorch compatibility; a no-op (CPU only).
    timeout : seconds to wait for one batch from the workers (0: forever).
    worker_init_fn : called as ``worker_init_fn(worker_id)`` in each worker after seeding.
    multiprocessing_context : a start method name ('fork', 'spawn', 'forkserver') or context; default the
        platform's.
    generator : ``np.random.Generator`` or int seed for the order and the transforms (``rng`` is the same thing
        under cvprimer's name); None uses the default generator.
    prefetch_factor : batches in flight per worker (default 2; only with workers).
    persistent_workers : keep the workers between epochs.
    transform : applied to each whole ``(images, labels)`` batch as ``transform(Batch(images, labels), rng=...)``;
        returns a :class:`Batch` (any augmentation, ``Compose``, mixup/cutmix with soft labels) or a tuple.
    prefetch : 0, 1 or 2 batches built ahead by a background thread (``num_workers=0`` only).

    Example
    -------
    >>> import numpy as np
    >>> from cvprimer.data import ArrayDataset, DataLoader
    >>> ds = ArrayDataset(np.zeros((10, 1, 4, 4), np.float32), np.arange(10) % 2)
    >>> [x.shape[0] for x, _ in DataLoader(ds, batch_size=4, shuffle=True, generator=0)]
    [4, 4, 2]
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None, sampler: Any = None,
                 batch_sampler: Any = None, num_workers: int = 0, collate_fn: Callable[[list[Any]], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], Any] | None = None, multiprocessing_context: Any = None,
                 generator: np.random.Generator | int | None = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "",
                 rng: np.random.Generator | int | None = None, transform: Any = None, prefetch: int = 0) -> None:
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: expected a dataset with __len__ and __getitem__, got "
                            f"{type(dataset).__name__}")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler is mutually exclusive with batch_size, shuffle, sampler "
                                 "and drop_last")
            batch_size = None
        elif not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive")
        if not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be an int >= 0, got {num_workers!r}")
        if prefetch not in (0, 1, 2):
            raise ValueError(f"DataLoader: prefetch must be 0, 1 or 2, got {prefetch!r}")
        if num_workers == 0 and (prefetch_factor is not None or persistent_workers):
            raise ValueError("DataLoader: prefetch_factor and persistent_workers need num_workers > 0")
        if num_workers > 0 and prefetch:
            raise ValueError("DataLoader: prefetch (a background thread) is for num_workers=0; with workers use "
                             "prefetch_factor")
        if prefetch_factor is not None and (not isinstance(prefetch_factor, int) or prefetch_factor < 1):
            raise ValueError(f"DataLoader: prefetch_factor must be a positive int, got {prefetch_factor!r}")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout must be >= 0, got {timeout!r}")
        if collate_fn is not None and transform is not None:
            raise ValueError("DataLoader: transform works on the default (images, labels) batches; with collate_fn, "
                             "apply it inside collate_fn")
        if rng is not None and generator is not None:
            raise ValueError("DataLoader: give generator or rng (the same thing), not both")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.drop_last = drop_last
        seed = rng if rng is not None else generator
        self.rng = get_rng(seed) if seed is not None else None
        self.generator = self.rng
        self.transform = transform
        self.collate_fn = collate_fn
        self.sampler = sampler if sampler is not None else (
            RandomSampler(len(dataset)) if shuffle else SequentialSampler(len(dataset)))
        self._custom_batches = batch_sampler is not None
        if batch_sampler is None:
            assert self.batch_size is not None  # a positive int (checked above) unless batch_sampler is given
            batch_sampler = BatchSampler(self.sampler, self.batch_size, bool(drop_last))
        self.batch_sampler = batch_sampler
        self.num_workers = int(num_workers)
        self.pin_memory = bool(pin_memory)  # no-op on CPU
        self.timeout = float(timeout)
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = (prefetch_factor or 2) if num_workers else None
        self.persistent_workers = bool(persistent_workers)
        self.prefetch = prefetch
        self._maker = BatchMaker(dataset, transform, collate_fn)
        self._pool: WorkerPool | None = None

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def _epoch(self) -> tuple[list[np.ndarray], int]:
        gen = self.rng if self.rng is not None else get_rng(None)
        if self._custom_batches:
            batches = [np.asarray(b, dtype=np.int64).reshape(-1) for b in self.batch_sampler]
        else:
            batches = self.batch_sampler.batches(gen)
        return batches, int(gen.integers(0, 2**63 - 1))

    def _finish(self, batch: Any) -> Any:
        return batch if self.collate_fn is not None else to_tensors(batch)

    def __iter__(self) -> Iterator[Any]:
        batches, seed = self._epoch()
        if self.num_workers > 0:
            yield from self._from_workers(batches, seed)
        elif self.prefetch == 0:
            for b, idx in enumerate(batches):
                yield self._finish(self._maker(b, idx, seed))
        else:
            yield from self._prefetched(batches, seed)

    def _from_workers(self, batches: list[np.ndarray], seed: int) -> Iterator[Any]:
        pool = self._pool if self._pool is not None and self._pool.alive else None
        if pool is None:
            pool = WorkerPool(self._maker, self.num_workers, seed, self.worker_init_fn, self.multiprocessing_context,
                              self.timeout)
            if self.persistent_workers:
                self._pool = pool
        clean = False
        try:
            for batch in pool.run(batches, seed, int(self.prefetch_factor or 2)):
                yield self._finish(batch)
            clean = True
        finally:  # the end of the epoch, an error, a break or the iterator's collection
            if not (self.persistent_workers and clean):
                pool.shutdown()
                self._pool = None

    def shutdown_workers(self) -> None:
        """Stop persistent workers now (they also stop when the loader is collected or at exit)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _prefetched(self, batches: list[np.ndarray], seed: int) -> Iterator[Any]:
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
                for b, idx in enumerate(batches):
                    if not put(("ok", self._maker(b, idx, seed))):
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
                yield self._finish(item)
        finally:
            cancelled.set()
            worker.join(timeout=5.0)
