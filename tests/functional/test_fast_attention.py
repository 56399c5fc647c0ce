"""The fast paths of attention: in-place softmax and backward buffers of ``AttentionFn``, the packed
Q/K/V projection of self-attention in ``multi_head_attention``, vs PyTorch and gradchecks."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.core.function import run_backward
from cvprimer.core.settings import settings
from cvprimer.functional.attention import _attend
from parity import assert_close, check_grad, parity, randn

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


def test_sdpa_mask_with_more_leading_axes_than_q_and_k():
    # the scores (h, L, S) grow to the mask's (n, h, L, S): the add cannot happen in place
    q, k, v = randn(3, 4, 5, seed=1), randn(3, 6, 5, seed=2), randn(3, 6, 2, seed=3)
    mask = np.random.default_rng(4).standard_normal((2, 3, 4, 6))
    parity(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, mask),
           lambda a, b, c: torch.softmax(a @ b.transpose(-2, -1) / np.sqrt(5) + torch.from_numpy(mask).to(a.dtype),
                                         -1) @ c, q, k, v)


def test_sdpa_v_with_more_leading_axes_and_gradcheck():
    q, k, v = randn(3, 4, seed=5), randn(5, 4, seed=6), randn(2, 5, 3, seed=7)
    parity(lambda a, b, c: F.scaled_dot_product_attention(a, b, c),
           lambda a, b, c: TF.scaled_dot_product_attention(a, b, c), q, k, v)
    check_grad(lambda a, b, c: F.scaled_dot_product_attention(a, b, c), q, k, v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_weights_gradient_flows_with_the_output(dtype):
    # both outputs of AttentionFn used: gP is added to gO V^T (not the engine's zeros)
    q, k, v = (randn(2, 4, 3, seed=s).astype(dtype) for s in (8, 9, 10))
    keep = np.ones((4, 4), bool)
    keep[1, 1:] = False
    keep[2, 0] = False
    mask = np.where(keep, 0.0, -np.inf).astype(dtype)
    cq, ck, cv = (cp.Tensor(a, requires_grad=True) for a in (q, k, v))
    tq, tk, tv = (torch.from_numpy(a.copy()).requires_grad_() for a in (q, k, v))
    o, w = _attend(cq, ck, cv, mask, 0.4, 0.0, None)
    ts = tq @ tk.transpose(-2, -1) * 0.4 + torch.from_numpy(mask)
    tw = torch.softmax(ts, -1)
    to = tw @ tv
    go, gw = randn(*o.shape, seed=11).astype(dtype), randn(*w.shape, seed=12).astype(dtype)
    run_backward([o, w], [go, gw])
    torch.autograd.backward([to, tw], [torch.from_numpy(go), torch.from_numpy(gw)])
    assert_close(o.data, to.detach().numpy(), "output", **TOL[dtype])
    assert_close(w.data, tw.detach().numpy(), "weights", **TOL[dtype])
    for ours, theirs, name in ((cq, tq, "gq"), (ck, tk, "gk"), (cv, tv, "gv")):
        assert_close(ours.grad.data, theirs.grad.numpy(), name, **TOL[dtype])
    if dtype == np.float64:
        check_grad(lambda a, b, c: sum(t.sum() * (i + 1) for i, t in enumerate(_attend(a, b, c, mask, 0.4, 0.0,
                                                                                          None))), q, k, v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_first,need_weights", [(True, False), (False, True)])
def test_self_attention_packed_projection_vs_torch(dtype, batch_first, need_weights):
    rng = np.random.default_rng(0)
    E, H, L, N = 8, 2, 5, 3
    x = rng.standard_normal((N, L, E) if batch_first else (L, N, E)).astype(dtype)
    mha = torch.nn.MultiheadAttention(E, H, batch_first=batch_first, dtype=torch.float64).to(
        torch.float32 if dtype == np.float32 else torch.float64)
    with torch.no_grad():
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    names = ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    params = dict(mha.named_parameters())
    ws = [cp.Tensor(params[n].detach().numpy().copy(), requires_grad=True) for n in names]
    cx, tx = cp.Tensor(x, requires_grad=True), torch.from_numpy(x.copy()).requires_grad_()
    out, w = F.multi_head_attention(cx, cx, cx, H, *ws, need_weights=need_weights, batch_first=batch_first)
    tout, tw = mha(tx, tx, tx, need_weights=need_weights)
    assert_close(out.data, tout.detach().numpy(), "output", **TOL[dtype])
    live = [(out, tout)] + ([(w, tw)] if need_weights else [])
    gs = [rng.standard_normal(o.shape).astype(dtype) for o, _ in live]
    run_backward([o for o, _ in live], gs)
    torch.autograd.backward([t for _, t in live], [torch.from_numpy(g) for g in gs])
    assert_close(cx.grad.data, tx.grad.numpy(), "grad of x", **TOL[dtype])
    for n, wt in zip(names, ws, strict=True):
        assert_close(wt.grad.data, params[n].grad.numpy(), f"grad of {n}", **TOL[dtype])


def test_self_attention_gradcheck():
    rng = np.random.default_rng(1)
    x, w_in, b_in, w_out = (rng.standard_normal(s) for s in ((2, 3, 4), (12, 4), (12,), (4, 4)))
    check_grad(lambda a, wi, bi, wo: F.multi_head_attention(a, a, a, 2, wi, bi, wo, None, batch_first=True)[0],
               x, w_in, b_in, w_out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mask_kind", ["none", "batch", "shared", "causal"])
def test_batch_split_over_workers_equals_one_call(dtype, mask_kind):
    # tiny chunks forced: the batch of 5 is split over 3 workers; the result must not change
    rng = np.random.default_rng(13)
    q, k, v = (rng.standard_normal((5, 2, 4, 3)).astype(dtype) for _ in range(3))
    mask = {"none": None, "batch": rng.random((5, 1, 4, 4)) > 0.3, "shared": rng.standard_normal((4, 4)),
            "causal": None}[mask_kind]
    causal = mask_kind == "causal"
    go, gw = rng.standard_normal((5, 2, 4, 3)).astype(dtype), rng.standard_normal((5, 2, 4, 4)).astype(dtype)
    results = []
    for split in (False, True):
        opts = dict(threads=3, min_chunk_elements=1) if split else dict(threads=1)
        with settings.override(**opts):
            ts = [cp.Tensor(a.copy(), requires_grad=True) for a in (q, k, v)]
            add = None if mask is None else (np.where(mask, 0.0, -np.inf) if mask.dtype == bool else mask)
            if causal:
                add = np.where(np.tril(np.ones((4, 4), bool)), 0.0, -np.inf)
            o, w = _attend(*ts, None if add is None else add.astype(dtype), 0.5, 0.0, None)
            run_backward([o, w], [go, gw])
            results.append([o.data, w.data] + [t.grad.data for t in ts])
    for a, b, name in zip(*results, ["o", "w", "gq", "gk", "gv"], strict=True):
        assert_close(a, b, name, **TOL[dtype])
    with settings.override(threads=3, min_chunk_elements=1):
        parity(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, mask, is_causal=causal),
               lambda a, b, c: TF.scaled_dot_product_attention(
                   a, b, c, None if mask is None else torch.from_numpy(mask if mask.dtype == bool else mask).to(
                       torch.bool if mask.dtype == bool else a.dtype), is_causal=causal), q, k, v)
