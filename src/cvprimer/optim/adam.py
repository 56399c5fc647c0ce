r"""Adam and its variants: AMSGrad (flag), AdamW (decoupled decay), AdaMax, NAdam, RAdam."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.core.tensor import Tensor
from cvprimer.optim.optimizer import Optimizer


def _decoupled_decay(p: Tensor, group: dict[str, Any]) -> None:
    """AdamW-style decay ``theta <- theta (1 - gamma lambda)`` when the group asks for it (the
    coupled form was already added to the gradient by the base class otherwise)."""
    if group.get("decoupled_weight_decay") and group["weight_decay"]:
        p.data *= 1 - group["lr"] * group["weight_decay"]


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2014, arXiv:1412.6980), optionally AMSGrad (Reddi et al. 2018).

    .. code-block:: text

        input: gamma (lr), beta1, beta2, theta_0, lambda (weight_decay), eps, amsgrad
        initialize: m_0 <- 0 (exp_avg), v_0 <- 0 (exp_avg_sq), v_max_0 <- 0 (max_exp_avg_sq)
        for t = 1, 2, ...:
            g_t <- grad f_t(theta_{t-1})
            if lambda != 0:  g_t <- g_t + lambda theta_{t-1}        (coupled L2; AdamW differs)
            m_t <- beta1 m_{t-1} + (1 - beta1) g_t
            v_t <- beta2 v_{t-1} + (1 - beta2) g_t^2
            if amsgrad:  v_max_t <- max(v_max_{t-1}, v_t);  v^_t <- v_max_t
            else:        v^_t <- v_t
            theta_t <- theta_{t-1} - gamma / (1 - beta1^t) * m_t / (sqrt(v^_t) / sqrt(1 - beta2^t) + eps)
        return theta_t

    State: ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad).
    ``decoupled_weight_decay=True`` makes it :class:`AdamW` (as PyTorch's flag of the same name).
    Differences from the paper: the paper adds eps to the *bias-corrected* sqrt(v^_t); this
    form (PyTorch's) is the same. AMSGrad as in PyTorch keeps the max of the raw v_t and applies
    the bias correction afterwards (the AMSGrad paper has no bias correction).
    """

    _decoupled = False

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                 l1_decay: float = 0.0, decoupled_weight_decay: bool | None = None) -> None:
        dec = self._decoupled if decoupled_weight_decay is None else bool(decoupled_weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, l1_decay=l1_decay, decoupled_weight_decay=dec))

    def _update(self, p: Tensor, g: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = np.zeros(p.shape, p.dtype)
            state["exp_avg_sq"] = np.zeros(p.shape, p.dtype)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros(p.shape, p.dtype)
        lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
        state["step"] += 1
        t = state["step"]
        _decoupled_decay(p, group)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - b1) * (g - m)
        v *= b2
        v += (1 - b2) * g * g
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        denom = np.sqrt(v) / math.sqrt(1 - b2**t) + eps
        p.data -= (lr / (1 - b1**t)) * (m / denom)


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2017, arXiv:1711.05101).

    Identical to :class:`Adam` except that ``weight_decay`` (default 1e-2) is not added to the
    gradient; instead, first in each step, ``theta <- theta (1 - gamma lambda)``.
    Differences from the paper: the paper scales the decay by the schedule multiplier eta_t
    only (``theta <- theta - eta_t lambda theta``); PyTorch (and we) multiply by the lr gamma.
    """

    _decoupled = True

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 l1_decay: float = 0.0) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, l1_decay)


class Adamax(Optimizer):
    r"""AdaMax: Adam with the infinity norm (Kingma & Ba 2014, section 7.1).

    .. code-block:: text

        input: gamma (lr), beta1, beta2, theta_0, lambda (weight_decay), eps
        initialize: m_0 <- 0 (exp_avg), u_0 <- 0 (exp_inf)
        for t = 1, 2, ...:
            g_t <- grad f_t(theta_{t-1});  if lambda != 0: g_t <- g_t + lambda theta_{t-1}
            m_t <- beta1 m_{t-1} + (1 - beta1) g_t
            u_t <- max(beta2 u_{t-1}, |g_t| + eps)
            theta_t <- theta_{t-1} - gamma / (1 - beta1^t) * m_t / u_t
        return theta_t

    Differences from the paper: eps inside the max (PyTorch's) guards the division at u = 0.
    """

    def __init__(self, params: Any, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, l1_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      l1_decay=l1_decay))

    def _update(self, p: Tensor, g: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = np.zeros(p.shape, p.dtype)
            state["exp_inf"] = np.zeros(p.shape, p.dtype)
        (b1, b2), eps = group["betas"], group["eps"]
        state["step"] += 1
        m, u = state["exp_avg"], state["exp_inf"]
        m += (1 - b1) * (g - m)
        u *= b2
        np.maximum(u, np.abs(g) + eps, out=u)
        p.data -= (group["lr"] / (1 - b1 ** state["step"])) * (m / u)


class NAdam(Optimizer):
    r"""NAdam: Adam with Nesterov momentum (Dozat 2016), PyTorch's momentum-decay schedule.

    .. code-block:: text

        input: gamma (lr), beta1, beta2, theta_0, lambda (weight_decay), psi (momentum_decay), eps
        initialize: m_0 <- 0 (exp_avg), v_0 <- 0 (exp_avg_sq), mu_product_0 <- 1
        for t = 1, 2, ...:
            g_t <- grad f_t(theta_{t-1});  if lambda != 0: g_t <- g_t + lambda theta_{t-1}
            mu_t <- beta1 (1 - 0.5 * 0.96^(t psi));  mu_{t+1} <- beta1 (1 - 0.5 * 0.96^((t+1) psi))
            mu_product_t <- mu_product_{t-1} mu_t
            m_t <- beta1 m_{t-1} + (1 - beta1) g_t
            v_t <- beta2 v_{t-1} + (1 - beta2) g_t^2
            denom <- sqrt(v_t / (1 - beta2^t)) + eps
            theta_t <- theta_{t-1} - gamma (1 - mu_t) / (1 - mu_product_t) * g_t / denom
                                   - gamma mu_{t+1} / (1 - mu_product_t mu_{t+1}) * m_t / denom
        return theta_t

    State: ``step``, ``mu_product``, ``exp_avg``, ``exp_avg_sq``. ``decoupled_weight_decay=True``
    replaces the L2 term by ``theta <- theta (1 - gamma lambda)`` at the start of the step (NAdamW).
    Differences from the paper: Dozat's update uses m_t with beta1 itself in the moving average
    and the same warming schedule; the eps placement is PyTorch's.
    """

    def __init__(self, params: Any, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, l1_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, l1_decay=l1_decay,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if group["momentum_decay"] < 0:
            raise ValueError(f"NAdam: invalid momentum_decay {group['momentum_decay']} (expected >= 0)")

    def _update(self, p: Tensor, g: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        if "exp_avg" not in state:
            state["step"] = 0
            state["mu_product"] = 1.0
            state["exp_avg"] = np.zeros(p.shape, p.dtype)
            state["exp_avg_sq"] = np.zeros(p.shape, p.dtype)
        lr, (b1, b2), psi = group["lr"], group["betas"], group["momentum_decay"]
        state["step"] += 1
        t = state["step"]
        _decoupled_decay(p, group)
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu
        mp = state["mu_product"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - b1) * (g - m)
        v *= b2
        v += (1 - b2) * g * g
        denom = np.sqrt(v / (1 - b2**t)) + group["eps"]
        p.data += (-lr * (1.0 - mu) / (1.0 - mp)) * (g / denom)
        p.data += (-lr * mu_next / (1.0 - mp * mu_next)) * (m / denom)


class RAdam(Optimizer):
    r"""RAdam: rectified Adam (Liu et al. 2019, arXiv:1908.03265).

    .. code-block:: text

        input: gamma (lr), beta1, beta2, theta_0, lambda (weight_decay), eps
        initialize: m_0 <- 0 (exp_avg), v_0 <- 0 (exp_avg_sq), rho_inf <- 2 / (1 - beta2) - 1
        for t = 1, 2, ...:
            g_t <- grad f_t(theta_{t-1});  if lambda != 0: g_t <- g_t + lambda theta_{t-1}
            m_t <- beta1 m_{t-1} + (1 - beta1) g_t
            v_t <- beta2 v_{t-1} + (1 - beta2) g_t^2
            m^_t <- m_t / (1 - beta1^t)
            rho_t <- rho_inf - 2 t beta2^t / (1 - beta2^t)
            if rho_t > 5:
                l_t <- sqrt(1 - beta2^t) / (sqrt(v_t) + eps)
                r_t <- sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                theta_t <- theta_{t-1} - gamma m^_t r_t l_t
            else:
                theta_t <- theta_{t-1} - gamma m^_t
        return theta_t

    ``decoupled_weight_decay=True``: AdamW-style decay instead of the L2 term (RAdamW).
    Differences from the paper: the paper switches at rho_t > 4; the threshold 5 and eps in
    the adaptive term are PyTorch's.
    """

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled_weight_decay: bool = False,
                 l1_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, l1_decay=l1_decay))

    def _update(self, p: Tensor, g: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = np.zeros(p.shape, p.dtype)
            state["exp_avg_sq"] = np.zeros(p.shape, p.dtype)
        lr, (b1, b2) = group["lr"], group["betas"]
        state["step"] += 1
        _decoupled_decay(p, group)
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - b1) * (g - m)
        v *= b2
        v += (1 - b2) * g * g
        bc2 = 1 - b2**t
        m_hat = m / (1 - b1**t)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * (b2**t) / bc2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = bc2**0.5 / (np.sqrt(v) + group["eps"])
            p.data -= m_hat * lr * adaptive * rect
        else:
            p.data -= m_hat * lr
