r"""Piecewise-linear approximations of sigmoid and swish (MobileNetV3, arXiv:1905.02244).

Slopes at the kinks follow PyTorch: hardsigmoid' is 1/6 on the open interval (-3, 3) and 0
at and beyond -3 and 3; hardswish' is 0 for x <= -3, x/3 + 1/2 on (-3, 3), 1 for x >= 3.

Differences from PyTorch: in float64 PyTorch's hardsigmoid backward multiplies by the float32
constant 1/6 (0.16666667163...); we use the exact 1/6 of the input's dtype.
"""

from __future__ import annotations

import numpy as np

from cvprimer.core.cost import elementwise_cost
from cvprimer.core.inplace import inplace_result
from cvprimer.core.pointwise import PointwiseFn
from cvprimer.core.tensor import Tensor
from cvprimer.functional.activation._base import KERNELS
from cvprimer.functional.activation.registry import activation


class HardsigmoidFn(PointwiseFn):
    r"""y = min(max(x + 3, 0), 6) / 6.  y' = 1/6 on (-3, 3), else 0. Saves x."""

    cost = staticmethod(elementwise_cost(3))
    kernels = KERNELS

    @staticmethod
    def kernel():
        return "hardsigmoid", ()

    @staticmethod
    def f(x):
        return np.clip(x + 3, 0, 6) / 6

    @staticmethod
    def df(x, y):
        return np.where((x > -3) & (x < 3), 1 / 6, 0.0).astype(x.dtype)


class HardswishFn(PointwiseFn):
    r"""y = x * min(max(x + 3, 0), 6) / 6.

    y' = 0 for x <= -3, x/3 + 1/2 for -3 < x < 3, 1 for x >= 3. Saves x.
    """

    cost = staticmethod(elementwise_cost(4))
    kernels = KERNELS

    @staticmethod
    def kernel():
        return "hardswish", ()

    @staticmethod
    def f(x):
        return x * np.clip(x + 3, 0, 6) / 6

    @staticmethod
    def df(x, y):
        return np.where(x <= -3, 0.0, np.where(x < 3, x / 3 + 0.5, 1.0)).astype(x.dtype)


@activation(layer="Hardsigmoid")
def hardsigmoid(x: Tensor, inplace: bool = False) -> Tensor:
    r"""Hard sigmoid, the piecewise-linear sigmoid of MobileNetV3.

    Shape: any; y has x's shape and dtype.

    Notes
    -----
    **Forward** y = relu6(x + 3) / 6 = min(max(x + 3, 0), 6) / 6.
    **Backward** gx = gy / 6 on the open interval (-3, 3), 0 elsewhere (also at -3 and 3).

    References: Howard et al., "Searching for MobileNetV3", arXiv:1905.02244.

    Example
    -------
    >>> import cvprimer as cp, cvprimer.functional as F
    >>> F.hardsigmoid(cp.tensor([-4.0, 0.0, 4.0])).numpy().tolist()
    [0.0, 0.5, 1.0]
    """
    if inplace:
        return inplace_result(x, "hardsigmoid", lambda s: hardsigmoid(s))
    return HardsigmoidFn.apply(x)


@activation(layer="Hardswish")
def hardswish(x: Tensor, inplace: bool = False) -> Tensor:
    r"""Hard swish, the piecewise-polynomial swish of MobileNetV3.

    Shape: any; y has x's shape and dtype.

    Notes
    -----
    **Forward** y = x relu6(x + 3) / 6: 0 for x <= -3, x (x + 3) / 6 between, x for x >= 3.
    **Backward** gx = 0 for x <= -3, gy (x/3 + 1/2) for -3 < x < 3, gy for x >= 3 (PyTorch's
    values at the kinks: 0 at -3, 1 at 3).

    References: Howard et al., "Searching for MobileNetV3", arXiv:1905.02244.
    """
    if inplace:
        return inplace_result(x, "hardswish", lambda s: hardswish(s))
    return HardswishFn.apply(x)
