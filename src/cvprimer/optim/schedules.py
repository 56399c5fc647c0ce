r"""Learning-rate schedules as pure functions of the step, composable with ``.then``.

A :class:`Schedule` maps a step ``t = 0, 1, 2, ...`` to a learning rate. A *finite* one is
defined on ``0 <= t <= duration`` (its value at ``duration`` is its end value); asking for a
later step is an error unless it has a defined tail (``hold`` schedules keep their end value).
``a.then(b)`` runs ``a`` on ``[0, a.duration)`` and then ``b(t - a.duration)``, so a warmup that
ends at the base lr hands over without a jump::

    sched = warmup("linear", 500, lr=0.1).then(cosine(0.1, T_max=9500))
    sched(0), sched(500), sched(10000)          # 0.0, 0.1, 0.0

Formulas (``eta`` the base lr, ``t`` the step):

* ``constant``: eta
* ``step_decay``: eta * gamma^floor(t / step_size)           (PyTorch StepLR)
* ``multistep``: eta * gamma^(number of milestones <= t)     (MultiStepLR)
* ``exponential``: eta * gamma^t                              (ExponentialLR)
* ``cosine``: eta_min + (eta - eta_min)(1 + cos(pi t / T_max)) / 2, 0 <= t <= T_max  (SGDR without restarts)
* ``cosine_warm_restarts``: the same inside each period T_i = T_0 T_mult^i (Loshchilov & Hutter, arXiv:1608.03983)
* ``polynomial``: eta (1 - min(t, T) / T)^power              (PolynomialLR; holds 0 after T)
* ``linear``: eta (s + (e - s) min(t, T) / T)                 (LinearLR; holds after T)
* ``warmup``: linear ``eta (s + (1 - s) t / T)`` or exponential ``eta s^(1 - t / T)`` on [0, T]
* ``warmup_hold_decay``: rise (warmup), plateau (constant), fall (cosine or linear to final_lr)
* ``one_cycle``: PyTorch's OneCycleLR (Smith & Topin, arXiv:1708.07120)

:class:`Plateau` is the one schedule driven by a metric instead of the step (ReduceLROnPlateau).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence

Fn = Callable[[int], float]


class Schedule:
    """A learning rate as a function of the step. ``duration`` None means unbounded;
    ``limit`` is the last valid step (default ``duration``; None with ``tail`` means any)."""

    def __init__(self, fn: Fn, duration: int | None, name: str, tail: bool = False,
                 limit: int | None = None) -> None:
        self.fn, self.duration, self.name, self.tail = fn, duration, name, tail
        self.limit = duration if limit is None else limit

    def __call__(self, t: int) -> float:
        if isinstance(t, bool) or not isinstance(t, int) or t < 0:
            raise ValueError(f"{self.name}: step must be an int >= 0, got {t!r}")
        if self.limit is not None and not self.tail and t > self.limit:
            raise ValueError(
                f"{self.name}: step {t} is beyond the end of this schedule (defined for 0 <= t <= "
                f"{self.limit}); chain a tail with .then(...) or use a longer schedule"
            )
        return float(self.fn(t))

    def then(self, nxt: Schedule) -> Schedule:
        """This schedule on ``[0, duration)``, then ``nxt(t - duration)``."""
        if self.duration is None:
            raise ValueError(f"{self.name}: an unbounded schedule cannot be followed by another")
        d = self.duration
        total = None if nxt.duration is None else d + nxt.duration
        lim = None if nxt.limit is None else d + nxt.limit
        return Schedule(lambda t: self(t) if t < d else nxt(t - d), total, f"{self.name}.then({nxt.name})",
                        tail=nxt.tail, limit=lim)

    def __repr__(self) -> str:
        return f"Schedule({self.name}, duration={self.duration})"


def _pos(name: str, op: str, v: float, strict: bool = True) -> None:
    if (v <= 0) if strict else (v < 0):
        raise ValueError(f"{op}: {name} must be {'> 0' if strict else '>= 0'}, got {v}")


def constant(lr: float, steps: int | None = None) -> Schedule:
    """eta for every step (for ``steps`` steps if given, e.g. as the plateau of a chain)."""
    _pos("lr", "constant", lr, strict=False)
    return Schedule(lambda t: lr, steps, f"constant({lr})")


def step_decay(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """eta * gamma^floor(t / step_size)."""
    _pos("step_size", "step_decay", step_size)
    return Schedule(lambda t: lr * gamma ** (t // step_size), None, "step_decay")


def multistep(lr: float, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    """eta * gamma^(number of milestones <= t); repeated milestones count repeatedly (as PyTorch)."""
    ms = sorted(int(m) for m in milestones)
    return Schedule(lambda t: lr * gamma ** bisect.bisect_right(ms, t), None, "multistep")


def exponential(lr: float, gamma: float) -> Schedule:
    """eta * gamma^t."""
    _pos("gamma", "exponential", gamma)
    return Schedule(lambda t: lr * gamma**t, None, "exponential")


def cosine(lr: float, T_max: int, eta_min: float = 0.0) -> Schedule:  # noqa: N803 - PyTorch's name
    """eta_min + (eta - eta_min)(1 + cos(pi t / T_max)) / 2 on 0 <= t <= T_max."""
    _pos("T_max", "cosine", T_max)
    return Schedule(lambda t: eta_min + (lr - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2,
                    T_max, f"cosine(T_max={T_max})")


def cosine_warm_restarts(lr: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0) -> Schedule:  # noqa: N803
    """Cosine from eta to eta_min over T_0 steps, restart; each next period is T_mult times longer."""
    _pos("T_0", "cosine_warm_restarts", T_0)
    if not isinstance(T_mult, int) or T_mult < 1:
        raise ValueError(f"cosine_warm_restarts: T_mult must be an int >= 1, got {T_mult!r}")

    def f(t: int) -> float:
        t_i = T_0
        if T_mult == 1:
            t %= T_0
        else:
            while t >= t_i:  # exact integer walk over the periods (no float log)
                t -= t_i
                t_i *= T_mult
        return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * t / t_i)) / 2

    return Schedule(f, None, "cosine_warm_restarts")


def polynomial(lr: float, total_iters: int, power: float = 1.0) -> Schedule:
    """eta (1 - min(t, T) / T)^power; holds its end value (0) after T."""
    _pos("total_iters", "polynomial", total_iters)
    return Schedule(lambda t: lr * (1.0 - min(total_iters, t) / total_iters) ** power, total_iters,
                    "polynomial", tail=True)


def linear(lr: float, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5) -> Schedule:
    """eta (s + (e - s) min(t, T) / T); holds eta e after T (PyTorch LinearLR)."""
    if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
        raise ValueError(f"linear: start_factor must be in (0, 1] and end_factor in [0, 1], got "
                         f"{start_factor}, {end_factor}")
    _pos("total_iters", "linear", total_iters)
    return Schedule(
        lambda t: lr * (start_factor + (end_factor - start_factor) * min(total_iters, t) / total_iters),
        total_iters, "linear", tail=True)


def warmup(kind: str, steps: int, lr: float, start_factor: float = 0.0) -> Schedule:
    """Rise from ``start_factor * lr`` at t = 0 to ``lr`` at t = steps (linear or exponential).

    Exponential warmup is geometric, ``lr * s^(1 - t/steps)``, so it needs ``start_factor > 0``.
    Follow it with ``.then(...)``; alone it is an error beyond ``steps``.
    """
    _pos("steps", "warmup", steps)
    if kind == "linear":
        if not 0 <= start_factor <= 1:
            raise ValueError(f"warmup: start_factor must be in [0, 1], got {start_factor}")
        return Schedule(lambda t: lr * (start_factor + (1 - start_factor) * t / steps), steps, "warmup(linear)")
    if kind == "exponential":
        if not 0 < start_factor <= 1:
            raise ValueError(f"warmup: exponential warmup needs start_factor in (0, 1], got {start_factor}")
        return Schedule(lambda t: lr * start_factor ** (1 - t / steps), steps, "warmup(exponential)")
    raise ValueError(f"warmup: kind must be 'linear' or 'exponential', got {kind!r}")


def warmup_hold_decay(lr: float, warmup_steps: int, hold_steps: int, decay_steps: int, final_lr: float = 0.0,
                      decay: str = "cosine", start_factor: float = 0.0) -> Schedule:
    """Rise (linear warmup), plateau at lr, fall to final_lr (cosine or linear), then hold final_lr."""
    if decay == "cosine":
        fall = cosine(lr, decay_steps, final_lr)
    elif decay == "linear":
        _pos("decay_steps", "warmup_hold_decay", decay_steps)
        fall = Schedule(lambda t: lr + (final_lr - lr) * t / decay_steps, decay_steps, "linear_decay")
    else:
        raise ValueError(f"warmup_hold_decay: decay must be 'cosine' or 'linear', got {decay!r}")
    chain = warmup("linear", warmup_steps, lr, start_factor)
    if hold_steps > 0:
        chain = chain.then(constant(lr, hold_steps))
    return chain.then(fall).then(constant(final_lr))


def _anneal(kind: str) -> Callable[[float, float, float], float]:
    if kind == "cos":
        return lambda a, b, pct: b + (a - b) / 2.0 * (math.cos(math.pi * pct) + 1)
    if kind == "linear":
        return lambda a, b, pct: (b - a) * pct + a
    raise ValueError(f"one_cycle: anneal_strategy must be 'cos' or 'linear', got {kind!r}")


def one_cycle_values(total_steps: int, pct_start: float, three_phase: bool, anneal_strategy: str,
                     v0: float, v1: float, v2: float) -> Fn:
    """PyTorch OneCycleLR's phase interpolation: two phases v0 -> v1 -> v2, or three phases
    v0 -> v1 -> v0 -> v2; phase ends at ``pct_start * total - 1`` (, ``2 pct_start total - 2``)
    and ``total - 1``. Shared by the lr (initial, max, min) and the momentum (max, base, max)."""
    f = _anneal(anneal_strategy)
    if three_phase:
        phases = [(pct_start * total_steps - 1, v0, v1), (2 * pct_start * total_steps - 2, v1, v0),
                  (total_steps - 1, v0, v2)]
    else:
        phases = [(pct_start * total_steps - 1, v0, v1), (total_steps - 1, v1, v2)]
    ends = [0.0] + [e for e, _, _ in phases]
    if any(b <= a for a, b in zip(ends, ends[1:], strict=False)):
        # PyTorch divides by zero or extrapolates here; a phase shorter than one step is a config error
        raise ValueError(
            f"one_cycle: phases must each last more than one step; got phase ends {ends[1:]} for "
            f"total_steps={total_steps}, pct_start={pct_start}, three_phase={three_phase} "
            "(need pct_start * total_steps > 1 and, with three_phase, pct_start < (total_steps + 1) / "
            "(2 total_steps))"
        )

    def value(t: int) -> float:
        start = 0.0
        for i, (end, a, b) in enumerate(phases):
            if t <= end or i == len(phases) - 1:
                return f(a, b, (t - start) / (end - start))
            start = end
        raise AssertionError  # pragma: no cover

    return value


def one_cycle(max_lr: float, total_steps: int, pct_start: float = 0.3, anneal_strategy: str = "cos",
              div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False) -> Schedule:
    """One-cycle policy: from max_lr/div_factor up to max_lr over ``pct_start`` of the run, then
    down to ``initial / final_div_factor`` (three_phase: back to initial first, then down).
    Valid for 0 <= t <= total_steps (as PyTorch, which raises after that).

    Differences from PyTorch: a configuration whose warm-up (or any) phase is shorter than one
    step (``pct_start * total_steps <= 1``) is a ValueError here; PyTorch divides by zero or
    extrapolates outside [min_lr, max_lr]."""
    if not isinstance(total_steps, int) or total_steps <= 0:
        raise ValueError(f"one_cycle: total_steps must be a positive int, got {total_steps!r}")
    if not 0 <= pct_start <= 1:
        raise ValueError(f"one_cycle: pct_start must be in [0, 1], got {pct_start}")
    initial = max_lr / div_factor
    fn = one_cycle_values(total_steps, pct_start, three_phase, anneal_strategy, initial, max_lr,
                          initial / final_div_factor)
    return Schedule(fn, total_steps - 1, "one_cycle", limit=total_steps)


class Plateau:
    r"""Reduce the lr when a metric stops improving (PyTorch ``ReduceLROnPlateau`` semantics).

    ``step(metric)`` after each epoch: the metric is *better* than the best so far when
    ``metric < best (1 - threshold)`` (mode min, rel), ``metric < best - threshold`` (min, abs),
    ``metric > best (1 + threshold)`` (max, rel) or ``metric > best + threshold`` (max, abs).
    After more than ``patience`` epochs without improvement the lr becomes
    ``max(lr * factor, min_lr)`` (skipped when the change is below ``eps``), and ``cooldown``
    epochs follow during which bad epochs are not counted.
    """

    def __init__(self, lr: float, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float = 0.0, eps: float = 1e-8) -> None:
        if factor >= 1.0:
            raise ValueError(f"Plateau: factor must be < 1.0, got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f"Plateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"Plateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.lr, self.mode, self.factor, self.patience = lr, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown = threshold, threshold_mode, cooldown
        self.min_lr, self.eps = min_lr, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def is_better(self, a: float) -> bool:
        b, th = self.best, self.threshold
        if self.mode == "min":
            return a < (b * (1 - th) if self.threshold_mode == "rel" else b - th)
        return a > (b * (1 + th) if self.threshold_mode == "rel" else b + th)

    def reduce(self, lr: float) -> float:
        new = max(lr * self.factor, self.min_lr)
        return new if lr - new > self.eps else lr

    def step(self, metric: float) -> bool:
        """Record one epoch's metric; True when the lr should be reduced now (``self.lr`` is)."""
        current = float(metric)
        if self.is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self.lr = self.reduce(self.lr)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
            return True
        return False
