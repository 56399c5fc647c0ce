"""BN forward+backward on (64, 64, 32, 32) float32: cvprimer vs PyTorch (CPU), median of repeats.

    python benchmarks/bench_batch_norm.py [repeats] [torch_threads]

NumPy's elementwise kernels and reductions are single-threaded, so the default gives PyTorch
one thread too (same budget: compares the algorithms); pass torch_threads=2 to see PyTorch
with both cores of the reference machine. Prints both medians and the ratio ours / torch.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import torch

import cvprimer as cp
import cvprimer.functional as F


def median_times(fns, repeats: int) -> list[float]:
    """Median wall time of each function; the runs are interleaved (a, b, a, b, ...) so that a
    burst of load on a shared machine hits both alike."""
    for fn in fns:
        fn()  # warm-up
    ts: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, acc in zip(fns, ts, strict=True):
            t = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t)
    return [statistics.median(acc) for acc in ts]


def main(repeats: int = 7, torch_threads: int = 1) -> None:
    torch.set_num_threads(torch_threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 64, 32, 32), dtype=np.float32)
    gy = rng.standard_normal(x.shape, dtype=np.float32)
    w = rng.uniform(0.5, 1.5, 64).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)

    X, W, B = (cp.Tensor(a, requires_grad=True) for a in (x, w, b))
    rm, rv = cp.zeros(64), cp.ones(64)
    G = cp.Tensor(gy)

    def ours() -> None:
        y = F.batch_norm(X, rm, rv, W, B, training=True)
        y.backward(G)

    tx, tw, tb = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
    trm, trv, tg = torch.zeros(64), torch.ones(64), torch.from_numpy(gy)

    def theirs() -> None:
        y = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=True)
        y.backward(tg)

    t_ours, t_torch = median_times([ours, theirs], repeats)
    print(f"batch_norm fwd+bwd (64, 64, 32, 32) float32, median of {repeats}, torch threads {torch_threads}: "
          f"cvprimer {t_ours * 1e3:.1f} ms, torch {t_torch * 1e3:.1f} ms, ratio {t_ours / t_torch:.2f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
