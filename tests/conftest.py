"""Suite-wide setup: the compiled kernels run on small arrays too (in production ops with a fast
NumPy path skip them below ``settings.numba_min_elements``; the tests' arrays are mostly that small,
and the kernels are what they must check). ``tests/core/test_settings.py`` checks the threshold."""

import contextlib

import pytest

from cvprimer.core.settings import settings


@pytest.fixture(autouse=True)
def _kernels_on_small_arrays():
    with settings.override(numba_min_elements=0):
        yield


@pytest.fixture
def use_settings():
    """``use_settings(field=value, ...)``: those engine settings for the rest of the test, through
    ``settings.override`` (the one way tests switch paths; the values come back when the test ends)."""
    with contextlib.ExitStack() as stack:
        yield lambda **changes: stack.enter_context(settings.override(**changes))
