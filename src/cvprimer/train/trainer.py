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

Where the loop runs is its strategy's business (:mod:`cvprimer.train.strategy`): one process
(:class:`~cvprimer.train.strategy.SingleProcess`, the default) or data parallel under ``mpiexec -n N``
(``distributed=True``, or ``strategy=DataParallelStrategy(...)``): the strategy is asked at the start (state made the
same everywhere), around backward (the gradients averaged before every update), for the epoch's sums and the
batch-norm buffers, and whether this process prints and writes checkpoints. The loop itself has no branch on it.
Every process must call ``fit``/``evaluate`` with loaders of equal length.

What is logged (the epoch logs returned by ``fit`` and given to ``on_epoch_end``; ``History`` writes them to
``epochs.csv``/``epochs.jsonl``):

- ``epoch``, ``step`` (optimizer steps so far), ``lr`` (at the start of the epoch), ``time`` (seconds);
- ``train_loss``, ``train_acc``: RUNNING means over the epoch's batches, each measured in train mode on the
  weights of the moment (they lag the model, and include dropout and augmentation);
- ``train_loss_exact``, ``train_acc_exact`` (only with ``train_eval="exact"``): the epoch's FINAL weights, in
  eval mode, over the whole training set without augmentation (a plain loader, or ``train_eval_loader``);
- ``val_loss``, ``val_acc``: the final weights on the validation loader, in eval mode;
- ``partial_epoch``: True on an epoch that ``max_steps`` ended before its last batch, else False.

The per-step logs (``on_batch_end``; ``History``'s ``steps.csv``) hold ``epoch``, ``step``, ``loss`` (the batch's)
and ``lr``; with ``eval_every=N`` also ``val_loss``/``val_acc`` on the batch whose update made the step count a
multiple of N (empty elsewhere). Accuracy is logged only for outputs of shape (N, C).

``max_steps`` ends training after that many optimizer steps, mid-epoch if need be: the partial epoch is validated
and logged like any other (its running metrics cover the batches it ran), the per-epoch scheduler does not step
for it, and its checkpoint records the position in the epoch, so a run resumed from it with a larger
``max_steps`` continues at the next batch and ends with the same parameters, bit for bit, as an uninterrupted
run (when the train loader has its own ``rng``, which makes each epoch's order a function of its state).
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from typing import Any

import numpy as np

from cvprimer.core.function import no_grad
from cvprimer.core.random import default_generator
from cvprimer.core.tensor import Tensor
from cvprimer.train.callbacks import Callback
from cvprimer.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from cvprimer.train.progress import EpochProgress
from cvprimer.train.strategy import SingleProcess, make_strategy

TRAIN_EVAL = ("running", "exact")


def _batch_accuracy(out: np.ndarray, y: np.ndarray) -> float | None:
    if out.ndim < 2:
        return None
    pred = out.argmax(axis=1)
    target = y.argmax(axis=1) if y.dtype.kind == "f" and y.shape == out.shape else y
    return float((pred == target).mean())


@contextlib.contextmanager
def _default_rng_kept() -> Iterator[None]:
    """Run the body and put the library's default generator back where it was (extra evaluations use it)."""
    g = default_generator()
    state = copy.deepcopy(g.bit_generator.state)
    try:
        yield
    finally:
        g.bit_generator.state = state


def _plain_loader(loader: Any) -> Any:
    """The training set once, in order, without augmentation or sampler: what ``train_eval="exact"`` measures."""
    from cvprimer.data.loader import DataLoader

    ds, bs = getattr(loader, "dataset", None), getattr(loader, "batch_size", None)
    if ds is None or not isinstance(bs, int):
        raise ValueError(f"Trainer: train_eval='exact' needs the train loader's .dataset and .batch_size (got a "
                         f"{type(loader).__name__}); pass fit(..., train_eval_loader=...) instead")
    return DataLoader(ds, batch_size=max(bs, 256), rng=np.random.default_rng(0))  # own rng: the default stays put


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
    verbose : print one line per epoch, and a live progress bar (``tqdm.auto``: a widget in Jupyter, a bar on a
        terminal; without tqdm a plain line on a terminal)
    distributed : None (one process), True (the MPI world from :func:`cvprimer.distributed.init`) or a
        :class:`~cvprimer.distributed.Communicator`: data-parallel training (module docstring); a shorthand for
        ``strategy``
    strategy : a :mod:`cvprimer.train.strategy` object (default: from ``distributed``); give one or the other
    max_steps : stop after this many optimizer steps (counting resumed ones), mid-epoch if need be; ``fit``'s
        ``epochs`` still applies, whichever comes first
    eval_every : also validate every this many optimizer steps (needs ``fit``'s ``val_loader``); the results go to
        the step logs
    train_eval : ``"running"`` (the default: the running training mean only) or ``"exact"`` (also the final
        weights over the training set, as ``train_loss_exact``/``train_acc_exact``); see the module docstring
    """

    def __init__(self, model: Any, loss_fn: Callable[[Tensor, Tensor], Tensor], optimizer: Any,
                 scheduler: Any = None, callbacks: Sequence[Callback] = (), accumulate: int = 1,
                 scheduler_interval: str = "epoch", clip_grad_norm: float | None = None,
                 verbose: bool = False, distributed: Any = None, max_steps: int | None = None,
                 eval_every: int | None = None, train_eval: str = "running",
                 strategy: SingleProcess | None = None) -> None:
        if accumulate < 1:
            raise ValueError(f"Trainer: accumulate must be >= 1, got {accumulate}")
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        for name, v in (("max_steps", max_steps), ("eval_every", eval_every)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
                raise ValueError(f"Trainer: {name} must be None or an integer >= 1, got {v!r}")
        if train_eval not in TRAIN_EVAL:
            raise ValueError(f"Trainer: train_eval must be 'running' or 'exact', got {train_eval!r}")
        if strategy is not None and distributed not in (None, False):
            raise ValueError(f"Trainer: give strategy= or distributed=, not both (got {strategy!r} and "
                             f"{distributed!r})")
        if strategy is not None and not isinstance(strategy, SingleProcess):
            raise TypeError(f"Trainer: strategy must be a cvprimer.train.strategy object (SingleProcess, "
                            f"DataParallelStrategy), got {type(strategy).__name__}")
        self.max_steps = None if max_steps is None else int(max_steps)
        self.eval_every = None if eval_every is None else int(eval_every)
        self.train_eval = train_eval
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
        self.val_loader: Any = None
        self.start_batch = 0  # > 0: the first epoch of this fit resumes mid-epoch after that many batches
        self._partial: dict[str, Any] | None = None  # a mid-epoch stop (or resume point): position and sums
        self._epoch_rng_state: Any = None  # the train loader's RNG state when the current epoch began
        self.strategy = strategy if strategy is not None else make_strategy(distributed)
        self.verbose = verbose and self.strategy.is_main

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

    def _rngs(self, saving: bool = False) -> dict[str, np.random.Generator]:
        rngs = {"default": default_generator()}
        loader_rng = getattr(self.train_loader, "rng", None)
        if isinstance(loader_rng, np.random.Generator):
            rngs["train_loader"] = loader_rng
            if saving and self._partial is not None and self._epoch_rng_state is not None:
                # mid-epoch: the state this epoch's order was drawn from, so a resume draws the same order
                g = np.random.Generator(type(loader_rng.bit_generator)())
                g.bit_generator.state = self._epoch_rng_state
                rngs["train_loader"] = g
        return rngs

    def _steps_done(self) -> bool:
        return self.max_steps is not None and self.global_step >= self.max_steps

    def save_checkpoint(self, path: str, epoch: int) -> None:
        """Write a resumable checkpoint of the current state (after ``epoch`` finished); only the strategy's main
        process writes (in data-parallel training every process holds the same state)."""
        if not self.strategy.is_main:
            return
        extra: dict[str, np.ndarray] = {}
        cb_states = {}
        for i, cb in enumerate(self.callbacks):
            cb_states[f"{i}:{type(cb).__name__}"] = cb.state_dict()
            extra.update({f"cb{i}/{k}": v for k, v in cb.extra_arrays().items()})
        meta: dict[str, Any] = {"callbacks": cb_states, "global_step": self.global_step}
        if self._partial is not None:
            meta["partial_epoch"] = self._partial
        from cvprimer.train.rundir import claim

        claim(path)  # inside a run folder: listed in its manifest before it is written (a no-op elsewhere)
        save_checkpoint(path, self.model, self.optimizer, self.scheduler, epoch, self._rngs(saving=True),
                        meta=meta, extra_arrays=extra)

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
            part = info["meta"].get("partial_epoch")
            self._partial = None if part is None else {
                "batches": int(part["batches"]), "sums": [float(v) for v in part["sums"]], "lr": float(part["lr"])}
            if self._partial is not None and (self._partial["batches"] < 1 or len(self._partial["sums"]) != 4):
                raise ValueError(f"partial_epoch {part!r} is not a position in an epoch")
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as e:
            msg = " ".join(str(e).split())
            raise CheckpointError(f"checkpoint: {path!r}: bad callback state ({type(e).__name__}: {msg})") from None
        return int(info["epoch"])

    # -- the loop ---------------------------------------------------------------------
    def _train_epoch(self, loader: Iterable[Any], lr0: float, resumed: bool) -> dict[str, float]:
        """One epoch (from batch ``start_batch`` when ``resumed``); sets ``_partial`` if ``max_steps`` cut it."""
        from cvprimer.optim.clip import clip_grad_norm_

        self.model.train()
        total, count, correct, seen_acc, pending = 0.0, 0, 0.0, 0, 0
        skip = self.start_batch if resumed else 0
        if skip and self._partial is not None and self.strategy.is_main:
            # the sums saved are totals: one process carries them, the strategy's reduction adds the others'
            total, count, correct, seen_acc = self._partial["sums"]
        self._partial = None
        n_batches = len(loader) if isinstance(loader, Sized) else None
        loader_rng = getattr(loader, "rng", None)
        self._epoch_rng_state = (copy.deepcopy(loader_rng.bit_generator.state)
                                 if isinstance(loader_rng, np.random.Generator) else None)
        bar = EpochProgress(self.epoch, n_batches, skip, self.verbose)
        it = iter(loader)
        b, stopped = skip, False
        try:
            for i in range(skip):  # the batches run before the checkpoint: same order (same RNG state), passed over
                if next(it, None) is None:
                    raise ValueError(f"Trainer: the checkpoint resumes epoch {self.epoch} after {skip} batches but "
                                     f"the train loader yields only {i}")
            self.optimizer.zero_grad()
            for xb, yb in it:
                b += 1
                x, y = Tensor(np.asarray(xb)), Tensor(np.asarray(yb))
                out = self.model(x)
                self._num_classes_check(out.data, y.data)
                loss = self.loss_fn(out, y)
                self._emit("on_after_forward", out, loss)
                pending += 1
                stepped = pending == self.accumulate
                will_step = stepped or b == n_batches  # the epoch's last batch: its lone accumulation steps too
                self.strategy.backward(loss / self.accumulate if self.accumulate > 1 else loss, will_step)
                self._emit("on_after_backward")
                if stepped:
                    self._update(clip_grad_norm_)
                    pending = 0
                n = len(y.data)
                lv = float(loss.item())
                total, count = total + lv * n, count + n
                acc = _batch_accuracy(out.data, y.data)
                if acc is not None:
                    correct, seen_acc = correct + acc * n, seen_acc + n
                logs: dict[str, Any] = {"epoch": self.epoch, "step": self.global_step, "loss": lv, "lr": self._lr()}
                if stepped and self.eval_every is not None and self.global_step % self.eval_every == 0:
                    logs.update(self._validate(mid_epoch=True))
                self._emit("on_batch_end", logs)
                bar.update(total / count, correct / seen_acc if seen_acc else None, self._lr())
                if stepped and self._steps_done():
                    stopped = True
                    break
        finally:
            bar.close()
            close = getattr(it, "close", None)
            if close is not None:  # a prefetching loader's thread stops now, not at garbage collection
                close()
        if pending:
            self._update(clip_grad_norm_)
        total, count, correct, seen_acc = self.strategy.reduce_sums([total, count, correct, seen_acc])
        self.strategy.sync_buffers(self.model)  # the buffers evaluation and checkpoints see: the same everywhere
        if count == 0:
            raise ValueError("Trainer: the training loader yielded no batches (empty dataset, or batch_size larger "
                             "than the dataset with drop_last=True)")
        if stopped and (n_batches is None or b < n_batches):
            self._partial = {"batches": b, "sums": [total, count, correct, seen_acc], "lr": lr0}
        logs_out = {"train_loss": total / count}
        if seen_acc:
            logs_out["train_acc"] = correct / seen_acc
        return logs_out

    def _validate(self, mid_epoch: bool) -> dict[str, float]:
        """Validation logs of the current weights. Mid-epoch (``eval_every``) the default generator's state is
        kept, so that these extra evaluations never change the dropout masks of the training that follows (the
        epoch-end validation is left as it always was)."""
        if not mid_epoch:
            return self.evaluate(self.val_loader)
        self.strategy.sync_buffers(self.model)
        with _default_rng_kept():
            return self.evaluate(self.val_loader)

    def _update(self, clip: Callable[..., Any]) -> None:
        self.strategy.reduce_gradients()  # data parallel: the mean gradient over the processes
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
        total, count, correct, seen_acc = self.strategy.reduce_sums([total, count, correct, seen_acc])
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

    def fit(self, train_loader: Any, val_loader: Any = None, epochs: int = 1, resume: str | None = None,
            train_eval_loader: Any = None) -> list[dict]:
        """Train for ``epochs`` epochs (counting the resumed ones), or until ``max_steps``; returns the per-epoch
        logs (module docstring). ``train_eval_loader``: what ``train_eval="exact"`` measures (default: the train
        loader's dataset in order, without its transform or sampler)."""
        self.train_loader, self.val_loader = train_loader, val_loader
        self.start_epoch, self.start_batch, self.stop_training, self.interrupted = 1, 0, False, False
        self._partial = None
        if self.eval_every is not None and val_loader is None:
            raise ValueError(f"Trainer: eval_every={self.eval_every} needs a val_loader in fit()")
        exact = None
        if self.train_eval == "exact":
            exact = train_eval_loader if train_eval_loader is not None else _plain_loader(train_loader)
        if resume is not None:
            done = self.load_checkpoint(resume)
            if self._partial is not None and not self._steps_done():  # continue the epoch max_steps cut short
                self.start_epoch, self.start_batch = done, self._partial["batches"]
            else:
                self.start_epoch, self._partial = done + 1, None
        self.strategy.start(self.model, self.optimizer)  # after the resume: the loaded state made the same everywhere
        history: list[dict] = []
        self._emit("on_fit_start")
        try:
            for epoch in range(self.start_epoch, epochs + 1):
                if self._steps_done():
                    break
                self.epoch = epoch
                t0 = time.perf_counter()
                self._emit("on_epoch_start", epoch)
                resumed = epoch == self.start_epoch and self.start_batch > 0
                lr0 = self._partial["lr"] if resumed and self._partial is not None else self._lr()
                logs: dict[str, Any] = {"epoch": epoch, "step": 0, "lr": lr0}
                logs.update(self._train_epoch(train_loader, lr0, resumed))
                logs["step"] = self.global_step
                if val_loader is not None:  # a cut epoch's validation is mid-epoch: it must not move the RNG
                    logs.update(self._validate(mid_epoch=self._partial is not None))
                if exact is not None:
                    with _default_rng_kept():
                        logs.update({f"{k}_exact": v for k, v in self.evaluate(exact, prefix="train_").items()})
                logs["partial_epoch"] = self._partial is not None
                logs["time"] = time.perf_counter() - t0
                if self.scheduler is not None and self.scheduler_interval == "epoch" and self._partial is None:
                    if getattr(self.scheduler, "steps_on_metric", False):  # a plateau schedule wants the metric
                        self.scheduler.step(logs.get("val_loss", logs["train_loss"]))
                    else:
                        self.scheduler.step()
                history.append(logs)
                if self.verbose:
                    print("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in logs.items()
                                    if k != "partial_epoch" or v))
                self._emit("on_epoch_end", epoch, logs)
                if self.stop_training:
                    break
        except KeyboardInterrupt:
            if not self.strategy.stops_alone:
                raise  # one process stopping alone would leave the others in a collective: end the job
            self.interrupted = True
        finally:
            self.strategy.end()
            self._emit("on_fit_end")
        return history
