"""q36: decide on both sides of its threshold for each of the three sub-claims; the net builder."""

import numpy as np

import cvprimer as cp
from cvprimer.lab.experiments.q36_max_vs_avg_pool import MaxVsAvgPooling as E
from cvprimer.lab.experiments.q36_max_vs_avg_pool import add_noise, pool_net

T = E.thresholds
W = T["win_pts"]
BASE = {"digits_max_flat": 94.2, "digits_avg_flat": 82.8, "digits_max_gap": 75.4, "digits_max_gmp": 91.0,
        "mnist_max_clean": 71.0, "mnist_max_noise": 48.0, "mnist_max_shift": 49.3, "mnist_max_noisy_task": 13.7,
        "mnist_avg_clean": 72.3, "mnist_avg_noise": 50.3, "mnist_avg_shift": 54.0, "mnist_avg_noisy_task": 25.3}


def test_nuanced_when_the_shift_reason_fails():
    v, ev = E.decide(BASE, T)
    assert v == "nuanced" and "not supported" in ev["en"]
    for s in ("11.4", "-1.3", "49.3", "54", "25.3", "13.7", "75.4"):
        assert s in ev["en"] and s in ev["zh"]


def test_confirmed_when_all_three_hold():
    f = dict(BASE, mnist_max_shift=BASE["mnist_avg_shift"] + W)
    assert E.decide(f, T)[0] == "confirmed"


def test_each_sub_claim_alone_gives_nuanced_and_none_refutes():
    none = dict(BASE, digits_max_flat=82.8, mnist_max_clean=72.3 + 2 * W - 0.01, mnist_avg_noisy_task=13.7 + W - 0.01)
    assert E.decide(none, T)[0] == "refuted"  # clean gap just under W, noisy gap under W, shift reason fails
    assert E.decide(dict(none, mnist_avg_noisy_task=13.7 + W), T)[0] == "nuanced"
    assert E.decide(dict(none, mnist_max_clean=72.3 + 2 * W), T)[0] == "nuanced"
    assert E.decide(dict(none, mnist_max_shift=54.0 + W), T)[0] == "nuanced"


def test_pool_net_shapes_for_each_head():
    for head in ("flatten", "global avg", "global max"):
        for size in (8, 28):
            out = pool_net("avg", head, size)(cp.tensor(np.zeros((2, 1, size, size), np.float32)))
            assert out.shape == (2, 10)


def test_add_noise_is_clipped():
    x = add_noise(np.full((3, 1, 4, 4), 0.5, np.float32), 5.0, np.random.default_rng(0))
    assert x.min() >= 0 and x.max() <= 1 and x.dtype == np.float32
