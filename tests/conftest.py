"""Suite-wide setup: the compiled kernels run on small arrays too (in production ops with a fast
NumPy path skip them below ``settings.numba_min_elements``; the tests' arrays are mostly that small,
and the kernels are what they must check). ``tests/core/test_settings.py`` checks the threshold."""

import contextlib
import os
import tempfile

import pytest

from cvprimer.core.settings import settings


@pytest.fixture(autouse=True)
def _kernels_on_small_arrays():
    with settings.override(numba_min_elements=0):
        yield


@pytest.fixture(autouse=True, scope="session")
def _no_writes_to_the_user_cache():
    """``cvprimer analyze`` caches the machine's peak in the user's cache folder: the suite (and the
    processes it starts) use a temporary one (``$CVPRIMER_CACHE_DIR``, analysis/machine_cache.py)."""
    with tempfile.TemporaryDirectory(prefix="cvprimer-cache-") as d:
        old = os.environ.get("CVPRIMER_CACHE_DIR")
        os.environ["CVPRIMER_CACHE_DIR"] = d
        yield
        if old is None:
            os.environ.pop("CVPRIMER_CACHE_DIR", None)
        else:
            os.environ["CVPRIMER_CACHE_DIR"] = old


@pytest.fixture
def use_settings():
    """``use_settings(field=value, ...)``: those engine settings for the rest of the test, through
    ``settings.override`` (the one way tests switch paths; the values come back when the test ends)."""
    with contextlib.ExitStack() as stack:
        yield lambda **changes: stack.enter_context(settings.override(**changes))
