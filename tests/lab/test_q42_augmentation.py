"""q42: decide on both sides of its threshold; the gallery helpers keep masks and boxes in sync."""

import numpy as np

import cvprimer as cp
from cvprimer.data import augment as A
from cvprimer.lab.experiments.q42_augmentation import AUGS, TRAINED, apply_gallery, soft_cross_entropy
from cvprimer.lab.experiments.q42_augmentation import Augmentation as E

T = E.thresholds
BASE = {"acc_none": 90.6, "best_gain": 0.4, "worst_gain": -10.6, "n_help": 0, "n_hurt": 6, "n_trained": 14,
        "epochs": 15, "gain_geometric": -5.91, "gain_pixel": -0.7, "gain_erase": -0.7, "gain_mix": -0.1}


def test_refuted_when_no_augmentation_helps():
    v, ev = E.decide(BASE, T)
    assert v == "refuted"
    for s in ("90.6", "0 of 14", "-10.6", "-5.91", "15 epochs"):
        assert s in ev["en"]
    assert "90.6" in ev["zh"] and "-10.6" in ev["zh"]


def test_confirmed_when_some_help_and_none_hurt():
    assert E.decide(dict(BASE, n_help=3, n_hurt=0), T)[0] == "confirmed"


def test_nuanced_when_some_help_and_some_hurt():
    assert E.decide(dict(BASE, n_help=1, n_hurt=2), T)[0] == "nuanced"


def test_every_augmentation_has_a_gallery_entry_and_one_channel_ones_are_trained():
    assert len(AUGS) == 16 and "color jitter (RGB)" not in TRAINED and "mixup" in TRAINED


def test_gallery_moves_the_mask_and_box_with_a_flip():
    x = np.zeros((2, 3, 4, 6), np.float32)
    masks = np.zeros((2, 4, 6), np.int64)
    masks[:, :, 0] = 1
    boxes = [np.array([[0.0, 0.0, 2.0, 4.0, 1.0]])] * 2
    out = apply_gallery(A.RandomHorizontalFlip(p=1.0), A.Batch(x, np.array([0, 1]), masks, boxes),
                        np.random.default_rng(0))
    assert out.masks[0, :, -1].all() and not out.masks[0, :, 0].any()
    np.testing.assert_allclose(out.boxes[0][0, :4], [4.0, 0.0, 6.0, 4.0])


def test_gallery_mixup_is_half_and_half_and_soft_loss_takes_float64_labels():
    x = np.stack([np.zeros((1, 2, 2)), np.ones((1, 2, 2))]).astype(np.float32)
    out = apply_gallery(A.Mixup(2), A.Batch(x, np.array([0, 1])), np.random.default_rng(0))
    np.testing.assert_allclose(out.images, 0.5)
    np.testing.assert_allclose(out.labels, 0.5)
    loss = soft_cross_entropy(cp.tensor(np.zeros((2, 2), np.float32)), out.labels)
    assert abs(float(loss.data) - np.log(2)) < 1e-6
