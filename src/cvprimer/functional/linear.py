r"""The fully connected (affine) map ``y = x W^T + b`` as one fused op."""

from __future__ import annotations

import numpy as np

from cvprimer.core.cost import Cost
from cvprimer.core.function import Function
from cvprimer.core.pool import gemm
from cvprimer.core.saves import BOTH
from cvprimer.core.tensor import Tensor


def _rows(a: np.ndarray) -> np.ndarray:
    """``a`` (*, n) as a 2-D (M, n) array, M = prod(*): a view when the leading axes allow one."""
    if a.ndim == 2:
        return a
    if a.ndim == 1:
        return a[None]
    return a.reshape(-1, a.shape[-1])


class LinearFn(Function):
    r"""y = x W^T + b.

    Shapes: x (*, in), W (out, in), b (out,) or absent -> y (*, out); ``*`` is any number of
    leading (batch) axes, including none.

    Forward:  y[..., o] = sum_i x[..., i] W[o, i] + b[o].
    Backward: gx = gy @ W               (*, in)
              gW = sum over batch of gy^T x = gy_2d^T @ x_2d      (out, in)
              gb = sum over batch of gy                            (out,)
    where ``_2d`` flattens the leading axes into one of length M = prod(*).
    Saves x (only if gW is wanted) and W (only if gx is wanted).

    Every product is one 2-D GEMM on the flattened (M, in) / (M, out) views: ``np.matmul`` on a
    3-D operand runs a Python-free but stacked loop of small GEMMs (one per leading index),
    3x slower than one (M, in) @ (in, out) call for ViT-sized shapes. The bias is added in place.
    """

    saves_for_backward = BOTH  # x and the weight
    is_gemm = True

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        x2 = _rows(x)  # (M, in)
        y = gemm(x2, weight.T)  # (M, out), one GEMM (its rows split over the engine's pool)
        if bias is not None:
            if np.result_type(y, bias) == y.dtype:
                y += bias
            else:  # a wider bias widens y, as NumPy's promotion does
                y = y + bias
        y = y.reshape(x.shape[:-1] + (weight.shape[0],))
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              weight if ctx.needs_input_grad[0] else None)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        gx = gw = gb = None
        gy2 = _rows(gy)  # (M, out)
        if needs[0]:
            gx = gemm(gy2, weight).reshape(gy.shape[:-1] + (weight.shape[1],))  # (*, in)
        if needs[1]:
            gw = gemm(gy2.T, _rows(x))  # (out, in)
        if len(needs) < 3:  # called without a bias
            return gx, gw
        if needs[2]:
            gb = gy2.sum(axis=0)
        return gx, gw, gb

    @staticmethod
    def infer(call):
        """Output shape and dtype without computing (shape-only tracing)."""
        x, weight = call.inputs[:2]
        return tuple(np.shape(x)[:-1]) + (np.shape(weight)[0],), np.result_type(x, weight)

    @staticmethod
    def cost(call):
        """The analyzer's protocol: see the module-level :func:`cost`."""
        x, weight = call.inputs[:2]
        return cost(np.shape(x), np.shape(weight), call.arg(2, "bias") is not None, call.itemsize)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    r"""Affine map ``y = x W^T + b`` (``torch.nn.functional.linear``).

    Parameters
    ----------
    x : Tensor, shape (*, in_features)
    weight : Tensor, shape (out_features, in_features)
    bias : Tensor, shape (out_features,), optional

    Returns
    -------
    Tensor, shape (*, out_features)

    Notes
    -----
    **Forward** ``y = x W^T + b``. **Backward** ``gx = gy W``, ``gW = gy^T x`` and
    ``gb = sum(gy)``, both summed over all leading axes. See :class:`LinearFn`.

    Example
    -------
    >>> import cvprimer as cp, cvprimer.functional as F
    >>> F.linear(cp.ones(4, 3), cp.ones(2, 3), cp.zeros(2)).shape
    (4, 2)
    """
    for name, t in (("x", x), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"linear: {name} must be a Tensor, got {type(t).__name__}")
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: x has shape {x.shape} but weight {weight.shape} expects x of shape "
            f"(*, {weight.shape[1]})"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(
            f"linear: bias has shape {bias.shape}, expected ({weight.shape[0]},) for weight {weight.shape}"
        )
    if bias is None:
        return LinearFn.apply(x, weight)
    return LinearFn.apply(x, weight, bias)


def cost(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], bias: bool = True,
         itemsize: int = 4) -> Cost:
    r"""Work of one ``linear`` forward: ``macs = M * out * in`` (M = rows after flattening
    the leading axes), ``flops`` = the bias additions ``M * out``, and ``bytes`` read + written
    (x, W, b, y) at ``itemsize`` bytes per element."""
    m = int(np.prod(x_shape[:-1])) if len(x_shape) > 1 else 1
    out_f, in_f = weight_shape
    elems = m * in_f + out_f * in_f + (out_f if bias else 0) + m * out_f
    return Cost(m * out_f * in_f, m * out_f if bias else 0, elems * itemsize)
