"""Geometric augmentations: exact flips/rot90, warps vs scipy.ndimage, targets in sync, replay and inverses."""

import math

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cvprimer.data.augment import (
    Batch,
    RandomAffine,
    RandomCrop,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomRotation,
    RandomVerticalFlip,
    affine_matrix,
    rotate,
    warp_images,
)


def _imgs(n=3, c=2, h=7, w=9, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(dtype)


def _masks(n=3, h=7, w=9, seed=1):
    return np.random.default_rng(seed).choice([0, 3, 7], size=(n, h, w)).astype(np.int64)


def test_flips_exact_with_targets():
    x, m = _imgs(), _masks()
    boxes = [np.array([[1.0, 2.0, 4.0, 6.0, 5.0]]) for _ in range(3)]  # extra column = class id
    kps = [np.array([[0.5, 1.5], [8.5, 6.5]]) for _ in range(3)]
    out = RandomHorizontalFlip(p=1.0)(Batch(x, masks=m, boxes=boxes, keypoints=kps), rng=0)
    np.testing.assert_array_equal(out.images, x[..., ::-1])
    np.testing.assert_array_equal(out.masks, m[..., ::-1])
    np.testing.assert_array_equal(out.boxes[0], [[9 - 4.0, 2.0, 9 - 1.0, 6.0, 5.0]])
    np.testing.assert_array_equal(out.keypoints[0], [[8.5, 1.5], [0.5, 6.5]])
    v = RandomVerticalFlip(p=1.0)(Batch(x, masks=m, boxes=boxes), rng=0)
    np.testing.assert_array_equal(v.images, x[..., ::-1, :])
    np.testing.assert_array_equal(v.masks, m[..., ::-1, :])
    np.testing.assert_array_equal(v.boxes[1], [[1.0, 7 - 6.0, 4.0, 7 - 2.0, 5.0]])


def test_flip_probability_per_image_and_replay():
    x = _imgs(n=200, c=1, h=2, w=3)
    t = RandomHorizontalFlip(p=0.3)
    y, params = t(x, rng=5, return_params=True)
    flipped = params["flip"]
    assert 30 < flipped.sum() < 90  # Binomial(200, 0.3): mean 60, std 6.5
    np.testing.assert_array_equal(y[flipped], x[flipped][..., ::-1])
    np.testing.assert_array_equal(y[~flipped], x[~flipped])
    np.testing.assert_array_equal(t.replay(x, t.last_params), y)


@pytest.mark.parametrize("k", [1, 2, 3, -1])
def test_rot90_exact(k):
    x, m = _imgs(h=5, w=8), _masks(h=5, w=8)
    out = RandomRotation((90 * k, 90 * k), expand=True)(Batch(x, masks=m), rng=0)
    np.testing.assert_array_equal(out.images, np.rot90(x, k, axes=(2, 3)))
    np.testing.assert_array_equal(out.masks, np.rot90(m, k, axes=(1, 2)))
    sq = _imgs(h=6, w=6)
    np.testing.assert_array_equal(rotate(sq, 90 * k), np.rot90(sq, k, axes=(2, 3)))


def _interior_compare(ours, ref, in_range, min_fraction=0.3):
    assert in_range.mean() > min_fraction
    np.testing.assert_allclose(ours[in_range], ref[in_range], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("angle", [17.0, -33.5, 128.0])
def test_rotation_matches_scipy(angle):
    h, w = 12, 15
    x = _imgs(n=1, c=1, h=h, w=w, dtype=np.float64)
    y = rotate(x, angle)
    # Derived independently: rotating counter-clockwise (y down) about the centre ctr = (H/2 - 1/2, W/2 - 1/2)
    # in (row, col) index coordinates, output (r, c) reads input ctr + [[cos, sin], [-sin, cos]] ((r, c) - ctr).
    a = math.radians(angle)
    mat = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    centre = np.array([h / 2 - 0.5, w / 2 - 0.5])
    ref = ndi.affine_transform(x[0, 0], mat, offset=centre - mat @ centre, order=1, mode="constant")
    rr, cc = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    src = np.einsum("ij,jhw->ihw", mat, np.stack([rr, cc]) - centre[:, None, None]) + centre[:, None, None]
    in_range = (src[0] >= 0) & (src[0] <= h - 1) & (src[1] >= 0) & (src[1] <= w - 1)
    _interior_compare(y[0, 0], ref, in_range)


def test_affine_matches_scipy_and_composition():
    h, w = 11, 13
    x = _imgs(n=4, c=2, h=h, w=w, dtype=np.float64)
    t = RandomAffine(degrees=30, translate=(0.1, 0.2), scale=(0.8, 1.2), shear=(-10, 10, -5, 5))
    y, p = t(x, rng=3, return_params=True)
    for k in range(4):
        # the recorded matrix is the documented composition T(c + t) R Sh S T(-c)
        a, s = math.radians(p["angle"][k]), p["scale"][k]
        sx, sy = (math.tan(math.radians(v)) for v in p["shear"][k])
        rot = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
        lin = rot @ np.array([[1, sx], [sy, 1]]) * s
        c = np.array([w / 2, h / 2])
        np.testing.assert_allclose(p["matrix"][k][:2, :2], lin, rtol=1e-12)
        np.testing.assert_allclose(p["matrix"][k][:2, 2], c + p["translate"][k] - lin @ c, rtol=1e-12)
        inv = np.linalg.inv(p["matrix"][k])
        # continuous (x, y) -> index (row, col): index = coordinate - 1/2
        mat = inv[[1, 0]][:, [1, 0]]
        off = np.array([inv[1, 2], inv[0, 2]]) + mat @ np.array([0.5, 0.5]) - 0.5
        rr, cc = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        src = np.einsum("ij,jhw->ihw", mat, np.stack([rr, cc])) + off[:, None, None]
        in_range = (src[0] >= 0) & (src[0] <= h - 1) & (src[1] >= 0) & (src[1] <= w - 1)
        for ch in range(2):
            ref = ndi.affine_transform(x[k, ch], mat, offset=off, order=1, mode="constant")
            _interior_compare(y[k, ch], ref, in_range, min_fraction=0.2)


@pytest.mark.parametrize("t", [RandomRotation(40, fill=0.5), RandomAffine(20, (0.2, 0.2), (0.7, 1.3), 15),
                               RandomResizedCrop((5, 6)), RandomCrop(6, padding=2)])
def test_masks_keep_their_value_set_and_replay(t):
    x, m = _imgs(n=5), _masks(n=5)
    b = Batch(x, masks=m)
    out = t(b, rng=9)
    assert set(np.unique(out.masks)) <= {0, 3, 7}
    assert out.masks.shape == out.images.shape[:1] + out.images.shape[2:]
    again = t.replay(b, t.last_params)
    np.testing.assert_array_equal(again.images, out.images)
    np.testing.assert_array_equal(again.masks, out.masks)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_keypoints_roundtrip_any_affine(seed):
    rng = np.random.default_rng(seed)
    kps = [rng.uniform(0, 9, size=(4, 3)) for _ in range(2)]
    b = Batch(_imgs(n=2), keypoints=kps)
    t = RandomAffine(degrees=180, translate=(0.3, 0.3), scale=(0.5, 2.0), shear=20)
    out, p = t(b, rng=rng, return_params=True)
    back = t.replay(out, t.inverse_params(p))
    for a, k in zip(back.keypoints, kps, strict=True):
        np.testing.assert_allclose(a, k, rtol=1e-9, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_boxes_roundtrip_axis_aligned_affine(seed):
    # translation + scale keep boxes axis-aligned, so the inverse restores them (they stay inside)
    rng = np.random.default_rng(seed)
    boxes = [np.array([[3.0, 3.0, 5.5, 4.0], [4.0, 3.5, 6.0, 4.5]]) for _ in range(2)]
    b = Batch(_imgs(n=2, h=8, w=9), boxes=boxes)
    t = RandomAffine(translate=(0.1, 0.1), scale=(0.9, 1.1))
    out, p = t(b, rng=rng, return_params=True)
    back = t.replay(out, t.inverse_params(p))
    for a, k in zip(back.boxes, boxes, strict=True):
        np.testing.assert_allclose(a, k, rtol=1e-9, atol=1e-9)


def test_boxes_clip_or_drop_at_the_border():
    x = _imgs(n=1, h=10, w=10)
    boxes = [np.array([[6.0, 1.0, 9.0, 3.0, 1.0], [1.0, 1.0, 2.0, 2.0, 2.0]])]
    shift = {"matrix": affine_matrix(translate=(3.0, 0.0))[None], "in_size": (10, 10), "out_size": (10, 10)}
    t = RandomAffine()
    clipped = t.replay(Batch(x, boxes=boxes), shift)
    np.testing.assert_allclose(clipped.boxes[0], [[9.0, 1.0, 10.0, 3.0, 1.0], [4.0, 1.0, 5.0, 2.0, 2.0]])
    dropped = t.replay(Batch(x, boxes=boxes, box_mode="drop"), shift)
    np.testing.assert_allclose(dropped.boxes[0], [[4.0, 1.0, 5.0, 2.0, 2.0]])
    gone = t.replay(Batch(x, boxes=boxes), {**shift, "matrix": affine_matrix(translate=(30.0, 0.0))[None]})
    assert gone.boxes[0].shape == (0, 5)


def test_random_crop_is_a_padded_slice():
    x, m = _imgs(n=4, h=6, w=7), _masks(n=4, h=6, w=7)
    t = RandomCrop((5, 4), padding=2, fill=0.25, mask_fill=9)
    out, p = t(Batch(x, masks=m), rng=2, return_params=True)
    xp = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)), constant_values=0.25)
    mp = np.pad(m, ((0, 0), (2, 2), (2, 2)), constant_values=9)
    for k in range(4):
        i, j = p["top"][k], p["left"][k]
        np.testing.assert_array_equal(out.images[k], xp[k, :, i:i + 5, j:j + 4])
        np.testing.assert_array_equal(out.masks[k], mp[k, i:i + 5, j:j + 4])
    # the slicing fast path equals the generic integer-shift warp it replaces
    np.testing.assert_array_equal(out.images, warp_images(x, p["matrix"], (5, 4), fill=0.25))


def test_dtype_kept_and_labels_pass_through():
    x = _imgs(n=2)
    labels = np.array([3, 1])
    for t in (RandomRotation(33), RandomAffine(5, scale=(0.9, 1.1)), RandomResizedCrop(5), RandomCrop(4)):
        out = t(Batch(x, labels), rng=0)
        assert out.images.dtype == np.float32
        np.testing.assert_array_equal(out.labels, labels)


def test_random_resized_crop_matches_torch_interpolate_and_rule():
    x = _imgs(n=6, c=3, h=20, w=17, dtype=np.float64)
    t = RandomResizedCrop((9, 13), scale=(0.1, 1.0), ratio=(0.5, 2.0))
    y, p = t(x, rng=4, return_params=True)
    for k, (i, j, h, w) in enumerate(p["crop"]):
        assert 0 <= i and i + h <= 20 and 0 <= j and j + w <= 17
        # round() of sqrt(area * r) may move the area/ratio a little outside the sampled range
        assert 0.1 * 340 * 0.7 <= h * w <= 340 and 0.5 * 0.7 <= w / h <= 2.0 * 1.4
        crop = torch.from_numpy(x[k:k + 1, :, i:i + h, j:j + w])
        ref = torch.nn.functional.interpolate(crop, size=(9, 13), mode="bilinear", align_corners=False).numpy()
        np.testing.assert_allclose(y[k:k + 1], ref, rtol=1e-10, atol=1e-12)


def test_random_resized_crop_fallback():
    # an area larger than the image never fits: the fallback centre-crops to the ratio bounds
    t = RandomResizedCrop(4, scale=(2.0, 3.0), ratio=(1.0, 1.0))
    _, p = t(_imgs(n=2, h=6, w=10), rng=0, return_params=True)
    np.testing.assert_array_equal(p["crop"], [[0, 2, 6, 6]] * 2)


def test_expand_canvas_size():
    y = RandomRotation((30, 30), expand=True)(_imgs(n=1, h=10, w=20), rng=0)
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    assert y.shape[2:] == (math.ceil(20 * s + 10 * c - 1e-6), math.ceil(20 * c + 10 * s - 1e-6))


def test_bad_inputs():
    t = RandomRotation(10)
    with pytest.raises(ValueError, match=r"RandomRotation: expected images of rank 4 .* got shape \(7, 9\)"):
        t(np.zeros((7, 9)))
    with pytest.raises(TypeError, match="expected a floating image array.*uint8"):
        t(np.zeros((1, 1, 7, 9), np.uint8))
    with pytest.raises(ValueError, match=r"expected masks of shape \(3, 7, 9\).* got \(3, 7, 8\)"):
        t(Batch(_imgs(), masks=np.zeros((3, 7, 8), np.int64)))
    with pytest.raises(ValueError, match="boxes\\[0\\] leave the image"):
        t(Batch(_imgs(n=1), boxes=[np.array([[0.0, 0.0, 10.0, 3.0]])]))
    with pytest.raises(ValueError, match="x2 < x1"):
        t(Batch(_imgs(n=1), boxes=[np.array([[5.0, 0.0, 1.0, 3.0]])]))
    with pytest.raises(ValueError, match="crop size \\(9, 9\\) is larger than the padded image"):
        RandomCrop(9)(_imgs())
    with pytest.raises(ValueError, match="params were drawn for 3 images"):
        t.replay(_imgs(n=2), t.inverse_params(t(_imgs(), rng=0, return_params=True)[1]))


def test_affine_function_with_2x3_matrix():
    from cvprimer.data.augment import affine

    x = _imgs(h=5, w=6)
    np.testing.assert_array_equal(affine(x, np.array([[-1.0, 0.0, 6.0], [0.0, 1.0, 0.0]])), x[..., ::-1])
    with pytest.raises(ValueError, match=r"affine: expected a 2x3 or 3x3 matrix, got shape \(2, 2\)"):
        affine(x, np.eye(2))
