r"""A short N-rank run for measurements: :func:`measure_step` (time per step, bytes communicated,
communication share) launches ``mpiexec -n N`` on this module and returns rank 0's JSON report. (Question
32's gradient agreement on real ranks is the lab's: :mod:`cvprimer.lab._q32_worker`.)

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
    p.add_argument("--out", required=True, help="JSON written by rank 0")
    args = p.parse_args(argv)
    _worker(args)


if __name__ == "__main__":  # pragma: no cover - run by measure_step under mpiexec
    main()
