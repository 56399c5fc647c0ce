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
import os
import sys
from typing import Any

from cvprimer.argtypes import fraction, non_negative_float, positive_float, positive_int, probability, seed_int
from cvprimer.errors import UserError, require_all

# A resumed run continues its saved configuration. Every flag of the train parser is either compared with the saved
# run on --resume (a given value must equal the saved one) or listed here with the reason it may be given anyway
# (tests/train/test_reliability2_resume_flags.py checks that the two lists cover the parser exactly).
MAY_CHANGE_ON_RESUME: dict[str, str] = {
    "epochs": "extends the run to this many epochs",
    "max_steps": "extends the run to this many optimizer steps",
    "resume": "names the run folder to continue",
    "quiet": "output only: changes what is printed, not what is computed",
    "distributed": "a run resumes with any number of ranks (the global batch keeps the arithmetic)",
}
# the flags that are TrainConfig fields (compared with config.json); run_dir, overwrite and find_lr are checked too
_NOT_CONFIG = ("run_dir", "overwrite", "find_lr")


def add_parser(sub: Any) -> None:
    """The ``train`` parser. Configuration flags default to None ("not given"): a fresh run takes
    :class:`TrainConfig`'s default for them, a resumed run its saved value (and a given value must equal it)."""
    from cvprimer.train.config import AUGMENTS, IMBALANCE, OPTIMIZER_NAMES, SCHEDULES, TRAIN_EVAL, TrainConfig

    d = TrainConfig()
    p = sub.add_parser("train", help="train a zoo model on an embedded or user dataset; writes a run folder")
    p.add_argument("--model", help=f"zoo model name (default {d.model})")
    p.add_argument("--dataset",
                   help=f"embedded dataset (digits, mnist_sample) or an image-folder path (default {d.dataset})")
    p.add_argument("--val-fraction", type=fraction, help=f"default {d.val_fraction}")
    p.add_argument("--resize", type=positive_int,
                   help="resize images to SxS (e.g. 32 for LeNet-5 on digits; also makes a folder of mixed sizes "
                        "loadable)")
    p.add_argument("--epochs", type=positive_int,
                   help=f"epochs in all (default {d.epochs}); with --resume, extends the run to this many")
    p.add_argument("--batch-size", type=positive_int, help=f"default {d.batch_size}")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZER_NAMES), help=f"default {d.optimizer}")
    p.add_argument("--lr", type=positive_float, help=f"default {d.lr}")
    p.add_argument("--momentum", type=probability, help=f"default {d.momentum}")
    p.add_argument("--weight-decay", type=non_negative_float, help="L2 penalty (decoupled for adamw); default 0")
    p.add_argument("--l1", type=non_negative_float, help="L1 penalty on the weights; default 0")
    p.add_argument("--dropout", type=probability, help="dropout probability, for models that take one")
    p.add_argument("--schedule", choices=SCHEDULES, help=f"default {d.schedule}")
    p.add_argument("--warmup-epochs", type=non_negative_float, help="default 0")
    p.add_argument("--augment", help=f"comma-separated, from {','.join(AUGMENTS)}")
    p.add_argument("--imbalance", choices=IMBALANCE, help=f"default {d.imbalance}")
    p.add_argument("--label-smoothing", type=probability, help="default 0")
    p.add_argument("--early-stopping", type=positive_int, metavar="PATIENCE")
    p.add_argument("--seed", type=seed_int, help=f"default {d.seed}")
    p.add_argument("--run-dir", default=None, help="output folder (default runs/<model>-<dataset>-<time>)")
    p.add_argument("--overwrite", action="store_true", help="start over in a --run-dir that already holds a run")
    p.add_argument("--max-steps", type=positive_int, metavar="N",
                   help="stop after N optimizer steps, mid-epoch if need be (or at --epochs, whichever comes "
                        "first); with --resume, extends the run to N steps")
    p.add_argument("--eval-every", type=positive_int, metavar="N",
                   help="also validate every N optimizer steps (val_loss/val_acc columns in steps.csv)")
    p.add_argument("--train-eval", choices=TRAIN_EVAL,
                   help="training metrics per epoch: 'running' (mean over the epoch's batches as they trained; "
                        "train_loss/train_acc) or 'exact' (also the epoch's final weights over the training split: "
                        f"train_loss_exact/train_acc_exact); default {d.train_eval}")
    p.add_argument("--tensorboard", action="store_true", default=None,
                   help="also write TensorBoard event files into RUN_DIR/tensorboard/ (needs the tensorboard extra)")
    p.add_argument("--find-lr", action="store_true",
                   help="run the learning-rate range test on this model and data instead of training: writes "
                        "lr_finder.csv and lr_finder.png into the run folder and prints the suggested --lr")
    p.add_argument("--resume", default=None, metavar="RUN_DIR",
                   help="continue an interrupted run; every configuration flag given with it must equal the run's "
                        "saved value (--epochs and --max-steps may extend the run)")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the MPI ranks (run under `mpiexec -n N`; one process without it); "
                        "--batch-size is the global batch")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(_train_parser=p)


def config_flags() -> tuple[str, ...]:
    """The parser destinations that are :class:`TrainConfig` fields (all of them but ``model_kwargs``)."""
    import dataclasses

    from cvprimer.train.config import TrainConfig

    return tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name != "model_kwargs")


def _given_config(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration values given on the command line (None = not given), as TrainConfig holds them."""
    given = {k: getattr(args, k) for k in config_flags() if getattr(args, k, None) is not None}
    if "augment" in given:
        given["augment"] = [a for a in given["augment"].split(",") if a]
    return given


def _same(flag: str, given: Any, saved: Any) -> bool:
    if flag == "dataset" and isinstance(saved, str) and os.path.isdir(given) and os.path.isdir(saved):
        return os.path.samefile(given, saved)  # the same image folder, however the path is spelled
    if isinstance(given, float) or isinstance(saved, float):
        return saved is not None and not isinstance(saved, bool) and float(given) == float(saved)
    return bool(given == saved)


def _check_resume_flags(args: argparse.Namespace, saved: Any) -> None:
    """Every configuration flag given with ``--resume`` must equal the saved run's value (``saved``: its
    TrainConfig); ``--epochs``/``--max-steps`` extend it (checked against the checkpoint later)."""
    if args.overwrite:
        raise UserError("--overwrite starts a run over and --resume continues one; give one of them")
    if args.run_dir is not None and os.path.abspath(args.run_dir) != os.path.abspath(args.resume):
        raise UserError(f"--run-dir {args.run_dir} differs from --resume {args.resume}: a resumed run stays in its "
                        f"own folder (leave out --run-dir)")
    changed = []
    for flag, value in _given_config(args).items():
        if flag in MAY_CHANGE_ON_RESUME:
            continue
        was = getattr(saved, flag)
        if not _same(flag, value, was):
            show = ",".join(value) if flag == "augment" else value
            old = ",".join(was) if flag == "augment" and isinstance(was, list) else was
            changed.append(f"--{flag.replace('_', '-')} (saved {old}, given {show})")
    if changed:
        raise UserError(f"--resume continues the saved configuration and cannot change {'; '.join(changed)}; "
                        f"leave these flags out (only --epochs and --max-steps extend the run), or start a new run")


def _mpi_job() -> Any:
    """The MPI world when this process is one of several ranks started by an MPI launcher, else None."""
    from cvprimer.distributed.comm import init, launched_by_mpi

    if not launched_by_mpi():
        return None
    comm = init()
    return comm if comm.world_size > 1 else None


def run(args: argparse.Namespace) -> int:
    """Run the verb. Under ``mpiexec -n N`` (N > 1) every rank first checks that all ranks were given the same
    command line (:func:`~cvprimer.distributed.comm.check_same_settings`) and that it asks for ``--distributed``;
    these and every other user error found before training are decided alike on every rank (rank 0 prints the
    line, every rank exits 2); Ctrl-C ends every rank with status 130, in one line."""
    comm = _mpi_job()
    if comm is None:
        return _run(args, None)
    from cvprimer.distributed.comm import AgreedError, abort_on_error, agreed, check_same_settings

    settings = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    with abort_on_error(comm):
        with agreed(comm):
            check_same_settings(comm, settings, "train settings")
        if not args.distributed:  # the same settings everywhere: every rank decides this alike
            raise AgreedError(f"mpiexec started {comm.world_size} copies of `cvprimer train` without --distributed: "
                              f"each would train alone on all the data and write its own run folder; add "
                              f"--distributed (one data-parallel run over the {comm.world_size} ranks), or run "
                              f"without mpiexec", rank=comm.rank)
        return _run(args, comm)


def _run(args: argparse.Namespace, comm: Any) -> int:
    from cvprimer.train.run import RunError, TrainConfig, run_training, saved_config
    from cvprimer.train.rundir import RunDirError

    guard: Any = contextlib.nullcontext()
    if args.distributed and comm is None:  # one rank's error must end every rank (MPI_Abort), never leave them
        from cvprimer.distributed import abort_on_error

        guard = abort_on_error()
    checks: Any = contextlib.nullcontext()
    if comm is not None:  # the checks below read the same files on every rank: agreed, printed once
        from cvprimer.distributed.comm import agreed

        checks = agreed(comm, (UserError, ValueError))
    try:
        with guard:
            if args.resume:
                with checks:
                    if args.find_lr:
                        raise UserError("--find-lr tests a fresh model and cannot be combined with --resume")
                    _check_resume_flags(args, saved_config(args.resume))
                summary = run_training(resume=args.resume, verbose=not args.quiet, distributed=args.distributed,
                                       epochs=args.epochs, max_steps=args.max_steps)
            else:
                from cvprimer.data.datasets.embedded import required_modules

                with checks:
                    cfg = TrainConfig(**_given_config(args))
                    # a missing extra is one line naming it, before a run folder is made
                    require_all(required_modules(cfg.dataset), what=f"--dataset {cfg.dataset}")
                    if args.find_lr and args.distributed:
                        raise UserError("--find-lr runs in one process; leave out --distributed")
                if args.find_lr:
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
        folder = summary["run_dir"]
        if os.path.isfile(os.path.join(folder, "checkpoints", "last.npz")):
            advice = f"continue with `cvprimer train --resume {folder}`"
        else:  # stopped before the first checkpoint (the end of epoch 1): there is nothing to resume
            advice = (f"it had no checkpoint yet, so there is nothing to resume: start it over with the same "
                      f"command and --run-dir {folder} --overwrite")
        print(f"cvprimer train: interrupted after {summary.get('epochs_run', 0)} epoch(s); {advice}",
              file=sys.stderr)
        return 130
    if summary.get("error"):
        print(f"cvprimer train: stopped: {summary['error']} (summary in {summary['run_dir']}/summary.json)",
              file=sys.stderr)
        return 1
    return 0
