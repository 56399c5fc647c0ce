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
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cvprimer.core.settings import settings

# the number of workers and the smallest chunk worth a split are settings.threads and
# settings.min_chunk_elements (cvprimer.core.settings); a benchmark that pins BLAS and PyTorch to
# n threads sets settings.threads to n too

_POOL: ThreadPoolExecutor | None = None
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
_LIMITER: Any = None


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Hold the BLAS to one thread; re-entrant across threads (the first caller sets the limit,
    the last one restores the original, so concurrent convs cannot leave it stuck at 1)."""
    global _DEPTH, _LIMITER
    ctl = _controller()
    if not ctl:  # pragma: no cover
        yield
        return
    with _LOCK:
        if _DEPTH == 0:
            _LIMITER = ctl.limit(limits=1, user_api="blas")
        _DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0:
                _LIMITER.restore_original_limits()
                _LIMITER = None


def pool_map(fn: Callable[[int, int], Any], spans: list[tuple[int, int]], blas_single: bool = True) -> list[Any]:
    """``[fn(a, b) for (a, b) in spans]``, on the pool when there are several spans."""
    global _POOL
    if len(spans) == 1 or workers() == 1:
        return [fn(a, b) for a, b in spans]
    if _POOL is None or _POOL._max_workers != workers():
        _POOL = ThreadPoolExecutor(workers(), thread_name_prefix="cvprimer")
    ctx = _single_threaded_blas() if blas_single else contextlib.nullcontext()
    with ctx:
        return list(_POOL.map(lambda ab: fn(*ab), spans))


def batch_spans(n: int, per_item: int) -> list[tuple[int, int]]:
    """Split range(n) into one contiguous chunk per worker (a single span when splitting is not
    possible: no threadpoolctl to hold the BLAS to one thread, one worker, or tiny chunks)."""
    k = min(workers(), n, max(1, (n * per_item) // max(1, settings.min_chunk_elements)))
    if k <= 1 or not _controller():
        return [(0, n)]
    bounds = [round(i * n / k) for i in range(k + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(k)]
