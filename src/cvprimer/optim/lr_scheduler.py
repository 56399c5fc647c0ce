r"""Scheduler objects that set each param group's ``lr`` from a schedule (``torch.optim.lr_scheduler``).

Usage as in PyTorch: build after the optimizer (this sets ``lr`` for step 0 and records each
group's ``initial_lr``), call ``scheduler.step()`` once per step (or epoch) after
``optimizer.step()``. Every named scheduler is the driver :class:`ScheduleLR` over the pure
functions of :mod:`cvprimer.optim.schedules`, built per group from that group's base lr, so
the value at step ``t`` is computed in closed form (PyTorch's chainable recursions give the
same numbers up to rounding).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cvprimer.optim import schedules as S
from cvprimer.optim.optimizer import Optimizer


class LRScheduler:
    """Base driver: ``lr_at(group_index, base_lr, t)`` gives a group's lr at step ``t``."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected a cvprimer Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            if last_epoch == -1:
                g.setdefault("initial_lr", g["lr"])
            elif "initial_lr" not in g:
                raise KeyError(f"{type(self).__name__}: resuming (last_epoch={last_epoch}) needs "
                               "'initial_lr' in every param group")
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._last_lr: list[float] = []
        self.step()

    def lr_at(self, i: int, base_lr: float, t: int) -> float:
        raise NotImplementedError  # pragma: no cover

    def step(self) -> None:
        """Advance one step and write each group's lr."""
        self.last_epoch += 1
        t = self.last_epoch
        for i, (g, base) in enumerate(zip(self.optimizer.param_groups, self.base_lrs, strict=True)):
            g["lr"] = self.lr_at(i, base, t)
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def chain_lr(self, i: int, lr: float, t: int) -> float:
        r"""Group ``i``'s lr at step ``t`` when this scheduler is applied to an incoming ``lr`` (the
        chainable form :class:`ChainedScheduler` composes): PyTorch's multiplicative schedulers scale
        the incoming lr by ``v(t) / v(t-1)`` (``v(0) / base_lr`` at ``t = 0``), which is the default
        here; non-chainable ones (LambdaLR, OneCycleLR, warm restarts) return ``v(t)`` and override."""
        base = self.base_lrs[i]
        prev = base if t == 0 else self.lr_at(i, base, t - 1)
        cur = self.lr_at(i, base, t)
        return cur if prev == 0 else lr * (cur / prev)

    def state_dict(self) -> dict[str, Any]:
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs), "_last_lr": list(self._last_lr)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_epoch = int(state["last_epoch"])
        self.base_lrs = list(state["base_lrs"])
        self._last_lr = list(state.get("_last_lr", []))


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(t) (one function, or one per group)."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        n = len(optimizer.param_groups)
        fns = list(lr_lambda) if isinstance(lr_lambda, Sequence) else [lr_lambda] * n
        if len(fns) != n:
            raise ValueError(f"LambdaLR: expected {n} lr_lambdas (one per group), got {len(fns)}")
        self.lr_lambdas = fns
        super().__init__(optimizer, last_epoch)

    def lr_at(self, i: int, base_lr: float, t: int) -> float:
        return base_lr * self.lr_lambdas[i](t)

    def chain_lr(self, i: int, lr: float, t: int) -> float:
        return self.lr_at(i, self.base_lrs[i], t)  # not chainable in PyTorch either: it overwrites


class ScheduleLR(LRScheduler):
    """Drive the groups with ``make(base_lr) -> Schedule`` (e.g. ``lambda lr: warmup("linear", 100,
    lr).then(S.cosine(lr, 900))``), or a ready Schedule used for every group."""

    def __init__(self, optimizer: Optimizer, schedule: Callable[[float], S.Schedule] | S.Schedule,
                 last_epoch: int = -1) -> None:
        self._make = schedule
        self._cache: dict[int, S.Schedule] = {}
        super().__init__(optimizer, last_epoch)

    def lr_at(self, i: int, base_lr: float, t: int) -> float:
        if isinstance(self._make, S.Schedule):
            return self._make(t)
        if i not in self._cache:
            self._cache[i] = self._make(base_lr)
        return self._cache[i](t)


class StepLR(ScheduleLR):
    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        super().__init__(optimizer, lambda lr: S.step_decay(lr, step_size, gamma), last_epoch)


class MultiStepLR(ScheduleLR):
    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        super().__init__(optimizer, lambda lr: S.multistep(lr, milestones, gamma), last_epoch)


class ExponentialLR(ScheduleLR):
    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        super().__init__(optimizer, lambda lr: S.exponential(lr, gamma), last_epoch)


class CosineAnnealingLR(ScheduleLR):
    """Cosine from base_lr to eta_min over T_max steps; stepping past T_max is an error
    (PyTorch silently continues into a second half-period)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:  # noqa: N803
        super().__init__(optimizer, lambda lr: S.cosine(lr, T_max, eta_min), last_epoch)
        self.eta_min = float(eta_min)

    def chain_lr(self, i: int, lr: float, t: int) -> float:
        """PyTorch's recursive form: ``eta_min + (lr - eta_min) (1 + cos(pi t/T)) / (1 + cos(pi (t-1)/T))``."""
        if t == 0:
            return lr
        base, e = self.base_lrs[i], self.eta_min
        prev, cur = self.lr_at(i, base, t - 1) - e, self.lr_at(i, base, t) - e
        return e + (lr - e) * (cur / prev) if prev != 0 else cur + e


class CosineAnnealingWarmRestarts(ScheduleLR):
    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,  # noqa: N803
                 last_epoch: int = -1) -> None:
        super().__init__(optimizer, lambda lr: S.cosine_warm_restarts(lr, T_0, T_mult, eta_min), last_epoch)

    def chain_lr(self, i: int, lr: float, t: int) -> float:
        return self.lr_at(i, self.base_lrs[i], t)  # computed from base_lr in PyTorch too


class PolynomialLR(ScheduleLR):
    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1) -> None:
        super().__init__(optimizer, lambda lr: S.polynomial(lr, total_iters, power), last_epoch)


class LinearLR(ScheduleLR):
    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        super().__init__(optimizer, lambda lr: S.linear(lr, start_factor, end_factor, total_iters), last_epoch)


class ConstantLR(ScheduleLR):
    """lr = base_lr * factor for t < total_iters, then base_lr (PyTorch's ConstantLR, a flat warm-up)."""

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        if not 0 <= factor <= 1:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor}")
        if not isinstance(total_iters, int) or total_iters < 0:
            raise ValueError(f"ConstantLR: total_iters must be an int >= 0, got {total_iters!r}")
        super().__init__(optimizer, lambda lr: S.Schedule(lambda t: lr * factor if t < total_iters else lr, None,
                                                          "constant_lr"), last_epoch)


class OneCycleLR(LRScheduler):
    """PyTorch's OneCycleLR, including momentum cycling (``momentum`` for SGD/RMSprop, ``betas[0]``
    for Adam-like optimizers) between ``max_momentum`` and ``base_momentum``."""

    def __init__(self, optimizer: Optimizer, max_lr: float | Sequence[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True, base_momentum: float = 0.85,
                 max_momentum: float = 0.95, div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1) -> None:
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: give total_steps, or both epochs and steps_per_epoch")
            total_steps = epochs * steps_per_epoch
        n = len(optimizer.param_groups)
        max_lrs = list(max_lr) if isinstance(max_lr, Sequence) else [max_lr] * n
        if len(max_lrs) != n:
            raise ValueError(f"OneCycleLR: expected {n} max_lr values, got {len(max_lrs)}")
        self.total_steps = total_steps
        self.lr_schedules = [S.one_cycle(m, total_steps, pct_start, anneal_strategy, div_factor,
                                         final_div_factor, three_phase) for m in max_lrs]
        self.cycle_momentum = cycle_momentum
        self._mom = S.one_cycle_values(total_steps, pct_start, three_phase, anneal_strategy,
                                       max_momentum, base_momentum, max_momentum)
        if cycle_momentum:
            g0 = optimizer.param_groups[0]
            if "momentum" not in g0 and "betas" not in g0:
                raise ValueError("OneCycleLR: optimizer has no momentum or betas but cycle_momentum=True")
        if last_epoch == -1:
            for g, m in zip(optimizer.param_groups, max_lrs, strict=True):
                g["initial_lr"] = m / div_factor
                g["max_lr"], g["min_lr"] = m, m / div_factor / final_div_factor
        super().__init__(optimizer, last_epoch)

    def lr_at(self, i: int, base_lr: float, t: int) -> float:
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {t} times; total_steps is {self.total_steps}")
        if self.cycle_momentum:
            g = self.optimizer.param_groups[i]
            m = self._mom(t)
            if "betas" in g:
                g["betas"] = (m, g["betas"][1])
            else:
                g["momentum"] = m
        return self.lr_schedules[i](t)

    def chain_lr(self, i: int, lr: float, t: int) -> float:
        return self.lr_at(i, self.base_lrs[i], t)


class ReduceLROnPlateau:
    """Multiply each group's lr by ``factor`` when ``step(metric)`` sees no improvement for more
    than ``patience`` epochs (see :class:`cvprimer.optim.schedules.Plateau` for the rules).

    ``steps_on_metric = True`` tells a training loop to call ``step(metric)`` with the monitored value (the
    Trainer passes the validation loss, or the training loss when there is no validation set)."""

    steps_on_metric = True

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | Sequence[float] = 0.0, eps: float = 1e-8) -> None:
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        mins = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * n
        if len(mins) != n:
            raise ValueError(f"ReduceLROnPlateau: expected {n} min_lr values, got {len(mins)}")
        self.min_lrs = mins
        self.tracker = S.Plateau(1.0, mode, factor, patience, threshold, threshold_mode, cooldown, 0.0, eps)
        self.last_epoch = 0
        self._last_lr = [g["lr"] for g in optimizer.param_groups]

    def step(self, metrics: float) -> None:
        self.last_epoch += 1
        if self.tracker.step(metrics):
            for g, lo in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
                new = max(g["lr"] * self.tracker.factor, lo)
                if g["lr"] - new > self.tracker.eps:
                    g["lr"] = new
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """The tracker's progress (JSON-able) for checkpoints."""
        tr = self.tracker
        return {"last_epoch": self.last_epoch, "best": tr.best, "num_bad_epochs": tr.num_bad_epochs,
                "cooldown_counter": tr.cooldown_counter, "_last_lr": list(self._last_lr)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        tr = self.tracker
        self.last_epoch = int(state["last_epoch"])
        tr.best, tr.num_bad_epochs = float(state["best"]), int(state["num_bad_epochs"])
        tr.cooldown_counter = int(state["cooldown_counter"])
        self._last_lr = list(state["_last_lr"])


SCHEDULE_KINDS = ("constant", "step", "cosine", "onecycle", "plateau")


def make_scheduler(kind: str, optimizer: Optimizer, total_steps: int, warmup_steps: int = 0) -> tuple[Any, str]:
    """A scheduler by name, and the interval it is stepped at (``"step"`` or ``"epoch"``).

    ``constant`` (None unless there is a warm-up), ``step`` (x0.1 at each third of the steps after warm-up),
    ``cosine`` (to 0 over the steps after warm-up), each after an optional linear warm-up of ``warmup_steps``
    from 0 to each group's lr; ``onecycle`` (OneCycleLR peaking at the group's lr over ``total_steps``);
    ``plateau`` (ReduceLROnPlateau, factor 0.5, patience 2, stepped per epoch on a metric).
    """
    if kind not in SCHEDULE_KINDS:
        raise ValueError(f"make_scheduler: unknown kind {kind!r}; expected one of {SCHEDULE_KINDS}")
    if kind == "plateau":
        return ReduceLROnPlateau(optimizer, factor=0.5, patience=2), "epoch"
    if kind == "onecycle":
        return OneCycleLR(optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=total_steps), \
            "step"
    if kind == "constant" and warmup_steps == 0:
        return None, "epoch"

    def make(lr: float) -> S.Schedule:
        rest = total_steps - warmup_steps
        main = {"constant": lambda: S.constant(lr), "cosine": lambda: S.cosine(lr, T_max=rest),
                "step": lambda: S.step_decay(lr, step_size=max(rest // 3, 1), gamma=0.1)}[kind]()
        return S.warmup("linear", warmup_steps, lr).then(main) if warmup_steps else main

    return ScheduleLR(optimizer, make), "step"


# the composite schedulers build on LRScheduler above; re-exported here under PyTorch's module path
from cvprimer.optim.lr_compose import ChainedScheduler, SequentialLR  # noqa: E402, F401
