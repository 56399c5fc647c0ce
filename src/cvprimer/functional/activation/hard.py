r"""Piecewise-linear approximations of sigmoid and swish (MobileNetV3, arXiv:1905.02244).

Slopes at the kinks follow PyTorch: hardsigmoid' is 1/6 on the open interval (-3, 3) and 0
at and beyond -3 and 3; hardswish' is 0 for x <= -3, x/3 + 1/2 on (-3, 3), 1 for x >= 3.

Differences from PyTorch: in float64 PyTorch's hardsigmoid backward multiplies by the float32
constant 1/6 (0.16666667163...); we use the exact 1/6 of the input's dtype.
"""

from __future__ import annotations

import numpy as np

from cvprimer.core.tensor import Tensor
from cvprimer.functional.activation._base import PointwiseFn


class HardsigmoidFn(PointwiseFn):
    r"""y = min(max(x + 3, 0), 6) / 6.  y' = 1/6 on (-3, 3), else 0. Saves x."""

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

    @staticmethod
    def f(x):
        return x * np.clip(x + 3, 0, 6) / 6

    @staticmethod
    def df(x, y):
        return np.where(x <= -3, 0.0, np.where(x < 3, x / 3 + 0.5, 1.0)).astype(x.dtype)


def hardsigmoid(x: Tensor) -> Tensor:
    r"""Hard sigmoid: y = relu6(x + 3) / 6; gx = gy / 6 on (-3, 3), 0 elsewhere."""
    return HardsigmoidFn.apply(x)


def hardswish(x: Tensor) -> Tensor:
    r"""Hard swish: y = x relu6(x + 3) / 6; gx = gy * (0 | x/3 + 1/2 | 1) by region."""
    return HardswishFn.apply(x)
