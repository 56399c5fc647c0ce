"""Suite-wide setup: the compiled kernels run on small arrays too (in production ops with a fast
NumPy path skip them below ``settings.numba_min_elements``; the tests' arrays are mostly that small,
and the kernels are what they must check). ``tests/core/test_settings.py`` checks the threshold."""

import pytest

from cvprimer.core.settings import settings


@pytest.fixture(autouse=True)
def _kernels_on_small_arrays():
    with settings.override(numba_min_elements=0):
        yield
