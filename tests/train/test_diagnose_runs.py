"""diagnose() on real short runs made to fail each way (and one healthy run)."""

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from conftest import Lin, TinyMLP
from cvprimer.nn.containers import ModuleList
from cvprimer.nn.module import Module
from cvprimer.optim import SGD
from cvprimer.train import GradientMonitor, History, Trainer, diagnose


def run(model, loaders, lr, epochs, momentum=0.9):
    tr, va = loaders()
    hist, gm = History(), GradientMonitor()
    t = Trainer(model, F.cross_entropy, SGD(model.parameters(), lr=lr, momentum=momentum), callbacks=[hist, gm])
    t.fit(tr, va, epochs=epochs)
    return diagnose(hist.epochs, gm.monitors(), step_losses=hist.step_losses)


def kinds(findings):
    return {f.kind for f in findings}


def test_learning_rate_ten_diverges(loaders):
    cp.manual_seed(0)
    assert "divergence" in kinds(run(TinyMLP(p=0.0), loaders, lr=10.0, epochs=3))


def test_tiny_learning_rate_stalls_and_underfits(loaders):
    cp.manual_seed(0)
    assert {"stall", "underfitting"} <= kinds(run(TinyMLP(p=0.0), loaders, lr=1e-7, epochs=3))


class DeepSigmoid(Module):
    def __init__(self, depth=10, width=32, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        dims = [64] + [width] * depth
        self.layers = ModuleList([Lin(a, b, rng, 1.0) for a, b in zip(dims[:-1], dims[1:], strict=True)])
        self.head = Lin(width, 10, rng, 1.0)

    def forward(self, x):
        h = x.reshape(x.shape[0], -1)
        for layer in self.layers:
            h = F.sigmoid(layer(h))
        return self.head(h)


def test_deep_sigmoid_mlp_has_vanishing_gradients(loaders):
    found = run(DeepSigmoid(), loaders, lr=0.1, epochs=1)
    (v,) = [f for f in found if f.kind == "vanishing_gradients"]
    norms = list(v.evidence["per_layer"].values())
    assert norms[0] < 1e-3 * norms[-1]  # shrinking by orders of magnitude toward the input


def test_healthy_run_has_no_failure_findings(loaders):
    cp.manual_seed(0)
    assert not kinds(run(TinyMLP(p=0.0), loaders, lr=0.1, epochs=4)) & {
        "divergence", "stall", "underfitting", "vanishing_gradients", "exploding_gradients"}
