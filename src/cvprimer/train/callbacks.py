r"""Callbacks: early stopping, checkpoints, history logs (the monitors live in ``monitors.py``).

The trainer calls, in order: ``on_fit_start``; per epoch ``on_epoch_start``, per step
``on_after_forward(outputs, loss)``, ``on_after_backward``, ``on_after_step``, ``on_batch_end(logs)``;
``on_epoch_end(epoch, logs)`` (after validation); ``on_fit_end`` on every exit (finished, stopped
early, interrupted, failed). A callback that must survive a resume implements ``state_dict`` /
``load_state_dict`` (JSON-able) and, for arrays, ``extra_arrays`` / ``load_extra_arrays``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
from collections.abc import Iterator
from typing import Any

import numpy as np


class Callback:
    """Base class: every hook is a no-op."""

    def on_fit_start(self, trainer: Any) -> None: ...
    def on_epoch_start(self, trainer: Any, epoch: int) -> None: ...
    def on_after_forward(self, trainer: Any, outputs: Any, loss: Any) -> None: ...
    def on_after_backward(self, trainer: Any) -> None: ...
    def on_after_step(self, trainer: Any) -> None: ...
    def on_batch_end(self, trainer: Any, logs: dict[str, Any]) -> None: ...
    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> None: ...
    def on_fit_end(self, trainer: Any) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def extra_arrays(self) -> dict[str, np.ndarray]:
        return {}

    def load_extra_arrays(self, arrays: dict[str, np.ndarray]) -> None: ...


def _better(mode: str, value: float, best: float | None, min_delta: float) -> bool:
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


class EarlyStopping(Callback):
    r"""Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    With ``restore_best`` the model ends with exactly the weights of the best epoch, on any
    exit: patience ran out, the last epoch was reached, or training was interrupted.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "min", patience: int = 5, min_delta: float = 0.0,
                 restore_best: bool = True) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        if patience < 0 or min_delta < 0:
            raise ValueError(f"EarlyStopping: patience ({patience}) and min_delta ({min_delta}) must be >= 0")
        self.monitor, self.mode, self.patience, self.min_delta = monitor, mode, patience, min_delta
        self.restore_best = restore_best
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self._best_state: dict[str, np.ndarray] | None = None

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> None:
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping: monitored value {self.monitor!r} not in the epoch logs {sorted(logs)}")
        value = float(logs[self.monitor])
        if _better(self.mode, value, self.best, self.min_delta):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self._best_state = {k: v.copy() for k, v in trainer.model.state_dict().items()}
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                trainer.stop_training = True

    def on_fit_end(self, trainer: Any) -> None:
        if self.restore_best and self._best_state is not None:
            trainer.model.load_state_dict(self._best_state)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]

    def extra_arrays(self) -> dict[str, np.ndarray]:
        return dict(self._best_state or {})

    def load_extra_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self._best_state = dict(arrays) if arrays else None


class ModelCheckpoint(Callback):
    r"""Write ``last.npz`` after every epoch and ``best.npz`` when ``monitor`` improves, each a
    full resumable checkpoint (see :mod:`cvprimer.train.checkpoint`), written atomically."""

    def __init__(self, dirpath: str | os.PathLike[str], monitor: str = "val_loss", mode: str = "min",
                 save_best: bool = True, save_last: bool = True) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ModelCheckpoint: mode must be 'min' or 'max', got {mode!r}")
        self.dirpath = os.fspath(dirpath)
        self.monitor, self.mode = monitor, mode
        self.save_best, self.save_last = save_best, save_last
        self.best: float | None = None

    @property
    def last_path(self) -> str:
        return os.path.join(self.dirpath, "last.npz")

    @property
    def best_path(self) -> str:
        return os.path.join(self.dirpath, "best.npz")

    def on_fit_start(self, trainer: Any) -> None:
        os.makedirs(self.dirpath, exist_ok=True)

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> None:
        improved = self.monitor in logs and _better(self.mode, float(logs[self.monitor]), self.best, 0.0)
        if improved:
            self.best = float(logs[self.monitor])
        # best first: a crash between the two writes then leaves last.npz one epoch behind (resume redoes that
        # epoch and rewrites both), never best.npz stuck at an older epoch for good
        if self.save_best and improved:
            trainer.save_checkpoint(self.best_path, epoch)
        if self.save_last:
            trainer.save_checkpoint(self.last_path, epoch)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]


class History(Callback):
    r"""Per-step and per-epoch logs written as training goes (flushed line by line), so a crash
    loses nothing already logged: ``steps.csv``, ``epochs.csv`` and ``epochs.jsonl`` in ``dirpath``.
    On resume, rows from after the checkpoint are dropped before appending (for a checkpoint that ``max_steps``
    wrote mid-epoch: that epoch's row, and its step rows after the checkpoint's step).

    ``steps.csv`` columns: ``epoch,step,loss,lr`` (the batch's loss; ``step`` counts optimizer steps), and
    ``val_loss,val_acc`` when the trainer validates every N steps (``eval_every``; filled on those steps only).
    What the epoch files hold is listed in :mod:`cvprimer.train.trainer`."""

    STEP_FIELDS = ("epoch", "step", "loss", "lr")
    EVAL_FIELDS = ("val_loss", "val_acc")

    def __init__(self, dirpath: str | os.PathLike[str] | None = None) -> None:
        self.dirpath = None if dirpath is None else os.fspath(dirpath)
        self.epochs: list[dict[str, Any]] = []
        self.step_losses: list[float] = []
        self._files: dict[str, Any] = {}
        self._step_fields: tuple[str, ...] = self.STEP_FIELDS

    def _path(self, name: str) -> str:
        assert self.dirpath is not None
        return os.path.join(self.dirpath, name)

    def _truncate(self, name: str, keep_before_epoch: int, keep_steps_upto: int | None = None) -> None:
        """Drop rows of epoch >= ``keep_before_epoch``, except (``keep_steps_upto``, for the step log of a
        mid-epoch resume) that epoch's rows up to that step."""
        p = self._path(name)
        if not os.path.exists(p):
            return
        with open(p, encoding="utf-8") as f:
            lines = f.read().splitlines()

        def keep(epoch: int, step: int | None) -> bool:
            return epoch < keep_before_epoch or (keep_steps_upto is not None and epoch == keep_before_epoch
                                                 and step is not None and step <= keep_steps_upto)

        if name.endswith(".jsonl"):
            kept = [ln for ln in lines if ln and keep(json.loads(ln)["epoch"], None)]
        else:
            header, rows = lines[:1], lines[1:]
            cols = header[0].split(",") if header else []
            si = cols.index("step") if "step" in cols else None
            kept = header + [r for r in rows if keep(int(float(r.split(",")[0])),
                                                     None if si is None else int(float(r.split(",")[si])))]
        with open(p, "w", encoding="utf-8") as f:
            f.write("\n".join(kept) + ("\n" if kept else ""))

    def on_fit_start(self, trainer: Any) -> None:
        self.epochs = [e for e in self.epochs if e["epoch"] < trainer.start_epoch]
        if self.dirpath is None:
            return
        os.makedirs(self.dirpath, exist_ok=True)
        from cvprimer.train.rundir import claim

        for name in ("steps.csv", "epochs.csv", "epochs.jsonl"):  # listed in the run's manifest before written
            claim(self._path(name))
        mid = trainer.global_step if getattr(trainer, "start_batch", 0) > 0 else None
        for name in ("steps.csv", "epochs.csv", "epochs.jsonl"):
            with self._writing(name):
                self._truncate(name, trainer.start_epoch, mid if name == "steps.csv" else None)
        steps = self._path("steps.csv")
        new = not os.path.exists(steps) or os.path.getsize(steps) == 0
        if new:
            evals = getattr(trainer, "eval_every", None) is not None
            self._step_fields = self.STEP_FIELDS + (self.EVAL_FIELDS if evals else ())
        else:  # continue with the columns the file already has
            with open(steps, encoding="utf-8") as f:
                self._step_fields = tuple(f.readline().strip().split(","))
        with self._writing("steps.csv"):
            self._files["steps"] = open(steps, "a", encoding="utf-8", newline="")  # noqa: SIM115
            if new:
                self._files["steps"].write(",".join(self._step_fields) + "\n")
        with self._writing("epochs.jsonl"):
            self._files["jsonl"] = open(self._path("epochs.jsonl"), "a", encoding="utf-8")  # noqa: SIM115

    def on_batch_end(self, trainer: Any, logs: dict[str, Any]) -> None:
        self.step_losses.append(float(logs["loss"]))
        f = self._files.get("steps")
        if f is not None:
            with self._writing("steps.csv"):
                f.write(",".join(f"{logs.get(k, '')}" for k in self._step_fields) + "\n")
                f.flush()

    @contextlib.contextmanager
    def _writing(self, name: str) -> Iterator[None]:
        """An OSError while writing log ``name`` (a full disk) is a WriteError naming the file, in one line."""
        from cvprimer.core.serialization import write_error

        try:
            yield
        except OSError as e:
            raise write_error(self._path(name), e) from None

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> None:
        rec = {"epoch": epoch, **{k: v for k, v in logs.items() if k != "epoch"}}
        self.epochs.append(rec)
        if self.dirpath is None:
            return
        with self._writing("epochs.jsonl"):
            self._files["jsonl"].write(json.dumps(rec) + "\n")
            self._files["jsonl"].flush()
        path = self._path("epochs.csv")
        fields = list(rec)
        write_header = not os.path.exists(path) or os.path.getsize(path) == 0
        if not write_header:  # the file's columns rule (a row never shifts under another header)
            with open(path, encoding="utf-8", newline="") as f:
                fields = next(csv.reader(f), fields)
        with self._writing("epochs.csv"), open(path, "a", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            if write_header:
                w.writeheader()
            w.writerow(rec)

    def on_fit_end(self, trainer: Any) -> None:
        for f in self._files.values():
            try:
                f.close()
            except OSError:  # a full disk: the write that failed has been reported; a resume truncates the rest
                pass
        self._files.clear()

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epochs = list(state["epochs"])
