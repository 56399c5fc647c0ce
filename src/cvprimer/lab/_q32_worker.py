r"""Question 32 on real MPI ranks: :func:`gradient_agreement` launches ``mpiexec -n W python -m
cvprimer.lab._q32_worker`` and returns rank 0's JSON report.

The worker (run on every rank) takes its ``B / W`` share of one float64 global batch of ``B`` random images, and
for a loss with ``reduction="mean"`` and one with ``"sum"`` all-reduces the gradients two ways (the mean over the
ranks, what data-parallel training communicates, and the sum); rank 0 compares both with the gradient of one
process on the whole batch. With ``g_r`` the gradient of rank ``r``'s loss and ``g`` the whole batch's:

- mean loss: ``g = (1/W) sum_r g_r``, so the mean over ranks is ``g`` (error ~1e-16) and the sum ``W g``
  (relative error ``W - 1``);
- sum loss: ``g = sum_r g_r``, so the sum is ``g`` and the mean ``g / W`` (relative error ``1 - 1/W``).

Errors are ``max |g_ranks - g| / max |g|``. The lab's ``q32-multi-device`` calls :func:`gradient_agreement`;
the library's part is :func:`cvprimer.distributed.allreduce_gradients`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from typing import Any

import numpy as np

INPUT_SHAPES = {"lenet5": (1, 32, 32), "resnet20": (3, 32, 32)}


def gradient_agreement(ranks: int = 2, batch_per_rank: int = 8, model: str = "lenet5",
                       timeout: float = 300.0) -> dict[str, Any]:
    r"""Run the worker on ``ranks`` MPI processes, ``batch_per_rank`` samples each (one BLAS thread per rank).

    Returns
    -------
    ``{"ranks": W, "model": name, "global_batch": B, "mean_loss": {"mean_over_ranks": e, "sum_over_ranks": e},
    "sum_loss": {...}}`` (the module docstring says what each error should be). RuntimeError with the launch's
    error output if it fails; ``subprocess.TimeoutExpired`` after ``timeout`` seconds (a hang is an error).
    """
    if ranks < 1 or batch_per_rank < 1:
        raise ValueError(f"gradient_agreement: ranks ({ranks}) and batch_per_rank ({batch_per_rank}) must be >= 1")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "q32.json")
        cmd = ["mpiexec", "-n", str(ranks), sys.executable, "-m", "cvprimer.lab._q32_worker", "--model", model,
               "--batch-size", str(batch_per_rank * ranks), "--out", out]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 or not os.path.exists(out):
            raise RuntimeError(f"gradient_agreement: {' '.join(cmd)} failed with status {proc.returncode}:\n"
                               f"{proc.stderr[-3000:]}")
        with open(out, encoding="utf-8") as f:
            return json.load(f)


def _worker(model: str, batch_size: int, out: str) -> None:
    import cvprimer as cp
    import cvprimer.functional as F
    from cvprimer.core.serialization import atomic_write
    from cvprimer.distributed import allreduce_gradients, init
    from cvprimer.models import get_model

    comm = init()
    shape = INPUT_SHAPES.get(model, (3, 32, 32))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch_size, *shape))
    y = rng.integers(0, 10, batch_size)
    mine = np.arange(batch_size)[comm.rank::comm.world_size]
    report: dict[str, Any] = {"ranks": comm.world_size, "model": model, "global_batch": batch_size}

    def grads(net: Any, idx: np.ndarray, reduction: str, op: str | None) -> np.ndarray:
        net.zero_grad()
        F.cross_entropy(net(cp.tensor(x[idx])), cp.tensor(y[idx]), reduction=reduction).backward()
        if op is not None:
            allreduce_gradients(net.parameters(), comm, op)
        return np.concatenate([p.grad.data.ravel() for p in net.parameters()])

    net = get_model(model, num_classes=10, in_channels=shape[0], rng=np.random.default_rng(1)).double()
    for reduction in ("mean", "sum"):
        g_mean, g_sum = grads(net, mine, reduction, "mean"), grads(net, mine, reduction, "sum")
        if comm.is_main:
            g_big = grads(net, np.arange(batch_size), reduction, None)
            scale = float(np.abs(g_big).max())
            report[f"{reduction}_loss"] = {"mean_over_ranks": float(np.abs(g_mean - g_big).max()) / scale,
                                           "sum_over_ranks": float(np.abs(g_sum - g_big).max()) / scale}
    if comm.is_main:
        atomic_write(out, json.dumps(report, indent=2))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m cvprimer.lab._q32_worker",
                                description="question 32's gradient agreement on the MPI ranks (run under mpiexec)")
    p.add_argument("--model", default="lenet5")
    p.add_argument("--batch-size", type=int, default=16, help="global batch (split over the ranks)")
    p.add_argument("--out", required=True, help="JSON written by rank 0")
    args = p.parse_args(argv)
    _worker(args.model, args.batch_size, args.out)


if __name__ == "__main__":  # pragma: no cover - run by gradient_agreement under mpiexec
    main()
