"""The default random generator, and the one rule for randomness in cvprimer.

Every random function takes ``rng: np.random.Generator | None``; None means the default
generator below, which :func:`manual_seed` re-seeds. Passing an explicit generator makes a
call reproducible regardless of what ran before it.
"""

from __future__ import annotations

import numpy as np

_default = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Re-seed the default generator (and return it)."""
    global _default
    _default = np.random.default_rng(int(seed))
    return _default


def default_generator() -> np.random.Generator:
    return _default


def get_rng(rng: np.random.Generator | int | None = None) -> np.random.Generator:
    """``rng`` itself, a new generator seeded with an int, or the default generator."""
    if rng is None:
        return _default
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"expected a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")
    return rng
