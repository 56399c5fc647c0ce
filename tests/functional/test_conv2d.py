"""conv2d / conv1d: PyTorch parity (output and x, W, b gradients) over a grid of odd corners,
float64 gradcheck on every kernel path, a naive loop reference (with a hypothesis property test
of the output-size formula), and clear errors."""


import numpy as np
import pytest
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from test_conv_ref import naive_conv2d

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.functional.conv.conv2d import cost
from parity import DTYPES, check_grad, parity, randn

# (x shape, w shape, options): each row exercises a kernel path or an edge case
GRID = [
    ((2, 3, 7, 6), (4, 3, 3, 3), dict(padding=1)),  # stride-1 row lowering
    ((2, 4, 9, 8), (6, 4, 3, 3), dict(stride=2, dilation=2, padding=2)),  # strided im2col + dilation
    ((2, 4, 8, 7), (8, 1, 3, 3), dict(padding=1, groups=4)),  # depthwise, multiplier 2
    ((2, 4, 6, 6), (4, 1, 3, 3), dict(stride=2, padding=1, groups=4)),  # strided depthwise
    ((1, 4, 6, 7), (6, 2, 2, 3), dict(padding=(1, 0), groups=2)),  # grouped, non-square kernel, batch 1
    ((2, 8, 5, 5), (8, 2, 3, 1), dict(stride=(2, 1), padding=(0, 1), groups=4)),  # groups=4, odd stride
    ((2, 5, 6, 5), (7, 5, 1, 1), dict()),  # pointwise (plain matmul)
    ((2, 5, 7, 6), (3, 5, 1, 1), dict(stride=(2, 3))),  # strided pointwise
    ((2, 3, 5, 5), (2, 3, 5, 5), dict()),  # kernel == input: 1x1 output
    ((2, 3, 3, 4), (2, 3, 5, 6), dict(padding=1)),  # kernel larger than the input, padding makes it fit
    ((2, 3, 1, 1), (4, 3, 1, 1), dict()),  # 1x1 image
    ((2, 3, 1, 1), (4, 3, 3, 3), dict(padding=1)),  # 1x1 image, 3x3 kernel
    ((2, 3, 6, 7), (4, 3, 4, 2), dict(padding="same")),  # "same" with even kernels: asymmetric
    ((2, 3, 6, 7), (4, 3, 4, 3), dict(padding="same", dilation=(1, 2))),  # odd total, dilated
    ((2, 3, 6, 7), (4, 3, 3, 2), dict(padding="valid", dilation=2)),
    ((2, 2, 6, 6), (3, 2, 3, 3), dict(padding=3)),  # padding > d (k - 1): gx crops
]


def _args(xs, ws, seed=0):
    return randn(*xs, seed=seed), randn(*ws, seed=seed + 1), randn(ws[0], seed=seed + 2)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("xs,ws,kw", GRID)
def test_conv2d_parity(xs, ws, kw):
    x, w, b = _args(xs, ws)
    parity(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), x, w, b,
           noncontig=True)


@pytest.mark.parametrize("xs,ws,kw", GRID[:8])
def test_conv2d_without_bias_and_partial_grads(xs, ws, kw):
    x, w, _ = _args(xs, ws, seed=3)
    parity(lambda x, w: F.conv2d(x, w, **kw), lambda x, w: TF.conv2d(x, w, **kw), x, w,
           requires_grad=[True, False])
    parity(lambda x, w: F.conv2d(x, w, **kw), lambda x, w: TF.conv2d(x, w, **kw), x, w,
           requires_grad=[False, True])


@pytest.mark.parametrize("xs,ws,kw", [GRID[i] for i in (0, 1, 2, 4, 6, 7, 12, 15)])
def test_conv2d_gradcheck(xs, ws, kw):
    x, w, b = _args(xs, ws, seed=5)
    x = x[:1, :, :5, :5] if xs[2] > 5 else x[:1]
    check_grad(lambda x, w, b: F.conv2d(x, w, b, **kw), x, w, b)


@pytest.mark.parametrize("xs,ws,kw", GRID)
def test_conv2d_matches_naive_loops(xs, ws, kw):
    x, w, b = _args(xs, ws, seed=7)
    ours = F.conv2d(cp.tensor(x), cp.tensor(w), cp.tensor(b), **kw).data
    np.testing.assert_allclose(ours, naive_conv2d(x, w, b, **kw), rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_conv2d_shape_formula_and_values_property(data):
    g = data.draw(st.sampled_from([1, 2, 3]))
    cin, cout = g * data.draw(st.integers(1, 2)), g * data.draw(st.integers(1, 2))
    k, s, d, p = (tuple(data.draw(st.integers(lo, hi)) for _ in range(2))
                  for lo, hi in ((1, 4), (1, 3), (1, 2), (0, 2)))
    H, W = (data.draw(st.integers(max(1, d[a] * (k[a] - 1) + 1 - 2 * p[a]), 8)) for a in range(2))
    x, w = randn(2, cin, H, W, seed=1), randn(cout, cin // g, *k, seed=2)
    y = F.conv2d(cp.tensor(x), cp.tensor(w), None, s, p, d, g)
    expect = tuple((n + 2 * p[a] - d[a] * (k[a] - 1) - 1) // s[a] + 1 for a, n in enumerate((H, W)))
    assert y.shape == (2, cout) + expect
    np.testing.assert_allclose(y.data, naive_conv2d(x, w, None, s, p, d, g), rtol=1e-10, atol=1e-12)
    assert cost((2, cin, H, W), w.shape, s, p, d, g)["macs"] == 2 * cout * expect[0] * expect[1] * (
        cin // g) * k[0] * k[1]


def test_conv2d_unbatched_and_float32_dtype():
    x, w, b = _args((3, 6, 5), (4, 3, 3, 3))
    parity(lambda x, w, b: F.conv2d(x, w, b, padding=1), lambda x, w, b: TF.conv2d(x, w, b, padding=1),
           x, w, b)
    y = F.conv2d(cp.tensor(x.astype(np.float32)), cp.tensor(w.astype(np.float32)))
    assert y.dtype == np.float32


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, dilation=2), dict(padding="same", groups=2),
                                dict(groups=4, padding=2), dict(padding="valid", stride=3)])
def test_conv1d_parity_and_gradcheck(kw):
    cout = 8 if kw.get("groups") == 4 else 6
    x, w, b = randn(2, 4, 11, seed=1), randn(cout, 4 // kw.get("groups", 1), 3, seed=2), randn(cout, seed=3)
    parity(lambda x, w, b: F.conv1d(x, w, b, **kw), lambda x, w, b: TF.conv1d(x, w, b, **kw), x, w, b,
           noncontig=True)
    check_grad(lambda x, w, b: F.conv1d(x, w, b, **kw), x[:1, :, :7], w, b)


def test_conv1d_unbatched():
    x, w = randn(4, 9, seed=1), randn(3, 4, 2, seed=2)
    parity(lambda x, w: F.conv1d(x, w, padding=1), lambda x, w: TF.conv1d(x, w, padding=1), x, w)


def test_conv2d_cost_counts():
    c = cost((8, 16, 32, 32), (32, 16, 3, 3), padding=1)
    assert c["macs"] == 8 * 32 * 32 * 32 * 16 * 9
    assert c["flops"] == 8 * 32 * 32 * 32
    assert c["bytes"] == 4 * (8 * 16 * 32 * 32 + 32 * 16 * 9 + 32 + 8 * 32 * 32 * 32)
    assert cost((1, 4, 8, 8), (4, 1, 3, 3), groups=4, bias=False)["macs"] == 4 * 6 * 6 * 9


def _raises(match, **kw):
    x = kw.pop("x", randn(2, 4, 6, 6))
    w = kw.pop("w", randn(4, 4, 3, 3))
    b = kw.pop("b", None)
    fn = kw.pop("fn", F.conv2d)
    err = kw.pop("err", ValueError)
    with pytest.raises(err, match=match):
        fn(cp.tensor(x), cp.tensor(w), None if b is None else cp.tensor(b), **kw)


def test_conv2d_errors():
    _raises(r"conv2d: input channels 4 .*not divisible by groups=3", w=randn(3, 1, 3, 3), groups=3)
    _raises(r"conv2d: output channels 6 .*not divisible by groups=4", w=randn(6, 1, 3, 3), groups=4)
    _raises(r"conv2d: weight shape \(4, 2, 3, 3\) expects C_in/groups = 2.*\(2, 4, 6, 6\)", w=randn(4, 2, 3, 3))
    _raises(r"conv2d: kernel extent 7 .*larger than the padded input 6", w=randn(4, 4, 7, 3))
    _raises(r"conv2d: kernel extent 9 \(kernel 5, dilation 2\)", w=randn(4, 4, 5, 5), dilation=2, padding=1)
    _raises(r"conv2d: padding must be an int, a pair, 'same' or 'valid', got 'full'", padding="full")
    _raises(r"conv2d: padding='same' is only supported for stride 1", padding="same", stride=2)
    _raises(r"conv2d: expected a 4-D input .* got shape \(6, 6\)", x=randn(6, 6))
    _raises(r"conv2d: expected a 4-D input", x=randn(1, 2, 4, 6, 6))
    _raises(r"conv2d: expected a 4-D weight, got shape \(4, 4, 3\)", w=randn(4, 4, 3))
    _raises(r"conv2d: bias must have shape \(4,\)", b=randn(5))
    _raises(r"conv2d: stride must be >= 1", stride=0)
    _raises(r"conv2d: padding must be >= 0", padding=-1)
    _raises(r"conv2d: groups must be a positive int", groups=0)
    _raises(r"conv2d: input, weight and bias must share one floating dtype", err=TypeError,
            w=randn(4, 4, 3, 3).astype(np.float32))
    _raises(r"conv1d: expected a 3-D input", fn=F.conv1d, x=randn(2, 4, 6, 6), w=randn(4, 4, 3))
    _raises(r"conv1d: input channels 4 .*groups=3", fn=F.conv1d, x=randn(2, 4, 6), w=randn(3, 1, 3), groups=3)


@pytest.mark.parametrize("split", [False, True])  # the batch split over worker threads, or not
@pytest.mark.parametrize("one_gemm", [0, 16])  # small outputs: columns per image / one GEMM for the batch
@pytest.mark.parametrize("cols_below", [0, 32])  # stride 1, few inputs/channels: rows / (compiled) columns
@pytest.mark.parametrize("fuse_below", [1, 10**9])  # each tap its own GEMM / taps of a row fused
# strided: polyphase pieces throughout (columns too large to keep) / columns fwd+gW with polyphase gx /
# the im2col reference throughout
@pytest.mark.parametrize("strided", ["phases", "strided", "columns"])
@pytest.mark.parametrize("xs,ws,kw", [GRID[i] for i in (0, 1, 2, 3, 4, 5, 12, 15)])
def test_every_lowering_agrees_with_torch(use_settings, xs, ws, kw, fuse_below, strided, split, cols_below,
                                          one_gemm):

    use_settings(threads=2)
    use_settings(min_chunk_elements=1 if split else 10**12)
    use_settings(conv_dw_block_bytes=1 if split else 1 << 20)  # one image per block

    use_settings(conv_fuse_below=fuse_below)
    use_settings(conv_cols_below=cols_below)
    use_settings(conv_cols_jit_below=12 if cols_below else 0)  # 0: the shifted GEMMs for every stride-1 conv
    use_settings(conv_phases=strided != "columns")
    use_settings(conv_keep_cols_bytes=0 if strided == "phases" else 1 << 28)
    use_settings(conv_phases_grad_input_from=1)
    use_settings(conv_one_gemm_below=one_gemm)
    x, w, b = _args(xs, ws, seed=11)
    parity(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), x, w, b,
           dtypes=[np.float64])


@pytest.mark.parametrize("xs,ws,kw", [GRID[i] for i in (0, 1, 2, 6)])
def test_columns_rebuilt_when_too_large_to_keep(use_settings, xs, ws, kw):

    use_settings(min_chunk_elements=1)  # rebuilt per batch chunk
    use_settings(threads=2)
    use_settings(conv_keep_cols_bytes=0)  # keep x instead, lower it again in backward
    x, w, b = _args(xs, ws, seed=13)
    parity(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), x, w, b,
           dtypes=[np.float64])


def test_blas_thread_limit_is_restored_after_concurrent_calls(use_settings, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from cvprimer.core import pool

    threadpoolctl = pytest.importorskip("threadpoolctl")

    use_settings(threads=2)
    # the user's threads start with the default settings (settings are context-local), where the automatic thread
    # budget may lower the BLAS on a busy machine by design (tests/core/test_threads_budget.py); this test is about
    # the pool's own one-thread hold during concurrent convs, so the budget keeps its hands off the BLAS here
    monkeypatch.setattr(pool._BUDGET, "manage_blas", False)
    use_settings(min_chunk_elements=1)

    def blas_threads():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    x, w = cp.tensor(randn(4, 3, 8, 8)), cp.tensor(randn(5, 3, 3, 3))
    ref = F.conv2d(x, w, padding=1).data
    with ThreadPoolExecutor(3) as ex:  # several user threads calling conv2d at once
        outs = list(ex.map(lambda _: F.conv2d(x, w, padding=1).data, range(6)))
    for o in outs:
        np.testing.assert_array_equal(o, ref)
    assert blas_threads() == before


@pytest.mark.parametrize("xs,ws,kw", [
    ((3, 6, 4, 4), (9, 2, 1, 1), dict(groups=3)),  # grouped pointwise on a 4x4 map
    ((2, 4, 7, 5), (6, 4, 1, 1), dict(stride=2)),  # strided pointwise: 4x3 output
    ((2, 4, 3, 4), (6, 2, 3, 3), dict(padding=1, groups=2)),  # few inputs per output: columns, 3x4 output
    ((3, 3, 6, 6), (4, 3, 3, 3), dict(stride=2, padding=1, dilation=2)),  # strided, dilated, 2x2 output
])
def test_one_gemm_over_the_batch_agrees_with_torch(xs, ws, kw):
    from cvprimer.core.settings import settings
    from cvprimer.functional.conv._geometry import conv_geometry
    from cvprimer.functional.conv._kernels import choose

    g = conv_geometry("conv2d", xs[2:], ws[2:], kw.get("stride", 1), kw.get("padding", 0), kw.get("dilation", 1),
                      kw.get("groups", 1))
    with settings.override(conv_strided_jit=False):  # not the compiled batch columns of strided convs
        assert choose(g, xs[1], ws, xs[0]).name == "columns_one_gemm"
    with settings.override(threads=2, min_chunk_elements=1, conv_strided_jit=False):  # also split over the batch
        x, w, b = _args(xs, ws, seed=21)
        parity(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), x, w, b,
               dtypes=DTYPES)
