r"""The engine's worker pool: batch-parallel execution of heavy kernels on a small thread pool.

NumPy releases the GIL inside matmul and its copy/ufunc loops, so Python threads can run the
per-image work of a conv side by side. We cut the batch into contiguous spans and run the whole
lowering (copies, GEMMs, accumulations, crop) per span, with the BLAS itself
held to one thread meanwhile (through ctypes on NumPy's OpenBLAS, or ``threadpoolctl`` for another
BLAS): measured on a shared 2-core machine, multi-threaded OpenBLAS on tall, thin GEMMs can stall for
a scheduler time slice per call when the other core is busy, while single-threaded BLAS in our own
workers degrades gracefully. Without a BLAS we can control, the spans of a BLAS-bound split run one
after the other in the calling thread.

**Results do not depend on the thread count.** The spans are a function of the problem size alone
(:func:`spans`: chunks of about ``settings.min_chunk_elements`` elements or more, at most ``MAX_SPANS``
of them), never of the number of workers; the workers share them out (a worker takes the next span not
yet started), and every sum over spans adds the partials in span order. Each span computes the same
thing whichever thread runs it, so ``threads=1``, ``2``, ``4`` and the automatic budget give the same
bits (``tests/core/test_thread_count_independence.py``).

**One thread budget.** With ``settings.threads = None`` (the default) the number of threads follows
the load (:class:`_Budget`): every CPU of the affinity mask (at most 4) on a quiet machine, fewer when
other processes keep cores busy, 1 when all are; the BLAS gets that budget outside the engine's ops,
the pool never fewer than ``MIN_POOL`` (2) threads. A span no worker has picked up is run by the caller
itself (:class:`_Job`), so a worker without a core costs nothing but the hand-off. The engine's GEMMs run
on one BLAS thread whenever the pool has several (inside its splits, :func:`gemm`, :func:`blas_single`):
a multi-threaded BLAS call leaves OpenBLAS's threads spinning for a while on the cores the next split needs.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from cvprimer.core.settings import Settings, current, settings, use

# the number of workers and the smallest chunk worth a split are settings.threads and
# settings.min_chunk_elements (cvprimer.core.settings); a benchmark that pins BLAS and PyTorch to
# n threads sets settings.threads to n too

MAX_WORKERS = 4  # the automatic budget never exceeds this many threads
# the most spans one split is cut into (see spans()): a power of two, so that the spans share out evenly over
# 1, 2 or 4 workers (3 run them as 2 + 1 + 1). More spans cost time on one thread: each one is a separate
# lowering with its own buffers and smaller GEMMs (measured, 1 thread, process CPU, ResNet-20's 3x3 convs
# f+b, 1 -> 4 -> 12 spans: 128x64x8x8 Winograd 18.1 -> 20.8 -> 26.8 ms; the whole ResNet-20 step 1 -> 2 -> 4
# spans 613 -> 605 -> 621 ms, within noise)
MAX_SPANS = 4
# pool.gemm cuts a GEMM into at most this many spans: each span re-packs an operand, so fewer cost less on one
# thread (ViT-tiny step, 1 thread, process CPU, linear's GEMMs whole / 2 spans / 4 spans: 995 / 1021 / 1038 ms)
# and two threads gain as much from 2 as from 4 (599-640 ms for either)
GEMM_SPANS = 2
# the automatic pool keeps this many threads (the caller and one worker) even when other processes keep every
# core busy: its workers block rather than spin, a span no worker has started is run by the caller, and two
# runnable threads get a larger share of a busy machine than one. Measured under load (2 busy processes on 2
# CPUs, benchmarks/loaded.py, wall ms, threads=1 vs threads=2 in the same run): MobileNet v2 242 vs 233, U-Net
# 350 vs 267, ViT-tiny 1490 vs 1185, ResNet-20 699 vs 700, MLP 9.9 vs 10.1. Only the BLAS's own threads (which
# spin when idle) fall to the load budget.
MIN_POOL = 2
SAMPLE_EVERY_S = 0.25  # the load is sampled at most this often (on the next engine call after that)
WINDOW_S = 2.0  # the budget follows the mean load of the samples of this many seconds

_CTL: Any = None


def cpus() -> int:
    """The CPUs this process may run on (its affinity mask; the CPU count where that is not known)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def workers() -> int:
    """Threads the engine's pool uses now: ``settings.threads`` when set, else the automatic budget
    (:func:`thread_budget`) but never fewer than ``MIN_POOL`` (where the affinity mask has that many CPUs).
    The pool's workers and NumPy's BLAS share it: while the pool runs a split, and around the engine's GEMMs
    too small to split (:func:`blas_single`), the BLAS is held to one thread; otherwise the BLAS gets the
    budget (never pool x BLAS threads)."""
    n = settings.threads
    if n is not None:
        return max(1, n)
    return max(_BUDGET.get(), min(MIN_POOL, cpus()))


# ---------------------------------------------------------------------------------------------------
# NumPy's BLAS thread count, through ctypes (NumPy alone is enough; threadpoolctl is only a fallback)


class _BlasThreads:
    """Get/set the thread count of the BLAS libraries loaded in this process (OpenBLAS as shipped by
    NumPy and SciPy: ``openblas_get_num_threads`` / ``openblas_set_num_threads`` under their prefixes and
    suffixes, found by path in ``/proc/self/maps``, scanned again when ``sys.modules`` has grown;
    elsewhere threadpoolctl's controllers when installed). A direct
    call costs ~1 us, threadpoolctl's ``limit()`` ~150 us."""

    def __init__(self) -> None:
        self.libs: list[tuple[Callable[[], int], Callable[[int], Any]]] = []
        self._paths: set[str] = set()
        self._modules = -1  # len(sys.modules) at the last scan: an import may have loaded another BLAS

    def _find(self) -> None:
        import numpy  # noqa: F401 - its BLAS must be loaded before we look for it

        self._modules = len(sys.modules)
        paths: list[str] = []
        try:
            with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
                for line in f:
                    path = line.rstrip("\n").split(" ")[-1]
                    name = os.path.basename(path).lower()
                    if "openblas" in name and ".so" in name and path not in paths and path not in self._paths:
                        paths.append(path)
        except OSError:  # pragma: no cover - not Linux
            paths = []
        for path in paths:
            self._paths.add(path)
            try:
                lib = ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 0) | ctypes.RTLD_GLOBAL)
            except OSError:  # pragma: no cover
                continue
            for prefix in ("", "scipy_"):
                for suffix in ("", "64_", "_64"):
                    get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
                    put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        get.restype, get.argtypes = ctypes.c_int, []
                        put.restype, put.argtypes = None, [ctypes.c_int]
                        self.libs.append((get, put))
                        break
                else:
                    continue
                break
        if not self.libs and not self._paths:  # pragma: no cover - another BLAS (MKL, BLIS): threadpoolctl
            self._paths.add("threadpoolctl")
            ctl = _controller()
            if ctl:
                for c in ctl.lib_controllers:
                    if c.user_api == "blas":
                        def threads(c: Any = c) -> int:
                            return int(c.num_threads)

                        self.libs.append((threads, c.set_num_threads))

    def available(self) -> bool:
        """Whether a BLAS was found; looks again after any import (SciPy, which numba loads, brings a second
        OpenBLAS with its own threads: every one found is set)."""
        if len(sys.modules) != self._modules:
            self._find()
        return bool(self.libs)

    def get(self) -> int:
        """The first BLAS's thread count (0 when no BLAS could be found)."""
        if not self.available():
            return 0
        return int(self.libs[0][0]())

    def counts(self) -> list[int]:
        return [int(get()) for get, _ in self.libs] if self.available() else []

    def set(self, n: int) -> None:
        if self.available():
            for _, put in self.libs:
                put(int(n))


BLAS = _BlasThreads()


def _controller() -> Any:
    global _CTL
    if _CTL is None:
        try:
            from threadpoolctl import ThreadpoolController

            _CTL = ThreadpoolController()
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            _CTL = False
    return _CTL


# ---------------------------------------------------------------------------------------------------
# the automatic thread budget: the cores other processes leave free


def _own_running_threads() -> int:
    """This process's threads in state R (running or runnable) now, from /proc/self/task."""
    n = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:  # pragma: no cover - not Linux
        return 1
    for t in tasks:
        try:
            with open(f"/proc/self/task/{t}/stat", "rb") as f:
                st = f.read()
        except OSError:  # the thread ended meanwhile
            continue
        i = st.rfind(b")")
        if st[i + 2:i + 3] == b"R":
            n += 1
    return max(1, n)


def others_running() -> float | None:
    """Runnable threads of OTHER processes right now: the kernel's count of runnable tasks
    (``/proc/loadavg``, 4th field) minus this process's own running threads; None where unknown."""
    try:
        with open("/proc/loadavg", "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return None
    return float(max(0, running - _own_running_threads()))


class _Budget:
    r"""The engine's automatic thread budget: the CPUs of this process's affinity mask minus the mean
    number of other processes' runnable threads over the last ``WINDOW_S`` seconds (sampled at most every
    ``SAMPLE_EVERY_S`` s, ~80 us a sample, on the next engine call), rounded, between 1 and
    ``min(cpus, MAX_WORKERS)``:

        budget = clamp(round(cpus - share * mean(others_running)), 1, min(cpus, 4))

    (``share`` = cpus / ``os.cpu_count()``: a process pinned to part of a larger machine counts the part of
    the machine-wide runnable threads that lands on its CPUs, the load taken as evenly spread.)

    On a quiet machine that is every CPU (up to 4); with every core busy it is 1: the pool does not
    split (a chunk handed to a worker that cannot get a core waits a scheduler time slice) and the BLAS
    runs one thread (multi-threaded OpenBLAS stalls the same way, and its idle threads spin).

    At each sample every BLAS found is set to ``min(budget, NumPy's count at the first sample)`` (an
    ``OPENBLAS_NUM_THREADS`` the user set is a ceiling), unless someone else changed the BLAS count since
    we last set it (threadpoolctl, ``blas_threads``): then the BLAS is theirs and left alone for good.
    """

    def __init__(self) -> None:
        self.value = max(1, min(cpus(), MAX_WORKERS))
        self.last = -1e9
        self.samples: deque[tuple[float, float]] = deque(maxlen=int(WINDOW_S / SAMPLE_EVERY_S) + 2)
        self.lock = threading.Lock()
        self.blas_ceiling: int | None = None
        self.blas_set: int | None = None
        self.manage_blas = True

    def get(self) -> int:
        if time.monotonic() - self.last >= SAMPLE_EVERY_S:
            self.sample()
        return self.value

    def sample(self, others: float | None = None) -> int:
        """Take one load sample now (``others``: a given count instead of /proc, for tests) and update
        the budget and the BLAS; returns the budget."""
        if not self.lock.acquire(blocking=False):  # another thread is sampling: use the current value
            return self.value
        try:
            now = time.monotonic()
            self.last = now
            if others is None:
                others = others_running()
            if others is None:  # pragma: no cover - no /proc: a fixed budget
                return self.value
            self.samples.append((now, others))
            recent = [o for t, o in self.samples if now - t <= WINDOW_S]
            n = cpus()
            # the runnable count is machine-wide: on a process pinned to n of the machine's CPUs, count the
            # share of the other threads that falls on those n, taking the load as spread evenly
            share = min(1.0, n / max(n, os.cpu_count() or n))
            free = n - share * sum(recent) / len(recent)
            self.value = max(1, min(n, MAX_WORKERS, int(free + 0.5)))
            self._apply_blas()
            return self.value
        finally:
            self.lock.release()

    def _apply_blas(self) -> None:
        if not self.manage_blas or not BLAS.available():
            return
        with _LOCK:
            if _DEPTH:  # inside a split the pool owns the BLAS; the next sample sets it
                return
            self._apply_blas_locked()

    def _apply_blas_locked(self) -> None:
        now = BLAS.get()
        if self.blas_ceiling is None:
            self.blas_ceiling = max(1, now)
        elif now != self.blas_set:  # changed by someone else since we set it: theirs from now on
            self.manage_blas = False
            return
        want = min(self.value, self.blas_ceiling)
        if any(c != want for c in BLAS.counts()):  # also a BLAS loaded since the last sample
            BLAS.set(want)
        self.blas_set = want

    def reset(self) -> None:
        """Forget the samples and the BLAS bookkeeping (tests)."""
        with self.lock:
            self.samples.clear()
            self.last = -1e9
            self.value = max(1, min(cpus(), MAX_WORKERS))
            self.blas_ceiling = self.blas_set = None
            self.manage_blas = True


_BUDGET = _Budget()


def thread_budget() -> int:
    """The automatic thread budget now (see :class:`_Budget`), whatever ``settings.threads`` says."""
    return _BUDGET.get()


def refresh() -> None:
    """Re-sample the load if the last sample is older than ``SAMPLE_EVERY_S`` (cheap otherwise: one clock
    read). Called once per backward, so a model without batch-split ops (an MLP) still follows the load."""
    if settings.threads is None and time.monotonic() - _BUDGET.last >= SAMPLE_EVERY_S:
        _BUDGET.sample()


_LOCK = threading.Lock()
_DEPTH = 0
_SAVED: list[tuple[Callable[[int], Any], int]] = []


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Hold the BLAS to one thread; re-entrant across threads (the first caller sets the limit,
    the last one restores the original, so concurrent convs cannot leave it stuck at 1). The BLAS
    libraries' own ``set_num_threads`` is called directly (threadpoolctl's ``limit()`` re-reads
    every library's state on each call: ~150 us, per op)."""
    global _DEPTH
    if not BLAS.available():  # pragma: no cover
        yield
        return
    with _LOCK:
        if _DEPTH == 0:
            _SAVED[:] = [(put, int(get())) for get, put in BLAS.libs]
            for put, n in _SAVED:
                if n != 1:
                    put(1)
        _DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0:
                for put, n in _SAVED:
                    if n != 1:
                        put(n)
                _SAVED.clear()


class _Job:
    """One ``pool_map`` call: its spans, a claim counter and the results. The caller runs span 0, then
    every thread (the caller included) claims the next unclaimed span until none is left, so a span
    handed to a worker that cannot get a core (a busy machine) is run by the caller instead of waited for.
    ``done`` is a lock held from the start and released when the last span finishes: the caller blocks
    in C, only on spans that a worker has already started."""

    __slots__ = ("fn", "spans", "out", "next", "left", "lock", "done", "snap")

    def __init__(self, fn: Callable[[int, int], Any], spans: list[tuple[int, int]], snap: Settings) -> None:
        self.fn = fn
        self.spans = spans
        self.out: list[Any] = [None] * len(spans)
        self.next = 1  # span 0 is the caller's
        self.left = len(spans)
        self.lock = threading.Lock()
        self.done = threading.Lock()
        self.done.acquire()
        self.snap = snap

    def claim(self) -> int:
        with self.lock:
            i = self.next
            self.next += 1
        return i

    def run(self, i: int) -> None:
        a, b = self.spans[i]
        try:
            self.out[i] = (True, self.fn(a, b))
        except BaseException as e:  # handed to the caller, raised there
            self.out[i] = (False, e)
        with self.lock:
            self.left -= 1
            last = self.left == 0
        if last:
            self.done.release()

    def run_claimed(self) -> None:
        n = len(self.spans)
        while (i := self.claim()) < n:
            self.run(i)


class _Pool:
    """``n - 1`` daemon threads that take jobs from a queue (one token per span beyond the first) and
    claim spans from them; the calling thread runs the first span itself, claims what is left, then
    waits for the spans the workers started."""

    def __init__(self, n: int) -> None:
        self.size = n
        self.tasks: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        for i in range(n - 1):
            threading.Thread(target=self._loop, daemon=True, name=f"cvprimer-{i}").start()

    def _loop(self) -> None:
        _IN_WORKER.active = True
        while True:
            job = self.tasks.get()
            if job.next >= len(job.spans):  # a stale token: the spans are all taken
                continue
            with use(job.snap):  # the caller's settings: overrides are context-local, a worker has its own
                job.run_claimed()

    def map(self, fn: Callable[[int, int], Any], spans: list[tuple[int, int]], n: int | None = None) -> list[Any]:
        """Run the spans on the caller and at most ``n - 1`` of the workers (the pool may be larger than
        the budget now: it was made for a larger one)."""
        job = _Job(fn, spans, current())
        for _ in range(min(len(spans), n or self.size, self.size) - 1):
            self.tasks.put(job)
        try:
            job.run(0)
            job.run_claimed()
        finally:
            job.done.acquire()  # never leave while a worker still writes into the caller's arrays
        results = []
        for ok, value in job.out:
            if not ok:
                raise value
            results.append(value)
        return results


_POOL: _Pool | None = None
_IN_WORKER = threading.local()  # set in the pool's threads: a pool_map from there runs its spans in place


def pool_map(fn: Callable[[int, int], Any], spans: list[tuple[int, int]], blas_single: bool = True) -> list[Any]:
    """``[fn(a, b) for (a, b) in spans]`` (results in span order), on the pool when there are several spans
    and several workers (the first span runs in the calling thread, which then takes any span no worker has
    started; called from inside a span, the spans run in place, so nesting cannot wait on itself). With
    ``blas_single`` the BLAS is held to one thread meanwhile; where its threads cannot be controlled, the
    spans run one after the other here (the same spans, so the same results). An exception in any span is
    raised here, after every span has finished."""
    global _POOL
    if len(spans) <= 1 or getattr(_IN_WORKER, "active", False):
        return [fn(a, b) for a, b in spans]
    n = workers()
    if n == 1 or (blas_single and not BLAS.available()):
        return [fn(a, b) for a, b in spans]
    with _LOCK:
        if _POOL is None or _POOL.size < n:
            _POOL = _Pool(n)
        pool = _POOL
    ctx = _single_threaded_blas() if blas_single else contextlib.nullcontext()
    with ctx:
        return pool.map(fn, spans, n)


def spans(n: int, per_item: int, most: int = MAX_SPANS) -> list[tuple[int, int]]:
    r"""range(n) cut into ``k`` contiguous spans of (nearly) equal length, ``k`` a function of the problem
    size alone, never of the thread count::

        k = the largest power of two <= min(floor(n per_item / settings.min_chunk_elements), n, most)
        span i = [round(i n / k), round((i + 1) n / k))

    (``per_item``: elements of work per item; ``most``: ``MAX_SPANS`` unless a caller wants fewer). Each span
    carries about ``min_chunk_elements`` elements or more
    (handing a span to a worker costs ~0.05-0.4 ms, so it must carry about a millisecond of work), and the
    spans are shared out by however many workers run them (:func:`pool_map`), so the partial results, and
    their sum in span order, are the same with 1, 2, 4 threads or the automatic budget."""
    k = min(most, n, (n * per_item) // max(1, settings.min_chunk_elements))
    if k <= 1:
        return [(0, n)]
    k = 1 << (k.bit_length() - 1)  # a power of two: shared out evenly by 1, 2 or 4 workers
    bounds = [round(i * n / k) for i in range(k + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(k)]


def batch_spans(n: int, per_item: int) -> list[tuple[int, int]]:
    """The spans of a batch of ``n`` items of ``per_item`` elements each for :func:`pool_map`: :func:`spans`
    (a function of the size alone: the same spans whatever the thread count)."""
    return spans(n, per_item)


@contextlib.contextmanager
def blas_single() -> Iterator[None]:
    """Hold NumPy's BLAS to one thread for the block when the engine may use more than one (``workers() > 1``);
    a no-op otherwise. For the engine's GEMMs too small to split: a multi-threaded BLAS call wakes the BLAS's
    own threads, which then spin for a while (OpenBLAS: up to ~0.1 s) on the cores the pool's workers need
    (measured, 2 threads, LeNet-5 step with BLAS at 2 threads outside the splits 45-46 ms, at 1 thread
    30-36 ms; ResNet-20 345 -> 289 ms)."""
    if workers() > 1:
        with _single_threaded_blas():
            yield
    else:
        yield


def gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r"""``a @ b`` for 2-D ``a`` (M, K) and ``b`` (K, N), the longer of the output's two sides cut into the pool's
    spans (:func:`spans` of M rows of K N multiply-adds each, or N columns of M K: a function of the shape alone),
    each span one GEMM on one BLAS thread (``out[i:j] = a[i:j] @ b`` or ``out[:, i:j] = a @ b[:, i:j]``), the spans
    shared out by the workers. Every output element is one single-threaded GEMM's whatever the thread count, so the
    result does not depend on it; the pool, not the BLAS's own threads, gives the parallelism (see
    :func:`blas_single`). Cutting the longer side re-packs the smaller operand once per span (measured, 1 thread,
    float32, (192, 4160) @ (4160, 768) as in a ViT weight gradient: 12.6 ms whole, 16.1 cut by rows). Returns a new
    (M, N) array."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"pool.gemm: expected a (M, K) and b (K, N), got shapes {a.shape} and {b.shape}")
    m, k = a.shape
    n = b.shape[1]
    by_rows = m >= n
    parts = spans(m, k * n, GEMM_SPANS) if by_rows else spans(n, m * k, GEMM_SPANS)
    if len(parts) <= 1:
        with blas_single():
            return a @ b
    out = np.empty((m, n), np.result_type(a, b))

    def rows(i: int, j: int) -> None:
        np.matmul(a[i:j], b, out=out[i:j])

    def cols(i: int, j: int) -> None:
        out[:, i:j] = a @ b[:, i:j]

    pool_map(rows if by_rows else cols, parts)
    return out
