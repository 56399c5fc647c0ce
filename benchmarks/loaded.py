"""Training steps on a loaded machine: every core kept busy by other processes, several thread settings.

Usage::

    python -m benchmarks.loaded [--repeat 5] [--only lenet] [--busy N] [--quiet]

While ``--busy`` other processes (default: ``os.cpu_count()``) each spin a core, one training step of each
model of :mod:`benchmarks.steps` (ResNet-20, LeNet-5, MobileNet v2, U-Net, ViT-tiny) and of a small MLP
(784-512-256-10, batch 256) is timed, wall clock, under these settings, interleaved round by round:

* ``defaults``  -- cvprimer as a user gets it (no thread setting touched);
* ``threads=1`` -- ``analysis.timing.blas_threads(1)``: the engine's pool and NumPy's BLAS at one thread;
* ``threads=2`` -- the same at two threads;
* ``torch``     -- the PyTorch twin with PyTorch's default intra-op threads;
* ``torch t=1`` -- the twin with ``torch.set_num_threads(1)``.

Each cell is the median of ``--repeat`` steps (after one warm-up round). The table gives the defaults'
ratio to the best cvprimer setting of the same run (target <= 1.1) and to the best PyTorch setting
(target <= 1.5). ``--quiet`` runs the same table without the busy processes (the defaults must keep the
quiet machine's speed too). JSON goes to ``benchmarks/results/loaded.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.analysis.timing import blas_threads, time_samples

RESULTS = Path(__file__).resolve().parent / "results" / "loaded.json"
TORCH_DEFAULT_THREADS = torch.get_num_threads()  # before tests/models/torch_twins.py pins it to 1


@contextmanager
def busy_cores(n: int) -> Iterator[list[int]]:
    """``n`` processes that each keep a core busy (a bare Python loop, nothing imported) for the block;
    yields their pids."""
    procs = [subprocess.Popen([sys.executable, "-S", "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5 if n else 0.0)  # let them start
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"loaded: busy process {p.pid} exited with status {p.returncode}")
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(5)


def mlp_spec() -> dict[str, Any]:
    """A small MLP step, the other case the issue names (784-512-256-10, batch 256)."""

    def ours(rng: np.random.Generator) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512, rng=rng), nn.ReLU(), nn.Linear(512, 256, rng=rng),
                             nn.ReLU(), nn.Linear(256, 10, rng=rng))

    def theirs() -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 512), torch.nn.ReLU(),
                                   torch.nn.Linear(512, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))

    return dict(name="mlp 784-512-256-10 b256", input=(256, 1, 28, 28), classes=10, rename=None, ours=ours,
                theirs=theirs)


def _copy_mlp(ours: nn.Module, twin: torch.nn.Module) -> None:
    mine = [p for p in ours.parameters()]
    for p, q in zip(mine, twin.parameters(), strict=True):
        with torch.no_grad():
            q.copy_(torch.from_numpy(np.ascontiguousarray(p.data)))


def build(spec: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """Our step and the twin's, on the same weights and batch (as :func:`benchmarks.steps.build`)."""
    if spec["name"].startswith("mlp"):
        rng = np.random.default_rng(0)
        ours, twin = spec["ours"](rng), spec["theirs"]()
        _copy_mlp(ours, twin)
        x = rng.standard_normal(spec["input"]).astype(np.float32)
        y = rng.integers(0, spec["classes"], spec["input"][0])
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

        return {"ours": ours_step, "theirs": theirs_step}
    from benchmarks.steps import build as build_step

    return build_step(spec)


def settings_fns(step: dict[str, Callable[[], Any]], torch_default: int) -> dict[str, Callable[[], Any]]:
    """The five timed variants of one model's step (each sets its own threads around the call)."""

    def ours_with(n: int | None) -> Callable[[], Any]:
        def run() -> None:
            with blas_threads(n):
                step["ours"]()
        return run

    def theirs_with(n: int) -> Callable[[], Any]:
        def run() -> None:
            torch.set_num_threads(n)
            step["theirs"]()
        return run

    return {"defaults": ours_with(None), "threads=1": ours_with(1), "threads=2": ours_with(2),
            "torch": theirs_with(torch_default), "torch t=1": theirs_with(1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="timed steps per setting (median reported)")
    ap.add_argument("--only", default="", help="run only models whose name starts with this text")
    ap.add_argument("--busy", type=int, default=-1, help="busy processes (default: os.cpu_count())")
    ap.add_argument("--quiet", action="store_true", help="no busy processes (the quiet-machine baseline)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON output path")
    args = ap.parse_args(argv)
    from benchmarks.ops import write_json
    from benchmarks.steps import specs

    n_busy = 0 if args.quiet else (os.cpu_count() or 1) if args.busy < 0 else args.busy
    torch_default = TORCH_DEFAULT_THREADS
    models = [s for s in [mlp_spec(), *specs()] if s["name"].startswith(args.only)]
    print(f"training steps under load: {n_busy} busy processes on {os.cpu_count()} CPUs; wall ms, median of "
          f"{args.repeat}; torch default threads {torch_default}")
    names = ["defaults", "threads=1", "threads=2", "torch", "torch t=1"]
    print(f"{'model':<32} " + " ".join(f"{n:>10}" for n in names) + f" {'def/best':>9} {'def/torch':>9}")
    rows = []
    for spec in models:
        step = build(spec)
        fns = settings_fns(step, torch_default)
        with busy_cores(n_busy):
            samples = time_samples(fns, repeat=args.repeat, warmup=1)
        torch.set_num_threads(torch_default)
        med = {k: float(np.median(v)) for k, v in samples.items()}
        best_ours = min(med["defaults"], med["threads=1"], med["threads=2"])
        best_torch = min(med["torch"], med["torch t=1"])
        row = dict(name=spec["name"], ms={k: 1e3 * v for k, v in med.items()},
                   samples_ms={k: [1e3 * t for t in v] for k, v in samples.items()},
                   defaults_vs_best=med["defaults"] / best_ours, defaults_vs_torch=med["defaults"] / best_torch)
        rows.append(row)
        print(f"{spec['name']:<32} " + " ".join(f"{1e3 * med[n]:10.1f}" for n in names)
              + f" {row['defaults_vs_best']:9.2f} {row['defaults_vs_torch']:9.2f}")
        sys.stdout.flush()
    write_json(args.out, {
        "busy_processes": n_busy, "cpus": os.cpu_count(), "repeat": args.repeat, "torch_default_threads": torch_default,
        "command": " ".join(["python -m benchmarks.loaded"] + (argv if argv is not None else sys.argv[1:])),
        "versions": {"numpy": np.__version__, "torch": torch.__version__, "python": platform.python_version()},
        "rows": rows, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
