"""The ``cvprimer train`` verb: argument parsing and exit codes only (registered by :mod:`cvprimer.cli`).

Every flag value is checked by its argparse type, then the whole configuration by ``TrainConfig.validate``,
before anything is loaded, built or written. User errors (a bad value, a dataset or run folder that cannot be
used, a checkpoint that does not fit) raise :class:`~cvprimer.errors.UserError`: one line, exit status 2.
A run stopped by Ctrl-C exits 130 and says how to resume; a run stopped by the NaN guard exits 1 with the
reason; both still write ``summary.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from cvprimer.argtypes import fraction, non_negative_float, positive_float, positive_int, probability, seed_int
from cvprimer.errors import UserError, require_all

# the flags a resumed run cannot change (it continues its saved configuration); --epochs may extend it
_FIXED_ON_RESUME = ("model", "dataset", "val_fraction", "resize", "batch_size", "optimizer", "lr", "momentum",
                    "weight_decay", "l1", "dropout", "schedule", "warmup_epochs", "augment", "imbalance",
                    "label_smoothing", "early_stopping", "seed", "run_dir", "overwrite", "eval_every",
                    "train_eval", "tensorboard", "find_lr")


def add_parser(sub: Any) -> None:
    from cvprimer.train.config import AUGMENTS, IMBALANCE, OPTIMIZER_NAMES, SCHEDULES, TRAIN_EVAL, TrainConfig

    d = TrainConfig()
    p = sub.add_parser("train", help="train a zoo model on an embedded or user dataset; writes a run folder")
    p.add_argument("--model", default=d.model, help="zoo model name (default %(default)s)")
    p.add_argument("--dataset", default=d.dataset,
                   help="embedded dataset (digits, mnist_sample) or an image-folder path (default %(default)s)")
    p.add_argument("--val-fraction", type=fraction, default=d.val_fraction)
    p.add_argument("--resize", type=positive_int, default=None,
                   help="resize images to SxS (e.g. 32 for LeNet-5 on digits; also makes a folder of mixed sizes "
                        "loadable)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help=f"epochs in all (default {d.epochs}); with --resume, extends the run to this many")
    p.add_argument("--batch-size", type=positive_int, default=d.batch_size)
    p.add_argument("--optimizer", default=d.optimizer, choices=sorted(OPTIMIZER_NAMES))
    p.add_argument("--lr", type=positive_float, default=d.lr)
    p.add_argument("--momentum", type=probability, default=d.momentum)
    p.add_argument("--weight-decay", type=non_negative_float, default=d.weight_decay,
                   help="L2 penalty (decoupled for adamw)")
    p.add_argument("--l1", type=non_negative_float, default=d.l1, help="L1 penalty on the weights")
    p.add_argument("--dropout", type=probability, default=None, help="dropout probability, for models that take one")
    p.add_argument("--schedule", default=d.schedule, choices=SCHEDULES)
    p.add_argument("--warmup-epochs", type=non_negative_float, default=d.warmup_epochs)
    p.add_argument("--augment", default="", help=f"comma-separated, from {','.join(AUGMENTS)}")
    p.add_argument("--imbalance", default=d.imbalance, choices=IMBALANCE)
    p.add_argument("--label-smoothing", type=probability, default=d.label_smoothing)
    p.add_argument("--early-stopping", type=positive_int, default=None, metavar="PATIENCE")
    p.add_argument("--seed", type=seed_int, default=d.seed)
    p.add_argument("--run-dir", default=None, help="output folder (default runs/<model>-<dataset>-<time>)")
    p.add_argument("--overwrite", action="store_true", help="start over in a --run-dir that already holds a run")
    p.add_argument("--max-steps", type=positive_int, default=None, metavar="N",
                   help="stop after N optimizer steps, mid-epoch if need be (or at --epochs, whichever comes "
                        "first); with --resume, extends the run to N steps")
    p.add_argument("--eval-every", type=positive_int, default=None, metavar="N",
                   help="also validate every N optimizer steps (val_loss/val_acc columns in steps.csv)")
    p.add_argument("--train-eval", default=d.train_eval, choices=TRAIN_EVAL,
                   help="training metrics per epoch: 'running' (mean over the epoch's batches as they trained; "
                        "train_loss/train_acc) or 'exact' (also the epoch's final weights over the training split: "
                        "train_loss_exact/train_acc_exact); default %(default)s")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard event files into RUN_DIR/tensorboard/ (needs the tensorboard extra)")
    p.add_argument("--find-lr", action="store_true",
                   help="run the learning-rate range test on this model and data instead of training: writes "
                        "lr_finder.csv and lr_finder.png into the run folder and prints the suggested --lr")
    p.add_argument("--resume", default=None, metavar="RUN_DIR",
                   help="continue an interrupted run (only --epochs and --max-steps may be given with it, to "
                        "extend the run)")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the MPI ranks (run under `mpiexec -n N`; one process without it); "
                        "--batch-size is the global batch")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(_train_parser=p)


def _check_resume_flags(args: argparse.Namespace) -> None:
    parser = args._train_parser
    changed = [f"--{k.replace('_', '-')}" for k in _FIXED_ON_RESUME if getattr(args, k) != parser.get_default(k)]
    if changed:
        raise UserError(f"--resume continues the saved configuration and cannot change {', '.join(changed)}; "
                        f"only --epochs and --max-steps may be given (to extend the run), or start a new run")


def run(args: argparse.Namespace) -> int:
    from cvprimer.train.run import RunError, TrainConfig, run_training
    from cvprimer.train.rundir import RunDirError

    guard: Any = contextlib.nullcontext()
    if args.distributed:  # one rank's error must end every rank (MPI_Abort), never leave them waiting
        from cvprimer.distributed import abort_on_error

        guard = abort_on_error()
    try:
        with guard:
            if args.resume:
                if args.find_lr:
                    raise UserError("--find-lr tests a fresh model and cannot be combined with --resume")
                _check_resume_flags(args)
                summary = run_training(resume=args.resume, verbose=not args.quiet, distributed=args.distributed,
                                       epochs=args.epochs, max_steps=args.max_steps)
            else:
                from cvprimer.data.datasets.embedded import required_modules

                # a missing extra is one line naming it, before a run folder is made
                require_all(required_modules(args.dataset), what=f"--dataset {args.dataset}")
                cfg = TrainConfig(
                    model=args.model, dataset=args.dataset, val_fraction=args.val_fraction, resize=args.resize,
                    epochs=args.epochs or TrainConfig().epochs, batch_size=args.batch_size,
                    optimizer=args.optimizer, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay,
                    l1=args.l1, dropout=args.dropout, schedule=args.schedule, warmup_epochs=args.warmup_epochs,
                    augment=[a for a in args.augment.split(",") if a], imbalance=args.imbalance,
                    label_smoothing=args.label_smoothing, early_stopping=args.early_stopping,
                    seed=args.seed, max_steps=args.max_steps, eval_every=args.eval_every,
                    train_eval=args.train_eval, tensorboard=args.tensorboard)
                if args.find_lr:
                    if args.distributed:
                        raise UserError("--find-lr runs in one process; leave out --distributed")
                    from cvprimer.train.find_lr import run_find_lr

                    out = run_find_lr(cfg, run_dir=args.run_dir, overwrite=args.overwrite, verbose=not args.quiet)
                    if args.quiet:  # the suggestion is the point of the verb: printed even with --quiet
                        print(out["suggested_lr"])
                    return 0
                summary = run_training(cfg, run_dir=args.run_dir, verbose=not args.quiet,
                                       distributed=args.distributed, overwrite=args.overwrite)
    except (RunError, RunDirError) as e:
        raise UserError(str(e)) from None
    if summary.get("interrupted"):
        print(f"cvprimer train: interrupted after {summary.get('epochs_run', 0)} epoch(s); continue with "
              f"`cvprimer train --resume {summary['run_dir']}`", file=sys.stderr)
        return 130
    if summary.get("error"):
        print(f"cvprimer train: stopped: {summary['error']} (summary in {summary['run_dir']}/summary.json)",
              file=sys.stderr)
        return 1
    return 0
