"""The configuration of a training run (:class:`TrainConfig`, saved as ``config.json``), its allowed values and
:class:`RunError`: the part of :mod:`cvprimer.train.run` that the ``cvprimer train`` parser needs, kept free of
NumPy and the engine so that ``cvprimer train --help`` and argument errors answer at once.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

# optim.lr_scheduler.SCHEDULE_KINDS, trainer.TRAIN_EVAL and run.OPTIMIZERS' names, repeated here so that the parser
# needs no NumPy (tests/test_cli_startup.py checks that they agree)
SCHEDULES = ("constant", "step", "cosine", "onecycle", "plateau")
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam",
                   "radam")
TRAIN_EVAL = ("running", "exact")
AUGMENTS = ("hflip", "crop", "rotate", "affine", "noise", "blur", "jitter", "erasing", "mixup", "cutmix")
IMBALANCE = ("none", "oversample", "undersample", "smote", "weighted", "focal")


@dataclass
class TrainConfig:
    """Everything a run depends on (saved as ``config.json``)."""

    model: str = "lenet5"
    dataset: str = "mnist_sample"  # an embedded dataset name, or an image-folder path
    val_fraction: float = 0.2
    resize: int | None = None
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "momentum"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    l1: float = 0.0
    dropout: float | None = None
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    augment: list[str] = field(default_factory=list)
    imbalance: str = "none"
    label_smoothing: float = 0.0
    early_stopping: int | None = None
    seed: int = 0
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    max_steps: int | None = None  # stop after this many optimizer steps (or at `epochs`, whichever comes first)
    eval_every: int | None = None  # also validate every N optimizer steps (into steps.csv)
    train_eval: str = "running"  # "exact": also the final weights of each epoch over the training split
    tensorboard: bool = False  # also write TensorBoard event files into RUN_DIR/tensorboard/ (tensorboardX)

    def validate(self) -> None:
        """Check every field before anything is loaded, built or written; the first bad one raises
        :class:`RunError` naming its command-line flag, the value and what is expected."""
        from cvprimer.data.datasets.embedded import DATASETS
        from cvprimer.models import list_models

        checks = [("--optimizer", self.optimizer, OPTIMIZER_NAMES), ("--schedule", self.schedule, SCHEDULES),
                  ("--imbalance", self.imbalance, IMBALANCE), ("--model", self.model, list_models())]
        for flag, v, allowed in checks:
            if v not in allowed:
                raise RunError(f"{flag} {v!r} is unknown; expected one of {', '.join(sorted(allowed))}")
        bad = [a for a in self.augment if a not in AUGMENTS]
        if bad:
            raise RunError(f"--augment: unknown {', '.join(bad)}; expected some of {','.join(AUGMENTS)}")
        if self.dataset not in DATASETS and not os.path.isdir(self.dataset):
            raise RunError(f"--dataset {self.dataset!r} is neither an embedded dataset ({', '.join(sorted(DATASETS))})"
                           f" nor an existing image folder")

        def need(flag: str, value: Any, ok: bool, expected: str) -> None:
            finite = not isinstance(value, float) or math.isfinite(value)
            if not (finite and ok):
                raise RunError(f"{flag} {value!r} is out of range; expected {expected}")

        need("--val-fraction", self.val_fraction, 0 < self.val_fraction < 1, "a fraction in (0, 1)")
        need("--epochs", self.epochs, self.epochs >= 1, "an integer >= 1")
        need("--batch-size", self.batch_size, self.batch_size >= 1, "an integer >= 1")
        need("--lr", self.lr, self.lr > 0, "a finite number > 0")
        need("--momentum", self.momentum, 0 <= self.momentum < 1, "a number in [0, 1)")
        need("--weight-decay", self.weight_decay, self.weight_decay >= 0, "a finite number >= 0")
        need("--l1", self.l1, self.l1 >= 0, "a finite number >= 0")
        if self.dropout is not None:
            need("--dropout", self.dropout, 0 <= self.dropout < 1, "a probability in [0, 1)")
        need("--warmup-epochs", self.warmup_epochs, 0 <= self.warmup_epochs < self.epochs,
             f"a number in [0, epochs = {self.epochs})")
        need("--label-smoothing", self.label_smoothing, 0 <= self.label_smoothing < 1, "a number in [0, 1)")
        if self.early_stopping is not None:
            need("--early-stopping", self.early_stopping, self.early_stopping >= 1, "a patience >= 1 epoch")
        if self.resize is not None:
            need("--resize", self.resize, self.resize >= 1, "a side length >= 1")
        for flag, n in (("--max-steps", self.max_steps), ("--eval-every", self.eval_every)):
            if n is not None:
                need(flag, n, isinstance(n, int) and n >= 1, "an integer >= 1")
        if self.train_eval not in TRAIN_EVAL:
            raise RunError(f"--train-eval {self.train_eval!r} is unknown; expected one of {', '.join(TRAIN_EVAL)}")
        if self.tensorboard:
            from cvprimer.train.tensorboard import require_tensorboardx

            try:
                require_tensorboardx()
            except ImportError as e:
                raise RunError(str(e)) from None
        need("--seed", self.seed, 0 <= self.seed < 2**32, "an integer in 0..2**32-1")


class RunError(ValueError):
    """A training run that cannot start or continue as asked: a bad setting, a dataset that cannot be used, a
    run folder or checkpoint that does not fit. The message names the flag or file and what to do."""
