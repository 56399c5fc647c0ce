"""``cvprimer <verb>``: argument parsing only; each verb calls the library."""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import Any

from cvprimer.argtypes import positive_float, positive_int
from cvprimer.errors import UserError


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``cvprimer <verb>: <message>`` and exit status 2 (no usage dump)."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _add_demo(sub: Any) -> None:
    p = sub.add_parser("demo", help="train a small network on scikit-learn's digits and print the loss")
    p.add_argument("--epochs", type=positive_int, default=15)
    p.add_argument("--lr", type=positive_float, default=0.1)
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--seed", type=int, default=0)


def _run_demo(args: argparse.Namespace) -> int:
    from cvprimer.demo import run_demo

    out = run_demo(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed)
    d = out["diverged"]
    if d is not None:  # status 1, as a NaN stop of `cvprimer train`
        print(f"cvprimer demo: training diverged (loss {d['loss']} at epoch {d['epoch']}, step {d['step']}); "
              f"--lr {args.lr:g} is too large, try a smaller one (the default is 0.1)", file=sys.stderr)
        return 1
    return 0


def _add_train(sub: Any) -> None:
    from cvprimer.train.cli import add_parser

    add_parser(sub)


def _run_train(args: argparse.Namespace) -> int:
    from cvprimer.train.cli import run

    return run(args)


VERBS = {"demo": (_add_demo, _run_demo), "train": (_add_train, _run_train)}


def _add_analyze(sub: Any) -> None:
    from cvprimer.analysis.cli import add_parser

    add_parser(sub)


def _run_analyze(args: argparse.Namespace) -> int:
    from cvprimer.analysis.cli import run

    return run(args)


VERBS["analyze"] = (_add_analyze, _run_analyze)


def _add_lab(sub: Any) -> None:
    from cvprimer.lab.cli import add_parser

    add_parser(sub)


def _run_lab(args: argparse.Namespace) -> int:
    from cvprimer.lab.cli import run

    return run(args)


VERBS["lab"] = (_add_lab, _run_lab)


def main(argv: list[str] | None = None) -> int:
    """Parse and run one verb inside the error boundary.

    A :class:`~cvprimer.errors.UserError` prints one line ``cvprimer <verb>: <message>`` to stderr and returns 2;
    Ctrl-C prints one line and returns 130, also while the verbs' modules are imported and the arguments parsed
    (a ``KeyboardInterrupt`` raised with a message, e.g. by ``lab run``, prints that message instead of
    "interrupted"); any other exception is an internal error: its traceback is shown with a line asking to
    report it, and the status is 1.
    """
    verb = "cvprimer"
    try:
        parser = _Parser(prog="cvprimer", description="CV deep-learning fundamentals, runnable.")
        sub = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)
        for add, _ in VERBS.values():
            add(sub)
        args = parser.parse_args(argv)
        verb = f"cvprimer {args.verb}"
        return VERBS[args.verb][1](args)
    except UserError as e:
        print(f"{verb}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"{verb}: {str(e) or 'interrupted'}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a program that closed early (e.g. `| head`)
        return 0
    except Exception:
        traceback.print_exc()
        print(f"{verb}: internal error (the traceback above); please report it", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
