"""q09: decide exactly at every threshold, each verdict reached, the run recomputed with PyTorch; the helpers on tiny
inputs."""

import numpy as np
import pytest

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.lab.common import sample_photo
from cvprimer.lab.experiments.q09_upsampling import (
    SegNet,
    Upsampling,
    bilinear_kernel,
    checkerboard,
    fit_subpixel,
    iou,
    restore,
    transposed_vs_zero_insertion,
    unpool_error,
    upsampling_cost,
)
from labcheck import edges, reached, run_tiny

T = Upsampling.thresholds
BASE = {"psnr_bilinear": 0.0, "psnr_bicubic": 0.0, "psnr_nearest": 0.0, "ssim_bilinear": 0.0, "ssim_bicubic": 0.0,
        "ssim_nearest": 0.0, "bilinear_time_over_conv": 0.05, "transposed_vs_zero_insertion_err": 0.0,
        "unpool_err": 0.0}


def test_edges_of_every_threshold_in_every_comparison():
    # bilinear scores 0: another method scoring v leads by exactly v
    for m in ("nearest", "bicubic"):
        edges(Upsampling, lambda v, m=m: {**BASE, f"psnr_{m}": v}, "margin_db", below="confirmed", at="confirmed",
              above="nuanced")
        edges(Upsampling, lambda v, m=m: {**BASE, f"ssim_{m}": v}, "margin_ssim", below="confirmed",
              at="confirmed", above="nuanced")
    edges(Upsampling, lambda v: {**BASE, "bilinear_time_over_conv": v}, "max_time_ratio", below="confirmed",
          at="confirmed", above="nuanced")
    for k in ("transposed_vs_zero_insertion_err", "unpool_err"):
        edges(Upsampling, lambda v, k=k: {**BASE, k: v}, "exact_tol", below="confirmed", at="confirmed",
              above="nuanced")


def test_reaches_its_verdicts_and_names_what_fails():
    worst = {**BASE, "psnr_bicubic": 1.0, "psnr_nearest": 1.0, "ssim_bicubic": 0.1, "ssim_nearest": 0.1,
             "bilinear_time_over_conv": 1.0, "transposed_vs_zero_insertion_err": 1.0, "unpool_err": 1.0}
    reached(Upsampling, [BASE, {**BASE, "psnr_bicubic": 0.3}, worst])
    v, ev = Upsampling.decide({**BASE, "ssim_nearest": 0.01}, T)
    assert v == "nuanced" and "Fails: bilinear vs nearest, SSIM" in ev["en"]


def test_run_recomputed_with_torch():
    import torch

    res = run_tiny(Upsampling)
    f = res.values()
    # the quick crop restored by PyTorch: area shrink, bilinear (half-pixel centres) back, PSNR by its formula
    img = sample_photo(0)[:, 140:268, 250:442]
    x = torch.from_numpy(np.ascontiguousarray(img[:, None]))
    low = torch.nn.functional.interpolate(x, scale_factor=0.25, mode="area")
    up = torch.nn.functional.interpolate(low, size=img.shape[1:], mode="bilinear", align_corners=False)
    y = np.clip(up.numpy()[:, 0], 0, 1)
    psnr = 10 * np.log10(1.0 / np.mean((img.astype(np.float64) - y) ** 2))
    assert abs(f["psnr_bilinear"] - psnr) < 1e-3
    assert f["transposed_vs_zero_insertion_err"] < 1e-12 and f["unpool_err"] == 0.0
    assert f["bilinear_time_over_conv"] > 0


def test_unpool_error_against_torch():
    import torch

    x = torch.from_numpy(np.random.default_rng(1).standard_normal((2, 3, 8, 12)))
    p, i = torch.nn.functional.max_pool2d(x, 2, return_indices=True)
    ref = torch.nn.functional.max_unpool2d(p, i, 2, output_size=(8, 12)).numpy()
    pooled, idx = F.max_pool2d(cp.tensor(x.numpy()), 2, return_indices=True)
    np.testing.assert_array_equal(F.max_unpool2d(pooled, idx, 2, output_size=(8, 12)).numpy(), ref)
    assert unpool_error(np.random.default_rng(0)) == 0.0


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
