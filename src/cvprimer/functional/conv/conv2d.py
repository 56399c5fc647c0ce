r"""2-D and 1-D convolution (deep learning's cross-correlation), lowered to matrix products."""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.call import Call
from cvprimer.core.cost import Cost
from cvprimer.core.function import Function
from cvprimer.core.geometry import Window
from cvprimer.core.saves import Extra, Saves
from cvprimer.core.settings import settings
from cvprimer.core.tensor import Tensor
from cvprimer.functional.conv._geometry import Geom, as_tensor, check_operands, conv_geometry
from cvprimer.functional.conv._kernels import (
    conv_forward,
    conv_grad_input,
    conv_grad_weight,
    plan,
    saved_nbytes,
    weight_operand,
)


def _work(macs: int, n_x: int, n_w: int, n_b: int, n_y: int, itemsize: int) -> Cost:
    """The cost of a conv-like op: its MACs, the bias adds (one per output element when
    there is a bias), and x, W, b read and y written once, at ``itemsize`` bytes per element."""
    return Cost(macs, n_y if n_b else 0, (n_x + n_w + n_b + n_y) * itemsize)


class Conv2dFn(Function):
    r"""``y = conv2d(x, W) + b`` on NCHW arrays; ``forward(ctx, x, w, b, geom)``.

    Shapes: x (N, C_in, H, W), w (C_out, C_in/g, k_h, k_w), b (C_out,) or None,
    y (N, C_out, H_out, W_out) with ``H_out = floor((H + p_top + p_bottom - d_h (k_h - 1) - 1)/s_h) + 1``
    (same along W).

    **Forward** (group of o: ``G(o)``, its input channels ``c``; xp the zero-padded x)::

        y[n, o, h, w] = b[o] + sum_{c in G(o), i, j} W[o, c, i, j] xp[n, c, h s + i d, w s + j d]

    lowered to matrix products (``_lowering``: im2col makes it ``W_g @ cols_g`` per image and
    group; the fast paths in ``_kernels`` use shifted GEMMs on views instead).

    **Backward** (the adjoint of the same bilinear map in each argument)::

        gb[o]          = sum_{n,h,w} gy[n, o, h, w]
        gW[o, c, i, j] = sum_{n,h,w} gy[n, o, h, w] xp[n, c, h s + i d, w s + j d]   (gy_g @ cols_g^T)
        gxp[n, c, h s + i d, w s + j d] += sum_{o in G(c)} W[o, c, i, j] gy[n, o, h, w]

    and gx is gxp without its padding: ``gx = conv_transpose2d(gy, W, s, p, output_padding, g, d)``
    with the output_padding that restores x's size (duality). Saved: the lowered input (the flat
    padded copy, row copies or columns; x itself when they would exceed ``settings.conv_keep_cols_bytes`` or
    on the depthwise path) for gW, and W for gx.
    """

    saves_for_backward = Saves(inputs=(1,), extra=(Extra("input", 0, lowered=True),))
    is_gemm = True

    @staticmethod
    def geometry(call: Call) -> Window:
        """A sliding window: kernel k, stride s, top/left padding, dilation d (per axis)."""
        g = call.inputs[3]
        return Window(g.k, g.s, (g.pads[0], g.pads[2]), g.d)

    @staticmethod
    def infer(call: Call) -> Any:
        """Output shape and dtype without computing (the analyzer's shape-only trace)."""
        x, w, _, geom = call.inputs
        return (x.shape[0], w.shape[0]) + tuple(geom.out), np.result_type(x, w)

    @staticmethod
    def cost(call: Call) -> Cost:
        """The analyzer's protocol, from the inputs (x, w, b, geom) and the output."""
        x, w, b = call.inputs[:3]
        y = np.asarray(call.out)
        macs = int(y.size) * int(np.prod(w.shape[1:]))
        return _work(macs, int(np.size(x)), int(np.size(w)), 0 if b is None else int(np.size(b)), int(y.size),
                     y.dtype.itemsize)

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, geom: Geom) -> np.ndarray:
        low = plan(x.shape, w.shape, geom, x.itemsize)  # decided once: the backward uses the same lowering
        y, saved = conv_forward(x, w, geom, low)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        ctx.geom, ctx.x_shape, ctx.w_shape, ctx.low = geom, x.shape, w.shape, low
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if need_w and saved_nbytes(saved) > settings.conv_keep_cols_bytes:
            saved, xs = None, x
        else:
            xs = None
        if need_w and (xs is not None or _aliases(saved, x)):
            ctx.kept_inputs = (0,)  # x itself is kept (no copy): its version is checked at backward
        ctx.save_for_backward(saved if need_w else None, xs, w if need_x else None)
        return y

    @staticmethod
    def backward(ctx: Any, gy: np.ndarray) -> tuple[np.ndarray | None, ...]:
        saved, x, w = ctx.saved_tensors
        g = ctx.geom
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = conv_grad_input(gy, w, ctx.x_shape, g, ctx.low)
        if ctx.needs_input_grad[1]:
            if saved is None:
                saved = weight_operand(x, ctx.w_shape, g, ctx.low)
            gw = conv_grad_weight(saved, gy, ctx.w_shape, g, ctx.low)
        if ctx.needs_input_grad[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb


def _aliases(saved: Any, x: np.ndarray) -> bool:
    """Whether some array in ``saved`` (a lowering's operand: an array, or tuples/lists of them) shares memory
    with ``x`` (a depthwise or 1 x 1 lowering keeps the input itself, not a copy)."""
    stack = [saved]
    while stack:
        v = stack.pop()
        if isinstance(v, np.ndarray):
            if np.may_share_memory(v, x):
                return True
        elif isinstance(v, (tuple, list)):
            stack.extend(v)
    return False


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    r"""2-D convolution (cross-correlation) of an NCHW batch, as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : Tensor
        (N, C_in, H, W), or unbatched (C_in, H, W).
    weight : Tensor
        (C_out, C_in/groups, k_h, k_w).
    bias : Tensor or None
        (C_out,).
    stride, dilation : int or (int, int)
        Step between windows; spacing between kernel taps (both >= 1).
    padding : int, (int, int), "same" or "valid"
        Implicit zeros on both sides. "same" (stride 1 only) pads ``d (k - 1)`` in total per
        axis, ``total // 2`` before and the rest after (PyTorch's split for even kernels).
    groups : int
        Input and output channels are split into ``groups`` blocks convolved separately;
        ``groups == C_in`` with ``C_out = m C_in`` is a depthwise conv with multiplier ``m``.

    Returns
    -------
    Tensor
        (N, C_out, H_out, W_out).

    Shape
    -----
    ``H_out = floor((H + 2p_h - d_h (k_h - 1) - 1) / s_h) + 1``, same for W.

    Notes
    -----
    See :class:`Conv2dFn` for the forward and backward math. 1x1 kernels without padding are
    a plain batched matmul; depthwise convs use tap-wise multiply-adds; stride-1 convs are
    shifted GEMMs on one flat padded copy of the input; strided ones a sum of stride-1 convs
    on polyphase sub-images (see ``conv/_kernels.py``).

    References
    ----------
    Chellapilla, Puri, Simard, "High Performance Convolutional Neural Networks for Document
    Processing" (2006) (the im2col lowering); Dumoulin & Visin, "A guide to convolution
    arithmetic for deep learning", arXiv:1603.07285.

    Example
    -------
    >>> import numpy as np, cvprimer as cp, cvprimer.functional as F
    >>> x = cp.tensor(np.ones((1, 2, 5, 5), np.float32))
    >>> F.conv2d(x, cp.tensor(np.ones((4, 2, 3, 3), np.float32)), padding=1).shape
    (1, 4, 5, 5)
    """
    op = "conv2d"
    x, weight = as_tensor(op, "x", x), as_tensor(op, "weight", weight)
    bias = None if bias is None else as_tensor(op, "bias", bias)
    check_operands(op, x, weight, bias, 2, groups)
    geom = conv_geometry(op, (x.shape[-2], x.shape[-1]), (weight.shape[-2], weight.shape[-1]), stride, padding,
                         dilation, groups)
    if x.ndim == 3:
        return Conv2dFn.apply(x.reshape(1, *x.shape), weight, bias, geom).reshape(
            weight.shape[0], *geom.out)
    return Conv2dFn.apply(x, weight, bias, geom)


def conv1d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    r"""1-D convolution of (N, C_in, L) signals, as ``torch.nn.functional.conv1d``.

    Composite: the signal is viewed as a 1 x L image and ``weight`` (C_out, C_in/groups, k)
    as a 1 x k kernel, and :func:`conv2d` does the work (so its backward is conv2d's).
    Arguments as :func:`conv2d` with ints for stride/padding/dilation (or "same"/"valid").
    ``L_out = floor((L + 2p - d (k - 1) - 1) / s) + 1``; unbatched (C_in, L) inputs are accepted.

    Example
    -------
    >>> import numpy as np, cvprimer as cp, cvprimer.functional as F
    >>> F.conv1d(cp.tensor(np.ones((2, 3, 8), np.float32)), cp.tensor(np.ones((4, 3, 3), np.float32))).shape
    (2, 4, 6)
    """
    op = "conv1d"
    x, weight = as_tensor(op, "x", x), as_tensor(op, "weight", weight)
    bias = None if bias is None else as_tensor(op, "bias", bias)
    check_operands(op, x, weight, bias, 1, groups)

    def one(v: Any, name: str) -> int:
        if isinstance(v, (tuple, list)):
            if len(v) != 1:
                raise ValueError(f"conv1d: {name} must be an int or a 1-tuple, got {tuple(v)}")
            v = v[0]
        return v

    pad = padding if isinstance(padding, str) else (0, one(padding, "padding"))
    geom = conv_geometry(op, (1, x.shape[-1]), (1, weight.shape[-1]), (1, one(stride, "stride")), pad,
                         (1, one(dilation, "dilation")), groups)
    batched = x.ndim == 3
    n = x.shape[0] if batched else 1
    x4 = x.reshape(n, x.shape[-2], 1, x.shape[-1])
    w4 = weight.reshape(weight.shape[0], weight.shape[1], 1, weight.shape[2])
    y = Conv2dFn.apply(x4, w4, bias, geom)
    return y.reshape(n, weight.shape[0], geom.out[1]) if batched else y.reshape(weight.shape[0], geom.out[1])


def cost(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Any = 1, padding: Any = 0,
         dilation: Any = 1, groups: int = 1, bias: bool = True, itemsize: int = 4) -> Cost:
    """Work of one conv2d forward: ``macs`` (multiply-adds), ``flops`` (other FLOPs: the bias
    adds), ``bytes`` (x, weight, bias read and y written once, at ``itemsize`` bytes each).

    ``MACs = N C_out H_out W_out (C_in/g) k_h k_w``.
    """
    geom = conv_geometry("conv2d.cost", (x_shape[-2], x_shape[-1]), (w_shape[-2], w_shape[-1]), stride, padding,
                         dilation, groups)
    n = int(np.prod(x_shape[:-3])) if len(x_shape) == 4 else 1
    out = n * w_shape[0] * geom.out[0] * geom.out[1]
    return _work(out * int(np.prod(w_shape[1:])), int(np.prod(x_shape)), int(np.prod(w_shape)),
                 w_shape[0] if bias else 0, out, itemsize)
