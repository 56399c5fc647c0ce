"""Start-up time of the command line: ``cvprimer --help``, each verb's ``--help``, an argument error and
``--version``, as the console script runs them (through :mod:`_cvprimer_launch`), against Python itself and
``import cvprimer``.

Usage::

    python -m benchmarks.cli_startup [--repeat 5] [--json PATH]

Each command runs ``--repeat`` times in a fresh interpreter (``sys.executable``, so a pyenv shim's own start-up
is not counted); the table shows the median and the fastest wall time in seconds, the exit status, and whether
NumPy was imported. Writes JSON to ``benchmarks/results/cli_startup.json``. The target (issue 26) is a median
under 0.5 s for every ``--help`` and argument error. On a loaded machine the wall times swing; the NumPy
column does not (``tests/test_cli_startup.py`` checks it).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "cli_startup.json"

# the console script's own code, with a line on stderr saying whether NumPy was loaded
_LAUNCH = ("import atexit, sys\n"
           "atexit.register(lambda: sys.stderr.write('\\nNUMPY=%d\\n' % ('numpy' in sys.modules)))\n"
           "from _cvprimer_launch import main\nsys.exit(main(sys.argv[1:]))\n")

CASES: list[tuple[str, list[str]]] = [
    ("python -c pass (baseline)", [sys.executable, "-c", "pass"]),
    ("python -c 'import numpy'", [sys.executable, "-c", "import numpy"]),
    ("python -c 'import cvprimer'", [sys.executable, "-c", "import cvprimer"]),
    *[(f"cvprimer {' '.join(a)}", [sys.executable, "-c", _LAUNCH, *a]) for a in (
        ["--help"], ["--version"], ["demo", "--help"], ["train", "--help"], ["analyze", "--help"], ["lab", "--help"],
        ["lab", "run", "--help"], ["demo", "--epochs", "0"], ["analyze", "resnet18", "--erf", "-1"], ["bogus"])],
]


def time_case(cmd: list[str], repeat: int) -> dict:
    walls, codes, numpy = [], set(), set()
    for _ in range(repeat):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        codes.add(p.returncode)
        if "NUMPY=" in p.stderr:
            numpy.add(p.stderr.rsplit("NUMPY=", 1)[1].strip() == "1")
    return {"median_s": statistics.median(walls), "min_s": min(walls), "exit": sorted(codes),
            "numpy": None if not numpy else any(numpy)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per command (default 5)")
    ap.add_argument("--json", type=Path, default=RESULTS, help="JSON output path")
    args = ap.parse_args(argv)
    rows = []
    print(f"{'command':<46} {'median s':>9} {'min s':>7}  exit  numpy")
    for name, cmd in CASES:
        r = time_case(cmd, args.repeat)
        rows.append({"command": name, **r})
        np_col = "-" if r["numpy"] is None else ("yes" if r["numpy"] else "no")
        print(f"{name:<46} {r['median_s']:9.3f} {r['min_s']:7.3f}  {','.join(map(str, r['exit'])):>4}  {np_col}",
              flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"repeat": args.repeat, "python": sys.version.split()[0],
                                     "machine": platform.machine(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
