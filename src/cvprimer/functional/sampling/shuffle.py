r"""Pixel shuffle / unshuffle (sub-pixel convolution) and ShuffleNet's channel shuffle.

All three are permutations of the elements, so each backward is the inverse permutation
applied to the gradient: pixel_shuffle and pixel_unshuffle are each other's backward, and
channel shuffle with ``g`` groups is undone by channel shuffle with ``C / g`` groups.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.core.call import Call, pointwise
from cvprimer.core.cost import Cost, same_shape_infer
from cvprimer.core.function import Function
from cvprimer.core.geometry import Resample, Window
from cvprimer.core.saves import NOTHING
from cvprimer.core.tensor import Tensor


def _shuffle(x: np.ndarray, r: int) -> np.ndarray:
    """(*, C r^2, H, W) -> (*, C, H r, W r): ``y[c, h r + i, w r + j] = x[c r^2 + i r + j, h, w]``."""
    *lead, Cr, H, W = x.shape
    C = Cr // (r * r)
    y = x.reshape(*lead, C, r, r, H, W)  # (*, C, i, j, H, W)
    n = len(lead)
    y = y.transpose(*range(n), n, n + 3, n + 1, n + 4, n + 2)  # (*, C, H, i, W, j)
    return y.reshape(*lead, C, H * r, W * r)


def _unshuffle(x: np.ndarray, r: int) -> np.ndarray:
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of :func:`_shuffle`."""
    *lead, C, Hr, Wr = x.shape
    H, W = Hr // r, Wr // r
    y = x.reshape(*lead, C, H, r, W, r)  # (*, C, H, i, W, j)
    n = len(lead)
    y = y.transpose(*range(n), n, n + 2, n + 4, n + 1, n + 3)  # (*, C, i, j, H, W)
    return y.reshape(*lead, C * r * r, H, W)


def _channel_shuffle(x: np.ndarray, g: int) -> np.ndarray:
    """(N, C, ...) with C = g m: view channels as (g, m), transpose to (m, g), flatten back."""
    N, C, *rest = x.shape
    return x.reshape(N, g, C // g, *rest).swapaxes(1, 2).reshape(x.shape)


class PixelShuffleFn(Function):
    r"""Rearrange ``r^2`` channels into an r x r block of pixels.

    Notes
    -----
    **Forward**: ``y[.., c, h r + i, w r + j] = x[.., c r^2 + i r + j, h, w]``.
    **Backward**: a permutation, so ``gx = pixel_unshuffle(gy, r)``.
    """

    saves_for_backward = NOTHING

    @staticmethod
    def infer(call):
        """(*, C r^2, H, W) -> (*, C, H r, W r)."""
        x, r = call.inputs
        *lead, c, h, w = x.shape
        return (*lead, c // (r * r), h * r, w * r), x.dtype

    float_only = False

    @staticmethod
    def geometry(call: Call) -> Resample:
        """Nearest upsampling by r of a channel rearrangement: output row o reads row floor(o / r)."""
        r = call.inputs[1]
        return Resample((r, r), 1)

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, r: int) -> np.ndarray:
        ctx.r = r
        return _shuffle(x, r)

    @staticmethod
    def backward(ctx: Function, gy: np.ndarray) -> tuple[np.ndarray]:
        return (_unshuffle(gy, ctx.r),)

    @staticmethod
    def cost(call):
        """The analyzer's protocol: :func:`cost` of the input's shape."""
        return cost(np.shape(call.x), itemsize=call.itemsize)


class PixelUnshuffleFn(Function):
    r"""Rearrange each r x r block of pixels into ``r^2`` channels (inverse of pixel shuffle).

    Notes
    -----
    **Forward**: ``y[.., c r^2 + i r + j, h, w] = x[.., c, h r + i, w r + j]``.
    **Backward**: ``gx = pixel_shuffle(gy, r)``.
    """

    saves_for_backward = NOTHING

    @staticmethod
    def infer(call):
        """(*, C, H r, W r) -> (*, C r^2, H, W)."""
        x, r = call.inputs
        *lead, c, h, w = x.shape
        return (*lead, c * r * r, h // r, w // r), x.dtype

    float_only = False
    cost = staticmethod(PixelShuffleFn.cost)  # the same formula

    @staticmethod
    def geometry(call: Call) -> Window:
        """An r x r window with stride r: output row o reads rows o r .. o r + r - 1."""
        r = call.inputs[1]
        return Window((r, r), (r, r))

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, r: int) -> np.ndarray:
        ctx.r = r
        return _unshuffle(x, r)

    @staticmethod
    def backward(ctx: Function, gy: np.ndarray) -> tuple[np.ndarray]:
        return (_shuffle(gy, ctx.r),)


class ChannelShuffleFn(Function):
    r"""ShuffleNet's channel shuffle with ``g`` groups of ``m = C / g`` channels.

    Notes
    -----
    **Forward**: ``y[:, i g + k] = x[:, k m + i]`` for ``k < g, i < m`` (channels as a (g, m) grid,
    transposed to (m, g)).
    **Backward**: the inverse transpose, i.e. channel shuffle with ``m`` groups:
    ``gx = channel_shuffle(gy, C / g)``.
    """

    saves_for_backward = NOTHING
    infer = staticmethod(same_shape_infer)
    geometry = staticmethod(pointwise)
    float_only = False
    cost = staticmethod(PixelShuffleFn.cost)  # the same formula

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, g: int) -> np.ndarray:
        ctx.g = g
        return _channel_shuffle(x, g)

    @staticmethod
    def backward(ctx: Function, gy: np.ndarray) -> tuple[np.ndarray]:
        return (_channel_shuffle(gy, gy.shape[1] // ctx.g),)


def _check_factor(op: str, name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{op}: {name} must be a positive int, got {v!r}")
    return int(v)


def _check_tensor(op: str, x: Any, min_rank: int, layout: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim < min_rank:
        raise ValueError(f"{op}: expected an input of shape {layout}, got shape {x.shape}")


def pixel_shuffle(x: Tensor, upscale_factor: int) -> Tensor:
    r"""Depth to space: ``(*, C r^2, H, W) -> (*, C, H r, W r)`` (sub-pixel convolution, ESPCN).

    ``y[.., c, h r + i, w r + j] = x[.., c r^2 + i r + j, h, w]``; the gradient is
    :func:`pixel_unshuffle` of ``gy`` (:class:`PixelShuffleFn`). Cost: :func:`cost`.

    References
    ----------
    Shi et al., "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel
    Convolutional Neural Network", CVPR 2016, arXiv:1609.05158.

    Examples
    --------
    >>> import cvprimer as cp, cvprimer.functional as F
    >>> F.pixel_shuffle(cp.zeros(1, 8, 3, 3), 2).shape
    (1, 2, 6, 6)
    """
    op = "pixel_shuffle"
    _check_tensor(op, x, 3, "(*, C * r^2, H, W)")
    r = _check_factor(op, "upscale_factor", upscale_factor)
    if x.shape[-3] % (r * r):
        raise ValueError(f"{op}: channels {x.shape[-3]} of input {x.shape} are not divisible by "
                         f"upscale_factor^2 = {r * r}")
    return PixelShuffleFn.apply(x, r)


def pixel_unshuffle(x: Tensor, downscale_factor: int) -> Tensor:
    r"""Space to depth: ``(*, C, H r, W r) -> (*, C r^2, H, W)``, the inverse of :func:`pixel_shuffle`.

    ``y[.., c r^2 + i r + j, h, w] = x[.., c, h r + i, w r + j]``; the gradient is
    :func:`pixel_shuffle` of ``gy`` (:class:`PixelUnshuffleFn`). Cost: :func:`cost`.

    Examples
    --------
    >>> import cvprimer as cp, cvprimer.functional as F
    >>> F.pixel_unshuffle(cp.zeros(1, 2, 6, 6), 2).shape
    (1, 8, 3, 3)
    """
    op = "pixel_unshuffle"
    _check_tensor(op, x, 3, "(*, C, H * r, W * r)")
    r = _check_factor(op, "downscale_factor", downscale_factor)
    if x.shape[-2] % r or x.shape[-1] % r:
        raise ValueError(f"{op}: spatial size {x.shape[-2:]} of input {x.shape} is not divisible by "
                         f"downscale_factor {r}")
    return PixelUnshuffleFn.apply(x, r)


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    r"""ShuffleNet's channel shuffle of an (N, C, *) input with ``C`` divisible by ``groups``.

    Channels viewed as a (groups, C / groups) grid are transposed and flattened, so the next
    grouped convolution sees channels from every group. ``y[:, i g + k] = x[:, k (C / g) + i]``;
    the gradient is the inverse shuffle (:class:`ChannelShuffleFn`). Cost: :func:`cost`.

    References
    ----------
    Zhang et al., "ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile
    Devices", CVPR 2018, arXiv:1707.01083.

    Examples
    --------
    >>> import cvprimer as cp, cvprimer.functional as F
    >>> F.channel_shuffle(cp.arange(6.0).reshape(1, 6, 1, 1), 2).numpy().ravel().tolist()
    [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    """
    op = "channel_shuffle"
    _check_tensor(op, x, 3, "(N, C, *)")
    g = _check_factor(op, "groups", groups)
    if x.shape[1] % g:
        raise ValueError(f"{op}: channels {x.shape[1]} of input {x.shape} are not divisible by groups {g}")
    return ChannelShuffleFn.apply(x, g)


def cost(x_shape: tuple[int, ...], itemsize: int = 4) -> Cost:
    """Forward cost of any of the three shuffles (a permuted copy): no arithmetic;
    bytes = input read + output written."""
    return Cost(macs=0, flops=0, bytes=2 * math.prod(x_shape) * itemsize)
