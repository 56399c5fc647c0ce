r"""The error function in NumPy alone (no SciPy at run time), accurate to ~1e-15 relative.

    erf(x) = 2/sqrt(pi) * int_0^x exp(-t^2) dt,     erfc(x) = 1 - erf(x),   erf(-x) = -erf(x).

Two classical expansions, each used where it converges quickly and without cancellation:

* |x| < 2: the everywhere-convergent series with positive terms (Abramowitz & Stegun 7.1.6)

      erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_{n>=0} (2 x^2)^n x / (1 * 3 * ... * (2n+1)),

  40 terms (term ratio 2x^2 / (2n+3) < 8 / 83 at n = 40; verified max relative error
  ~1.4e-15 against ``math.erf`` on a dense grid, see the tests).
* |x| >= 2: Laplace's continued fraction (A&S 7.1.14), evaluated bottom-up with 60 levels,

      erfc(x) = exp(-x^2)/sqrt(pi) * 1 / (x + (1/2) / (x + 1 / (x + (3/2) / (x + 2 / (x + ...)))))

  which gives erfc to ~4e-15 relative (40 levels would leave 5e-14 at x = 2), and
  erf = 1 - erfc (no cancellation since erfc(2) < 5e-3). erfc below 2 is 1 - erf, which
  loses at most log10(1/erfc(2)) ~ 2.3 digits.

Computed in float64 and cast back to the input's dtype. Underflow of exp(-x^2) for huge |x|
simply yields erfc = 0, erf = +-1 (no warning); NaN propagates.
"""

from __future__ import annotations

import numpy as np

_SERIES_TERMS = 40
_CF_LEVELS = 60
_SPLIT = 2.0
_TWO_OVER_SQRT_PI = 2.0 / np.sqrt(np.pi)
_INV_SQRT_PI = 1.0 / np.sqrt(np.pi)


def _erf_series(a: np.ndarray) -> np.ndarray:
    z = 2.0 * a * a
    term = a.copy()
    total = a.copy()
    for n in range(1, _SERIES_TERMS):
        term *= z
        term /= 2 * n + 1
        total += term
    return _TWO_OVER_SQRT_PI * np.exp(-a * a) * total


def _erfc_cf(a: np.ndarray) -> np.ndarray:
    f = a.copy()
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(_CF_LEVELS, 0, -1):
            f = a + (0.5 * k) / f
        return _INV_SQRT_PI * np.exp(-a * a) / f


def _split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x64 = np.asarray(x, dtype=np.float64)
    a = np.abs(x64)
    small = a < _SPLIT  # NaN lands in the continued-fraction branch and stays NaN
    return x64, a, small, ~small


def erf(x: np.ndarray) -> np.ndarray:
    """erf(x) elementwise (float64 internally, returned in x's floating dtype)."""
    x64, a, small, big = _split(x)
    out = np.empty_like(a)
    out[small] = _erf_series(a[small])
    out[big] = 1.0 - _erfc_cf(a[big])
    out = np.copysign(out, x64)
    dtype = x.dtype if isinstance(x, np.ndarray) and x.dtype.kind == "f" else np.float64
    return out.astype(dtype, copy=False)


def erfc(x: np.ndarray) -> np.ndarray:
    """erfc(x) = 1 - erf(x) elementwise, accurate also where it is tiny (large positive x)."""
    x64, a, small, big = _split(x)
    pos = np.empty_like(a)  # erfc(|x|)
    pos[small] = 1.0 - _erf_series(a[small])
    pos[big] = _erfc_cf(a[big])
    out = np.where(x64 >= 0, pos, 2.0 - pos)
    out = np.where(np.isnan(x64), np.nan, out)
    dtype = x.dtype if isinstance(x, np.ndarray) and x.dtype.kind == "f" else np.float64
    return out.astype(dtype, copy=False)
