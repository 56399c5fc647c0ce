r"""Lowerings of convolution to matrix products (conv-only helpers; arrays in, arrays out).

``im2col``/``col2im`` (the classic one: a column matrix, one GEMM; the reference path) and the
flat channels-last layout of ``row_lower`` in which every stride-1 kernel tap is a constant row
offset (the fast path: GEMMs on views, no column matrix); ``pad2d`` and ``flat_pad`` zero-pad.
"""

from __future__ import annotations

import numpy as np

from cvprimer.core.settings import settings

# ---------------------------------------------------------------------------------------------
# Lowering of convolution to one matrix product (im2col / col2im)
# ---------------------------------------------------------------------------------------------
#
# A 2-D convolution (cross-correlation, as in deep learning) with weight W of shape
# (C_out, C_in/g, k_h, k_w) computes, for every image n and output pixel (h, w),
#
#     y[n, o, h, w] = sum_{c, i, j} W[o, c, i, j] * xp[n, c, h s_h + i d_h, w s_w + j d_w]
#
# where xp is the zero-padded input. Gathering the k_h k_w shifted, strided views of xp into a
# "column" tensor cols[n, c, i, j, h, w] turns the sum into ONE matrix product per image (and
# group):  y[n] = W.reshape(C_out, C_in k_h k_w) @ cols[n].reshape(C_in k_h k_w, H_out W_out).
# The layout (N, C, k_h, k_w, H_out, W_out) is chosen so that the product's result is already
# NCHW (no transpose of the output) and the weight needs only a free reshape. ``im2col`` fills
# it with one strided slice copy per kernel tap (k_h k_w copies of a whole tensor, never a
# Python loop over pixels); ``col2im`` is its adjoint: it scatters columns back by adding tap by
# tap into the padded image (overlapping windows accumulate; no ``np.add.at``).


def pad2d(x: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    """Zero-pad the last two axes of ``x`` by ``(top, bottom, left, right)`` (no copy if all 0)."""
    pt, pb, pl, pr = pads
    if not (pt or pb or pl or pr):
        return x
    H, W = x.shape[-2:]
    xp = np.zeros(x.shape[:-2] + (H + pt + pb, W + pl + pr), x.dtype)
    xp[..., pt:pt + H, pl:pl + W] = x
    return xp


def flat_pad(x: np.ndarray, pads: tuple[int, int, int, int], tail: int) -> tuple[np.ndarray, int, int]:
    """``x`` (..., H, W) zero-padded by ``(top, bottom, left, right)`` (a negative pad crops), each
    image stored row-major in a flat last axis of length H_p W_p + ``tail`` (the tail is zeros).

    In this layout kernel tap (i, j) of a stride-1 window is the constant offset i d_h W_p + j d_w.
    Returns (buffer, H_p, W_p).
    """
    H, W = x.shape[-2:]
    pt, pb, pl, pr = pads
    Hp, Wp = H + pt + pb, W + pl + pr
    buf = np.zeros(x.shape[:-2] + (Hp * Wp + tail,), x.dtype)
    img = buf[..., :Hp * Wp].reshape(x.shape[:-2] + (Hp, Wp))
    t, b, l, r = (max(-v, 0) for v in pads)
    img[..., max(pt, 0):max(pt, 0) + H - t - b, max(pl, 0):max(pl, 0) + W - l - r] = x[..., t:H - b, l:W - r]
    return buf, Hp, Wp


def _tap(i: int, d: int, s: int, n: int) -> slice:
    """Rows touched by kernel tap ``i``: start ``i d``, ``n`` steps of ``s``."""
    return slice(i * d, i * d + s * (n - 1) + 1, s)


def im2col(xp: np.ndarray, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int],
           out_hw: tuple[int, int]) -> np.ndarray:
    """Columns ``cols[n, c, i, j, h, w] = xp[n, c, h s_h + i d_h, w s_w + j d_w]``.

    ``xp``: padded input (N, C, H_p, W_p). Returns (N, C, k_h, k_w, H_out, W_out), contiguous,
    so ``cols.reshape(N, C k_h k_w, H_out W_out)`` is free. One slice copy per kernel tap.
    """
    N, C = xp.shape[:2]
    Ho, Wo = out_hw
    cols = np.empty((N, C, k[0], k[1], Ho, Wo), xp.dtype)
    for i in range(k[0]):
        rows = _tap(i, d[0], s[0], Ho)
        for j in range(k[1]):
            cols[:, :, i, j] = xp[:, :, rows, _tap(j, d[1], s[1], Wo)]
    return cols


def col2im(cols: np.ndarray, padded_hw: tuple[int, int], s: tuple[int, int],
           d: tuple[int, int]) -> np.ndarray:
    """Adjoint of :func:`im2col`: ``xp[n, c, h s_h + i d_h, w s_w + j d_w] += cols[n, c, i, j, h, w]``.

    ``cols``: (N, C, k_h, k_w, H_out, W_out). Returns the padded image (N, C, H_p, W_p);
    overlapping windows are accumulated with one slice-add per kernel tap.
    """
    N, C, kh, kw, Ho, Wo = cols.shape
    xp = np.zeros((N, C) + tuple(padded_hw), cols.dtype)
    for i in range(kh):
        rows = _tap(i, d[0], s[0], Ho)
        for j in range(kw):
            xp[:, :, rows, _tap(j, d[1], s[1], Wo)] += cols[:, :, i, j]
    return xp


# ---------------------------------------------------------------------------------------------
# Shifted-GEMM lowering (stride 1): no column matrix at all
# ---------------------------------------------------------------------------------------------
#
# With stride 1, store the padded images position-major with channels last, in one flat matrix
# for the whole batch: X[n H_p W_p + r W_p + col, c] = xp[n, c, r, col]. Output pixel (n, h, w) is
# computed at row m = n H_p W_p + h W_p + w; kernel tap (i, j) reads row m + i d_h W_p + j d_w of
# X: a constant offset, which never leaves image n for a real output pixel (rows with
# h >= H_out or w >= W_out are junk, cropped at the end: a few % of extra work). So tap (i, j)
# is the (M, C) matrix *view* X[o_ij : o_ij + M] (M = N H_p W_p), read by BLAS in place: the
# conv is k_h k_w tall GEMMs ``view @ W[:, :, i, j]^T`` over the whole batch, summed.
# When C/g is small (few input channels, e.g. RGB) those GEMMs are too thin, so ``row_lower``
# can also lay k_w shifted copies side by side, R[m, g, j, c] = X[m + j d_w, g C/g + c], making
# one (M, k_w C/g) operand per kernel row (k_h GEMMs, k_w copies).


def nchw_to_nhwc(dst: np.ndarray, src: np.ndarray) -> None:
    """``dst[n, h, w, c] = src[n, c, h, w]`` (dst a (N, H, W, C) view). Large images are copied
    8 channels at a time: the reads then stream 8 planes in order instead of striding over C."""
    C = src.shape[1]
    if C > 8 and src.shape[2] * src.shape[3] >= 512:
        for c in range(0, C, 8):
            dst[..., c:c + 8] = src[:, c:c + 8].transpose(0, 2, 3, 1)
    else:
        dst[...] = src.transpose(0, 2, 3, 1)


def nhwc_to_nchw(src: np.ndarray) -> np.ndarray:
    """A contiguous (N, C, H, W) copy of the (N, H, W, C) view ``src`` (blocked like
    :func:`nchw_to_nhwc`)."""
    N, H, W, C = src.shape
    if C > 8 and H * W >= 512:
        out = np.empty((N, C, H, W), src.dtype)
        for c in range(0, C, 8):
            out[:, c:c + 8] = src[..., c:c + 8].transpose(0, 3, 1, 2)
        return out
    return np.ascontiguousarray(src.transpose(0, 3, 1, 2))


def row_lower(x: np.ndarray, pads: tuple[int, int, int, int], k: tuple[int, int], d: tuple[int, int],
              groups: int = 1, copies: bool = False) -> tuple[np.ndarray, int, int]:
    """The channels-last flat padded input, as (M_t, g, 1, C/g) (a view of X) or, with
    ``copies``, the row copies R (M_t, g, k_w, C/g) described above; rows past the images are 0.

    ``x``: (N, C, H, W); ``pads`` = (top, bottom, left, right), a negative pad crops. Returns
    (R, H_p, W_p), the frame of one image in the flat layout; M_t leaves room for the largest
    tap offset. With non-negative pads the zero borders are shared (settings.conv_shared_padding): image rows
    are W + max(left, right) apart, not W + left + right (a row's right padding is the next
    row's left padding), and images H + max(top, bottom) rows apart, so H_p, W_p are smaller
    (never below the output size H + top + bottom - d (k - 1)) and so is the junk computed at
    the frame's right/bottom borders; the first image starts after top W_p + left zeros.
    """
    N, C, H, W = x.shape
    pt, pb, pl, pr = pads
    if settings.conv_shared_padding and min(pads) >= 0:
        Hp = max(H + max(pt, pb), H + pt + pb - d[0] * (k[0] - 1))
        Wp = max(W + max(pl, pr), W + pl + pr - d[1] * (k[1] - 1))
        lead = pt * Wp + pl
    else:
        Hp, Wp, lead = H + pt + pb, W + pl + pr, 0
    M = N * Hp * Wp
    Mt = M + (k[0] - 1) * d[0] * Wp  # room for the last kernel row's offset
    tail = (k[1] - 1) * d[1]
    buf = np.zeros((max(Mt + tail, lead + M), C), x.dtype)
    if lead:
        img = buf[lead:lead + M].reshape(N, Hp, Wp, C)
        nchw_to_nhwc(img[:, :H, :W], x)
    else:
        img = buf[:M].reshape(N, Hp, Wp, C)
        t, b, l, r = (max(-v, 0) for v in pads)  # rows/cols of x cropped away by negative pads
        nchw_to_nhwc(img[:, max(pt, 0):max(pt, 0) + H - t - b, max(pl, 0):max(pl, 0) + W - l - r],
                     x[:, :, t:H - b, l:W - r])
    Cg = C // groups
    if not copies or k[1] == 1:
        return buf.reshape(len(buf), groups, 1, Cg), Hp, Wp
    rows = np.empty((Mt, groups, k[1], Cg), x.dtype)
    for j in range(k[1]):
        rows[:, :, j] = buf[j * d[1]:j * d[1] + Mt].reshape(Mt, groups, Cg)
    return rows, Hp, Wp
