"""``cvprimer <verb>``: argument parsing only; each verb calls the library."""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import Any

from cvprimer.argtypes import positive_float, positive_int


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

    run_demo(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed)
    return 0


def _add_train(sub: Any) -> None:
    from cvprimer.train.run import AUGMENTS, IMBALANCE, OPTIMIZERS, SCHEDULES, TrainConfig

    d = TrainConfig()
    p = sub.add_parser("train", help="train a zoo model on an embedded or user dataset; writes a run folder")
    p.add_argument("--model", default=d.model, help="zoo model name (default %(default)s)")
    p.add_argument("--dataset", default=d.dataset,
                   help="embedded dataset (digits, mnist_sample) or an image-folder path (default %(default)s)")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    p.add_argument("--resize", type=int, default=None, help="resize images to SxS (e.g. 32 for LeNet-5 on digits)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--optimizer", default=d.optimizer, choices=sorted(OPTIMIZERS))
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="L2 penalty (decoupled for adamw)")
    p.add_argument("--l1", type=float, default=d.l1, help="L1 penalty on the weights")
    p.add_argument("--dropout", type=float, default=None, help="dropout probability, for models that take one")
    p.add_argument("--schedule", default=d.schedule, choices=SCHEDULES)
    p.add_argument("--warmup-epochs", type=float, default=d.warmup_epochs)
    p.add_argument("--augment", default="", help=f"comma-separated, from {','.join(AUGMENTS)}")
    p.add_argument("--imbalance", default=d.imbalance, choices=IMBALANCE)
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--run-dir", default=None, help="output folder (default runs/<model>-<dataset>-<time>)")
    p.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue an interrupted run")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the MPI ranks (run under `mpiexec -n N`; one process without it); "
                        "--batch-size is the global batch")
    p.add_argument("--quiet", action="store_true")


def _run_train(args: argparse.Namespace) -> int:
    import contextlib

    from cvprimer.train.run import TrainConfig, run_training

    guard: Any = contextlib.nullcontext()
    if args.distributed:  # one rank's error must end every rank (MPI_Abort), never leave them waiting
        from cvprimer.distributed import abort_on_error

        guard = abort_on_error()
    with guard:
        if args.resume:
            summary = run_training(resume=args.resume, verbose=not args.quiet, distributed=args.distributed)
        else:
            cfg = TrainConfig(
                model=args.model, dataset=args.dataset, val_fraction=args.val_fraction, resize=args.resize,
                epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                momentum=args.momentum, weight_decay=args.weight_decay, l1=args.l1, dropout=args.dropout,
                schedule=args.schedule, warmup_epochs=args.warmup_epochs,
                augment=[a for a in args.augment.split(",") if a], imbalance=args.imbalance,
                label_smoothing=args.label_smoothing, early_stopping=args.early_stopping, seed=args.seed)
            summary = run_training(cfg, run_dir=args.run_dir, verbose=not args.quiet, distributed=args.distributed)
    return 1 if summary["error"] else 0


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
    Ctrl-C prints one line and returns 130; any other exception is an internal error: its traceback is shown
    with a line asking to report it, and the status is 1.
    """
    from cvprimer.errors import UserError

    parser = _Parser(prog="cvprimer", description="CV deep-learning fundamentals, runnable.")
    sub = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)
    for add, _ in VERBS.values():
        add(sub)
    args = parser.parse_args(argv)
    try:
        return VERBS[args.verb][1](args)
    except UserError as e:
        print(f"cvprimer {args.verb}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cvprimer {args.verb}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a program that closed early (e.g. `| head`)
        return 0
    except Exception:
        traceback.print_exc()
        print(f"cvprimer {args.verb}: internal error (the traceback above); please report it", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
