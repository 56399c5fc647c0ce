"""Depthwise 3x3 convolutions (forward, input gradient, weight gradient) of MobileNet v2 x0.5 at 64 px, batch 64,
cvprimer against PyTorch (CPU, float32), same process.

Usage::

    python -m benchmarks.bench_depthwise [--repeat 9] [--threads 1] [--cpu-time] [--path auto|planes|nhwc]

Each row is one depthwise conv shape of ``benchmarks/steps.py``'s MobileNet v2 (groups = C, padding 1), with the
number of layers of that shape. Ours: ``conv_forward``, ``conv_grad_input``, ``conv_grad_weight`` of the lowering
``choose()`` picks (``--path planes`` forces the per-plane compiled kernels, ``--path nhwc`` the channels-last
ones on every output size, for inputs narrower than 16 columns; both through ``settings.conv_dw_stack_below``);
PyTorch: ``F.conv2d`` and one ``autograd.grad`` for both gradients. Timed runs are interleaved
(:func:`cvprimer.analysis.timing.time_interleaved`), each cell the median of ``--repeat``; ``--threads n`` pins
NumPy's BLAS, cvprimer's pool and PyTorch to n threads; ``--cpu-time`` takes process CPU time. The last line
weighs each shape by its number of layers: the depthwise share of one training step, ours and PyTorch's.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from cvprimer.analysis.timing import blas_threads, current_blas_threads, time_interleaved
from cvprimer.core.settings import settings
from cvprimer.functional.conv import _kernels as K
from cvprimer.functional.conv._geometry import conv_geometry

# (input shape, stride, layers of that shape in MobileNet v2 x0.5's step at 64 px, batch 64)
SHAPES: list[tuple[tuple[int, int, int, int], int, int]] = [
    ((64, 16, 32, 32), 1, 1), ((64, 48, 32, 32), 2, 1), ((64, 96, 16, 16), 1, 1), ((64, 96, 16, 16), 2, 1),
    ((64, 96, 8, 8), 1, 2), ((64, 96, 8, 8), 2, 1), ((64, 192, 4, 4), 1, 4), ((64, 288, 4, 4), 1, 2),
    ((64, 288, 4, 4), 2, 1), ((64, 480, 2, 2), 1, 3),
]
PATHS = {"auto": {}, "planes": {"conv_dw_stack_below": 0}, "nhwc": {"conv_dw_stack_below": 10**9}}


def time_shape(xs: tuple[int, int, int, int], s: int, repeat: int, clock: Any) -> tuple[dict[str, float], str]:
    """Medians (ms) of ours (f, gx, gw) and PyTorch's (tf, tb) on one shape, and the lowering's name."""
    rng = np.random.default_rng(0)
    N, C, H, W = xs
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((C, 1, 3, 3)).astype(np.float32)
    g = conv_geometry("conv2d", (H, W), (3, 3), s, 1, 1, C)
    low = K.choose(g, C, w.shape, N, x.itemsize)
    y, saved = K.conv_forward(x, w, g, low)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    yt, gyt = torch.nn.functional.conv2d(xt, wt, None, s, 1, 1, C), torch.from_numpy(gy)
    fns = {
        "f": lambda: K.conv_forward(x, w, g, low),
        "gx": lambda: K.conv_grad_input(gy, w, xs, g, low),
        "gw": lambda: K.conv_grad_weight(saved, gy, w.shape, g, low),
        "tf": lambda: torch.nn.functional.conv2d(xt.detach(), wt.detach(), None, s, 1, 1, C),
        "tb": lambda: torch.autograd.grad(yt, (xt, wt), gyt, retain_graph=True),
    }
    t = time_interleaved(fns, repeat=repeat, warmup=2, clock=clock)
    return {k: v * 1e3 for k, v in t.items()}, low.name


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--threads", type=int, default=0, help="pin BLAS, PyTorch and cvprimer to n threads")
    ap.add_argument("--cpu-time", action="store_true", help="process CPU time instead of wall time")
    ap.add_argument("--path", choices=sorted(PATHS), default="auto", help="which depthwise kernels (see above)")
    args = ap.parse_args(argv)
    clock = time.process_time if args.cpu_time else time.perf_counter
    with blas_threads(args.threads or None), settings.override(**PATHS[args.path]):
        torch.set_num_threads(current_blas_threads())
        print(f"depthwise 3x3 convs, float32, threads {current_blas_threads()}, median of {args.repeat} "
              f"({'process CPU' if args.cpu_time else 'wall'} time, ms), path {args.path}")
        print(f"{'x shape':<20}{'s':>2}{'n':>3} {'fwd':>7}{'gx':>7}{'gW':>7}{'torch f':>9}{'torch b':>9}{'ratio':>7}"
              f"  lowering")
        total = np.zeros(2)
        for xs, s, count in SHAPES:
            t, name = time_shape(xs, s, args.repeat, clock)
            ours, theirs = t["f"] + t["gx"] + t["gw"], t["tf"] + t["tb"]
            total += count * np.array([ours, theirs])
            print(f"{str(xs):<20}{s:>2}{count:>3} {t['f']:7.2f}{t['gx']:7.2f}{t['gw']:7.2f}{t['tf']:9.2f}{t['tb']:9.2f}"
                  f"{ours / theirs:7.2f}  {name}")
        print(f"all {sum(c for *_, c in SHAPES)} depthwise convs of a step (f + gx + gW): ours {total[0]:.1f} ms, "
              f"PyTorch {total[1]:.1f} ms, ratio {total[0] / total[1]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
