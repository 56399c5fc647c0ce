"""Photometric and occlusion augmentations vs textbook formulas, colorsys and scipy.ndimage."""

import colorsys

import numpy as np
import pytest
import scipy.ndimage as ndi

from cvprimer.data.augment import (
    Batch,
    ColorJitter,
    Cutout,
    GaussianBlur,
    GaussianNoise,
    Grayscale,
    RandomErasing,
    SaltAndPepper,
    gaussian_blur,
    hsv_to_rgb,
    rgb_to_hsv,
)


def _rgb(n=4, h=5, w=6, seed=0):
    return np.random.default_rng(seed).random((n, 3, h, w))


def test_grayscale_luma_weights():
    x = _rgb()
    g = Grayscale()(x, rng=0)
    np.testing.assert_allclose(g[:, 0], 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2], rtol=1e-12)
    g3 = Grayscale(num_output_channels=3, p=0.5)(x, rng=1)
    assert g3.shape == x.shape


def test_hsv_matches_colorsys():
    x = _rgb(n=2, h=3, w=4)
    hsv = rgb_to_hsv(x)
    for n, i, j in np.ndindex(2, 3, 4):
        np.testing.assert_allclose(hsv[n, :, i, j], colorsys.rgb_to_hsv(*x[n, :, i, j]), atol=1e-12)
        np.testing.assert_allclose(hsv_to_rgb(hsv)[n, :, i, j], colorsys.hsv_to_rgb(*hsv[n, :, i, j]), atol=1e-12)


def test_color_jitter_textbook_formulas():
    x = _rgb(n=3, h=4, w=5)
    t = ColorJitter(brightness=0.4, contrast=0.5, saturation=0.6, hue=0.2)
    y, p = t(x, rng=7, return_params=True)
    ref = np.empty_like(x)
    for n in range(3):
        v = np.clip(x[n] * p["brightness"][n], 0, 1)
        gray = 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2]
        c = p["contrast"][n]
        v = np.clip(c * v + (1 - c) * gray.mean(), 0, 1)
        gray = 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2]
        s = p["saturation"][n]
        v = np.clip(s * v + (1 - s) * gray, 0, 1)
        for i, j in np.ndindex(4, 5):
            hh, ss, vv = colorsys.rgb_to_hsv(*v[:, i, j])
            ref[n, :, i, j] = colorsys.hsv_to_rgb((hh + p["hue"][n]) % 1.0, ss, vv)
    np.testing.assert_allclose(y, ref, atol=1e-12)
    assert 0.6 <= p["brightness"].min() and p["brightness"].max() <= 1.4
    np.testing.assert_array_equal(t.replay(x, p), y)


def test_color_jitter_refuses_saturation_on_grey():
    with pytest.raises(ValueError, match="saturation and hue need RGB images"):
        ColorJitter(saturation=0.3)(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="hue must lie in"):
        ColorJitter(hue=0.7)


def test_blur_matches_scipy_gaussian_filter():
    x = np.random.default_rng(1).random((3, 2, 9, 12))
    t = GaussianBlur(sigma=(0.3, 2.5))
    y, p = t(x, rng=2, return_params=True)
    for n in range(3):
        ref = ndi.gaussian_filter(x[n], sigma=(0, p["sigma"][n], p["sigma"][n]), mode="reflect", truncate=4.0)
        np.testing.assert_allclose(y[n], ref, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        gaussian_blur(x, 0.0)


def test_gaussian_noise_replay_and_statistics():
    x = np.full((2, 3, 40, 40), 0.5)
    t = GaussianNoise(std=0.1, clip=False)
    y, p = t(x, rng=3, return_params=True)
    assert abs((y - x).std() - 0.1) < 0.005  # 9,600 samples: std error of the std ~ 0.0007
    np.testing.assert_array_equal(t.replay(x, p), y)
    np.testing.assert_array_equal(GaussianNoise(std=0.1, clip=False)(x, rng=3), y)  # same seed, same result


def test_salt_and_pepper_fractions():
    x = np.full((4, 3, 50, 50), 0.5)
    y = SaltAndPepper(amount=0.2, salt_vs_pepper=0.25)(x, rng=0)
    same_across_channels = (y == y[:, :1]).all()
    assert same_across_channels
    salt, pepper = (y[:, 0] == 1).mean(), (y[:, 0] == 0).mean()
    assert abs(salt - 0.05) < 0.01 and abs(pepper - 0.15) < 0.015  # 10,000 positions per class


def test_photometric_leaves_targets_alone():
    m = np.random.default_rng(0).integers(0, 3, (4, 5, 6))
    boxes = [np.array([[0.0, 0.0, 2.0, 2.0]])] * 4
    out = ColorJitter(0.3, 0.3)(Batch(_rgb(), masks=m, boxes=boxes), rng=0)
    np.testing.assert_array_equal(out.masks, m)
    assert out.boxes is boxes


def test_cutout_and_random_erasing():
    x = np.ones((50, 1, 8, 10))
    y, p = Cutout(4)(x, rng=0, return_params=True)
    for n in range(50):
        y1, x1, y2, x2 = p["box"][n]
        expected = np.ones((8, 10))
        expected[y1:y2, x1:x2] = 0
        np.testing.assert_array_equal(y[n, 0], expected)
        assert (y2 - y1) <= 4 and (x2 - x1) <= 4
    t = RandomErasing(p=0.5, scale=(0.1, 0.3), value=0.25)
    z, q = t(x, rng=1, return_params=True)
    area = (q["box"][:, 2] - q["box"][:, 0]) * (q["box"][:, 3] - q["box"][:, 1])
    erased = area > 0
    assert 10 < erased.sum() < 40
    np.testing.assert_array_equal((z == 0.25).sum(axis=(1, 2, 3)), area)
    assert np.all(area[erased] >= 0.1 * 80 * 0.5) and np.all(area[erased] <= 0.3 * 80 * 1.5)
