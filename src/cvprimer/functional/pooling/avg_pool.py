r"""2-D average pooling (``avg_pool2d``) with PyTorch's padding, ceil_mode and divisor rules."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.core.call import Call
from cvprimer.core.cost import Cost, numel
from cvprimer.core.function import Function
from cvprimer.core.geometry import Window
from cvprimer.core.saves import NOTHING
from cvprimer.core.tensor import Tensor
from cvprimer.functional.pooling._window import check_planes, extent, padded, window_params


def _divisor(L: int, n_out: int, k: int, s: int, p: int, count_include_pad: bool) -> np.ndarray:
    """Per-axis window length PyTorch divides by: the window clipped to ``[-p, L + p)``
    (padding counts) or to ``[0, L)`` (``count_include_pad=False``). A ceil_mode window that
    hangs past ``L + p`` is clipped in both cases."""
    start = np.arange(n_out) * s - p
    end = np.minimum(start + k, L + p)
    if not count_include_pad:
        start, end = np.maximum(start, 0), np.minimum(end, L)
    return end - start


def _window_sum(a: np.ndarray, k: int, s: int, n: int, axis: int) -> np.ndarray:
    """Sum of the ``k`` taps ``a[t : t + (n - 1) s + 1 : s]`` along ``axis`` (1 or 2)."""
    sl = [slice(None)] * 3
    sl[axis] = slice(0, (n - 1) * s + 1, s)
    out = a[tuple(sl)].copy()
    for t in range(1, k):
        sl[axis] = slice(t, t + (n - 1) * s + 1, s)
        out += a[tuple(sl)]
    return out


def _window_spread(g: np.ndarray, k: int, s: int, length: int, axis: int) -> np.ndarray:
    """Transpose of :func:`_window_sum`: add ``g`` to each of the ``k`` tap slices of a zero array."""
    shape = list(g.shape)
    shape[axis] = length
    out = np.zeros(shape, dtype=g.dtype)
    n = g.shape[axis]
    sl = [slice(None)] * 3
    for t in range(k):
        sl[axis] = slice(t, t + (n - 1) * s + 1, s)
        out[tuple(sl)] += g
    return out


class AvgPool2dFn(Function):
    r"""Mean over sliding windows of each (H, W) plane.

    Notes
    -----
    **Forward**: ``y[b, i, j] = (1 / D[i, j]) sum_{u < k_h, v < k_w} xp[b, i s_h + u, j s_w + v]``
    with ``xp`` the zero-padded input. The window sum is separable (sum the ``k_w`` column
    taps, then the ``k_h`` row taps: ``k_h + k_w`` array adds instead of ``k_h k_w``), and so
    is the divisor ``D[i, j] = D_h[i] D_w[j]`` (:func:`_divisor`; PyTorch's rule), or the constant
    ``divisor_override`` for every window when one is given.

    **Backward**: linear, so ``gx`` is the transpose: ``gy / D`` is spread equally over the
    window, ``gx[b, h, w] = sum_{(i, j): (h, w) in window(i, j)} gy[b, i, j] / D[i, j]``;
    overlapping windows accumulate. For non-overlapping windows without padding every input
    position gets ``1/(k_h k_w)`` of one output's gradient, so ``sum(gx) == sum(gy)``.
    Nothing but shapes is saved.
    """

    saves_for_backward = NOTHING  # the small divisor

    @staticmethod
    def geometry(call: Call) -> Window:
        """A sliding window: kernel, stride, top/left padding, dilation of the resolved geometry."""
        g = call.inputs[1]
        return Window(g["k"], g["s"], g["p"], g.get("d", (1, 1)))

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, g: dict[str, Any], count_include_pad: bool,
                divisor_override: int | None = None) -> np.ndarray:
        *lead, H, W = x.shape
        (kh, kw), (sh, sw), (ph, pw), (Ho, Wo) = g["k"], g["s"], g["p"], g["out"]
        xp = padded(x.reshape(math.prod(lead), H, W), (ph, pw), extent(g), 0.0)
        y = _window_sum(_window_sum(xp, kw, sw, Wo, 2), kh, sh, Ho, 1)
        if divisor_override is None:
            div = np.outer(_divisor(H, Ho, kh, sh, ph, count_include_pad),
                           _divisor(W, Wo, kw, sw, pw, count_include_pad)).astype(x.dtype)
        else:  # one divisor for every window (a 0-d array: broadcasts in forward and backward)
            div = np.asarray(divisor_override, dtype=x.dtype)
        y /= div
        ctx.div, ctx.g, ctx.x_shape, ctx.padded_shape = div, g, x.shape, xp.shape
        return y.reshape(*lead, Ho, Wo)

    @staticmethod
    def backward(ctx: Function, gy: np.ndarray) -> tuple[np.ndarray]:
        *lead, H, W = ctx.x_shape
        (kh, kw), (sh, sw), (ph, pw) = ctx.g["k"], ctx.g["s"], ctx.g["p"]
        _, Hp, Wp = ctx.padded_shape
        gyd = gy.reshape(math.prod(lead), *gy.shape[-2:]) / ctx.div
        gxp = _window_spread(_window_spread(gyd, kh, sh, Hp, 1), kw, sw, Wp, 2)
        return (gxp[:, ph:ph + H, pw:pw + W].reshape(ctx.x_shape),)

    @staticmethod
    def infer(call):
        """Output shape and dtype for the shape-only trace (the analyzer's protocol)."""
        x, g = call.inputs[:2]
        return x.shape[:-2] + tuple(g["out"]), x.dtype

    @staticmethod
    def cost(call):
        """The analyzer's protocol: the separable sum the op computes (:func:`_separable_flops`);
        bytes = input read + output written."""
        x, g = call.inputs[:2]
        n_out = numel(call.out)
        return Cost(0, _separable_flops(x.shape, g), (numel(x) + n_out) * x.dtype.itemsize)


def _separable_flops(x_shape: tuple[int, ...], g: dict[str, Any]) -> int:
    """FLOPs of the separable window sum and the division, per plane ``(k_w - 1) H_p W_out`` adds for the
    column taps over every padded row, ``(k_h - 1) H_out W_out`` for the row taps, one divide per output."""
    planes = math.prod(x_shape[:-2])
    (kh, kw), (Ho, Wo) = g["k"], g["out"]
    Hp = max(extent(g)[0], x_shape[-2] + 2 * g["p"][0])
    return int(planes * ((kw - 1) * Hp * Wo + (kh - 1) * Ho * Wo + Ho * Wo))


def avg_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    r"""2-D average pooling over an (N, C, H, W) or (C, H, W) input.

    Parameters
    ----------
    x : Tensor
        Input, floating point.
    kernel_size, stride, padding : int or (int, int)
        Window size, step (default: ``kernel_size``) and implicit zero padding (at most ``k // 2``).
    ceil_mode : bool
        Ceil instead of floor in the output size (the last window must start inside the input or
        the left padding); a window hanging off the end is divided by its clipped size.
    count_include_pad : bool
        Count the zero padding in the divisor (True, the default) or only the input elements.
    divisor_override : int, optional
        Divide every window sum by this nonzero number instead (PyTorch's option; ``count_include_pad``
        is then irrelevant): ``y = (sum of the window) / divisor_override``, ``gx`` = ``gy /
        divisor_override`` spread over each window.

    Shape
    -----
    ``(N, C, H, W) -> (N, C, H_out, W_out)``, ``H_out = floor((H + 2 p_h - k_h) / s_h) + 1``
    (ceil with ``ceil_mode``), same for W.

    Notes
    -----
    Divisor of window (i, j) along H (PyTorch's rule): ``start = i s - p``,
    ``end = min(start + k, H + p)``; ``D = end - start`` with ``count_include_pad``, else
    ``min(end, H) - max(start, 0)``; the same along W, and ``D = D_h D_w``.
    The gradient is spread equally over each window (see :class:`AvgPool2dFn`). Cost: :func:`cost`.

    Examples
    --------
    >>> import cvprimer as cp, cvprimer.functional as F
    >>> F.avg_pool2d(cp.ones(1, 1, 4, 4), 2).numpy().ravel().tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    op = "avg_pool2d"
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    shape = check_planes(op, x)
    g = window_params(op, shape, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (isinstance(divisor_override, (bool, np.bool_))
                                         or not isinstance(divisor_override, (int, np.integer))
                                         or divisor_override == 0):
        raise ValueError(f"{op}: divisor_override must be a nonzero int or None, got {divisor_override!r}")
    return AvgPool2dFn.apply(x, g, bool(count_include_pad),
                             None if divisor_override is None else int(divisor_override))


def cost(x_shape: tuple[int, ...], kernel_size: Any, stride: Any = None, padding: Any = 0,
         ceil_mode: bool = False, itemsize: int = 4) -> Cost:
    """Forward cost of :func:`avg_pool2d` as computed (separable sum): no MACs,
    ``(k_w - 1) H_p W_out + (k_h - 1) H_out W_out`` adds plus one division per output, per plane;
    bytes = input read + output written."""
    g = window_params("avg_pool2d", tuple(x_shape), kernel_size, stride, padding, 1, ceil_mode)
    planes, (Ho, Wo) = math.prod(x_shape[:-2]), g["out"]
    flops = _separable_flops(tuple(x_shape), g)
    return Cost(macs=0, flops=flops, bytes=(math.prod(x_shape) + planes * Ho * Wo) * itemsize)
