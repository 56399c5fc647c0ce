r"""Strided convolution as a sum of stride-1 convolutions on polyphase sub-images.

With stride s, tap i of output row h reads padded input row ``s h + i d``. Group the taps by
the phase ``a = (i d) mod s``: writing ``i d = a + s q``, tap i reads row ``s (h + q) + a`` of
the padded input, i.e. row ``h + q`` of the phase image ``xp[a :: s]``. Within one phase the
taps are ``i0, i0 + t, i0 + 2t, ...`` (``t = s / gcd(s, d)``) at offsets stepping by
``d / gcd(s, d)``. So, per axis and per phase (both axes: s_h s_w phases at most)::

    y        = sum_phases conv_stride1(xp[:, :, i0 d :: s], W[..., i0 :: t], dilation d / gcd)
    gxp[..., i0 d :: s] = conv_stride1_grad_input(gy, W[..., i0 :: t])     (phases are disjoint)
    gW[..., i0 :: t]    = conv_stride1_grad_weight(phase image, gy)

and each stride-1 piece runs on the shifted GEMMs of ``_rows.py``. Compared with im2col
(k_h k_w copies of the output grid) this copies each phase image once into the flat layout and
never builds the large column matrix; for the adjoint it replaces col2im's k_h k_w strided
scatter-adds by s_h s_w disjoint strided writes (the phases start at distinct residues mod s).
(im2col/col2im stay in ``_lowering`` as the reference lowering; the tests run both.)
"""

from __future__ import annotations

from math import gcd
from typing import Any

import numpy as np

from cvprimer.functional.conv._lowering import pad2d, row_lower
from cvprimer.functional.conv._rows import rows_forward, rows_grad_input, rows_grad_weight


def _axis(k: int, s: int, d: int) -> list[tuple[int, int, int, int]]:
    """Per phase along one axis: (first padded row i0 d, first tap i0, tap step t, sub-kernel size)."""
    t = s // gcd(s, d)
    out = []
    for i0 in range(min(t, k)):
        out.append((i0 * d, i0, t, len(range(i0, k, t))))
    return out


def _phases(g: Any) -> list[tuple[tuple[slice, slice], tuple[slice, slice], Any]]:
    """(input row/col slices, tap slices, stride-1 sub-geometry) for every phase."""
    res = []
    for r0, i0, ti, ki in _axis(g.k[0], g.s[0], g.d[0]):
        for c0, j0, tj, kj in _axis(g.k[1], g.s[1], g.d[1]):
            sub = g._replace(k=(ki, kj), s=(1, 1), d=(g.d[0] // gcd(g.s[0], g.d[0]), g.d[1] // gcd(g.s[1], g.d[1])),
                             pads=(0, 0, 0, 0))
            res.append(((slice(r0, None, g.s[0]), slice(c0, None, g.s[1])),
                        (slice(i0, None, ti), slice(j0, None, tj)), sub))
    return res


def phases_forward(x: np.ndarray, w: np.ndarray, g: Any) -> tuple[np.ndarray, list[Any]]:
    """Strided conv: returns (y, the phases' row copies kept for :func:`phases_grad_weight`)."""
    xp = pad2d(x, g.pads)
    y = None
    saved = []
    for (rs, cs), (ti, tj), sub in _phases(g):
        yi, rows = rows_forward(xp[:, :, rs, cs], np.ascontiguousarray(w[:, :, ti, tj]), sub)
        saved.append(rows)
        if y is None:
            y = yi
        else:
            y += yi
    assert y is not None  # a strided conv has at least one phase
    return y, saved


def phases_grad_weight(saved: list[Any], gy: np.ndarray, w_shape: tuple[int, ...], g: Any) -> np.ndarray:
    gw = np.empty(w_shape, gy.dtype)
    for rows, (_, (ti, tj), sub) in zip(saved, _phases(g), strict=True):
        sub_shape = w_shape[:2] + sub.k
        gw[:, :, ti, tj] = rows_grad_weight(rows, gy, sub_shape, sub)
    return gw


def phases_grad_input(gy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], g: Any) -> np.ndarray:
    N, C, H, W = x_shape
    pt, pb, pl, pr = g.pads
    gxp = np.zeros((N, C, H + pt + pb, W + pl + pr), gy.dtype)
    for (rs, cs), (ti, tj), sub in _phases(g):
        view = gxp[:, :, rs, cs]
        view[...] = rows_grad_input(gy, np.ascontiguousarray(w[:, :, ti, tj]), view.shape, sub)
    if not any(g.pads):
        return gxp
    return np.ascontiguousarray(gxp[:, :, pt:pt + H, pl:pl + W])


def phases_operand(x: np.ndarray, g: Any) -> list[tuple[np.ndarray, int, int]]:
    """Rebuild the saved row copies from x (when they were not kept)."""
    xp = pad2d(x, g.pads)
    out = []
    for (rs, cs), _, sub in _phases(g):
        ph = xp[:, :, rs, cs]
        out.append(row_lower(ph, sub.pads, sub.k, sub.d, sub.groups))  # unfused: either layout works
    return out
