"""q18: decide on every branch and threshold; the gradient-noise and saddle helpers."""

import numpy as np

from cvprimer.lab.experiments.q18_batch_vs_sgd import BatchVsStochastic as E
from cvprimer.lab.experiments.q18_batch_vs_sgd import StopAt, gradient_noise, mlp, saddle_runs

T = E.thresholds


def figs(**over):
    f = {"noise_slope": -1.0, "noise_b1_over_b64": 70.0, "epochs_sgd1": 2.0, "epochs_minibatch": 5.0,
         "epochs_full": 25.0, "seconds_sgd1": 0.4, "seconds_minibatch": 0.03, "seconds_full": 0.02,
         "seconds_minibatch_big": 0.05, "seconds_full_big": 0.12, "saddle_f_full": 0.0, "saddle_f_minibatch": -0.25}
    f.update(over)
    return f


def test_nuanced_with_all_qualifications_quoted():
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "0.12" in ev["en"] and "0.05" in ev["zh"]
    assert "slowest in CPU time" in ev["en"] and "full-batch GD was the fastest" in ev["en"] and "saddle" in ev["en"]


def test_confirmed_when_pure_sgd_is_fastest():
    assert E.decide(figs(seconds_sgd1=0.01), T)[0] == "confirmed"


def test_refuted_when_full_batch_wins_everywhere():
    v, ev = E.decide(figs(seconds_full_big=0.01, epochs_sgd1=30.0), T)
    assert v == "refuted" and "0.01" in ev["en"]


def test_slope_tolerance_both_sides():
    tol = T["slope_tol"]
    assert "off the saddle" in E.decide(figs(noise_slope=-1 - 0.9 * tol), T)[1]["en"]
    assert "off the saddle" not in E.decide(figs(noise_slope=-1 - 1.1 * tol), T)[1]["en"]


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


def test_stop_at_records_the_first_epoch_at_target():
    class Trainer:
        stop_training = False

    s, t = StopAt(0.9), Trainer()
    for epoch, acc in ((1, 0.5), (2, 0.95)):
        s.on_epoch_start(t, epoch)
        s.on_batch_end(t, {})
        s.on_epoch_end(t, epoch, {"val_acc": acc})
    assert s.reached[0] == 2 and s.reached[1] == 2 and t.stop_training
