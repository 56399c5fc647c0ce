r"""The engine's worker pool: batch-parallel execution of heavy kernels on a small thread pool.

NumPy releases the GIL inside matmul and its copy/ufunc loops, so Python threads can run the
per-image work of a conv side by side. We split the batch into one contiguous chunk per worker
and run the whole lowering (copies, GEMMs, accumulations, crop) per chunk, with the BLAS itself
held to one thread meanwhile (through ``threadpoolctl``, when installed): measured on a shared
2-core machine, multi-threaded OpenBLAS on tall, thin GEMMs can stall for a scheduler time slice
per call when the other core is busy, while single-threaded BLAS in our own workers degrades
gracefully. Without ``threadpoolctl`` everything runs in the calling thread.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from cvprimer.core.settings import Settings, current, settings, use

# the number of workers and the smallest chunk worth a split are settings.threads and
# settings.min_chunk_elements (cvprimer.core.settings); a benchmark that pins BLAS and PyTorch to
# n threads sets settings.threads to n too

_CTL: Any = None


def workers() -> int:
    if settings.threads is not None:
        return max(1, settings.threads)
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 4))


def _controller() -> Any:
    global _CTL
    if _CTL is None:
        try:
            from threadpoolctl import ThreadpoolController

            _CTL = ThreadpoolController()
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            _CTL = False
    return _CTL


_LOCK = threading.Lock()
_DEPTH = 0
_SAVED: list[tuple[Any, int]] = []


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Hold the BLAS to one thread; re-entrant across threads (the first caller sets the limit,
    the last one restores the original, so concurrent convs cannot leave it stuck at 1). The BLAS
    libraries' own ``set_num_threads`` is called directly (threadpoolctl's ``limit()`` re-reads
    every library's state on each call: ~150 us, per op)."""
    global _DEPTH
    ctl = _controller()
    if not ctl:  # pragma: no cover
        yield
        return
    with _LOCK:
        if _DEPTH == 0:
            _SAVED[:] = [(lib, lib.num_threads) for lib in ctl.lib_controllers if lib.user_api == "blas"]
            for lib, n in _SAVED:
                if n != 1:
                    lib.set_num_threads(1)
        _DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0:
                for lib, n in _SAVED:
                    if n != 1:
                        lib.set_num_threads(n)
                _SAVED.clear()


class _Latch:
    """Counts the spans given to the pool; ``wait`` returns once the last one is done (a lock held
    from the start and released by the last worker: the waiter blocks in C, no condition variable)."""

    __slots__ = ("left", "count_lock", "done")

    def __init__(self, n: int) -> None:
        self.left = n
        self.count_lock = threading.Lock()
        self.done = threading.Lock()
        self.done.acquire()

    def count_down(self) -> None:
        with self.count_lock:
            self.left -= 1
            last = self.left == 0
        if last:
            self.done.release()

    def wait(self) -> None:
        self.done.acquire()


class _Pool:
    """``n - 1`` daemon threads that take spans from a queue; the calling thread runs the first span
    itself and then waits for the rest."""

    def __init__(self, n: int) -> None:
        self.size = n
        self.tasks: queue.SimpleQueue[tuple[Callable[[int, int], Any], int, int, list[Any], int, _Latch,
                                            Settings]] = queue.SimpleQueue()
        for i in range(n - 1):
            threading.Thread(target=self._loop, daemon=True, name=f"cvprimer-{i}").start()

    def _loop(self) -> None:
        _IN_WORKER.active = True
        while True:
            fn, a, b, out, i, latch, snap = self.tasks.get()
            try:
                with use(snap):  # the caller's settings: overrides are context-local, a worker has its own
                    out[i] = (True, fn(a, b))
            except BaseException as e:  # handed to the caller, raised there
                out[i] = (False, e)
            latch.count_down()

    def map(self, fn: Callable[[int, int], Any], spans: list[tuple[int, int]]) -> list[Any]:
        out: list[Any] = [None] * len(spans)
        latch = _Latch(len(spans) - 1)
        snap = current()
        for i in range(1, len(spans)):
            self.tasks.put((fn, spans[i][0], spans[i][1], out, i, latch, snap))
        try:
            first = fn(*spans[0])
        finally:
            latch.wait()  # never leave while a worker still writes into the caller's arrays
        results = [first]
        for ok, value in out[1:]:
            if not ok:
                raise value
            results.append(value)
        return results


_POOL: _Pool | None = None
_IN_WORKER = threading.local()  # set in the pool's threads: a pool_map from there runs its spans in place


def pool_map(fn: Callable[[int, int], Any], spans: list[tuple[int, int]], blas_single: bool = True) -> list[Any]:
    """``[fn(a, b) for (a, b) in spans]``, on the pool when there are several spans (the first runs in
    the calling thread; called from inside a span, the spans run in place, so nesting cannot wait on
    itself). An exception in any span is raised here, after every span has finished."""
    global _POOL
    if len(spans) <= 1 or workers() == 1 or getattr(_IN_WORKER, "active", False):
        return [fn(a, b) for a, b in spans]
    with _LOCK:
        if _POOL is None or _POOL.size < workers():
            _POOL = _Pool(workers())
        pool = _POOL
    ctx = _single_threaded_blas() if blas_single else contextlib.nullcontext()
    with ctx:
        return pool.map(fn, spans)


def batch_spans(n: int, per_item: int) -> list[tuple[int, int]]:
    """Split range(n) into one contiguous chunk per worker (a single span when splitting is not
    possible: no threadpoolctl to hold the BLAS to one thread, one worker, or tiny chunks)."""
    k = min(workers(), n, max(1, (n * per_item) // max(1, settings.min_chunk_elements)))
    if k <= 1 or not _controller():
        return [(0, n)]
    bounds = [round(i * n / k) for i in range(k + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(k)]
