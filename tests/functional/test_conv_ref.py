"""Naive Python-loop references for the conv family (slow, obviously right, tiny inputs only),
imported by the other conv tests, and checked here on cases small enough to do by hand."""

import numpy as np


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def same_pads(k, d):
    """PyTorch's split of padding='same': total d (k - 1), total // 2 before, the rest after."""
    out = []
    for kk, dd in zip(k, d, strict=True):
        t = dd * (kk - 1)
        out += [t // 2, t - t // 2]
    return tuple(out)


def naive_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, o, h, w] = b[o] + sum_{c in group(o), i, j} W[o, c, i, j] xp[n, c, h s + i d, w s + j d]."""
    s, d = pair(stride), pair(dilation)
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    if padding == "same":
        pt, pb, pl, pr = same_pads((kh, kw), d)
    elif padding == "valid":
        pt = pb = pl = pr = 0
    else:
        (pt, pl) = pair(padding)
        pb, pr = pt, pl
    xp = np.zeros((N, C, H + pt + pb, W + pl + pr), x.dtype)
    xp[:, :, pt:pt + H, pl:pl + W] = x
    Ho = (H + pt + pb - d[0] * (kh - 1) - 1) // s[0] + 1
    Wo = (W + pl + pr - d[1] * (kw - 1) - 1) // s[1] + 1
    Og = O // groups
    y = np.zeros((N, O, Ho, Wo), x.dtype)
    for n in range(N):
        for o in range(O):
            g = o // Og
            for h in range(Ho):
                for v in range(Wo):
                    acc = 0.0 if b is None else b[o]
                    for c in range(Cg):
                        for i in range(kh):
                            for j in range(kw):
                                acc += w[o, c, i, j] * xp[n, g * Cg + c, h * s[0] + i * d[0], v * s[1] + j * d[1]]
                    y[n, o, h, v] = acc
    return y


def naive_conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Scatter definition: y_full[n, o, h s + i d, w s + j d] += W[c, o', i, j] x[n, c, h, w],
    then crop ``padding`` from each side (output_padding extends bottom/right)."""
    s, p, op, d = pair(stride), pair(padding), pair(output_padding), pair(dilation)
    N, C, H, W = x.shape
    _, Og, kh, kw = w.shape
    Cg = C // groups
    Ho = (H - 1) * s[0] - 2 * p[0] + d[0] * (kh - 1) + op[0] + 1
    Wo = (W - 1) * s[1] - 2 * p[1] + d[1] * (kw - 1) + op[1] + 1
    full = np.zeros((N, Og * groups, Ho + 2 * p[0], Wo + 2 * p[1]), x.dtype)
    for n in range(N):
        for c in range(C):
            g = c // Cg
            for h in range(H):
                for v in range(W):
                    for o in range(Og):
                        for i in range(kh):
                            for j in range(kw):
                                r, q = h * s[0] + i * d[0], v * s[1] + j * d[1]
                                if r < full.shape[2] and q < full.shape[3]:
                                    full[n, g * Og + o, r, q] += w[c, o, i, j] * x[n, c, h, v]
    y = full[:, :, p[0]:p[0] + Ho, p[1]:p[1] + Wo]
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y


def test_naive_conv2d_hand_case():
    # a 2x2 box filter on 0..8: each output is the sum of its window, computed here by hand
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    y = naive_conv2d(x, np.ones((1, 1, 2, 2)))
    assert y[0, 0].tolist() == [[0 + 1 + 3 + 4, 1 + 2 + 4 + 5], [3 + 4 + 6 + 7, 4 + 5 + 7 + 8]]


def test_naive_conv_transpose2d_hand_case():
    # stride 2 scatters each pixel's copy of the 2x2 kernel into its own block
    x = np.array([[[[1.0, 2.0]]]])
    y = naive_conv_transpose2d(x, np.array([[[[1.0, 10.0], [100.0, 1000.0]]]]), stride=2)
    assert y[0, 0].tolist() == [[1, 10, 2, 20], [100, 1000, 200, 2000]]
