r"""Stochastic gradient descent, with momentum, dampening and Nesterov momentum."""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.tensor import Tensor
from cvprimer.optim.optimizer import Optimizer
from cvprimer.optim.proximal import soft_threshold


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum / Nesterov momentum).

    .. code-block:: text

        input: gamma (lr), theta_0, f(theta), lambda (weight_decay), mu (momentum),
               tau (dampening), nesterov, l1 (l1_decay), l1_mode
        for t = 1, 2, ...:
            g_t <- grad f_t(theta_{t-1})
            if lambda != 0:  g_t <- g_t + lambda theta_{t-1}
            if l1 != 0 and l1_mode = subgradient:  g_t <- g_t + l1 sign(theta_{t-1})
            if mu != 0:
                if t > 1:  b_t <- mu b_{t-1} + (1 - tau) g_t
                else:      b_t <- g_t
                if nesterov:  g_t <- g_t + mu b_t
                else:         g_t <- b_t
            theta_t <- theta_{t-1} - gamma g_t
            if l1 != 0 and l1_mode = proximal:  theta_t <- sign(theta_t) max(|theta_t| - gamma l1, 0)
        return theta_t

    State: ``momentum_buffer`` (b_t).

    GD vs batch GD vs mini-batch SGD is not an optimizer option: it is only the number of
    examples behind each gradient. With ``N`` training examples, a loader with ``batch_size=N``
    gives (full-)batch gradient descent, ``batch_size=1`` gives "pure" SGD, and anything in
    between mini-batch SGD; the update rule above is the same in every case::

        opt = SGD(model.parameters(), lr=0.1)
        for xb, yb in batches(X, y, batch_size=N):   # N = len(X): batch GD; 32: mini-batch SGD
            opt.zero_grad(); loss_fn(model(xb), yb).backward(); opt.step()

    Differences from the papers: Sutskever et al. (2013) write momentum as
    ``v <- mu v - gamma g; theta <- theta + v`` (lr inside the buffer); PyTorch (and we) keep
    lr outside, which differs only when lr changes during training. Nesterov here is the
    "look-ahead on the gradient" reformulation ``g + mu b_t`` rather than evaluating the
    gradient at a shifted point.

    Parameters
    ----------
    params : iterable of Tensors or param-group dicts
    lr : float, default 1e-3
    momentum : float, default 0
    dampening : float, default 0
    weight_decay : float, default 0 (coupled L2)
    nesterov : bool, default False (needs momentum > 0 and dampening = 0)
    l1_decay : float, default 0 (the L1 penalty ``l1_decay * ||theta||_1``; see ``l1_mode``)
    l1_mode : {"subgradient", "proximal"}, default "subgradient"
        ``"subgradient"`` adds ``l1_decay * sign(theta)`` to the gradient (sign(0) = 0), the base class's
        rule; weights oscillate around zero and are rarely exactly zero. ``"proximal"`` leaves the gradient
        alone and after the step applies soft-thresholding (ISTA, see :mod:`cvprimer.optim.proximal`)::

            theta <- sign(theta) * max(|theta| - lr * l1_decay, 0)

        which sets weights to exact zeros. With ``l1_decay = 0`` both modes are plain SGD.
    """

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, l1_decay: float = 0.0,
                 l1_mode: str = "subgradient") -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, l1_decay=l1_decay,
                                      l1_mode=l1_mode))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if group["momentum"] < 0:
            raise ValueError(f"SGD: invalid momentum {group['momentum']} (expected >= 0)")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov momentum requires momentum > 0 and zero dampening, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )
        if group.get("l1_mode", "subgradient") not in ("subgradient", "proximal"):
            raise ValueError(f"SGD: l1_mode must be 'subgradient' or 'proximal', got {group['l1_mode']!r}")

    def _grad(self, p: Tensor, group: dict[str, Any]) -> np.ndarray:
        if group.get("l1_mode", "subgradient") == "proximal" and group.get("l1_decay", 0.0):
            # the L1 term is applied by the proximal map after the step, not as a subgradient
            return super()._grad(p, {**group, "l1_decay": 0.0})
        return super()._grad(p, group)

    def _update(self, p: Tensor, g: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        mu = group["momentum"]
        if mu != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=p.dtype, copy=True)
            else:
                buf *= mu
                buf += (1 - group["dampening"]) * g
            g = g + mu * buf if group["nesterov"] else buf
        p.data -= group["lr"] * g
        if group.get("l1_mode", "subgradient") == "proximal" and group.get("l1_decay", 0.0):
            p.data[...] = soft_threshold(p.data, group["lr"] * group["l1_decay"])
