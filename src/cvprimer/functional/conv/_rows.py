r"""Stride-1 convolution by row lowering (see ``_conv_utils.row_lower``): k_h GEMMs on views.

In the CN layout (flat position m = n H_p W_p + h W_p + w), for kernel row i (offset
``o_i = i d_h W_p``)::

    y_f[g, o, m]        = sum_i W_i[g, o, (c, j)] @ rows[g, (c, j), m + o_i]
    gW_i[g, o, (c, j)]  = gy_f[g, o, m] @ rows[g, (c, j), m + o_i]^T         (sum over m: n, h, w)
    gx                  = the same forward with the flipped, channel-swapped kernel on gy
                          padded by d (k - 1) - p (a "full" correlation: stride-1 duality)

``y_f`` is computed at every m (junk where h >= H_out or w >= W_out) and cropped back to NCHW in
one strided copy; ``gy_f`` is gy scattered to the same positions with zeros at the junk ones,
so they contribute nothing to gW.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.functional._conv_utils import row_lower


def _to_nchw(yf: np.ndarray, N: int, Hp: int, Wp: int, out: tuple[int, int]) -> np.ndarray:
    C = yf.shape[0] * yf.shape[1]
    y = yf.reshape(C, N, Hp, Wp)[:, :, :out[0], :out[1]]
    return np.ascontiguousarray(y.transpose(1, 0, 2, 3))


def rows_forward(x: np.ndarray, w: np.ndarray, g: Any) -> tuple[np.ndarray, np.ndarray]:
    """Stride-1 conv: returns (y (N, C_out, H_out, W_out), rows kept for :func:`rows_grad_weight`)."""
    N, C = x.shape[:2]
    G = g.groups
    Og, Cg = w.shape[0] // G, C // G
    kh, kw = g.k
    rows, Hp, Wp = row_lower(x, g.pads, g.k, g.d)
    r = rows.reshape(G, Cg * kw, rows.shape[-1])
    M = N * Hp * Wp
    # W[o, c, i, j] -> W_i[g, o, (c, j)], one small copy
    wr = w.reshape(G, Og, Cg, kh, kw).transpose(3, 0, 1, 2, 4).reshape(kh, G, Og, Cg * kw)
    acc = np.matmul(wr[0], r[..., :M])  # (G, O/g, M)
    if kh > 1:
        tmp = np.empty_like(acc)
        for i in range(1, kh):
            off = i * g.d[0] * Wp
            np.matmul(wr[i], r[..., off:off + M], out=tmp)
            acc += tmp
    return _to_nchw(acc, N, Hp, Wp, g.out), rows


def rows_grad_weight(rows: np.ndarray, gy: np.ndarray, w_shape: tuple[int, ...], g: Any) -> np.ndarray:
    N, O, Ho, Wo = gy.shape
    C = rows.shape[0]
    G = g.groups
    Og, Cg = O // G, C // G
    kh, kw = g.k
    Hp = Ho + g.d[0] * (kh - 1)
    Wp = Wo + g.d[1] * (kw - 1)
    M = N * Hp * Wp
    gyf = np.zeros((O, N, Hp, Wp), gy.dtype)
    gyf[:, :, :Ho, :Wo] = gy.transpose(1, 0, 2, 3)
    gyf = gyf.reshape(G, Og, M)
    r = rows.reshape(G, Cg * kw, rows.shape[-1])
    gw = np.empty((G, Og, Cg, kh, kw), gy.dtype)
    for i in range(kh):
        off = i * g.d[0] * Wp
        gwi = np.matmul(gyf, r[..., off:off + M].swapaxes(-1, -2))  # (G, O/g, C/g k_w)
        gw[:, :, :, i, :] = gwi.reshape(G, Og, Cg, kw)
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
    return rows_forward(gy, np.ascontiguousarray(wf), g2)[0]
