"""conv_transpose2d: PyTorch parity over stride/padding/output_padding/groups/dilation corners,
the duality with conv2d (it IS conv2d's input-gradient), a naive scatter-loop reference with a
hypothesis property test of the output-size formula, float64 gradcheck, clear errors."""

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from test_conv_ref import naive_conv_transpose2d

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.functional.conv.conv_transpose import cost
from parity import check_grad, parity, randn

# (x shape, w shape (C_in, C_out/g, kh, kw), options)
GRID = [
    ((2, 3, 5, 4), (3, 4, 3, 3), dict()),  # stride 1: the flipped-kernel row-lowered conv
    ((2, 3, 5, 4), (3, 2, 4, 4), dict(stride=2, padding=1)),  # the usual 2x upsampler
    ((2, 4, 4, 5), (4, 3, 3, 2), dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2))),
    ((2, 4, 5, 5), (4, 2, 3, 3), dict(stride=2, groups=2, dilation=2, output_padding=1)),  # dilation > stride
    ((1, 4, 4, 4), (4, 1, 3, 3), dict(stride=2, padding=1, groups=4, output_padding=1)),  # depthwise dual
    ((2, 4, 4, 3), (4, 3, 3, 3), dict(padding=1, groups=4)),  # depthwise-multiplier dual, stride 1
    ((2, 6, 3, 3), (6, 2, 1, 1), dict(stride=3, groups=3, output_padding=2)),  # strided pointwise
    ((2, 3, 1, 1), (3, 2, 3, 3), dict()),  # 1x1 input
    ((2, 3, 4, 4), (3, 2, 2, 3), dict(padding=(1, 2), dilation=(1, 2))),  # padding crops the output
]


@pytest.mark.parametrize("xs,ws,kw", GRID)
def test_conv_transpose2d_parity(xs, ws, kw):
    g = kw.get("groups", 1)
    x, w, b = randn(*xs, seed=1), randn(*ws, seed=2), randn(ws[1] * g, seed=3)
    parity(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw),
           x, w, b, noncontig=True)
    parity(lambda x, w: F.conv_transpose2d(x, w, **kw), lambda x, w: TF.conv_transpose2d(x, w, **kw), x, w,
           requires_grad=[False, True], dtypes=[np.float64])


@pytest.mark.parametrize("xs,ws,kw", GRID)
def test_conv_transpose2d_matches_naive_scatter(xs, ws, kw):
    g = kw.get("groups", 1)
    x, w, b = randn(*xs, seed=4), randn(*ws, seed=5), randn(ws[1] * g, seed=6)
    ours = F.conv_transpose2d(cp.tensor(x), cp.tensor(w), cp.tensor(b), **kw).data
    np.testing.assert_allclose(ours, naive_conv_transpose2d(x, w, b, **kw), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("xs,ws,kw", [GRID[i] for i in (0, 1, 3, 4, 6)])
def test_conv_transpose2d_gradcheck(xs, ws, kw):
    g = kw.get("groups", 1)
    x, w, b = randn(1, *xs[1:], seed=7), randn(*ws, seed=8), randn(ws[1] * g, seed=9)
    check_grad(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), x, w, b)


@pytest.mark.parametrize("s,p,d,g,op", [(1, 1, 1, 1, 0), (2, 1, 1, 2, 1), (3, 0, 2, 1, 2), (2, 2, 2, 4, 0)])
def test_duality_with_conv2d_input_gradient(s, p, d, g, op):
    # conv_transpose2d(gy, W) equals d<conv2d(x, W), gy>/dx for an x of the matching size
    x = randn(2, 4, 9, 8, seed=1)
    w = randn(4, 4 // g, 3, 3, seed=2)
    xt = torch.tensor(x, requires_grad=True)
    y = TF.conv2d(xt, torch.tensor(w), stride=s, padding=p, dilation=d, groups=g)
    gy = randn(*y.shape, seed=3)
    y.backward(torch.tensor(gy))
    ho = (y.shape[2] - 1) * s - 2 * p + d * 2 + 1
    wo = (y.shape[3] - 1) * s - 2 * p + d * 2 + 1
    ours = F.conv_transpose2d(cp.tensor(gy), cp.tensor(w), stride=s, padding=p, groups=g, dilation=d,
                              output_padding=(x.shape[2] - ho, x.shape[3] - wo))
    np.testing.assert_allclose(ours.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_conv_transpose2d_shape_formula_property(data):
    g = data.draw(st.sampled_from([1, 2]))
    cin, cog = g * data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    k, s, d = (tuple(data.draw(st.integers(1, hi)) for _ in range(2)) for hi in (3, 3, 2))
    p = tuple(data.draw(st.integers(0, d[a] * (k[a] - 1) // 2)) for a in range(2))
    op = tuple(data.draw(st.integers(0, max(s[a], d[a]) - 1)) for a in range(2))
    H, W = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    x, w = randn(2, cin, H, W, seed=1), randn(cin, cog, *k, seed=2)
    y = F.conv_transpose2d(cp.tensor(x), cp.tensor(w), None, s, p, op, g, d)
    expect = tuple((n - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + op[a] + 1 for a, n in enumerate((H, W)))
    assert y.shape == (2, cog * g) + expect
    np.testing.assert_allclose(y.data, naive_conv_transpose2d(x, w, None, s, p, op, g, d), rtol=1e-10,
                               atol=1e-12)


def test_conv_transpose2d_unbatched_and_cost():
    x, w = randn(3, 4, 4, seed=1), randn(3, 2, 3, 3, seed=2)
    parity(lambda x, w: F.conv_transpose2d(x, w, stride=2), lambda x, w: TF.conv_transpose2d(x, w, stride=2),
           x, w)
    c = cost((8, 32, 16, 16), (32, 16, 4, 4), stride=2, padding=1)
    assert c["macs"] == 8 * 32 * 16 * 16 * 16 * 16
    assert c["bytes"] == 4 * (8 * 32 * 16 * 16 + 32 * 16 * 16 + 16 + 8 * 16 * 32 * 32)


def test_conv_transpose2d_errors():
    def call(x=(2, 4, 5, 5), w=(4, 2, 3, 3), err=ValueError, match="", **kw):
        with pytest.raises(err, match=match):
            F.conv_transpose2d(cp.tensor(randn(*x)), cp.tensor(randn(*w)), **kw)

    call(match=r"conv_transpose2d: output_padding \(2, 2\) must be smaller than max\(stride, dilation\)",
         stride=2, output_padding=2)
    call(match=r"output_padding \(1, 1\) must be smaller", output_padding=1)
    call(match=r"conv_transpose2d: weight shape \(3, 2, 3, 3\) expects 3 input channels", w=(3, 2, 3, 3))
    call(match=r"conv_transpose2d: input channels 4 .*not divisible by groups=3", w=(4, 1, 3, 3), groups=3)
    call(match=r"conv_transpose2d: padding must be an int or a pair, got 'same'", padding="same")
    call(match=r"conv_transpose2d: expected a 4-D input", x=(4, 5))
    call(match=r"conv_transpose2d: output size .* < 1", x=(2, 4, 1, 1), padding=2)
    call(match=r"conv_transpose2d: stride must be >= 1", stride=(1, 0))


@pytest.mark.parametrize("split", [False, True])  # the batch split over worker threads, or not
@pytest.mark.parametrize("one_gemm", [0, 16])  # small outputs: columns per image / one GEMM for the batch
@pytest.mark.parametrize("cols_below", [0, 32])  # stride 1, few inputs/channels: rows / (compiled) columns
@pytest.mark.parametrize("fuse_below", [1, 10**9])
# strided: polyphase pieces throughout (columns too large to keep) / columns fwd+gW with polyphase gx /
# the im2col reference throughout
@pytest.mark.parametrize("strided", ["phases", "strided", "columns"])
@pytest.mark.parametrize("xs,ws,kw", [GRID[i] for i in (0, 1, 2, 3, 4)])
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
    g = kw.get("groups", 1)
    x, w, b = randn(*xs, seed=1), randn(*ws, seed=2), randn(ws[1] * g, seed=3)
    parity(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw),
           x, w, b, dtypes=[np.float64])


def test_analyzer_protocol_matches_the_shape_formulas():
    from cvprimer.core.call import Call
    from cvprimer.core.function import shape_only

    conv2d_module = importlib.import_module("cvprimer.functional.conv.conv2d")
    x, w, b = cp.tensor(randn(2, 4, 7, 6)), cp.tensor(randn(6, 2, 3, 2)), cp.tensor(randn(6))
    y = F.conv2d(x, w, b, stride=(2, 1), padding=1, groups=2)
    assert conv2d_module.Conv2dFn.cost(Call((x.data, w.data, b.data), outputs=(y.data,))) == conv2d_module.cost(
        x.shape, w.shape, (2, 1), 1, 1, 2, itemsize=8)
    wt = cp.tensor(randn(4, 3, 4, 4))
    z = F.conv_transpose2d(x, wt, None, 2, 1, 1)
    assert F.conv_transpose2d.__module__.endswith("conv_transpose")
    fn = importlib.import_module("cvprimer.functional.conv.conv_transpose")
    assert fn.ConvTranspose2dFn.cost(Call((x.data, wt.data, None), outputs=(z.data,))) == cost(
        x.shape, wt.shape, 2, 1, 1, bias=False, itemsize=8)
    with shape_only():  # infer: the shapes without the arithmetic
        assert F.conv2d(x, w, b, stride=(2, 1), padding=1, groups=2).shape == y.shape
        assert F.conv_transpose2d(x, wt, None, 2, 1, 1).shape == z.shape
