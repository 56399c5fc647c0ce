"""GradientMonitor on a network whose answer is known by hand: dead units planted in the first ReLU, and the
update/weight ratio of one plain SGD step computed from the gradients directly."""

from __future__ import annotations

import numpy as np
import pytest

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn, optim
from cvprimer.data import ArrayDataset, DataLoader
from cvprimer.train import GradientMonitor, Trainer


def _net(seed: int) -> nn.Module:
    cp.manual_seed(seed)
    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    net[0].bias.data[:3] = -100.0  # inputs in [0, 1]: these three units can never be positive
    net[0].bias.data[3:] = 100.0  # and these three always are
    return net.double()


def test_dead_fraction_and_update_ratio_equal_the_hand_computed_values():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (8, 4))
    y = rng.integers(0, 3, 8)
    lr = 0.05
    net = _net(1)
    ref = _net(1)
    gm = GradientMonitor()
    Trainer(net, F.cross_entropy, optim.SGD(net.parameters(), lr=lr), callbacks=[gm]).fit(
        DataLoader(ArrayDataset(x, y), batch_size=8), epochs=1)
    assert gm.dead_fraction == {"1": pytest.approx(0.5)}

    loss = F.cross_entropy(ref(cp.tensor(x)), cp.tensor(y))
    loss.backward()
    for layer in ("0", "2"):
        params = [p for n, p in ref.named_parameters() if n.startswith(layer + ".")]
        g = np.sqrt(sum(float((p.grad.data ** 2).sum()) for p in params))
        w = np.sqrt(sum(float((p.data ** 2).sum()) for p in params))
        assert gm.grad_norms[layer] == [pytest.approx(g, rel=1e-10)]
        assert gm.update_ratios[layer] == [pytest.approx(lr * g / w, rel=1e-10)]


def test_dead_fraction_counts_a_unit_alive_when_positive_on_any_sample():
    """Two dead units, two always alive and two alive on some samples only: a unit is dead when it is positive on
    no sample, so the fraction is 2/6 (counting a unit alive only when positive on every sample would give 4/6)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (8, 4))
    y = rng.integers(0, 3, 8)
    cp.manual_seed(2)
    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    net[0].bias.data[:2] = -100.0
    net[0].bias.data[2:4] = 100.0
    net[0].weight.data[4:] = [[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]]
    net[0].bias.data[4:] = 0.0
    pre = x @ net[0].weight.data[4:].T
    assert ((pre > 0).any(axis=0) & ~(pre > 0).all(axis=0)).all()  # the planted units really are partly alive
    gm = GradientMonitor()
    Trainer(net, F.cross_entropy, optim.SGD(net.parameters(), lr=0.0), callbacks=[gm]).fit(
        DataLoader(ArrayDataset(x, y), batch_size=8), epochs=1)
    assert gm.dead_fraction == {"1": pytest.approx(1 / 3)}
