"""The dense lowering (one output pixel: the conv is one GEMM over the batch): conv2d whose kernel
covers the input, and conv_transpose2d of 1x1 inputs (a DCGAN generator's first layer), against
PyTorch and by float64 gradcheck, including inputs larger than the one window reads."""

import numpy as np
import pytest
import torch.nn.functional as TF

import cvprimer.functional as F
from cvprimer.functional.conv._geometry import conv_geometry
from cvprimer.functional.conv._kernels import choose
from parity import DTYPES, check_grad, parity, randn

CONV = [
    ((3, 4, 5, 5), (6, 4, 5, 5), dict()),  # kernel == input
    ((2, 3, 5, 6), (4, 3, 4, 4), dict(stride=(2, 3))),  # the last row/cols are never read
    ((2, 2, 3, 2), (5, 2, 3, 2), dict(stride=4)),
]
TRANSPOSED = [
    ((4, 6, 1, 1), (6, 5, 4, 4), dict()),  # 1x1 -> 4x4
    ((3, 4, 1, 1), (4, 3, 3, 2), dict(stride=2, output_padding=1)),  # 1x1 -> 4x3, zeros after the corner
]


@pytest.mark.parametrize("xs,ws,kw", CONV)
def test_dense_conv2d(xs, ws, kw):
    g = conv_geometry("t", xs[2:], ws[2:], kw.get("stride", 1), 0, 1, 1)
    assert choose(g, xs[1], ws).name == "dense"
    x, w, b = randn(*xs, seed=1), randn(*ws, seed=2), randn(ws[0], seed=3)
    parity(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), x, w, b,
           dtypes=DTYPES)
    check_grad(lambda x, w, b: F.conv2d(x, w, b, **kw), x, w, b)


@pytest.mark.parametrize("xs,ws,kw", TRANSPOSED)
def test_dense_conv_transpose2d(xs, ws, kw):
    x, w, b = randn(*xs, seed=4), randn(*ws, seed=5), randn(ws[1], seed=6)
    parity(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw),
           x, w, b, dtypes=DTYPES)
    check_grad(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), x, w, b)
    check_grad(lambda x, w: F.conv_transpose2d(x, w, **kw), x, w, requires_grad=[False, True])


def test_dense_output_is_nchw():
    y = F.conv2d(randn(2, 3, 4, 4).astype(np.float32), randn(5, 3, 4, 4).astype(np.float32))
    assert y.shape == (2, 5, 1, 1) and y.dtype == np.float32
