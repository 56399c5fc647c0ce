"""The stride-1 weight gradient with the unfused saved operand widened to row copies in backward
(``settings.conv_gw_fuse_max``) or used as it is, against PyTorch (float32 and float64)."""

import pytest
import torch.nn.functional as TF

import cvprimer.functional as F
from cvprimer.core.settings import settings
from parity import DTYPES, parity, randn

CASES = [
    ((2, 5, 7, 6), (4, 5, 3, 3), dict(padding=1)),
    ((2, 6, 9, 7), (4, 3, 3, 2), dict(padding=(2, 1), dilation=(2, 3), groups=2)),
    ((1, 4, 6, 8), (3, 4, 2, 4), dict(padding="same")),
    ((2, 8, 5, 5), (6, 8, 1, 3), dict(padding=(0, 2))),
]


@pytest.mark.parametrize("gw_fuse_max", [0, 64])
@pytest.mark.parametrize("xs,ws,kw", CASES)
def test_rows_weight_gradient_with_and_without_row_copies(use_settings, xs, ws, kw, gw_fuse_max):

    use_settings(conv_fuse_below=1)  # the forward saves the unfused flat operand
    use_settings(conv_gw_fuse_max=gw_fuse_max)
    use_settings(conv_cols_below=0, conv_cols_jit_below=0)  # the rows path even for few inputs per output
    with settings.override(conv_rows_block_bytes=700):  # several row blocks
        x, w, b = randn(*xs, seed=1), randn(*ws, seed=2), randn(ws[0], seed=3)
        parity(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), x, w, b,
               dtypes=DTYPES)
