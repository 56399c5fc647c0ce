r"""Stride-1 convolution by shifted GEMMs on a flat padded input (see ``_lowering.row_lower``).

In the channels-last flat layout (row m = n H_p W_p + h W_p + w), for every kernel tap (i, j)
at row offset ``o_ij = i d_h W_p + j d_w`` and group g::

    Y[m, g, o]       = sum_{i,j} X[m + o_ij, g, c] @ W_ij[g, c, o]
    gW_ij[g, c, o]   = X[m + o_ij, g, c]^T @ gY[m, g, o]                  (sum over m: n, h, w)
    gx               = the same forward with the flipped, channel-swapped kernel on gy
                       padded by d (k - 1) - p (a "full" correlation: stride-1 duality)

(with few input channels per group, the k_w taps of a kernel row are fused into one GEMM on
row copies). ``Y`` is computed at every m (junk where h >= H_out or w >= W_out) and cropped
back to NCHW in one strided copy; ``gY`` is gy scattered to the same rows with zeros at the
junk ones, so they contribute nothing to gW.

Both sums run over blocks of about ``settings.conv_rows_block_bytes`` of rows (all taps of one block, then the
next): the taps of a block read nearly the same input rows (offsets differ by a few image
rows), so the block's operand and its accumulator stay in cache across the k_h k_w GEMMs
instead of every GEMM streaming the whole batch from memory. Measured on the 2-core dev
machine (64x32x32x32 -> 32, 3x3, d 2): forward 28 -> 21 ms, gW 25 -> 19 ms; no change where
the whole problem is only a few blocks (there is no blocking then).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.settings import settings
from cvprimer.functional.conv._lowering import nchw_to_nhwc, nhwc_to_nchw, row_lower

# settings.conv_fuse_below: fuse the k_w taps of a kernel row (k_w copies of the input) when
# C_in/g is below it (16).
# settings.conv_gw_fuse_max (64), gW: with C_in/g up to it, an unfused operand is widened to the k_w row copies first (a
# transient k_w x copy): gW's GEMMs contract over the rows, and k_w C/g instead of C/g output
# rows per GEMM make them less thin (measured, process CPU 1 thread, gW alone, 3 interleaved
# pairs: 64x32x32x32 3x3 d2 48-63 -> 42-54 ms, 64x64x16x16 40-50 -> 32-39 ms, 128x64x8x8 17-25
# -> 16-17 ms; 128x16x32x32 unchanged at 30-37 ms), while for the forward the same copies
# measured no faster at C/g >= 16, so the saved operand stays unfused (x-sized)


def _plan(g: Any, Wp: int, fused: bool) -> list[tuple[int, int, int | None]]:
    """(row offset, kernel row i, kernel column j or None for a fused row) per GEMM."""
    kh, kw = g.k
    if fused:
        return [(i * g.d[0] * Wp, i, None) for i in range(kh)]
    return [(i * g.d[0] * Wp + j * g.d[1], i, j) for i in range(kh) for j in range(kw)]


def _op(R: np.ndarray, off: int, M: int) -> np.ndarray:
    """The (g, M, K) operand view starting at row ``off``."""
    _, G, kc, Cg = R.shape
    return R[off:off + M].reshape(M, G, kc * Cg).transpose(1, 0, 2)


def _block(M: int, K: int, Og: int, G: int, itemsize: int) -> int:
    """Rows per block: about ``settings.conv_rows_block_bytes`` of operand and accumulator rows; one block (no
    blocking) when the whole problem is under 4 blocks (measured: no gain there, a small loss)."""
    B = max(1, settings.conv_rows_block_bytes // ((K + Og) * G * itemsize))
    return M if M < 4 * B else B


def _wtap(w5: np.ndarray, i: int, j: int | None) -> np.ndarray:
    """Weight (g, O/g, C/g, k_h, k_w) -> the (g, K, O/g) matrix of one GEMM; K is (j, c) if fused."""
    if j is None:
        G, Og, Cg, kh, kw = w5.shape
        return w5[:, :, :, i, :].transpose(0, 3, 2, 1).reshape(G, kw * Cg, Og)
    return w5[:, :, :, i, j].transpose(0, 2, 1)


def rows_forward(x: np.ndarray | None, w: np.ndarray, g: Any, lowered: tuple[np.ndarray, int, int, int] | None = None,
                 nhwc: bool = False) -> tuple[np.ndarray, tuple[np.ndarray, int, int]]:
    """Stride-1 conv: returns (y (N, C_out, H_out, W_out), (R, H_p, W_p) for :func:`rows_grad_weight`).

    The input may be taller/wider than the output needs (extra rows/cols are ignored).
    ``lowered`` = (R, H_p, W_p, N), an input already in ``row_lower``'s layout, replaces x;
    with ``nhwc`` y is the uncropped (N, H_p, W_p, C_out) view of the accumulator instead."""
    G = g.groups
    O = w.shape[0]
    if lowered is None:
        assert x is not None, "rows_forward: x or lowered must be given"
        N, C = x.shape[:2]
        fused = C // G < settings.conv_fuse_below and g.k[1] > 1
        R, Hp, Wp = row_lower(x, g.pads, g.k, g.d, G, copies=fused)
    else:
        R, Hp, Wp, N = lowered
        fused = R.shape[2] > 1
    Og, Cg = O // G, R.shape[3]
    M = N * Hp * Wp
    w5 = w.reshape(G, Og, Cg, g.k[0], g.k[1])
    plan = [(off, _wtap(w5, i, j)) for off, i, j in _plan(g, Wp, fused)]
    acc = np.empty((G, M, Og), np.result_type(R, w))
    # all taps of one block of B output rows at a time: the block's input rows (shared by the
    # taps up to a small offset) and its accumulator stay in cache
    B = _block(M, R.shape[2] * Cg, Og, G, acc.itemsize)
    tmp = np.empty((G, min(B, M), Og), acc.dtype)
    for m0 in range(0, M, B):
        b = min(B, M - m0)
        blk, tb = acc[:, m0:m0 + b], tmp[:, :b]
        for t, (off, wt) in enumerate(plan):
            if t == 0:
                np.matmul(_op(R, off + m0, b), wt, out=blk)
            else:
                np.matmul(_op(R, off + m0, b), wt, out=tb)
                blk += tb
    Ho, Wo = g.out
    if nhwc:
        return acc.reshape(G, N, Hp, Wp, Og).transpose(1, 2, 3, 0, 4).reshape(N, Hp, Wp, O), (R, Hp, Wp)
    if G == 1:
        y = nhwc_to_nchw(acc.reshape(N, Hp, Wp, O)[:, :Ho, :Wo])
    else:
        y = np.ascontiguousarray(acc.reshape(G, N, Hp, Wp, Og)[:, :, :Ho, :Wo].transpose(1, 0, 4, 2, 3))
    return y.reshape(N, O, Ho, Wo), (R, Hp, Wp)


def rows_grad_weight(saved: tuple[np.ndarray, int, int], gy: np.ndarray, w_shape: tuple[int, ...],
                     g: Any) -> np.ndarray:
    R, Hp, Wp = saved
    N, O, Ho, Wo = gy.shape
    G = g.groups
    Og, Cg = O // G, R.shape[3]
    M = N * Hp * Wp
    if R.shape[2] == 1 and g.k[1] > 1 and Cg <= settings.conv_gw_fuse_max:
        Mt = M + (g.k[0] - 1) * g.d[0] * Wp  # the rows row_lower's copies would have
        rows = np.empty((Mt, G, g.k[1], Cg), R.dtype)
        for j in range(g.k[1]):
            rows[:, :, j] = R[j * g.d[1]:j * g.d[1] + Mt, :, 0]
        R = rows
    fused = R.shape[2] > 1
    gyf = np.zeros((N, Hp, Wp, O), gy.dtype)
    nchw_to_nhwc(gyf[:, :Ho, :Wo], gy)
    gyf = gyf.reshape(M, G, Og).transpose(1, 0, 2)  # (G, M, O/g)
    gw = np.empty((G, Og, Cg) + g.k, gy.dtype)
    plan = _plan(g, Wp, fused)
    K = R.shape[2] * Cg
    B = _block(M, K, Og, G, gy.itemsize)
    acc = np.zeros((len(plan), G, K, Og), gy.dtype)
    tmp = np.empty((G, K, Og), gy.dtype)
    for m0 in range(0, M, B):  # blocks of rows, as in rows_forward; the sums over m accumulate
        b = min(B, M - m0)
        gyb = gyf[:, m0:m0 + b]
        for t, (off, _, _) in enumerate(plan):
            np.matmul(_op(R, off + m0, b).transpose(0, 2, 1), gyb, out=tmp)
            acc[t] += tmp
    for gwt, (_, i, col) in zip(acc, plan, strict=True):  # (G, K, O/g) each
        if col is None:
            gw[:, :, :, i, :] = gwt.reshape(G, g.k[1], Cg, Og).transpose(0, 3, 2, 1)
        else:
            gw[:, :, :, i, col] = gwt.transpose(0, 2, 1)
    return gw.reshape(w_shape)


def rows_grad_input(gy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], g: Any, nhwc: bool = False) -> np.ndarray:
    """Stride-1 duality: gx = conv(gy, W flipped in space with in/out channels swapped per group,
    padding d (k - 1) - p on each side; a negative value crops). With ``nhwc``: as rows_forward's."""
    N, C, H, W = x_shape
    G = g.groups
    Og, Cg = w.shape[0] // G, C // G
    kh, kw = g.k
    wf = w.reshape(G, Og, Cg, kh, kw).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1].reshape(C, Og, kh, kw)
    eh, ew = g.d[0] * (kh - 1), g.d[1] * (kw - 1)
    pt, pl = g.pads[0], g.pads[2]
    # top/left: d (k - 1) - p; bottom/right: whatever makes the output exactly (H, W) (that is
    # d (k - 1) - p too, plus output_padding when conv_transpose2d asks for a larger size)
    Ho, Wo = g.out
    g2 = g._replace(pads=(eh - pt, H - Ho + pt, ew - pl, W - Wo + pl), out=(H, W))
    return rows_forward(gy, wf, g2, nhwc=nhwc)[0]
