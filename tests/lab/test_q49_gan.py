"""q49: decide on both sides of every threshold; the GAN's pieces on tiny batches."""

import numpy as np
import pytest

import cvprimer as cp
from cvprimer import optim
from cvprimer.lab.experiments.q49_gan import (
    NZ,
    GanEquilibrium,
    d_step,
    discriminator,
    g_grad_norms,
    generator,
    generator_loss,
    oscillation,
)

T = GanEquilibrium.thresholds


def figs(acc=0.55, osc=0.05, cov=10, **kw):
    f = {"d_acc_late": acc, "g_loss_oscillation": osc, "classes_covered": cov, "class_entropy": 3.2,
         "steps": 1500, "grad_norm_ns": 7.6, "grad_norm_minimax": 0.65, "d_of_fake_when_d_wins": 0.08}
    f.update(kw)
    return f


def test_confirmed_only_when_balanced_settled_and_covered():
    v, ev = GanEquilibrium.decide(figs(), T)
    assert v == "confirmed" and "0.55" in ev["en"] and "7.6" in ev["en"] and "0.65" in ev["zh"]


def test_each_threshold_flips_to_nuanced():
    assert GanEquilibrium.decide(figs(acc=0.5 + T["d_acc_band"] + 0.01), T)[0] == "nuanced"
    assert GanEquilibrium.decide(figs(acc=0.5 - T["d_acc_band"] + 0.01), T)[0] == "confirmed"
    assert GanEquilibrium.decide(figs(osc=T["max_oscillation"] + 0.01), T)[0] == "nuanced"
    assert GanEquilibrium.decide(figs(osc=T["max_oscillation"] - 0.01), T)[0] == "confirmed"
    assert GanEquilibrium.decide(figs(cov=9), T)[0] == "nuanced"


def test_refuted_when_nothing_holds():
    v, ev = GanEquilibrium.decide(figs(acc=0.98, osc=0.5, cov=2), T)
    assert v == "refuted" and "outside" in ev["en"] and "不在" in ev["zh"]


def test_oscillation():
    assert oscillation(np.ones(40)) == 0.0
    swing = np.r_[np.ones(20), np.tile([1.0] * 4 + [3.0] * 4, 3)[:20]]
    assert oscillation(swing) > 0.15


def test_gan_pieces_and_loss_gradients():
    cp.manual_seed(0)
    G, D = generator(4), discriminator(4)
    rng = np.random.default_rng(0)
    assert G(cp.tensor(rng.standard_normal((3, NZ)).astype(np.float32))).shape == (3, 1, 28, 28)
    real = rng.uniform(-1, 1, (8, 1, 28, 28)).astype(np.float32)
    loss, acc = d_step(G, D, optim.Adam(D.parameters(), lr=1e-3), real, rng)
    assert loss > 0 and 0 <= acc <= 1
    g = g_grad_norms(G, D, 8, rng)
    assert g["ns"] > 0 and g["minimax"] > 0 and 0 < g["d_of_fake"] < 1
    logit = cp.tensor(np.array([[-4.0]], np.float32))
    # minimax loss log(1 - sigmoid(l)) = -softplus(l); non-saturating -log sigmoid(l) = softplus(-l)
    assert generator_loss(logit, "minimax").item() == pytest.approx(-np.log1p(np.exp(-4.0)), rel=1e-5)
    assert generator_loss(logit, "ns").item() == pytest.approx(np.log1p(np.exp(4.0)), rel=1e-5)
    with pytest.raises(ValueError, match="kind must be"):
        generator_loss(logit, "wgan")
