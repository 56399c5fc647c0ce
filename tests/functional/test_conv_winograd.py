"""Winograd F(2x2, 3x3) lowering of 3x3 stride-1 convs (``functional/conv/_winograd.py``): PyTorch parity of
the output and the x, W, b gradients (randomized shapes with odd sizes, padding 0/1/2, batch 1, float32 and
float64), agreement with the shifted-GEMM lowering it replaces, conv_transpose2d through the same kernels,
float32 error against float64, and ``choose()`` taking it only where it applies."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.core import jit
from cvprimer.core.settings import settings
from cvprimer.functional.conv._geometry import conv_geometry
from cvprimer.functional.conv._kernels import choose
from cvprimer.functional.conv._winograd import wino_forward, wino_grad_input, wino_grad_weight
from parity import parity, randn

pytestmark = pytest.mark.skipif(not jit.available(), reason="numba not installed (Winograd needs the kernels)")

# every 3x3 stride-1 conv takes Winograd here, however few its channels and tiles
FORCE = dict(numba=True, conv_winograd=True, conv_winograd_min_channels=1, conv_winograd_min_tiles=0)


def _shapes(count, seed):
    """Random (N, C_in, C_out, H, W, padding): odd and even sizes down to the smallest the padding allows."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        p = k % 3
        lo = max(1, 3 - 2 * p)
        out.append((1 if k % 4 == 0 else int(rng.integers(2, 4)), int(rng.integers(1, 7)), int(rng.integers(1, 7)),
                    int(rng.integers(lo, 12)), int(rng.integers(lo, 12)), p))
    return out


def _name(x_shape, w_shape, padding, **kw):
    g = conv_geometry("t", x_shape[2:], w_shape[2:], kw.pop("stride", 1), padding, kw.pop("dilation", 1),
                      kw.get("groups", 1))
    return choose(g, x_shape[1], w_shape, x_shape[0]).name


@pytest.mark.parametrize("n,c,o,h,w,p", _shapes(12, seed=7))
def test_winograd_matches_pytorch(n, c, o, h, w, p):
    x, wt, b = randn(n, c, h, w, seed=h), randn(o, c, 3, 3, seed=w + 1), randn(o, seed=3)
    with settings.override(**FORCE):
        assert _name(x.shape, wt.shape, p) == "winograd"
        parity(lambda x, w, b: F.conv2d(x, w, b, padding=p), lambda x, w, b: TF.conv2d(x, w, b, padding=p),
               x, wt, b, noncontig=(h % 2 == 1))


@pytest.mark.parametrize("requires_grad", [[True, False], [False, True]])
def test_winograd_partial_grads(requires_grad):
    x, wt = randn(2, 5, 9, 7, seed=1), randn(4, 5, 3, 3, seed=2)
    with settings.override(**FORCE):
        parity(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1), x, wt,
               requires_grad=requires_grad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,c,o,h,w,p", [(3, 16, 16, 16, 16, 1), (2, 8, 12, 13, 9, 0), (1, 6, 5, 7, 10, 2)])
def test_winograd_agrees_with_the_shifted_gemms(n, c, o, h, w, p, dtype):
    """Same y, gx, gW as the rows lowering (the path these convs took before), across block sizes and a
    batch split over two worker threads."""
    x, wt = randn(n, c, h, w, seed=5).astype(dtype), randn(o, c, 3, 3, seed=6).astype(dtype)
    gy_shape = (n, o, h + 2 * p - 2, w + 2 * p - 2)
    gy = randn(*gy_shape, seed=8).astype(dtype)

    def run(**kw):
        with settings.override(**kw):
            xt, wtt = cp.Tensor(x, requires_grad=True), cp.Tensor(wt, requires_grad=True)
            y = F.conv2d(xt, wtt, padding=p)
            y.backward(cp.Tensor(gy))
            return y.data, xt.grad.data, wtt.grad.data

    ref = run(conv_winograd=False)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for kw in (FORCE, dict(FORCE, conv_winograd_block_bytes=1),
               dict(FORCE, threads=2, min_chunk_elements=1)):
        for name, a, b in zip(("y", "gx", "gW"), run(**kw), ref, strict=True):
            scale = max(1.0, float(np.abs(b).max()))
            np.testing.assert_allclose(a, b, rtol=tol["rtol"], atol=tol["atol"] * scale, err_msg=f"{name} {kw}")


@pytest.mark.parametrize("p", [0, 1, 2])
def test_conv_transpose_stride1_through_winograd(p):
    """conv_transpose2d 3x3 stride 1 is the input gradient of the conv (and its backward the conv)."""
    x, wt, b = randn(2, 6, 7, 8, seed=11), randn(6, 5, 3, 3, seed=12), randn(5, seed=13)
    with settings.override(**FORCE):
        parity(lambda x, w, b: F.conv_transpose2d(x, w, b, padding=p),
               lambda x, w, b: TF.conv_transpose2d(x, w, b, padding=p), x, wt, b)


def test_winograd_float32_error_near_the_direct_conv():
    """float32 error against float64 on a ResNet-20-like shape: within 3x the shifted GEMMs' own error
    (measured max |error| / max |value|: 2-4e-7 for y, gx and gW on 8x16x16x16, 32x16x32x32 and 8x64x8x8,
    at most 1.9x the shifted GEMMs' and below PyTorch's own float32 conv's 3-40e-7)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 16, 16, 16)).astype(np.float32)
    wt = (rng.standard_normal((16, 16, 3, 3)) / 12).astype(np.float32)
    gy = rng.standard_normal((8, 16, 16, 16)).astype(np.float32)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wtt = torch.tensor(wt, dtype=torch.float64, requires_grad=True)
    yt = TF.conv2d(xt, wtt, padding=1)
    yt.backward(torch.tensor(gy, dtype=torch.float64))
    truth = [yt.detach().numpy(), xt.grad.numpy(), wtt.grad.numpy()]
    g = conv_geometry("t", (16, 16), (3, 3), 1, 1, 1, 1)

    def errs(**kw):
        with settings.override(**kw):
            xc, wc = cp.Tensor(x, requires_grad=True), cp.Tensor(wt, requires_grad=True)
            y = F.conv2d(xc, wc, padding=1)
            y.backward(cp.Tensor(gy))
            got = [y.data, xc.grad.data, wc.grad.data]
        return [float(np.abs(a - t).max() / np.abs(t).max()) for a, t in zip(got, truth, strict=True)]

    with settings.override(**FORCE):
        direct = [wino_forward(x, wt, g)[0], wino_grad_input(gy, wt, x.shape, g), wino_grad_weight(x, gy, wt.shape, g)]
    ours = [float(np.abs(a - t).max() / np.abs(t).max()) for a, t in zip(direct, truth, strict=True)]
    assert ours == errs(**FORCE)  # the op runs these kernels
    rows = errs(conv_winograd=False)
    for name, e, r in zip(("y", "gx", "gW"), ours, rows, strict=True):
        assert e < 1e-6, f"{name}: Winograd float32 error {e:.3g}"
        assert e <= 3 * r, f"{name}: Winograd error {e:.3g} vs the shifted GEMMs' {r:.3g}"


def test_choose_takes_winograd_only_where_it_applies():
    resnet = (128, 16, 32, 32), (16, 16, 3, 3)
    with settings.override(numba=True):
        assert _name(*resnet, 1) == "winograd"
        assert _name((128, 64, 8, 8), (64, 64, 3, 3), 1) == "winograd"
        assert _name((16, 16, 64, 64), (16, 16, 3, 3), 2) == "winograd"
        assert _name(*resnet, 3) == "rows"  # padding beyond 2
        assert _name(*resnet, 1, dilation=2) == "rows"
        assert _name(resnet[0], (16, 8, 3, 3), 1, groups=2) == "rows"
        assert _name(*resnet, 1, stride=2) != "winograd"
        assert _name(resnet[0], (16, 16, 5, 5), 2) == "rows"
        assert _name((128, 3, 32, 32), (16, 3, 3, 3), 1) == "columns"  # RGB input: the im2col columns
        assert _name((128, 16, 32, 32), (3, 16, 3, 3), 1) == "rows"  # fewer output channels than the minimum
        assert _name((8, 16, 8, 8), (16, 16, 3, 3), 1) == "winograd"  # 128 tiles
        assert _name((7, 16, 8, 8), (16, 16, 3, 3), 1) == "rows"  # 112 tiles: below conv_winograd_min_tiles
        with settings.override(conv_winograd=False):
            assert _name(*resnet, 1) == "rows"
    with settings.override(numba=False):  # the NumPy reference path never takes the compiled transforms
        assert _name(*resnet, 1) == "rows"


def test_float16_convs_keep_the_shifted_gemms():
    g = conv_geometry("t", (8, 8), (3, 3), 1, 1, 1, 1)
    with settings.override(numba=True):
        assert choose(g, 16, (16, 16, 3, 3), 128, itemsize=2).name == "rows"
        x = cp.Tensor(randn(128, 16, 8, 8, seed=1).astype(np.float16))
        w = cp.Tensor(randn(16, 16, 3, 3, seed=2).astype(np.float16))
        y = F.conv2d(x, w, padding=1)
    ref = TF.conv2d(torch.tensor(x.data, dtype=torch.float32), torch.tensor(w.data, dtype=torch.float32), padding=1)
    assert y.dtype == np.float16
    np.testing.assert_allclose(y.data.astype(np.float32), ref.numpy(), rtol=1e-2, atol=2e-2 * float(ref.abs().max()))


def test_winograd_keeps_its_own_copy_of_x():
    """The weight gradient reads a copy of x made in the forward, never x itself (a later in-place change of x
    must not reach gW; the op declares a lowered copy, as the shifted GEMMs keep)."""
    x, wt = randn(2, 4, 6, 6, seed=1), randn(4, 4, 3, 3, seed=2)
    g = conv_geometry("t", (6, 6), (3, 3), 1, 1, 1, 1)
    y, saved = wino_forward(x, wt, g)
    assert not np.shares_memory(saved, x) and np.array_equal(saved, x)
    gy = randn(*y.shape, seed=3)
    expect = wino_grad_weight(x.copy(), gy, wt.shape, g)
    x[...] = 0
    np.testing.assert_array_equal(wino_grad_weight(saved, gy, wt.shape, g), expect)
