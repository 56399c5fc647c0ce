"""BN forward+backward on (64, 64, 32, 32) float32: cvprimer vs PyTorch (CPU), median of repeats.

    python benchmarks/bench_batch_norm.py [repeats]

Both run on the same thread budget (torch.set_num_threads(1): NumPy's elementwise kernels are
single-threaded, so this compares the algorithms, not the thread counts); prints both medians
and the ratio ours / torch.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import torch

import cvprimer as cp
import cvprimer.functional as F


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main(repeats: int = 7) -> None:
    torch.set_num_threads(1)
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

    t_ours, t_torch = median_time(ours, repeats), median_time(theirs, repeats)
    print(f"batch_norm fwd+bwd (64, 64, 32, 32) float32, median of {repeats}: "
          f"cvprimer {t_ours * 1e3:.1f} ms, torch {t_torch * 1e3:.1f} ms, ratio {t_ours / t_torch:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
