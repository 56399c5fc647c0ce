r"""Separable resampling: ``y = A_h x A_w^T`` per (H, W) plane, with small dense 1-D operators.

Bilinear interpolation, nearest-neighbour selection and adaptive average pooling all act on
rows and columns independently, so each is two small matrices: ``A_h`` (H_out, H) and
``A_w`` (W_out, W), every row holding the weights that one output sample gives the input
samples. Forward is ``A_h @ x @ A_w^T`` and, the op being linear, backward is the transpose
``A_h^T @ gy @ A_w``: two matrix products each way, which NumPy's BLAS does far faster than a
gather/scatter-add of individual weights.

The 1-D operators follow PyTorch's source-index conventions exactly (``aten/src/ATen/native/
UpSample.h``), including its computations in the input's precision (float32 weights for a
float32 input) and the float32 scale of ``nearest``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.core.geometry import Global, Resample, Window, axis_rows


def separable(x3: np.ndarray, Ah: np.ndarray, Aw: np.ndarray) -> np.ndarray:
    """``Ah @ x3[b] @ Aw.T`` for every plane b of ``x3`` (B, H, W) -> (B, H_out, W_out)."""
    B, H, W = x3.shape
    t = np.matmul(Ah, x3)  # (B, H_out, W): one BLAS call per plane, batched by NumPy
    return (t.reshape(-1, W) @ Aw.T).reshape(B, Ah.shape[0], Aw.shape[0])


def source_scale(n_in: int, n_out: int, scale: float | None, dtype: np.dtype) -> np.floating:
    """PyTorch's ``compute_scales_value``: ``1 / scale_factor`` when a scale factor was given,
    else ``n_in / n_out``, in ``dtype``."""
    if scale is not None and scale > 0:
        return dtype.type(1.0 / scale)
    return dtype.type(n_in) / dtype.type(n_out)


def nearest_index(n_in: int, n_out: int, scale: float | None, shortcuts: bool = True) -> np.ndarray:
    """Source index of each output sample for mode ``"nearest"`` (PyTorch's legacy rule):
    ``src = min(floor(dst * s), n_in - 1)`` with the float32 ``s`` of :func:`source_scale`;
    with ``shortcuts`` (PyTorch's 2-D kernel; its 1-D and 3-D kernels have none, so a scale factor that
    is not exactly 1 or 2 can give another answer there) the identity when ``n_out == n_in`` and
    ``dst // 2`` when ``n_out == 2 n_in``."""
    dst = np.arange(n_out)
    if shortcuts and n_out == n_in:
        return dst
    if shortcuts and n_out == 2 * n_in:
        return dst >> 1
    s = source_scale(n_in, n_out, scale, np.dtype(np.float32))
    return np.minimum(np.floor(dst.astype(np.float32) * s).astype(np.int64), n_in - 1)


def nearest_exact_index(n_in: int, n_out: int, scale: float | None) -> np.ndarray:
    """Source index of each output sample for mode ``"nearest-exact"`` (PyTorch's pixel-centre rule, as
    Pillow and scikit-image): ``src = min(floor((dst + 1/2) s), n_in - 1)``, the product taken in float64
    from the float32 ``s`` of :func:`source_scale` and rounded to float32 before the floor, as PyTorch's
    ``floorf((dst + 0.5) * scale)``; no shortcut for ``n_out == 2 n_in`` (there it gives ``dst // 2`` too)."""
    s = source_scale(n_in, n_out, scale, np.dtype(np.float32))
    src = ((np.arange(n_out) + 0.5) * np.float64(s)).astype(np.float32)
    return np.minimum(np.floor(src).astype(np.int64), n_in - 1)


def one_hot(index: np.ndarray, n_in: int, dtype: np.dtype) -> np.ndarray:
    """The selection matrix S (n_out, n_in) with ``S[o, index[o]] = 1``."""
    S = np.zeros((index.size, n_in), dtype=dtype)
    S[np.arange(index.size), index] = 1
    return S


def linear_matrix(n_in: int, n_out: int, align_corners: bool, scale: float | None,
                  dtype: np.dtype) -> np.ndarray:
    r"""1-D linear interpolation operator A (n_out, n_in), PyTorch's conventions.

    Source coordinate of output ``o`` (computed in ``dtype``):
    ``align_corners``: ``src = o (n_in - 1) / (n_out - 1)`` (0 when ``n_out == 1``);
    otherwise ``src = max(s (o + 1/2) - 1/2, 0)`` with ``s`` from :func:`source_scale` (rounded
    once, as the fused multiply-add of PyTorch's compiled kernel).
    Then ``i0 = min(floor(src), n_in - 1)``, ``i1 = i0 + 1`` (``i0`` at the last sample),
    ``l1 = clip(src - i0, 0, 1)``, ``A[o, i0] += 1 - l1``, ``A[o, i1] += l1``.
    ``n_out == n_in`` is the identity (whatever the scale factor), as in PyTorch.
    """
    dtype = np.dtype(dtype)
    if n_out == n_in:
        return np.eye(n_in, dtype=dtype)
    o = np.arange(n_out).astype(dtype)
    if align_corners:
        s = dtype.type(n_in - 1) / dtype.type(n_out - 1) if n_out > 1 else dtype.type(0)
        src = s * o
    else:
        s = source_scale(n_in, n_out, scale, dtype)
        # PyTorch's compiled kernel evaluates s (o + 1/2) - 1/2 as one fused multiply-add (a single
        # rounding); a wider type makes the product exact here, so one cast rounds the same way
        wide: Any = np.float64 if dtype == np.float32 else np.longdouble  # (Any: NumPy's stubs cannot add the union)
        src = (wide(s) * (o.astype(wide) + wide(0.5)) - wide(0.5)).astype(dtype)
        src = np.maximum(src, dtype.type(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    l1 = np.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
    i1 = np.where(i0 < n_in - 1, i0 + 1, i0)
    A = np.zeros((n_out, n_in), dtype=dtype)
    rows = np.arange(n_out)
    np.add.at(A, (rows, i0), 1 - l1)
    np.add.at(A, (rows, i1), l1)
    return A


def adaptive_avg_matrix(n_in: int, n_out: int, dtype: np.dtype) -> np.ndarray:
    """1-D adaptive average operator A (n_out, n_in): bin o averages the input samples
    ``[floor(o n_in / n_out), ceil((o + 1) n_in / n_out))`` (PyTorch's bins; they overlap
    when n_out does not divide n_in)."""
    o = np.arange(n_out)
    start = (o * n_in) // n_out
    end = -((-(o + 1) * n_in) // n_out)
    pos = np.arange(n_in)
    inside = (pos[None, :] >= start[:, None]) & (pos[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def cubic_weights(t: np.ndarray, a: float = -0.75) -> np.ndarray:
    r"""Keys' cubic convolution weights of the 4 taps at offsets -1, 0, 1, 2 for fractions ``t``
    (shape (n,) -> (n, 4)), with ``a = -0.75`` as PyTorch (OpenCV's choice):
    ``w(d) = (a+2)|d|^3 - (a+3)|d|^2 + 1`` for ``|d| <= 1``,
    ``w(d) = a|d|^3 - 5a|d|^2 + 8a|d| - 4a`` for ``1 < |d| < 2``, 0 beyond; the taps sit at
    distances ``t + 1, t, 1 - t, 2 - t``. The four weights sum to 1 for every t."""
    t = np.asarray(t)
    a = t.dtype.type(a)

    def near(d: np.ndarray) -> np.ndarray:  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d: np.ndarray) -> np.ndarray:  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    one = t.dtype.type(1)
    return np.stack([far(t + one), near(t), near(one - t), far(2 * one - t)], axis=-1)


def cubic_matrix(n_in: int, n_out: int, align_corners: bool, scale: float | None,
                 dtype: np.dtype) -> np.ndarray:
    r"""1-D bicubic operator A (n_out, n_in), PyTorch's ``upsample_bicubic2d`` conventions.

    Source coordinate of output ``o`` (in ``dtype``): ``align_corners``:
    ``src = o (n_in - 1) / (n_out - 1)`` (0 when ``n_out == 1``); otherwise
    ``src = s (o + 1/2) - 1/2`` with ``s`` from :func:`source_scale` and, unlike the linear
    rule, *no* clamp at 0. Then ``i = floor(src)``, ``t = src - i`` and the four taps
    ``i - 1 .. i + 2`` (indices clamped into ``[0, n_in - 1]``, i.e. the border is replicated)
    get :func:`cubic_weights` ``(t)``; taps that clamp onto the same sample add up.
    """
    dtype = np.dtype(dtype)
    o = np.arange(n_out).astype(dtype)
    if align_corners:
        s = dtype.type(n_in - 1) / dtype.type(n_out - 1) if n_out > 1 else dtype.type(0)
        src = s * o
    else:
        s = source_scale(n_in, n_out, scale, dtype)
        wide: Any = np.float64 if dtype == np.float32 else np.longdouble  # one rounding, as a fused multiply-add
        src = (wide(s) * (o.astype(wide) + wide(0.5)) - wide(0.5)).astype(dtype)
    i0 = np.floor(src).astype(np.int64)
    t = (src - i0.astype(dtype)).astype(dtype)
    w = cubic_weights(t).astype(dtype)
    idx = np.clip(i0[:, None] + np.arange(-1, 3)[None, :], 0, n_in - 1)
    A = np.zeros((n_out, n_in), dtype=dtype)
    np.add.at(A, (np.repeat(np.arange(n_out), 4), idx.ravel()), w.ravel())
    return A


def resample_matrix(mode: str, n_in: int, n_out: int, align_corners: bool, scale: float | None,
                    dtype: np.dtype) -> np.ndarray:
    """The dense 1-D operator (n_out, n_in) of ``interpolate``'s ``mode`` along one axis (for the
    analyzer's region and receptive-field rules, and anyone who wants the weights)."""
    dtype = np.dtype(dtype)
    if mode == "nearest":
        return one_hot(nearest_index(n_in, n_out, scale), n_in, dtype)
    if mode == "nearest-exact":
        return one_hot(nearest_exact_index(n_in, n_out, scale), n_in, dtype)
    if mode in ("bilinear", "linear", "trilinear"):
        return linear_matrix(n_in, n_out, align_corners, scale, dtype)
    if mode == "bicubic":
        return cubic_matrix(n_in, n_out, align_corners, scale, dtype)
    if mode == "area":
        return adaptive_avg_matrix(n_in, n_out, dtype)
    raise ValueError(f"resample_matrix: unknown mode {mode!r}")


def bins_geometry(in_hw: tuple[int, int], out_hw: tuple[int, int]) -> Window | Global:
    r"""The geometry of adaptive average pooling (``area`` resampling): global for a 1 x 1 output, else a
    window of the largest bin ``ceil(L_in / L_out)`` sliding by ``L_in / L_out`` (exact when ``L_out``
    divides ``L_in``); the exact rows of every bin come from :func:`adaptive_avg_matrix`."""
    (H, W), (Ho, Wo) = tuple(in_hw), tuple(out_hw)
    if (Ho, Wo) == (1, 1):
        return Global(note="global pooling")
    exact = H % Ho == 0 and W % Wo == 0
    lengths = ((H, Ho), (W, Wo))
    return Window((math.ceil(H / Ho), math.ceil(W / Wo)), (H / Ho, W / Wo),
                  note="" if exact else "adaptive bins of unequal size: largest bin shown",
                  reads=axis_rows(lambda a: adaptive_avg_matrix(*lengths[a], np.dtype(np.float64))))


def resample_geometry(mode: str, in_hw: tuple[int, int], out_hw: tuple[int, int], align_corners: bool,
                      scales: tuple[float | None, float | None]) -> Resample | Window | Global:
    """The geometry of ``interpolate``'s ``mode``: nearest reads one sample, bilinear two, bicubic four
    (taps), around ``c = (o + 1/2) / scale - 1/2``; ``area`` is adaptive pooling (:func:`bins_geometry`).
    The exact rows come from the mode's own 1-D operator (:func:`resample_matrix`)."""
    if mode == "area":
        return bins_geometry(in_hw, out_hw)
    lengths = ((in_hw[0], out_hw[0]), (in_hw[1], out_hw[1]))
    taps = {"nearest": 1, "nearest-exact": 1, "bilinear": 2, "bicubic": 4}[mode]
    return Resample((out_hw[0] / in_hw[0], out_hw[1] / in_hw[1]), taps, bool(align_corners) and taps > 1,
                    lengths, reads=axis_rows(lambda a: resample_matrix(mode, *lengths[a], bool(align_corners),
                                                                       scales[a], np.dtype(np.float64))))
