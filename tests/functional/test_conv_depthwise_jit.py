"""Depthwise conv on every path (the compiled per-plane loops of ``_depthwise_jit`` and the
channels-last kernels of ``_depthwise_nhwc`` with settings.numba, the NumPy tap-wise multiply-adds
of ``_depthwise`` without): PyTorch parity, float64 gradcheck, and the paths against each other,
over strides, padding, dilation, multipliers and odd shapes, with the channel split over two workers
or not; the channels-last kernels on MobileNet-like small maps, bit-identical whatever the thread count."""

import numpy as np
import pytest
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.core import jit
from cvprimer.core.settings import settings
from parity import DTYPES, check_grad, parity, randn

NUMBA = [False, True] if jit.available() else [False]

# (x shape, w shape (C m, 1, k_h, k_w), options)
CASES = [
    ((2, 3, 7, 6), (6, 1, 3, 3), dict(padding=1)),  # multiplier 2
    ((2, 4, 9, 8), (4, 1, 3, 3), dict(stride=2, padding=1)),  # strided, odd input
    ((1, 3, 8, 9), (9, 1, 3, 2), dict(stride=(2, 3), padding=(2, 0), dilation=(2, 1))),  # m 3, mixed
    ((2, 5, 5, 6), (5, 1, 5, 5), dict(padding=3)),  # padding > k // 2: taps fully outside
    ((3, 2, 4, 4), (2, 1, 3, 3), dict(dilation=2, padding="same")),
    ((2, 6, 1, 7), (6, 1, 1, 3), dict()),  # a 1-row image (conv1d-like)
    ((2, 4, 6, 6), (4, 1, 2, 2), dict(stride=2)),  # k a multiple of s
    ((2, 3, 11, 10), (3, 1, 3, 3), dict(stride=3, padding=2, dilation=2)),  # 3x3 polyphase, taps in 2 phases
    ((1, 2, 7, 9), (4, 1, 4, 3), dict(stride=(3, 2), padding=(3, 1))),  # m 2, even kernel, pad > stride
    ((2, 3, 9, 11), (3, 1, 5, 5), dict(stride=2, padding=3)),  # column pairs from an odd pad, odd width
    ((1, 2, 6, 1), (2, 1, 3, 3), dict(stride=2, padding=(1, 2))),  # a one-column image, even pad
]


# the NumPy path; the compiled per-plane kernels; the compiled channels-last kernels (small maps)
PATHS = [(False, 64)] + ([(True, 0), (True, 10**9)] if jit.available() else [])


@pytest.fixture(params=PATHS, ids=lambda v: "numpy" if not v[0] else ("planes" if v[1] == 0 else "nhwc"))
def path(request):
    numba, stack_below = request.param
    with settings.override(numba=numba, conv_dw_stack_below=stack_below):
        yield numba


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("xs,ws,kw", CASES)
def test_depthwise_agrees_with_torch(path, xs, ws, kw, split):
    with settings.override(threads=2, min_chunk_elements=1 if split else 10**12,
                           conv_dw_block_bytes=1 if split else 1 << 20):
        x, w, b = randn(*xs, seed=1), randn(*ws, seed=2), randn(ws[0], seed=3)
        parity(lambda x, w, b: F.conv2d(x, w, b, groups=xs[1], **kw),
               lambda x, w, b: TF.conv2d(x, w, b, groups=xs[1], **kw), x, w, b, dtypes=DTYPES)


@pytest.mark.parametrize("xs,ws,kw", CASES[:4])
def test_depthwise_gradcheck(path, xs, ws, kw):
    x, w = randn(*xs, seed=4), randn(*ws, seed=5)
    check_grad(lambda x, w: F.conv2d(x, w, groups=xs[1], **kw), x, w)


@pytest.mark.parametrize("xs,ws,kw", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_depthwise_matches_the_numpy_path(xs, ws, kw, dtype):
    if not jit.available():
        pytest.skip("numba not installed: only the NumPy path exists")
    x, w = randn(*xs, seed=6).astype(dtype), randn(*ws, seed=7).astype(dtype)
    out = {}
    for numba, stack_below in ((False, 64), (True, 0), (True, 10**9)):
        with settings.override(numba=numba, conv_dw_stack_below=stack_below):
            xt, wt = cp.Tensor(x, requires_grad=True), cp.Tensor(w, requires_grad=True)
            y = F.conv2d(xt, wt, groups=xs[1], **kw)
            gy = randn(*y.shape, seed=8).astype(dtype)
            (y * cp.Tensor(gy)).sum().backward()
            out[numba, stack_below] = (y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy())
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for key in ((True, 0), (True, 10**9)):
        for a, b in zip(out[False, 64], out[key], strict=True):
            np.testing.assert_allclose(b, a, rtol=tol, atol=tol)


# MobileNet-like small maps (the channels-last kernels' home ground): stride 1 and 2, batch 1, odd sizes,
# channel counts that leave a vector remainder, asymmetric "same" padding, a multiplier
SMALL = [
    ((1, 20, 4, 4), (20, 1, 3, 3), dict(padding=1)),
    ((3, 19, 5, 7), (19, 1, 3, 3), dict(stride=2, padding=1)),
    ((2, 33, 2, 2), (33, 1, 3, 3), dict(padding=1)),
    ((2, 9, 8, 8), (9, 1, 3, 3), dict(stride=2, padding=1)),
    ((2, 10, 6, 5), (10, 1, 4, 4), dict(padding="same")),
    ((2, 7, 5, 5), (14, 1, 3, 3), dict(stride=(1, 2), padding=(0, 2))),
]


@pytest.mark.parametrize("xs,ws,kw", SMALL)
def test_channels_last_depthwise_agrees_with_torch(xs, ws, kw):
    if not jit.available():
        pytest.skip("numba not installed")
    with settings.override(numba=True, conv_dw_stack_below=10**9):
        x, w, b = randn(*xs, seed=11), randn(*ws, seed=12), randn(ws[0], seed=13)
        parity(lambda x, w, b: F.conv2d(x, w, b, groups=xs[1], **kw),
               lambda x, w, b: TF.conv2d(x, w, b, groups=xs[1], **kw), x, w, b, dtypes=DTYPES)


@pytest.mark.parametrize("xs,ws,kw", SMALL[:3])
def test_channels_last_depthwise_gradcheck(xs, ws, kw):
    if not jit.available():
        pytest.skip("numba not installed")
    with settings.override(numba=True, conv_dw_stack_below=10**9):
        check_grad(lambda x, w: F.conv2d(x, w, groups=xs[1], **kw), randn(*xs, seed=14), randn(*ws, seed=15))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channels_last_depthwise_bits_do_not_depend_on_threads(dtype):
    if not jit.available():
        pytest.skip("numba not installed")
    x, w = randn(4, 37, 4, 4, seed=16).astype(dtype), randn(37, 1, 3, 3, seed=17).astype(dtype)
    gy = randn(4, 37, 2, 2, seed=18).astype(dtype)
    out = []
    for threads in (1, 2, 4):
        with settings.override(numba=True, conv_dw_stack_below=10**9, threads=threads, min_chunk_elements=1):
            xt, wt = cp.Tensor(x, requires_grad=True), cp.Tensor(w, requires_grad=True)
            y = F.conv2d(xt, wt, groups=37, stride=2, padding=1)
            (y * cp.Tensor(gy)).sum().backward()
            out.append((y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()))
    for other in out[1:]:
        for a, b in zip(out[0], other, strict=True):
            np.testing.assert_array_equal(b, a)
