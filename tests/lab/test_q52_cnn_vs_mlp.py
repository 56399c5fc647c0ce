"""q52: decide exactly at both thresholds for every branch; the shift helpers and the nets' sizes; the real run at a
tiny size, its unshifted CNN accuracy recomputed with PyTorch from the trained weights and its parameter counts by
formula."""

import tempfile

import numpy as np
import pytest
import torch

from cvprimer.analysis.timing import blas_threads
from cvprimer.core.random import manual_seed
from cvprimer.lab._shifts import lean, shift_images
from cvprimer.lab.common import Data, load_data
from cvprimer.lab.experiment import Context
from cvprimer.lab.experiments.q52_cnn_vs_mlp import CNNvsMLP as E
from cvprimer.lab.experiments.q52_cnn_vs_mlp import cnn_flatten, cnn_global, mlp
from labcheck import edges, reached

T = E.thresholds
BASE = {"params_mlp": 9550, "params_cnn_flatten": 9098, "params_cnn_global": 8770, "acc0_mlp": 63.0,
        "acc0_cnn_flatten": 75.3, "acc0_cnn_global": 75.0, "acc4_mlp": 15.7, "acc4_cnn_flatten": 21.0,
        "acc4_cnn_global": 73.3}
FLAT_ROBUST = {"acc4_cnn_flatten": 75.0}
GLOB_FAILS = {"acc4_cnn_global": 20.0}
NOT_BETTER = {"acc0_mlp": 80.0}


def test_gain_edges():  # gain = acc0_cnn_flatten - acc0_mlp, with acc0_mlp = 0 so the difference is exact
    for extra, good in (({}, "nuanced"), (FLAT_ROBUST, "confirmed")):
        edges(E, lambda v, extra=extra: {**BASE, **extra, "acc0_mlp": 0.0, "acc0_cnn_flatten": v,
                                         "acc4_cnn_flatten": v - 60 if not extra else v - 1},
              "gain_pts", below="refuted", at=good, above=good)


def test_drop_edges_for_each_head():  # drop = acc0 - acc4, with acc4 = 0 so the difference is exact
    edges(E, lambda v: {**BASE, "acc0_mlp": 0.0, "acc0_cnn_flatten": v, "acc4_cnn_flatten": 0.0},
          "drop_pts", below="confirmed", at="nuanced", above="nuanced")
    edges(E, lambda v: {**BASE, **FLAT_ROBUST, "acc0_cnn_global": v, "acc4_cnn_global": 0.0},
          "drop_pts", below="confirmed", at="nuanced", above="nuanced")
    edges(E, lambda v: {**BASE, **NOT_BETTER, "acc0_cnn_global": v, "acc4_cnn_global": 0.0},
          "drop_pts", below="refuted", at="refuted", above="refuted")


def test_reached_and_boundary_sentences():
    reached(E, [BASE, {**BASE, **FLAT_ROBUST}, {**BASE, **NOT_BETTER}])
    v, ev = E.decide(BASE, T)
    assert v == "nuanced" and "boundary is the head" in ev["en"] and "分界在网络头" in ev["zh"]
    for s in ("75.3", "63", "12.3", "54.3", "9,550"):
        assert s in ev["en"] and s in ev["zh"]
    _, ev = E.decide({**BASE, **GLOB_FAILS}, T)
    assert "Neither CNN" in ev["en"] and "boundary" not in ev["en"]
    _, ev = E.decide({**BASE, **NOT_BETTER}, T)
    assert "not measured" in ev["en"] and "boundary" not in ev["en"]
    b = E.explain_beyond({"acc0_mlp_aug": 60.0, "acc4_mlp_aug": 22.0, "acc0_cnn_flatten_aug": 70.0,
                          "acc4_cnn_flatten_aug": 35.0, "acc0_cnn_global_aug": 63.0, "acc4_cnn_global_aug": 63.3})
    assert "63.3" in b["en"] and "35%" in b["zh"]


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


def test_run_recomputed_with_torch():
    seed = 1
    manual_seed(seed)
    exp = E()
    with tempfile.TemporaryDirectory() as d, blas_threads(E.threads):
        res = exp.run(Context(d, quick=True, seed=seed, save_plots=False, tiny=True))
    f = res.values()
    assert f["params_mlp"] == 784 * 12 + 12 + 12 * 10 + 10
    assert f["params_cnn_flatten"] == (9 * 8 + 8) + (9 * 8 * 16 + 16) + (16 * 49 * 10 + 10)
    data = load_data("mnist_sample", 120, 100, np.random.default_rng(seed))  # the run's first draw from ctx.rng
    ours = exp.models["CNN + flatten/FC", False]
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(16 * 49, 10))
    with torch.no_grad():
        for i in (0, 3, 7):
            net[i].weight.copy_(torch.tensor(ours[i].weight.data))
            net[i].bias.copy_(torch.tensor(ours[i].bias.data))
        pred = net(torch.tensor(data.x_val)).argmax(1).numpy()
    assert f["acc0_cnn_flatten"] == pytest.approx(100 * float((pred == data.y_val).mean()), abs=1e-9)
    assert E.decide(f, T)[0] in E.reachable
