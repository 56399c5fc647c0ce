r"""Maxout (Goodfellow et al., arXiv:1302.4389): the max over groups of ``pieces`` channels."""

from __future__ import annotations

import numpy as np

from cvprimer.core.call import spatial_kept
from cvprimer.core.cost import Cost
from cvprimer.core.function import Function
from cvprimer.core.saves import Extra, Saves
from cvprimer.core.tensor import Tensor
from cvprimer.functional.activation.registry import activation


class MaxoutFn(Function):
    r"""y[..., j, ...] = max_{i < pieces} x[..., j * pieces + i, ...] along ``dim``.

    Shapes: x (..., C, ...) with C = C_out * pieces on ``dim``; y (..., C_out, ...).
    The groups are consecutive channels: output j takes channels [j*pieces, (j+1)*pieces).

    Backward: the whole of gy[j] goes to the first input channel of group j that attains
    the max (ties broken towards the lowest index, like max-pooling); the other pieces get 0.
    Saves the argmax (int indices of shape y) and the input shape.
    """

    geometry = staticmethod(spatial_kept)
    saves_for_backward = Saves(extra=(Extra("output", 0, "int64"),))  # the winning piece
    no_infer = "runs on the placeholder (one max over pieces; output 1/pieces of the input)"

    @staticmethod
    def forward(ctx, x, pieces, dim):
        shape = x.shape
        grouped = x.reshape(shape[:dim] + (shape[dim] // pieces, pieces) + shape[dim + 1 :])
        idx = np.argmax(grouped, axis=dim + 1)  # the first maximum
        y = np.take_along_axis(grouped, np.expand_dims(idx, dim + 1), axis=dim + 1)
        ctx.save_for_backward(idx)
        ctx.grouped_shape = grouped.shape
        ctx.dim = dim
        return np.squeeze(y, axis=dim + 1)

    @staticmethod
    def backward(ctx, gy):
        (idx,) = ctx.saved_tensors
        d = ctx.dim
        gx = np.zeros(ctx.grouped_shape, gy.dtype)
        np.put_along_axis(gx, np.expand_dims(idx, d + 1), np.expand_dims(gy, d + 1), axis=d + 1)
        shape = ctx.grouped_shape
        return gx.reshape(shape[:d] + (shape[d] * shape[d + 1],) + shape[d + 2 :])

    @staticmethod
    def cost(call):
        """The analyzer's protocol: see the module-level :func:`cost`."""
        return cost(call.x.shape, call.inputs[1], itemsize=call.itemsize)


@activation(layer="Maxout", pointwise=False)
def maxout(x: Tensor, pieces: int, dim: int = 1) -> Tensor:
    r"""Maxout over groups of ``pieces`` consecutive channels along ``dim``.

    Parameters
    ----------
    x : Tensor (N, C, *) (any rank; ``dim`` selects the channel axis)
    pieces : int >= 1, must divide C = x.shape[dim]
    dim : int, the channel axis (default 1, negative counts from the end)

    Returns
    -------
    Tensor with C / pieces on ``dim``.

    Notes
    -----
    **Forward** y_j = max_{i < k} x_{j k + i}.  **Backward** gx_{j k + i*} = gy_j for the first
    maximizing piece i*, 0 otherwise. Usually preceded by a linear/conv layer with
    C_out * pieces outputs.

    Example
    -------
    >>> import cvprimer as cp, cvprimer.functional as F
    >>> F.maxout(cp.tensor([[1.0, 3.0, 2.0, 0.0]]), pieces=2).numpy().tolist()
    [[3.0, 2.0]]
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"maxout: expected a Tensor, got {type(x).__name__}")
    if isinstance(pieces, bool) or not isinstance(pieces, (int, np.integer)) or pieces < 1:
        raise ValueError(f"maxout: pieces must be a positive int, got {pieces!r}")
    if x.ndim == 0 or not -x.ndim <= dim < x.ndim:
        raise ValueError(f"maxout: dim {dim} out of range for input of shape {x.shape}")
    dim = dim % x.ndim
    if x.shape[dim] % pieces:
        raise ValueError(
            f"maxout: the size {x.shape[dim]} of dim {dim} of input {x.shape} is not divisible by "
            f"pieces={pieces}; expected C = C_out * pieces"
        )
    return MaxoutFn.apply(x, int(pieces), dim)


def cost(shape: tuple[int, ...], pieces: int, itemsize: int = 4) -> Cost:
    """Comparisons (counted as FLOPs) and bytes of maxout on an input of ``shape``."""
    n = int(np.prod(shape))
    return Cost(0, n - n // pieces, (n + n // pieces) * itemsize)
