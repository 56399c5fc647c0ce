"""A tiny model and data for trainer tests (built from Module + functional ops directly)."""

import numpy as np
import pytest

import cvprimer.functional as F
from cvprimer.data import ArrayDataset, DataLoader
from cvprimer.nn.module import Module
from cvprimer.nn.parameter import Parameter


class Lin(Module):
    def __init__(self, d_in, d_out, rng, gain):
        super().__init__()
        self.weight = Parameter((rng.standard_normal((d_out, d_in)) * np.sqrt(gain / d_in)).astype(np.float32))
        self.bias = Parameter(np.zeros(d_out, np.float32))

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class TinyMLP(Module):
    def __init__(self, d_in=64, hidden=32, classes=10, p=0.1, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.fc1 = Lin(d_in, hidden, rng, 2.0)
        self.fc2 = Lin(hidden, classes, rng, 1.0)
        self.p = p

    def forward(self, x):
        h = F.relu(self.fc1(x.reshape(x.shape[0], -1)))
        h = F.dropout(h, self.p, self.training)
        return self.fc2(h)


@pytest.fixture(scope="session")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(x))
    tr, va = idx[:600], idx[600:900]
    return (x[tr], y[tr]), (x[va], y[va])


@pytest.fixture
def loaders(digits):
    (xt, yt), (xv, yv) = digits

    def make(seed=1):
        return (DataLoader(ArrayDataset(xt, yt), batch_size=50, shuffle=True, rng=np.random.default_rng(seed)),
                DataLoader(ArrayDataset(xv, yv), batch_size=100))

    return make
