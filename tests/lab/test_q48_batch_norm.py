"""q48: decide on both sides of every threshold; largest_stable, steps_to and preact_stats."""

import numpy as np

from cvprimer.lab._deepmlp import DeepMLP
from cvprimer.lab.experiments.q48_batch_norm import BatchNormEffects as E
from cvprimer.lab.experiments.q48_batch_norm import largest_stable, preact_stats, steps_to

T = E.thresholds


def figs(**kw):
    f = {"step_speedup": 1.68, "steps_to_target_plain": 32.0, "steps_run": 52.0, "lr_ratio": 10.0,
         "largest_stable_lr_bn": 3.0, "largest_stable_lr_plain": 0.3, "bn_gain_batch_32": 0.0444,
         "train_eval_rel_diff": 0.151, "train_mode_acc_batch_2": 0.344, "train_mode_acc_batch_8": 0.778,
         "val_acc_eval_mode": 0.961}
    f.update(kw)
    return f


def test_nuanced_because_tiny_batches_hurt():
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "1.68" in ev["en"] and "61.7" in ev["en"] and "1805.11604" in ev["zh"]


def test_confirmed_without_batch_dependence():
    v, _ = E.decide(figs(train_mode_acc_batch_2=0.961 - T["small_batch_gap"] + 0.01), T)
    assert v == "confirmed"


def test_speed_and_lr_thresholds():
    ok = dict(train_mode_acc_batch_2=0.961)
    assert E.decide(figs(step_speedup=T["min_step_speedup"] - 0.01, **ok), T)[0] == "nuanced"
    assert E.decide(figs(lr_ratio=T["min_lr_ratio"] - 0.01, **ok), T)[0] == "nuanced"
    assert E.decide(figs(step_speedup=T["min_step_speedup"] - 0.01, lr_ratio=T["min_lr_ratio"] - 0.01), T)[0] \
        == "refuted"


def test_censored_speed_is_a_lower_bound():
    _, ev = E.decide(figs(steps_to_target_plain=53.0), T)
    assert "at least" in ev["en"]


def test_helpers():
    assert largest_stable([0.1, 0.3, 1.0], [0.9, 0.6, float("nan")]) == 0.3
    assert largest_stable([0.1], [0.2]) == 0.0
    assert steps_to(np.array([2.0, 1.0, 0.4, 0.3, 0.2, 0.1, 0.1]), 0.5, window=3) == 5.0
    assert steps_to(np.array([2.0, 2.0]), 0.5, window=3) == 3.0
    m = DeepMLP(4, 8, bn=True, rng=np.random.default_rng(0))
    mean, std = preact_stats(m, np.random.default_rng(1).standard_normal((16, 64)).astype(np.float32))
    assert mean.shape == std.shape == (3,) and (std > 0).all() and m.training
