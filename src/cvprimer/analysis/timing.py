r"""Honest wall-clock (or CPU) timing of a few callables on a shared machine.

Three rules, from measuring on a busy 2-core box:

1. **Pin the threads** (:func:`blas_threads`): hold NumPy's BLAS (ctypes on its OpenBLAS)
   and cvprimer's conv worker pool to ``n`` threads, so that both sides of a comparison use the same
   parallelism and a second library cannot oversubscribe the cores.
2. **Warm up** each callable (lazy imports, allocations, caches) before timing it.
3. **Interleave** the repeats (``a, b, c, a, b, c, ...``) instead of timing all of ``a`` and then all of ``b``,
   so that load from other processes hits every callable alike; report the **median** of each, which
   ignores the few rounds a context switch ruined. An optional ``pause`` between calls lets the idle worker
   threads of a library stop spinning before the next callable runs.

Usage::

    from cvprimer.analysis.timing import blas_threads, time_interleaved, ratios

    with blas_threads(1):
        med = time_interleaved({"standard": f1, "depthwise": f2}, repeat=7, warmup=1)
    print(ratios(med, "depthwise"))      # {"standard": 9.3, "depthwise": 1.0}

With ``blas_threads(1)`` and ``clock=time.process_time`` a measurement counts only this process's CPU time,
which other processes on the machine barely disturb.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

__all__ = ["blas_threads", "current_blas_threads", "median_time", "ratios", "time_interleaved", "time_samples"]

K = TypeVar("K")  # the callables' names (any hashable key)


def current_blas_threads() -> int:
    """The number of threads NumPy's BLAS uses now (through :data:`cvprimer.core.pool.BLAS`, ctypes on
    NumPy's OpenBLAS or threadpoolctl; else ``OPENBLAS_NUM_THREADS`` or the CPU count)."""
    from cvprimer.core.pool import BLAS

    n = BLAS.get()
    if n > 0:
        return n
    return int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count() or 1))  # pragma: no cover


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[int]:
    """Within the block, NumPy's BLAS and cvprimer's conv worker pool use ``n`` threads.

    ``n=None`` changes nothing (a no-op, handy for an optional ``--threads`` flag): the engine's automatic
    thread budget stays in charge (:mod:`cvprimer.core.pool`). The previous limits are restored on exit,
    also after an exception. Needs only NumPy (the BLAS is set through ctypes). Yields the BLAS thread count
    in effect inside the block.
    """
    if n is None:
        yield current_blas_threads()
        return
    if isinstance(n, bool) or int(n) < 1:
        raise ValueError(f"blas_threads: n must be >= 1 or None, got {n!r}")
    from cvprimer.core.pool import BLAS
    from cvprimer.core.settings import settings

    before = BLAS.counts()
    BLAS.set(int(n))
    try:
        with settings.override(threads=int(n)):
            yield current_blas_threads()
    finally:
        for (_, put), k in zip(BLAS.libs, before, strict=False):
            put(k)


def time_samples(fns: Mapping[K, Callable[[], Any]], repeat: int = 5, warmup: int = 1,
                 clock: Callable[[], float] = time.perf_counter, pause: float = 0.0,
                 sleep: Callable[[float], Any] = time.sleep) -> dict[K, list[float]]:
    """Every timed sample (seconds) of each callable: ``warmup`` untimed calls of each, then ``repeat``
    rounds that call each callable once in the given order (interleaved).

    ``clock`` is any monotonic clock in seconds (``time.perf_counter`` for wall time, ``time.process_time``
    for this process's CPU time); ``pause`` seconds are slept (outside the timed span) before each call.
    """
    if not fns:
        raise ValueError("time_samples: need at least one callable")
    if repeat < 1 or warmup < 0:
        raise ValueError(f"time_samples: need repeat >= 1 and warmup >= 0, got repeat={repeat}, warmup={warmup}")
    for name, fn in fns.items():
        if not callable(fn):
            raise TypeError(f"time_samples: {name!r} is not callable ({type(fn).__name__})")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    out: dict[K, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            if pause > 0:
                sleep(pause)
            t0 = clock()
            fn()
            out[name].append(clock() - t0)
    return out


def time_interleaved(fns: Mapping[K, Callable[[], Any]], repeat: int = 5, warmup: int = 1,
                     clock: Callable[[], float] = time.perf_counter, pause: float = 0.0,
                     sleep: Callable[[float], Any] = time.sleep) -> dict[K, float]:
    """The median time in seconds of each callable, timed interleaved (see :func:`time_samples`)."""
    return {name: float(statistics.median(v))
            for name, v in time_samples(fns, repeat, warmup, clock, pause, sleep).items()}


def median_time(fn: Callable[[], Any], repeat: int = 5, warmup: int = 1,
                clock: Callable[[], float] = time.perf_counter) -> float:
    """The median time in seconds of one callable over ``repeat`` calls after ``warmup`` untimed ones."""
    return time_interleaved({"fn": fn}, repeat, warmup, clock)["fn"]


def ratios(medians: Mapping[str, float], baseline: str) -> dict[str, float]:
    """Each time divided by the ``baseline``'s time (``> 1``: slower than the baseline)."""
    if baseline not in medians:
        raise ValueError(f"ratios: baseline {baseline!r} is not one of {sorted(medians)}")
    base = medians[baseline]
    if not base > 0:
        raise ValueError(f"ratios: the baseline's time must be positive, got {base!r}")
    return {name: float(t) / base for name, t in medians.items()}
