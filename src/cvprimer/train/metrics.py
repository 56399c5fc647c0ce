r"""Classification and segmentation metrics on NumPy arrays (or Tensors).

All of them come from the confusion matrix ``M`` (rows: true class, columns: predicted):

- accuracy = trace(M) / sum(M)
- recall_c = M_cc / sum_j M_cj, precision_c = M_cc / sum_i M_ic, F1_c = 2 P R / (P + R)
  (0 where the denominator is 0, scikit-learn's ``zero_division=0``)
- balanced accuracy = mean over the classes present in the targets of recall_c
- IoU_c = M_cc / (sum_j M_cj + sum_i M_ic - M_cc); mean IoU averages the classes that occur
  in the prediction or the target (absent classes are NaN and left out).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _arr(x: Any) -> np.ndarray:
    return np.asarray(getattr(x, "data", x))


def _labels(pred_or_scores: Any, name: str) -> np.ndarray:
    a = _arr(pred_or_scores)
    if a.dtype.kind == "f":
        if a.ndim < 2:
            raise ValueError(f"{name}: float input must be scores of shape (N, C, ...), got {a.shape}")
        return a.argmax(axis=1)
    return a


def confusion_matrix(pred: Any, target: Any, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """(C, C) int64 counts; ``pred`` are labels or scores (N, C, ...) (argmax over axis 1)."""
    p = _labels(pred, "confusion_matrix").reshape(-1)
    t = _arr(target).reshape(-1).astype(np.int64)
    if p.shape != t.shape:
        raise ValueError(f"confusion_matrix: {p.size} predictions for {t.size} targets")
    if ignore_index is not None:
        keep = t != ignore_index
        p, t = p[keep], t[keep]
    for name, v in (("target", t), ("prediction", p)):
        if v.size and (v.min() < 0 or v.max() >= num_classes):
            raise ValueError(f"confusion_matrix: {name} values must be in [0, {num_classes}), got {v.min()}..{v.max()}")
    return np.bincount(t * num_classes + p, minlength=num_classes**2).reshape(num_classes, num_classes)


def accuracy(pred: Any, target: Any) -> float:
    """Fraction of exact matches; ``pred`` labels or scores (N, C, ...)."""
    p = _labels(pred, "accuracy")
    t = _arr(target)
    if p.shape != t.shape:
        raise ValueError(f"accuracy: predictions {p.shape} and targets {t.shape} differ in shape")
    return float((p == t).mean()) if t.size else float("nan")


def top_k_accuracy(scores: Any, target: Any, k: int = 5) -> float:
    """Fraction of samples whose target is among the k highest scores (ties: any order)."""
    s = _arr(scores)
    t = _arr(target)
    if s.ndim != 2 or s.shape[0] != t.shape[0]:
        raise ValueError(f"top_k_accuracy: scores must be (N, C) with N = {t.shape[0]}, got {s.shape}")
    if not 1 <= k <= s.shape[1]:
        raise ValueError(f"top_k_accuracy: k must be in [1, {s.shape[1]}], got {k}")
    top = np.argpartition(-s, k - 1, axis=1)[:, :k]
    return float((top == t[:, None]).any(axis=1).mean())


def precision_recall_f1(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 and support from a confusion matrix."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64)}


def balanced_accuracy(pred: Any, target: Any, num_classes: int) -> float:
    """Mean recall over the classes that occur in ``target``."""
    cm = confusion_matrix(pred, target, num_classes)
    present = cm.sum(axis=1) > 0
    return float(precision_recall_f1(cm)["recall"][present].mean())


def iou_per_class(cm: np.ndarray) -> np.ndarray:
    """Intersection over union per class; NaN for a class absent from both prediction and target."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def mean_iou(pred: Any, target: Any, num_classes: int, ignore_index: int | None = None) -> float:
    """Mean IoU over classes present in prediction or target (segmentation: (N, H, W) labels
    or (N, C, H, W) scores)."""
    return float(np.nanmean(iou_per_class(confusion_matrix(pred, target, num_classes, ignore_index))))


def classification_report(pred: Any, target: Any, num_classes: int) -> dict[str, Any]:
    """All of the above in one dict (JSON-ready lists)."""
    cm = confusion_matrix(pred, target, num_classes)
    prf = precision_recall_f1(cm)
    present = prf["support"] > 0
    return {
        "accuracy": float(np.trace(cm) / max(cm.sum(), 1)),
        "balanced_accuracy": float(prf["recall"][present].mean()) if present.any() else float("nan"),
        "macro_f1": float(prf["f1"][present].mean()) if present.any() else float("nan"),
        "per_class": {k: v.tolist() for k, v in prf.items()},
        "confusion_matrix": cm.tolist(),
    }
