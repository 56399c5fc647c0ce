r"""Activation layers: each calls its :mod:`cvprimer.functional` op with the stored options
(``PReLU`` owns its learnable slope). No math here; formulas are in the functional docstrings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cvprimer import functional as F
from cvprimer.core.tensor import Tensor
from cvprimer.functional.activation import rectifier as _rectifier
from cvprimer.nn.module import Module
from cvprimer.nn.parameter import Parameter


class _Act(Module):
    """A pointwise activation ``fn(x, **options)``; ``options`` are attributes shown in the repr."""

    fn: Callable[..., Tensor]

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self._opts = tuple(options)
        for k, v in options.items():
            setattr(self, k, v)

    def forward(self, x: Tensor) -> Tensor:
        return type(self).fn(x, **{k: getattr(self, k) for k in self._opts})

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={getattr(self, k)!r}" for k in self._opts)


class ReLU(_Act):
    """max(0, x); ``grad_at_zero`` in [0, 1] is the slope taken at exactly x = 0 (default 0, PyTorch's;
    see :func:`cvprimer.functional.activation.rectifier.relu`). Shown in the repr only when not 0."""
    fn = staticmethod(F.relu)

    def __init__(self, grad_at_zero: float = 0.0) -> None:
        super().__init__()
        self.grad_at_zero = _rectifier.check_grad_at_zero("ReLU", grad_at_zero)

    def forward(self, x: Tensor) -> Tensor:
        return _rectifier.relu(x, grad_at_zero=self.grad_at_zero)

    def extra_repr(self) -> str:
        return f"grad_at_zero={self.grad_at_zero!r}" if self.grad_at_zero else ""


class ReLU6(_Act):
    """min(max(0, x), 6)."""
    fn = staticmethod(F.relu6)


class LeakyReLU(_Act):
    """x if x > 0 else negative_slope * x."""
    fn = staticmethod(F.leaky_relu)

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__(negative_slope=negative_slope)


class ELU(_Act):
    """x if x > 0 else alpha (exp(x) - 1)."""
    fn = staticmethod(F.elu)

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__(alpha=alpha)


class SELU(_Act):
    """scale * ELU(x, alpha) with the self-normalizing constants."""
    fn = staticmethod(F.selu)


class CELU(_Act):
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1))."""
    fn = staticmethod(F.celu)

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__(alpha=alpha)


class GELU(_Act):
    """x Phi(x) (``approximate="tanh"``: the tanh approximation)."""
    fn = staticmethod(F.gelu)

    def __init__(self, approximate: str = "none") -> None:
        super().__init__(approximate=approximate)


class SiLU(_Act):
    """x sigmoid(x) (swish)."""
    fn = staticmethod(F.silu)


class Mish(_Act):
    """x tanh(softplus(x))."""
    fn = staticmethod(F.mish)


class Softplus(_Act):
    """log(1 + exp(beta x)) / beta, linear above ``threshold``."""
    fn = staticmethod(F.softplus)

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__(beta=beta, threshold=threshold)


class Softsign(_Act):
    """x / (1 + |x|)."""
    fn = staticmethod(F.softsign)


class Hardtanh(_Act):
    """clamp(x, min_val, max_val)."""
    fn = staticmethod(F.hardtanh)

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0) -> None:
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})")
        super().__init__(min_val=min_val, max_val=max_val)


class Hardsigmoid(_Act):
    """relu6(x + 3) / 6."""
    fn = staticmethod(F.hardsigmoid)


class Hardswish(_Act):
    """x relu6(x + 3) / 6."""
    fn = staticmethod(F.hardswish)


class Sigmoid(_Act):
    """1 / (1 + exp(-x))."""
    fn = staticmethod(F.sigmoid)


class Tanh(_Act):
    """tanh(x)."""
    fn = staticmethod(F.tanh)


class Softmax(_Act):
    """exp(x_i) / sum_j exp(x_j) along ``dim``. Differences from PyTorch: ``dim`` defaults to -1
    (PyTorch's None guesses a dim from the input's rank, with a warning)."""
    fn = staticmethod(F.softmax)

    def __init__(self, dim: int = -1) -> None:
        super().__init__(dim=dim)


class LogSoftmax(_Act):
    """x_i - logsumexp(x) along ``dim`` (default -1, see Softmax)."""
    fn = staticmethod(F.log_softmax)

    def __init__(self, dim: int = -1) -> None:
        super().__init__(dim=dim)


class Maxout(_Act):
    """Max over ``pieces`` consecutive groups along ``dim`` (Goodfellow et al., arXiv:1302.4389):
    C channels -> C / pieces."""
    fn = staticmethod(F.maxout)

    def __init__(self, pieces: int, dim: int = 1) -> None:
        super().__init__(pieces=pieces, dim=dim)


class PReLU(Module):
    r"""x if x > 0 else a x, with learnable slope ``weight`` (``num_parameters`` = 1 or C, initialized
    to ``init`` = 0.25 as PyTorch; He et al., arXiv:1502.01852)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype: Any = None) -> None:
        super().__init__()
        if num_parameters <= 0:
            raise ValueError(f"PReLU: num_parameters must be > 0, got {num_parameters}")
        self.num_parameters = num_parameters
        self.weight = Parameter(np.full(num_parameters, init, np.dtype(np.float32 if dtype is None else dtype)))

    def forward(self, x: Tensor) -> Tensor:
        return F.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
