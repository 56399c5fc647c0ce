"""q05: decide on both sides of each threshold; the grid search helper picks the closest path."""

import numpy as np

from cvprimer.lab.experiments.q05_optimizers import OPTIMIZERS, _best_path
from cvprimer.lab.experiments.q05_optimizers import Optimizers as E
from cvprimer.optim.landscapes import QUADRATIC

T = E.thresholds


def figs(r_sgd=2.0, r_mom=0.1, r_ada=0.05, a_sgd=0.9, a_mom=0.93, a_ada=0.92):
    f = {"rosenbrock_dist_sgd": r_sgd, "rosenbrock_dist_best_momentum": r_mom,
         "rosenbrock_dist_best_adaptive": r_ada, "cnn_acc_sgd": a_sgd, "cnn_acc_best_momentum": a_mom,
         "cnn_acc_best_adaptive": a_ada, "cnn_acc_worst": 0.8}
    for fn in ("beale", "saddle"):
        f.update({f"{fn}_dist_sgd": 1.0, f"{fn}_dist_best_momentum": 1.0, f"{fn}_dist_best_adaptive": 1.0})
    return f


def test_confirmed_when_both_families_beat_sgd():
    v, ev = E.decide(figs(), T)
    assert v == "confirmed" and "20x" in ev["en"] and "0.93" in ev["en"] and "0.93" in ev["zh"]


def test_gain_threshold_both_sides():
    g = T["min_gain_2d"]
    assert E.decide(figs(r_sgd=1.0, r_mom=1.0 / (g * 1.01)), T)[0] == "confirmed"
    v, ev = E.decide(figs(r_sgd=1.0, r_mom=1.0 / (g * 0.99)), T)
    assert v == "nuanced" and "only on the CNN" in ev["en"]


def test_accuracy_deficit_both_sides():
    d = T["max_acc_deficit"]
    assert E.decide(figs(a_sgd=0.9, a_ada=0.9 - 0.9 * d), T)[0] == "confirmed"
    v, ev = E.decide(figs(a_sgd=0.9, a_ada=0.9 - 1.5 * d), T)
    assert v == "nuanced" and "only on the 2-D valley" in ev["en"]


def test_refuted_when_neither_holds():
    assert E.decide(figs(r_mom=2.0, a_mom=0.5), T)[0] == "refuted"


def test_ten_optimizers_in_three_families_and_grid_pick():
    assert len(OPTIMIZERS) == 10 and {f for f, _, _ in OPTIMIZERS.values()} == {"plain", "momentum", "adaptive"}
    lr, path = _best_path(OPTIMIZERS["SGD"][1], QUADRATIC, [1e-3, 0.1, 0.5], 50)
    assert lr == 0.1 and np.linalg.norm(path[-1]) < 0.02  # 0.5 overshoots the steep axis (kappa = 10)
