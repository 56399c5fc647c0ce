r"""Every pointwise activation next to its derivative, for the lab's plots and for tests.

``ACTIVATIONS[name] = (function, derivative)``: ``function`` is the public differentiable
op (Tensor in, Tensor out, options as keywords), ``derivative(x, **opts)`` the slope f'(x)
as a NumPy array. The derivative is the very function the op's backward multiplies by
(``PointwiseFn.df``), so a plot of it shows what autograd does, kinks included.

maxout is not in the registry: it is not pointwise (its output has fewer channels).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cvprimer.core.api import sigmoid, tanh
from cvprimer.functional.activation.exponential import (
    SELU_ALPHA,
    SELU_SCALE,
    ELUFn,
    SoftplusFn,
    _sigmoid,
    celu,
    elu,
    selu,
    softplus,
)
from cvprimer.functional.activation.hard import HardsigmoidFn, HardswishFn, hardsigmoid, hardswish
from cvprimer.functional.activation.rectifier import (
    HardtanhFn,
    LeakyReLUFn,
    hardtanh,
    leaky_relu,
    prelu,
    prelu_slope,
    relu,
    relu6,
)
from cvprimer.functional.activation.smooth import (
    GELUFn,
    MishFn,
    SiLUFn,
    SoftsignFn,
    gelu,
    mish,
    silu,
    softsign,
)

Derivative = Callable[..., np.ndarray]


def _relu_slope(x: np.ndarray) -> np.ndarray:
    return (x > 0).astype(x.dtype)  # relu'(0) = 0


def _sigmoid_slope(x: np.ndarray) -> np.ndarray:
    s = _sigmoid(x)
    return s * (1 - s)


def _tanh_slope(x: np.ndarray) -> np.ndarray:
    t = np.tanh(x)
    return 1 - t * t


ACTIVATIONS: dict[str, tuple[Callable[..., Any], Derivative]] = {
    "relu": (relu, _relu_slope),
    "relu6": (relu6, lambda x: HardtanhFn.slope(x, min_val=0.0, max_val=6.0)),
    "leaky_relu": (leaky_relu, lambda x, negative_slope=0.01: LeakyReLUFn.slope(
        x, negative_slope=float(negative_slope))),
    "prelu": (prelu, prelu_slope),
    "elu": (elu, lambda x, alpha=1.0: ELUFn.slope(x, alpha=float(alpha), scale=1.0, c=1.0)),
    "selu": (selu, lambda x: ELUFn.slope(x, alpha=SELU_ALPHA, scale=SELU_SCALE, c=1.0)),
    "celu": (celu, lambda x, alpha=1.0: ELUFn.slope(x, alpha=float(alpha), scale=1.0, c=float(alpha))),
    "gelu": (gelu, lambda x, approximate="none": GELUFn.slope(x, approximate=approximate)),
    "silu": (silu, SiLUFn.slope),
    "mish": (mish, MishFn.slope),
    "softplus": (softplus, lambda x, beta=1.0, threshold=20.0: SoftplusFn.slope(
        x, beta=float(beta), threshold=float(threshold))),
    "softsign": (softsign, SoftsignFn.slope),
    "hardtanh": (hardtanh, lambda x, min_val=-1.0, max_val=1.0: HardtanhFn.slope(
        x, min_val=float(min_val), max_val=float(max_val))),
    "hardsigmoid": (hardsigmoid, HardsigmoidFn.slope),
    "hardswish": (hardswish, HardswishFn.slope),
    "sigmoid": (sigmoid, _sigmoid_slope),
    "tanh": (tanh, _tanh_slope),
}
ACTIVATIONS["swish"] = ACTIVATIONS["silu"]


def derivative(name: str, x: Any, **opts: Any) -> np.ndarray:
    r"""The slope f'(x) of activation ``name`` at the points ``x`` (a NumPy array).

    Options are the activation's own keywords (``negative_slope``, ``alpha``, ``beta``,
    ``threshold``, ``approximate``, ``min_val``/``max_val``; ``weight`` for prelu). Integer
    input is evaluated in float64. At kinks the value is the one backward uses (PyTorch's).

    Example
    -------
    >>> import numpy as np
    >>> derivative("leaky_relu", np.array([-1.0, 2.0]), negative_slope=0.1).tolist()
    [0.1, 1.0]
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"derivative: unknown activation {name!r}; known: {sorted(ACTIVATIONS)}")
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return np.asarray(ACTIVATIONS[name][1](arr, **opts))
