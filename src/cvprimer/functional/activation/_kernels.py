r"""Compiled elementwise kernels (numba, :mod:`cvprimer.core.jit`) for exact GELU, SiLU and softmax;
the NumPy code of :mod:`.smooth` and :mod:`.softmax` stays the reference the tests compare against.

float64 arrays go through the C library's ``erfc``/``exp`` one element at a time (the reference's
accuracy). float32 arrays are computed in float32 with branch-free formulas that LLVM turns into
8-wide SIMD loops (a libm call would keep the loop scalar; PyTorch also computes these in float32):

* ``exp(t)`` for ``t <= 0`` (:func:`_expf`, Cephes ``expf``): ``t = k ln 2 + r`` with
  ``k = floor(t / ln 2 + 1/2)``, ``|r| <= ln(2)/2`` (ln 2 split in two parts so ``r`` is exact),
  ``e^r = 1 + r + r^2 P(r)`` (degree-5 P, 1.1e-9 relative), and ``2^k`` built from its exponent bits.
  Below -87.3 (where ``2^k`` would leave the normal range) it returns 0: such values are below
  1.2e-38 and are added to or multiplied by numbers of order one.
* ``erfc(a)`` for ``a >= 0`` (:func:`_erfc_tail`): ``erfc(a) = t e^{-a^2} R(t)`` with
  ``t = 1 / (1 + a/2)`` in (0, 1] and R a degree-10 polynomial, fitted here by iteratively reweighted
  least squares to ``erfc(a) e^{a^2} / t`` on Chebyshev nodes in t; max relative error 1.1e-8 against
  ``math.erfc`` over [0, 26] (the tests check the kernels' results). The same ``e^{-a^2}`` is GELU's
  normal density, so the backward pays for one exponential. The remaining error is that of
  ``a^2`` rounded to float32 inside the exponential: about ``a^2 * 6e-8`` relative (3e-6 at x = -10,
  where GELU is -8e-23).

Every kernel works on flat contiguous arrays; :func:`map_unary` / :func:`map_binary` split large
arrays over the engine's worker pool (the kernels release the GIL). Non-finite inputs behave as in
the NumPy code: NaN propagates, erfc(inf) = 0, exp(-inf) = 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from cvprimer.core import jit
from cvprimer.core.pool import batch_spans, pool_map


def _inline(fn: Callable[..., Any]) -> Any:
    """A helper the kernels call: a numba function inlined into them (plain Python without numba,
    when this module is only imported, never run)."""
    if jit.available():
        import numba

        return numba.njit(inline="always", cache=True, error_model="numpy")(fn)
    return fn  # pragma: no cover - numba installed in the test environment


_f32 = np.float32
_ONE, _HALF, _ZERO = _f32(1.0), _f32(0.5), _f32(0.0)
# exp: log2(e), ln 2 = _C1 + _C2 (_C1 has few bits so k _C1 is exact), the lowest argument kept
_LOG2E, _C1, _C2, _EXP_LO = _f32(1.4426950408889634), _f32(0.693359375), _f32(-2.12194440e-4), _f32(-87.3)
_E0, _E1, _E2, _E3, _E4, _E5 = (_f32(c) for c in (5.0000001201e-1, 1.6666665459e-1, 4.1665795894e-2,
                                                  8.3334519073e-3, 1.3981999507e-3, 1.9875691500e-4))
_R = tuple(_f32(c) for c in (
    0.2820947930721269, 0.28209400414206226, 0.24687680781395674, 0.17541920212340445,
    0.09274314604429493, -0.05630309004929714, 0.1250067870185259, -0.4440549387203792,
    0.4836826496602207, -0.22967194554375062, 0.04211257353723875))
_R0, _R1, _R2, _R3, _R4, _R5, _R6, _R7, _R8, _R9, _R10 = _R
_RS2_32, _RS2PI_32 = _f32(1.0 / math.sqrt(2.0)), _f32(1.0 / math.sqrt(2.0 * math.pi))
_RS2, _RS2PI = 1.0 / math.sqrt(2.0), 1.0 / math.sqrt(2.0 * math.pi)


@_inline
def _expf(t):  # pragma: no cover - compiled
    """e^t in float32 for t <= 0 (0 below -87.3; NaN stays NaN)."""
    u = _EXP_LO if t < _EXP_LO else t
    k = np.floor(u * _LOG2E + _HALF)
    r = u - k * _C1 - k * _C2
    p = ((((_E5 * r + _E4) * r + _E3) * r + _E2) * r + _E1) * r + _E0
    p = p * r * r + r + _ONE
    v = p * np.int32((np.int32(k) + np.int32(127)) << np.int32(23)).view(np.float32)
    return _ZERO if t < _EXP_LO else v


@_inline
def _erfc_tail(a, e):  # pragma: no cover - compiled
    """erfc(a) for float32 a >= 0, given e = e^{-a^2}."""
    t = _ONE / (_ONE + _HALF * a)
    p = _R10 * t + _R9
    p = p * t + _R8
    p = p * t + _R7
    p = p * t + _R6
    p = p * t + _R5
    p = p * t + _R4
    p = p * t + _R3
    p = p * t + _R2
    p = p * t + _R1
    p = p * t + _R0
    return t * e * p


# ---------------------------------------------------------------- GELU (exact): y = x Phi(x)

@jit.kernel(fastmath={"contract"})
def _gelu_f32(x, y):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        a = abs(xi) * _RS2_32
        c = _HALF * _erfc_tail(a, _expf(-(a * a)))  # Phi(-|x|)
        y[i] = xi * (c if xi < _ZERO else _ONE - c)


@jit.kernel(fastmath={"contract"})
def _gelu_grad_f32(x, gy, gx):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        a = abs(xi) * _RS2_32
        e = _expf(-(a * a))  # e^{-x^2/2}
        c = _HALF * _erfc_tail(a, e)
        gx[i] = gy[i] * ((c if xi < _ZERO else _ONE - c) + xi * _RS2PI_32 * e)


@jit.kernel
def _gelu_f64(x, y):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        y[i] = xi * (0.5 * math.erfc(-xi * _RS2))


@jit.kernel
def _gelu_grad_f64(x, gy, gx):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        gx[i] = gy[i] * (0.5 * math.erfc(-xi * _RS2) + xi * _RS2PI * math.exp(-0.5 * xi * xi))


# ---------------------------------------------------------------- SiLU: y = x sigmoid(x)

@jit.kernel(fastmath={"contract"})
def _silu_f32(x, y):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        e = _expf(-abs(xi))
        s = _ONE / (_ONE + e)
        y[i] = xi * (s if xi >= _ZERO else e * s)


@jit.kernel(fastmath={"contract"})
def _silu_grad_f32(x, gy, gx):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        e = _expf(-abs(xi))
        s = _ONE / (_ONE + e)
        s = s if xi >= _ZERO else e * s
        gx[i] = gy[i] * (s * (_ONE + xi * (_ONE - s)))


@jit.kernel
def _silu_f64(x, y):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        e = math.exp(-abs(xi))
        y[i] = xi * (1.0 / (1.0 + e) if xi >= 0 else e / (1.0 + e))


@jit.kernel
def _silu_grad_f64(x, gy, gx):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        e = math.exp(-abs(xi))
        s = 1.0 / (1.0 + e) if xi >= 0 else e / (1.0 + e)
        gx[i] = gy[i] * (s * (1.0 + xi * (1.0 - s)))


KERNELS = {
    "gelu": ((_gelu_f32, _gelu_f64), (_gelu_grad_f32, _gelu_grad_f64)),
    "silu": ((_silu_f32, _silu_f64), (_silu_grad_f32, _silu_grad_f64)),
}


def _pick(pair: tuple[Any, Any], dtype: np.dtype) -> Any:
    return pair[0] if dtype == np.float32 else pair[1] if dtype == np.float64 else None


def map_unary(op: str, x: np.ndarray) -> np.ndarray | None:
    """``op``'s forward y of ``x`` (float32/float64; None for other dtypes: use NumPy)."""
    kern = _pick(KERNELS[op][0], x.dtype)
    if kern is None:
        return None
    xf = np.ascontiguousarray(x).reshape(-1)
    y = np.empty_like(xf)
    pool_map(lambda a, b: kern(xf[a:b], y[a:b]), batch_spans(xf.size, 1), blas_single=False)
    return y.reshape(x.shape)


def map_binary(op: str, x: np.ndarray, gy: np.ndarray) -> np.ndarray | None:
    """``op``'s input gradient from ``x`` and ``gy`` (same shape and float dtype; None otherwise)."""
    kern = _pick(KERNELS[op][1], x.dtype)
    if kern is None or gy.dtype != x.dtype or gy.shape != x.shape:
        return None
    xf = np.ascontiguousarray(x).reshape(-1)
    gf = np.ascontiguousarray(gy).reshape(-1)
    gx = np.empty_like(xf)
    pool_map(lambda a, b: kern(xf[a:b], gf[a:b], gx[a:b]), batch_spans(xf.size, 1), blas_single=False)
    return gx.reshape(x.shape)


# ---------------------------------------------------------------- softmax over the last axis of (R, n)

@_inline
def _row_max(v):  # pragma: no cover - compiled
    """max of a row, NaN when it holds one (as np.max)."""
    m = v[0]
    for j in range(1, v.size):
        u = v[j]
        if u > m or u != u:
            m = u
            if u != u:
                break
    return m


def _reduce_helpers() -> tuple[Any, Any]:
    """Row sums (started from ``s``, which sets the type) with reassociation allowed, so that they
    vectorize: kept out of the exp code, whose ln 2 split must not be reassociated."""
    if not jit.available():  # pragma: no cover
        return None, None, None
    import numba

    @numba.njit(cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")
    def row_sum(v, s):  # pragma: no cover - compiled
        for j in range(v.size):
            s += v[j]
        return s

    @numba.njit(cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")
    def row_dot(a, b, s):  # pragma: no cover - compiled
        for j in range(a.size):
            s += a[j] * b[j]
        return s

    @numba.njit(cache=True, fastmath={"nnan", "nsz", "reassoc"}, error_model="numpy")
    def row_max(v):  # pragma: no cover - compiled
        m = v[0]
        for j in range(1, v.size):
            m = v[j] if v[j] > m else m
        return m

    return row_sum, row_dot, row_max


_row_sum, _row_dot, _row_max_fast = _reduce_helpers()


@jit.kernel(fastmath={"contract"})
def _softmax_f32(x, y, zero_empty):  # pragma: no cover - compiled
    for r in range(x.shape[0]):
        xr, yr = x[r], y[r]
        m = _row_max_fast(xr)
        if math.isfinite(m):
            for j in range(xr.size):
                yr[j] = _expf(xr[j] - m)
        else:  # an all -inf row, or one holding +inf or NaN: IEEE exp of the unshifted values
            for j in range(xr.size):
                yr[j] = math.exp(xr[j])
        s = _row_sum(yr, _ZERO)
        if zero_empty and not s > 0:  # all -inf (or NaN): zeros, as softmax_array
            yr[:] = 0
        else:  # e * (1/s) is e / s up to rounding, also for s = 0, inf or NaN
            inv = _ONE / s
            for j in range(yr.size):
                yr[j] = yr[j] * inv


@jit.kernel
def _softmax_f64(x, y, zero_empty):  # pragma: no cover - compiled
    for r in range(x.shape[0]):
        xr, yr = x[r], y[r]
        m = _row_max(xr)
        if not math.isfinite(m):
            m = 0.0
        for j in range(xr.size):
            yr[j] = math.exp(xr[j] - m)
        s = _row_sum(yr, 0.0)
        if zero_empty and not s > 0:  # all -inf (or NaN): zeros, as softmax_array
            yr[:] = 0
        else:
            for j in range(yr.size):
                yr[j] = yr[j] / s


@jit.kernel(fastmath={"contract"})
def _softmax_grad(y, gy, gx, zero):  # pragma: no cover - compiled
    for r in range(y.shape[0]):
        yr, gr, xr = y[r], gy[r], gx[r]
        d = _row_dot(gr, yr, zero)
        for j in range(yr.size):
            xr[j] = yr[j] * (gr[j] - d)


def softmax_rows(x: np.ndarray, zero_empty: bool) -> np.ndarray | None:
    """Softmax over the last axis of a 2-d float32/float64 array (None for other dtypes)."""
    kern = _softmax_f32 if x.dtype == np.float32 else _softmax_f64 if x.dtype == np.float64 else None
    if kern is None or x.ndim != 2 or x.shape[1] == 0:
        return None
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    pool_map(lambda a, b: kern(x[a:b], y[a:b], zero_empty), batch_spans(x.shape[0], x.shape[1]),
             blas_single=False)
    return y


def softmax_rows_grad(y: np.ndarray, gy: np.ndarray) -> np.ndarray | None:
    """gx = y (gy - sum(gy y)) over the last axis of 2-d arrays (None when the dtypes differ)."""
    if y.dtype not in (np.float32, np.float64) or gy.dtype != y.dtype or y.ndim != 2 or y.shape[1] == 0:
        return None
    y, gy = np.ascontiguousarray(y), np.ascontiguousarray(gy)
    gx = np.empty_like(y)
    pool_map(lambda a, b: _softmax_grad(y[a:b], gy[a:b], gx[a:b], y.dtype.type(0)), batch_spans(y.shape[0], y.shape[1]),
             blas_single=False)
    return gx
