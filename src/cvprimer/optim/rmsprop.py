r"""RMSProp (Hinton's lecture 6e), with optional momentum and the centered variant."""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.tensor import Tensor
from cvprimer.optim.optimizer import Optimizer


class RMSprop(Optimizer):
    r"""RMSProp.

    .. code-block:: text

        input: gamma (lr), theta_0, alpha (smoothing), eps, lambda (weight_decay),
               mu (momentum), centered
        initialize: v_0 <- 0 (square_avg), b_0 <- 0 (momentum_buffer), g_ave_0 <- 0 (grad_avg)
        for t = 1, 2, ...:
            g_t <- grad f_t(theta_{t-1})
            if lambda != 0:  g_t <- g_t + lambda theta_{t-1}
            v_t <- alpha v_{t-1} + (1 - alpha) g_t^2
            v~_t <- v_t
            if centered:
                g_ave_t <- alpha g_ave_{t-1} + (1 - alpha) g_t
                v~_t <- v~_t - g_ave_t^2
            if mu > 0:
                b_t <- mu b_{t-1} + g_t / (sqrt(v~_t) + eps)
                theta_t <- theta_{t-1} - gamma b_t
            else:
                theta_t <- theta_{t-1} - gamma g_t / (sqrt(v~_t) + eps)
        return theta_t

    State: ``square_avg``, ``grad_avg`` (centered), ``momentum_buffer`` (momentum > 0), ``step``.
    Differences from the source: the lecture puts eps inside the square root and has neither
    momentum nor centering; the centered form (subtracting the squared mean, i.e. a variance
    estimate) is Graves (2013, arXiv:1308.0850). eps outside the sqrt follows PyTorch.
    """

    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 l1_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, l1_decay=l1_decay))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if group["momentum"] < 0:
            raise ValueError(f"RMSprop: invalid momentum {group['momentum']} (expected >= 0)")
        if not 0.0 <= group["alpha"]:
            raise ValueError(f"RMSprop: invalid alpha {group['alpha']} (expected >= 0)")

    def _update(self, p: Tensor, g: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        if "square_avg" not in state:
            state["step"] = 0
            state["square_avg"] = np.zeros(p.shape, p.dtype)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros(p.shape, p.dtype)
            if group["centered"]:
                state["grad_avg"] = np.zeros(p.shape, p.dtype)
        alpha = group["alpha"]
        state["step"] += 1
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            ga = state["grad_avg"]
            ga += (1 - alpha) * (g - ga)
            avg = np.sqrt(v - ga * ga)
        else:
            avg = np.sqrt(v)
        avg += group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += g / avg
            p.data -= group["lr"] * buf
        else:
            p.data -= group["lr"] * (g / avg)
