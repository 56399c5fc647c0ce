"""q09: decide on both sides of every threshold; the photo/transposed-conv/segmentation helpers on tiny inputs."""

import numpy as np
import pytest

import cvprimer as cp
from cvprimer.lab.experiments.q09_upsampling import (
    SegNet,
    Upsampling,
    bilinear_kernel,
    checkerboard,
    fit_subpixel,
    iou,
    restore,
    transposed_vs_zero_insertion,
    upsampling_cost,
)

T = Upsampling.thresholds


def figs(pb=20.0, pc=20.3, sb=0.68, sc=0.70):
    return {"psnr_bilinear": pb, "psnr_bicubic": pc, "ssim_bilinear": sb, "ssim_bicubic": sc,
            "psnr_nearest": 19.5, "psnr_pixel_shuffle": 20.8, "checkerboard_k3_s2": 1.38, "checkerboard_k4_s2": 0.0,
            "bilinear_flops_over_conv": 0.00694, "bicubic_flops_over_conv": 0.0278}


def test_nuanced_when_bicubic_wins_modestly():
    v, ev = Upsampling.decide(figs(), T)
    assert v == "nuanced" and "20.3" in ev["en"] and "1.38" in ev["en"] and "20.3" in ev["zh"]
    assert "0.00694" in ev["en"] and "0.0278" in ev["zh"]


def test_refuted_when_bicubic_wins_by_the_large_margin():
    v, ev = Upsampling.decide(figs(pc=20.0 + T["large_db"] + 0.01), T)
    assert v == "refuted" and "21" in ev["en"]
    assert Upsampling.decide(figs(pc=20.0 + T["large_db"] - 0.01), T)[0] == "nuanced"


def test_confirmed_when_bilinear_is_as_good_on_both_metrics():
    v, ev = Upsampling.decide(figs(pc=20.0 + T["margin_db"] / 2, sc=0.68 + T["margin_ssim"] / 2), T)
    assert v == "confirmed" and "Bilinear holds" in ev["en"]


def test_nuanced_when_only_one_metric_favours_bicubic():
    assert Upsampling.decide(figs(pc=20.0 + T["margin_db"] / 2, sc=0.75), T)[0] == "nuanced"
    assert Upsampling.decide(figs(pc=20.5, sc=0.68 + T["margin_ssim"] / 2), T)[0] == "nuanced"
    assert Upsampling.decide(figs(pc=20.0 + 2 * T["margin_db"], sc=0.68 + 2 * T["margin_ssim"]), T)[0] == "nuanced"


def test_transposed_equals_zero_insertion_and_checkerboard():
    assert transposed_vs_zero_insertion(np.random.default_rng(0)) < 1e-12
    v3, y3 = checkerboard(3, 2)
    v4, _ = checkerboard(4, 2)
    np.testing.assert_array_equal(np.unique(y3[3:-3, 3:-3]), [1, 2, 4])  # 1, 2 or 4 overlapping taps
    assert 1.2 < v3 < 1.5 and v4 == 0.0  # (4 - 1) / a mean near 9/4
    np.testing.assert_allclose(bilinear_kernel(2), [0.25, 0.75, 0.75, 0.25])


def test_restore_methods_keep_a_smooth_image_close():
    yy, xx = np.mgrid[0:16, 0:24] / 24.0
    img = np.stack([xx, yy, 0.5 * (xx + yy)]).astype(np.float32)
    low = img.reshape(3, 4, 4, 6, 4).mean(axis=(2, 4))
    sub = fit_subpixel(low, img, 4, taps=3)
    for m in ("nearest", "bilinear", "bilinear_ac", "bicubic", "transposed", "pixel_shuffle"):
        out = restore(m, img, sub)
        assert out.shape == img.shape and np.abs(out - img)[:, 4:-4, 4:-4].mean() < 0.1, m
    assert np.abs(restore("pixel_shuffle", img, sub) - img)[:, 4:-4, 4:-4].max() < 1e-4  # linear ramps fit exactly
    assert (restore("unpool", img, sub) == 0).mean() > 0.9  # 15 of every 16 pixels are empty
    with pytest.raises(ValueError, match="unknown method"):
        restore("lanczos", img, sub)


def test_upsampling_cost_from_the_analyzer():
    f = upsampling_cost(c=4, side=6)
    n_out = 4 * 12 * 12
    assert f == {"nearest": 0, "bilinear": 2 * 4 * n_out, "bicubic": 2 * 16 * n_out, "conv3x3": 2 * 9 * 4 * n_out}


def test_segnet_shapes_and_iou():
    cp.manual_seed(0)
    x = cp.tensor(np.random.default_rng(0).random((2, 1, 28, 28)).astype(np.float32))
    for m in ("nearest", "bicubic", "transposed4", "transposed3", "pixel_shuffle", "unpool"):
        assert SegNet(m, 2)(x).shape == (2, 2, 28, 28)
    logits = np.zeros((1, 2, 2, 2))
    logits[0, 1, 0, :] = 1  # predicts the top row
    assert iou(logits, np.array([[[1, 0], [1, 0]]])) == pytest.approx(1 / 3)
    assert iou(np.zeros((1, 2, 2, 2)), np.zeros((1, 2, 2), int)) == 1.0
