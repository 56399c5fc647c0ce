"""Stride-1 convs with few input channels on the compiled batch-columns path (``columns_jit``, chosen by
``settings.conv_cols_jit_below``): the lowering taken, the gather and scatter kernels at stride 1 against the
NumPy im2col/col2im, conv2d and conv_transpose2d on that path against PyTorch (forward and the x, W, b
gradients, float32 and float64, whole batch and split over the pool), and float64 gradchecks."""

import numpy as np
import pytest
import torch.nn.functional as TF

import cvprimer.functional as F
from cvprimer.core import jit
from cvprimer.core.settings import settings
from cvprimer.functional.conv import _strided
from cvprimer.functional.conv._geometry import conv_geometry
from cvprimer.functional.conv._kernels import lower, plan
from cvprimer.functional.conv._lowering import col2im
from parity import check_grad, parity, randn

pytestmark = pytest.mark.skipif(not jit.available(), reason="numba not installed")

DTYPES = [np.float32, np.float64]

# stride-1 conv2d cases on the path: (x shape, w shape, options); C_in/g below 12, more than 32 inputs per output
CONV = [
    ((3, 6, 14, 14), (16, 6, 5, 5), dict()),  # LeNet-5's conv2 (batch 3)
    ((1, 6, 9, 11), (5, 6, 5, 3), dict(padding=(2, 1))),  # batch 1, odd sizes, a rectangular kernel
    ((2, 4, 7, 8), (6, 4, 3, 3), dict(padding=1)),  # 3x3 with few tiles (not Winograd)
    ((2, 8, 9, 9), (6, 4, 3, 5), dict(padding=(1, 2), groups=2)),  # groups
    ((2, 5, 11, 10), (3, 5, 3, 3), dict(padding=2, dilation=2)),  # dilated
    ((2, 6, 8, 7), (4, 6, 4, 4), dict(padding="same")),  # even kernel: padding 1 before, 2 after
    ((2, 3, 6, 6), (4, 3, 5, 5), dict(padding=4)),  # padding >= k - 1: outer windows wholly in the padding
]
# conv_transpose2d cases whose dual conv takes the path (weights (C_in, C_out/g, k_h, k_w))
TRANSPOSED = [
    ((2, 16, 6, 6), (16, 6, 5, 5), dict()),  # LeNet-5's conv2 backwards
    ((1, 8, 5, 7), (8, 3, 3, 5), dict(padding=(1, 2), groups=2)),
]


def _geom(xs, ws, kw):
    return conv_geometry("t", xs[2:], ws[2:], 1, kw.get("padding", 0), kw.get("dilation", 1), kw.get("groups", 1))


def _force(use_settings, split: bool) -> None:
    use_settings(numba=True, threads=2, min_chunk_elements=1 if split else 10**12)


@pytest.mark.parametrize("xs,ws,kw", CONV)
def test_the_cases_take_the_path(xs, ws, kw):
    g = _geom(xs, ws, kw)
    with settings.override(numba=True):
        assert plan(xs, ws, g, 4).name == plan(xs, ws, g, 8).name == "columns_jit"
        assert plan(xs, ws, g, 2).name == "rows"  # float16: numba has no float16 arithmetic
        with settings.override(conv_cols_jit_below=0):
            assert plan(xs, ws, g, 4).name == "rows"
    with settings.override(numba=False):
        assert plan(xs, ws, g, 4).name == "rows"


@pytest.mark.parametrize("xs,ws,kw", CONV)
def test_gather_and_scatter_match_im2col_and_col2im(xs, ws, kw):
    """The kernels at stride 1 against the NumPy reference lowering, exactly (float64)."""
    g = _geom(xs, ws, kw)
    x = randn(*xs, seed=1)
    N, C, H, W = xs
    ref = lower(x, g)  # (N, G, K, P)
    cols = _strided.columns(x, g)  # (G, K, N P)
    G, K = ref.shape[1:3]
    np.testing.assert_array_equal(cols, ref.transpose(1, 2, 0, 3).reshape(G, K, -1))
    gc = randn(N, *g.out, C * g.k[0] * g.k[1], seed=2)
    gx = np.empty(xs)
    taps, Q = _strided._frame(g, gc.dtype)
    _strided._scatter(gc, taps, g.s[0], g.s[1], g.pads[0], g.pads[2], Q, gx)
    pt, pb, pl, pr = g.pads
    gcn = gc.reshape(N, *g.out, C, *g.k).transpose(0, 3, 4, 5, 1, 2)
    want = col2im(np.ascontiguousarray(gcn), (H + pt + pb, W + pl + pr), g.s, g.d)[:, :, pt:pt + H, pl:pl + W]
    np.testing.assert_allclose(gx, want, rtol=1e-13, atol=1e-13)
    assert np.abs(gx).max() > 0.5


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("xs,ws,kw", CONV)
def test_conv2d_on_the_path_agrees_with_torch(use_settings, xs, ws, kw, split):
    _force(use_settings, split)
    x, w, b = randn(*xs, seed=3), randn(*ws, seed=4), randn(ws[0], seed=5)
    parity(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), x, w, b,
           dtypes=DTYPES)


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("xs,ws,kw", TRANSPOSED)
def test_conv_transpose2d_on_the_path_agrees_with_torch(use_settings, xs, ws, kw, split):
    _force(use_settings, split)
    g = kw.get("groups", 1)
    p = kw.get("padding", 0)
    p = p if isinstance(p, tuple) else (p, p)
    out = (xs[0], ws[1] * g, xs[2] + ws[2] - 1 - 2 * p[0], xs[3] + ws[3] - 1 - 2 * p[1])
    dual = conv_geometry("t", out[2:], ws[2:], 1, p, 1, g)  # the conv whose input gradient this op is
    with settings.override(numba=True):
        assert plan(out, ws, dual, 4).name == "columns_jit"
    x, w, b = randn(*xs, seed=6), randn(*ws, seed=7), randn(ws[1] * g, seed=8)
    parity(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw),
           x, w, b, dtypes=DTYPES)


@pytest.mark.parametrize("i", [1, 3, 5])
def test_stride1_jit_gradcheck(use_settings, i):
    _force(use_settings, False)
    xs, ws, kw = CONV[i]
    x, w, b = randn(1, *xs[1:], seed=9), randn(*ws, seed=10), randn(ws[0], seed=11)
    check_grad(lambda x, w, b: F.conv2d(x, w, b, **kw), x, w, b)
