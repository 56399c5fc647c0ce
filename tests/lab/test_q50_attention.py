"""q50: decide exactly at both thresholds, for each part with the others holding and failing; the gated CNN and the
cost sweep; the real run at a tiny size with its spatial-focus ratio recomputed by a PyTorch forward pass of the
trained CBAM net's first layers."""

import tempfile

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer.analysis.timing import blas_threads
from cvprimer.core.random import manual_seed
from cvprimer.lab.common import load_data
from cvprimer.lab.experiment import Context
from cvprimer.lab.experiments.q50_attention import (
    Attention,
    SelfAttention2d,
    attention_vs_conv,
    gated_cnn,
    se_channel_weights,
    spatial_focus,
)
from labcheck import edges, reached

E = Attention
T = E.thresholds
HOLD = {"acc_plain": 80.0, "acc_se": 85.0, "acc_cbam": 86.0, "gain_se": 5.0, "gain_cbam": 6.0, "focus_ratio": 1.15}
FAIL = {"gain_se": -2.0, "gain_cbam": -3.0, "focus_ratio": 1.0}
KEYS = {"min_focus": ["focus_ratio"], "gain_pts": ["gain_se", "gain_cbam"]}


@pytest.mark.parametrize("threshold", sorted(KEYS))
def test_edges_every_part(threshold):
    for key in KEYS[threshold]:
        others_fail = {k: v for k, v in FAIL.items() if k != key}
        edges(E, lambda v, key=key: {**HOLD, key: v}, threshold, below="nuanced", at="confirmed", above="confirmed")
        edges(E, lambda v, key=key, o=others_fail: {**HOLD, **o, key: v}, threshold,
              below="refuted", at="nuanced", above="nuanced")


def test_reached_and_evidence():
    measured = {**HOLD, "gain_se": -2.0, "gain_cbam": -3.0}
    reached(E, [HOLD, measured, {**HOLD, **FAIL}])
    v, ev = E.decide(measured, T)
    assert v == "nuanced" and "Held: the gate finds the digit" in ev["en"] and "SE 提高准确率" in ev["zh"]
    assert "1.15x" in ev["en"] and "-3 points" in ev["en"] and "not measured" in ev["en"]
    b = E.explain_beyond({"extra_macs_se_pct": 0.15, "extra_macs_cbam_pct": 23.0, "macs_plain": 100_000,
                          "params_se": 110, "params_cbam": 210, "params_plain": 100, "tokens_large": 1024,
                          "attn_over_conv_large": 4.0, "attn_over_conv_small": 0.5, "formula_rel_err": 0.0})
    assert "23%" in b["en"] and "1,024" in b["zh"]


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
    ratio, maps = spatial_focus(gated_cnn("cbam", 4), x)
    assert maps.shape == (20, 14, 14) and ratio > 0


def test_run_focus_recomputed_with_torch():
    seed = 2
    manual_seed(seed)
    exp = E()
    with tempfile.TemporaryDirectory() as d, blas_threads(E.threads):
        res = exp.run(Context(d, quick=True, seed=seed, save_plots=False, tiny=True))
    data = load_data("mnist_sample", 120, 100, np.random.default_rng(seed))  # the run's first draw from ctx.rng
    m = exp.models["CBAM"]
    conv, se, gate = m[0], m[2], m[3]
    t = lambda a: torch.tensor(np.asarray(a.data))  # noqa: E731
    with torch.no_grad():
        h = torch.relu(torch.nn.functional.conv2d(torch.tensor(data.x_val), t(conv.weight), t(conv.bias), stride=2,
                                                  padding=2))
        s = torch.sigmoid(torch.nn.functional.linear(torch.relu(torch.nn.functional.linear(
            h.mean((2, 3)), t(se.fc1.weight), t(se.fc1.bias))), t(se.fc2.weight), t(se.fc2.bias)))
        h = h * s[:, :, None, None]
        a = torch.stack([h.mean(1), h.amax(1)], 1)
        g = torch.sigmoid(torch.nn.functional.conv2d(a, t(gate.weight), t(gate.bias), padding=3))[:, 0].numpy()
    cells = data.x_val[:, 0].reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4))
    on = cells > 0.25
    assert res.values()["focus_ratio"] == pytest.approx(g[on].mean() / g[~on].mean(), rel=1e-4)
    assert E.decide(res.values(), T)[0] in E.reachable
