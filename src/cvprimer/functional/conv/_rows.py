r"""Stride-1 convolution by shifted GEMMs on a flat padded input (see ``_conv_utils.row_lower``).

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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.functional._conv_utils import nchw_to_nhwc, nhwc_to_nchw, row_lower

# fuse the k_w taps of a kernel row (k_w copies of the input) when C_in/g is below this
FUSE_BELOW = 16


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


def _wtap(w5: np.ndarray, i: int, j: int | None) -> np.ndarray:
    """Weight (g, O/g, C/g, k_h, k_w) -> the (g, K, O/g) matrix of one GEMM; K is (j, c) if fused."""
    if j is None:
        G, Og, Cg, kh, kw = w5.shape
        return w5[:, :, :, i, :].transpose(0, 3, 2, 1).reshape(G, kw * Cg, Og)
    return w5[:, :, :, i, j].transpose(0, 2, 1)


def rows_forward(x: np.ndarray, w: np.ndarray, g: Any) -> tuple[np.ndarray, tuple[np.ndarray, int, int]]:
    """Stride-1 conv: returns (y (N, C_out, H_out, W_out), (R, H_p, W_p) for :func:`rows_grad_weight`).

    The input may be taller/wider than the output needs (extra rows/cols are ignored)."""
    N, C = x.shape[:2]
    G = g.groups
    O = w.shape[0]
    Og, Cg = O // G, C // G
    fused = Cg < FUSE_BELOW and g.k[1] > 1
    R, Hp, Wp = row_lower(x, g.pads, g.k, g.d, G, copies=fused)
    M = N * Hp * Wp
    w5 = w.reshape(G, Og, Cg, g.k[0], g.k[1])
    acc = tmp = None
    for off, i, j in _plan(g, Wp, fused):
        if acc is None:
            acc = np.matmul(_op(R, off, M), _wtap(w5, i, j))  # (G, M, O/g)
            continue
        if tmp is None:
            tmp = np.empty_like(acc)
        np.matmul(_op(R, off, M), _wtap(w5, i, j), out=tmp)
        acc += tmp
    Ho, Wo = g.out
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
    fused = R.shape[2] > 1
    M = N * Hp * Wp
    gyf = np.zeros((N, Hp, Wp, O), gy.dtype)
    nchw_to_nhwc(gyf[:, :Ho, :Wo], gy)
    gyf = gyf.reshape(M, G, Og).transpose(1, 0, 2)  # (G, M, O/g)
    gw = np.empty((G, Og, Cg) + g.k, gy.dtype)
    for off, i, j in _plan(g, Wp, fused):
        gwt = np.matmul(_op(R, off, M).transpose(0, 2, 1), gyf)  # (G, K, O/g)
        if j is None:
            gw[:, :, :, i, :] = gwt.reshape(G, g.k[1], Cg, Og).transpose(0, 3, 2, 1)
        else:
            gw[:, :, :, i, j] = gwt.transpose(0, 2, 1)
    return gw.reshape(w_shape)


def rows_grad_input(gy: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], g: Any) -> np.ndarray:
    """Stride-1 duality: gx = conv(gy, W flipped in space with in/out channels swapped per group,
    padding d (k - 1) - p on each side; a negative value crops)."""
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
    return rows_forward(gy, wf, g2)[0]
