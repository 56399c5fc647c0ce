r"""Batch-level mixing: mixup (Zhang et al., arXiv:1710.09412) and CutMix (Yun et al., arXiv:1905.04899).

Both draw one ``lam ~ Beta(alpha, alpha)`` and one permutation ``perm`` for the whole batch and return
soft labels ``lam * onehot(y) + (1 - lam) * onehot(y[perm])``, each row summing to 1.

* mixup: ``x' = lam x + (1 - lam) x[perm]``.
* CutMix: a box of side ``W sqrt(1 - lam)`` by ``H sqrt(1 - lam)`` centred uniformly, clipped to the
  image, is pasted from ``x[perm]``; ``lam`` is then *corrected* to the kept area,
  ``lam = 1 - box_area / (H W)``, so the label mass matches the pixels exactly.

Segmentation masks, boxes and keypoints are refused: a mixed image has no single consistent target of
those kinds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.data.augment.base import Batch, Transform


def one_hot(labels: np.ndarray, num_classes: int, name: str) -> np.ndarray:
    """(N,) int labels -> (N, K) float; (N, K) soft labels are checked and returned as float."""
    y = np.asarray(labels)
    if y.ndim == 2:
        if y.shape[1] != num_classes:
            raise ValueError(f"{name}: soft labels have {y.shape[1]} columns, expected num_classes={num_classes}")
        return y.astype(np.float64)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or (y.size and (y.min() < 0 or y.max() >= num_classes)):
        raise ValueError(f"{name}: expected int labels in [0, {num_classes}) of shape (N,) or soft labels (N, "
                         f"{num_classes}), got shape {y.shape} dtype {y.dtype}")
    return np.eye(num_classes)[y]


class _Mix(Transform):
    supports = frozenset()
    per_sample = False

    def __init__(self, num_classes: int, alpha: float = 1.0) -> None:
        super().__init__()
        if alpha <= 0 or num_classes < 1:
            raise ValueError(f"{self.name}: expected alpha > 0 and num_classes >= 1, got {alpha}, {num_classes}")
        self.num_classes, self.alpha = int(num_classes), float(alpha)

    def _labels(self, batch: Batch, params: dict[str, Any]) -> np.ndarray:
        if batch.labels is None:
            raise ValueError(f"{self.name}: needs labels; pass a Batch(images, labels)")
        y = one_hot(batch.labels, self.num_classes, self.name)
        lam = float(params["lam"])
        # soft labels in the images' floating dtype, so a float32 model's loss takes them as they are
        dtype = batch.images.dtype if np.issubdtype(batch.images.dtype, np.floating) else np.float32
        return (lam * y + (1.0 - lam) * y[params["perm"]]).astype(dtype)

    def _check_params(self, batch: Batch, params: dict[str, Any]) -> None:
        if np.shape(params["perm"]) != (batch.images.shape[0],):
            raise ValueError(f"{self.name}: params were drawn for a batch of {np.shape(params['perm'])[0]}, got "
                             f"{batch.images.shape[0]}")


class Mixup(_Mix):
    """``x' = lam x + (1 - lam) x[perm]``, soft labels likewise (module notes)."""

    def sample(self, batch: Batch, rng: np.random.Generator) -> dict[str, Any]:
        n = batch.images.shape[0]
        return {"lam": float(rng.beta(self.alpha, self.alpha)), "perm": rng.permutation(n)}

    def apply(self, batch: Batch, params: dict[str, Any]) -> Batch:
        self._check_params(batch, params)
        lam = params["lam"]
        x = batch.images
        mixed = (lam * x + (1.0 - lam) * x[params["perm"]]).astype(x.dtype)
        return Batch(mixed, self._labels(batch, params))


class CutMix(_Mix):
    """Paste a box from ``x[perm]``; ``lam`` corrected to the clipped box area (module notes)."""

    def sample(self, batch: Batch, rng: np.random.Generator) -> dict[str, Any]:
        n = batch.images.shape[0]
        h, w = batch.size
        lam = float(rng.beta(self.alpha, self.alpha))
        cut = np.sqrt(1.0 - lam)
        ch, cw = int(h * cut), int(w * cut)
        cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
        y1, y2 = np.clip(cy - ch // 2, 0, h), np.clip(cy + ch // 2, 0, h)
        x1, x2 = np.clip(cx - cw // 2, 0, w), np.clip(cx + cw // 2, 0, w)
        area = (y2 - y1) * (x2 - x1)
        return {"lam": 1.0 - area / (h * w), "lam_drawn": lam, "box": np.array([y1, x1, y2, x2]),
                "perm": rng.permutation(n)}

    def apply(self, batch: Batch, params: dict[str, Any]) -> Batch:
        self._check_params(batch, params)
        y1, x1, y2, x2 = (int(v) for v in params["box"])
        out = batch.images.copy()
        out[:, :, y1:y2, x1:x2] = batch.images[params["perm"], :, y1:y2, x1:x2]
        return Batch(out, self._labels(batch, params))
