r"""Strided convolution with ``k`` a multiple of ``s`` (and d = 1) as ONE stride-1 convolution
of the space-to-depth image (internal; arrays in, arrays out).

Pad x to ``xp`` (H_p, W_p rounded up to multiples of s) and regroup it by phase into channels::

    xs[n, (c, a, b), h', w'] = xp[n, c, s_h h' + a, s_w w' + b]        (C s_h s_w channels)

Kernel tap ``i = s_h i' + a`` of output row h reads padded row ``s_h h + i = s_h (h + i') + a``,
i.e. row ``h + i'`` of phase a. So with the regrouped kernel (k' = k / s taps per axis)::

    W'[o, (c, a, b), i', j'] = W[o, c, s_h i' + a, s_w j' + b]
    y  = conv_stride1(xs, W')                                   (the same output grid)
    gW = regroup^{-1}(conv_stride1_grad_weight(xs, gy))        (gW' entry-wise equals gW)
    gx = crop(depth_to_space(conv_stride1_grad_input(gy, W')))  (the adjoint of pad+regroup)

Both maps are permutations of entries (plus zero padding), so the forward and the backward
are exactly those of the stride-1 conv on ``_rows.py``'s shifted GEMMs. Compared with the
polyphase split of ``_phases.py`` (s_h s_w convs with C_in input channels each) it lowers
the input once, runs k'_h k'_w GEMMs with an s_h s_w times wider inner dimension
(C_in s_h s_w) instead of k_h k_w thin ones, and builds one output instead of summing s_h s_w.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.functional.conv._rows import rows_forward, rows_grad_input, rows_grad_weight


def s2d_applies(g: Any) -> bool:
    """Undilated, strided, and each kernel axis a multiple of its stride."""
    return (g.d == (1, 1) and g.s != (1, 1) and g.k[0] % g.s[0] == 0 and g.k[1] % g.s[1] == 0)


def _sizes(x_hw: tuple[int, int], g: Any) -> tuple[int, int]:
    """Phase-image size (H', W'): the padded input rounded up to multiples of s, over s."""
    pt, pb, pl, pr = g.pads
    return (-(-(x_hw[0] + pt + pb) // g.s[0]), -(-(x_hw[1] + pl + pr) // g.s[1]))


def _sub(g: Any) -> Any:
    return g._replace(k=(g.k[0] // g.s[0], g.k[1] // g.s[1]), s=(1, 1), pads=(0, 0, 0, 0))


def _phase_slices(H: int, W: int, g: Any) -> list[tuple[int, int, slice, slice, slice, slice]]:
    """Per phase (a, b): where x's rows/cols of that phase sit in xs (row and column slices of
    the phase image) and in x (strided slices), the padding cropped."""
    sh, sw = g.s
    pt, pl = g.pads[0], g.pads[2]
    out = []
    for a in range(sh):
        r0 = (a - pt) % sh  # first row of x in phase a, at phase row (r0 + pt) // sh
        nr, h0 = len(range(r0, H, sh)), (r0 + pt) // sh
        for b in range(sw):
            c0 = (b - pl) % sw
            nc, w0 = len(range(c0, W, sw)), (c0 + pl) // sw
            out.append((a, b, slice(h0, h0 + nr), slice(w0, w0 + nc), slice(r0, None, sh), slice(c0, None, sw)))
    return out


def space_to_depth_rows(x: np.ndarray, g: Any) -> tuple[np.ndarray, int, int, int]:
    """``xs`` above, written straight into ``row_lower``'s flat channels-last layout for the
    stride-1 sub-conv (one strided copy per phase): returns (R, H', W', N) for ``rows_forward``."""
    N, C, H, W = x.shape
    sh, sw = g.s
    Hq, Wq = _sizes((H, W), g)
    sub = _sub(g)
    M = N * Hq * Wq
    Mt = M + (sub.k[0] - 1) * Wq + sub.k[1] - 1  # room for the largest tap offset
    buf = np.zeros((Mt, C * sh * sw), x.dtype)
    img = buf[:M].reshape(N, Hq, Wq, C, sh, sw)
    for c in range(0, C, 8):  # 8 channels at a time (as nchw_to_nhwc): measured ~2x faster here
        for a, b, hs, ws, rs, cs in _phase_slices(H, W, g):
            img[:, hs, ws, c:c + 8, a, b] = x[:, c:c + 8, rs, cs].transpose(0, 2, 3, 1)
    return buf.reshape(Mt, g.groups, 1, -1), Hq, Wq, N


def _wprime(w: np.ndarray, g: Any) -> np.ndarray:
    """``W'`` above: (O, C/g s_h s_w, k_h / s_h, k_w / s_w)."""
    O, Cg, kh, kw = w.shape
    sh, sw = g.s
    w6 = w.reshape(O, Cg, kh // sh, sh, kw // sw, sw).transpose(0, 1, 3, 5, 2, 4)
    return np.ascontiguousarray(w6).reshape(O, Cg * sh * sw, kh // sh, kw // sw)


def s2d_forward(x: np.ndarray, w: np.ndarray, g: Any) -> tuple[np.ndarray, Any]:
    return rows_forward(None, _wprime(w, g), _sub(g), lowered=space_to_depth_rows(x, g))


def s2d_operand(x: np.ndarray, g: Any) -> Any:
    """Rebuild what :func:`s2d_grad_weight` needs from x (when it was not kept)."""
    return space_to_depth_rows(x, g)[:3]


def s2d_grad_weight(saved: Any, gy: np.ndarray, w_shape: tuple[int, ...], g: Any) -> np.ndarray:
    O, Cg, kh, kw = w_shape
    sh, sw = g.s
    sub = _sub(g)
    gw = rows_grad_weight(saved, gy, (O, Cg * sh * sw) + sub.k, sub)  # gW'
    gw6 = gw.reshape(O, Cg, sh, sw, kh // sh, kw // sw).transpose(0, 1, 4, 2, 5, 3)
    return np.ascontiguousarray(gw6).reshape(w_shape)


def s2d_grad_input(gy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], g: Any) -> np.ndarray:
    """gxs = the stride-1 grad-input (channels last), then the adjoint of space_to_depth: each
    phase gathered back into x's strided rows/cols (the padding dropped), one copy per phase."""
    N, C, H, W = x_shape
    sh, sw = g.s
    Hq, Wq = _sizes((H, W), g)
    gs = rows_grad_input(gy, _wprime(w, g), (N, C * sh * sw, Hq, Wq), _sub(g), nhwc=True)
    gs = gs[:, :Hq, :Wq].reshape(N, Hq, Wq, C, sh, sw)  # rows/cols past (H', W') are junk
    gx = np.empty(x_shape, gy.dtype)
    for a, b, hs, ws, rs, cs in _phase_slices(H, W, g):
        gx[:, :, rs, cs] = gs[:, hs, ws, :, a, b].transpose(0, 3, 1, 2)
    return gx
