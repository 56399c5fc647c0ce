r"""``Trainer``: the training loop, with evaluation, prediction, gradient accumulation and resume.

One epoch: ``model.train()``; for each batch: forward, loss (divided by ``accumulate`` when
gradients are accumulated over several batches), backward, and every ``accumulate`` batches an
optional gradient clip, ``optimizer.step()``, ``zero_grad`` and a per-step scheduler step. Then
``model.eval()`` validation under ``no_grad``, the per-epoch scheduler step (a scheduler that declares
``steps_on_metric`` gets the validation loss), and the callbacks. Ctrl-C (KeyboardInterrupt) ends the loop cleanly: the
callbacks' ``on_fit_end`` still runs (early stopping restores its best weights, logs are closed)
and ``trainer.interrupted`` is set.

Resume is exact: the checkpoint carries the model, the optimizer and scheduler state, the
bit-generator states of the train loader's RNG and of the library's default generator (dropout,
augmentation) and the callbacks' state, so an interrupted-and-resumed run ends with the same
parameters, bit for bit, as an uninterrupted one.

Data-parallel training (``distributed=True`` under ``mpiexec -n N``, see :mod:`cvprimer.distributed`):
at the start rank 0's parameters, buffers and optimizer state are broadcast and each rank's default
generator moves to its own stream; before every update the gradients are averaged over the ranks in
one bucketed all-reduce; each epoch's loss/accuracy sums and counts (training and evaluation) are summed
over the ranks, rank 0's batch-norm buffers are broadcast before evaluation; only rank 0 prints and
writes checkpoints. Every rank must call ``fit``/``evaluate`` with loaders of equal length per rank.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from cvprimer.core.function import no_grad
from cvprimer.core.random import default_generator
from cvprimer.core.tensor import Tensor
from cvprimer.train.callbacks import Callback
from cvprimer.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def _batch_accuracy(out: np.ndarray, y: np.ndarray) -> float | None:
    if out.ndim < 2:
        return None
    pred = out.argmax(axis=1)
    target = y.argmax(axis=1) if y.dtype.kind == "f" and y.shape == out.shape else y
    return float((pred == target).mean())


class Trainer:
    r"""Fit a model with a loss and an optimizer.

    Parameters
    ----------
    model : Module
    loss_fn : callable(outputs: Tensor, targets: Tensor) -> scalar Tensor (e.g. ``F.cross_entropy``)
    optimizer : Optimizer
    scheduler : optional LR scheduler; ``scheduler_interval`` is ``"epoch"`` or ``"step"``
    callbacks : list of :class:`~cvprimer.train.callbacks.Callback`
    accumulate : number of batches whose gradients are summed (each loss divided by it) per update
    clip_grad_norm : optional max global gradient norm (clip before each step)
    verbose : print one line per epoch (and a live progress line when stderr is a terminal)
    distributed : None (one process), True (the MPI world from :func:`cvprimer.distributed.init`) or a
        :class:`~cvprimer.distributed.Communicator`: data-parallel training (module docstring)
    """

    def __init__(self, model: Any, loss_fn: Callable[[Tensor, Tensor], Tensor], optimizer: Any,
                 scheduler: Any = None, callbacks: Sequence[Callback] = (), accumulate: int = 1,
                 scheduler_interval: str = "epoch", clip_grad_norm: float | None = None,
                 verbose: bool = False, distributed: Any = None) -> None:
        if accumulate < 1:
            raise ValueError(f"Trainer: accumulate must be >= 1, got {accumulate}")
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        self.model, self.loss_fn, self.optimizer, self.scheduler = model, loss_fn, optimizer, scheduler
        self.callbacks = list(callbacks)
        self.accumulate, self.scheduler_interval = accumulate, scheduler_interval
        self.clip_grad_norm, self.verbose = clip_grad_norm, verbose
        self.epoch = 0
        self.start_epoch = 1
        self.global_step = 0
        self.stop_training = False
        self.interrupted = False
        self.train_loader: Any = None
        self.comm: Any = None
        self._reducer: Any = None
        if distributed is not None and distributed is not False:
            from cvprimer.distributed.comm import Communicator, init

            self.comm = distributed if isinstance(distributed, Communicator) else init()
            self.verbose = verbose and self.comm.is_main

    # -- helpers ---------------------------------------------------------------------
    def _emit(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def _num_classes_check(self, out: np.ndarray, y: np.ndarray) -> None:
        if out.ndim >= 2 and y.dtype.kind in "iu" and y.size:
            c = out.shape[1]
            if y.min() < 0 or y.max() >= c:
                raise ValueError(f"Trainer: labels range {y.min()}..{y.max()} but the model has {c} outputs "
                                 f"(expected labels in [0, {c}))")

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _rngs(self) -> dict[str, np.random.Generator]:
        rngs = {"default": default_generator()}
        loader_rng = getattr(self.train_loader, "rng", None)
        if isinstance(loader_rng, np.random.Generator):
            rngs["train_loader"] = loader_rng
        return rngs

    def save_checkpoint(self, path: str, epoch: int) -> None:
        """Write a resumable checkpoint of the current state (after ``epoch`` finished); in data-parallel
        training only rank 0 writes (the ranks' states are identical)."""
        if self.comm is not None and not self.comm.is_main:
            return
        extra: dict[str, np.ndarray] = {}
        cb_states = {}
        for i, cb in enumerate(self.callbacks):
            cb_states[f"{i}:{type(cb).__name__}"] = cb.state_dict()
            extra.update({f"cb{i}/{k}": v for k, v in cb.extra_arrays().items()})
        save_checkpoint(path, self.model, self.optimizer, self.scheduler, epoch, self._rngs(),
                        meta={"callbacks": cb_states, "global_step": self.global_step}, extra_arrays=extra)

    def load_checkpoint(self, path: str) -> int:
        """Restore a checkpoint written by :meth:`save_checkpoint`; returns its epoch."""
        info = load_checkpoint(path, self.model, self.optimizer, self.scheduler, self._rngs())
        try:  # callback states come from the file too: a damaged one is the file's fault, said in one line
            states = info["meta"].get("callbacks", {})
            for i, cb in enumerate(self.callbacks):
                key = f"{i}:{type(cb).__name__}"
                if key in states:
                    cb.load_state_dict(states[key])
                prefix = f"cb{i}/"
                cb.load_extra_arrays({k[len(prefix):]: v for k, v in info["extra"].items() if k.startswith(prefix)})
            self.global_step = int(info["meta"].get("global_step", 0))
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as e:
            msg = " ".join(str(e).split())
            raise CheckpointError(f"checkpoint: {path!r}: bad callback state ({type(e).__name__}: {msg})") from None
        return int(info["epoch"])

    def _distributed_start(self) -> None:
        """Rank 0's parameters, buffers and optimizer state everywhere; per-rank random streams."""
        from cvprimer.distributed.parallel import (
            GradientReducer,
            broadcast_module,
            broadcast_optimizer,
            rank_generator_,
        )

        broadcast_module(self.model, self.comm)
        broadcast_optimizer(self.optimizer, self.comm)
        rank_generator_(default_generator(), self.comm)  # dropout masks differ across ranks
        self._reducer = GradientReducer(self.model.parameters(), self.comm)

    # -- the loop ---------------------------------------------------------------------
    def _train_epoch(self, loader: Iterable[Any]) -> dict[str, float]:
        from cvprimer.optim.clip import clip_grad_norm_

        self.model.train()
        total, count, correct, seen_acc, pending = 0.0, 0, 0.0, 0, 0
        n_batches = len(loader) if hasattr(loader, "__len__") else None
        t0 = time.perf_counter()
        self.optimizer.zero_grad()
        for b, (xb, yb) in enumerate(loader):
            x, y = Tensor(np.asarray(xb)), Tensor(np.asarray(yb))
            out = self.model(x)
            self._num_classes_check(out.data, y.data)
            loss = self.loss_fn(out, y)
            self._emit("on_after_forward", out, loss)
            (loss / self.accumulate if self.accumulate > 1 else loss).backward()
            self._emit("on_after_backward")
            pending += 1
            if pending == self.accumulate:
                self._update(clip_grad_norm_)
                pending = 0
            n = len(y.data)
            lv = float(loss.item())
            total, count = total + lv * n, count + n
            acc = _batch_accuracy(out.data, y.data)
            if acc is not None:
                correct, seen_acc = correct + acc * n, seen_acc + n
            self._emit("on_batch_end", {"epoch": self.epoch, "step": self.global_step, "loss": lv, "lr": self._lr()})
            if self.verbose and sys.stderr.isatty():
                self._progress(b + 1, n_batches, total / count, correct / seen_acc if seen_acc else None, t0)
        if pending:
            self._update(clip_grad_norm_)
        if self.comm is not None:  # metrics over all ranks' samples; rank 0's BN buffers everywhere
            from cvprimer.distributed.parallel import broadcast_buffers

            total, count, correct, seen_acc = self.comm.allreduce_scalars([total, count, correct, seen_acc])
            broadcast_buffers(self.model, self.comm)
        if count == 0:
            raise ValueError("Trainer: the training loader yielded no batches (empty dataset, or batch_size larger "
                             "than the dataset with drop_last=True)")
        if self.verbose and sys.stderr.isatty():
            sys.stderr.write("\r" + " " * 79 + "\r")
        logs = {"train_loss": total / count}
        if seen_acc:
            logs["train_acc"] = correct / seen_acc
        return logs

    def _progress(self, done: int, n_batches: int | None, loss: float, acc: float | None, t0: float) -> None:
        """One live line on a terminal: batch, running loss and accuracy, lr, elapsed and ETA."""
        elapsed = time.perf_counter() - t0
        eta = f" eta {elapsed / done * (n_batches - done):.0f}s" if n_batches else ""
        metric = f" acc {acc:.3f}" if acc is not None else ""
        of = f"/{n_batches}" if n_batches else ""
        sys.stderr.write(f"\repoch {self.epoch} batch {done}{of} loss {loss:.4f}{metric} lr {self._lr():.3g} "
                         f"{elapsed:.0f}s{eta}   ")
        sys.stderr.flush()

    def _update(self, clip: Callable[..., Any]) -> None:
        if self._reducer is not None:  # data parallel: every rank gets the mean gradient over the ranks
            self._reducer()
        if self.clip_grad_norm is not None:
            clip(self.model.parameters(), self.clip_grad_norm)
        self.optimizer.step()
        self._emit("on_after_step")
        self.optimizer.zero_grad()
        self.global_step += 1
        if self.scheduler is not None and self.scheduler_interval == "step":
            self.scheduler.step()

    def evaluate(self, loader: Iterable[Any], prefix: str = "val_") -> dict[str, float]:
        """Mean loss and accuracy over ``loader`` in eval mode, without gradients."""
        was_training = self.model.training
        self.model.eval()
        total, count, correct, seen_acc = 0.0, 0, 0.0, 0
        try:
            with no_grad():
                for xb, yb in loader:
                    out = self.model(Tensor(np.asarray(xb)))
                    y = Tensor(np.asarray(yb))
                    self._num_classes_check(out.data, y.data)
                    n = len(y.data)
                    total += float(self.loss_fn(out, y).item()) * n
                    count += n
                    acc = _batch_accuracy(out.data, y.data)
                    if acc is not None:
                        correct, seen_acc = correct + acc * n, seen_acc + n
        finally:
            self.model.train(was_training)
        if self.comm is not None:
            total, count, correct, seen_acc = self.comm.allreduce_scalars([total, count, correct, seen_acc])
        if count == 0:
            raise ValueError("Trainer.evaluate: the loader yielded no batches")
        logs = {f"{prefix}loss": total / count}
        if seen_acc:
            logs[f"{prefix}acc"] = correct / seen_acc
        return logs

    def predict(self, data: Any, batch_size: int = 256) -> np.ndarray:
        """Model outputs (eval mode, no gradients) for an array of inputs or a loader of (x, y) batches."""
        was_training = self.model.training
        self.model.eval()
        outs = []
        try:
            with no_grad():
                if isinstance(data, np.ndarray):
                    batches: Iterable[Any] = (data[i:i + batch_size] for i in range(0, len(data), batch_size))
                else:
                    batches = (b[0] for b in data)
                for xb in batches:
                    outs.append(self.model(Tensor(np.asarray(xb))).data)
        finally:
            self.model.train(was_training)
        return np.concatenate(outs) if outs else np.zeros((0,))

    def fit(self, train_loader: Any, val_loader: Any = None, epochs: int = 1, resume: str | None = None) -> list[dict]:
        """Train for ``epochs`` epochs (counting the resumed ones); returns the per-epoch logs."""
        self.train_loader = train_loader
        self.start_epoch, self.stop_training, self.interrupted = 1, False, False
        if resume is not None:
            self.start_epoch = self.load_checkpoint(resume) + 1
        if self.comm is not None:
            self._distributed_start()
        history: list[dict] = []
        self._emit("on_fit_start")
        try:
            for epoch in range(self.start_epoch, epochs + 1):
                self.epoch = epoch
                t0 = time.perf_counter()
                self._emit("on_epoch_start", epoch)
                logs: dict[str, Any] = {"epoch": epoch, "lr": self._lr()}
                logs.update(self._train_epoch(train_loader))
                if val_loader is not None:
                    logs.update(self.evaluate(val_loader))
                logs["time"] = time.perf_counter() - t0
                if self.scheduler is not None and self.scheduler_interval == "epoch":
                    if getattr(self.scheduler, "steps_on_metric", False):  # a plateau schedule wants the metric
                        self.scheduler.step(logs.get("val_loss", logs["train_loss"]))
                    else:
                        self.scheduler.step()
                history.append(logs)
                if self.verbose:
                    print("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in logs.items()))
                self._emit("on_epoch_end", epoch, logs)
                if self.stop_training:
                    break
        except KeyboardInterrupt:
            if self.comm is not None and self.comm.world_size > 1:
                raise  # one rank stopping alone would leave the others in an all-reduce: abort the job
            self.interrupted = True
        finally:
            self._emit("on_fit_end")
        return history
