r"""AdaGrad and AdaDelta: per-coordinate step sizes from accumulated squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.tensor import Tensor
from cvprimer.optim.optimizer import Optimizer, check_range


class Adagrad(Optimizer):
    r"""AdaGrad (Duchi, Hazan & Singer, JMLR 2011).

    .. code-block:: text

        input: gamma (lr), theta_0, lambda (weight_decay), tau (initial_accumulator_value),
               eta (lr_decay), eps
        initialize: state_sum_0 <- tau
        for t = 1, 2, ...:
            g_t <- grad f_t(theta_{t-1})
            gamma~ <- gamma / (1 + (t - 1) eta)
            if lambda != 0:  g_t <- g_t + lambda theta_{t-1}
            state_sum_t <- state_sum_{t-1} + g_t^2
            theta_t <- theta_{t-1} - gamma~ g_t / (sqrt(state_sum_t) + eps)
        return theta_t

    State: ``sum`` (state_sum_t), ``step`` (t).
    Differences from the paper: the paper's diagonal version puts eps-free ``sqrt(G_t)`` in the
    denominator and has no ``lr_decay``; eps (outside the sqrt) and the 1/(1 + (t-1) eta) decay are
    PyTorch's.
    """

    def __init__(self, params: Any, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, l1_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      l1_decay=l1_decay))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if group["lr_decay"] < 0:
            raise ValueError(f"Adagrad: invalid lr_decay {group['lr_decay']} (expected >= 0)")
        if group["initial_accumulator_value"] < 0:
            raise ValueError(f"Adagrad: invalid initial_accumulator_value "
                             f"{group['initial_accumulator_value']} (expected >= 0)")

    def _update(self, p: Tensor, g: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        if "sum" not in state:
            state["step"] = 0
            state["sum"] = np.full(p.shape, group["initial_accumulator_value"], p.dtype)
        state["step"] += 1
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += g * g
        p.data -= clr * (g / (np.sqrt(state["sum"]) + group["eps"]))


class Adadelta(Optimizer):
    r"""AdaDelta (Zeiler 2012, arXiv:1212.5701).

    .. code-block:: text

        input: gamma (lr), theta_0, rho, eps, lambda (weight_decay)
        initialize: v_0 <- 0 (square_avg), u_0 <- 0 (acc_delta)
        for t = 1, 2, ...:
            g_t <- grad f_t(theta_{t-1})
            if lambda != 0:  g_t <- g_t + lambda theta_{t-1}
            v_t <- rho v_{t-1} + (1 - rho) g_t^2
            Delta_t <- sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g_t
            u_t <- rho u_{t-1} + (1 - rho) Delta_t^2
            theta_t <- theta_{t-1} - gamma Delta_t
        return theta_t

    State: ``square_avg`` (v), ``acc_delta`` (u), ``step``.
    Differences from the paper: the paper has no learning rate (gamma = 1, PyTorch's default).
    """

    def __init__(self, params: Any, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, l1_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, l1_decay=l1_decay))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        check_range("rho", "Adadelta", group["rho"], 0.0, 1.0)

    def _update(self, p: Tensor, g: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        if "square_avg" not in state:
            state["step"] = 0
            state["square_avg"] = np.zeros(p.shape, p.dtype)
            state["acc_delta"] = np.zeros(p.shape, p.dtype)
        rho, eps = group["rho"], group["eps"]
        state["step"] += 1
        v, u = state["square_avg"], state["acc_delta"]
        v *= rho
        v += (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u *= rho
        u += (1 - rho) * delta * delta
        p.data -= group["lr"] * delta
