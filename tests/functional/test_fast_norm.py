"""The compiled normalization kernels (``settings.numba``, :mod:`cvprimer.functional.normalization._norm_kernels`)
and the NumPy reference path: both against PyTorch (outputs and every gradient, float32 and float64),
against each other, float64 gradcheck, split over several workers, odd layouts (2-D batch norm, 1x1
planes, one group, one channel per group, non-contiguous inputs, large offsets), and what backward keeps."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.core import jit
from cvprimer.core.settings import settings
from cvprimer.functional.normalization._normalize import NormalizeFn
from parity import check_grad, parity, randn

NUMBA = [False] + ([True] if jit.available() else [])


def data(shape, seed=0, offset=0.0):
    """Per-channel offsets and a 1.5 spread (centring and scaling both matter)."""
    c = shape[1]
    off = np.linspace(-2, 3, c).reshape((1, c) + (1,) * (len(shape) - 2))
    return randn(*shape, seed=seed) * 1.5 + off + offset


def affine(shape, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.5, shape), rng.standard_normal(shape)


BN = [(6, 3), (40, 5), (4, 3, 5), (3, 4, 5, 6), (5, 2, 1, 1), (2, 7, 9, 4), (3, 4, 9, 9), (2, 3, 1030)]
GN = [((2, 6, 5, 4), 3), ((2, 4, 3, 700), 2), ((3, 4, 7), 1), ((2, 6, 3, 3), 6), ((2, 8, 1, 1), 2), ((1, 12, 4, 5), 4)]
LN = [((4, 7), (7,)), ((3, 5, 6), (6,)), ((2, 3, 4, 5), (4, 5)), ((2, 3, 1), (1,)), ((2, 65, 24), (24,)),
      ((3, 1100), (1100,))]
IN = [(2, 3, 7), (3, 4, 5, 6), (1, 2, 1, 9), (2, 3, 9, 9)]


@pytest.mark.parametrize("numba", NUMBA)
@pytest.mark.parametrize("shape", BN)
@pytest.mark.parametrize("with_affine", [True, False])
@pytest.mark.parametrize("cols_max", [0, 32, 10**9], ids=["planes", "default", "cols"])
def test_batch_norm_both_paths_match_torch(shape, with_affine, numba, cols_max, use_settings):
    """Every shape through both compiled layouts (image by image, (N, C, L); whole rows of (N, C L))."""
    use_settings(norm_cols_max_length=cols_max)
    w, b = affine(shape[1])
    with settings.override(numba=numba):
        if with_affine:
            parity(lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True, eps=1e-3),
                   lambda t, g, h: TF.batch_norm(t, None, None, g, h, training=True, eps=1e-3),
                   data(shape), w, b, noncontig=True)
        else:
            parity(lambda t: F.batch_norm(t, None, None, training=True),
                   lambda t: TF.batch_norm(t, None, None, training=True), data(shape))


@pytest.mark.parametrize("numba", NUMBA)
@pytest.mark.parametrize("shape,groups", GN)
@pytest.mark.parametrize("with_affine", [True, False])
@pytest.mark.parametrize("rows_max", [0, 64, 10**9], ids=["sets", "default", "rows"])
def test_group_norm_both_paths_match_torch(shape, groups, with_affine, numba, rows_max, use_settings):
    """Every shape through both compiled layouts (per-channel planes; one row per group)."""
    use_settings(norm_rows_max_length=rows_max)
    w, b = affine(shape[1])
    with settings.override(numba=numba):
        if with_affine:
            parity(lambda t, g, h: F.group_norm(t, groups, g, h), lambda t, g, h: TF.group_norm(t, groups, g, h),
                   data(shape), w, b, noncontig=True)
        else:
            parity(lambda t: F.group_norm(t, groups), lambda t: TF.group_norm(t, groups), data(shape))


@pytest.mark.parametrize("numba", NUMBA)
@pytest.mark.parametrize("shape,norm", LN)
@pytest.mark.parametrize("with_affine", [True, False])
def test_layer_norm_both_paths_match_torch(shape, norm, with_affine, numba):
    w, b = affine(norm)
    x = randn(*shape, seed=2) * 2 + 0.7
    with settings.override(numba=numba):
        if with_affine:
            parity(lambda t, g, h: F.layer_norm(t, norm, g, h), lambda t, g, h: TF.layer_norm(t, norm, g, h),
                   x, w, b, noncontig=True)
        else:
            parity(lambda t: F.layer_norm(t, norm), lambda t: TF.layer_norm(t, norm), x)


@pytest.mark.parametrize("numba", NUMBA)
@pytest.mark.parametrize("shape", IN)
def test_instance_norm_both_paths_match_torch(shape, numba):
    w, b = affine(shape[1])
    with settings.override(numba=numba):
        parity(lambda t, g, h: F.instance_norm(t, weight=g, bias=h),
               lambda t, g, h: TF.instance_norm(t, weight=g, bias=h), data(shape), w, b, noncontig=True)


@pytest.mark.parametrize("numba", NUMBA)
def test_only_some_gradients_requested(numba):
    x = data((4, 3, 5))
    w, b = affine(3)
    with settings.override(numba=numba):
        for rg in ([False, True, False], [True, False, False], [False, False, True]):
            parity(lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True),
                   lambda t, g, h: TF.batch_norm(t, None, None, g, h, training=True), x, w, b, requires_grad=rg)
            parity(lambda t, g, h: F.group_norm(t, 3, g, h), lambda t, g, h: TF.group_norm(t, 3, g, h),
                   x, w, b, requires_grad=rg)
            wl, bl = affine((5,))
            parity(lambda t, g, h: F.layer_norm(t, 5, g, h), lambda t, g, h: TF.layer_norm(t, (5,), g, h),
                   x, wl, bl, requires_grad=rg)


@pytest.mark.parametrize("numba", NUMBA)
def test_gradcheck_both_paths(numba):
    w, b = affine(4)
    with settings.override(numba=numba):
        check_grad(lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True), data((3, 4, 2, 2)), w, b)
        check_grad(lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True), data((5, 4)), w, b)
        check_grad(lambda t, g, h: F.group_norm(t, 2, g, h), data((2, 4, 3)), w, b)
        check_grad(lambda t, g, h: F.instance_norm(t, weight=g, bias=h), data((2, 4, 3)), w, b)
        wl, bl = affine((3, 2))
        check_grad(lambda t, g, h: F.layer_norm(t, (3, 2), g, h), data((2, 4, 3, 2)), wl, bl)
        check_grad(lambda t: F.layer_norm(t, 6), data((3, 6)))


@pytest.mark.skipif(not jit.available(), reason="numba not installed")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 3])
def test_compiled_equals_numpy_path_split_over_workers(dtype, threads):
    """Larger shapes, split over several workers (per-worker parameter-gradient buffers)."""
    cases = [
        (lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True), (8, 6, 9, 7), 6),
        (lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True), (4, 6, 9, 13), 6),
        (lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True), (300, 6), 6),
        (lambda t, g, h: F.group_norm(t, 3, g, h), (5, 6, 9, 7), 6),
        (lambda t, g, h: F.group_norm(t, 2, g, h), (5, 6, 9, 8), 6),
        (lambda t, g, h: F.group_norm(t, 3, g, h), (40, 6, 2, 2), 6),
        (lambda t, g, h: F.instance_norm(t, weight=g, bias=h), (40, 6, 4), 6),
        (lambda t, g, h: F.instance_norm(t, weight=g, bias=h), (5, 6, 33), 6),
        (lambda t, g, h: F.layer_norm(t, (7, 9), g, h), (40, 6, 7, 9), (7, 9)),
    ]
    rng = np.random.default_rng(5)
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    for fn, shape, pshape in cases:
        x = data(shape).astype(dtype)
        w, b = (a.astype(dtype) for a in affine(pshape))
        gy = rng.standard_normal(shape).astype(dtype)
        res = []
        for numba in (True, False):
            with settings.override(numba=numba, threads=threads, min_chunk_elements=16):
                ts = [cp.Tensor(a, requires_grad=True) for a in (x, w, b)]
                y = fn(*ts)
                y.backward(cp.Tensor(gy))
                res.append([y.data] + [t.grad.data for t in ts])
        for a, r in zip(*res, strict=True):
            assert a.dtype == r.dtype == dtype
            np.testing.assert_allclose(a, r, **tol)


@pytest.mark.parametrize("numba", NUMBA)
def test_large_offset_input_both_paths(numba):
    """Two-pass statistics on both paths: a mean 1e4 times the spread still normalizes like torch."""
    with settings.override(numba=numba):
        for shape in ((8, 3, 4, 4), (64, 3), (2, 3, 9, 10)):
            parity(lambda t: F.batch_norm(t, None, None, training=True),
                   lambda t: TF.batch_norm(t, None, None, training=True), data(shape, offset=1e4),
                   dtypes=[np.float64])
        parity(lambda t: F.group_norm(t, 3), lambda t: TF.group_norm(t, 3), data((2, 6, 5), offset=1e4),
               dtypes=[np.float64])
        parity(lambda t: F.layer_norm(t, 8), lambda t: TF.layer_norm(t, (8,)), data((4, 8), offset=1e4),
               dtypes=[np.float64])


@pytest.mark.parametrize("numba", NUMBA)
def test_running_stats_both_paths(numba):
    c = 5
    rm, rv = cp.zeros(c), cp.ones(c)
    trm, trv = torch.zeros(c), torch.ones(c)
    with settings.override(numba=numba):
        for step, shape in enumerate([(6, c, 3, 4), (6, c, 3, 4), (9, c)]):
            x = data(shape, seed=step).astype(np.float32) * (1 + step)
            F.batch_norm(cp.Tensor(x), rm, rv, training=True, momentum=0.2)
            TF.batch_norm(torch.from_numpy(x), trm, trv, training=True, momentum=0.2)
        rim, riv = cp.zeros(c), cp.ones(c)
        tim, tiv = torch.zeros(c), torch.ones(c)
        x = data((3, c, 7), seed=9).astype(np.float32)
        F.instance_norm(cp.Tensor(x), rim, riv, use_input_stats=True)
        TF.instance_norm(torch.from_numpy(x), tim, tiv, use_input_stats=True)
    for ours, theirs in ((rm, trm), (rv, trv), (rim, tim), (riv, tiv)):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("numba", NUMBA)
def test_backward_keeps_x_and_per_set_statistics_only(numba):
    """No x-sized x_hat: backward holds the input array itself plus per-set mean and inv_std."""
    x = cp.Tensor(data((4, 3, 6, 5)).astype(np.float32), requires_grad=True)
    w, b = (cp.Tensor(a.astype(np.float32), requires_grad=True) for a in affine(3))
    with settings.override(numba=numba):
        y = F.batch_norm(x, None, None, w, b, training=True)
    ctx = y._node
    assert isinstance(ctx, NormalizeFn)
    big = [a for a in ctx.saved_tensors if isinstance(a, np.ndarray) and a.size >= x.data.size]
    assert len(big) == 1 and np.shares_memory(big[0], x.data)
    assert sum(a.size for a in ctx.saved_tensors if isinstance(a, np.ndarray)) <= x.data.size + 3 * 3


@pytest.mark.parametrize("numba", NUMBA)
def test_non_finite_and_constant_sets(numba):
    """A constant set (var 0) gives beta and a zero gradient; a NaN spreads to its own set only."""
    x = np.ones((4, 2, 3), np.float32)
    x[:, 1] = np.arange(12, dtype=np.float32).reshape(4, 3)
    with settings.override(numba=numba):
        t = cp.Tensor(x, requires_grad=True)
        y = F.batch_norm(t, None, None, cp.Tensor(np.ones(2, np.float32)), cp.Tensor(np.full(2, 0.5, np.float32)),
                         training=True)
        y.backward(cp.Tensor(np.ones_like(x)))
        np.testing.assert_allclose(y.data[:, 0], 0.5)
        np.testing.assert_allclose(t.grad.data[:, 0], 0.0, atol=1e-6)
        xn = x.copy()
        xn[0, 1, 0] = np.nan
        yn = F.layer_norm(cp.Tensor(xn), 3).data
        assert np.isnan(yn[0, 1]).all() and np.isfinite(np.delete(yn.reshape(8, 3), 1, axis=0)).all()
