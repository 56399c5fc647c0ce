"""Wall time of the lab: ``cvprimer lab run --all --quick --seeds 3`` (what ``cvprimer lab`` runs) from an empty
folder, per experiment too.

Usage::

    python -m benchmarks.lab_time [--out DIR] [--top 10] [--full] [--seeds 3] [--jobs N]

Runs the lab in a fresh output folder (nothing cached), times the whole command, then reads each
experiment's own ``seconds`` from ``results.json`` and prints the total, the slowest experiments
and the sum by topic. Writes JSON to ``benchmarks/results/lab_time.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "lab_time.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="lab output folder (default: a fresh temporary one)")
    ap.add_argument("--top", type=int, default=10, help="how many of the slowest experiments to list")
    ap.add_argument("--full", action="store_true", help="full mode instead of quick")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per stochastic experiment (default 3, as cvprimer lab)")
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default: the usable cores)")
    ap.add_argument("--json", type=Path, default=RESULTS, help="JSON output path")
    args = ap.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="cvprimer-lab-")) / "lab"
    cmd = [sys.executable, "-m", "cvprimer", "lab", "run", "--all", "--full" if args.full else "--quick",
           "--seeds", str(args.seeds), "--force", "--out", str(out)] + (["--jobs", str(args.jobs)] if args.jobs else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        print(f"lab run failed with exit code {proc.returncode} after {wall:.1f} s")
        return 1
    subprocess.run([sys.executable, "-m", "cvprimer", "lab", "report", "--out", str(out)], check=True,
                   capture_output=True)
    doc = json.loads((out / "results.json").read_text())
    exps = [(e["id"], e.get("topic", "?"), float(e.get("seconds") or 0.0)) for e in doc["experiments"]]
    by_topic: dict[str, float] = defaultdict(float)
    for _, topic, s in exps:
        by_topic[topic] += s
    print(f"cvprimer lab run --all {'--full' if args.full else '--quick'} --seeds {args.seeds}: {wall:.1f} s wall "
          f"({len(exps)} experiments, {sum(s for *_, s in exps):.1f} s inside them, all seeds)")
    print("slowest:")
    for eid, topic, s in sorted(exps, key=lambda e: -e[2])[: args.top]:
        print(f"  {eid:<40} {topic:<14} {s:7.1f} s")
    print("by topic:")
    for topic, s in sorted(by_topic.items(), key=lambda kv: -kv[1]):
        print(f"  {topic:<20} {s:7.1f} s")
    from benchmarks.ops import write_json

    write_json(args.json, {"command": " ".join(["python -m benchmarks.lab_time"] + (argv or sys.argv[1:])),
                           "wall_s": wall, "experiments": [dict(id=i, topic=t, seconds=s) for i, t, s in exps],
                           "by_topic": by_topic})
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
