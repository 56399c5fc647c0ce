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
        assert _name(resnet[0], (16, 8, 3, 3), 1, groups=2) != "winograd"  # rows, or columns_jit for few channels
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


# the tile transforms of _winograd_tiles.py against the matrices of Lavin & Gray, tile by tile (NumPy einsum on
# the tiles cut out of a zero-padded copy: slow, obviously right)
BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)


def _tile_order(a, th, tw):
    """(16, C, th, nb, tw) -> (16, C, nb, th, tw): the kernels order a block's tiles (tile row, image, column)."""
    return a.reshape(a.shape[0], a.shape[1], th, -1, tw).transpose(0, 1, 3, 2, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nb,c,h,w,pt,pl,th,tw", [
    (3, 2, 7, 9, 1, 1, 4, 5), (2, 3, 8, 8, 0, 0, 3, 3), (1, 2, 5, 6, 2, 2, 4, 4), (2, 1, 6, 7, 2, 1, 4, 4),
    (2, 2, 1, 1, 2, 2, 1, 1), (4, 2, 16, 16, 1, 1, 8, 8), (2, 2, 9, 4, 1, 0, 4, 2)])
def test_tile_transforms_match_the_matrices(nb, c, h, w, pt, pl, th, tw, dtype):
    from cvprimer.functional.conv._winograd import _buffer, _tiles
    from cvprimer.functional.conv._winograd_tiles import grad_tiles, input_tiles, output_tiles

    rng = np.random.default_rng(h * 31 + w)
    x = rng.standard_normal((nb, c, h, w)).astype(dtype)
    t = nb * th * tw
    # input: V[4a+b, c, tile] = (B^T d B)[a, b], d the 4x4 tile at (2i - pt, 2j - pl) of the zero-padded x
    xp = np.zeros((nb, c, 2 * th + 2, 2 * tw + 2))
    rows, cols = min(h, 2 * th + 2 - pt), min(w, 2 * tw + 2 - pl)
    xp[:, :, pt:pt + rows, pl:pl + cols] = x[:, :, :rows, :cols]
    d = np.stack([np.stack([xp[:, :, 2 * i:2 * i + 4, 2 * j:2 * j + 4] for j in range(tw)], 2)
                  for i in range(th)], 2)  # (nb, c, th, tw, 4, 4)
    want = np.einsum("xa,ncijab,yb->xyncij", BT, d, BT).reshape(16, nb, c, th, tw).transpose(0, 2, 1, 3, 4)
    buf, keep = _buffer(c, t, dtype), np.zeros_like(x)
    input_tiles(x, pt, pl, th, tw, buf, t, keep, True)
    np.testing.assert_allclose(_tile_order(_tiles(buf, c, t), th, tw), want, rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(keep, x)
    # output: y[n, o, 2i + u, 2j + v] = (A^T m A)[u, v], cropped
    m = rng.standard_normal((16, c, nb, th, tw))
    mbuf = _buffer(c, t, dtype)
    _tiles(mbuf, c, t)[...] = m.transpose(0, 1, 3, 2, 4).reshape(16, c, t)
    full = np.einsum("ux,xycnij,vy->nciujv", AT, m.reshape(4, 4, c, nb, th, tw), AT).reshape(
        nb, c, 2 * th, 2 * tw)
    for ho, wo in ((2 * th, 2 * tw), (2 * th - 1, 2 * tw - 1)):
        y = np.empty((nb, c, ho, wo), dtype)
        output_tiles(mbuf, th, tw, y, t)
        np.testing.assert_allclose(y, full[:, :, :ho, :wo], rtol=1e-6, atol=1e-5)
        # gradient tiles: Mb = A q A^T, q the 2x2 block of gy at (2i, 2j), zeros past gy
        gy = rng.standard_normal((nb, c, ho, wo)).astype(dtype)
        gp = np.zeros((nb, c, 2 * th, 2 * tw))
        gp[:, :, :ho, :wo] = gy
        q = gp.reshape(nb, c, th, 2, tw, 2).transpose(0, 1, 2, 4, 3, 5)  # (nb, c, th, tw, 2, 2)
        want = np.einsum("xu,ncijuv,yv->xyncij", AT.T, q, AT.T).reshape(16, nb, c, th, tw).transpose(0, 2, 1, 3, 4)
        gbuf = _buffer(c, t, dtype)
        grad_tiles(gy, th, tw, gbuf, t)
        np.testing.assert_allclose(_tile_order(_tiles(gbuf, c, t), th, tw), want, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("p", [0, 1, 2])
def test_winograd_blocks_of_several_images(p):
    """Blocks of 2 images and a last block of 1 (5 images), odd sizes: the (tile row, image, column) order of the
    tiles inside a block, against PyTorch."""
    x, wt, b = randn(5, 3, 9, 7, seed=21 + p), randn(4, 3, 3, 3, seed=22), randn(4, seed=23)
    th, tw = (9 + 2 * p - 1) // 2, (7 + 2 * p - 1) // 2
    per_image = 16 * (3 + 4) * th * tw * 4
    with settings.override(**FORCE, conv_winograd_block_bytes=2 * per_image + 4):
        parity(lambda x, w, b: F.conv2d(x, w, b, padding=p), lambda x, w, b: TF.conv2d(x, w, b, padding=p),
               x, wt, b)
