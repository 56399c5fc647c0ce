"""relu's compiled forward (``core.ops.unary_kernels._relu_f``, taken with ``settings.numba`` from
``settings.numba_min_elements`` elements on): the values of ``np.maximum(x, 0)`` and ``torch.relu`` exactly,
NaN, infinities and signed zeros included, float32 and float64, on the kernel and below its size bound."""

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer.core import jit
from cvprimer.core.ops import unary_kernels
from cvprimer.core.settings import settings

pytestmark = pytest.mark.skipif(not jit.available(), reason="numba not installed")


def _x(n, dtype):
    x = (np.random.default_rng(5).standard_normal(n) * 3).astype(dtype)
    x[:6] = [np.nan, np.inf, -np.inf, 0.0, -0.0, -1e-30]
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,min_elements", [(5000, None), (64, 0), (64, 10**6)])
def test_relu_forward_matches_numpy_and_torch(dtype, n, min_elements):
    x = _x(n, dtype)
    over = {} if min_elements is None else dict(numba_min_elements=min_elements)
    with settings.override(numba=True, **over):
        t = cp.tensor(x, requires_grad=True)
        y = t.relu()
        y.backward(cp.tensor(np.ones_like(x)))
    yn = y.detach().numpy()
    assert yn.dtype == dtype
    np.testing.assert_array_equal(yn, np.maximum(x, 0))  # NaN where NaN, in the same places
    np.testing.assert_array_equal(yn, torch.relu(torch.from_numpy(x)).numpy())
    assert np.isnan(yn[0]) and yn[1] == np.inf and yn[2] == 0 and (yn[3:6] == 0).all()
    assert (yn > 0).sum() == (x > 0).sum() > n // 4
    np.testing.assert_array_equal(t.grad.numpy()[6:], (x[6:] > 0).astype(dtype))


def test_relu_forward_runs_the_kernel_from_the_size_bound(monkeypatch):
    """A spy in the table: the kernel runs at numba_min_elements elements and not below (NumPy there)."""
    calls = []
    fwd, grad = unary_kernels.KERNELS["relu"][np.float32]
    monkeypatch.setitem(unary_kernels.KERNELS, "relu",
                        {np.float32: (lambda *a: calls.append(a[0].size) or fwd(*a), grad)})
    with settings.override(numba=True, numba_min_elements=100):
        cp.tensor(_x(99, np.float32)).relu()
        assert calls == []
        y = cp.tensor(_x(100, np.float32)).relu()
    assert sum(calls) == 100
    np.testing.assert_array_equal(y.numpy(), np.maximum(_x(100, np.float32), 0))
