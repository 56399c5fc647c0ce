"""``cvprimer <verb>``: argument parsing only; each verb calls the library."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _add_demo(sub: Any) -> None:
    p = sub.add_parser("demo", help="train a small network on scikit-learn's digits and print the loss")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=64)
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
    p.add_argument("--quiet", action="store_true")


def _run_train(args: argparse.Namespace) -> int:
    from cvprimer.train.run import TrainConfig, run_training

    if args.resume:
        summary = run_training(resume=args.resume, verbose=not args.quiet)
    else:
        cfg = TrainConfig(
            model=args.model, dataset=args.dataset, val_fraction=args.val_fraction, resize=args.resize,
            epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
            momentum=args.momentum, weight_decay=args.weight_decay, l1=args.l1, dropout=args.dropout,
            schedule=args.schedule, warmup_epochs=args.warmup_epochs,
            augment=[a for a in args.augment.split(",") if a], imbalance=args.imbalance,
            label_smoothing=args.label_smoothing, early_stopping=args.early_stopping, seed=args.seed)
        summary = run_training(cfg, run_dir=args.run_dir, verbose=not args.quiet)
    return 1 if summary["error"] else 0


VERBS = {"demo": (_add_demo, _run_demo), "train": (_add_train, _run_train)}


def _add_analyze(sub: Any) -> None:
    from cvprimer.analysis.cli import add_parser

    add_parser(sub)


def _run_analyze(args: argparse.Namespace) -> int:
    from cvprimer.analysis.cli import run

    return run(args)


VERBS["analyze"] = (_add_analyze, _run_analyze)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cvprimer", description="CV deep-learning fundamentals, runnable.")
    sub = parser.add_subparsers(dest="verb", required=True)
    for add, _ in VERBS.values():
        add(sub)
    args = parser.parse_args(argv)
    return VERBS[args.verb][1](args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
