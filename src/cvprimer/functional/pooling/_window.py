r"""Sliding-window geometry shared by the pooling ops (validation, padding, tap views).

A pooling window of ``k`` taps with stride ``s``, padding ``p`` and dilation ``d`` reads, for
output position ``o`` along one axis, the input positions ``o s - p + t d`` for ``t = 0..k-1``.
Rather than looping over output pixels, the ops loop over the ``k`` taps: tap ``t`` of *every*
window is one strided slice of the padded input,

    xp[t d : t d + (L_out - 1) s + 1 : s]        (length L_out),

so a pool is ``k_h k_w`` (or ``k_h + k_w`` when separable) whole-array NumPy operations.

With a stride > 1 those slices step over memory, which makes every NumPy pass several times
slower than on contiguous rows; :func:`tap_views` therefore first splits the padded input
into its ``s_h s_w`` stride phases ``xp[ph::s_h, pw::s_w]`` (one copy in all), in which every
tap is a plain offset window ``phase[r0 : r0 + H_out, c0 : c0 + W_out]``.
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


def tap_geometry(g: dict[str, Any]) -> list[tuple[int, int, int, int]]:
    """``(pr, pc, r0, c0)`` of each tap (row-major): tap (i, j) reads stride phase
    ``(i d_h mod s_h, j d_w mod s_w)`` from offset ``(i d_h div s_h, j d_w div s_w)``."""
    (kh, kw), (sh, sw), (dh, dw) = g["k"], g["s"], g["d"]
    return [(i * dh % sh, j * dw % sw, i * dh // sh, j * dw // sw) for i in range(kh) for j in range(kw)]


def split_phases(xp: np.ndarray, g: dict[str, Any]) -> np.ndarray:
    """The stride phases of the padded (B, Hp, Wp) array in one (s_h, s_w, B, Hq, Wq) allocation,
    ``P[pr, pc] = xp[:, pr::s_h, pc::s_w]`` (unused phases and ragged tails left unset: no tap
    reads them). A view, without copying, when the stride is 1."""
    sh, sw = g["s"]
    if (sh, sw) == (1, 1):
        return xp[None, None]
    B, Hp, Wp = xp.shape
    P = np.empty((sh, sw, B, -(-Hp // sh), -(-Wp // sw)), dtype=xp.dtype)
    for pr, pc in {(pr, pc) for pr, pc, _, _ in tap_geometry(g)}:
        src = xp[:, pr::sh, pc::sw]
        P[pr, pc, :, :src.shape[1], :src.shape[2]] = src
    return P


def tap_views(P: np.ndarray, g: dict[str, Any]) -> list[np.ndarray]:
    """The ``k_h k_w`` taps of every window, row-major, as (B, H_out, W_out) views into the phases."""
    Ho, Wo = g["out"]
    return [P[pr, pc, :, r0:r0 + Ho, c0:c0 + Wo] for pr, pc, r0, c0 in tap_geometry(g)]
