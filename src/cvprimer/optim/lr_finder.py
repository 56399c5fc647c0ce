r"""The learning-rate range test (Smith 2015, arXiv:1506.01186; popularized by fast.ai).

Train for ``num_steps`` mini-batches while the lr grows exponentially from ``start_lr`` to
``end_lr``: ``lr_i = start_lr (end_lr / start_lr)^(i / (num_steps - 1))``. Record the loss,
smoothed by an exponential moving average with bias correction
(``avg_i = beta avg_{i-1} + (1 - beta) loss_i``, ``smoothed_i = avg_i / (1 - beta^(i+1))``), and
stop early once the smoothed loss exceeds ``diverge_factor`` times the best seen (divergence).
The suggestion is the lr where the smoothed loss falls fastest against log(lr) (the most
negative finite difference ``d smoothed / d log lr``, leaving out ``skip_start`` points at the
start and ``skip_end`` at the end), a common heuristic: a value somewhat below the minimum of the
curve. The model's and optimizer's states are restored afterwards,
so the test leaves no trace.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cvprimer.optim.optimizer import Optimizer


@dataclass
class LRRangeResult:
    """What the range test saw: lrs tried, raw and smoothed losses, the suggestion."""

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    suggested_lr: float | None = None
    diverged: bool = False


def _cycle(batches: Iterable[Any]) -> Any:
    while True:
        seen = False
        for b in batches:
            seen = True
            yield b
        if not seen:
            raise ValueError("lr_range_test: batches is empty (or a spent iterator)")


def lr_range_test(model: Any, loss_fn: Callable[[Any, Any], Any], optimizer: Optimizer, batches: Iterable[Any],
                  start_lr: float = 1e-7, end_lr: float = 10.0, num_steps: int = 100, beta: float = 0.98,
                  diverge_factor: float = 4.0, skip_start: int = 10, skip_end: int = 5) -> LRRangeResult:
    r"""Run the range test; returns an :class:`LRRangeResult`.

    Parameters
    ----------
    model : Module (called as ``model(x)``; ``state_dict``/``load_state_dict`` used to restore)
    loss_fn : ``loss_fn(model(x), y) -> scalar Tensor``
    optimizer : Optimizer over the model's parameters (every group gets the same lr)
    batches : iterable of ``(x, y)``; re-iterated if shorter than ``num_steps``
    start_lr, end_lr : the range (0 < start_lr < end_lr)
    num_steps : number of lrs tried (>= 2)
    beta : smoothing of the loss curve, in [0, 1)
    diverge_factor : stop when smoothed loss > diverge_factor * best smoothed loss
    skip_start, skip_end : points left out of the suggestion at each end (fast.ai's defaults):
        the first smoothed values still follow single noisy batches, the last ones diverge
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"lr_range_test: need 0 < start_lr < end_lr, got {start_lr}, {end_lr}")
    if num_steps < 2:
        raise ValueError(f"lr_range_test: num_steps must be >= 2, got {num_steps}")
    if not 0 <= beta < 1:
        raise ValueError(f"lr_range_test: beta must be in [0, 1), got {beta}")
    model_state = model.state_dict()
    opt_state = optimizer.state_dict()
    was_training = model.training
    model.train()
    res = LRRangeResult()
    avg, best = 0.0, math.inf
    source = _cycle(batches)
    try:
        for i in range(num_steps):
            lr = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))
            for g in optimizer.param_groups:
                g["lr"] = lr
            x, y = next(source)
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            value = float(loss.item())
            avg = beta * avg + (1 - beta) * value
            smooth = avg / (1 - beta ** (i + 1))
            res.lrs.append(lr)
            res.losses.append(value)
            res.smoothed.append(smooth)
            if not math.isfinite(smooth) or (i > 0 and smooth > diverge_factor * best):
                res.diverged = True
                break
            best = min(best, smooth)
    finally:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(opt_state)
        optimizer.zero_grad()
        model.train(was_training)
    n = len(res.lrs)
    lo, hi = (skip_start, n - skip_end) if n - skip_end - skip_start >= 3 else (0, n)
    res.suggested_lr = _steepest(res.lrs[lo:hi], res.smoothed[lo:hi])
    return res


def _steepest(lrs: list[float], smoothed: list[float]) -> float | None:
    """The lr at the most negative d(smoothed)/d(log lr) among finite points (None if < 3 points)."""
    lr = np.asarray(lrs)
    s = np.asarray(smoothed)
    ok = np.isfinite(s)
    lr, s = lr[ok], s[ok]
    if len(s) < 3:
        return None
    slope = np.gradient(s, np.log(lr))
    return float(lr[int(np.argmin(slope))])
