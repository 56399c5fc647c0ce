"""q24 (a page) and the shared lab/_vision helpers it uses: declaration, grids, HOG, epochs, entropy, FGSM."""

import numpy as np

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
from cvprimer.lab.experiments.q24_why_deep_learning import WhyDeepLearning as E


def test_page_declaration():
    E.check()
    assert E.kind == "page" and E.t("body", "zh") and "\n\n" in E.t("body", "en")


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
