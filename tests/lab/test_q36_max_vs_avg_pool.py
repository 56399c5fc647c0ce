"""q36: decide exactly at its margin in each setting; the net builder; the real run's accuracies recomputed by a
PyTorch copy of every trained net on the same images."""

import numpy as np
import torch

import cvprimer as cp
from cvprimer.lab.experiments import q36_max_vs_avg_pool as q36
from cvprimer.lab.experiments.q36_max_vs_avg_pool import MaxVsAvgPooling as E
from cvprimer.lab.experiments.q36_max_vs_avg_pool import add_noise, pool_net
from labcheck import edges, reached, run_tiny

T = E.thresholds
W = T["win_pts"]
BASE = {"digits_max_flat": 94.0, "digits_avg_flat": 83.0, "mnist_max_clean": 71.0, "mnist_avg_clean": 72.0,
        "gap_digits": 11.0, "gap_mnist": -1.0}


def test_edges_in_each_setting():
    for gap, other in (("gap_digits", "gap_mnist"), ("gap_mnist", "gap_digits")):
        edges(E, lambda v, g=gap, o=other: {**BASE, g: v, o: 50.0}, "win_pts", below="nuanced", at="confirmed",
              above="confirmed")
        edges(E, lambda v, g=gap, o=other: {**BASE, g: v, o: 0.0}, "win_pts", below="refuted", at="nuanced",
              above="nuanced")


def test_reachable_and_evidence():
    reached(E, [BASE, {**BASE, "gap_mnist": 8.0}, {**BASE, "gap_digits": -3.0}])
    v, ev = E.decide(BASE, T)
    assert v == "nuanced" and "better on 8x8 digits only" in ev["en"] and "does not lead" in ev["en"]
    assert "94" in ev["zh"] and "72" in ev["zh"]
    b = E.explain_beyond({"digits_max_gap": 75.4, "digits_max_gmp": 91.0, "mnist_max_noise": 48.0,
                          "mnist_avg_noise": 50.3, "mnist_max_shift": 49.3, "mnist_avg_shift": 54.0,
                          "mnist_max_noisy_task": 13.7, "mnist_avg_noisy_task": 25.3})
    assert "75.4" in b["en"] and "25.3" in b["zh"]


def test_pool_net_shapes_for_each_head():
    for head in ("flatten", "global avg", "global max"):
        for size in (8, 28):
            out = pool_net("avg", head, size)(cp.tensor(np.zeros((2, 1, size, size), np.float32)))
            assert out.shape == (2, 10)


def test_add_noise_is_clipped():
    x = add_noise(np.full((3, 1, 4, 4), 0.5, np.float32), 5.0, np.random.default_rng(0))
    assert x.min() >= 0 and x.max() <= 1 and x.dtype == np.float32


def _torch_accuracy(model, x, y) -> float:
    """``model`` (a pool_net) copied into torch ops and evaluated on ``x``: accuracy in %."""
    h = torch.tensor(x, dtype=torch.float64)
    for layer in model:
        name = type(layer).__name__
        if name == "Conv2d":
            h = torch.nn.functional.conv2d(h, torch.tensor(layer.weight.data, dtype=torch.float64),
                                           torch.tensor(layer.bias.data, dtype=torch.float64), padding=1)
        elif name == "ReLU":
            h = torch.relu(h)
        elif name == "MaxPool2d":
            h = torch.nn.functional.max_pool2d(h, 2)
        elif name == "AvgPool2d":
            h = torch.nn.functional.avg_pool2d(h, 2)
        elif name == "GlobalAvgPool2d":
            h = h.mean((2, 3), keepdim=True)
        elif name == "GlobalMaxPool2d":
            h = h.amax((2, 3), keepdim=True)
        elif name == "Flatten":
            h = h.reshape(len(h), -1)
        else:
            h = h @ torch.tensor(layer.weight.data, dtype=torch.float64).T + torch.tensor(layer.bias.data,
                                                                                         dtype=torch.float64)
    return 100 * float((h.argmax(1).numpy() == y).mean())


def test_run_accuracies_match_torch(monkeypatch):
    calls = []
    real = q36.accuracy

    def record(model, x, y):
        calls.append((model, x, y))
        return real(model, x, y)

    monkeypatch.setattr(q36, "accuracy", record)
    f = run_tiny(E, seed=2).values()
    assert abs(f["gap_mnist"] - (f["mnist_max_clean"] - f["mnist_avg_clean"])) < 1e-8
    assert len(calls) == 12  # 4 digits nets, then per pooling: clean, noise, shift, noisy task
    for name, i in (("digits_max_flat", 0), ("digits_avg_flat", 1), ("mnist_max_clean", 4), ("mnist_avg_clean", 8)):
        model, x, y = calls[i]
        assert abs(f[name] - _torch_accuracy(model, x, y)) <= 100 / len(y) + 1e-9, name  # a float32 tie at most
