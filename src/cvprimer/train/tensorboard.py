r"""``TensorBoardLogger``: the training logs as TensorBoard event files, through ``tensorboardX`` (optional).

``tensorboardX`` comes with the ``tensorboard`` extra (``pip install "cvprimer[tensorboard]"``); nothing else in
cvprimer needs it. View the files with ``tensorboard --logdir RUN_DIR/tensorboard`` (TensorBoard itself is not a
dependency). Scalars written, all against the optimizer step on the x-axis (so that runs with different epoch
lengths line up, and a resume can purge what followed its checkpoint):

- per batch: ``step/loss`` (the batch's loss), ``step/lr``, and with ``eval_every`` ``step/val_loss``,
  ``step/val_acc`` on the evaluated steps;
- per epoch (at the step the epoch ended): ``epoch/<name>`` for every number in the epoch logs (``train_loss``,
  ``train_acc``, ``val_loss``, ``val_acc``, ``lr``, the ``*_exact`` metrics, ``time``) and ``epoch/epoch``.

On a resumed run the writer starts with TensorBoard's purge marker at the checkpoint's step + 1, so the curves
of a run that was interrupted and resumed show each step once.
"""

from __future__ import annotations

import os
from typing import Any

from cvprimer.train.callbacks import Callback


def require_tensorboardx() -> Any:
    """The ``tensorboardX`` module, or :class:`~cvprimer.errors.MissingExtra` (an ``ImportError``) whose one line
    names the extra to install."""
    from cvprimer.errors import require

    return require("tensorboardX", what="--tensorboard")


class TensorBoardLogger(Callback):
    r"""Write the step and epoch logs as TensorBoard scalars into ``logdir`` (see the module docstring).

    Parameters
    ----------
    logdir : folder of the event files (created); one new event file per ``fit``
    flush_secs : how often tensorboardX flushes on its own (it also flushes at each epoch end)
    """

    SKIP = ("epoch", "step", "partial_epoch")

    def __init__(self, logdir: str | os.PathLike[str], flush_secs: int = 10) -> None:
        self.logdir = os.fspath(logdir)
        self.flush_secs = flush_secs
        self._tbx = require_tensorboardx()
        self.writer: Any = None

    def on_fit_start(self, trainer: Any) -> None:
        os.makedirs(self.logdir, exist_ok=True)
        step = int(getattr(trainer, "global_step", 0))
        # the file name holds the start step: a resume within the same second must not reuse (and truncate) the
        # interrupted run's file, whose name is otherwise only the time in seconds and the host
        before = set(os.listdir(self.logdir))
        self.writer = self._tbx.SummaryWriter(self.logdir, flush_secs=self.flush_secs,
                                              purge_step=step + 1 if step > 0 else None,
                                              filename_suffix=f".step{step}")
        from cvprimer.train.rundir import claim

        for name in sorted(set(os.listdir(self.logdir)) - before):  # the new event file, in the run's manifest
            claim(os.path.join(self.logdir, name))

    def on_batch_end(self, trainer: Any, logs: dict[str, Any]) -> None:
        if self.writer is None:
            return
        step = int(logs["step"])
        for key in ("loss", "lr", "val_loss", "val_acc"):
            if key in logs:
                self.writer.add_scalar(f"step/{key}", float(logs[key]), step)

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> None:
        if self.writer is None:
            return
        step = int(getattr(trainer, "global_step", 0))
        self.writer.add_scalar("epoch/epoch", float(epoch), step)
        for key, v in logs.items():
            if key not in self.SKIP and isinstance(v, (int, float)) and not isinstance(v, bool):
                self.writer.add_scalar(f"epoch/{key}", float(v), step)
        self.writer.flush()

    def on_fit_end(self, trainer: Any) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
