"""Time whole training steps of zoo models against the same nets written in PyTorch, same process.

Usage::

    python -m benchmarks.steps [--repeat 9] [--only resnet20] [--threads n] [--quick]

One step = zero the gradients, forward, cross-entropy loss, backward, SGD with momentum 0.9
(float32). Both frameworks start from the same weights (cvprimer's initialization, copied into
the PyTorch twin of ``tests/models/torch_twins.py``) and see the same batch. Timed runs are
interleaved (ours, theirs, ours, ...) with a short pause at each switch (see
:mod:`cvprimer.analysis.timing`); each cell is the median of ``--repeat`` steps after two
warm-up steps. The GFLOP/s column is ours: a training step is counted as 3x the forward FLOPs
from the analyzer (forward, input gradient, weight gradient; FLOPs = 2 x MACs), and it is shown
next to the machine's single-precision GEMM rate measured here (``np.matmul`` of two 2048x2048
float32 matrices, same threads). ``--threads 1 --cpu-time`` measures process CPU time on one
thread, which other processes on a shared machine barely disturb. Writes a table to stdout and JSON to
``benchmarks/results/steps.json``.
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
from cvprimer import models
from cvprimer.analysis import analyze
from cvprimer.analysis.timing import blas_threads, current_blas_threads, time_interleaved

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "steps.json"
PAUSE_S = 0.15

for p in (ROOT / "tests", ROOT / "tests" / "models"):   # the PyTorch twins live with the tests
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
import torch_twins as T  # noqa: E402


def specs() -> list[dict[str, Any]]:
    """name, our model, its PyTorch twin, input shape (with the batch), classes, name mapping."""
    return [
        dict(name="resnet20 3x32x32 b128", input=(128, 3, 32, 32), classes=10, rename=None,
             ours=lambda rng: models.get_model("resnet20", rng=rng), theirs=lambda: T.CifarResNet(20)),
        dict(name="lenet5 1x28x28 b256", input=(256, 1, 28, 28), classes=10, rename=None,
             ours=lambda rng: models.get_model("lenet5", input_size=28, rng=rng),
             theirs=lambda: T.LeNet5(input_size=28)),
        dict(name="mobilenet_v2 w0.5 3x64x64 b64", input=(64, 3, 64, 64), classes=10, rename=None,
             ours=lambda rng: models.get_model("mobilenet_v2", width_mult=0.5, num_classes=10, dropout=0.0,
                                               rng=rng),
             theirs=lambda: T.MobileNetV2(10, 0.5, dropout=0.0)),
        dict(name="unet b16 d3 1x64x64 b16", input=(16, 1, 64, 64), classes=2, rename=None, dense=True,
             ours=lambda rng: models.get_model("unet", num_classes=2, in_channels=1, base_channels=16, depth=3,
                                               rng=rng),
             theirs=lambda: T.UNet(2, 1, 16, 3, "transposed")),
        dict(name="vit_tiny 3x32x32 b64", input=(64, 3, 32, 32), classes=10, rename=T.vit_rename,
             ours=lambda rng: models.get_model("vit_tiny", rng=rng),
             theirs=lambda: T.VisionTransformer(32, 4, 10, 192, 6, 3)),
    ]


def gemm_gflops(repeat: int = 5) -> float:
    """Measured float32 GEMM rate of this machine through NumPy's BLAS (current thread setting)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2048, 2048)).astype(np.float32)
    b = rng.standard_normal((2048, 2048)).astype(np.float32)
    t = time_interleaved({"mm": lambda: a @ b}, repeat=repeat, warmup=1)["mm"]
    return 2 * 2048**3 / t / 1e9


def build(spec: dict[str, Any], seed: int = 0) -> dict[str, Callable[[], Any]]:
    """The two step functions on identical weights and data."""
    rng = np.random.default_rng(seed)
    ours = spec["ours"](rng)
    twin = spec["theirs"]()
    T.copy_weights(ours, twin, spec["rename"])
    ours.train()
    twin.train()
    x = rng.standard_normal(spec["input"]).astype(np.float32)
    n = spec["input"][0]
    tshape = (n,) + spec["input"][2:] if spec.get("dense") else (n,)
    y = rng.integers(0, spec["classes"], tshape)
    opt = cp.optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)
    topt = torch.optim.SGD(twin.parameters(), lr=0.01, momentum=0.9)
    xc, yc = cp.tensor(x), cp.tensor(y)
    xt, yt = torch.from_numpy(x.copy()), torch.from_numpy(y.copy())

    def ours_step() -> float:
        opt.zero_grad()
        loss = F.cross_entropy(ours(xc), yc)
        loss.backward()
        opt.step()
        return float(loss.item())

    def theirs_step() -> float:
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(twin(xt), yt)
        loss.backward()
        topt.step()
        return float(loss.item())

    return {"ours": ours_step, "theirs": theirs_step, "model": ours}


def step_flops(model: Any, input_shape: tuple[int, ...]) -> float:
    """3 x the forward FLOPs of the analyzer (forward + input gradient + weight gradient)."""
    rep = analyze(model, input_shape)
    return 3.0 * 2.0 * float(rep.totals["macs"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9, help="timed steps per framework (median reported)")
    ap.add_argument("--quick", action="store_true", help="3 timed steps (a smoke run)")
    ap.add_argument("--only", default="", help="run only models whose name contains this text")
    ap.add_argument("--threads", type=int, default=0, help="pin BLAS, PyTorch and cvprimer to n threads")
    ap.add_argument("--cpu-time", action="store_true",
                    help="process CPU time instead of wall time (with --threads 1: insensitive to other load)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON output path")
    args = ap.parse_args(argv)
    repeat = 3 if args.quick else max(1, args.repeat)
    with blas_threads(args.threads or None):
        return _run(args, argv, repeat)


def _run(args: argparse.Namespace, argv: list[str] | None, repeat: int) -> int:
    from benchmarks.ops import write_json

    threads = current_blas_threads()
    torch.set_num_threads(threads)
    clock = time.process_time if args.cpu_time else time.perf_counter
    peak = gemm_gflops()
    header = (f"training steps, cvprimer vs PyTorch {torch.__version__} CPU, float32, SGD momentum; threads: "
              f"NumPy BLAS {threads}, torch {torch.get_num_threads()}; median of {repeat} steps "
              f"({'process CPU' if args.cpu_time else 'wall'} time); "
              f"GEMM peak {peak:.0f} GFLOP/s")
    print(header)
    print(f"{'model, input, batch':<32} {'ours ms':>9} {'torch ms':>9} {'ratio':>6} {'ours img/s':>10} "
          f"{'torch img/s':>11} {'GFLOP/s':>8} {'% peak':>7}")
    rows = []
    for spec in specs():
        if args.only and args.only not in spec["name"]:
            continue
        fns = build(spec)
        flops = step_flops(fns["model"], (1,) + spec["input"][1:]) * spec["input"][0]
        med = time_interleaved({"ours": fns["ours"], "theirs": fns["theirs"]}, repeat=repeat, warmup=2,
                               pause=PAUSE_S, clock=clock)
        n = spec["input"][0]
        row = dict(name=spec["name"], ours_ms=1e3 * med["ours"], torch_ms=1e3 * med["theirs"],
                   ratio=med["ours"] / med["theirs"], ours_img_s=n / med["ours"], torch_img_s=n / med["theirs"],
                   step_gflop=flops / 1e9, ours_gflops=flops / med["ours"] / 1e9)
        row["pct_peak"] = 100 * row["ours_gflops"] / peak
        rows.append(row)
        print(f"{row['name']:<32} {row['ours_ms']:9.1f} {row['torch_ms']:9.1f} {row['ratio']:6.2f} "
              f"{row['ours_img_s']:10.0f} {row['torch_img_s']:11.0f} {row['ours_gflops']:8.1f} "
              f"{row['pct_peak']:6.1f}%")
        sys.stdout.flush()
    write_json(args.out, {
        "header": header, "repeat": repeat, "gemm_peak_gflops": peak,
        "clock": "process" if args.cpu_time else "wall",
        "command": " ".join(["python -m benchmarks.steps"] + (argv if argv is not None else sys.argv[1:])),
        "threads": {"numpy_blas": threads, "torch": torch.get_num_threads()},
        "versions": {"numpy": np.__version__, "torch": torch.__version__, "python": platform.python_version()},
        "rows": rows, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
