"""The compiled batch-columns path of strided convs (``conv/_strided.py``, ``columns_jit``): the gather and
scatter kernels against the NumPy im2col/col2im, conv2d and conv_transpose2d on that path against PyTorch
(forward and the x, W, b gradients, float32 and float64, whole batch and split over the pool), float64
gradchecks, and the lowering taken only where it should be."""

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

# conv2d cases on the columns_jit path: (x shape, w shape, options)
CONV = [
    ((2, 16, 8, 8), (8, 16, 3, 3), dict(stride=2, padding=1)),  # ResNet's downsampling conv
    ((2, 4, 9, 11), (4, 4, 3, 3), dict(stride=2)),  # odd sizes, no padding: the last row/col never read
    ((1, 8, 12, 10), (6, 4, 5, 3), dict(stride=(2, 3), padding=(2, 1), groups=2)),  # groups, unequal strides
    ((2, 3, 15, 15), (5, 3, 7, 7), dict(stride=2, padding=3)),  # a 7x7/2 stem
    ((2, 4, 13, 11), (3, 4, 3, 3), dict(stride=2, padding=2, dilation=2)),  # dilated: every tap in phase 0
    ((1, 4, 7, 8), (3, 4, 3, 3), dict(stride=3, padding=2, dilation=(1, 2))),  # d not a multiple of s
    ((3, 4, 5, 5), (2, 4, 3, 3), dict(stride=4, padding=4)),  # padding > k: windows wholly in the padding
    ((2, 20, 6, 6), (4, 20, 3, 1), dict(stride=(1, 2), padding=(1, 0))),  # one axis stride 1
]
# conv_transpose2d cases whose dual conv takes the path (weights (C_in, C_out/g, k_h, k_w))
TRANSPOSED = [
    ((2, 8, 4, 4), (8, 16, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((1, 4, 5, 7), (4, 4, 3, 5), dict(stride=(2, 3), padding=(1, 2), output_padding=(1, 2), groups=2)),
    ((2, 3, 6, 5), (3, 4, 3, 3), dict(stride=2, dilation=2)),
]


def _force(use_settings, split: bool, on: bool = True) -> None:
    use_settings(numba=True, conv_strided_jit=on, threads=2, min_chunk_elements=1 if split else 10**12)


def test_the_cases_take_the_path_and_the_switches_turn_it_off():
    for xs, ws, kw in CONV:
        g = conv_geometry("t", xs[2:], ws[2:], kw["stride"], kw.get("padding", 0), kw.get("dilation", 1),
                          kw.get("groups", 1))
        with settings.override(numba=True):
            assert plan(xs, ws, g, 4).name == plan(xs, ws, g, 8).name == "columns_jit"
            assert plan(xs, ws, g, 2).name != "columns_jit"  # float16: numba has no float16 arithmetic
            with settings.override(conv_strided_jit=False):
                assert plan(xs, ws, g, 4).name != "columns_jit"
            with settings.override(conv_keep_cols_bytes=0):  # columns too large to keep: the polyphase pieces
                assert plan(xs, ws, g, 4).name == "phases"
        with settings.override(numba=False):
            assert plan(xs, ws, g, 4).name != "columns_jit"
    # not taken: stride 1 (with conv_cols_jit_below off: few channels take it, test_conv_stride1_jit.py),
    # k a multiple of s (s2d), pointwise
    with settings.override(numba=True, conv_cols_jit_below=0):
        for hw, k, s, p in [((8, 8), (3, 3), 1, 1), ((8, 8), (4, 4), 2, 1), ((8, 8), (1, 1), 2, 0)]:
            g = conv_geometry("t", hw, k, s, p, 1, 1)
            assert plan((2, 4) + hw, (4, 4) + k, g, 4).name != "columns_jit"
        g = conv_geometry("t", (12, 12), (3, 3), 2, 1, 1, 1)  # few inputs per output (3 x 3 x 3 <= 32): NumPy
        assert plan((2, 3, 12, 12), (4, 3, 3, 3), g, 4).name == "columns"
        with settings.override(conv_cols_below=26):
            assert plan((2, 3, 12, 12), (4, 3, 3, 3), g, 4).name == "columns_jit"


@pytest.mark.parametrize("xs,ws,kw", CONV)
def test_gather_and_scatter_match_im2col_and_col2im(xs, ws, kw):
    """The kernels against the NumPy reference lowering, exactly (float64: a copy and sums in the same
    tap order)."""
    g = conv_geometry("t", xs[2:], ws[2:], kw["stride"], kw.get("padding", 0), kw.get("dilation", 1),
                      kw.get("groups", 1))
    x = randn(*xs, seed=1)
    N, C, H, W = xs
    ref = lower(x, g)  # (N, G, K, P)
    cols = _strided.columns(x, g)  # (G, K, N P)
    G, K = ref.shape[1:3]
    np.testing.assert_array_equal(cols, ref.transpose(1, 2, 0, 3).reshape(G, K, -1))
    gc = randn(N, *g.out, C * g.k[0] * g.k[1], seed=2)  # a columns' gradient, channels last: scattered both ways
    gx = np.empty(xs)
    taps, Q = _strided._frame(g, gc.dtype)
    _strided._scatter(gc, taps, g.s[0], g.s[1], g.pads[0], g.pads[2], Q, gx)
    pt, pb, pl, pr = g.pads
    gcn = gc.reshape(N, *g.out, C, *g.k).transpose(0, 3, 4, 5, 1, 2)  # (N, C, k_h, k_w, H_out, W_out)
    want = col2im(np.ascontiguousarray(gcn), (H + pt + pb, W + pl + pr), g.s, g.d)[:, :, pt:pt + H, pl:pl + W]
    np.testing.assert_allclose(gx, want, rtol=1e-13, atol=1e-13)
    assert np.abs(gx).max() > 0.5  # something was scattered


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
    x, w, b = randn(*xs, seed=6), randn(*ws, seed=7), randn(ws[1] * g, seed=8)
    parity(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw),
           x, w, b, dtypes=DTYPES)


@pytest.mark.parametrize("i", [1, 2, 4])
def test_strided_jit_gradcheck(use_settings, i):
    _force(use_settings, False)
    xs, ws, kw = CONV[i]
    x, w, b = randn(1, *xs[1:], seed=9), randn(*ws, seed=10), randn(ws[0], seed=11)
    check_grad(lambda x, w, b: F.conv2d(x, w, b, **kw), x, w, b)
    xs, ws, kw = TRANSPOSED[i % len(TRANSPOSED)]
    x, w, b = randn(1, *xs[1:], seed=12), randn(*ws, seed=13), randn(ws[1] * kw.get("groups", 1), seed=14)
    check_grad(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), x, w, b)
