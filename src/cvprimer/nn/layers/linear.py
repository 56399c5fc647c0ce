r"""``Linear``: the stateful wrapper of :func:`cvprimer.functional.linear`, and the shared
PyTorch default initialization of Linear/Conv weights."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.core.random import get_rng
from cvprimer.core.tensor import Tensor
from cvprimer.functional.linear import linear
from cvprimer.nn import init
from cvprimer.nn.module import Module
from cvprimer.nn.parameter import Parameter


def default_reset(weight: Tensor, bias: Tensor | None, rng: np.random.Generator) -> None:
    r"""PyTorch's Linear/Conv default: ``W ~ U(-b, b)`` with ``b = gain(leaky_relu, sqrt 5) sqrt(3/fan_in)
    = 1/sqrt(fan_in)`` (``kaiming_uniform_(W, a=sqrt(5))``), then ``bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))``."""
    init.kaiming_uniform_(weight, a=math.sqrt(5), rng=rng)
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound, rng=rng)


def empty_param(*shape: int, dtype: Any = None) -> Parameter:
    return Parameter(np.zeros(shape, np.float32 if dtype is None else np.dtype(dtype)))


class Linear(Module):
    r"""``y = x W^T + b`` with W (out_features, in_features), b (out_features,).

    Shape: (*, in_features) -> (*, out_features). Initialization as PyTorch
    (:func:`default_reset`), drawn from ``rng``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if in_features < 0 or out_features < 0:
            raise ValueError(f"Linear: features must be >= 0, got in={in_features}, out={out_features}")
        self.in_features, self.out_features = in_features, out_features
        self.weight = empty_param(out_features, in_features, dtype=dtype)
        self.register_parameter("bias", empty_param(out_features, dtype=dtype) if bias else None)
        self.reset_parameters(rng)

    def reset_parameters(self, rng: np.random.Generator | None = None) -> None:
        default_reset(self.weight, self.bias, get_rng(rng))

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
