r"""Worker processes for :class:`~cvprimer.data.DataLoader` (``num_workers > 0``).

Each worker owns an index queue; all share one result queue. Batch ``b`` of an epoch goes to worker
``b % num_workers`` as ``(epoch, b, indices, seed)``; the worker builds it with the loader's
:class:`BatchMaker` (the same code the main process runs when ``num_workers=0``, so the batches are
identical) and sends ``(epoch, b, ok, batch-or-error)`` back. The main process keeps at most
``prefetch_factor * num_workers`` batches in flight and yields them in order, holding early arrivals.

A worker's exception comes back as its type and traceback text and is raised again in the main process
("Caught ValueError in DataLoader worker process 1. Original Traceback ..."), as PyTorch does. Workers are
daemons; they are stopped (sentinel, join, then terminate) when the epoch ends, when the consumer breaks
off or drops the iterator, and at interpreter exit (``weakref.finalize``); a worker that dies is reported
rather than waited for. Everything passed to a worker is picklable, so the ``spawn`` start method works.

Inside a worker, :func:`get_worker_info` gives ``(id, num_workers, seed, dataset)``; the worker's Python,
NumPy-global and cvprimer default generators are seeded with ``seed = base_seed + id`` (``base_seed`` is
the epoch's seed drawn from the loader's generator), and ``worker_init_fn(id)`` runs after that.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import random
import time
import traceback
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from cvprimer.core.random import manual_seed


class WorkerInfo(NamedTuple):
    id: int
    num_workers: int
    seed: int
    dataset: Any


_WORKER_INFO: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker process: ``WorkerInfo(id, num_workers, seed, dataset)``; None elsewhere."""
    return _WORKER_INFO


class WorkerError:
    """A worker's exception, carried to the main process as its type (when picklable) and traceback text."""

    def __init__(self, exc: BaseException, worker_id: int) -> None:
        self.exc_type: type[BaseException] | str = type(exc)
        try:
            import pickle

            pickle.dumps(self.exc_type)
        except Exception:  # a class defined in a function: keep its name only
            self.exc_type = type(exc).__name__
        self.message = (f"Caught {type(exc).__name__} in DataLoader worker process {worker_id}.\n"
                        f"Original {traceback.format_exc()}")

    def reraise(self) -> None:
        if isinstance(self.exc_type, type):
            try:
                err = self.exc_type(self.message)
            except Exception:
                err = None
            if isinstance(err, BaseException):
                raise err
        raise RuntimeError(self.message)


def _worker_loop(maker: Callable[[int, np.ndarray, int], Any], index_q: Any, result_q: Any, worker_id: int,
                 num_workers: int, seed: int, worker_init_fn: Callable[[int], Any] | None) -> None:
    global _WORKER_INFO
    try:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        manual_seed(seed)
        _WORKER_INFO = WorkerInfo(worker_id, num_workers, seed, getattr(maker, "dataset", None))
        init_error = None
        if worker_init_fn is not None:
            try:
                worker_init_fn(worker_id)
            except Exception as exc:
                init_error = WorkerError(exc, worker_id)
        parent = mp.parent_process()
        while True:
            try:
                task = index_q.get(timeout=1.0)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    return
                continue
            if task is None:
                return
            epoch, b, idx, batch_seed = task
            if init_error is not None:
                result_q.put((epoch, b, False, init_error))
                continue
            try:
                result_q.put((epoch, b, True, maker(b, idx, batch_seed)))
            except Exception as exc:
                result_q.put((epoch, b, False, WorkerError(exc, worker_id)))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the main process reports it
        return


def _stop(procs: list[Any], index_qs: list[Any], result_q: Any) -> None:
    for q in index_qs:
        try:
            q.put(None)
        except Exception:  # a closed or broken queue: the worker is gone or will be terminated
            pass
    deadline = time.monotonic() + 2.0
    for p in procs:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.terminate()
            p.join(timeout=1.0)
    for q in [*index_qs, result_q]:
        q.cancel_join_thread()
        q.close()


class WorkerPool:
    """``num_workers`` processes running :func:`_worker_loop` over one :class:`BatchMaker`."""

    def __init__(self, maker: Any, num_workers: int, base_seed: int, worker_init_fn: Callable[[int], Any] | None,
                 context: Any, timeout: float) -> None:
        # a multiprocessing context (Any: the stub's BaseContext declares no Process)
        ctx: Any = mp.get_context(context) if isinstance(context, str) or context is None else context
        self.num_workers, self.timeout = num_workers, float(timeout)
        self.index_qs = [ctx.Queue() for _ in range(num_workers)]
        self.result_q = ctx.Queue()
        self.procs = [ctx.Process(target=_worker_loop, name=f"cvprimer-loader-{w}", daemon=True,
                                  args=(maker, self.index_qs[w], self.result_q, w, num_workers,
                                        (base_seed + w) % 2**63, worker_init_fn))
                      for w in range(num_workers)]
        for p in self.procs:
            p.start()
        self.epoch = 0
        self._finalizer = weakref.finalize(self, _stop, self.procs, self.index_qs, self.result_q)

    @property
    def alive(self) -> bool:
        return self._finalizer.alive

    def shutdown(self) -> None:
        self._finalizer()

    def _get(self) -> Any:
        start = time.monotonic()
        while True:
            try:
                return self.result_q.get(timeout=0.2)
            except queue.Empty:
                pass
            for p in self.procs:
                if p.exitcode is not None:
                    code = p.exitcode
                    self.shutdown()
                    raise RuntimeError(f"DataLoader worker (pid {p.pid}) exited unexpectedly with exit code "
                                       f"{code}; the batch it was building is lost")
            if self.timeout > 0 and time.monotonic() - start > self.timeout:
                self.shutdown()
                raise RuntimeError(f"DataLoader timed out after {self.timeout:g} seconds waiting for a batch "
                                   "from its workers (timeout=)")

    def run(self, batches: Sequence[np.ndarray], seed: int, prefetch_factor: int) -> Iterator[Any]:
        """Yield the built batches in order (batch ``b`` from worker ``b % num_workers``)."""
        self.epoch += 1
        epoch, n = self.epoch, len(batches)
        sent = 0

        def send() -> None:
            nonlocal sent
            self.index_qs[sent % self.num_workers].put((epoch, sent, batches[sent], seed))
            sent += 1

        while sent < min(n, prefetch_factor * self.num_workers):
            send()
        early: dict[int, tuple[bool, Any]] = {}
        for b in range(n):
            while b not in early:
                e, bb, ok, payload = self._get()
                if e == epoch:  # results of an abandoned earlier epoch (persistent workers) are dropped
                    early[bb] = (ok, payload)
            ok, payload = early.pop(b)
            if not ok:
                payload.reraise()
            if sent < n:
                send()
            yield payload
