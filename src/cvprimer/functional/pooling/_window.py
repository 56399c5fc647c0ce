r"""Sliding-window geometry shared by the pooling ops (validation, padding, tap views).

A pooling window of ``k`` taps with stride ``s``, padding ``p`` and dilation ``d`` reads, for
output position ``o`` along one axis, the input positions ``o s - p + t d`` for ``t = 0..k-1``.
Rather than looping over output pixels, the ops loop over the ``k`` taps: tap ``t`` of *every*
window is one strided slice of the padded input,

    xp[t d : t d + (L_out - 1) s + 1 : s]        (length L_out),

so a pool is ``k_h k_w`` (or ``k_h + k_w`` when separable) whole-array NumPy operations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.functional._conv_utils import _pair, out_size


def check_planes(op: str, x: Any) -> tuple[int, ...]:
    """Require a 3-D (C, H, W) or 4-D (N, C, H, W) input; return its shape."""
    shape = tuple(x.shape)
    if len(shape) not in (3, 4):
        raise ValueError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {shape}")
    if 0 in shape:
        raise ValueError(f"{op}: input of shape {shape} is empty")
    return shape


def window_params(op: str, x_shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any,
                  dilation: Any, ceil_mode: bool) -> dict[str, Any]:
    """Validate pooling options and compute the output size (PyTorch's rules).

    Padding may be at most half the kernel, ``p <= k // 2`` (PyTorch's ``pool2d_shape_check``,
    for max pooling too: the dilated extent does not relax it). Returns a dict with the pairs
    ``k, s, p, d`` and ``out = (H_out, W_out)``.
    """
    k = _pair(kernel_size, "kernel_size", op)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else _pair(
        stride, "stride", op)
    p = _pair(padding, "padding", op)
    d = _pair(dilation, "dilation", op)
    if min(k) < 1 or min(s) < 1 or min(d) < 1 or min(p) < 0:
        raise ValueError(
            f"{op}: kernel_size, stride and dilation must be >= 1 and padding >= 0, got kernel_size={k}, "
            f"stride={s}, padding={p}, dilation={d}"
        )
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{op}: padding should be at most half of the kernel size, got padding={p}, "
                         f"kernel_size={k}")
    H, W = x_shape[-2:]
    out = tuple(out_size(op, L, k[a], s[a], p[a], d[a], ceil_mode) for a, L in enumerate((H, W)))
    if min(out) < 1:
        raise ValueError(f"{op}: input of shape {x_shape} gives an empty output {out}")
    return dict(k=k, s=s, p=p, d=d, out=out)


def padded(x3: np.ndarray, p: tuple[int, int], extent: tuple[int, int], fill: float) -> np.ndarray:
    """``x3`` (B, H, W) padded by ``p`` on the top/left and with ``fill`` up to ``extent`` (at least
    ``H + 2 p_h`` by ``W + 2 p_w``) so that windows hanging off the end (ceil_mode) stay in bounds."""
    B, H, W = x3.shape
    Hp = max(extent[0], H + 2 * p[0])
    Wp = max(extent[1], W + 2 * p[1])
    if (Hp, Wp) == (H, W):
        return x3
    xp = np.full((B, Hp, Wp), fill, dtype=x3.dtype)
    xp[:, p[0]:p[0] + H, p[1]:p[1] + W] = x3
    return xp


def extent(g: dict[str, Any]) -> tuple[int, int]:
    """Padded length each axis must have so every tap slice fits: ``(L_out - 1) s + d (k - 1) + 1``."""
    return tuple((g["out"][a] - 1) * g["s"][a] + g["d"][a] * (g["k"][a] - 1) + 1 for a in range(2))


def tap(a: np.ndarray, i: int, j: int, g: dict[str, Any]) -> np.ndarray:
    """Tap (i, j) of every window of the padded (B, Hp, Wp) array: a (B, H_out, W_out) view."""
    (sh, sw), (dh, dw), (Ho, Wo) = g["s"], g["d"], g["out"]
    return a[:, i * dh:i * dh + (Ho - 1) * sh + 1:sh, j * dw:j * dw + (Wo - 1) * sw + 1:sw]
