r"""2-D transposed convolution: the input-gradient of conv2d exposed as an op (duality)."""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.call import Call
from cvprimer.core.cost import Cost
from cvprimer.core.function import Function
from cvprimer.core.geometry import Transposed
from cvprimer.core.saves import BOTH
from cvprimer.core.tensor import Tensor
from cvprimer.functional._conv_utils import _pair
from cvprimer.functional.conv._geometry import Geom, as_tensor, check_operands, positive_pair
from cvprimer.functional.conv._kernels import (
    conv_forward,
    conv_grad_input,
    conv_grad_weight,
    plan,
    weight_operand,
)
from cvprimer.functional.conv.conv2d import _work


class ConvTranspose2dFn(Function):
    r"""``y = conv_transpose2d(x, W) + b``; ``forward(ctx, x, w, b, geom, out_shape)``.

    Shapes: x (N, C_in, H, W), w (C_in, C_out/g, k_h, k_w), b (C_out,) or None,
    y (N, C_out, H_out, W_out) with ``H_out = (H - 1) s - 2p + d (k - 1) + output_padding + 1``.
    ``geom`` describes the *dual* conv2d, which maps y-shaped tensors to x-shaped ones with
    weight W read as (C_out_conv = C_in, C_in_conv/g = C_out/g, k_h, k_w).

    **Forward** (the adjoint of that conv2d; yp is y with its padding)::

        yp[n, o, h s + i d, w s + j d] += sum_{c in G(o)} W[c, o, i, j] x[n, c, h, w]
        y = yp[:, :, p : p + H_out, p : p + W_out]  + b

    i.e. ``y = conv2d_input_grad(gy=x)``. Zero-insertion view: insert ``s - 1`` zeros between
    input pixels, pad by ``d (k - 1) - p`` (plus output_padding at the bottom/right), and
    correlate with the spatially flipped kernel whose in/out channel axes are swapped.

    **Backward** (duality again)::

        gx = conv2d(gy, W, stride=s, padding=p, dilation=d, groups=g)
        gW[c, o, i, j] = sum_{n,h,w} x[n, c, h, w] gyp[n, o, h s + i d, w s + j d]   (conv2d's gW
                                                               with input gy and output-grad x)
        gb[o] = sum_{n,h,w} gy[n, o, h, w]

    The columns of gy are built once and serve both gx and gW.
    """

    saves_for_backward = BOTH
    is_gemm = True

    @staticmethod
    def geometry(call: Call) -> Transposed:
        """The inverse mapping of the conv it transposes: input i reaches outputs i s - p + t d."""
        g = call.inputs[3]
        return Transposed(g.k, g.s, (g.pads[0], g.pads[2]), g.d)

    @staticmethod
    def infer(call: Call) -> Any:
        """Output shape and dtype without computing (the analyzer's shape-only trace)."""
        x, w, _, _, out_shape = call.inputs
        return tuple(out_shape), np.result_type(x, w)

    @staticmethod
    def cost(call: Call) -> Cost:
        """The analyzer's protocol: every input pixel meets every tap of its group."""
        x, w, b = call.inputs[:3]
        y = np.asarray(call.out)
        macs = int(np.size(x)) * int(np.prod(w.shape[1:]))
        return _work(macs, int(np.size(x)), int(np.size(w)), 0 if b is None else int(np.size(b)), int(y.size),
                     y.dtype.itemsize)

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, geom: Geom,
                out_shape: tuple[int, ...]) -> np.ndarray:
        # the lowering of the conv whose input gradient this is, decided once for forward and backward
        low = plan((x.shape[0],) + tuple(out_shape[1:]), w.shape, geom, x.itemsize)
        y = conv_grad_input(x, w, out_shape, geom, low)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)  # y is a fresh array
        ctx.geom, ctx.out_shape, ctx.low = geom, out_shape, low
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, w if ctx.needs_input_grad[0] else None)
        return y

    @staticmethod
    def backward(ctx: Any, gy: np.ndarray) -> tuple[np.ndarray | None, ...]:
        x, w = ctx.saved_tensors
        g = ctx.geom
        gx = gw = gb = None
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if need_x or need_w:
            w_shape = w.shape if w is not None else (x.shape[1], gy.shape[1] // g.groups) + g.k
            if need_x:
                gx, saved = conv_forward(gy, w, g, ctx.low)
            else:
                saved = weight_operand(gy, w_shape, g, ctx.low)
            if need_w:
                gw = conv_grad_weight(saved, x, w_shape, g, ctx.low)
        if ctx.needs_input_grad[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb


def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    r"""2-D transposed convolution ("deconvolution"), as ``torch.nn.functional.conv_transpose2d``.

    The gradient of :func:`conv2d` with respect to its input, exposed as an op: it maps an
    (N, C_in, H, W) tensor up to the size of the input of the conv2d that would produce it.

    Parameters
    ----------
    x : Tensor
        (N, C_in, H, W), or unbatched (C_in, H, W).
    weight : Tensor
        (C_in, C_out/groups, k_h, k_w) (PyTorch's layout: in-channels first).
    bias : Tensor or None
        (C_out,).
    stride, padding, dilation : int or (int, int)
        Those of the conv2d being transposed (padding *removes* ``p`` rows/cols per side).
    output_padding : int or (int, int)
        Extra rows/cols added at the bottom/right to pick one of the ``s`` input sizes that a
        strided conv2d maps to the same output size; must be < max(s, d) per axis.
    groups : int

    Returns
    -------
    Tensor
        (N, C_out, H_out, W_out).

    Shape
    -----
    ``H_out = (H - 1) s_h - 2 p_h + d_h (k_h - 1) + output_padding_h + 1``, same for W.

    Notes
    -----
    Math in :class:`ConvTranspose2dFn`. Zero-insertion view: insert ``s - 1`` zeros between the
    input pixels, pad by ``d (k - 1) - p`` on each side (``+ output_padding`` after), and
    cross-correlate with the flipped kernel. We never materialize the zeros: with stride 1 the
    forward is that flipped-kernel correlation on shifted GEMMs; with stride s it splits into
    s_h s_w such correlations, one per output phase (the reference path is a GEMM to columns
    and a tap-by-tap col2im).

    References
    ----------
    Dumoulin & Visin, "A guide to convolution arithmetic for deep learning", arXiv:1603.07285;
    Zeiler et al., "Deconvolutional networks" (CVPR 2010).

    Example
    -------
    >>> import numpy as np, cvprimer as cp, cvprimer.functional as F
    >>> x = cp.tensor(np.ones((1, 4, 16, 16), np.float32))
    >>> F.conv_transpose2d(x, cp.tensor(np.ones((4, 2, 4, 4), np.float32)), stride=2, padding=1).shape
    (1, 2, 32, 32)
    """
    op = "conv_transpose2d"
    x, weight = as_tensor(op, "x", x), as_tensor(op, "weight", weight)
    bias = None if bias is None else as_tensor(op, "bias", bias)
    check_operands(op, x, weight, bias, 2, groups, transposed=True)
    if isinstance(padding, str):
        raise ValueError(f"conv_transpose2d: padding must be an int or a pair, got {padding!r}")
    s = positive_pair(op, "stride", stride)
    d = positive_pair(op, "dilation", dilation)
    p = _pair(padding, "padding", op)
    op_ = _pair(output_padding, "output_padding", op)
    if min(p) < 0 or min(op_) < 0:
        raise ValueError(f"{op}: padding and output_padding must be >= 0, got {p} and {op_}")
    for a in range(2):
        if op_[a] >= max(s[a], d[a]):
            raise ValueError(
                f"{op}: output_padding {op_} must be smaller than max(stride, dilation) per axis; "
                f"got stride {s}, dilation {d}"
            )
    k = (weight.shape[-2], weight.shape[-1])
    H, W = x.shape[-2:]
    out = tuple((n - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + op_[a] + 1
                for a, n in enumerate((H, W)))
    if min(out) < 1:
        raise ValueError(f"{op}: output size {out} < 1 for input {x.shape}, kernel {k}, stride {s}, "
                         f"padding {p}, dilation {d}")
    # the dual conv2d maps the output size back to (H, W); with output_padding >= s (possible
    # when d > s) its natural output would be larger, so the geometry is set, not derived
    geom = Geom(k, s, d, (p[0], p[0], p[1], p[1]), int(groups), (H, W))
    c_out = weight.shape[1] * groups
    if x.ndim == 3:
        y = ConvTranspose2dFn.apply(x.reshape(1, *x.shape), weight, bias, geom, (1, c_out) + out)
        return y.reshape(c_out, *out)
    return ConvTranspose2dFn.apply(x, weight, bias, geom, (x.shape[0], c_out) + out)


def cost(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Any = 1, padding: Any = 0,
         output_padding: Any = 0, groups: int = 1, dilation: Any = 1, bias: bool = True,
         itemsize: int = 4) -> Cost:
    """Work of one conv_transpose2d forward (as :func:`conv2d.cost`): ``macs = N C_in H W
    (C_out/g) k_h k_w``, ``flops`` = the bias adds, ``bytes`` = x, W, b read and y written once."""
    n = int(np.prod(x_shape[:-3])) if len(x_shape) == 4 else 1
    s, p, d, o = (_pair(v) for v in (stride, padding, dilation, output_padding))
    hw = x_shape[-2:]
    out = [(hw[a] - 1) * s[a] - 2 * p[a] + d[a] * (w_shape[2 + a] - 1) + o[a] + 1 for a in range(2)]
    c_out = w_shape[1] * groups
    n_in = n * int(np.prod(x_shape[-3:]))
    n_out = n * c_out * out[0] * out[1]
    return _work(n_in * int(np.prod(w_shape[1:])), n_in, int(np.prod(w_shape)), c_out if bias else 0, n_out,
                 itemsize)
