"""The ``cvprimer analyze`` verb: argument parsing only (registered by :mod:`cvprimer.cli`)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from cvprimer.argtypes import non_negative_int, positive_float
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
    p.add_argument("model", metavar="SPEC",
                   help="the model: a zoo name (resnet18), your own builder function as FILE.py:FUNCTION "
                        "(my_model.py:build) or package.module:FUNCTION; it must return a cvprimer nn.Module")
    p.add_argument("--kwarg", action="append", default=None, metavar="NAME=VALUE",
                   help="a keyword argument for the builder, a Python literal (width=32, act=\"'relu'\", "
                        "sizes=(1,2)); repeat it for several")
    p.add_argument("--input", type=parse_shape, action="append", default=None, metavar="CxHxW",
                   help="input shape (default 3x224x224); repeat it for a model with several inputs")
    p.add_argument("--convention", default="torchvision", choices=("torchvision", "macs", "flops"),
                   help="headline number: torchvision 'GFLOPS' (= GMACs), MACs, or FLOPs = 2 x MACs + other")
    p.add_argument("--csv", default=None, metavar="PATH", help="write the per-layer table as CSV")
    p.add_argument("--json", default=None, metavar="PATH", help="write rows and totals as JSON")
    p.add_argument("--erf", type=non_negative_int, default=0, metavar="N",
                   help="also measure the effective receptive field with N random inputs (forward + backward each)")
    p.add_argument("--depth", type=non_negative_int, default=None, metavar="N",
                   help="show the module tree to depth N (torchinfo's layout: 1: the model's children, 2: theirs, "
                        "...), each row summing its sub-modules, with input/output shapes and kernels")
    p.add_argument("--peak-gflops", type=positive_float, default=None, metavar="X",
                   help="the machine's peak GFLOP/s for the roofline (nothing measured for it; not cached). "
                        "Otherwise it is measured once per machine and cached in $XDG_CACHE_HOME/cvprimer/peak.json")
    p.add_argument("--bandwidth-gbs", type=positive_float, default=None, metavar="X",
                   help="the machine's memory bandwidth in GB/s for the roofline (default: cached measurement)")
    p.add_argument("--remeasure-peak", action="store_true",
                   help="measure the machine's peak and bandwidth again and update the cache")
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
    from cvprimer.analysis.machine_cache import machine_profile
    from cvprimer.analysis.user_model import build_model, is_user_spec, parse_kwargs

    def profile() -> Any:  # measured (or read from the cache) only once the model has traced
        return machine_profile(args.peak_gflops, args.bandwidth_gbs, args.remeasure_peak)

    shapes = args.input or [(1, 3, 224, 224)]
    try:
        model = build_model(args.model, parse_kwargs(args.kwarg))
        rep = analyze(model, shapes if len(shapes) > 1 else shapes[0], convention=args.convention,
                      erf_samples=args.erf, profile=profile)
    except (ValueError, TypeError) as e:
        raise UserError(str(e).removeprefix("analyze: ")) from None
    except MemoryError as e:  # an op without a shape-only rule computing on a huge input, say
        raise UserError(f"ran out of memory analyzing {args.model!r} on input {shapes[0]}: {e}; try a smaller "
                        "--input") from None
    except Exception as e:
        if not is_user_spec(args.model):
            raise  # our own model failing is a bug: the internal-error boundary reports it
        text = str(e).strip().splitlines()
        raise UserError(f"running your model {args.model} on input {shapes[0]} raised {type(e).__name__}"
                        + (f": {text[0]}" if text else "")) from None
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
