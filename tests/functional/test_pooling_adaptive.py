"""adaptive_avg_pool2d, global pooling and max_unpool2d: parity, naive references, gradcheck, errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from parity import check_grad, distinct, parity, randn


def naive_adaptive_avg(x, out):
    N, C, H, W = x.shape
    y = np.zeros((N, C, *out))
    for i in range(out[0]):
        h0, h1 = (i * H) // out[0], math.ceil((i + 1) * H / out[0])
        for j in range(out[1]):
            w0, w1 = (j * W) // out[1], math.ceil((j + 1) * W / out[1])
            y[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return y


@pytest.mark.parametrize("shape,out", [
    ((2, 3, 7, 5), (3, 2)),     # sizes that do not divide: overlapping bins
    ((1, 2, 8, 8), 4),
    ((2, 1, 5, 9), (None, 4)),  # None keeps that size
    ((1, 1, 1, 1), 1),
    ((1, 2, 3, 4), (5, 7)),     # larger than the input: bins repeat pixels
    ((3, 6, 5), (2, 3)),        # unbatched
])
def test_adaptive_avg_pool_parity(shape, out):
    parity(lambda t: F.adaptive_avg_pool2d(t, out), lambda t: TF.adaptive_avg_pool2d(t, out),
           randn(*shape, seed=1), noncontig=True)


def test_adaptive_avg_pool_naive_and_gradcheck():
    x = randn(2, 2, 7, 6, seed=2)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(cp.Tensor(x), (3, 4)).numpy(),
                               naive_adaptive_avg(x, (3, 4)), rtol=1e-12, atol=1e-14)
    check_grad(lambda t: F.adaptive_avg_pool2d(t, (3, 4)), randn(1, 2, 5, 7, seed=3))


def test_global_pools_parity_and_gradcheck():
    x = distinct(2, 3, 5, 4, seed=4)
    parity(F.global_avg_pool2d, lambda t: TF.adaptive_avg_pool2d(t, 1), x, noncontig=True)
    parity(F.global_max_pool2d, lambda t: TF.adaptive_max_pool2d(t, 1), x, noncontig=True)
    parity(F.global_max_pool2d, lambda t: TF.adaptive_max_pool2d(t, 1), distinct(3, 1, 1, seed=5))
    check_grad(F.global_avg_pool2d, randn(1, 2, 3, 3, seed=6))
    check_grad(F.global_max_pool2d, distinct(1, 2, 3, 3, seed=7))


def test_global_max_pool_tie_goes_to_first_max_and_conserves_gradient():
    x = np.zeros((1, 2, 3, 3))
    x[0, 0, [0, 2], [1, 2]] = 5.0  # two equal maxima: (0, 1) comes first
    t = cp.Tensor(x, requires_grad=True)
    F.global_max_pool2d(t).backward(cp.Tensor(np.array([2.0, 3.0]).reshape(1, 2, 1, 1)))
    g = t.grad.numpy()
    assert g[0, 0, 0, 1] == 2.0 and np.count_nonzero(g[0, 0]) == 1
    assert g[0, 1, 0, 0] == 3.0 and np.count_nonzero(g[0, 1]) == 1  # all zeros: the first
    assert g.sum() == 5.0


@pytest.mark.parametrize("shape,kw,out", [
    ((2, 3, 8, 6), dict(kernel_size=2), None),
    ((1, 2, 7, 9), dict(kernel_size=2), (7, 9)),                       # recover the odd size
    ((1, 2, 9, 9), dict(kernel_size=3, stride=2, padding=1), None),    # overlapping windows
    ((2, 1, 6, 7), dict(kernel_size=(3, 2), stride=(2, 1)), (1, 1, 6, 7)),
])
def test_max_pool_unpool_round_trip_parity(shape, kw, out):
    x = distinct(*shape, seed=8)
    ours = F.max_pool2d(cp.Tensor(x), return_indices=True, **kw)
    theirs = TF.max_pool2d(torch.from_numpy(x), return_indices=True, **kw)
    np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())
    y, idx = ours[0].numpy(), ours[1].numpy()
    parity(lambda v, i: F.max_unpool2d(v, i, output_size=out, **kw),
           lambda v, i: TF.max_unpool2d(v, i, output_size=out, **kw), y, idx)
    # round trip: every pooled maximum is back at its place, all other positions are 0
    up = F.max_unpool2d(cp.Tensor(y), cp.Tensor(idx), output_size=out, **kw).numpy()
    flat, src = up.reshape(*up.shape[:2], -1), x.reshape(*x.shape[:2], -1)
    kept = np.zeros(flat.shape, bool)
    np.put_along_axis(kept, idx.reshape(*idx.shape[:2], -1), True, axis=2)
    if up.shape == x.shape:
        np.testing.assert_array_equal(flat[kept], src[kept])
    assert not flat[~kept].any()
    planes = idx.reshape(-1, idx.shape[-2] * idx.shape[-1])
    if all(np.unique(row).size == row.size for row in planes):
        # gradcheck only without repeated indices: where overlapping windows share a maximum only
        # the last write survives, yet the backward gathers for every input (as PyTorch's does)
        check_grad(lambda v: F.max_unpool2d(v, cp.Tensor(idx), output_size=out, **kw), y)


def test_unpool_errors():
    y, idx = F.max_pool2d(cp.Tensor(distinct(1, 1, 4, 4, seed=9)), 2, return_indices=True)
    with pytest.raises(ValueError, match=r"indices of shape \(1, 1, 2, 1\) do not match the input shape "
                                         r"\(1, 1, 2, 2\)"):
        F.max_unpool2d(y, idx.numpy()[..., :1], 2)
    with pytest.raises(TypeError, match="indices must be integers"):
        F.max_unpool2d(y, idx.numpy().astype(np.float32), 2)
    with pytest.raises(ValueError, match=r"must lie in \[0, 16\)"):
        F.max_unpool2d(y, idx.numpy() + 16, 2)
    with pytest.raises(ValueError, match=r"strictly within stride \(2, 2\) of the default size \(4, 4\)"):
        F.max_unpool2d(y, idx, 2, output_size=(6, 4))
    with pytest.raises(ValueError, match="3-D"):
        F.max_unpool2d(cp.Tensor(np.zeros((2, 2))), np.zeros((2, 2), np.int64), 2)


def test_adaptive_and_global_errors():
    x = cp.Tensor(np.zeros((1, 1, 4, 4)))
    for bad in [0, (2, 0), (1, 2, 3), 1.5]:
        with pytest.raises(ValueError, match="adaptive_avg_pool2d: output_size"):
            F.adaptive_avg_pool2d(x, bad)
    for fn in (F.adaptive_avg_pool2d, F.global_avg_pool2d, F.global_max_pool2d):
        args = (1,) if fn is F.adaptive_avg_pool2d else ()
        with pytest.raises(ValueError, match=r"4-D \(N, C, H, W\) input, got shape \(4,\)"):
            fn(cp.Tensor(np.zeros(4)), *args)
        with pytest.raises(TypeError, match="expected a Tensor"):
            fn(np.zeros((1, 1, 2, 2)), *args)


def test_costs():
    from cvprimer.functional import pooling as P
    assert P.global_pool2d_cost((2, 3, 4, 5)) == dict(macs=0, flops=2 * 3 * 20, bytes=(120 + 6) * 4)
    assert P.max_unpool2d_cost((1, 2, 3, 3), 2) == dict(macs=0, flops=0, bytes=18 * 12 + 2 * 36 * 4)
    c = P.adaptive_avg_pool2d_cost((1, 1, 4, 4), 2)
    assert c["flops"] == 16 + 4 and c["bytes"] == (16 + 4) * 4


@pytest.mark.parametrize("shape,out", [
    ((2, 3, 7, 5), (3, 2)),       # overlapping bins
    ((1, 2, 20, 17), (6, 5)),     # H W H_out W_out > 4096: the separable products by default
    ((3, 40, 2, 2), 1),           # a network's global pool on 2x2 maps
    ((1, 2, 3, 4), (5, 7)),       # bins repeat pixels
])
@pytest.mark.parametrize("one_gemm", [False, True])
def test_adaptive_avg_pool_both_paths_agree_with_torch(monkeypatch, shape, out, one_gemm):
    from cvprimer.functional.pooling import adaptive

    # the one-product path (kron(P_h, P_w)) for every size, or only for global pools
    monkeypatch.setattr(adaptive, "_ONE_GEMM_MAX", 10**9 if one_gemm else 0)
    x = randn(*shape, seed=8)
    parity(lambda t: F.adaptive_avg_pool2d(t, out), lambda t: TF.adaptive_avg_pool2d(t, out), x, noncontig=True)
    if len(shape) == 4:
        o = (out, out) if isinstance(out, int) else out
        np.testing.assert_allclose(F.adaptive_avg_pool2d(cp.Tensor(x), out).numpy(), naive_adaptive_avg(x, o),
                                   rtol=1e-12, atol=1e-14)
