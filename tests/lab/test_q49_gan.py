"""q49: decide exactly at every threshold, each part with the others holding and failing; the GAN's pieces; MMD
against SciPy; the real run at a tiny size with its starting MMD recomputed by a PyTorch forward pass of the same
generator and SciPy distances."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

import cvprimer as cp
from cvprimer import optim
from cvprimer.lab.common import load_data
from cvprimer.lab.experiments.q49_gan import (
    NZ,
    GanEquilibrium,
    d_accuracy,
    d_step,
    discriminator,
    g_grad_norms,
    generator,
    generator_loss,
    mmd2,
    oscillation,
)
from labcheck import edges, reached, run_tiny

E = GanEquilibrium
T = E.thresholds
HOLD = {"steps": 3000, "mmd_start": 0.74, "mmd_end": 0.03, "mmd_ratio": 0.04, "d_acc_mid_on_pool": 0.62,
        "d_acc_end_on_pool": 0.72, "d_gain": 0.1, "g_loss_oscillation": 0.05}
FAIL = {"mmd_ratio": 0.9, "d_gain": -0.1, "g_loss_oscillation": 0.5}
KEYS = {"max_mmd_ratio": ("mmd_ratio", "nuanced", "confirmed"), "min_d_gain": ("d_gain", "nuanced", "confirmed"),
        "max_oscillation": ("g_loss_oscillation", "nuanced", "confirmed")}


@pytest.mark.parametrize("threshold", sorted(KEYS))
def test_edges_every_part(threshold):
    key = KEYS[threshold][0]
    others_fail = {k: v for k, v in FAIL.items() if k != key}
    lower_is_good = threshold.startswith("max_")
    good, bad = "confirmed", "nuanced"
    exp = (good, good, bad) if lower_is_good else (bad, good, good)
    edges(E, lambda v: {**HOLD, key: v}, threshold, *exp)
    exp = ("nuanced", "nuanced", "refuted") if lower_is_good else ("refuted", "nuanced", "nuanced")
    edges(E, lambda v: {**HOLD, **others_fail, key: v}, threshold, *exp)


def test_reached_and_evidence():
    reached(E, [HOLD, {**HOLD, "d_gain": -0.01}, {**HOLD, **FAIL}])
    v, ev = E.decide({**HOLD, "d_gain": -0.0125}, T)
    assert v == "nuanced" and "not measured here: the discriminator improves" in ev["en"] and "判别器进步" in ev["zh"]
    assert "0.74" in ev["en"] and "3,000" in ev["zh"]
    b = E.explain_beyond({"d_acc_late": 0.745, "d_of_fake_when_d_wins": 0.0056, "grad_norm_ns": 9.11,
                          "grad_norm_minimax": 0.049})
    assert "0.745" in b["en"] and "9.11" in b["zh"]
    assert E.quick_provisional


def test_oscillation_and_mmd():
    assert oscillation(np.ones(40)) == 0.0
    swing = np.r_[np.ones(20), np.tile([1.0] * 4 + [3.0] * 4, 3)[:20]]
    assert oscillation(swing) > 0.15
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((30, 5)), rng.standard_normal((40, 5)) + 0.5
    d = cdist(np.r_[a, b], np.r_[a, b], "sqeuclidean")
    k = np.exp(-d / np.median(d))
    ref = k[:30, :30].mean() + k[30:, 30:].mean() - 2 * k[:30, 30:].mean()
    assert mmd2(a, b) == pytest.approx(ref, rel=1e-9) and mmd2(a, a) == pytest.approx(0.0, abs=1e-12)


def test_gan_pieces_and_loss_gradients():
    cp.manual_seed(0)
    G, D = generator(), discriminator()
    rng = np.random.default_rng(0)
    assert G(cp.tensor(rng.standard_normal((3, NZ)).astype(np.float32))).shape == (3, 64)
    real = rng.uniform(-1, 1, (8, 64)).astype(np.float32)
    loss, acc = d_step(G, D, optim.Adam(D.parameters(), lr=1e-3), real, rng)
    assert loss > 0 and 0 <= acc <= 1 and 0 <= d_accuracy(D, real, real) <= 1
    g = g_grad_norms(G, D, 8, rng)
    assert g["ns"] > 0 and g["minimax"] > 0 and 0 < g["d_of_fake"] < 1
    logit = cp.tensor(np.array([[-4.0]], np.float32))
    # minimax loss log(1 - sigmoid(l)) = -softplus(l); non-saturating -log sigmoid(l) = softplus(-l)
    assert generator_loss(logit, "minimax").item() == pytest.approx(-np.log1p(np.exp(-4.0)), rel=1e-5)
    assert generator_loss(logit, "ns").item() == pytest.approx(np.log1p(np.exp(4.0)), rel=1e-5)
    with pytest.raises(ValueError, match="kind must be"):
        generator_loss(logit, "wgan")


def test_run_start_mmd_recomputed_with_torch_and_scipy():
    seed = 1
    res = run_tiny(E, seed=seed)
    rng = np.random.default_rng(seed)  # the run's draws: the data, then the child generator of the noise
    data = load_data("digits", 200, 400, rng)
    child = np.random.default_rng(rng.integers(2**63))
    held = data.x_val.reshape(len(data.x_val), -1) * 2 - 1
    cp.manual_seed(seed)
    ours = generator()
    z = child.standard_normal((len(held), NZ)).astype(np.float32)
    net = torch.nn.Sequential(torch.nn.Linear(NZ, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
                              torch.nn.Linear(64, 64), torch.nn.Tanh())
    with torch.no_grad():
        for i in (0, 2, 4):
            net[i].weight.copy_(torch.tensor(ours[i].weight.data))
            net[i].bias.copy_(torch.tensor(ours[i].bias.data))
        fake = net(torch.tensor(z)).double().numpy()
    x = np.r_[fake, held]
    d = cdist(x, x, "sqeuclidean")
    k = np.exp(-d / np.median(d))
    n = len(fake)
    ref = k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()
    f = res.values()
    assert f["mmd_start"] == pytest.approx(ref, rel=1e-4)
    assert f["mmd_ratio"] == pytest.approx(f["mmd_end"] / f["mmd_start"]) and E.decide(f, T)[0] in E.reachable
