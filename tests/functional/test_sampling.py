"""interpolate / upsample: PyTorch parity (nearest, bilinear both align_corners, scale factors and
sizes up and down), a naive bilinear loop, gradcheck, adjointness, errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import cvprimer as cp
import cvprimer.functional as F
from parity import check_grad, parity, randn


def naive_bilinear(x, out, align_corners, scale=None):
    """Per output pixel: source coordinates by PyTorch's rule, then the 4-neighbour blend (float64)."""
    N, C, H, W = x.shape

    def src(o, n_in, n_out, s):
        if n_in == n_out:
            return float(o)
        if align_corners:
            return o * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        step = 1.0 / s if s is not None else n_in / n_out
        return max(step * (o + 0.5) - 0.5, 0.0)

    y = np.zeros((N, C, *out))
    for i in range(out[0]):
        sh = src(i, H, out[0], scale)
        h0 = min(int(math.floor(sh)), H - 1)
        h1, lh = min(h0 + 1, H - 1), min(max(sh - h0, 0.0), 1.0)
        for j in range(out[1]):
            sw = src(j, W, out[1], scale)
            w0 = min(int(math.floor(sw)), W - 1)
            w1, lw = min(w0 + 1, W - 1), min(max(sw - w0, 0.0), 1.0)
            y[:, :, i, j] = ((1 - lh) * ((1 - lw) * x[:, :, h0, w0] + lw * x[:, :, h0, w1])
                             + lh * ((1 - lw) * x[:, :, h1, w0] + lw * x[:, :, h1, w1]))
    return y


BILINEAR = [
    ((2, 3, 5, 7), dict(scale_factor=2)),
    ((1, 2, 5, 7), dict(scale_factor=1.5)),
    ((1, 1, 7, 5), dict(scale_factor=(0.5, 1.7))),
    ((2, 1, 5, 6), dict(size=(9, 4))),       # up along H, down along W
    ((1, 2, 9, 11), dict(size=(4, 3))),      # down
    ((1, 1, 1, 1), dict(size=(3, 2))),       # 1x1 image
    ((1, 1, 4, 3), dict(size=(1, 5))),       # one output row (align_corners: scale 0)
    ((1, 2, 6, 6), dict(scale_factor=1.2)),  # floor(6 * 1.2) = 7
    ((1, 1, 2, 3), dict(scale_factor=1.3)),  # floor(2 * 1.3) = 2: identity along H despite the scale
]


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape,kw", BILINEAR)
def test_bilinear_parity(shape, kw, align_corners):
    parity(lambda t: F.interpolate(t, mode="bilinear", align_corners=align_corners, **kw),
           lambda t: TF.interpolate(t, mode="bilinear", align_corners=align_corners, **kw),
           randn(*shape, seed=1), noncontig=True)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape,kw", [BILINEAR[i] for i in (1, 3, 4, 5, 6)])
def test_bilinear_matches_naive_loop(shape, kw, align_corners):
    x = randn(*shape, seed=2)
    y = F.interpolate(cp.Tensor(x), mode="bilinear", align_corners=align_corners, **kw).numpy()
    scale = kw.get("scale_factor")
    np.testing.assert_allclose(y, naive_bilinear(x, y.shape[2:], align_corners, scale), rtol=1e-12,
                               atol=1e-13)


NEAREST = [
    ((2, 3, 5, 7), dict(scale_factor=2)),
    ((1, 2, 5, 7), dict(scale_factor=1.5)),
    ((1, 1, 9, 7), dict(scale_factor=(0.5, 0.7))),
    ((2, 1, 5, 6), dict(size=(13, 4))),
    ((1, 2, 9, 11), dict(size=(4, 3))),
    ((1, 1, 1, 1), dict(size=3)),
    ((1, 1, 3, 3), dict(scale_factor=2.5)),
]


@pytest.mark.parametrize("shape,kw", NEAREST)
def test_nearest_parity(shape, kw):
    parity(lambda t: F.interpolate(t, **kw), lambda t: TF.interpolate(t, **kw), randn(*shape, seed=3),
           noncontig=True)


@settings(max_examples=60, deadline=None)
@given(H=st.integers(1, 9), W=st.integers(1, 9), sh=st.floats(0.3, 3.5), sw=st.floats(0.3, 3.5),
       mode=st.sampled_from(["nearest", "bilinear-False", "bilinear-True"]))
def test_random_scale_factors_match_torch(H, W, sh, sw, mode):
    mode, _, ac = mode.partition("-")
    kw = dict(mode=mode, align_corners=None if mode == "nearest" else ac == "True", scale_factor=(sh, sw))
    if math.floor(H * sh) < 1 or math.floor(W * sw) < 1:
        with pytest.raises(ValueError, match="empty output"):
            F.interpolate(cp.Tensor(np.zeros((1, 1, H, W))), **kw)
        return
    for dtype in (np.float32, np.float64):
        x = randn(1, 2, H, W, seed=H * 10 + W).astype(dtype)
        ours = F.interpolate(cp.Tensor(x), **kw).numpy()
        ref = TF.interpolate(torch.from_numpy(x), **kw).numpy()
        # same indices and weights as PyTorch (bit-equal in float32): only the blend may round apart
        tol = 2e-7 if dtype == np.float32 else 1e-13
        np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol)


def test_upsample_alias_and_gradcheck():
    x = randn(1, 2, 3, 4, seed=4)
    parity(lambda t: F.upsample(t, scale_factor=2, mode="bilinear"),
           lambda t: TF.interpolate(t, scale_factor=2, mode="bilinear"), x)
    for kw in [dict(mode="bilinear", size=(5, 3)), dict(mode="bilinear", scale_factor=1.5, align_corners=True),
               dict(mode="nearest", size=(5, 3)), dict(mode="nearest", scale_factor=1.5)]:
        check_grad(lambda t, kw=kw: F.interpolate(t, **kw), x)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_directional_gradcheck_larger_shape(mode):
    x = cp.Tensor(randn(2, 3, 13, 11, seed=7), requires_grad=True)
    assert cp.directional_gradcheck(lambda t: F.interpolate(t, size=(20, 7), mode=mode), [x])


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_backward_is_the_adjoint(mode):
    # <A x, g> == <x, A^T g>: the backward is the transpose of the (linear) forward
    x, g = randn(2, 3, 5, 4, seed=5), randn(2, 3, 7, 9, seed=6)
    t = cp.Tensor(x, requires_grad=True)
    y = F.interpolate(t, size=(7, 9), mode=mode)
    y.backward(cp.Tensor(g))
    np.testing.assert_allclose(np.sum(y.detach().numpy() * g), np.sum(x * t.grad.numpy()), rtol=1e-12)


def test_interpolate_errors():
    x = cp.Tensor(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match=r"mode must be one of \('nearest', .*\), got 'lanczos'"):
        F.interpolate(x, size=2, mode="lanczos")
    with pytest.raises(ValueError, match=r"or 5-D \(N, C, D, H, W\) input, got shape \(4, 4\)"):
        F.interpolate(cp.Tensor(np.zeros((4, 4))), size=2)
    with pytest.raises(ValueError, match=r"scale_factor 0.2 gives an empty output \(0, 0\)"):
        F.interpolate(x, scale_factor=0.2)
    with pytest.raises(ValueError, match="align_corners can only be set with the linear, bilinear, bicubic"):
        F.interpolate(x, size=2, align_corners=False)
    for bad in [0, (2, 0), (1, 2, 3), 2.5]:
        with pytest.raises(ValueError, match="size must be a positive int"):
            F.interpolate(x, size=bad)
    with pytest.raises(ValueError, match="scale_factor must be a positive number"):
        F.interpolate(x, scale_factor=-2)
    with pytest.raises(TypeError, match="expected a Tensor"):
        F.interpolate(np.zeros((1, 1, 2, 2)), size=3)


def test_interpolate_cost():
    from cvprimer.functional.sampling import interpolate_cost
    assert interpolate_cost((2, 3, 4, 5), scale_factor=2, mode="bilinear") == dict(
        macs=4 * 2 * 3 * 8 * 10, flops=0, bytes=(120 + 480) * 4)
    assert interpolate_cost((1, 1, 4, 4), size=2)["macs"] == 0
