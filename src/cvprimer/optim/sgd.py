r"""Stochastic gradient descent, with momentum, dampening and Nesterov momentum."""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.tensor import Tensor
from cvprimer.optim.optimizer import Optimizer


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum / Nesterov momentum).

    .. code-block:: text

        input: gamma (lr), theta_0, f(theta), lambda (weight_decay), mu (momentum),
               tau (dampening), nesterov
        for t = 1, 2, ...:
            g_t <- grad f_t(theta_{t-1})
            if lambda != 0:  g_t <- g_t + lambda theta_{t-1}
            if mu != 0:
                if t > 1:  b_t <- mu b_{t-1} + (1 - tau) g_t
                else:      b_t <- g_t
                if nesterov:  g_t <- g_t + mu b_t
                else:         g_t <- b_t
            theta_t <- theta_{t-1} - gamma g_t
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
    l1_decay : float, default 0 (adds ``l1_decay * sign(theta)`` to the gradient)
    """

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, l1_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, l1_decay=l1_decay))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if group["momentum"] < 0:
            raise ValueError(f"SGD: invalid momentum {group['momentum']} (expected >= 0)")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov momentum requires momentum > 0 and zero dampening, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

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
