"""Max pooling's compiled backward (``settings.numba``) against the NumPy reference path, a naive
loop and PyTorch: float32 and float64, padding, ceil_mode, dilation, ties, -inf windows."""

import numpy as np
import pytest
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.core import jit
from cvprimer.core.settings import settings
from parity import check_grad, distinct, parity, randn

NUMBA = [False] + ([True] if jit.available() else [])

CASES = [
    ((2, 3, 9, 8), dict(kernel_size=2)),
    ((2, 2, 7, 7), dict(kernel_size=3, stride=2)),
    ((2, 1, 7, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 8, 7), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 1))),
    ((1, 3, 5, 6), dict(kernel_size=2, stride=1, padding=1, dilation=2, ceil_mode=True)),
    ((1, 1, 10, 11), dict(kernel_size=(2, 4), stride=(3, 2), padding=(1, 2), ceil_mode=True)),
    ((3, 4, 6), dict(kernel_size=2, ceil_mode=True)),
    ((2, 2, 1, 1), dict(kernel_size=1)),
    ((1, 2, 13, 12), dict(kernel_size=12, stride=1, padding=6)),  # 144 taps: int32 arg-max
]


def _grad(x, gy, kw, numba, dtype):
    t = cp.Tensor(x.astype(dtype), requires_grad=True)
    with settings.override(numba=numba):
        y = F.max_pool2d(t, **kw)
        y.backward(cp.Tensor(gy.astype(dtype)))
    return y.data, t.grad.data


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kw", CASES)
def test_compiled_backward_equals_the_numpy_path(shape, kw, dtype):
    x = distinct(*shape, seed=1)
    gy = randn(*F.max_pool2d(cp.Tensor(x), **kw).shape, seed=2)
    ys, gxs = zip(*(_grad(x, gy, kw, nb, dtype) for nb in NUMBA), strict=True)
    for y, gx in zip(ys, gxs, strict=True):
        np.testing.assert_array_equal(y, ys[0])
        np.testing.assert_allclose(gx, gxs[0], rtol=1e-6 if dtype == np.float32 else 1e-13, atol=0)
        assert gx.dtype == dtype


@pytest.mark.parametrize("numba", NUMBA)
@pytest.mark.parametrize("shape,kw", CASES)
def test_max_pool_vs_torch_both_paths(shape, kw, numba):
    with settings.override(numba=numba):
        parity(lambda t: F.max_pool2d(t, return_indices=True, **kw),
               lambda t: TF.max_pool2d(t, return_indices=True, **kw), distinct(*shape, seed=3), noncontig=True)


@pytest.mark.parametrize("numba", NUMBA)
def test_ties_and_neg_inf_windows_like_torch(numba):
    ties = np.random.default_rng(4).integers(0, 3, size=(2, 3, 9, 9)).astype(np.float64)
    neg = distinct(1, 2, 6, 6, seed=5)
    neg[0, 1, :3, :3] = -np.inf  # a padded window whose real values are all -inf
    with settings.override(numba=numba):
        for kw in [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=1),
                   dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)]:
            parity(lambda t, kw=kw: F.max_pool2d(t, return_indices=True, **kw),
                   lambda t, kw=kw: TF.max_pool2d(t, return_indices=True, **kw), ties)
        parity(lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: TF.max_pool2d(t, 3, 2, 1), neg)
        # dilation 3: every row-window lies wholly in the padding; no gradient reaches the input
        x = cp.Tensor(distinct(1, 2, 2, 3, seed=6), requires_grad=True)
        F.max_pool2d(x, 2, 1, 1, 3).sum().backward()
        assert not x.grad.data.any()


@pytest.mark.parametrize("numba", NUMBA)
def test_max_pool_gradcheck_and_overlap(numba):
    with settings.override(numba=numba):
        for kw in [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, stride=1, dilation=2),
                   dict(kernel_size=3, stride=1, ceil_mode=True)]:
            check_grad(lambda t, kw=kw: F.max_pool2d(t, **kw), distinct(2, 2, 6, 7, seed=7))
        x = distinct(1, 1, 5, 5, seed=8) - 100.0
        x[0, 0, 2, 2] = 50.0  # the maximum of all four 3x3/2 windows: their gradients add up
        t = cp.Tensor(x, requires_grad=True)
        gy = randn(1, 1, 2, 2, seed=9)
        F.max_pool2d(t, 3, 2).backward(cp.Tensor(gy))
        expected = np.zeros_like(x)
        expected[0, 0, 2, 2] = gy.sum()
        np.testing.assert_allclose(t.grad.data, expected, rtol=1e-12)


@pytest.mark.parametrize("numba", NUMBA)
@pytest.mark.parametrize("shape,kw", CASES[:4] + CASES[6:7])
def test_planes_split_over_workers_equal_one_call(shape, kw, numba):
    x = distinct(*shape, seed=10)
    x.reshape(-1)[3] = -np.inf
    gy = randn(*F.max_pool2d(cp.Tensor(x), **kw).shape, seed=11)
    got = []
    for opts in (dict(threads=1), dict(threads=3, min_chunk_elements=1)):
        with settings.override(numba=numba, **opts):
            t = cp.Tensor(x, requires_grad=True)
            y, idx = F.max_pool2d(t, return_indices=True, **kw)
            y.backward(cp.Tensor(gy))
            got.append((y.data, idx.data, t.grad.data))
    for a, b in zip(*got, strict=True):
        np.testing.assert_array_equal(a, b)
