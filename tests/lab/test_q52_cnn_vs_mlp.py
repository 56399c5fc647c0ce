"""q52: decide on both sides of both thresholds; the shift helpers and the nets' sizes."""

import numpy as np
import pytest

from cvprimer.lab._shifts import lean, shift_images
from cvprimer.lab.common import Data
from cvprimer.lab.experiments.q52_cnn_vs_mlp import CNNvsMLP as E
from cvprimer.lab.experiments.q52_cnn_vs_mlp import cnn_flatten, cnn_global, mlp

T = E.thresholds
BASE = {"params_mlp": 9550, "params_cnn_flatten": 9098, "params_cnn_global": 8770, "acc0_mlp": 63.0,
        "acc0_cnn_flatten": 75.3, "acc0_cnn_global": 75.0, "acc4_mlp": 15.7, "acc4_cnn_flatten": 21.0,
        "acc4_cnn_global": 73.3, "acc0_cnn_global_aug": 63.0, "acc4_cnn_global_aug": 63.3,
        "acc4_cnn_flatten_aug": 35.0, "acc4_mlp_aug": 22.0}


def test_nuanced_when_better_but_not_shift_invariant():
    v, ev = E.decide(BASE, T)
    assert v == "nuanced"
    for s in ("75.3", "63", "12.3", "54.3", "9,550"):
        assert s in ev["en"] and s in ev["zh"]


def test_confirmed_when_better_and_shift_invariant():
    f = dict(BASE, acc4_cnn_flatten=BASE["acc0_cnn_flatten"] - T["drop_pts"] + 0.5)
    assert E.decide(f, T)[0] == "confirmed"


def test_refuted_when_the_cnn_is_not_better():
    f = dict(BASE, acc0_mlp=BASE["acc0_cnn_flatten"] - T["gain_pts"] + 0.1)
    assert E.decide(f, T)[0] == "refuted"
    f = dict(BASE, acc0_mlp=BASE["acc0_cnn_flatten"] - T["gain_pts"])
    assert E.decide(f, T)[0] == "nuanced"


def test_shift_images_moves_whole_pixels_and_fills_zeros():
    x = np.arange(1, 17, dtype=np.float32).reshape(1, 1, 4, 4).repeat(8, axis=0)
    out = shift_images(x, 1, seed=0)
    for i in range(8):
        moved = [np.array_equal(out[i, 0], np.roll(x[i, 0], sh, ax) * m)
                 for sh, ax, m in ((1, 1, np.arange(4) > 0), (-1, 1, np.arange(4) < 3),
                                   (1, 0, (np.arange(4) > 0)[:, None]), (-1, 0, (np.arange(4) < 3)[:, None]))]
        assert sum(moved) == 1
    assert np.array_equal(shift_images(x, 0), x) and not shift_images(x, 4).any()
    with pytest.raises(ValueError):
        shift_images(x, -1)


def test_lean_keeps_training_data_and_cuts_validation():
    d = Data(np.zeros((5, 1, 2, 2), np.float32), np.arange(5), np.zeros((9, 1, 2, 2), np.float32), np.arange(9))
    small = lean(d, 3)
    assert small.x_train is d.x_train and len(small.y_val) == 3


def test_nets_are_of_similar_size():
    sizes = [sum(p.data.size for p in build().parameters()) for build in (mlp, cnn_flatten, cnn_global)]
    assert max(sizes) / min(sizes) < 1.15
