"""q42: decide exactly at every threshold for each kind; the gallery helpers keep masks and boxes in sync; the real
run's flip rows recomputed by plain NumPy flips of the same photographs, and Mixup's identity by hand."""

import numpy as np

import cvprimer as cp
from cvprimer.data import augment as A
from cvprimer.lab.experiments.q42_augmentation import (
    AUGS,
    TRAINED,
    apply_gallery,
    mask_change,
    partner_dependence,
    soft_cross_entropy,
    square_photos,
)
from cvprimer.lab.experiments.q42_augmentation import Augmentation as E
from labcheck import edges, reached, run_tiny

T = E.thresholds
OK = {"geometric_mask_change_min": 0.67, "geometric_partner_dep_max": 0.0, "pixel_mask_change_max": 0.0,
      "pixel_value_change_min": 0.025, "pixel_partner_dep_max": 0.0, "mixup_image_err": 6.8e-8,
      "mixup_label_err": 5.9e-9, "mixup_partner_dep": 1.0, "mixup_lam": 0.234}
# the geometric and mixup kinds failing, so the pixel kind alone decides between nuanced and refuted
PIX_ONLY = {**OK, "geometric_mask_change_min": 0.0, "mixup_label_err": 0.5}


def test_declaration_complete():
    E.check()
    assert E.completeness() == []


def test_edges_every_threshold():
    # (figure, threshold, verdicts with the other kinds holding, with only this kind in play)
    cases = [("geometric_mask_change_min", "min_mask_change", ("nuanced", "confirmed", "confirmed")),
             ("geometric_partner_dep_max", "max_single_dep", ("confirmed", "confirmed", "nuanced")),
             ("pixel_value_change_min", "min_value_change", ("nuanced", "confirmed", "confirmed")),
             ("pixel_mask_change_max", "max_pixel_mask_change", ("confirmed", "confirmed", "nuanced")),
             ("pixel_partner_dep_max", "max_single_dep", ("confirmed", "confirmed", "nuanced")),
             ("mixup_image_err", "interp_tol", ("confirmed", "confirmed", "nuanced")),
             ("mixup_label_err", "interp_tol", ("confirmed", "confirmed", "nuanced")),
             ("mixup_partner_dep", "min_mix_dep", ("nuanced", "confirmed", "confirmed"))]
    for fig, th, want in cases:
        edges(E, lambda v, fig=fig: {**OK, fig: v}, th, *want)
    for fig, th in (("pixel_value_change_min", "min_value_change"), ("pixel_mask_change_max", "max_pixel_mask_change"),
                    ("pixel_partner_dep_max", "max_single_dep")):
        below_ok = fig == "pixel_value_change_min"
        want = ("refuted", "nuanced", "nuanced") if below_ok else ("nuanced", "nuanced", "refuted")
        edges(E, lambda v, fig=fig: {**PIX_ONLY, fig: v}, th, *want)


def test_reached_and_evidence():
    none = {**PIX_ONLY, "pixel_mask_change_max": 0.3}
    reached(E, [OK, PIX_ONLY, none])
    v, ev = E.decide(OK, T)
    assert v == "confirmed" and "67%" in ev["en"] and "3 of the seed's 3" in ev["en"] and "6.8e-08" in ev["zh"]
    assert E.decide(PIX_ONLY, T)[1]["en"].count("fails") == 2


def test_beyond_sentences():
    b = {"acc_none": 90.6, "best_gain": 0.4, "worst_gain": -10.6, "n_trained": 14, "epochs": 15,
         "gain_geometric": -5.91, "gain_pixel": -0.7, "gain_erase": -0.7, "gain_mix": -0.1}
    t = E.explain_beyond(b)
    assert "90.6%" in t["en"] and "-10.6" in t["zh"] and "-5.91" in t["en"]


def test_mask_change_and_partner_dependence():
    a = np.zeros((1, 4, 4), np.int64)
    a[0, :2, :2] = 1
    b = np.zeros_like(a)
    b[0, :2, 1:3] = 1
    assert mask_change(a, a) == 0.0 and mask_change(a, b) == 1 - 2 / 6
    batch = square_photos(4)
    flip = A.RandomHorizontalFlip(p=1.0)
    out, p = flip(batch, rng=0, return_params=True)
    assert partner_dependence(flip, batch, p, out.images) == 0.0


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


def test_run_tiny_recomputes_the_flips_and_mixup():
    res = run_tiny(E, seed=0)
    f = res.values()
    assert E.decide(f, T)[0] == "confirmed"
    rows = {r[0]: r for r in res.tables[0].rows}
    batch = square_photos()
    x, m = batch.images.astype(np.float64), batch.masks.astype(bool)
    # the flips by plain NumPy indexing on the same photographs: the upper-left square never overlaps its mirror
    for name, ax in (("horizontal flip", -1), ("vertical flip", -2)):
        fm, fx = np.flip(m, ax), np.flip(x, ax)
        iou = (m & fm).sum((1, 2)) / (m | fm).sum((1, 2))
        assert rows[name][2] == float(np.mean(1 - iou)) == 1.0
        assert abs(rows[name][3] - float(np.abs(fx - x).mean())) < 1e-6
    assert f["geometric_mask_change_min"] == min(rows[n][2] for n in rows if rows[n][1] == "geometric")
    # Mixup by hand on the run's own lam: the identity holds to float32 rounding
    lam = f["mixup_lam"]
    perm = np.roll(np.arange(len(x)), 1)
    mixed = A.Mixup(2).replay(A.Batch(batch.images, labels=batch.labels), {"lam": lam, "perm": perm})
    y = np.eye(2)[batch.labels]
    np.testing.assert_allclose(mixed.images, lam * x + (1 - lam) * x[perm], atol=1e-6)
    np.testing.assert_allclose(mixed.labels, lam * y + (1 - lam) * y[perm], atol=1e-6)
    assert 0 < lam < 1 and f["mixup_image_err"] < 1e-6 and f["mixup_partner_dep"] > 0
