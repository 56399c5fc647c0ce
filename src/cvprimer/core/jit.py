r"""Optional compiled kernels through numba, with the NumPy code as the reference and fallback.

numba is an optional extra (``pip install 'cvprimer[fast]'``; the ``all`` and ``test`` extras
include it). An op that has a compiled kernel uses it only while ``settings.numba`` is True
(:mod:`cvprimer.core.settings`), and keeps its NumPy path, which the tests compare it against:
the suite runs once with the compiled kernels and the parity tests once more with
``CVPRIMER_NUMBA=0``.

Kernels are compiled lazily on first use with ``nogil=True`` (so the engine's worker pool can run
them side by side on slices of a batch, one threading scheme for the whole step) and
``cache=True`` (compiled code is kept beside the source, so a later process starts fast). No
numba ``parallel=True``: its thread pool would compete with ours.

Usage::

    from cvprimer.core import jit

    @jit.kernel
    def _scale(x, a, out):          # plain Python on arrays and scalars: numba's subset
        for i in range(x.size):
            out.flat[i] = a * x.flat[i]

    if settings.numba:
        _scale(x, 2.0, out)         # the compiled function (compiled on this first call)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

_NUMBA: Any = None


def available() -> bool:
    """Whether numba can be imported here."""
    global _NUMBA
    if _NUMBA is None:
        try:
            import numba

            _NUMBA = numba
        except ImportError:
            _NUMBA = False
    return bool(_NUMBA)


class Kernel:
    """A Python function compiled by numba on its first call (``nogil``, ``cache``)."""

    def __init__(self, fn: Callable[..., Any], options: dict[str, Any]) -> None:
        self.fn = fn
        self.options = options
        self._compiled: Any = None
        functools.update_wrapper(self, fn)

    @property
    def compiled(self) -> Any:
        if self._compiled is None:
            if not available():
                raise RuntimeError(f"{self.fn.__name__}: numba is not installed; use the NumPy path "
                                   "(settings.numba is False without numba)")
            self._compiled = _NUMBA.njit(**self.options)(self.fn)
        return self._compiled

    def __call__(self, *args: Any) -> Any:
        return self.compiled(*args)


def kernel(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Decorator: ``fn`` becomes a :class:`Kernel` (numba ``njit`` with nogil, cache, no fastmath).

    Extra numba options may be given: ``@kernel(error_model="numpy")``.
    """
    opts = dict(nogil=True, cache=True, fastmath=False, error_model="numpy")
    opts.update(options)
    if fn is None:
        return lambda f: Kernel(f, opts)
    return Kernel(fn, opts)


def inline(fn: Callable[..., Any]) -> Any:
    """A helper that kernels call: compiled with ``inline="always"`` into each kernel that calls it
    (a :class:`Kernel` itself cannot be called from compiled code). Without numba the plain
    function is returned; it is then never run, since no kernel runs."""
    if available():
        return _NUMBA.njit(inline="always", cache=True, error_model="numpy")(fn)
    return fn  # pragma: no cover - numba installed in the test environment
