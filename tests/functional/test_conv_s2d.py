"""The space-to-depth path of strided convs (``conv/_s2d.py``: k a multiple of s, d = 1), the
row-blocked shifted GEMMs of ``_rows.py`` and ``row_lower``'s shared zero borders, forced on
and off, against PyTorch (forward and the x, W, b gradients, float32 and float64) and float64
gradchecks."""

import numpy as np
import pytest
import torch.nn.functional as TF

import cvprimer.functional as F
from cvprimer.functional.conv._s2d import s2d_applies
from parity import check_grad, parity, randn

DTYPES = [np.float32, np.float64]

# conv2d cases on the s2d path: (x shape, w shape, options)
CONV = [
    ((2, 3, 9, 11), (4, 3, 4, 4), dict(stride=2, padding=1)),  # odd sizes: the phases differ in size
    ((1, 4, 8, 8), (6, 2, 4, 6), dict(stride=(2, 3), padding=(0, 2), groups=2)),  # groups, batch 1
    ((3, 2, 7, 10), (5, 2, 2, 2), dict(stride=2)),  # 2x2/2: a 1x1 sub-kernel, no padding
    ((2, 4, 13, 7), (4, 4, 6, 3), dict(stride=(3, 1), padding=(2, 1))),  # one axis stride 1
    ((1, 3, 5, 5), (2, 3, 4, 4), dict(stride=4, padding=3)),  # s = k, padding > s / 2
    ((2, 20, 6, 6), (3, 20, 2, 2), dict(stride=2, padding=1)),  # > 8 channels (blocked copies)
]
# conv_transpose2d cases whose dual conv is on the s2d path (weights (C_in, C_out/g, k_h, k_w))
TRANSPOSED = [
    ((2, 4, 8, 8), (4, 3, 4, 4), dict(stride=2, padding=1)),
    ((1, 4, 5, 7), (4, 2, 4, 4), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ((2, 3, 6, 5), (3, 2, 6, 3), dict(stride=3, padding=(2, 0), output_padding=(2, 1))),
    ((3, 10, 3, 4), (10, 3, 2, 2), dict(stride=2)),
]


def _force(use_settings, use_s2d, split, block_bytes):
    use_settings(conv_s2d=use_s2d, threads=2, min_chunk_elements=1 if split else 10**12,
                 conv_rows_block_bytes=block_bytes)


def test_the_cases_take_the_s2d_path():
    from cvprimer.functional.conv._geometry import conv_geometry

    for xs, ws, kw in CONV:
        assert s2d_applies(conv_geometry("t", xs[2:], ws[2:], kw["stride"], kw.get("padding", 0), 1, 1))
    assert not s2d_applies(conv_geometry("t", (8, 8), (3, 3), 2, 1, 1, 1))  # 3 not a multiple of 2
    assert not s2d_applies(conv_geometry("t", (8, 8), (4, 4), 2, 1, 2, 1))  # dilated


@pytest.mark.parametrize("block_bytes", [1 << 20, 1])  # one block / blocks of one row
@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("use_s2d", [True, False])
@pytest.mark.parametrize("xs,ws,kw", CONV)
def test_conv2d_s2d_agrees_with_torch(use_settings, xs, ws, kw, use_s2d, split, block_bytes):
    _force(use_settings, use_s2d, split, block_bytes)
    x, w, b = randn(*xs, seed=1), randn(*ws, seed=2), randn(ws[0], seed=3)
    parity(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), x, w, b,
           dtypes=DTYPES)


@pytest.mark.parametrize("block_bytes", [1 << 20, 1])
@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("use_s2d", [True, False])
@pytest.mark.parametrize("xs,ws,kw", TRANSPOSED)
def test_conv_transpose2d_s2d_agrees_with_torch(use_settings, xs, ws, kw, use_s2d, split, block_bytes):
    _force(use_settings, use_s2d, split, block_bytes)
    g = kw.get("groups", 1)
    x, w, b = randn(*xs, seed=4), randn(*ws, seed=5), randn(ws[1] * g, seed=6)
    parity(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw),
           x, w, b, dtypes=DTYPES)


@pytest.mark.parametrize("i", range(3))
def test_s2d_gradcheck(use_settings, i):
    _force(use_settings, True, False, 1 << 20)
    xs, ws, kw = CONV[i]
    x, w, b = randn(1, *xs[1:], seed=7), randn(*ws, seed=8), randn(ws[0], seed=9)
    check_grad(lambda x, w, b: F.conv2d(x, w, b, **kw), x, w, b)
    xs, ws, kw = TRANSPOSED[i]
    x, w, b = randn(1, *xs[1:], seed=7), randn(*ws, seed=8), randn(ws[1] * kw.get("groups", 1), seed=9)
    check_grad(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), x, w, b)


@pytest.mark.parametrize("shared", [True, False])  # row_lower's shared zero borders, or separate ones
@pytest.mark.parametrize("block_bytes", [1, 700, 1 << 20])  # blocks of 1 row, 5-10 rows, one block
@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding=2, dilation=2), dict(padding=(0, 3), dilation=(3, 2)),
                                dict(padding=1, groups=2), dict(padding=(4, 1)), dict(padding="same", dilation=3)])
def test_blocked_shifted_gemms_agree_with_torch(kw, block_bytes, shared, use_settings):

    _force(use_settings, True, False, block_bytes)
    use_settings(conv_shared_padding=shared)
    g = kw.get("groups", 1)
    x, w, b = randn(2, 4, 9, 7, seed=10), randn(6, 4 // g, 3, 3, seed=11), randn(6, seed=12)
    parity(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), x, w, b,
           dtypes=DTYPES)


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("i", [0, 1, 5])
def test_s2d_operand_rebuilt_when_too_large_to_keep(i, split, use_settings):
    _force(use_settings, True, split, 1 << 20)
    use_settings(conv_keep_cols_bytes=0)  # keep x, lower it again in backward
    xs, ws, kw = CONV[i]
    x, w, b = randn(*xs, seed=13), randn(*ws, seed=14), randn(ws[0], seed=15)
    parity(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), x, w, b,
           dtypes=DTYPES)
