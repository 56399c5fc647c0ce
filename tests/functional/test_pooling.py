"""max_pool2d and avg_pool2d: PyTorch parity (values, indices, gradients), naive loop references,
gradient rules (first max wins ties, conservation, overlap accumulation), gradcheck, errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import cvprimer as cp
import cvprimer.functional as F
from parity import check_grad, distinct, parity, randn


def _p(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def _n_out(L, k, s, p, d, ceil):
    span = L + 2 * p - d * (k - 1) - 1
    n = (math.ceil(span / s) if ceil else span // s) + 1
    if ceil and (n - 1) * s >= L + p:
        n -= 1
    return n


def naive_max_pool(x, gy, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Loop over every output pixel and tap: (y, flat indices, gx for upstream gy)."""
    (kh, kw), (ph, pw), (dh, dw) = _p(kernel_size), _p(padding), _p(dilation)
    sh, sw = _p(stride) if stride is not None else (kh, kw)
    N, C, H, W = x.shape
    Ho, Wo = _n_out(H, kh, sh, ph, dh, ceil_mode), _n_out(W, kw, sw, pw, dw, ceil_mode)
    y, idx, gx = np.zeros((N, C, Ho, Wo)), np.zeros((N, C, Ho, Wo), np.int64), np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    best, arg = -np.inf, -1
                    for u in range(kh):
                        for v in range(kw):
                            h, w = i * sh - ph + u * dh, j * sw - pw + v * dw
                            if 0 <= h < H and 0 <= w < W and x[n, c, h, w] > best:
                                best, arg = x[n, c, h, w], h * W + w
                    y[n, c, i, j], idx[n, c, i, j] = best, arg
                    gx[n, c, arg // W, arg % W] += gy[n, c, i, j]
    return y, idx, gx


def naive_avg_pool(x, gy, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    (kh, kw), (ph, pw) = _p(kernel_size), _p(padding)
    sh, sw = _p(stride) if stride is not None else (kh, kw)
    N, C, H, W = x.shape
    Ho, Wo = _n_out(H, kh, sh, ph, 1, ceil_mode), _n_out(W, kw, sw, pw, 1, ceil_mode)
    y, gx = np.zeros((N, C, Ho, Wo)), np.zeros_like(x)
    for i in range(Ho):
        for j in range(Wo):
            h0, w0 = i * sh - ph, j * sw - pw
            h1, w1 = min(h0 + kh, H + ph), min(w0 + kw, W + pw)
            pool = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
            div = pool if count_include_pad else (h1 - h0) * (w1 - w0)
            y[:, :, i, j] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / div
            gx[:, :, h0:h1, w0:w1] += gy[:, :, i, j][:, :, None, None] / div
    return y, gx


def _run(fn, x, gy):
    t = cp.Tensor(x, requires_grad=True)
    out = fn(t)
    y = out[0] if isinstance(out, tuple) else out
    y.backward(cp.Tensor(gy))
    return out, t.grad.numpy()


MAX_CASES = [
    ((2, 3, 9, 8), dict(kernel_size=2)),
    ((1, 2, 7, 7), dict(kernel_size=3, stride=2)),
    ((2, 1, 7, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 8, 7), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 1))),
    ((1, 1, 1, 1), dict(kernel_size=1)),
    ((1, 3, 5, 6), dict(kernel_size=2, stride=1, padding=1, dilation=2, ceil_mode=True)),
    ((1, 1, 10, 11), dict(kernel_size=(2, 4), stride=(3, 2), padding=(1, 2), ceil_mode=True)),
    ((3, 4, 6), dict(kernel_size=2, ceil_mode=True)),  # unbatched (C, H, W)
]


@pytest.mark.parametrize("shape,kw", MAX_CASES)
def test_max_pool_parity_with_indices(shape, kw):
    x = distinct(*shape, seed=1)
    parity(lambda t: F.max_pool2d(t, return_indices=True, **kw),
           lambda t: TF.max_pool2d(t, return_indices=True, **kw), x, noncontig=True)
    # values-only path (no indices, no gradient wanted)
    parity(lambda t: F.max_pool2d(t, **kw), lambda t: TF.max_pool2d(t, **kw), x, grad=False)


@pytest.mark.parametrize("shape,kw", MAX_CASES[:7])
def test_max_pool_matches_naive_loop(shape, kw):
    x = distinct(*shape, seed=2)
    gy = randn(*F.max_pool2d(cp.Tensor(x), **kw).shape, seed=3)
    (y, idx), gx = _run(lambda t: F.max_pool2d(t, return_indices=True, **kw), x, gy)
    ry, ridx, rgx = naive_max_pool(x, gy, **kw)
    np.testing.assert_array_equal(y.detach().numpy(), ry)
    np.testing.assert_array_equal(idx.numpy(), ridx)
    np.testing.assert_allclose(gx, rgx, rtol=1e-12, atol=1e-12)


def test_max_pool_ties_go_to_first_max_like_torch():
    # values from {0, 1, 2}: nearly every window has a tie for its maximum
    x = np.random.default_rng(4).integers(0, 3, size=(2, 3, 9, 9)).astype(np.float64)
    for kw in [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=1)]:
        parity(lambda t, kw=kw: F.max_pool2d(t, return_indices=True, **kw),
               lambda t, kw=kw: TF.max_pool2d(t, return_indices=True, **kw), x)
    y, idx = F.max_pool2d(cp.Tensor(np.ones((1, 1, 2, 2))), 2, return_indices=True)
    assert idx.numpy().item() == 0  # all four equal: the first (top-left) wins


def test_max_pool_nan_and_neg_inf_like_torch():
    x = distinct(1, 2, 6, 6, seed=5)
    x[0, 0, 1, 2] = np.nan
    x[0, 1, :3, :3] = -np.inf  # a window (with padding) whose real values are all -inf
    kw = dict(kernel_size=3, stride=2, padding=1)
    parity(lambda t: F.max_pool2d(t, return_indices=True, **kw),
           lambda t: TF.max_pool2d(t, return_indices=True, **kw), x, grad=False)
    parity(lambda t: F.max_pool2d(t, **kw), lambda t: TF.max_pool2d(t, **kw), x, grad=False)


def test_max_pool_window_wholly_in_padding():
    # dilation 3 puts both taps of every row-window in the padding: -inf, PyTorch's (out-of-plane)
    # index, and no gradient
    x, kw = distinct(1, 2, 2, 3, seed=16), dict(kernel_size=2, stride=1, padding=1, dilation=3)
    parity(lambda t: F.max_pool2d(t, return_indices=True, **kw),
           lambda t: TF.max_pool2d(t, return_indices=True, **kw), x, grad=False)
    _, gx = _run(lambda t: F.max_pool2d(t, **kw), x, np.ones((1, 2, 1, 2)))
    assert not gx.any()


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_total_gradient_is_conserved_without_overlap(pool):
    x, gy = distinct(2, 3, 8, 6, seed=6), randn(2, 3, 4, 3, seed=7)
    fn = (lambda t: F.max_pool2d(t, 2)) if pool == "max" else (lambda t: F.avg_pool2d(t, 2))
    _, gx = _run(fn, x, gy)
    np.testing.assert_allclose(gx.sum(), gy.sum(), rtol=1e-12)
    if pool == "max":  # the whole gradient goes to one position per window
        assert np.count_nonzero(gx) == gy.size
    else:  # spread equally: each input gets a quarter of its window's gradient
        np.testing.assert_allclose(gx, np.repeat(np.repeat(gy, 2, 2), 2, 3) / 4, rtol=1e-12)


def test_overlapping_max_windows_accumulate():
    x = distinct(1, 1, 5, 5, seed=8) - 100.0
    x[0, 0, 2, 2] = 50.0  # the maximum of all four 3x3/stride-2 windows
    gy = randn(1, 1, 2, 2, seed=9)
    _, gx = _run(lambda t: F.max_pool2d(t, 3, 2), x, gy)
    expected = np.zeros_like(x)
    expected[0, 0, 2, 2] = gy.sum()
    np.testing.assert_allclose(gx, expected, rtol=1e-12)


AVG_CASES = [
    ((2, 3, 9, 8), dict(kernel_size=2)),
    ((1, 2, 7, 7), dict(kernel_size=3, stride=2)),
    ((2, 1, 7, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 1, 7, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ((1, 2, 8, 7), dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), count_include_pad=False)),
    ((1, 1, 1, 1), dict(kernel_size=1)),
    ((1, 2, 6, 5), dict(kernel_size=(4, 2), stride=(3, 1), padding=(2, 0), ceil_mode=True)),
    ((3, 5, 5), dict(kernel_size=2, ceil_mode=True, count_include_pad=False)),  # unbatched
]


@pytest.mark.parametrize("shape,kw", AVG_CASES)
def test_avg_pool_parity(shape, kw):
    parity(lambda t: F.avg_pool2d(t, **kw), lambda t: TF.avg_pool2d(t, **kw), randn(*shape, seed=10),
           noncontig=True)


@pytest.mark.parametrize("shape,kw", AVG_CASES[:7])
def test_avg_pool_matches_naive_loop(shape, kw):
    x = randn(*shape, seed=11)
    gy = randn(*F.avg_pool2d(cp.Tensor(x), **kw).shape, seed=12)
    y, gx = _run(lambda t: F.avg_pool2d(t, **kw), x, gy)
    ry, rgx = naive_avg_pool(x, gy, **kw)
    np.testing.assert_allclose(y.detach().numpy(), ry, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gx, rgx, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=(3, 2), stride=(2, 1), padding=1,
                                                               ceil_mode=True)])
def test_pool_gradcheck(kw):
    check_grad(lambda t: F.max_pool2d(t, **kw), distinct(1, 2, 5, 4, seed=13))
    check_grad(lambda t: F.avg_pool2d(t, count_include_pad=False, **kw), randn(1, 2, 5, 4, seed=14))


def test_pool_directional_gradcheck_larger_shape():
    x = distinct(2, 3, 17, 15, seed=15)
    assert cp.directional_gradcheck(lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True), [cp.Tensor(x, True)])
    assert cp.directional_gradcheck(lambda t: F.avg_pool2d(t, (3, 2), (2, 2), 1, ceil_mode=True,
                                                           count_include_pad=False), [cp.Tensor(x, True)])


@settings(max_examples=40, deadline=None)
@given(H=st.integers(1, 9), W=st.integers(1, 9), k=st.integers(1, 4), s=st.integers(1, 3),
       p=st.integers(0, 2), d=st.integers(1, 2), ceil=st.booleans())
def test_output_size_and_validity_agree_with_torch(H, W, k, s, p, d, ceil):
    x = np.zeros((1, 1, H, W), np.float32)
    for ours, theirs, kw in [(F.max_pool2d, TF.max_pool2d, dict(dilation=d)), (F.avg_pool2d, TF.avg_pool2d, {})]:
        try:
            ref = theirs(torch.from_numpy(x), k, s, p, ceil_mode=ceil, **kw).shape
        except RuntimeError:
            ref = None
        if ref is None:
            with pytest.raises(ValueError):
                ours(cp.Tensor(x), k, s, p, ceil_mode=ceil, **kw)
        else:
            assert ours(cp.Tensor(x), k, s, p, ceil_mode=ceil, **kw).shape == tuple(ref)


@settings(max_examples=40, deadline=None)
@given(H=st.integers(1, 8), W=st.integers(1, 8), kh=st.integers(1, 4), kw=st.integers(1, 3),
       s=st.integers(1, 3), p=st.integers(0, 2), d=st.integers(1, 2), ceil=st.booleans(), cip=st.booleans())
def test_random_pool_options_match_torch(H, W, kh, kw, s, p, d, ceil, cip):
    k, pad = (kh, kw), (min(p, kh // 2), min(p, kw // 2))
    assume(min(H, W) + 2 * min(pad) >= d * (max(k) - 1) + 1)
    x = distinct(2, 1, H, W, seed=H * 9 + W)
    opts = dict(kernel_size=k, stride=(s, max(1, s - 1)), padding=pad, ceil_mode=ceil)
    # a window wholly in the padding (-inf) makes PyTorch's backward write out of bounds: its
    # behaviour there is undefined (see test_max_pool_window_wholly_in_padding for ours)
    assume(np.isfinite(F.max_pool2d(cp.Tensor(x), dilation=d, **opts).numpy()).all())
    parity(lambda t: F.max_pool2d(t, dilation=d, return_indices=True, **opts),
           lambda t: TF.max_pool2d(t, dilation=d, return_indices=True, **opts), x)
    parity(lambda t: F.avg_pool2d(t, count_include_pad=cip, **opts),
           lambda t: TF.avg_pool2d(t, count_include_pad=cip, **opts), x)


def test_ceil_mode_kernel_larger_than_input():
    # PyTorch gives one window here (the kernel overhangs the 1-pixel-high input in ceil mode)
    x = np.arange(3.0).reshape(1, 1, 1, 3)
    parity(lambda t: F.avg_pool2d(t, 2, ceil_mode=True), lambda t: TF.avg_pool2d(t, 2, ceil_mode=True), x)
    x = np.arange(4.0).reshape(1, 1, 2, 2) * 0.37
    parity(lambda t: F.max_pool2d(t, 3, 2, ceil_mode=True), lambda t: TF.max_pool2d(t, 3, 2, ceil_mode=True), x)


@pytest.mark.parametrize("fn", [F.max_pool2d, F.avg_pool2d])
def test_pool_errors(fn):
    x = cp.Tensor(np.zeros((1, 1, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"kernel extent 5 .*larger than the padded input 4"):
        fn(x, 5)
    with pytest.raises(ValueError, match="padding should be at most half"):
        fn(x, 2, padding=2)
    with pytest.raises(ValueError, match="padding should be at most half"):
        fn(x, (3, 1), padding=(1, 1))
    with pytest.raises(ValueError, match=r"3-D \(C, H, W\) or 4-D.*\(4, 4\)"):
        fn(cp.Tensor(np.zeros((4, 4), np.float32)), 2)
    with pytest.raises(ValueError, match="stride"):
        fn(x, 2, stride=0)
    with pytest.raises(ValueError, match="pair"):
        fn(x, (2, 2, 2))
    with pytest.raises(TypeError, match="expected a Tensor"):
        fn(np.zeros((1, 1, 4, 4)), 2)


def test_max_pool_cost_counts():
    c = F.pooling.max_pool2d_cost((2, 3, 8, 8), 3, 2, 1)
    assert c == dict(macs=0, flops=2 * 3 * 4 * 4 * 8, bytes=2 * 3 * 64 * 4 + 2 * 3 * 16 * 12)
    c = F.pooling.avg_pool2d_cost((1, 1, 4, 4), 2)
    assert c["macs"] == 0 and c["bytes"] == (16 + 4) * 4 and c["flops"] == 4 * 2 + 2 * 2 + 4
