"""Batch norm's compiled ``planes`` layout (:mod:`cvprimer.functional.normalization._norm_kernels`: x as (N, C, L),
swept image by image; per-plane two-loop statistics merged by Chan's update, spans of images merged in span order):
against PyTorch (output, all gradients, running statistics, evaluation with them; float32 and float64; affine on
and off; odd planes, planes longer than one block, one channel, one image), against float64 two-pass statistics on
hard data, against the NumPy reference path, float64 gradcheck, and the same bits whatever the thread count."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.core import jit, pool
from cvprimer.core.settings import settings
from cvprimer.functional.normalization import _norm_kernels as K
from cvprimer.functional.normalization._normalize import _layout
from parity import check_grad, parity, randn

pytestmark = pytest.mark.skipif(not jit.available(), reason="numba not installed")

# (N, C, *): odd plane lengths, exactly one block (1024), one block and one value, several blocks with a short
# last one, one channel, one image, 2x2 planes (planes only when forced: cols_max=0)
SHAPES = [(3, 5, 7, 9), (2, 3, 1024), (2, 2, 1025), (2, 3, 2100), (5, 1, 6, 7), (1, 4, 33), (9, 6, 2, 2)]


def data(shape, seed=0, offset=0.0):
    """Per-channel offsets and a 1.5 spread (centring and scaling both matter)."""
    c = shape[1]
    off = np.linspace(-2, 3, c).reshape((1, c) + (1,) * (len(shape) - 2))
    return randn(*shape, seed=seed) * 1.5 + off + offset


def affine(c, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.5, c), rng.standard_normal(c)


@pytest.fixture
def planes(use_settings):
    """The planes layout for every batch-norm shape (no ``cols``), compiled kernels on."""
    use_settings(numba=True, norm_cols_max_length=0)


def test_layout_choice():
    """Default bound (32): planes of more than 32 positions take ``planes``, shorter ones ``cols``; other
    dtypes and numba off take the NumPy path."""
    with settings.override(numba=True):
        assert _layout((128, 16, 1024), (0, 2), (1, 16, 1), np.dtype(np.float32))[0] == "planes"
        assert _layout((128, 64, 64), (0, 2), (1, 64, 1), np.dtype(np.float32))[0] == "planes"
        assert _layout((64, 192, 16), (0, 2), (1, 192, 1), np.dtype(np.float32))[0] == "cols"
        assert _layout((4, 3, 64), (0, 2), (1, 3, 1), np.dtype(np.float16)) is None
    with settings.override(numba=False):
        assert _layout((128, 16, 1024), (0, 2), (1, 16, 1), np.dtype(np.float32)) is None


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("with_affine", [True, False])
def test_matches_torch(shape, with_affine, planes):
    """Output and the gradients of x, gamma, beta, float32 and float64 (parity's tolerances), non-contiguous
    inputs included."""
    if with_affine:
        w, b = affine(shape[1])
        parity(lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True, eps=1e-3),
               lambda t, g, h: TF.batch_norm(t, None, None, g, h, training=True, eps=1e-3),
               data(shape), w, b, noncontig=True)
    else:
        parity(lambda t: F.batch_norm(t, None, None, training=True),
               lambda t: TF.batch_norm(t, None, None, training=True), data(shape))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_running_stats_and_eval_match_torch(dtype, planes):
    """PyTorch's momentum and unbiased running variance over four steps of changing data, then evaluation mode
    with those statistics (output and gradients)."""
    shape, c = (6, 3, 5, 8), 3
    w, b = affine(c)
    tdt = getattr(torch, np.dtype(dtype).name)
    rm, rv = cp.zeros(c, dtype=dtype), cp.ones(c, dtype=dtype)
    trm, trv = torch.zeros(c, dtype=tdt), torch.ones(c, dtype=tdt)
    for step in range(4):
        x = (data(shape, seed=10 + step) * (1 + step)).astype(dtype)
        F.batch_norm(cp.Tensor(x), rm, rv, cp.Tensor(w.astype(dtype)), cp.Tensor(b.astype(dtype)),
                     training=True, momentum=0.3)
        TF.batch_norm(torch.from_numpy(x), trm, trv, torch.from_numpy(w.astype(dtype)),
                      torch.from_numpy(b.astype(dtype)), training=True, momentum=0.3)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=tol, atol=tol)
    assert not np.allclose(rv.numpy(), 1.0)  # the updates did happen
    rmv, rvv = rm.numpy().astype(np.float64), rv.numpy().astype(np.float64)
    parity(lambda t, g, h, m, v: F.batch_norm(t, m, v, g, h, training=False),
           lambda t, g, h, m, v: TF.batch_norm(t, m, v, g, h, training=False),
           data(shape, seed=3), w, b, rmv, rvv, requires_grad=[True, True, True, False, False])


def test_gradcheck(planes):
    w, b = affine(3)
    check_grad(lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True), data((3, 3, 5, 7)), w, b)
    check_grad(lambda t: F.batch_norm(t, None, None, training=True), data((2, 3, 40)))


def _two_pass(x3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and biased variance, float64 two-pass."""
    xd = x3.astype(np.float64)
    mean = xd.mean(axis=(0, 2))
    return mean, ((xd - mean[None, :, None]) ** 2).mean(axis=(0, 2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk", [1 << 18, 64], ids=["one span", "spans"])
def test_statistics_on_hard_data(dtype, chunk):
    """The merged statistics against float64 two-pass ones where one pass of sums would cancel: a mean 1e4 times
    the spread, one image far from the others (its planes' means 50 spreads away), a channel constant in each
    image but not across them, and a constant channel (variance exactly 0). Relative errors within a few units
    of the dtype's rounding (float32: the input is float32, the sums mostly float64)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((8, 5, 300))
    x[:, 0] += 1e4
    x[3, 1] += 50
    x[:, 2] = rng.standard_normal((8, 1)) * 3
    x[:, 3] = 2.5
    x = x.astype(dtype)
    with settings.override(min_chunk_elements=chunk):
        if chunk == 64:
            assert len(pool.spans(8, 5 * 300)) > 1
        y, mean, var, rstd = K.planes_forward(x, None, None, 1e-5)
    rmean, rvar = _two_pass(x)
    rel = 2e-6 if dtype == np.float32 else 1e-13
    # the mean: float64-like relative to itself, plus a few units of rounding of the spread (float32 block sums)
    spread = np.sqrt(rvar)
    if dtype == np.float32:
        assert np.all(np.abs(mean - rmean) <= 1e-9 * np.abs(rmean) + 2e-7 * spread)
    else:
        assert np.all(np.abs(mean - rmean) <= 1e-15 * np.abs(rmean) + 1e-15 * spread)
    np.testing.assert_allclose(var[:3], rvar[:3], rtol=rel, atol=0)
    assert var[3] == 0.0 and mean[3] == 2.5
    assert np.all(y[:, 3] == 0)
    np.testing.assert_allclose(rstd, 1 / np.sqrt(var + 1e-5), rtol=1e-15)
    ref = (x.astype(np.float64) - rmean[None, :, None]) / np.sqrt(rvar + 1e-5)[None, :, None]
    # y = (x - mean) * gamma rstd + beta in the input's dtype around the mean rounded to it: off by up to half a
    # unit of the mean's last place, scaled by rstd (float32 at a mean of 1e4: 4.9e-4 / spread)
    ulp = np.abs(rmean) * float(np.finfo(dtype).eps) / 2 / np.sqrt(rvar + 1e-5)
    tol = (1e-5 if dtype == np.float32 else 1e-12) + ulp
    assert np.all(np.abs(y - ref) <= tol[None, :, None])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cols_max,chunk", [(0, 256), (0, 1 << 18), (10**9, 256), (10**9, 1 << 18)],
                         ids=["planes, 4 spans", "planes, one call", "cols, 4 spans", "cols, one call"])
def test_equals_numpy_path(dtype, cols_max, chunk):
    """Both compiled layouts against the NumPy reference path, split into several spans (a pool_map per pass) and
    in one span (the whole op in one compiled call)."""
    shape = (16, 6, 9, 13)
    rng = np.random.default_rng(5)
    x = data(shape).astype(dtype)
    w, b = (a.astype(dtype) for a in affine(6))
    gy = rng.standard_normal(shape).astype(dtype)
    res = []
    for numba in (True, False):
        with settings.override(numba=numba, norm_cols_max_length=cols_max, min_chunk_elements=chunk):
            if numba:
                n, per = (16, 6 * 9 * 13) if cols_max == 0 else (6 * 9 * 13, 16)
                assert len(pool.spans(n, per)) == (4 if chunk == 256 else 1)
            ts = [cp.Tensor(a, requires_grad=True) for a in (x, w, b)]
            y = F.batch_norm(*ts[:1], None, None, *ts[1:], training=True)
            y.backward(cp.Tensor(gy))
            res.append([y.data] + [t.grad.data for t in ts])
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    for a, r in zip(*res, strict=True):
        assert a.dtype == r.dtype == dtype
        np.testing.assert_allclose(a, r, **tol)


def test_only_some_gradients_and_no_input_gradient(planes):
    """Each gradient alone; with x not requiring a gradient, backward gives the parameters' only."""
    x = data((4, 3, 40))
    w, b = affine(3)
    for rg in ([False, True, False], [True, False, False], [False, False, True], [False, True, True]):
        parity(lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True),
               lambda t, g, h: TF.batch_norm(t, None, None, g, h, training=True), x, w, b, requires_grad=rg)


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_same_bits_for_every_thread_count(threads):
    """Spans are a function of the size alone: threads=2 and 4 give threads=1's bits, forward and backward."""
    shape = (16, 4, 12, 12)
    x = data(shape).astype(np.float32)
    w, b = (a.astype(np.float32) for a in affine(4))
    gy = np.random.default_rng(3).standard_normal(shape).astype(np.float32)

    def run(n: int) -> list[np.ndarray]:
        with settings.override(numba=True, norm_cols_max_length=0, min_chunk_elements=256, threads=n):
            ts = [cp.Tensor(a, requires_grad=True) for a in (x, w, b)]
            y = F.batch_norm(ts[0], None, None, ts[1], ts[2], training=True)
            y.backward(cp.Tensor(gy))
            return [y.data] + [t.grad.data for t in ts]

    with settings.override(min_chunk_elements=256):
        assert len(pool.spans(16, 4 * 144)) == 4
    for a, r in zip(run(threads), run(1), strict=True):
        assert np.array_equal(a, r)


def test_non_finite_stays_in_its_channel(planes):
    """A NaN in one channel makes that channel's output NaN and leaves the others finite and right."""
    x = data((4, 3, 40)).astype(np.float32)
    x[2, 1, 5] = np.nan
    y = F.batch_norm(cp.Tensor(x), None, None, training=True).data
    assert np.isnan(y[:, 1]).all()
    ref = TF.batch_norm(torch.from_numpy(x[:, [0, 2]]), None, None, training=True).numpy()
    np.testing.assert_allclose(y[:, [0, 2]], ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(64, 12, 4, 4), (64, 6, 2, 2), (16, 4, 9, 9), (8, 3, 40)])
@pytest.mark.parametrize("cols_max", [0, 10**9], ids=["planes", "cols"])
def test_gradients_under_cancellation_no_worse_than_torch(shape, cols_max):
    """float32, a mean 600 spreads away from 0 and an output gradient nearly constant (1 + 1e-3 noise): gx and
    ggamma are small differences of large sums. Against the float64 truth, each compiled layout's largest relative
    error stays within PyTorch's float32 one (planes: float64 sums around the float64 mean, about 1e-7; cols: sums
    of the input's dtype around the mean rounded to it, moved to the mean itself: measured 3-5x below PyTorch)."""
    rng = np.random.default_rng(0)
    c = shape[1]
    x = (rng.standard_normal(shape) * 0.5 + 300).astype(np.float32)
    gy = (1 + 1e-3 * rng.standard_normal(shape)).astype(np.float32)
    w = rng.uniform(0.5, 1.5, c).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)

    def torch_run(dt):
        tx, tw, tb = (torch.tensor(a, dtype=dt, requires_grad=True) for a in (x, w, b))
        TF.batch_norm(tx, None, None, tw, tb, training=True).backward(torch.tensor(gy, dtype=dt))
        return [t.grad.numpy().astype(np.float64) for t in (tx, tw, tb)]

    truth, theirs = torch_run(torch.float64), torch_run(torch.float32)
    with settings.override(numba=True, norm_cols_max_length=cols_max):
        ts = [cp.Tensor(a, requires_grad=True) for a in (x, w, b)]
        F.batch_norm(ts[0], None, None, ts[1], ts[2], training=True).backward(cp.Tensor(gy))
    for name, t, ref, tor in zip(("x", "gamma", "beta"), ts, truth, theirs, strict=True):
        scale = np.abs(ref).max()
        ours_err = np.abs(t.grad.data - ref).max() / scale
        torch_err = np.abs(tor - ref).max() / scale
        assert ours_err <= max(torch_err, 1e-6), (name, ours_err, torch_err)
        if cols_max == 0:
            assert ours_err < 1e-6, (name, ours_err)
