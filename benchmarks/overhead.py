"""Per-op overhead: the engine's fixed cost per op call and tiny training steps, beside PyTorch's.

Usage::

    python -m benchmarks.overhead [--repeat 9] [--threads 1] [--wall]

Rows (both frameworks in the same process, same shapes, float32, interleaved; each sample runs the
callable ``--inner`` times and reports per call; the median of ``--repeat`` samples):

* ``add 1 element, forward``         -- ``a + b`` on two 0-d tensors that require grad (graph recorded);
* ``add 1 element, forward+backward`` -- ``(a + b).backward()``: the fixed cost of one op through autograd;
* ``mlp 64-32-10 b32 step``           -- zero_grad, forward, cross-entropy, backward, SGD momentum;
* ``2-conv net 8x1x28x28 step``       -- conv 1->8 3x3 p1, ReLU, max-pool 2, conv 8->16 3x3 p1, ReLU,
  flatten, linear -> 10; the same step.

The default clock is process CPU time with one thread for both (``--threads 1``), which the other work
on a shared machine barely disturbs; ``--wall`` uses wall time. Target (issue 27): the two steps within
1.5x of PyTorch's. JSON goes to ``benchmarks/results/overhead.json``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.analysis.timing import blas_threads, time_interleaved

RESULTS = Path(__file__).resolve().parent / "results" / "overhead.json"


def _copy_weights(ours: nn.Module, twin: torch.nn.Module) -> None:
    for p, q in zip(ours.parameters(), twin.parameters(), strict=True):
        if tuple(p.shape) != tuple(q.shape):
            raise ValueError(f"overhead: parameter shapes differ: {tuple(p.shape)} vs {tuple(q.shape)}")
        with torch.no_grad():
            q.copy_(torch.from_numpy(np.ascontiguousarray(p.data)))


def add_rows() -> list[tuple[str, Callable[[], Any], Callable[[], Any]]]:
    a = cp.tensor(np.float32(1.0), requires_grad=True)
    b = cp.tensor(np.float32(2.0), requires_grad=True)
    ta = torch.tensor(1.0, requires_grad=True)
    tb = torch.tensor(2.0, requires_grad=True)

    def ours_f() -> None:
        a + b

    def theirs_f() -> None:
        ta + tb

    def ours_fb() -> None:
        (a + b).backward()

    def theirs_fb() -> None:
        (ta + tb).backward()

    return [("add 1 element, forward", ours_f, theirs_f),
            ("add 1 element, forward+backward", ours_fb, theirs_fb)]


def step_pair(ours: nn.Module, twin: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[Callable[[], Any],
                                                                                             Callable[[], Any]]:
    """One SGD-momentum training step of each framework on the same weights and batch."""
    _copy_weights(ours, twin)
    opt = cp.optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)
    topt = torch.optim.SGD(twin.parameters(), lr=0.01, momentum=0.9)
    xc, yc, xt, yt = cp.tensor(x), cp.tensor(y), torch.from_numpy(x.copy()), torch.from_numpy(y.copy())

    def ours_step() -> None:
        opt.zero_grad()
        F.cross_entropy(ours(xc), yc).backward()
        opt.step()

    def theirs_step() -> None:
        topt.zero_grad()
        torch.nn.functional.cross_entropy(twin(xt), yt).backward()
        topt.step()

    return ours_step, theirs_step


def model_rows() -> list[tuple[str, Callable[[], Any], Callable[[], Any]]]:
    rng = np.random.default_rng(0)
    mlp = nn.Sequential(nn.Linear(64, 32, rng=rng), nn.ReLU(), nn.Linear(32, 10, rng=rng))
    tmlp = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    x1 = rng.standard_normal((32, 64)).astype(np.float32)
    y1 = rng.integers(0, 10, 32)
    conv = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1, rng=rng), nn.ReLU(), nn.Flatten(),
                         nn.Linear(16 * 14 * 14, 10, rng=rng))
    tconv = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(16 * 14 * 14, 10))
    x2 = rng.standard_normal((8, 1, 28, 28)).astype(np.float32)
    y2 = rng.integers(0, 10, 8)
    return [("mlp 64-32-10 b32 step", *step_pair(mlp, tmlp, x1, y1)),
            ("2-conv net 8x1x28x28 step", *step_pair(conv, tconv, x2, y2))]


def repeated(fn: Callable[[], Any], n: int) -> Callable[[], Any]:
    def run() -> None:
        for _ in range(n):
            fn()
    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9, help="timed samples per cell (median reported)")
    ap.add_argument("--inner", type=int, default=0, help="calls per sample (default: 2000 adds, 50 steps)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS, PyTorch and cvprimer threads (0: defaults)")
    ap.add_argument("--wall", action="store_true", help="wall time instead of process CPU time")
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON output path")
    args = ap.parse_args(argv)
    clock = time.perf_counter if args.wall else time.process_time
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    print(f"per-op overhead, cvprimer vs PyTorch {torch.__version__}; threads {args.threads or 'default'}; "
          f"{'wall' if args.wall else 'process CPU'} time per call, median of {args.repeat}")
    print(f"{'case':<34} {'ours us':>10} {'torch us':>10} {'ratio':>7}")
    with blas_threads(args.threads or None):
        for name, ours, theirs in add_rows() + model_rows():
            inner = args.inner or (2000 if name.startswith("add") else 50)
            med = time_interleaved({"ours": repeated(ours, inner), "theirs": repeated(theirs, inner)},
                                   repeat=args.repeat, warmup=1, clock=clock)
            row = dict(name=name, ours_us=1e6 * med["ours"] / inner, torch_us=1e6 * med["theirs"] / inner,
                       ratio=med["ours"] / med["theirs"], inner=inner)
            rows.append(row)
            print(f"{name:<34} {row['ours_us']:10.1f} {row['torch_us']:10.1f} {row['ratio']:7.2f}")
            sys.stdout.flush()
    from benchmarks.ops import write_json

    write_json(args.out, {
        "command": " ".join(["python -m benchmarks.overhead"] + (argv if argv is not None else sys.argv[1:])),
        "clock": "wall" if args.wall else "process", "threads": args.threads, "repeat": args.repeat,
        "versions": {"numpy": np.__version__, "torch": torch.__version__, "python": platform.python_version()},
        "rows": rows, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
