"""Every cost formula against brute force: a reference loop that computes the op AND counts the
multiply-accumulates it performs (checked to compute the same result as the op, so the count
is of a correct implementation), compared with the MACs the analyzer reports for the op."""

import numpy as np
import pytest
from analysis_nets import Lambda

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.analysis import analyze, trace
from cvprimer.analysis.cost import op_cost
from cvprimer.analysis.roofline import MachineProfile

P = MachineProfile(1e11, 1e10, "fixed")


def loop_conv2d(x, w, s, p, d, g):
    """Direct convolution over the zero-padded input; every tap of every window is one MAC
    (padding taps included: they are multiplied like any other, as im2col does)."""
    N, C, H, W = x.shape
    O, Cg, k_h, k_w = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    Ho = (H + 2 * p - d * (k_h - 1) - 1) // s + 1
    Wo = (W + 2 * p - d * (k_w - 1) - 1) // s + 1
    y = np.zeros((N, O, Ho, Wo))
    macs = 0
    for n in range(N):
        for o in range(O):
            grp = o // (O // g)
            for h in range(Ho):
                for v in range(Wo):
                    acc = 0.0
                    for c in range(Cg):
                        for i in range(k_h):
                            for j in range(k_w):
                                acc += w[o, c, i, j] * xp[n, grp * Cg + c, h * s + i * d, v * s + j * d]
                                macs += 1
                    y[n, o, h, v] = acc
    return y, macs


def loop_conv_transpose2d(x, w, s, p, op, d, g):
    """Scatter form: every input pixel times every tap of its group's kernel is one MAC, added
    into a full-size buffer that is then cropped by the padding."""
    N, C, H, W = x.shape
    _, Og, k_h, k_w = w.shape
    full = np.zeros((N, Og * g, (H - 1) * s + d * (k_h - 1) + 1 + op, (W - 1) * s + d * (k_w - 1) + 1 + op))
    macs = 0
    for n in range(N):
        for c in range(C):
            grp = c // (C // g)
            for h in range(H):
                for v in range(W):
                    for o in range(Og):
                        for i in range(k_h):
                            for j in range(k_w):
                                full[n, grp * Og + o, h * s + i * d, v * s + j * d] += x[n, c, h, v] * w[c, o, i, j]
                                macs += 1
    Ho, Wo = full.shape[2] - 2 * p, full.shape[3] - 2 * p
    return full[:, :, p:p + Ho, p:p + Wo], macs


def loop_linear(x, w):
    M, K = x.shape
    y = np.zeros((M, w.shape[0]))
    macs = 0
    for m in range(M):
        for o in range(w.shape[0]):
            for k in range(K):
                y[m, o] += x[m, k] * w[o, k]
                macs += 1
    return y, macs


def analyzer_macs(fn, x):
    rep = analyze(Lambda(lambda self, t: fn(t)), x.shape, profile=P, dtype=x.dtype)
    assert not rep.totals["uncounted"]
    return rep.totals["macs"]


CONV_CASES = {  # name: (N, C_in, H, W, C_out, k, stride, padding, dilation, groups)
    "standard": (2, 3, 6, 5, 4, 3, 1, 1, 1, 1),
    "strided": (1, 2, 7, 7, 3, 3, 2, 0, 1, 1),
    "dilated": (1, 2, 8, 7, 2, 3, 1, 2, 2, 1),
    "grouped": (1, 4, 5, 5, 6, 3, 1, 1, 1, 2),
    "depthwise": (1, 4, 6, 6, 4, 3, 2, 1, 1, 4),
    "depthwise_multiplier": (1, 3, 5, 5, 6, 3, 1, 1, 1, 3),
    "pointwise": (2, 4, 4, 3, 5, 1, 1, 0, 1, 1),
}


@pytest.mark.parametrize("name", sorted(CONV_CASES))
def test_conv2d_macs_equal_brute_force(name):
    N, C, H, W, O, k, s, p, d, g = CONV_CASES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((O, C // g, k, k))
    y_loop, macs = loop_conv2d(x, w, s, p, d, g)
    y = F.conv2d(cp.tensor(x), cp.tensor(w), None, s, p, d, g)
    np.testing.assert_allclose(y.data, y_loop, rtol=1e-10, atol=1e-10)  # the loop is a correct conv
    assert analyzer_macs(lambda t: F.conv2d(t, cp.tensor(w), None, s, p, d, g), x) == macs
    # and the owners' module-level formula agrees
    from cvprimer.functional.conv.conv2d import cost

    assert cost(x.shape, w.shape, s, p, d, g, bias=False)["macs"] == macs


TCONV_CASES = {  # (N, C_in, H, W, C_out, k, stride, padding, output_padding, dilation, groups)
    "stride2": (1, 3, 3, 4, 2, 3, 2, 1, 1, 1, 1),
    "dilated": (1, 2, 3, 3, 2, 3, 1, 1, 0, 2, 1),
    "grouped": (2, 4, 3, 3, 6, 2, 2, 0, 0, 1, 2),
}


@pytest.mark.parametrize("name", sorted(TCONV_CASES))
def test_conv_transpose2d_macs_equal_brute_force(name):
    N, C, H, W, O, k, s, p, op, d, g = TCONV_CASES[name]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((C, O // g, k, k))
    y_loop, macs = loop_conv_transpose2d(x, w, s, p, op, d, g)
    y = F.conv_transpose2d(cp.tensor(x), cp.tensor(w), None, s, p, op, g, d)
    np.testing.assert_allclose(y.data, y_loop, rtol=1e-10, atol=1e-10)
    assert analyzer_macs(lambda t: F.conv_transpose2d(t, cp.tensor(w), None, s, p, op, g, d), x) == macs


@pytest.mark.parametrize("lead", [(5,), (2, 3)])
def test_linear_macs_equal_brute_force(lead):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(lead + (7,))
    w = rng.standard_normal((4, 7))
    y_loop, macs = loop_linear(x.reshape(-1, 7), w)
    np.testing.assert_allclose(F.linear(cp.tensor(x), cp.tensor(w)).data.reshape(-1, 4), y_loop, rtol=1e-10)
    assert analyzer_macs(lambda t: F.linear(t, cp.tensor(w)), x) == macs


def test_matmul_and_attention_macs():
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((2, 5, 4)) for _ in range(3))
    # Q K^T: 2 * 5 * 5 * 4, P V: 2 * 5 * 5 * 4
    sdpa = analyzer_macs(lambda t: F.scaled_dot_product_attention(t, cp.tensor(k), cp.tensor(v)), q)
    assert sdpa == 2 * 2 * 5 * 5 * 4
    _, macs = loop_linear(q[0], k[0])  # q k^T of one batch element
    assert analyzer_macs(lambda t: t @ cp.tensor(np.swapaxes(k, 1, 2)), q) == 2 * macs


def test_normalization_and_activations_are_flops_not_macs():
    x = np.zeros((2, 3, 4, 4), np.float32)
    rm, rv = cp.zeros(3), cp.ones(3)
    tr = trace(Lambda(lambda self, t: F.relu(F.batch_norm(t, rm, rv, cp.ones(3), cp.zeros(3)))), x.shape)
    costs = [op_cost(r) for r in tr.ops]
    assert all(c.macs == 0 for c in costs)
    # eval batch norm: one multiply-add per element = 2 FLOPs; relu: 1 FLOP per element
    assert [c.flops for c in costs] == [2 * x.size, x.size]


def test_shape_only_trace_costs_equal_a_real_run():
    # the placeholders of shape-only mode must not change any count
    rng = np.random.default_rng(4)
    w = cp.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    m = Lambda(lambda self, t: F.max_pool2d(F.relu(F.conv2d(t, w, padding=1)), 2))
    a = trace(m, (1, 3, 8, 8))
    b = trace(m, (1, 3, 8, 8), shape_only_mode=False)
    assert [r.out_shapes for r in a.ops] == [r.out_shapes for r in b.ops]
    assert [op_cost(r) for r in a.ops] == [op_cost(r) for r in b.ops]
