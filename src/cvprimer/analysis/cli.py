"""The ``cvprimer analyze`` verb: argument parsing only (registered by :mod:`cvprimer.cli`)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from cvprimer.argtypes import non_negative_int, positive_int
from cvprimer.errors import UserError


def parse_shape(text: str) -> tuple[int, ...]:
    """``"3x224x224"`` -> (1, 3, 224, 224); ``"8x3x32x32"`` keeps its batch axis."""
    try:
        dims = tuple(int(t) for t in text.lower().replace(",", "x").split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--input must look like 3x224x224, got {text!r}") from None
    if len(dims) not in (3, 4) or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"--input must be CxHxW or NxCxHxW with positive sizes, got {text!r}")
    return dims if len(dims) == 4 else (1,) + dims


def add_parser(sub: Any) -> None:
    p = sub.add_parser("analyze", help="per-layer cost, parameters, memory, receptive field and roofline of a model")
    p.add_argument("model", help="zoo model name (e.g. resnet18)")
    p.add_argument("--input", type=parse_shape, action="append", default=None, metavar="CxHxW",
                   help="input shape (default 3x224x224); repeat it for a model with several inputs")
    p.add_argument("--convention", default="torchvision", choices=("torchvision", "macs", "flops"),
                   help="headline number: torchvision 'GFLOPS' (= GMACs), MACs, or FLOPs = 2 x MACs + other")
    p.add_argument("--csv", default=None, metavar="PATH", help="write the per-layer table as CSV")
    p.add_argument("--json", default=None, metavar="PATH", help="write rows and totals as JSON")
    p.add_argument("--erf", type=non_negative_int, default=0, metavar="N",
                   help="also measure the effective receptive field with N random inputs (forward + backward each)")
    p.add_argument("--depth", type=positive_int, default=None, metavar="N",
                   help="subtotals over the module tree cut at N dotted levels (e.g. 1: per stage)")
    p.add_argument("--plots", default=None, metavar="PREFIX",
                   help="write PREFIX-costs.png and PREFIX-roofline.png (needs matplotlib)")


def _writable(flag: str, path: str) -> None:
    """Fail before the analysis when an output file cannot be written (missing folder, a folder, read-only)."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UserError(f"{flag} {path!r} is a folder; give a file path")
    if not os.path.isdir(folder):
        raise UserError(f"{flag} {path!r}: the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise UserError(f"{flag} {path!r}: the folder {folder!r} is not writable")


def run(args: argparse.Namespace) -> int:
    from cvprimer.analysis import analyze

    outputs = [("--csv", args.csv), ("--json", args.json)]
    if args.plots:
        from cvprimer.errors import require_all

        require_all(("matplotlib",), what="--plots")  # one line naming the extra, before the analysis
        outputs += [("--plots", f"{args.plots}-costs.png"), ("--plots", f"{args.plots}-roofline.png")]
    for flag, path in outputs:
        if path:
            _writable(flag, path)
    try:
        shapes = args.input or [(1, 3, 224, 224)]
        rep = analyze(args.model, shapes if len(shapes) > 1 else shapes[0], convention=args.convention,
                      erf_samples=args.erf)
    except (ValueError, TypeError) as e:
        raise UserError(str(e).removeprefix("analyze: ")) from None
    print(rep.table(depth=args.depth))
    writes = [("--csv", args.csv, rep.to_csv), ("--json", args.json, rep.to_json)]
    if args.plots:
        writes += [("--plots", f"{args.plots}-costs.png", rep.plot_costs),
                   ("--plots", f"{args.plots}-roofline.png", rep.plot_roofline)]
    for flag, path, write in writes:
        if not path:
            continue
        try:
            write(path)
        except OSError as e:  # a full disk, /proc, ...: name the file the user asked for, not a temporary one
            raise UserError(f"{flag}: cannot write {path!r}: {e.strerror or e}") from None
    return 0
