r"""Roofline model: a machine profile (peak FLOP/s, memory bandwidth) and per-layer bound labels.

The attainable rate of a kernel with arithmetic intensity ``I`` (FLOPs per byte moved) is
``min(peak, I x bandwidth)`` (Williams, Waterman and Patterson, CACM 2009). Below the *ridge
point* ``peak / bandwidth`` a layer is memory-bound: it waits for data, and its FLOP count says
little about its time. Question 54: a depthwise 3x3 convolution does ``k^2 = 9`` MACs per
output element and reads about one input element per output element, so its intensity is a few
FLOPs per byte, far below the ridge of any CPU or GPU; a standard convolution does ``9 C_in``
MACs per output element for about the same traffic. Depthwise layers are therefore slower than
their share of the FLOPs suggests.

:func:`measure_machine` times a float32 GEMM (peak) and a large array copy (bandwidth) with
NumPy: a short micro-benchmark (about half a second), cached per process; :mod:`.machine_cache` keeps it
per machine on disk for the command line.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class MachineProfile:
    """Peak FLOP/s and memory bandwidth (bytes/s) of the machine the estimates are for."""

    peak_flops: float
    bandwidth: float
    name: str = "measured"

    @property
    def ridge(self) -> float:
        """Arithmetic intensity (FLOPs/byte) where compute and memory limits meet."""
        return self.peak_flops / self.bandwidth

    def as_dict(self) -> dict[str, float | str]:
        return {**asdict(self), "ridge_flops_per_byte": self.ridge}


_CACHED: MachineProfile | None = None


def _best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return max(best, 1e-9)


def measure_peak(n: int = 512, repeats: int = 3) -> float:
    """Peak FLOP/s: 2 n^3 / (best time of an n x n float32 matmul)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    np.matmul(a, b, out=out)  # warm-up
    return float(2 * n**3 / _best_time(lambda: np.matmul(a, b, out=out), repeats))


def measure_bandwidth(copy_mb: int = 64, repeats: int = 3) -> float:
    """Memory bandwidth in bytes/s: 2 x bytes / (best time of copying a ``copy_mb`` MB array)
    (one read, one write)."""
    src = np.ones(copy_mb * (1 << 20) // 4, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    return float(2 * src.nbytes / _best_time(lambda: np.copyto(dst, src), repeats))


def measure_machine(n: int = 512, copy_mb: int = 64, repeats: int = 3, refresh: bool = False) -> MachineProfile:
    """Micro-benchmark this machine (:func:`measure_peak`, :func:`measure_bandwidth`), once per process
    unless ``refresh``. The command line keeps the result across runs (:mod:`.machine_cache`)."""
    global _CACHED
    if _CACHED is not None and not refresh:
        return _CACHED
    _CACHED = MachineProfile(measure_peak(n, repeats), measure_bandwidth(copy_mb, repeats),
                             "measured (NumPy GEMM + copy)")
    return _CACHED


def intensity(flops: float, nbytes: float) -> float:
    """Arithmetic intensity in FLOPs per byte (inf when nothing is moved)."""
    return float("inf") if nbytes <= 0 else flops / nbytes


def bound(flops: float, nbytes: float, profile: MachineProfile) -> str:
    """``"compute"`` when the intensity reaches the ridge point, else ``"memory"``; ``"-"`` for no work."""
    if flops <= 0 and nbytes <= 0:
        return "-"
    return "compute" if intensity(flops, nbytes) >= profile.ridge else "memory"


def time_estimate(flops: float, nbytes: float, profile: MachineProfile) -> float:
    """Roofline time lower bound in seconds: ``max(flops / peak, bytes / bandwidth)``."""
    return max(flops / profile.peak_flops, nbytes / profile.bandwidth)
