r"""Compiled kernels (numba, :mod:`cvprimer.core.jit`) of the core sigmoid, tanh and relu, registered by core
itself: :class:`~cvprimer.core.ops.unary.SigmoidFn` and friends name this module in their ``kernels``
attribute, and :mod:`cvprimer.core.pointwise` imports it on the first call that runs a kernel (numba with it).

``KERNELS`` (the table :class:`~cvprimer.core.pointwise.PointwiseFn` reads): sigmoid's forward, and the
gradients of sigmoid, tanh and relu from their saved output y, in one pass instead of NumPy's two or three
temporaries; relu's forward too (``np.maximum`` is NaN-aware and ~4x slower than the compiled select: 256x6x28x28
float32 0.50 -> 0.12 ms, 256x16x10x10 0.16 -> 0.04 ms, 1 thread, process CPU; PyTorch 0.11 and 0.05); tanh keeps
NumPy's own forward (``np.tanh`` is as fast).

:func:`expf` is e^t in float32 for t <= 0 with a branch-free formula that LLVM turns into 8-wide SIMD loops
(a libm call would keep the loop scalar); the activations' kernels (:mod:`cvprimer.functional.activation.
_kernels`) use it too. Cephes' ``expf``: ``t = k ln 2 + r`` with ``k = floor(t / ln 2 + 1/2)``,
``|r| <= ln(2)/2`` (ln 2 split in two parts so ``r`` is exact), ``e^r = 1 + r + r^2 P(r)`` (degree-5 P,
1.1e-9 relative), and ``2^k`` built from its exponent bits. Below -87.3 (where ``2^k`` would leave the
normal range) it returns 0: such values are below 1.2e-38 and are added to or multiplied by numbers of
order one. float64 sigmoid calls the C library's ``exp`` one element at a time (NumPy's accuracy).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.core import jit

_f32 = np.float32
_ONE, _HALF, _ZERO = _f32(1.0), _f32(0.5), _f32(0.0)
# exp: log2(e), ln 2 = _C1 + _C2 (_C1 has few bits so k _C1 is exact), the lowest argument kept
_LOG2E, _C1, _C2, _EXP_LO = _f32(1.4426950408889634), _f32(0.693359375), _f32(-2.12194440e-4), _f32(-87.3)
_E0, _E1, _E2, _E3, _E4, _E5 = (_f32(c) for c in (5.0000001201e-1, 1.6666665459e-1, 4.1665795894e-2,
                                                  8.3334519073e-3, 1.3981999507e-3, 1.9875691500e-4))


@jit.inline
def expf(t):  # pragma: no cover - compiled
    """e^t in float32 for t <= 0 (0 below -87.3; NaN stays NaN)."""
    u = _EXP_LO if t < _EXP_LO else t
    k = np.floor(u * _LOG2E + _HALF)
    r = u - k * _C1 - k * _C2
    p = ((((_E5 * r + _E4) * r + _E3) * r + _E2) * r + _E1) * r + _E0
    p = p * r * r + r + _ONE
    v = p * np.int32((np.int32(k) + np.int32(127)) << np.int32(23)).view(np.float32)
    return _ZERO if t < _EXP_LO else v


@jit.kernel(fastmath={"contract"})
def _sigmoid_f32(x, y):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        e = expf(-abs(xi))
        r = _ONE / (_ONE + e)
        y[i] = r if xi >= _ZERO else e * r


@jit.kernel
def _sigmoid_f64(x, y):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        e = math.exp(-abs(xi))
        y[i] = 1.0 / (1.0 + e) if xi >= 0 else e / (1.0 + e)


@jit.kernel
def _sigmoid_grad(y, gy, gx):  # pragma: no cover - compiled
    one = np.ones(1, y.dtype)[0]  # 1 in y's dtype: the products round as NumPy's do
    for i in range(y.size):
        yi = y[i]
        gx[i] = gy[i] * yi * (one - yi)


@jit.kernel
def _tanh_grad(y, gy, gx):  # pragma: no cover - compiled
    one = np.ones(1, y.dtype)[0]
    for i in range(y.size):
        yi = y[i]
        gx[i] = gy[i] * (one - yi * yi)


@jit.kernel
def _relu_f(x, y):  # pragma: no cover - compiled
    for i in range(x.size):
        v = x[i]
        y[i] = 0 if v <= 0 else v  # a NaN passes, as in np.maximum(x, 0) and torch.relu


@jit.kernel
def _relu_grad(y, gy, gx):  # pragma: no cover - compiled
    for i in range(y.size):
        gx[i] = 0 if y[i] <= 0 else gy[i]  # PyTorch's threshold_backward: a NaN y passes the gradient


# name -> {dtype: (forward (x, y) or None for NumPy's own, gradient from the saved output (y, gy, gx))}
KERNELS: dict[str, dict[Any, tuple[Any, Any]]] = {
    "sigmoid": {np.float32: (_sigmoid_f32, _sigmoid_grad), np.float64: (_sigmoid_f64, _sigmoid_grad)},
    "tanh": {np.float32: (None, _tanh_grad), np.float64: (None, _tanh_grad)},
    "relu": {np.float32: (_relu_f, _relu_grad), np.float64: (_relu_f, _relu_grad)},
}
