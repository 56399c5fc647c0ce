r"""Helpers shared by the lab's translation and pooling experiments (q36, q52): whole-pixel shifts of test
images and the accuracy of a model as a function of the shift.

- :func:`shift_images`: move every image by ``s`` pixels in one of the four axis directions (fixed per image
  by a seed), filling the uncovered border with zeros, as a digit slid towards an edge of the frame.
- :func:`shift_curve`: the accuracy of a model on the shifted validation images for each shift.
- :func:`lean`: a copy of a data split whose validation part is cut to a few images, for training runs whose
  per-epoch validation is not used (the experiment evaluates the full validation split itself, once).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cvprimer.lab.common import Data, accuracy

DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0))  # (dy, dx): right, left, down, up


def shift_images(x: np.ndarray, s: int, seed: int = 0) -> np.ndarray:
    """``x`` (N, C, H, W) with image ``i`` moved by ``s`` whole pixels in direction ``DIRECTIONS[d_i]``,
    ``d_i`` drawn once per image from ``seed`` (so every shift uses the same directions); zeros fill in."""
    if s < 0:
        raise ValueError(f"shift_images: s must be >= 0, got {s}")
    n, _, h, w = x.shape
    out = np.zeros_like(x)
    if s >= max(h, w):
        return out
    dirs = np.random.default_rng(seed).integers(0, len(DIRECTIONS), size=n)
    for d, (dy, dx) in enumerate(DIRECTIONS):
        idx = np.flatnonzero(dirs == d)
        if idx.size == 0:
            continue
        ys, yd = (slice(0, h - s * dy), slice(s * dy, h)) if dy >= 0 else (slice(s, h), slice(0, h - s))
        xs, xd = (slice(0, w - s * dx), slice(s * dx, w)) if dx >= 0 else (slice(s, w), slice(0, w - s))
        out[idx, :, yd, xd] = x[idx, :, ys, xs]
    return out


def shift_curve(model: Any, x: np.ndarray, y: np.ndarray, shifts: Sequence[int], seed: int = 0) -> np.ndarray:
    """Accuracy of ``model`` on ``x`` shifted by each of ``shifts`` pixels (see :func:`shift_images`)."""
    return np.array([accuracy(model, shift_images(x, int(s), seed), y) for s in shifts])


def lean(data: Data, n_val: int = 32) -> Data:
    """``data`` with only its first ``n_val`` validation images (the training split unchanged): :func:`fit`
    validates every epoch, which is wasted work when only the final model is evaluated."""
    return Data(data.x_train, data.y_train, data.x_val[:n_val], data.y_val[:n_val])
