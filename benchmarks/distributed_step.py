"""Data-parallel step time on this machine: 1 rank vs 2 ranks, the same global batch, 2 threads in total.

For each model and configuration, :func:`cvprimer.distributed.measure_step` launches ``mpiexec -n R``
(R ranks with T BLAS and conv threads each), runs ``--warmup`` untimed and ``--steps`` timed SGD steps on
random inputs (forward, backward, bucketed gradient all-reduce, update) and reports rank 0's median step
time, the median time inside collectives (communication plus waiting for the other rank; with overlap, the
time spent starting buckets during backward and waiting for them after it), the time of the
gradient ``Allreduce`` alone (started after a barrier: the transfer without the wait) and the bytes handed
to ``Allreduce``. "1 rank x 1 thread" is the serial baseline of the speed-ups. Configurations are
interleaved and repeated ``--repeats`` times (the table shows medians over the repeats), so background
load on a shared machine hits all of them alike.

    python benchmarks/distributed_step.py                       # LeNet-5 and ResNet-20, batch 64
    python benchmarks/distributed_step.py --models lenet5 --steps 20 --repeats 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics

from cvprimer.distributed import measure_step

CONFIGS = {"1 rank x 1 thread": {"ranks": 1, "threads": 1, "sync_bn": False},
           "1 rank x 2 threads": {"ranks": 1, "threads": 2, "sync_bn": False},
           "2 ranks x 1 thread, overlap": {"ranks": 2, "threads": 1, "sync_bn": False, "overlap": True},
           "2 ranks x 1 thread, blocking": {"ranks": 2, "threads": 1, "sync_bn": False, "overlap": False},
           "2 ranks x 1 thread, SyncBN": {"ranks": 2, "threads": 1, "sync_bn": True}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="lenet5,resnet20")
    ap.add_argument("--batch-size", type=int, default=64, help="global batch")
    ap.add_argument("--steps", type=int, default=0, help="timed steps (default: 20 for lenet5, 5 otherwise)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None, help="also write every measurement here")
    ap.add_argument("--configs", default="", help="';'-separated configuration names to run besides the 1 x 1 "
                                                  "baseline (default: all)")
    args = ap.parse_args()
    rows, raw = [], []
    for model in args.models.split(","):
        steps = args.steps or (20 if model == "lenet5" else 5)
        configs = {k: v for k, v in CONFIGS.items() if not v["sync_bn"] or model != "lenet5"}  # LeNet has no BN
        if args.configs:
            keep = {c.strip() for c in args.configs.split(";")} | {"1 rank x 1 thread"}
            unknown = keep - set(CONFIGS)
            if unknown:
                ap.error(f"--configs: unknown configuration {sorted(unknown)[0]!r}; known: {sorted(CONFIGS)}")
            configs = {k: v for k, v in configs.items() if k in keep}
        runs: dict[str, list[dict]] = {k: [] for k in configs}
        for _ in range(args.repeats):
            for name, cfg in configs.items():
                m = measure_step(model, batch_size=args.batch_size, steps=steps, warmup=args.warmup, **cfg)
                runs[name].append(m)
                raw.append({"config": name, **m})
        base = statistics.median(m["step_s"] for m in runs["1 rank x 1 thread"])
        for name, ms in runs.items():
            step = statistics.median(m["step_s"] for m in ms)
            comm = statistics.median(m["comm_s"] for m in ms)
            pure = statistics.median(m["allreduce_s"] for m in ms)
            rows.append((model, name, step, base / step, comm, comm / step, pure, pure / step,
                         ms[0]["allreduce_bytes"], ms[0]["sync_bn_bytes"]))
    print(f"global batch {args.batch_size}; medians of {args.repeats} interleaved launches\n")
    print("| model | configuration | step (ms) | speed-up vs 1x1 | in collectives (ms) | share of step | "
          "Allreduce alone (ms) | share of step | Allreduce payload (bytes/step/rank) | SyncBN (bytes/step/rank) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for model, name, step, speed, comm, share, pure, pshare, nbytes, sbn in rows:
        print(f"| {model} | {name} | {step * 1e3:.1f} | {speed:.2f}x | {comm * 1e3:.2f} | {share:.1%} | "
              f"{pure * 1e3:.2f} | {pshare:.1%} | {nbytes:,} | {sbn:,} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(raw, f, indent=1)


if __name__ == "__main__":
    main()
