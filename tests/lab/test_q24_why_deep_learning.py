"""q24 (a page) and the shared lab/_vision helpers it uses: declaration, grids, HOG, epochs, entropy, FGSM."""

import numpy as np
import pytest

import cvprimer as cp
from cvprimer.lab._vision import (
    accuracy_of,
    entropy_bits,
    epochs_for,
    fgsm,
    hog_features,
    image_grid,
    input_gradient,
    small_cnn,
)
from cvprimer.lab.experiments.q24_why_deep_learning import TIE
from cvprimer.lab.experiments.q24_why_deep_learning import WhyDeepLearning as E
from labcheck import run_tiny


def test_page_declaration():
    E.check()
    assert E.kind == "page" and E.t("body", "zh") and "\n\n" in E.t("body", "en")
    assert E.reachable == () and not E.completeness()


def test_summary_is_computed_from_the_figures():
    n = E.summary({"cnn": [0.5, 0.9], "hog": [0.7, 0.8], "pixels": [0.4, 0.6]}, [10, 100])
    assert "With 10 training images HOG + linear leads at 0.7" in n["en"] and "0.2 ahead of small CNN" in n["en"]
    assert "With 100 training images small CNN" in n["en"] and "0.4 for small CNN" in n["en"]
    flipped = E.summary({"cnn": [0.9, 0.9], "hog": [0.7, 0.8], "pixels": [0.4, 0.6]}, [10, 100])
    assert "With 10 training images small CNN" in flipped["en"] and "HOG + 线性分类器 0.7" in flipped["zh"]
    level = E.summary({"cnn": [0.5, 0.9], "hog": [0.7, 0.9 + TIE / 2], "pixels": [0.4, 0.6]}, [10, 100])
    assert "small CNN (learned features) are level" in level["en"] or "HOG + linear and small CNN" in level["en"]
    assert "leads" not in level["en"].split("With 100")[1] and "持平" in level["zh"]
    just = E.summary({"cnn": [0.5, 0.9], "hog": [0.7, 0.9 + TIE], "pixels": [0.4, 0.6]}, [10, 100])
    assert "leads" in just["en"].split("With 100")[1]


def test_run_tiny_accuracy_matches_torch(monkeypatch):
    """The CNN's figure on the largest subset equals its accuracy recomputed by PyTorch from the same weights."""
    torch = pytest.importorskip("torch")
    import cvprimer.lab._vision as vision
    import cvprimer.lab.experiments.q24_why_deep_learning as q24

    seen = {}
    real_load, real_hunger = vision.load_data, q24.data_hunger

    def load(*a, **k):
        seen.setdefault("data", real_load(*a, **k))
        return seen["data"]

    def hunger(*a, **k):
        seen["out"] = real_hunger(*a, **k)
        return seen["out"]

    monkeypatch.setattr(vision, "load_data", load)
    monkeypatch.setattr(q24, "data_hunger", hunger)
    res = run_tiny(E)
    curves, model = seen["out"]
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 5, stride=2, padding=2), torch.nn.ReLU(),
                             torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                             torch.nn.Linear(16 * 49, 10)).double()
    with torch.no_grad():
        for t, c in zip([m for m in tm if m.__class__.__name__ in ("Conv2d", "Linear")],
                        [model[0], model[2], model[5]], strict=True):
            t.weight.copy_(torch.from_numpy(c.weight.data.astype(np.float64)))
            t.bias.copy_(torch.from_numpy(c.bias.data.astype(np.float64)))
        d = seen["data"]
        acc = float((tm(torch.from_numpy(d.x_val.astype(np.float64))).argmax(1).numpy() == d.y_val).mean())
    assert res.figures["cnn_acc_large"].value == pytest.approx(acc, abs=1.5 / len(d.y_val))
    assert res.figures["cnn_acc_small"].value == curves["cnn"][0]
    assert "leads at" in res.notes["en"] and "领先" in res.notes["zh"]


def test_image_grid_places_tiles():
    ims = np.arange(6 * 2 * 3, dtype=float).reshape(6, 1, 2, 3)
    g = image_grid(ims, 4, pad=1, fill=-1)
    assert g.shape == (2 * 3 + 1, 4 * 4 + 1)
    np.testing.assert_array_equal(g[1:3, 1:4], ims[0, 0])
    np.testing.assert_array_equal(g[4:6, 5:8], ims[5, 0])  # row 1, column 1
    assert g[0, 0] == -1 and g[4, 9] == -1  # padding and the empty seventh-and-eighth cells


def test_entropy_and_epochs():
    assert abs(entropy_bits(np.ones(10)) - np.log2(10)) < 1e-12
    assert entropy_bits([5, 0, 0]) == 0.0 and entropy_bits([0, 0]) == 0.0
    assert epochs_for(100, 80, 64) == 40 and epochs_for(6400, 80, 64) == 1 and epochs_for(640, 30, 64) == 3


def test_hog_features_shape():
    f = hog_features(np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32))
    assert f.shape == (3, 324) and f.dtype == np.float32


def test_fgsm_moves_every_pixel_by_eps_within_range_and_raises_the_loss():
    cp.manual_seed(0)
    m = small_cnn(4)
    rng = np.random.default_rng(1)
    x = rng.uniform(0.2, 0.8, (8, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 8)
    adv = fgsm(m, x, y, 0.1)
    moved = np.abs(adv - x)
    g = input_gradient(m, x, y)
    np.testing.assert_allclose(moved[g != 0], 0.1, atol=1e-6)
    assert adv.min() >= 0 and adv.max() <= 1
    np.testing.assert_array_equal(fgsm(m, x, y, 0.0), x)
    # a first-order step along the gradient's sign increases the loss: <g, adv - x> > 0
    assert float((g * (adv - x)).sum()) > 0
    assert 0.0 <= accuracy_of(m, x, y) <= 1.0
    s = input_gradient(m, x, y, logit=True)
    assert s.shape == x.shape and np.any(s)
