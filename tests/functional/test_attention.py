"""Attention vs PyTorch: scaled_dot_product_attention, nn.MultiheadAttention (same weights),
squeeze-and-excitation and CBAM's spatial gate (torch compositions)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.core.function import run_backward
from cvprimer.functional.attention import cost
from parity import assert_close, check_grad, distinct, parity, randn

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


def _sdpa(mask=None, causal=False, scale=None):
    ours = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask, 0.0, causal, scale)  # noqa: E731
    m = None if mask is None else torch.from_numpy(mask)

    def theirs(q, k, v):  # torch wants a float mask in the query's dtype
        mm = m.to(q.dtype) if m is not None and m.is_floating_point() else m
        return TF.scaled_dot_product_attention(q, k, v, mm, 0.0, causal, scale=scale)

    return ours, theirs


@pytest.mark.parametrize("case", ["plain", "bool", "bool_bcast", "float", "causal", "causal_rect", "scale"])
def test_sdpa_parity(case):
    rng = np.random.default_rng(1)
    n, h, L, S, E, Ev = 2, 3, 5, 6, 4, 7
    if case == "causal":
        S = L
    q, k, v = randn(n, h, L, E, seed=1), randn(n, h, S, E, seed=2), randn(n, h, S, Ev, seed=3)
    mask = {"bool": rng.random((L, S)) > 0.3, "bool_bcast": rng.random((n, 1, L, S)) > 0.4,
            "float": rng.standard_normal((L, S))}.get(case)
    ours, theirs = _sdpa(mask, case.startswith("causal"), 0.3 if case == "scale" else None)
    parity(ours, theirs, q, k, v, noncontig=True)


def test_sdpa_three_dim_inputs_and_gradcheck():
    q, k, v = randn(2, 3, 4, seed=4), randn(2, 5, 4, seed=5), randn(2, 5, 2, seed=6)
    parity(*_sdpa(), q, k, v)
    mask = np.random.default_rng(7).random((3, 5)) > 0.3
    check_grad(_sdpa(mask)[0], q, k, v)
    check_grad(_sdpa(None, True)[0], q[:, :, :], k[:, :3], v[:, :3])


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_masked_rows_give_zeros_like_torch(kind):
    q, k, v = randn(1, 2, 3, 4, seed=8), randn(1, 2, 3, 4, seed=9), randn(1, 2, 3, 4, seed=10)
    keep = np.array([[True, False, True], [False, False, False], [True, True, False]])
    mask = keep if kind == "bool" else np.where(keep, 0.0, -np.inf)
    parity(*_sdpa(mask), q, k, v)
    out = F.scaled_dot_product_attention(cp.tensor(q), cp.tensor(k), cp.tensor(v), attn_mask=mask)
    assert np.all(out.data[:, :, 1] == 0) and np.isfinite(out.data).all()


def test_sdpa_dropout_reproducible_unbiased_and_differentiable():
    q, k, v = (cp.tensor(randn(1, 4, 3, seed=s), dtype="float64") for s in (11, 12, 13))
    plain = F.scaled_dot_product_attention(q, k, v).data

    def drop(seed):
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, rng=np.random.default_rng(seed)).data

    np.testing.assert_array_equal(drop(0), drop(0))
    assert not np.allclose(drop(0), plain)
    mean = np.mean([drop(s) for s in range(2000)], axis=0)  # inverted dropout keeps E[out]
    np.testing.assert_allclose(mean, plain, atol=0.1)
    check_grad(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, dropout_p=0.3, rng=np.random.default_rng(1)),
               q.data, k.data, v.data)


def _mha_case(dtype, batch_first, kpm_kind, am_kind, need_weights, average, seed=0, self_attn=False):
    rng = np.random.default_rng(seed)
    E, H, L, S, N = 8, 2, 4, 5, 3
    if self_attn:
        S = L
    lay = (lambda a, b: (N, a, b)) if batch_first else (lambda a, b: (a, N, b))
    qa = rng.standard_normal(lay(L, E)).astype(dtype)
    ka = qa if self_attn else rng.standard_normal(lay(S, E)).astype(dtype)
    va = qa if self_attn else rng.standard_normal(lay(S, E)).astype(dtype)
    kpm = rng.random((N, S)) > 0.7
    kpm[:, 0] = False  # every query keeps one key (PyTorch's module gives NaN otherwise)
    kpm = {"none": None, "bool": kpm, "float": np.where(kpm, -1e9, rng.standard_normal((N, S))).astype(dtype)}[kpm_kind]
    am = rng.random((L, S)) > 0.8
    am[:, 0] = False
    am = {"none": None, "bool": am, "float3d": rng.standard_normal((N * H, L, S)).astype(dtype)}[am_kind]
    mha = torch.nn.MultiheadAttention(E, H, batch_first=batch_first, dtype=torch.float32 if dtype == np.float32
                                      else torch.float64)
    names = ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    with torch.no_grad():  # random biases too (the module zero-initializes them)
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    params = dict(mha.named_parameters())
    ws = [cp.Tensor(params[n].detach().numpy().copy(), requires_grad=True) for n in names]
    ins = [cp.Tensor(a, requires_grad=True) for a in ((qa,) if self_attn else (qa, ka, va))]
    tins = [torch.from_numpy(a.copy()).requires_grad_() for a in ((qa,) if self_attn else (qa, ka, va))]
    three = (ins * 3) if self_attn else ins
    tthree = (tins * 3) if self_attn else tins
    tm = (lambda m: None if m is None else torch.from_numpy(m))  # noqa: E731
    out, w = F.multi_head_attention(*three, H, *ws, key_padding_mask=kpm, attn_mask=am, need_weights=need_weights,
                                    average_attn_weights=average, batch_first=batch_first)
    tout, tw = mha(*tthree, key_padding_mask=tm(kpm), attn_mask=tm(am), need_weights=need_weights,
                   average_attn_weights=average)
    tol = TOL[dtype]
    assert_close(out.data, tout.detach().numpy(), "output", **tol)
    if not need_weights:
        assert w is None and tw is None
    else:
        assert_close(w.data, tw.detach().numpy(), "weights", **tol)
    live = [(out, tout)] + ([(w, tw)] if need_weights else [])
    gs = [rng.standard_normal(o.shape).astype(dtype) for o, _ in live]
    run_backward([o for o, _ in live], gs)
    torch.autograd.backward([t for _, t in live], [torch.from_numpy(g) for g in gs])
    for i, (a, b) in enumerate(zip(ins, tins, strict=True)):
        assert_close(a.grad.data, b.grad.numpy(), f"grad of input {i}", **tol)
    for n, wt in zip(names, ws, strict=True):
        assert_close(wt.grad.data, params[n].grad.numpy(), f"grad of {n}", **tol)


# mixing a bool and a float mask is deprecated in PyTorch (a warning) but still defined: keep testing it
@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask:UserWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kpm,am,need,avg", [("none", "none", True, True), ("bool", "none", True, False),
                                             ("float", "bool", True, True), ("bool", "float3d", False, True),
                                             ("none", "bool", True, False)])
def test_multi_head_attention_vs_torch_module(dtype, batch_first, kpm, am, need, avg):
    _mha_case(dtype, batch_first, kpm, am, need, avg)


def test_multi_head_self_attention_accumulates_gradients():
    _mha_case(np.float64, False, "bool", "bool", True, True, seed=3, self_attn=True)


def test_multi_head_attention_unbatched_and_fully_masked():
    rng = np.random.default_rng(4)
    x = cp.tensor(rng.standard_normal((3, 4)))
    w_in, w_out = cp.tensor(rng.standard_normal((12, 4))), cp.tensor(rng.standard_normal((4, 4)))
    out, w = F.multi_head_attention(x, x, x, 2, w_in, None, w_out, None)
    ob, wb = F.multi_head_attention(x.unsqueeze(1), x.unsqueeze(1), x.unsqueeze(1), 2, w_in, None, w_out, None)
    np.testing.assert_allclose(out.data, ob.data[:, 0])
    np.testing.assert_allclose(w.data, wb.data[0])
    # every key padded: zeros and zero weights (PyTorch's module returns NaN here)
    out, w = F.multi_head_attention(x, x, x, 2, w_in, None, w_out, None, key_padding_mask=np.ones(3, bool))
    assert np.all(out.data == 0) and np.all(w.data == 0)


def _se_torch(x, w1, b1, w2, b2):
    g = torch.sigmoid(torch.relu(x.mean((2, 3)) @ w1.T + b1) @ w2.T + b2)
    return x * g[:, :, None, None]


def test_squeeze_excitation():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 3, 4))
    w1, b1 = rng.standard_normal((3, 6)), rng.standard_normal(3) + 0.3
    w2, b2 = rng.standard_normal((6, 3)), rng.standard_normal(6)
    parity(F.squeeze_excitation, _se_torch, x, w1, b1, w2, b2, noncontig=True)
    check_grad(F.squeeze_excitation, x[:1, :, :2, :2], w1, b1, w2, b2)
    y = F.squeeze_excitation(cp.tensor(x), cp.tensor(w1), None, cp.tensor(w2), None)
    np.testing.assert_allclose(y.data, _se_torch(*(torch.from_numpy(a) for a in (x, w1, 0 * b1, w2, 0 * b2))).numpy(),
                               rtol=1e-6)


@pytest.mark.parametrize("k,bias", [(3, True), (7, False), (1, True)])
def test_spatial_gate(k, bias):
    rng = np.random.default_rng(6)
    x = distinct(2, 4, 5, 6, seed=k) / 10  # tie-free channel maxima
    w, b = rng.standard_normal((1, 2, k, k)), rng.standard_normal(1)

    def theirs(xt, wt, bt):
        a = torch.cat([xt.mean(1, keepdim=True), xt.amax(1, keepdim=True)], 1)
        return xt * torch.sigmoid(TF.conv2d(a, wt, bt if bias else None, padding=k // 2))

    parity(lambda xx, ww, bb: F.spatial_gate(xx, ww, bb if bias else None), theirs, x, w, b)
    check_grad(lambda xx, ww, bb: F.spatial_gate(xx, ww, bb if bias else None), x[:1, :3, :3, :3], w, b)


def test_errors():
    q = cp.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention: expected q \(\.\.\., L, E\)"):
        F.scaled_dot_product_attention(q, cp.randn(2, 3, 5), q)
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 3), bool), is_causal=True)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(2, 2\) does not broadcast"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((2, 2), bool))
    with pytest.raises(TypeError, match="masks must be boolean or floating-point"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 3), np.int64))
    w_in, w_out = cp.randn(12, 4), cp.randn(4, 4)
    with pytest.raises(ValueError, match="embed dim 4 must be divisible by num_heads 3"):
        F.multi_head_attention(q.transpose(0, 1), q.transpose(0, 1), q.transpose(0, 1), 3, w_in, None, w_out, None)
    with pytest.raises(ValueError, match=r"key_padding_mask must be \(N, S\) = \(2, 3\)"):
        F.multi_head_attention(q, q, q, 2, w_in, None, w_out, None, key_padding_mask=np.ones((3, 2), bool),
                               batch_first=True)
    with pytest.raises(ValueError, match=r"squeeze_excitation: for C = 4 expected w1 \(C_r, 4\)"):
        F.squeeze_excitation(cp.randn(1, 4, 2, 2), cp.randn(2, 3), None, cp.randn(4, 2), None)
    with pytest.raises(ValueError, match=r"spatial_gate: weight must be \(1, 2, k, k\) with k odd"):
        F.spatial_gate(cp.randn(1, 4, 5, 5), cp.randn(1, 2, 4, 4))


def test_cost():
    c = cost((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 7))
    assert c["macs"] == 6 * 5 * 6 * (4 + 7)
    assert c["bytes"] == 6 * (5 * 4 + 6 * 4 + 6 * 7 + 5 * 7) * 4


def test_multi_head_attention_dropout_only_in_training():
    rng = np.random.default_rng(8)
    x = cp.tensor(rng.standard_normal((4, 2, 6)))
    w_in, b_in = cp.tensor(rng.standard_normal((18, 6))), cp.tensor(rng.standard_normal(18))
    w_out, b_out = cp.tensor(rng.standard_normal((6, 6))), cp.tensor(rng.standard_normal(6))
    args = (x, x, x, 3, w_in, b_in, w_out, b_out)
    ref, wref = F.multi_head_attention(*args)
    ev, wev = F.multi_head_attention(*args, dropout_p=0.5, training=False, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(ev.data, ref.data)
    np.testing.assert_array_equal(wev.data, wref.data)
    tr, wtr = F.multi_head_attention(*args, dropout_p=0.5, average_attn_weights=False, rng=np.random.default_rng(0))
    tr2, _ = F.multi_head_attention(*args, dropout_p=0.5, average_attn_weights=False, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(tr.data, tr2.data)
    assert not np.allclose(tr.data, ref.data)
    kept = wtr.data[wtr.data != 0]  # dropped-out weights: zeros and survivors scaled by 1 / (1 - p)
    assert kept.size < wtr.data.size and np.all(kept <= 2.0 + 1e-12)
