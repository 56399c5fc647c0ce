"""q18: decide exactly at its threshold in each setting; every verdict reached; the stop rule at the target
accuracy; the gradient-noise and saddle helpers; the real run at tiny size against a PyTorch oracle."""

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer.lab.common import load_data
from cvprimer.lab.experiments.q18_batch_vs_sgd import SETTINGS, StopAt, gradient_noise, mlp, saddle_runs
from cvprimer.lab.experiments.q18_batch_vs_sgd import BatchVsStochastic as E
from labcheck import edges, reached, run_tiny

T = E.thresholds


def figs(small=0.04, big=8.0):
    f = {"examples_small": 500.0, "examples_big": 128000.0, "updates_full": 13.0}
    for k, sp in (("small", small), ("big", big)):
        f.update({f"speedup_{k}": sp, f"seconds_sgd1_{k}": 0.2, f"seconds_full_{k}": 0.2 * sp,
                  f"epochs_sgd1_{k}": 1.3, f"epochs_full_{k}": 13.0})
    return f


@pytest.mark.parametrize("setting", SETTINGS)
def test_min_speedup_edge_in_each_setting(setting):
    other = "big" if setting == "small" else "small"
    edges(E, lambda v: figs(**{setting: v, other: 8.0}), "min_speedup", below="nuanced", at="confirmed",
          above="confirmed")
    edges(E, lambda v: figs(**{setting: v, other: 0.04}), "min_speedup", below="refuted", at="nuanced",
          above="nuanced")


def test_every_verdict_reached_and_the_boundary_named():
    reached(E, [figs(small=2.0), figs(), figs(big=1.0)])
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "faster on the replicated set (128,000 examples) but not on the training set" in ev["en"]
    assert "near 24,000 examples" in ev["en"] and "24,000" in ev["zh"]  # 128000 * 1.5 / 8


def test_stop_at_the_target_accuracy_exactly():
    class Trainer:
        stop_training = False

    t = T["target_acc"]
    for acc, stops in ((np.nextafter(t, 0), False), (t, True), (np.nextafter(t, 1), True)):
        s, tr = StopAt(t), Trainer()
        s.on_epoch_start(tr, 1)
        s.on_batch_end(tr, {})
        s.on_epoch_end(tr, 1, {"val_acc": acc})
        assert tr.stop_training is stops and (s.reached is not None) is stops


def test_gradient_noise_falls_like_one_over_b():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, 400)
    sizes = [1, 4, 16, 64]
    noise = gradient_noise(mlp(), x, y, sizes, 40, rng)
    corr = noise * 399 / (400 - np.array(sizes))
    slope = np.polyfit(np.log(sizes), np.log(corr), 1)[0]
    assert abs(slope + 1) < 0.25


def test_full_batch_stays_on_the_saddle_and_noise_escapes():
    runs = saddle_runs(200, 100, 8, 1.0, np.random.default_rng(0))
    full, mb = runs["full batch"][-1], runs["mini-batch 8"][-1]
    assert np.abs(full).max() < 1e-8 and abs(abs(mb[1]) - 1) < 0.3


def torch_full_batch_updates(seed, n=300, lr=0.5, max_steps=40):
    """PyTorch oracle: full-batch gradient descent from the run's own initial weights; updates to the target."""
    data = load_data("digits", n, 360, np.random.default_rng(seed), standardize=True)  # the run's tiny split
    cp.manual_seed(seed)
    ours = mlp()
    lin = [m for m in ours.modules() if type(m).__name__ == "Linear"]
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    with torch.no_grad():
        for tl, ol in zip((net[0], net[2]), lin, strict=True):
            tl.weight.copy_(torch.tensor(ol.weight.data))
            tl.bias.copy_(torch.tensor(ol.bias.data))
    x, y = torch.tensor(data.x_train.reshape(len(data.y_train), -1)), torch.tensor(data.y_train)
    xv, yv = torch.tensor(data.x_val.reshape(len(data.y_val), -1)), torch.tensor(data.y_val)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    for step in range(1, max_steps + 1):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        with torch.no_grad():
            if (net(xv).argmax(1) == yv).float().mean() >= T["target_acc"]:
                return step
    return float("inf")


def test_tiny_run_full_batch_updates_match_torch():
    res = run_tiny(E, seed=0)
    f = res.values()
    n = int(f["examples_small"])
    assert f["updates_full"] == torch_full_batch_updates(0) < 40  # reached within the tiny budget
    assert f["epochs_full_small"] == f["epochs_full_big"] == f["updates_full"]  # the same path on the replicated set
    assert f["examples_big"] == 4 * n and f["seconds_sgd1_big"] == f["seconds_sgd1_small"] > 0
    for k in SETTINGS:
        assert f[f"speedup_{k}"] == pytest.approx(f[f"seconds_full_{k}"] / f[f"seconds_sgd1_{k}"])
