"""The one place that picks a conv's lowering per call (``_kernels.choose``), switched by settings."""

import pytest

from cvprimer.core.settings import settings
from cvprimer.functional.conv._geometry import conv_geometry
from cvprimer.functional.conv._kernels import choose


def _name(hw, w_shape, stride=1, padding=0, dilation=1, groups=1, n=1):
    g = conv_geometry("t", hw, w_shape[2:], stride, padding, dilation, groups)
    return choose(g, w_shape[1] * groups, w_shape, n).name


def test_choose_picks_one_lowering_per_geometry():
    with settings.override(numba=False):
        assert _name((8, 8), (4, 1, 3, 3), padding=1, groups=4) == "depthwise"
    with settings.override(conv_cols_jit_below=0):  # few input channels: the compiled columns (test below)
        assert _name((8, 8), (4, 4, 3, 3)) == "rows"
        assert _name((8, 8), (4, 4, 3, 3), padding=1) == "rows"
    assert _name((8, 8), (4, 16, 3, 3)) == "rows"
    assert _name((8, 8), (4, 3, 3, 3), padding=1) == "columns"  # 27 inputs per output: im2col
    assert _name((8, 8), (4, 2, 3, 3), padding=1, groups=2) == "columns"
    assert _name((3, 3), (4, 4, 3, 3)) == "dense"  # one output pixel: one GEMM
    assert _name((4, 4), (4, 4, 3, 3), stride=2) == "dense"  # the last row/col is never read
    assert _name((3, 3), (4, 4, 3, 3), padding=1, stride=3) != "dense"  # padded corner
    assert _name((8, 8), (4, 4, 4, 4), stride=2, padding=1) == "s2d"
    with settings.override(conv_strided_jit=False):  # the NumPy lowerings of strided convs
        assert _name((8, 8), (4, 4, 3, 3), stride=2, padding=1) == "columns_one_gemm"  # 4x4 output: one GEMM
        assert _name((10, 10), (4, 4, 3, 3), stride=2, padding=1) == "columns"  # few input channels: col2im for gx
        assert _name((8, 8), (4, 16, 3, 3), stride=2, padding=1) == "strided"  # columns fwd/gW, polyphase gx
        # columns too large to keep (2 * 16 * 9 * 16 * 4 bytes = 18 KiB here): the polyphase pieces throughout
        with settings.override(conv_keep_cols_bytes=18431):
            assert _name((8, 8), (4, 16, 3, 3), stride=2, padding=1, n=2) == "phases"
        with settings.override(conv_keep_cols_bytes=18432):
            assert _name((8, 8), (4, 16, 3, 3), stride=2, padding=1, n=2) == "strided"
        with settings.override(conv_phases_grad_input_from=4):
            assert _name((8, 8), (4, 4, 3, 3), stride=2, padding=1) == "strided"
    # one GEMM over the batch's columns where the columns path would run one per image on <= 16 pixels
    assert _name((4, 4), (8, 64, 1, 1)) == "columns_one_gemm"
    assert _name((5, 4), (8, 64, 1, 1)) == "columns"
    assert _name((4, 4), (8, 64, 3, 3), padding=1) == "rows"  # not where the shifted GEMMs run
    with settings.override(conv_one_gemm_below=0):
        assert _name((4, 4), (8, 64, 1, 1)) == "columns"
    with settings.override(conv_keep_cols_bytes=100):  # batch columns too large to keep
        assert _name((4, 4), (8, 64, 1, 1), n=4) == "columns"
    assert _name((10, 10), (4, 4, 1, 1), stride=2) == "columns"  # pointwise: the strided input is the columns


def test_choose_compiled_strided_columns_only_with_numba():
    """Strided convs whose columns may be kept take the compiled batch-columns path with numba (float32/64), the
    polyphase pieces when the columns are too large, the NumPy lowerings without numba or with the switch off."""
    from cvprimer.core import jit

    if not jit.available():
        pytest.skip("numba not installed")
    with settings.override(numba=True):
        for hw, w in [((8, 8), (4, 4, 3, 3)), ((10, 10), (4, 4, 3, 3)), ((8, 8), (4, 16, 3, 3)),
                      ((9, 9), (4, 3, 7, 7))]:
            assert _name(hw, w, stride=2, padding=1, n=2) == "columns_jit"
        with settings.override(conv_keep_cols_bytes=18431):
            assert _name((8, 8), (4, 16, 3, 3), stride=2, padding=1, n=2) == "phases"
        with settings.override(conv_phases=False):  # the reference lowering throughout
            assert _name((10, 10), (4, 16, 3, 3), stride=2, padding=1) == "columns"
        assert _name((8, 8), (4, 4, 4, 4), stride=2, padding=1) == "s2d"
        assert _name((10, 10), (4, 4, 1, 1), stride=2) == "columns"  # pointwise: the strided input itself
        assert _name((8, 8), (4, 16, 3, 3), padding=1) != "columns_jit"  # stride 1, 16 channels: rows
        assert _name((8, 8), (4, 3, 3, 3), stride=2, padding=1) == "columns_one_gemm"  # 27 inputs per output
    with settings.override(numba=False):
        assert _name((8, 8), (4, 16, 3, 3), stride=2, padding=1) == "strided"


def test_choose_compiled_columns_for_stride1_few_channels():
    """Stride 1 above conv_cols_below inputs per output with fewer than conv_cols_jit_below input channels per
    group (LeNet-5's 6 -> 16 5x5) takes the compiled batch columns with numba (float32/64 only), the shifted GEMMs
    otherwise."""
    from cvprimer.core import jit

    if not jit.available():
        pytest.skip("numba not installed")
    with settings.override(numba=True):
        assert _name((14, 14), (16, 6, 5, 5), n=256) == "columns_jit"
        assert _name((8, 8), (4, 4, 3, 3), padding=1) == "columns_jit"
        assert _name((8, 8), (8, 4, 3, 3), padding=2, dilation=2, groups=2) == "columns_jit"
        assert _name((14, 14), (16, 11, 5, 5)) == "columns_jit"
        assert _name((14, 14), (16, 12, 5, 5)) == "rows"
        assert _name((8, 8), (4, 3, 3, 3), padding=1) == "columns"  # 27 inputs per output: im2col
        g = conv_geometry("t", (14, 14), (5, 5), 1, 0, 1, 1)
        assert choose(g, 6, (16, 6, 5, 5), 256, itemsize=2).name == "rows"  # float16: no compiled arithmetic
        with settings.override(conv_cols_jit_below=0):
            assert _name((14, 14), (16, 6, 5, 5), n=256) == "rows"
        with settings.override(conv_keep_cols_bytes=1000):  # columns too large to keep
            assert _name((14, 14), (16, 6, 5, 5), n=256) == "rows"
    with settings.override(numba=False):
        assert _name((14, 14), (16, 6, 5, 5), n=256) == "rows"


def test_choose_compiled_depthwise_only_with_numba():
    from cvprimer.core import jit

    if not jit.available():
        pytest.skip("numba not installed")
    with settings.override(numba=True):
        assert _name((8, 8), (4, 1, 3, 3), padding=1, groups=4) == "depthwise_jit"


@pytest.mark.parametrize("s2d,phases,expect", [(False, True, "strided"), (False, False, "columns"),
                                               (True, False, "s2d")])
def test_choose_follows_the_settings(s2d, phases, expect):
    with settings.override(conv_s2d=s2d, conv_phases=phases, conv_strided_jit=False):
        assert _name((10, 10), (4, 16, 4, 4), stride=2, padding=1) == expect
    assert _name((10, 10), (4, 16, 4, 4), stride=2, padding=1) == "s2d"  # restored on exit
