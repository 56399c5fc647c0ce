r"""Short N-rank runs for measurements: :func:`measure_step` (time per step, bytes communicated,
communication share) and :func:`gradient_agreement` (question 32: what the all-reduce communicates,
compared with the large-batch gradient). Both launch ``mpiexec -n N`` on this module and return rank 0's
JSON report.

The worker (``python -m cvprimer.distributed.measure ...``, run on every rank) builds the model, feeds
random inputs of the model's size with a fixed GLOBAL batch split evenly over the ranks, and times
``steps`` SGD steps (forward, backward with the gradient buckets' all-reduce started as they fill unless
``--no-overlap``, the wait for it, update) after ``warmup`` untimed ones,
with BLAS and the conv worker pool held to ``threads`` threads per rank. Rank 0 writes JSON:

- ``step_s``: median wall time of a step (every rank steps in lock-step, so rank 0's time is the job's);
- ``comm_s``: median time per step inside collectives, which includes waiting for the slower rank;
- ``comm_share`` = comm_s / step_s;
- ``allreduce_s``: median time of the gradient ``Allreduce`` alone, started right after a barrier (the
  transfer without the wait), and ``allreduce_share`` = allreduce_s / step_s;
- ``allreduce_bytes``: bytes this rank handed to Allreduce per step (the gradient payload), and
  ``ring_bytes_per_rank`` = 2 (N - 1) / N x that, what a ring all-reduce sends per rank.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

INPUT_SHAPES = {"lenet5": (1, 32, 32), "resnet20": (3, 32, 32)}


def measure_step(model: str = "lenet5", ranks: int = 2, batch_size: int = 64, steps: int = 10, warmup: int = 2,
                 threads: int | None = None, total_threads: int = 2, sync_bn: bool = False,
                 timeout: float = 600.0, overlap: bool = True) -> dict[str, Any]:
    """Launch ``mpiexec -n ranks`` timing ``steps`` data-parallel steps of ``model``; returns rank 0's report.

    Parameters
    ----------
    model : zoo name (input ``(C, 32, 32)``, C from :data:`INPUT_SHAPES`, else 3)
    ranks : number of MPI processes
    batch_size : the GLOBAL batch (each rank gets ``batch_size / ranks``; must divide)
    threads : BLAS/conv threads per rank (default ``max(1, total_threads // ranks)``)
    sync_bn : convert the model's batch norms to :class:`~cvprimer.distributed.SyncBatchNorm`
    overlap : gradient buckets all-reduced during backward (``DataParallel(overlap=True)``, the default) or
        one blocking all-reduce after it
    timeout : seconds before the launch is killed (a hang is an error, never a wait)

    Returns
    -------
    dict: the module docstring's fields plus ``model``, ``ranks``, ``threads``, ``batch_size``, ``steps``.
    """
    if ranks < 1 or batch_size % ranks:
        raise ValueError(f"measure_step: batch_size ({batch_size}) must be a multiple of ranks ({ranks}) >= 1")
    threads = threads or max(1, total_threads // ranks)
    args = ["--model", model, "--batch-size", str(batch_size), "--steps", str(steps), "--warmup", str(warmup)]
    args += ["--sync-bn"] if sync_bn else []
    args += [] if overlap else ["--no-overlap"]
    return _launch(ranks, args, threads, timeout)


def _launch(ranks: int, worker_args: list[str], threads: int, timeout: float) -> dict[str, Any]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "measure.json")
        cmd = ["mpiexec", "-n", str(ranks), sys.executable, "-m", "cvprimer.distributed.measure", *worker_args,
               "--threads", str(threads), "--out", out]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 or not os.path.exists(out):
            raise RuntimeError(f"cvprimer.distributed.measure: {' '.join(cmd)} failed with status "
                               f"{proc.returncode}:\n{proc.stderr[-3000:]}")
        with open(out, encoding="utf-8") as f:
            return json.load(f)


def gradient_agreement(ranks: int = 2, batch_per_rank: int = 8, model: str = "lenet5",
                       timeout: float = 300.0) -> dict[str, Any]:
    r"""Question 32 on real ranks: the communicated gradient against the one-process large-batch gradient.

    Each of ``ranks`` processes takes ``batch_per_rank`` of the same float64 global batch; for a loss with
    ``reduction="mean"`` and one with ``"sum"`` it reports the relative max error, against the gradient of
    one process on the whole global batch, of (a) the mean over ranks (what data-parallel training
    communicates) and (b) the sum over ranks.

    Returns
    -------
    ``{"ranks": W, "mean_loss": {"mean_over_ranks": e, "sum_over_ranks": e}, "sum_loss": {...}}``: for the
    mean loss (a) is ~1e-16 and (b) is W - 1 (W times too large); for the sum loss (a) is 1 - 1/W and (b) ~1e-16.
    """
    return _launch(ranks, ["--q32", "--model", model, "--batch-size", str(batch_per_rank * ranks)], 1, timeout)


def _q32_worker(args: argparse.Namespace) -> None:
    import cvprimer as cp
    import cvprimer.functional as F
    from cvprimer.distributed import allreduce_gradients, init
    from cvprimer.models import get_model

    comm = init()
    shape = INPUT_SHAPES.get(args.model, (3, 32, 32))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch_size, *shape))
    y = rng.integers(0, 10, args.batch_size)
    mine = np.arange(args.batch_size)[comm.rank::comm.world_size]
    report: dict[str, Any] = {"ranks": comm.world_size, "model": args.model, "global_batch": args.batch_size}

    def grads(net: Any, idx: np.ndarray, reduction: str, op: str | None) -> np.ndarray:
        net.zero_grad()
        F.cross_entropy(net(cp.tensor(x[idx])), cp.tensor(y[idx]), reduction=reduction).backward()
        if op is not None:
            allreduce_gradients(net.parameters(), comm, op)
        return np.concatenate([p.grad.data.ravel() for p in net.parameters()])

    net = get_model(args.model, num_classes=10, in_channels=shape[0], rng=np.random.default_rng(1)).double()
    for reduction in ("mean", "sum"):
        g_mean, g_sum = grads(net, mine, reduction, "mean"), grads(net, mine, reduction, "sum")
        if comm.is_main:
            g_big = grads(net, np.arange(args.batch_size), reduction, None)
            scale = float(np.abs(g_big).max())
            report[f"{reduction}_loss"] = {"mean_over_ranks": float(np.abs(g_mean - g_big).max()) / scale,
                                           "sum_over_ranks": float(np.abs(g_sum - g_big).max()) / scale}
    if comm.is_main:
        from cvprimer.core.serialization import atomic_write

        atomic_write(args.out, json.dumps(report, indent=2))


def _worker(args: argparse.Namespace) -> None:
    import cvprimer as cp
    import cvprimer.functional as F
    from cvprimer import optim
    from cvprimer.analysis.timing import blas_threads
    from cvprimer.distributed import DataParallel, broadcast_optimizer, bytes_per_step, convert_sync_batchnorm, init
    from cvprimer.models import get_model

    comm = init()
    if args.batch_size % comm.world_size:
        raise ValueError(f"measure: batch size {args.batch_size} is not a multiple of {comm.world_size} ranks")
    shape = INPUT_SHAPES.get(args.model, (3, 32, 32))
    net = get_model(args.model, num_classes=10, in_channels=shape[0], rng=np.random.default_rng(0))
    if args.sync_bn:
        net = convert_sync_batchnorm(net, comm)
    model = DataParallel(net, comm, overlap=not args.no_overlap)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    broadcast_optimizer(opt, comm)
    b = args.batch_size // comm.world_size
    rng = np.random.default_rng(1 + comm.rank)
    x = rng.standard_normal((b, *shape)).astype(np.float32)
    y = rng.integers(0, 10, b)
    step_t, comm_t, sent = [], [], []
    with blas_threads(args.threads):
        for i in range(args.warmup + args.steps):
            comm.barrier()  # start every step together: the time is the step's, not leftover skew
            c0, t0 = comm.stats["comm_time"], time.perf_counter()
            opt.zero_grad()
            F.cross_entropy(model(cp.tensor(x)), cp.tensor(y)).backward()
            n = model.allreduce_gradients()
            opt.step()
            if i >= args.warmup:
                step_t.append(time.perf_counter() - t0)
                comm_t.append(comm.stats["comm_time"] - c0)
                sent.append(n)
    pure = []  # the transfer alone: the same Allreduce payload, every rank ready
    for _ in range(10 if comm.world_size > 1 else 0):
        comm.barrier()
        c0 = comm.stats["comm_time"]
        model.allreduce_gradients()
        pure.append(comm.stats["comm_time"] - c0)
    if comm.is_main:
        step, cm = float(np.median(step_t)), float(np.median(comm_t))
        ar = float(np.median(pure)) if pure else 0.0
        info = bytes_per_step(net, comm.world_size)
        report = {"model": args.model, "ranks": comm.world_size, "threads": args.threads,
                  "overlap": not args.no_overlap,
                  "batch_size": args.batch_size, "per_rank_batch": b, "steps": args.steps, "sync_bn": args.sync_bn,
                  "step_s": step, "comm_s": cm, "comm_share": cm / step,
                  "allreduce_s": ar, "allreduce_share": ar / step, "allreduce_bytes": int(np.median(sent)),
                  "gradient_bytes": info["gradient_bytes"], "ring_bytes_per_rank": info["ring_bytes_per_rank"],
                  "sync_bn_bytes": info["sync_bn_bytes"], "samples_per_s": args.batch_size / step}
        from cvprimer.core.serialization import atomic_write

        atomic_write(args.out, json.dumps(report, indent=2))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m cvprimer.distributed.measure",
                                description="time data-parallel steps (run under mpiexec)")
    p.add_argument("--model", default="lenet5")
    p.add_argument("--batch-size", type=int, default=64, help="global batch")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="BLAS/conv threads per rank")
    p.add_argument("--sync-bn", action="store_true")
    p.add_argument("--no-overlap", action="store_true", help="one blocking all-reduce after backward")
    p.add_argument("--q32", action="store_true", help="report gradient agreement instead (gradient_agreement)")
    p.add_argument("--out", required=True, help="JSON written by rank 0")
    args = p.parse_args(argv)
    (_q32_worker if args.q32 else _worker)(args)


if __name__ == "__main__":  # pragma: no cover - run by measure_step under mpiexec
    main()
