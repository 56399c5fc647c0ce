"""Metrics against scikit-learn on random predictions."""

import numpy as np
import pytest
from sklearn import metrics as skm

from cvprimer.train import metrics as M


@pytest.fixture
def preds():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 5, 300)
    scores = rng.standard_normal((300, 5)) + 1.5 * np.eye(5)[t]  # informative but imperfect
    scores[:, 4] -= 3  # class 4 is rarely predicted: exercises zero division
    return scores, t


def test_confusion_accuracy_prf_against_sklearn(preds):
    scores, t = preds
    p = scores.argmax(1)
    cm = M.confusion_matrix(scores, t, 5)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(t, p, labels=range(5)))
    assert M.accuracy(scores, t) == pytest.approx(skm.accuracy_score(t, p))
    prf = M.precision_recall_f1(cm)
    sp, sr, sf, ss = skm.precision_recall_fscore_support(t, p, labels=range(5), zero_division=0)
    np.testing.assert_allclose(prf["precision"], sp)
    np.testing.assert_allclose(prf["recall"], sr)
    np.testing.assert_allclose(prf["f1"], sf)
    np.testing.assert_array_equal(prf["support"], ss)
    assert M.balanced_accuracy(p, t, 5) == pytest.approx(skm.balanced_accuracy_score(t, p))
    rep = M.classification_report(p, t, 5)
    assert rep["macro_f1"] == pytest.approx(skm.f1_score(t, p, average="macro", zero_division=0))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_against_sklearn(preds, k):
    scores, t = preds
    assert M.top_k_accuracy(scores, t, k) == pytest.approx(skm.top_k_accuracy_score(t, scores, k=k, labels=range(5)))


def test_mean_iou_by_hand_and_against_sklearn_jaccard():
    rng = np.random.default_rng(1)
    target = rng.integers(0, 3, (2, 8, 8))
    pred = np.where(rng.random((2, 8, 8)) < 0.7, target, rng.integers(0, 3, (2, 8, 8)))
    ious = M.iou_per_class(M.confusion_matrix(pred, target, 3))
    for c in range(3):
        inter = np.sum((pred == c) & (target == c))
        union = np.sum((pred == c) | (target == c))
        assert ious[c] == pytest.approx(inter / union)
    j = skm.jaccard_score(target.ravel(), pred.ravel(), average="macro")
    assert M.mean_iou(pred, target, 3) == pytest.approx(j)


def test_mean_iou_ignores_absent_classes_and_ignore_index():
    target = np.array([[0, 0, 1, 255]])
    pred = np.array([[0, 1, 1, 2]])
    # class 2 appears only where the target is ignored, so after ignoring it is absent: left out of the mean
    assert M.mean_iou(pred, target, 3, ignore_index=255) == pytest.approx((1 / 2 + 1 / 2) / 2)


def test_bad_input_messages():
    with pytest.raises(ValueError, match=r"target values must be in \[0, 3\)"):
        M.confusion_matrix(np.array([0, 1]), np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="accuracy: predictions"):
        M.accuracy(np.array([0, 1]), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="k must be in"):
        M.top_k_accuracy(np.zeros((2, 3)), np.array([0, 1]), 4)
