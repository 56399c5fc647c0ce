r"""Exponential-family activations: elu, selu, celu, softplus.

All are written so that no intermediate overflows for |x| up to float's range: the
exponential is only ever taken of a non-positive number (``expm1(min(x, 0))``, the
``max(z, 0) + log1p(exp(-|z|))`` form of softplus), so +-1e4 gives finite values and no
overflow warnings.

Slopes at x = 0 (where the two branches of elu/selu/celu meet) follow PyTorch, which uses
the negative branch at x <= 0: elu'(0) = alpha, selu'(0) = scale * alpha, celu'(0) = 1.
"""

from __future__ import annotations

import numpy as np

from cvprimer.core.cost import elementwise_cost
from cvprimer.core.inplace import inplace_result
from cvprimer.core.pointwise import PointwiseFn
from cvprimer.core.tensor import Tensor
from cvprimer.functional.activation._base import KERNELS, check_float
from cvprimer.functional.activation.registry import activation

# SELU's constants (Klambauer et al., arXiv:1706.02515), as PyTorch spells them
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class ELUFn(PointwiseFn):
    r"""ELU with a scale: y = scale * x for x > 0, scale * alpha * (e^{x / c} - 1) for x <= 0.

    ``c`` (input_scale) is 1 for ELU/SELU and alpha for CELU.

    Backward: gx = gy * scale for x > 0, gy * scale * (alpha / c) * e^{x / c} for x <= 0.
    Saves x.

    Differences from PyTorch: a NaN x gets a NaN gradient here (as PyTorch's vectorized loop
    gives); PyTorch's scalar tail of the same tensor gives gy * scale instead, so it has no single rule.
    """

    cost = staticmethod(elementwise_cost(4))
    kernels = KERNELS

    @staticmethod
    def kernel(alpha=1.0, scale=1.0, c=1.0):
        return ("elu", (alpha, scale, 1.0 / c)) if c > 0 else None  # the kernel's exp takes t <= 0

    @staticmethod
    def f(x, alpha=1.0, scale=1.0, c=1.0):
        neg = alpha * np.expm1(np.minimum(x, 0) / c)
        return scale * np.where(x > 0, x, neg)

    @staticmethod
    def df(x, y, alpha=1.0, scale=1.0, c=1.0):
        neg = (alpha / c) * np.exp(np.minimum(x, 0) / c)
        return (scale * np.where(x > 0, 1.0, neg)).astype(x.dtype)


class SoftplusFn(PointwiseFn):
    r"""y = (1/beta) log(1 + e^{beta x}), and y = x where beta x > threshold (PyTorch's cut).

    Evaluated as (max(z, 0) + log1p(e^{-|z|})) / beta with z = beta x (no overflow).
    Backward: gx = gy * sigmoid(beta x), and gy where beta x > threshold. Saves x.
    """

    cost = staticmethod(elementwise_cost(4))
    kernels = KERNELS

    @staticmethod
    def kernel(beta=1.0, threshold=20.0):
        return "softplus", (beta, threshold, 1.0 / beta)

    @staticmethod
    def f(x, beta=1.0, threshold=20.0):
        z = x * beta
        soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
        return np.where(z > threshold, x, soft)

    @staticmethod
    def df(x, y, beta=1.0, threshold=20.0):
        z = x * beta
        return np.where(z > threshold, 1.0, _sigmoid(z)).astype(x.dtype)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function without overflow (e^{-|z|} <= 1 in both branches): (1 or e) / (1 + e),
    divided in place (the same values as selecting between 1 / (1 + e) and e / (1 + e))."""
    e = np.exp(-np.abs(z))
    s = np.where(z >= 0, 1, e)
    s /= 1 + e
    return s


@activation(layer="ELU")
def elu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    r"""Exponential linear unit (Clevert et al., arXiv:1511.07289).

    **Forward** y = x for x > 0, alpha (e^x - 1) for x <= 0.
    **Backward** gx = gy for x > 0, gy * alpha e^x for x <= 0 (slope alpha at 0, as PyTorch).
    """
    if inplace:
        return inplace_result(x, "elu", lambda s: elu(s, alpha))
    return ELUFn.apply(x, alpha=check_float("elu", "alpha", alpha), scale=1.0, c=1.0)


@activation(layer="SELU")
def selu(x: Tensor, inplace: bool = False) -> Tensor:
    r"""Scaled ELU (Klambauer et al., arXiv:1706.02515): y = scale * elu(x, alpha) with the
    fixed constants alpha ~ 1.6733, scale ~ 1.0507 that make activations self-normalizing.

    **Backward** gx = gy * scale for x > 0, gy * scale * alpha e^x for x <= 0.
    """
    if inplace:
        return inplace_result(x, "selu", lambda s: selu(s))
    return ELUFn.apply(x, alpha=SELU_ALPHA, scale=SELU_SCALE, c=1.0)


@activation(layer="CELU")
def celu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    r"""Continuously differentiable ELU (Barron, arXiv:1704.07483).

    **Forward** y = x for x > 0, alpha (e^{x/alpha} - 1) for x <= 0.
    **Backward** gx = gy for x > 0, gy e^{x/alpha} for x <= 0 (slope 1 at 0 from both sides).

    Differences from PyTorch: PyTorch's backward uses alpha rounded to float32 in the input
    scale (``1 / float(alpha)``), even for float64 tensors, so its float64 gradient differs
    from the exact one by ~1e-7 relative when alpha is not a float32 number; we use alpha
    as given.
    """
    if inplace:
        return inplace_result(x, "celu", lambda s: celu(s, alpha))
    a = check_float("celu", "alpha", alpha)
    if a == 0:
        raise ValueError("celu: alpha must be nonzero (it divides x), got 0")
    return ELUFn.apply(x, alpha=a, scale=1.0, c=a)


@activation(layer="Softplus")
def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    r"""Softplus, a smooth ReLU: y = (1/beta) log(1 + exp(beta x)).

    For numerical stability (and as PyTorch) the function reverts to the identity where
    beta * x > threshold.

    **Backward** gx = gy * sigmoid(beta x) (gy where beta x > threshold).
    """
    b = check_float("softplus", "beta", beta)
    if b == 0:
        raise ValueError("softplus: beta must be nonzero, got 0")
    return SoftplusFn.apply(x, beta=b, threshold=check_float("softplus", "threshold", threshold))
