"""Depthwise conv on both paths (compiled loops of ``_depthwise_jit`` with settings.numba, the
NumPy tap-wise multiply-adds of ``_depthwise`` without): PyTorch parity, float64 gradcheck, and
the two paths against each other, over strides, padding, dilation, multipliers and odd shapes,
with the channel split over two workers or not."""

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
]


# the NumPy path; the compiled per-plane kernels; the compiled whole-batch runs of small maps
PATHS = [(False, 64)] + ([(True, 0), (True, 10**9)] if jit.available() else [])


@pytest.fixture(params=PATHS, ids=lambda v: "numpy" if not v[0] else ("planes" if v[1] == 0 else "stacks"))
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
