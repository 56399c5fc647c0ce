r"""Compiled kernels (numba, :mod:`cvprimer.core.jit`) for the activations: exact and tanh GELU, SiLU,
mish, elu/selu/celu, softplus, the hard and leaky rectifiers, prelu, softmax and log_softmax (the core
sigmoid/tanh/relu kernels live in :mod:`cvprimer.core.ops.unary_kernels`; ``KERNELS`` here includes them). The
pointwise ones are the ``KERNELS`` table that the ops' ``kernels`` attribute names
(:class:`cvprimer.core.pointwise.PointwiseFn`). The NumPy code of
the op modules stays the reference the tests compare against, and runs whenever a kernel does not apply
(``settings.numba`` off, other dtypes, non-native byte order).

float64 kernels (GELU, SiLU, sigmoid, softmax, log_softmax; the piecewise-linear ops need no library
function) call the C library's ``erfc``/``exp`` one element at a time (the reference's accuracy); the
other float64 ops keep the NumPy path. float32 arrays are computed in float32 with branch-free
formulas that LLVM turns into 8-wide SIMD loops (a libm call would keep the loop scalar; PyTorch also
computes these in float32):

* ``exp(t)`` for ``t <= 0``: :func:`cvprimer.core.ops.unary_kernels.expf` (Cephes ``expf``, 1.1e-9
  relative; 0 below -87.3).
* ``erfc(a)`` for ``a >= 0`` (:func:`_erfc_tail`): ``erfc(a) = t e^{-a^2} R(t)`` with
  ``t = 1 / (1 + a/2)`` in (0, 1] and R a degree-10 polynomial, fitted here by iteratively reweighted
  least squares to ``erfc(a) e^{a^2} / t`` on Chebyshev nodes in t; max relative error 1.1e-8 against
  ``math.erfc`` over [0, 26] (the tests check the kernels' results). The same ``e^{-a^2}`` is GELU's
  normal density, so the backward pays for one exponential. The remaining error is that of
  ``a^2`` rounded to float32 inside the exponential: measured on GELU, within 4e-6 relative for
  |x| < 6 and 4e-6 + 1e-7 x^2 beyond (1.5e-5 at x = -13, where GELU is -1e-37).

``expm1`` and ``log1p`` have float32 helpers of their own (:func:`_expm1f`, :func:`_log1p_unit`).

The pointwise kernels work on flat contiguous arrays, softmax on rows or on (A, n, B) slices, prelu on
(N, C, rest); the wrappers split large arrays over the engine's worker pool (the kernels release the
GIL). Non-finite inputs behave as in the NumPy code: NaN propagates, erfc(inf) = 0, exp(-inf) = 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.core import jit, pointwise
from cvprimer.core.ops.unary_kernels import KERNELS as _CORE_KERNELS
from cvprimer.core.ops.unary_kernels import expf as _expf
from cvprimer.core.pool import batch_spans, pool_map

_f32 = np.float32
_ONE, _HALF, _ZERO = _f32(1.0), _f32(0.5), _f32(0.0)
_R = tuple(_f32(c) for c in (
    0.2820947930721269, 0.28209400414206226, 0.24687680781395674, 0.17541920212340445,
    0.09274314604429493, -0.05630309004929714, 0.1250067870185259, -0.4440549387203792,
    0.4836826496602207, -0.22967194554375062, 0.04211257353723875))
_R0, _R1, _R2, _R3, _R4, _R5, _R6, _R7, _R8, _R9, _R10 = _R
_RS2_32, _RS2PI_32 = _f32(1.0 / math.sqrt(2.0)), _f32(1.0 / math.sqrt(2.0 * math.pi))
_RS2, _RS2PI = 1.0 / math.sqrt(2.0), 1.0 / math.sqrt(2.0 * math.pi)


@jit.inline
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


_TWO, _THREE, _SIX = _f32(2.0), _f32(3.0), _f32(6.0)
_EXPM1_CUT = _f32(-0.35)
_INV = tuple(_f32(1.0 / math.factorial(k)) for k in range(2, 8))  # 1/2!, ..., 1/7!
_I2, _I3, _I4, _I5, _I6, _I7 = _INV
_ODD = tuple(_f32(1.0 / k) for k in (3, 5, 7, 9, 11, 13, 15))
_O3, _O5, _O7, _O9, _O11, _O13, _O15 = _ODD


@jit.inline
def _expm1f(t):  # pragma: no cover - compiled
    """e^t - 1 in float32 for t <= 0: Taylor to t^7 above -0.35 (2e-8 relative), e^t - 1 below."""
    p = t * (_ONE + t * (_I2 + t * (_I3 + t * (_I4 + t * (_I5 + t * (_I6 + t * _I7))))))
    return p if t > _EXPM1_CUT else _expf(t) - _ONE


@jit.inline
def _log1p_unit(u):  # pragma: no cover - compiled
    """log(1 + u) in float32 for 0 <= u <= 1: 2 atanh(s), s = u / (2 + u) <= 1/3, odd series to s^15."""
    s = u / (_TWO + u)
    q = s * s
    p = q * (_O3 + q * (_O5 + q * (_O7 + q * (_O9 + q * (_O11 + q * (_O13 + q * _O15))))))
    return _TWO * (s + s * p)


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


# ---------------------------------------------------------------- float32 kernels of the other activations
# (scalar options arrive as float32; float64 arrays keep the NumPy path)

@jit.kernel(fastmath={"contract"})
def _elu_f32(x, y, alpha, scale, ic):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        t = _ZERO if xi > _ZERO else xi * ic  # NaN goes to the exponential, and stays NaN
        y[i] = scale * (xi if xi > _ZERO else alpha * _expm1f(t))


@jit.kernel(fastmath={"contract"})
def _elu_grad_f32(x, gy, gx, alpha, scale, ic):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        t = _ZERO if xi > _ZERO else xi * ic
        gx[i] = gy[i] * (scale * (_ONE if xi > _ZERO else alpha * ic * _expf(t)))


@jit.kernel(fastmath={"contract"})
def _softplus_f32(x, y, beta, threshold, ib):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        z = xi * beta
        soft = ((z if z > _ZERO else _ZERO) + _log1p_unit(_expf(-abs(z)))) * ib
        y[i] = xi if z > threshold else soft


@jit.kernel(fastmath={"contract"})
def _softplus_grad_f32(x, gy, gx, beta, threshold, ib):  # pragma: no cover - compiled
    for i in range(x.size):
        z = x[i] * beta
        e = _expf(-abs(z))
        s = (_ONE if z >= _ZERO else e) / (_ONE + e)
        gx[i] = gy[i] * (_ONE if z > threshold else s)


@jit.inline
def _mish_parts(xi):  # pragma: no cover - compiled
    """tanh(softplus(x)), 1 - that, sigmoid(x), from one e^{-|x|}: with n = e^x (e^x + 2),
    tanh(log(1 + e^x)) = n / (n + 2), written in e^{-x} for x >= 0 so nothing overflows."""
    e = _expf(-abs(xi))
    if xi >= _ZERO:
        d = _ONE + _TWO * e + _TWO * e * e
        t, tc, s = (_ONE + _TWO * e) / d, _TWO * e * e / d, _ONE / (_ONE + e)
    else:
        n = e * (e + _TWO)
        t, tc, s = n / (n + _TWO), _TWO / (n + _TWO), e / (_ONE + e)
    return t, tc, s


@jit.kernel(fastmath={"contract"})
def _mish_f32(x, y):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        t, tc, s = _mish_parts(xi)
        y[i] = xi * t


@jit.kernel(fastmath={"contract"})
def _mish_grad_f32(x, gy, gx):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        t, tc, s = _mish_parts(xi)
        gx[i] = gy[i] * (t + xi * (tc * (_ONE + t)) * s)


_K = _f32(0.044715)
_K3 = _f32(3 * 0.044715)
_SQRT_2_OVER_PI = _f32(math.sqrt(2.0 / math.pi))


@jit.inline
def _gelu_tanh_parts(xi):  # pragma: no cover - compiled
    """s = (1 + tanh u) / 2 = sigmoid(2u) and 1 - s, u = sqrt(2/pi) (x + 0.044715 x^3)."""
    u = _SQRT_2_OVER_PI * (xi + _K * xi * xi * xi)
    e = _expf(-_TWO * abs(u))
    r = _ONE / (_ONE + e)
    return (r, e * r) if u >= _ZERO else (e * r, r)


@jit.kernel(fastmath={"contract"})
def _gelu_tanh_f32(x, y):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        s, sc = _gelu_tanh_parts(xi)
        y[i] = xi * s


@jit.kernel(fastmath={"contract"})
def _gelu_tanh_grad_f32(x, gy, gx):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        s, sc = _gelu_tanh_parts(xi)
        # (1 + t)/2 + x/2 (1 - t^2) u', with (1 + t)/2 = s and (1 - t^2)/2 = 2 s (1 - s)
        gx[i] = gy[i] * (s + _TWO * xi * s * sc * _SQRT_2_OVER_PI * (_ONE + _K3 * xi * xi))


@jit.kernel
def _leaky_relu(x, y, slope):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        y[i] = xi if xi > 0 else xi * slope


@jit.kernel
def _leaky_relu_grad(x, gy, gx, slope):  # pragma: no cover - compiled
    for i in range(x.size):
        gx[i] = gy[i] if x[i] > 0 else gy[i] * slope


@jit.kernel
def _hardtanh(x, y, lo, hi):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        y[i] = lo if xi < lo else (hi if xi > hi else xi)  # NaN stays NaN


@jit.kernel
def _hardtanh_grad(y, gy, gx, lo, hi):  # pragma: no cover - compiled
    for i in range(y.size):
        yi = y[i]
        gx[i] = gy[i] if (yi > lo) & (yi < hi) else gy[i] * 0


@jit.kernel
def _hardsigmoid_f32(x, y):  # pragma: no cover - compiled
    for i in range(x.size):
        v = x[i] + _THREE
        y[i] = (_ZERO if v < _ZERO else (_SIX if v > _SIX else v)) / _SIX


@jit.kernel
def _hardsigmoid_grad_f32(x, gy, gx):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        gx[i] = gy[i] * (_ONE / _SIX if (xi > -_THREE) & (xi < _THREE) else _ZERO)


@jit.kernel
def _hardswish_f32(x, y):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        v = xi + _THREE
        y[i] = xi * (_ZERO if v < _ZERO else (_SIX if v > _SIX else v)) / _SIX


@jit.kernel
def _hardswish_grad_f32(x, gy, gx):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        d = _ZERO if xi <= -_THREE else (xi / _THREE + _HALF if xi < _THREE else _ONE)
        gx[i] = gy[i] * d


@jit.kernel
def _relu_at_zero(x, y, g0):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        y[i] = xi if not xi <= 0 else 0  # as np.maximum(x, 0): NaN stays, -0.0 and negatives give +0


@jit.kernel
def _relu_at_zero_grad(x, gy, gx, g0):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        gx[i] = gy[i] * (0 if xi < 0 else (g0 if xi == 0 else 1))  # NaN passes, as relu's


# name -> {dtype: (forward kernel (x, y, *args), gradient kernel (saved, gy, gx, *args))}; the saved
# array is the input, or the output for ops that save only that (hardtanh)
KERNELS: dict[str, dict[Any, tuple[Any, Any]]] = {
    "gelu": {np.float32: (_gelu_f32, _gelu_grad_f32), np.float64: (_gelu_f64, _gelu_grad_f64)},
    "silu": {np.float32: (_silu_f32, _silu_grad_f32), np.float64: (_silu_f64, _silu_grad_f64)},
    "elu": {np.float32: (_elu_f32, _elu_grad_f32)},
    "softplus": {np.float32: (_softplus_f32, _softplus_grad_f32)},
    "mish": {np.float32: (_mish_f32, _mish_grad_f32)},
    "gelu_tanh": {np.float32: (_gelu_tanh_f32, _gelu_tanh_grad_f32)},
    "hardsigmoid": {np.float32: (_hardsigmoid_f32, _hardsigmoid_grad_f32)},
    "hardswish": {np.float32: (_hardswish_f32, _hardswish_grad_f32)},
    "leaky_relu": {np.float32: (_leaky_relu, _leaky_relu_grad), np.float64: (_leaky_relu, _leaky_relu_grad)},
    "hardtanh": {np.float32: (_hardtanh, _hardtanh_grad), np.float64: (_hardtanh, _hardtanh_grad)},
    "relu_at_zero": {np.float32: (_relu_at_zero, _relu_at_zero_grad), np.float64: (_relu_at_zero, _relu_at_zero_grad)},
    # the core sigmoid/tanh/relu (cvprimer.core.ops.unary_kernels), so that this table answers for every
    # pointwise kernel
    **_CORE_KERNELS,
}


def map_unary(op: str, x: np.ndarray, args: tuple[float, ...] = ()) -> np.ndarray | None:
    """``op``'s forward y of ``x`` (scalar ``args`` in x's dtype); None where ``op`` has no kernel for
    x's dtype (use NumPy). :func:`cvprimer.core.pointwise.map_unary` on this module's table."""
    return pointwise.map_unary(KERNELS, op, x, args)


def map_binary(op: str, saved: np.ndarray, gy: np.ndarray, args: tuple[float, ...] = ()) -> np.ndarray | None:
    """``op``'s input gradient from the ``saved`` array (x, or y for ops that save it) and ``gy``
    (same shape and float dtype; None otherwise). :func:`cvprimer.core.pointwise.map_binary` on this table."""
    return pointwise.map_binary(KERNELS, op, saved, gy, args)


# ---------------------------------------------------------------- softmax over the last axis of (R, n)

@jit.inline
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


def _reduce_helpers() -> tuple[Any, Any, Any]:
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


# ---------------------------------------------------------------- softmax / log_softmax over a middle axis,
# and log_softmax over the last: x viewed as (A, n, B), the B columns of a slice processed side by side
# (contiguous, so the loops vectorize); a group whose maximum is not finite makes the kernel return False
# and the caller take the NumPy path (which shifts such groups by 0)

@jit.inline
def _col_max(xa, m):  # pragma: no cover - compiled
    """m[b] = max_j xa[j, b] (NaN when the column holds one); whether every maximum is finite."""
    n, B = xa.shape
    for b in range(B):
        m[b] = xa[0, b]
    for j in range(1, n):
        for b in range(B):
            v = xa[j, b]
            m[b] = v if (v > m[b]) | (v != v) else m[b]
    ok = True
    for b in range(B):
        ok &= math.isfinite(m[b])
    return ok


def _exp_any(t):  # pragma: no cover - compiled through the overload below
    """e^t: :func:`_expf` for float32 (t <= 0), libm's exp for float64."""
    return math.exp(t)


if jit.available():
    from numba import types as _nbt
    from numba.extending import overload as _overload

    @_overload(_exp_any, inline="always")
    def _exp_any_typed(t):  # pragma: no cover - compiled
        if t == _nbt.float32:
            return lambda t: _expf(t)
        return lambda t: math.exp(t)


@jit.kernel(fastmath={"contract"})
def _softmax_cols(x, y, m, s):  # pragma: no cover - compiled
    A, n, B = x.shape
    for a in range(A):
        xa, ya = x[a], y[a]
        if not _col_max(xa, m):
            return False
        s[:] = 0
        for j in range(n):
            for b in range(B):
                e = _exp_any(xa[j, b] - m[b])
                s[b] += e
                ya[j, b] = e
        for b in range(B):
            s[b] = 1 / s[b]
        for j in range(n):
            for b in range(B):
                ya[j, b] *= s[b]
    return True


@jit.kernel(fastmath={"contract"})
def _log_softmax_cols(x, y, m, s):  # pragma: no cover - compiled
    A, n, B = x.shape
    for a in range(A):
        xa, ya = x[a], y[a]
        if not _col_max(xa, m):
            return False
        s[:] = 0
        for j in range(n):
            for b in range(B):
                s[b] += _exp_any(xa[j, b] - m[b])
        for b in range(B):  # (x - m) - log s, as the NumPy path rounds it
            s[b] = math.log(s[b])
        for j in range(n):
            for b in range(B):
                ya[j, b] = (xa[j, b] - m[b]) - s[b]
    return True


@jit.kernel(fastmath={"contract"})
def _softmax_cols_grad(y, gy, gx, d):  # pragma: no cover - compiled
    A, n, B = y.shape
    for a in range(A):
        ya, ga, xa = y[a], gy[a], gx[a]
        d[:] = 0
        for j in range(n):
            for b in range(B):
                d[b] += ga[j, b] * ya[j, b]
        for j in range(n):
            for b in range(B):  # gx = y (gy - sum(gy y))
                xa[j, b] = ya[j, b] * (ga[j, b] - d[b])


@jit.kernel(fastmath={"contract"})
def _log_softmax_cols_grad(y, gy, gx, d):  # pragma: no cover - compiled
    A, n, B = y.shape
    for a in range(A):
        ya, ga, xa = y[a], gy[a], gx[a]
        d[:] = 0
        for j in range(n):
            for b in range(B):
                d[b] += ga[j, b]
        for j in range(n):
            for b in range(B):  # gx = gy - exp(y) sum(gy)
                xa[j, b] = ga[j, b] - _exp_any(ya[j, b]) * d[b]


@jit.kernel(fastmath={"contract"})
def _log_softmax_rows(x, y, zero):  # pragma: no cover - compiled
    for r in range(x.shape[0]):
        xr, yr = x[r], y[r]
        m = _row_max_fast(xr)
        if not math.isfinite(m):
            return False
        for j in range(xr.size):
            yr[j] = _exp_any(xr[j] - m)
        c = math.log(_row_sum(yr, zero))
        for j in range(xr.size):
            yr[j] = (xr[j] - m) - c
    return True


@jit.kernel(fastmath={"contract"})
def _log_softmax_rows_grad(y, gy, gx, zero):  # pragma: no cover - compiled
    for r in range(y.shape[0]):
        yr, gr, xr = y[r], gy[r], gx[r]
        d = _row_sum(gr, zero)
        for j in range(yr.size):
            xr[j] = gr[j] - _exp_any(yr[j]) * d


def _as3(x: np.ndarray, axis: int) -> np.ndarray:
    """x (contiguous) viewed as (A, n, B) around ``axis``."""
    a = int(np.prod(x.shape[:axis]))
    return x.reshape(a, x.shape[axis], -1)


def _spans(x3: np.ndarray) -> list[tuple[int, int]]:
    return batch_spans(x3.shape[0], x3.shape[1] * x3.shape[2])


def softmax_axis(x: np.ndarray, axis: int, log: bool) -> np.ndarray | None:
    """softmax (or log_softmax) along ``axis`` of a >= 1-d float32/float64 array; None where the
    NumPy path must do it (other dtypes, empty axes, a group with a non-finite maximum)."""
    if x.dtype not in (np.float32, np.float64) or x.size == 0:
        return None
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    x3, y3 = _as3(x, axis), _as3(y, axis)
    if x3.shape[2] == 1:
        x2, y2 = x3[:, :, 0], y3[:, :, 0]
        if not log:
            r = softmax_rows(x2, False)
            return None if r is None else r.reshape(x.shape)
        z = x.dtype.type(0)
        ok = pool_map(lambda a, b: _log_softmax_rows(x2[a:b], y2[a:b], z), _spans(x3), blas_single=False)
    else:
        def run(a: int, b: int) -> bool:
            m, s = np.empty(x3.shape[2], x.dtype), np.empty(x3.shape[2], x.dtype)
            return (_log_softmax_cols if log else _softmax_cols)(x3[a:b], y3[a:b], m, s)

        ok = pool_map(run, _spans(x3), blas_single=False)
    return y if all(ok) else None


def softmax_axis_grad(y: np.ndarray, gy: np.ndarray, axis: int, log: bool) -> np.ndarray | None:
    """The input gradient of softmax (log_softmax) along ``axis`` from its output ``y``."""
    if y.dtype not in (np.float32, np.float64) or gy.dtype != y.dtype or y.size == 0:
        return None
    y, gy = np.ascontiguousarray(y), np.ascontiguousarray(gy)
    gx = np.empty_like(y)
    y3, g3, x3 = _as3(y, axis), _as3(gy, axis), _as3(gx, axis)
    if y3.shape[2] == 1:
        y2, g2, x2 = y3[:, :, 0], g3[:, :, 0], x3[:, :, 0]
        if not log:
            r = softmax_rows_grad(y2, g2)
            return None if r is None else r.reshape(y.shape)
        z = y.dtype.type(0)
        pool_map(lambda a, b: _log_softmax_rows_grad(y2[a:b], g2[a:b], x2[a:b], z), _spans(y3),
                 blas_single=False)
    else:
        def run(a: int, b: int) -> None:
            kern = _log_softmax_cols_grad if log else _softmax_cols_grad
            kern(y3[a:b], g3[a:b], x3[a:b], np.empty(y3.shape[2], y.dtype))

        pool_map(run, _spans(y3), blas_single=False)
    return gx


# ---------------------------------------------------------------- prelu: x as (A, C, B), one slope per C

@jit.kernel
def _prelu(x, a, y):  # pragma: no cover - compiled
    A, C, B = x.shape
    for i in range(A):
        for c in range(C):
            ac, xr, yr = a[c], x[i, c], y[i, c]
            for j in range(B):
                v = xr[j]
                yr[j] = v if v > 0 else v * ac


def _neg_dot_helper() -> Any:
    if not jit.available():  # pragma: no cover
        return None
    import numba

    @numba.njit(cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")
    def neg_dot(xr, gr, s):  # pragma: no cover - compiled
        """sum of gy x over the entries with x <= 0 (or NaN), started from s."""
        for j in range(xr.size):
            v = xr[j]
            s += 0 if v > 0 else gr[j] * v
        return s

    return neg_dot


_neg_dot = _neg_dot_helper()


@jit.kernel
def _prelu_grad(x, a, gy, gx, ga, want_gx, want_ga):  # pragma: no cover - compiled
    A, C, B = x.shape
    zero = np.zeros(1, x.dtype)[0]
    for i in range(A):
        for c in range(C):
            ac, xr, gr, or_ = a[c], x[i, c], gy[i, c], gx[i, c]
            if want_gx:
                for j in range(B):
                    or_[j] = gr[j] if xr[j] > 0 else gr[j] * ac
            if want_ga:
                ga[c] += _neg_dot(xr, gr, zero)


def prelu_view(x: np.ndarray, n: int) -> np.ndarray | None:
    """x as (A, C, B) for prelu with n slopes (n = 1: shared), or None (the NumPy path)."""
    if x.dtype not in (np.float32, np.float64) or x.ndim < 1 or x.size == 0:
        return None
    x = np.ascontiguousarray(x)
    return x.reshape(x.shape[0], n, -1) if n != 1 else x.reshape(x.shape[0], 1, -1)


def prelu(x: np.ndarray, a: np.ndarray) -> np.ndarray | None:
    x3 = prelu_view(x, a.size)
    if x3 is None or a.dtype != x.dtype:
        return None
    a = np.ascontiguousarray(a).reshape(-1)
    y3 = np.empty_like(x3)
    pool_map(lambda s, e: _prelu(x3[s:e], a, y3[s:e]), batch_spans(x3.shape[0], x3[0].size), blas_single=False)
    return y3.reshape(x.shape)


def prelu_grad(x: np.ndarray, a: np.ndarray, gy: np.ndarray, want_gx: bool, want_ga: bool
               ) -> tuple[np.ndarray | None, np.ndarray | None] | None:
    """(gx, ga) of prelu (ga summed in float64 over the per-row sums, returned in x's dtype)."""
    x3 = prelu_view(x, a.size)
    if x3 is None or a.dtype != x.dtype or gy.dtype != x.dtype or gy.shape != x.shape:
        return None
    a = np.ascontiguousarray(a).reshape(-1)
    g3 = np.ascontiguousarray(gy).reshape(x3.shape)
    gx3 = np.empty_like(x3) if want_gx else np.empty((0, 0, 0), x.dtype)
    spans = batch_spans(x3.shape[0], x3[0].size)
    parts = [np.zeros(a.size, np.float64) for _ in spans]

    def run(k: int) -> None:
        s, e = spans[k]
        _prelu_grad(x3[s:e], a, g3[s:e], gx3[s:e] if want_gx else gx3, parts[k], want_gx, want_ga)

    pool_map(lambda k, _: run(k), [(k, k + 1) for k in range(len(spans))], blas_single=False)
    ga = np.sum(parts, axis=0).astype(x.dtype) if want_ga else None
    return (gx3.reshape(x.shape) if want_gx else None), ga
