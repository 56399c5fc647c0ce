r"""Smooth self-gated activations: gelu (exact and tanh forms), silu/swish, mish; softsign; and the
registrations of the core ops sigmoid and tanh (:mod:`cvprimer.core.ops.unary`).

GELU's exact form uses the error function from :mod:`._erf` (NumPy only, Cody's rational
approximations, ~1e-15 relative),
through the normal CDF Phi(x) = erfc(-x / sqrt 2) / 2, which stays accurate in the far left
tail where 1 + erf(x / sqrt 2) would cancel.
"""

from __future__ import annotations

import numpy as np

from cvprimer.core import api
from cvprimer.core.cost import elementwise_cost
from cvprimer.core.inplace import inplace_result
from cvprimer.core.pointwise import PointwiseFn
from cvprimer.core.tensor import Tensor
from cvprimer.functional.activation._base import KERNELS
from cvprimer.functional.activation._erf import erfc
from cvprimer.functional.activation.exponential import _sigmoid
from cvprimer.functional.activation.registry import activation

_SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))
_INV_SQRT_2 = float(1.0 / np.sqrt(2.0))
_INV_SQRT_2PI = float(1.0 / np.sqrt(2.0 * np.pi))
_K = 0.044715  # the cubic coefficient of the tanh approximation


class GELUFn(PointwiseFn):
    r"""y = x Phi(x), Phi the standard normal CDF; or its tanh approximation.

    exact: Phi(x) = (1 + erf(x / sqrt 2)) / 2,        y' = Phi(x) + x phi(x),
           phi(x) = e^{-x^2/2} / sqrt(2 pi).
    tanh:  y = x/2 (1 + t), t = tanh(u), u = sqrt(2/pi) (x + 0.044715 x^3),
           y' = (1 + t)/2 + x/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2).
    Saves x.

    With ``settings.numba`` the exact form runs the compiled kernels of :mod:`._kernels` (forward and
    the fused gy * y' from x), the NumPy code here is the reference.
    """

    cost = staticmethod(elementwise_cost(5))
    kernels = KERNELS

    @staticmethod
    def kernel(approximate="none"):
        return ("gelu", ()) if approximate == "none" else ("gelu_tanh", ())

    @staticmethod
    def f(x, approximate="none"):
        if approximate == "tanh":
            return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + _K * x * x * x)))
        return x * (0.5 * erfc(-x * _INV_SQRT_2))

    @staticmethod
    def df(x, y, approximate="none"):
        if approximate == "tanh":
            t = np.tanh(_SQRT_2_OVER_PI * (x + _K * x * x * x))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * _K * x * x)
        return 0.5 * erfc(-x * _INV_SQRT_2) + x * _INV_SQRT_2PI * np.exp(-0.5 * x * x)


class SiLUFn(PointwiseFn):
    r"""y = x sigmoid(x) (SiLU / swish-1).  y' = s (1 + x (1 - s)), s = sigmoid(x). Saves x.

    With ``settings.numba``: the compiled kernels of :mod:`._kernels` (the NumPy code is the reference).
    """

    cost = staticmethod(elementwise_cost(4))
    kernels = KERNELS

    @staticmethod
    def kernel():
        return "silu", ()

    @staticmethod
    def f(x):
        return x * _sigmoid(x)

    @staticmethod
    def df(x, y):
        s = _sigmoid(x)
        return s * (1 + x * (1 - s))


class MishFn(PointwiseFn):
    r"""y = x tanh(softplus(x)).

    y' = tanh(sp) + x (1 - tanh(sp)^2) sigmoid(x), sp = softplus(x) = log(1 + e^x) (the
    derivative of softplus is the sigmoid). Saves x.
    """

    cost = staticmethod(elementwise_cost(7))
    kernels = KERNELS

    @staticmethod
    def kernel():
        return "mish", ()

    @staticmethod
    def f(x):
        return x * np.tanh(_softplus(x))

    @staticmethod
    def df(x, y):
        t = np.tanh(_softplus(x))
        return t + x * (1 - t * t) * _sigmoid(x)


class SoftsignFn(PointwiseFn):
    r"""y = x / (1 + |x|).  y' = 1 / (1 + |x|)^2. Saves x."""

    cost = staticmethod(elementwise_cost(3))

    @staticmethod
    def f(x):
        return x / (1 + np.abs(x))

    @staticmethod
    def df(x, y):
        d = 1 + np.abs(x)
        return 1 / (d * d)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


@activation(layer="GELU")
def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    r"""Gaussian error linear unit (Hendrycks & Gimpel, arXiv:1606.08415).

    Parameters
    ----------
    approximate : "none" (exact, y = x Phi(x) with erf) or "tanh"
        (y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the approximation BERT/GPT used).

    Notes
    -----
    **Backward** exact: gx = gy (Phi(x) + x phi(x)); tanh: see :class:`GELUFn`.
    erf is computed in NumPy (Cody's rational approximations, ~1e-15 relative), not SciPy; with
    ``settings.numba``, by the compiled kernels of :mod:`._kernels`.
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELUFn.apply(x, approximate=approximate)


@activation(layer="SiLU", aliases=("swish",))
def silu(x: Tensor, inplace: bool = False) -> Tensor:
    r"""Sigmoid-weighted linear unit, a.k.a. swish-1 (``swish`` is an alias).

    Shape: any; y has x's shape and dtype.

    Notes
    -----
    **Forward** y = x s, s = sigmoid(x) = 1 / (1 + e^{-x}) (evaluated without overflow).
    **Backward** gx = gy s (1 + x (1 - s)). Smooth and non-monotonic (minimum ~ -0.278 at
    x ~ -1.278).

    References: Elfwing et al., arXiv:1702.03118; Ramachandran et al., arXiv:1710.05941.

    Example
    -------
    >>> import cvprimer as cp, cvprimer.functional as F
    >>> round(float(F.silu(cp.tensor([2.0])).numpy()[0]), 4)
    1.7616
    """
    if inplace:
        return inplace_result(x, "silu", lambda s: silu(s))
    return SiLUFn.apply(x)


swish = silu


@activation(layer="Mish")
def mish(x: Tensor, inplace: bool = False) -> Tensor:
    r"""Mish: a smooth, non-monotonic self-gated activation.

    Shape: any; y has x's shape and dtype.

    Notes
    -----
    **Forward** y = x tanh(sp), sp = softplus(x) = log(1 + e^x), evaluated as
    max(x, 0) + log1p(e^{-|x|}) so that +-1e4 neither overflows nor warns.
    **Backward** gx = gy (tanh(sp) + x (1 - tanh(sp)^2) sigmoid(x)).

    References: Misra, arXiv:1908.08681.
    """
    if inplace:
        return inplace_result(x, "mish", lambda s: mish(s))
    return MishFn.apply(x)


@activation(layer="Softsign")
def softsign(x: Tensor) -> Tensor:
    r"""Softsign, a tanh-like squashing with polynomial (not exponential) tails.

    Shape: any; y has x's shape and dtype.

    Notes
    -----
    **Forward** y = x / (1 + |x|) in (-1, 1).  **Backward** gx = gy / (1 + |x|)^2 (smooth at 0:
    both one-sided slopes are 1).

    References: Bergstra et al., "Quadratic polynomials learn better image features", 2009.
    """
    return SoftsignFn.apply(x)


# the core ops, registered here as activations (F.sigmoid, nn.Sigmoid, their derivative entries)
sigmoid = activation("sigmoid", layer="Sigmoid")(api.sigmoid)
tanh = activation("tanh", layer="Tanh")(api.tanh)
