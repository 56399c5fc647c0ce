"""q50: decide on both sides of both thresholds; the gated CNN, the cost sweep and the attention helpers."""

import numpy as np
import pytest

import cvprimer as cp
from cvprimer.lab.experiments.q50_attention import (
    Attention,
    SelfAttention2d,
    attention_vs_conv,
    gated_cnn,
    se_channel_weights,
    vit_attention,
)
from cvprimer.models import VisionTransformer

T = Attention.thresholds


def figs(se=0.15, cb=23.0, r_small=0.5, r_large=4.0):
    return {"extra_macs_se_pct": se, "extra_macs_cbam_pct": cb, "attn_over_conv_small": r_small,
            "attn_over_conv_large": r_large, "tokens_large": 1024, "acc_plain": 0.84, "acc_se": 0.8,
            "acc_cbam": 0.81}


def test_refuted_when_gates_add_macs_and_attention_outgrows_conv():
    v, ev = Attention.decide(figs(), T)
    assert v == "refuted" and "23" in ev["en"] and "1,024" in ev["en"] and "4" in ev["zh"]


def test_nuanced_when_only_one_side_holds():
    assert Attention.decide(figs(r_large=T["attn_over_conv"] - 0.1), T)[0] == "nuanced"
    assert Attention.decide(figs(se=T["extra_macs_pct"], cb=T["extra_macs_pct"]), T)[0] == "nuanced"


def test_confirmed_when_attention_saves_computation():
    v, ev = Attention.decide(figs(se=-1.0, cb=-2.0, r_large=0.5), T)
    assert v == "confirmed" and "saved" in ev["en"]


def test_cost_sweep_matches_formulas_and_grows_quadratically():
    rows = attention_vs_conv((2, 4, 8), c=8)
    for _n, a, c, fa, fc in rows:
        assert a == fa and c == fc
    assert rows[-1][1] / rows[-1][2] > rows[0][1] / rows[0][2]


def test_gated_cnn_and_helpers_shapes():
    cp.manual_seed(0)
    x = np.random.default_rng(0).random((20, 1, 28, 28)).astype(np.float32)
    y = np.arange(20) % 10
    for g in ("none", "se", "cbam"):
        assert gated_cnn(g, 4)(cp.tensor(x[:2])).shape == (2, 10)
    with pytest.raises(ValueError, match="gate must be"):
        gated_cnn("eca")
    w = se_channel_weights(gated_cnn("se", 4), x, y)
    assert w.shape == (10, 8) and (w > 0).all() and (w < 1).all()
    sa = SelfAttention2d(4)
    assert sa(cp.tensor(np.ones((1, 4, 3, 5), np.float32))).shape == (1, 4, 3, 5)
    vit = VisionTransformer(image_size=28, patch_size=7, in_channels=1, embed_dim=8, depth=2, num_heads=2, mlp_dim=8)
    att = vit_attention(vit, x[:3])
    assert att.shape == (3, 4, 4)
    s = att.sum(axis=(1, 2))  # the patches' share of the class token's attention (the rest is on itself)
    assert (att >= 0).all() and (s > 0).all() and (s <= 1 + 1e-6).all()
