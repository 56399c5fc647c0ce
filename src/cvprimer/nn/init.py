r"""Weight initializers (``torch.nn.init``'s names and formulas), in place, with an explicit ``rng``.

Each function fills ``tensor.data`` in place (outside the graph) and returns the tensor. The
fans of a weight follow PyTorch: for shape ``(out, in, *k)``, ``fan_in = in * prod(k)`` and
``fan_out = out * prod(k)`` (a Linear weight ``(out, in)`` has ``fan_in = in``).

Formulas (``gain`` from :func:`calculate_gain`):

* ``xavier_uniform_``: U(-a, a), ``a = gain * sqrt(6 / (fan_in + fan_out))``  (Glorot & Bengio 2010)
* ``xavier_normal_``: N(0, std^2), ``std = gain * sqrt(2 / (fan_in + fan_out))``
* ``kaiming_uniform_``: U(-b, b), ``b = gain * sqrt(3 / fan_mode)``  (He et al. 2015, arXiv:1502.01852)
* ``kaiming_normal_``: N(0, std^2), ``std = gain / sqrt(fan_mode)``
* ``trunc_normal_``: N(mean, std^2) conditioned on [a, b] (rejection sampling)
* ``orthogonal_``: the Q of a QR decomposition of a Gaussian matrix, signs fixed by diag(R)
  (Saxe et al. 2013, arXiv:1312.6120), times ``gain``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.core.random import get_rng
from cvprimer.core.tensor import Tensor

_LINEAR = {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid"}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    r"""The recommended gain for a nonlinearity (PyTorch's table).

    linear / conv / sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + slope^2))
    with ``slope = param`` (default 0.01); selu: 3/4.
    """
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, (int, float)):
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        else:
            slope = float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
        f"{sorted(_LINEAR | {'tanh', 'relu', 'leaky_relu', 'selu'})}"
    )


def _check(tensor: Any, op: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}")
    return tensor


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(out, in, *kernel)``; needs >= 2 dims."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(
            f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions "
            f"(got shape {shape})"
        )
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fi, fo = _calculate_fan_in_and_fan_out(tensor)
    return fi if mode == "fan_in" else fo


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    tensor.data[...] = values.astype(tensor.data.dtype, copy=False)
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    _check(tensor, "zeros_").data[...] = 0
    return tensor


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    _check(tensor, "ones_").data[...] = 1
    return tensor


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    _check(tensor, "constant_").data[...] = val
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    """Fill with samples of U(a, b)."""
    _check(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    return _fill(tensor, get_rng(rng).uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    """Fill with samples of N(mean, std^2)."""
    _check(tensor, "normal_")
    if std < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    return _fill(tensor, get_rng(rng).normal(mean, std, tensor.shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  rng: np.random.Generator | None = None) -> Tensor:
    r"""Fill with N(mean, std^2) conditioned on [a, b] (absolute bounds, as PyTorch), by rejection:
    out-of-range draws are redrawn until all fall inside (exact for any bounds; efficient when
    [a, b] holds a reasonable share of the mass, as for ViT's std=0.02, [-2, 2])."""
    _check(tensor, "trunc_normal_")
    if std <= 0 or not a < b:
        raise ValueError(f"trunc_normal_: need std > 0 and a < b, got std={std}, a={a}, b={b}")
    r = get_rng(rng)
    out = r.normal(mean, std, tensor.shape)
    bad = (out < a) | (out > b)
    for _ in range(1000):
        if not bad.any():
            break
        out[bad] = r.normal(mean, std, int(bad.sum()))
        bad = (out < a) | (out > b)
    else:
        raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] holds too little of N({mean}, {std}^2)")
    return _fill(tensor, out)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    r"""Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``."""
    fi, fo = _calculate_fan_in_and_fan_out(_check(tensor, "xavier_uniform_"))
    a = gain * math.sqrt(6.0 / (fi + fo))
    return uniform_(tensor, -a, a, rng)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    r"""Glorot normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fi, fo = _calculate_fan_in_and_fan_out(_check(tensor, "xavier_normal_"))
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fi + fo)), rng)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     rng: np.random.Generator | None = None) -> Tensor:
    r"""He uniform: U(-b, b) with ``b = gain * sqrt(3 / fan)``, ``gain = calculate_gain(nonlinearity, a)``.

    PyTorch's Linear/Conv default is ``kaiming_uniform_(w, a=sqrt(5))``, i.e. ``b = 1/sqrt(fan_in)``.
    """
    fan = _fan(_check(tensor, "kaiming_uniform_"), mode)
    if fan == 0:
        raise ValueError(f"kaiming_uniform_: tensor of shape {tensor.shape} has a zero fan")
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, rng)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    rng: np.random.Generator | None = None) -> Tensor:
    r"""He normal: N(0, std^2) with ``std = gain / sqrt(fan)``."""
    fan = _fan(_check(tensor, "kaiming_normal_"), mode)
    if fan == 0:
        raise ValueError(f"kaiming_normal_: tensor of shape {tensor.shape} has a zero fan")
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), rng)


def orthogonal_(tensor: Tensor, gain: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    r"""A (semi-)orthogonal matrix times ``gain``: the tensor viewed as ``(rows, cols)`` with
    ``rows = shape[0]`` has orthonormal rows (if rows <= cols) or columns (otherwise).

    Method (PyTorch's): Q, R = qr(A) for Gaussian A of shape (max, min); Q *= sign(diag(R)) so
    the distribution is uniform (Haar); transpose when rows < cols.
    """
    _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions, got shape {tensor.shape}")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows if rows else 0
    if rows == 0 or cols == 0:
        return tensor
    flat = get_rng(rng).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))
