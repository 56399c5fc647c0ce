r"""Occlusion augmentations: Cutout (DeVries & Taylor, arXiv:1708.04552) and Random Erasing
(Zhong et al., arXiv:1708.04896). Each erases one axis-aligned rectangle per image, recorded as
``box = (y1, x1, y2, x2)`` (pixel rows ``y1 <= i < y2``, columns ``x1 <= j < x2``; an empty box erases
nothing). Masks, boxes and keypoints pass through unchanged: the object is still there, only hidden.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.data.augment.base import Batch, Transform


def erase_boxes(images: np.ndarray, boxes: np.ndarray, value: float) -> np.ndarray:
    """Set ``images[n, :, y1:y2, x1:x2] = value`` for every row ``(y1, x1, y2, x2)`` of ``boxes`` (vectorized)."""
    _, _, h, w = images.shape
    b = np.asarray(boxes, dtype=np.int64)
    rows = np.arange(h)[None, :, None]
    cols = np.arange(w)[None, None, :]
    inside = ((rows >= b[:, 0, None, None]) & (rows < b[:, 2, None, None])
              & (cols >= b[:, 1, None, None]) & (cols < b[:, 3, None, None]))
    return np.where(inside[:, None], np.asarray(value, dtype=images.dtype), images)


class _Erase(Transform):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = float(value)

    def apply(self, batch: Batch, params: dict[str, Any]) -> Batch:
        if np.shape(params["box"]) != (batch.images.shape[0], 4):
            raise ValueError(f"{self.name}: params were drawn for {np.shape(params['box'])[0]} images, got "
                             f"{batch.images.shape[0]}")
        return Batch(erase_boxes(batch.images, params["box"], self.value), batch.labels, batch.masks,
                     batch.boxes, batch.keypoints, batch.box_mode)


class Cutout(_Erase):
    """Erase a ``size x size`` square whose centre is uniform over the image, clipped at the borders."""

    def __init__(self, size: int, value: float = 0.0) -> None:
        super().__init__(value)
        if int(size) < 1:
            raise ValueError(f"{self.name}: size must be >= 1, got {size}")
        self.size = int(size)

    def sample(self, batch: Batch, rng: np.random.Generator) -> dict[str, Any]:
        n = batch.images.shape[0]
        h, w = batch.size
        cy, cx = rng.integers(0, h, size=n), rng.integers(0, w, size=n)
        half = self.size // 2
        box = np.stack([np.clip(cy - half, 0, h), np.clip(cx - half, 0, w),
                        np.clip(cy - half + self.size, 0, h), np.clip(cx - half + self.size, 0, w)], 1)
        return {"box": box}


class RandomErasing(_Erase):
    r"""With probability ``p`` erase a rectangle of area ``H W U(scale)`` and aspect ``exp(U(log ratio))``.

    torchvision's rule: up to 10 attempts of ``h = round(sqrt(area r))``, ``w = round(sqrt(area / r))``,
    accepted when ``h < H`` and ``w < W`` with a uniform position; after 10 failures nothing is erased.
    """

    def __init__(self, p: float = 0.5, scale: tuple[float, float] = (0.02, 0.33),
                 ratio: tuple[float, float] = (0.3, 3.3), value: float = 0.0) -> None:
        super().__init__(value)
        if not 0 <= p <= 1 or not 0 < scale[0] <= scale[1] <= 1 or not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"{self.name}: expected p in [0, 1], 0 < scale[0] <= scale[1] <= 1, "
                             f"0 < ratio[0] <= ratio[1]; got p={p}, scale={scale}, ratio={ratio}")
        self.p, self.scale, self.ratio = float(p), tuple(scale), tuple(ratio)

    def sample(self, batch: Batch, rng: np.random.Generator) -> dict[str, Any]:
        n = batch.images.shape[0]
        h, w = batch.size
        box = np.zeros((n, 4), dtype=np.int64)
        logr = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for k in range(n):
            if rng.random() >= self.p:
                continue
            for _ in range(10):
                area = h * w * rng.uniform(self.scale[0], self.scale[1])
                r = math.exp(rng.uniform(*logr))
                eh, ew = round(math.sqrt(area * r)), round(math.sqrt(area / r))
                if 0 < eh < h and 0 < ew < w:
                    i, j = int(rng.integers(0, h - eh + 1)), int(rng.integers(0, w - ew + 1))
                    box[k] = (i, j, i + eh, j + ew)
                    break
        return {"box": box}
