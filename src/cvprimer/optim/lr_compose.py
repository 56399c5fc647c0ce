r"""Schedulers made of schedulers (``torch.optim.lr_scheduler.SequentialLR`` and ``ChainedScheduler``).

* :class:`SequentialLR` hands the optimizer from one scheduler to the next at ``milestones``: before the
  first milestone ``schedulers[0]`` runs, at milestone ``m_k`` scheduler ``k + 1`` restarts at its own
  step 0 (so ``SequentialLR([LinearLR(warm-up, 5 steps), CosineAnnealingLR(T_max=95)], milestones=[5])``
  is a 5-step warm-up then a cosine from the base lr), as PyTorch's does.
* :class:`ChainedScheduler` steps every scheduler each step and composes them: each applies its
  chainable form (:meth:`LRScheduler.chain_lr`) to the lr the previous one produced, so multiplicative
  schedules multiply (``ExponentialLR`` after a ``LinearLR`` warm-up gives ``base * warm(t) * gamma^t``).

Both take schedulers already built on the same optimizer, like PyTorch's.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from cvprimer.optim.lr_scheduler import LRScheduler
from cvprimer.optim.optimizer import Optimizer


def _check(name: str, schedulers: Sequence[Any], optimizer: Optimizer | None) -> tuple[list[LRScheduler], Optimizer]:
    scheds = list(schedulers)
    if not scheds:
        raise ValueError(f"{name}: expected at least one scheduler, got none")
    for k, s in enumerate(scheds):
        if not isinstance(s, LRScheduler):
            raise TypeError(f"{name}: schedulers[{k}] is a {type(s).__name__}; expected an LRScheduler "
                            "(ReduceLROnPlateau steps on a metric and cannot be sequenced or chained)")
    opt = optimizer if optimizer is not None else scheds[0].optimizer
    for k, s in enumerate(scheds):
        if s.optimizer is not opt:
            raise ValueError(f"{name}: schedulers[{k}] drives a different optimizer than "
                             f"{'the one given' if optimizer is not None else 'schedulers[0]'}; all must share one")
    return scheds, opt


class SequentialLR(LRScheduler):
    r"""Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]`` from its step 0, and so on.

    At global step ``t`` the active scheduler is ``k = bisect_right(milestones, t)``, at its local step
    ``t - milestones[k-1]`` (``t`` for ``k = 0``); each group's lr is that scheduler's closed-form value.

    Parameters
    ----------
    optimizer : the optimizer every scheduler drives.
    schedulers : list of ``LRScheduler`` (len L).
    milestones : increasing ints (len L - 1), the global steps where the next scheduler takes over.
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int],
                 last_epoch: int = -1) -> None:
        scheds, _ = _check("SequentialLR", schedulers, optimizer)
        ms = [int(m) for m in milestones]
        if len(ms) != len(scheds) - 1:
            raise ValueError(f"SequentialLR: expected {len(scheds) - 1} milestones (one fewer than the "
                             f"{len(scheds)} schedulers), got {len(ms)}")
        if any(b <= a for a, b in zip(ms, ms[1:], strict=False)) or (ms and ms[0] < 1):
            raise ValueError(f"SequentialLR: milestones must be positive and strictly increasing, got {ms}")
        if last_epoch != -1:
            raise ValueError("SequentialLR: last_epoch must be -1 (resume with load_state_dict)")
        self.optimizer = optimizer
        self._schedulers = scheds
        self._milestones = ms
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        for s in scheds:  # as PyTorch: undo the step each scheduler took when it was built ...
            s.last_epoch -= 1
        self.last_epoch = 0  # ... and take step 0 with the first one only
        self._set(scheds[0], 0)

    def _set(self, s: LRScheduler, t: int) -> None:
        s.last_epoch = t
        for i, (g, base) in enumerate(zip(self.optimizer.param_groups, s.base_lrs, strict=True)):
            g["lr"] = s.lr_at(i, base, t)
        s._last_lr = [g["lr"] for g in self.optimizer.param_groups]
        self._last_lr = list(s._last_lr)

    def step(self) -> None:
        self.last_epoch += 1
        k = bisect_right(self._milestones, self.last_epoch)
        s = self._schedulers[k]
        restart = k > 0 and self._milestones[k - 1] == self.last_epoch
        self._set(s, 0 if restart else s.last_epoch + 1)

    def state_dict(self) -> dict[str, Any]:
        return {"last_epoch": self.last_epoch, "_milestones": list(self._milestones),
                "_last_lr": list(self._last_lr), "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_epoch = int(state["last_epoch"])
        self._last_lr = list(state.get("_last_lr", []))
        for s, sd in zip(self._schedulers, state["_schedulers"], strict=True):
            s.load_state_dict(sd)


class ChainedScheduler(LRScheduler):
    r"""Step every scheduler at once, composing them in list order.

    Each step ``t``: ``lr <- chain_k(lr, t)`` for ``k = 1..L``, starting from the group's current lr;
    for multiplicative schedules ``chain_k(lr, t) = lr * v_k(t) / v_k(t-1)``, so the result is
    ``base_lr * prod_k v_k(t) / base_lr``. Built from schedulers that each already took step 0, it first
    recomposes step 0 (``base_lr * prod_k v_k(0) / base_lr``), which is where PyTorch's chained
    constructors leave the optimizer.
    """

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None) -> None:
        scheds, opt = _check("ChainedScheduler", schedulers, optimizer)
        self.optimizer = opt
        self._schedulers = scheds
        self.base_lrs = [g["initial_lr"] for g in opt.param_groups]
        self.last_epoch = min(s.last_epoch for s in scheds)
        lrs = list(self.base_lrs)
        for s in scheds:
            for i in range(len(lrs)):
                lrs[i] = s.chain_lr(i, lrs[i], 0)
            for t in range(1, s.last_epoch + 1):  # a scheduler stepped before chaining keeps its steps
                for i in range(len(lrs)):
                    lrs[i] = s.chain_lr(i, lrs[i], t)
        self._write(lrs)

    def _write(self, lrs: list[float]) -> None:
        for g, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            g["lr"] = lr
        self._last_lr = list(lrs)
        for s in self._schedulers:
            s._last_lr = list(lrs)

    def step(self) -> None:
        self.last_epoch += 1
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        for s in self._schedulers:
            s.last_epoch += 1
            lrs = [s.chain_lr(i, lr, s.last_epoch) for i, lr in enumerate(lrs)]
        self._write(lrs)

    def state_dict(self) -> dict[str, Any]:
        return {"last_epoch": self.last_epoch, "_last_lr": list(self._last_lr),
                "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_epoch = int(state["last_epoch"])
        self._last_lr = list(state.get("_last_lr", []))
        for s, sd in zip(self._schedulers, state["_schedulers"], strict=True):
            s.load_state_dict(sd)
