"""Batch norm in training mode, forward and forward + backward, cvprimer against PyTorch's F.batch_norm (CPU,
float32), on the shapes of the step benchmark's convolutional nets, same process.

Usage::

    python -m benchmarks.bench_batch_norm [--repeat 9] [--threads 1] [--cpu-time] [--only resnet]

Each row is one BN input shape of ``benchmarks/steps.py``'s ResNet-20 (batch 128) or MobileNet v2 x0.5 at
64 px (batch 64), with the number of BN layers of that shape in the net. ``fwd``: ``batch_norm(x, rm, rv, w,
b, training=True)``; ``f+b``: that and ``y.backward(gy)`` into x, gamma and beta. Timed runs are interleaved
(ours, theirs, ours, ...; :func:`cvprimer.analysis.timing.time_interleaved`) and each cell is the median of
``--repeat``. ``--threads n`` pins NumPy's BLAS, cvprimer's pool and PyTorch to n threads; ``--cpu-time`` takes
process CPU time (with one thread: barely disturbed by other processes). The last line weighs each shape by its
number of layers: the BN share of one training step of each net, ours and PyTorch's.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.analysis.timing import blas_threads, current_blas_threads, time_interleaved

# (net, input shape, number of BN layers of that shape in the net's training step)
SHAPES: list[tuple[str, tuple[int, int, int, int], int]] = [
    ("resnet20", (128, 16, 32, 32), 7),
    ("resnet20", (128, 32, 16, 16), 6),
    ("resnet20", (128, 64, 8, 8), 6),
    ("mobilenet", (64, 8, 32, 32), 1),
    ("mobilenet", (64, 16, 32, 32), 2),
    ("mobilenet", (64, 48, 32, 32), 1),
    ("mobilenet", (64, 16, 16, 16), 2),
    ("mobilenet", (64, 48, 16, 16), 1),
    ("mobilenet", (64, 96, 16, 16), 3),
    ("mobilenet", (64, 16, 8, 8), 3),
    ("mobilenet", (64, 96, 8, 8), 6),
    ("mobilenet", (64, 32, 4, 4), 4),
    ("mobilenet", (64, 48, 4, 4), 3),
    ("mobilenet", (64, 96, 4, 4), 1),
    ("mobilenet", (64, 192, 4, 4), 8),
    ("mobilenet", (64, 288, 4, 4), 5),
    ("mobilenet", (64, 80, 2, 2), 3),
    ("mobilenet", (64, 160, 2, 2), 1),
    ("mobilenet", (64, 288, 2, 2), 1),
    ("mobilenet", (64, 480, 2, 2), 6),
    ("mobilenet", (64, 1280, 2, 2), 1),
]


def make(shape: tuple[int, ...], seed: int = 0) -> dict[str, Callable[[], Any]]:
    """The four timed callables of one shape: ours/theirs forward, ours/theirs forward + backward."""
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = rng.standard_normal(shape, dtype=np.float32)
    gy = rng.standard_normal(shape, dtype=np.float32)
    w = rng.uniform(0.5, 1.5, c).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    X, W, B = (cp.Tensor(a, requires_grad=True) for a in (x, w, b))
    rm, rv, G = cp.zeros(c), cp.ones(c), cp.Tensor(gy)
    tx, tw, tb = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
    trm, trv, tg = torch.zeros(c), torch.ones(c), torch.from_numpy(gy)

    def ours_f() -> None:
        F.batch_norm(X, rm, rv, W, B, training=True)

    def theirs_f() -> None:
        with torch.no_grad():
            torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=True)

    def ours_fb() -> None:
        X.grad = W.grad = B.grad = None
        F.batch_norm(X, rm, rv, W, B, training=True).backward(G)

    def theirs_fb() -> None:
        tx.grad = tw.grad = tb.grad = None
        torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=True).backward(tg)

    return {"ours_f": ours_f, "theirs_f": theirs_f, "ours_fb": ours_fb, "theirs_fb": theirs_fb}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9, help="timed runs per callable (median reported)")
    ap.add_argument("--threads", type=int, default=1, help="pin BLAS, PyTorch and cvprimer to n threads (0: defaults)")
    ap.add_argument("--cpu-time", action="store_true", help="process CPU time instead of wall time")
    ap.add_argument("--only", default="", help="only the shapes of nets whose name contains this text")
    args = ap.parse_args(argv)
    clock = time.process_time if args.cpu_time else time.perf_counter
    with blas_threads(args.threads or None):
        torch.set_num_threads(current_blas_threads())
        print(f"batch_norm training, float32, cvprimer vs PyTorch {torch.__version__}; "
              f"threads {current_blas_threads()}; median of {args.repeat} "
              f"({'process CPU' if args.cpu_time else 'wall'} time), ms")
        print(f"{'net':<10} {'shape':<20} {'n':>2} {'ours fwd':>9} {'torch fwd':>9} {'ratio':>6} "
              f"{'ours f+b':>9} {'torch f+b':>9} {'ratio':>6}")
        tot: dict[str, dict[str, float]] = {}
        for net, shape, count in SHAPES:
            if args.only and args.only not in net:
                continue
            med = time_interleaved(make(shape), repeat=args.repeat, warmup=2, clock=clock)
            t = tot.setdefault(net, {"ours": 0.0, "theirs": 0.0})
            t["ours"] += count * med["ours_fb"]
            t["theirs"] += count * med["theirs_fb"]
            print(f"{net:<10} {str(shape):<20} {count:>2} {1e3 * med['ours_f']:9.2f} {1e3 * med['theirs_f']:9.2f} "
                  f"{med['ours_f'] / med['theirs_f']:6.2f} {1e3 * med['ours_fb']:9.2f} {1e3 * med['theirs_fb']:9.2f} "
                  f"{med['ours_fb'] / med['theirs_fb']:6.2f}", flush=True)
        for net, t in tot.items():
            print(f"{net}: all BN layers f+b, ours {1e3 * t['ours']:.1f} ms, torch {1e3 * t['theirs']:.1f} ms, "
                  f"ratio {t['ours'] / t['theirs']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
