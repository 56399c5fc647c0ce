"""Mixup/CutMix soft labels and areas; Compose/RandomApply/OneOf records and replays; refusals."""

import numpy as np
import pytest

from cvprimer.data.augment import (
    Batch,
    ColorJitter,
    Compose,
    CutMix,
    GaussianNoise,
    Mixup,
    OneOf,
    RandomApply,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
)


def _batch(n=8, c=3, h=10, w=12, k=5, seed=0):
    rng = np.random.default_rng(seed)
    return Batch(rng.random((n, c, h, w)), rng.integers(0, k, n))


def test_mixup_soft_labels():
    b = _batch()
    out, p = Mixup(num_classes=5, alpha=0.4)(b, rng=1, return_params=True)
    lam, perm = p["lam"], p["perm"]
    np.testing.assert_allclose(out.images, lam * b.images + (1 - lam) * b.images[perm])
    np.testing.assert_allclose(out.labels.sum(1), 1.0)
    eye = np.eye(5)
    np.testing.assert_allclose(out.labels, lam * eye[b.labels] + (1 - lam) * eye[b.labels[perm]])


@pytest.mark.parametrize("seed", range(5))
def test_cutmix_lambda_matches_pasted_area(seed):
    b = _batch(seed=seed)
    # Distinct images: every pixel of image i differs from every other image's pixels.
    b.images = np.arange(8, dtype=np.float64)[:, None, None, None] + 0.01 * b.images
    out, p = CutMix(num_classes=5, alpha=1.0)(b, rng=seed, return_params=True)
    perm = p["perm"]
    for i in range(8):
        if perm[i] == i:
            continue
        kept = np.mean(np.floor(out.images[i]) == i)
        assert kept == pytest.approx(p["lam"])  # label mass equals the kept pixel fraction
    np.testing.assert_allclose(out.labels.sum(1), 1.0)
    y1, x1, y2, x2 = p["box"]
    assert p["lam"] == pytest.approx(1 - (y2 - y1) * (x2 - x1) / 120)


def test_mix_refuses_masks_and_needs_labels():
    b = _batch()
    b.masks = np.zeros((8, 10, 12), np.int64)
    with pytest.raises(ValueError, match="Mixup: cannot transform masks"):
        Mixup(5)(b)
    with pytest.raises(ValueError, match="CutMix: needs labels"):
        CutMix(5)(np.zeros((2, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"expected int labels in \[0, 3\)"):
        Mixup(3)(_batch())


def test_compose_records_and_replays():
    b = _batch()
    b.masks = np.random.default_rng(3).integers(0, 4, (8, 10, 12))
    t = Compose([RandomHorizontalFlip(), RandomRotation(25), ColorJitter(0.2, 0.2, 0.2, 0.05),
                 RandomApply(GaussianNoise(0.05), p=0.5), OneOf([RandomCrop((10, 12), padding=2), RandomRotation(5)])])
    out = t(b, rng=11)
    again = t.replay(b, t.last_params)
    np.testing.assert_array_equal(again.images, out.images)
    np.testing.assert_array_equal(again.masks, out.masks)
    assert len(t.last_params["steps"]) == 5
    other = t(b, rng=12)
    assert not np.array_equal(other.images, out.images)


def test_random_apply_per_image():
    b = _batch(n=100, c=1, h=2, w=2)
    out, p = RandomApply(RandomHorizontalFlip(p=1.0), p=0.3)(b, rng=0, return_params=True)
    applied = p["applied"]
    assert 15 < applied.sum() < 45
    np.testing.assert_array_equal(out.images[applied], b.images[applied][..., ::-1])
    np.testing.assert_array_equal(out.images[~applied], b.images[~applied])


def test_one_of_partitions_the_batch():
    b = _batch(n=30)
    t = OneOf([RandomHorizontalFlip(p=1.0), ColorJitter(brightness=(0.0, 0.0))], p=[2, 1])
    out, p = t(b, rng=4, return_params=True)
    c = p["choice"]
    np.testing.assert_array_equal(out.images[c == 0], b.images[c == 0][..., ::-1])
    np.testing.assert_array_equal(out.images[c == 1], 0.0)


def test_batch_level_inside_random_apply_and_size_mismatch():
    out, p = RandomApply(Mixup(5), p=1.0)(_batch(), rng=0, return_params=True)
    assert p["applied"] is True and out.labels.shape == (8, 5)
    with pytest.raises(ValueError, match="size-changing transform cannot be applied to part of a batch"):
        RandomApply(RandomCrop(4), p=0.5)(_batch(), rng=0)
    with pytest.raises(TypeError, match="expected a non-empty list of Transform"):
        Compose([lambda x: x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mixed_soft_labels_take_the_images_dtype_and_feed_cross_entropy(dtype):
    import cvprimer as cp
    import cvprimer.functional as F
    from cvprimer.data.augment import CutMix, Mixup
    from cvprimer.data.augment.base import Batch

    for mixer in (Mixup(10), CutMix(10)):
        b = mixer(Batch(np.zeros((4, 1, 8, 8), dtype), np.arange(4)), rng=np.random.default_rng(0))
        assert b.labels.dtype == dtype
        loss = F.cross_entropy(cp.tensor(np.zeros((4, 10), dtype)), cp.tensor(b.labels))
        assert loss.dtype == dtype
