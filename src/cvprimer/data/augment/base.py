r"""The batch that augmentations act on, and the ``Transform`` contract: sample, apply, record, replay.

A :class:`Batch` carries NCHW float images and, optionally, the targets that must move with them:
``labels`` (N,) or soft (N, K); ``masks`` (N, H, W) integer segmentation maps; ``boxes`` a list of N
arrays (K_i, 4 + m) in pixel ``xyxy`` (extra columns such as a class id travel unchanged);
``keypoints`` a list of N arrays (K_i, 2 + m) holding ``x, y``. Pixel ``(row i, column j)`` covers
``[j, j+1) x [i, i+1)``, so its centre is ``(j + 0.5, i + 0.5)`` and a box around the whole image is
``(0, 0, W, H)``.

Every transform splits its work in two: ``sample(batch, rng) -> params`` draws every random quantity
into a dict of arrays (per-sample ones have a leading axis N), and ``apply(batch, params)`` is
deterministic. ``t(x, rng)`` does both and stores the draw in ``t.last_params``; ``t.replay(x, params)``
re-applies a recorded draw exactly. ``t`` accepts a bare image array (and returns one) or a Batch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from cvprimer.core.random import get_rng
from cvprimer.data.datasets.base import check_images

TARGETS = ("masks", "boxes", "keypoints")


@dataclass
class Batch:
    images: np.ndarray
    labels: np.ndarray | None = None
    masks: np.ndarray | None = None
    boxes: list[np.ndarray] | None = None
    keypoints: list[np.ndarray] | None = None
    box_mode: str = "clip"

    @property
    def size(self) -> tuple[int, int]:
        return int(self.images.shape[-2]), int(self.images.shape[-1])

    def validate(self, name: str) -> None:
        """Check shapes and ranges of the images and every target; raise naming ``name``."""
        check_images(self.images, name)
        n = self.images.shape[0]
        h, w = self.size
        if self.labels is not None and (np.ndim(self.labels) not in (1, 2) or len(self.labels) != n):
            raise ValueError(f"{name}: expected labels of shape ({n},) or ({n}, K), got {np.shape(self.labels)}")
        if self.masks is not None:
            m = self.masks
            if not isinstance(m, np.ndarray) or m.shape != (n, h, w):
                raise ValueError(f"{name}: expected masks of shape {(n, h, w)} to match images "
                                 f"{self.images.shape}, got {getattr(m, 'shape', type(m).__name__)}")
            if not (np.issubdtype(m.dtype, np.integer) or m.dtype == bool):
                raise TypeError(f"{name}: expected integer class masks, got dtype {m.dtype}")
        if self.box_mode not in ("clip", "drop"):
            raise ValueError(f"{name}: box_mode must be 'clip' or 'drop', got {self.box_mode!r}")
        for key, width in (("boxes", 4), ("keypoints", 2)):
            items = getattr(self, key)
            if items is None:
                continue
            if len(items) != n:
                raise ValueError(f"{name}: expected {key} as a list of {n} arrays (one per image), got {len(items)}")
            for i, b in enumerate(items):
                if np.ndim(b) != 2 or np.shape(b)[1] < width:
                    raise ValueError(f"{name}: {key}[{i}] has shape {np.shape(b)}; expected (K, {width} + extra)")
            if key == "boxes":
                for i, b in enumerate(items):
                    b = np.asarray(b, dtype=np.float64)
                    if b.size and (np.any(b[:, 2] < b[:, 0]) or np.any(b[:, 3] < b[:, 1])):
                        raise ValueError(f"{name}: boxes[{i}] has x2 < x1 or y2 < y1; expected xyxy boxes")
                    tol = 1e-6
                    if b.size and (b[:, :4].min() < -tol or np.any(b[:, [0, 2]] > w + tol)
                                   or np.any(b[:, [1, 3]] > h + tol)):
                        raise ValueError(f"{name}: boxes[{i}] leave the image: expected 0 <= x <= {w}, "
                                         f"0 <= y <= {h}, got {b[:, :4].min()}..{b[:, :4].max()}")

    def subset(self, idx: np.ndarray) -> Batch:
        def pick(v: Any) -> Any:
            return None if v is None else v[idx]

        def listpick(v: Any) -> Any:
            return None if v is None else [v[i] for i in idx]

        return Batch(self.images[idx], pick(self.labels), pick(self.masks), listpick(self.boxes),
                     listpick(self.keypoints), self.box_mode)

    def assign(self, idx: np.ndarray, part: Batch, name: str) -> Batch:
        """A copy of this batch with samples ``idx`` replaced by ``part`` (same image size required)."""
        if part.images.shape[1:] != self.images.shape[1:]:
            raise ValueError(f"{name}: the transformed samples have shape {part.images.shape[1:]} but the "
                             f"others {self.images.shape[1:]}; a size-changing transform cannot be applied to "
                             f"part of a batch")
        out = replace(self, images=self.images.copy())
        out.images[idx] = part.images
        if self.labels is not None and part.labels is not None:
            out.labels = self.labels.copy()
            out.labels[idx] = part.labels
        if self.masks is not None:
            out.masks = self.masks.copy()
            out.masks[idx] = part.masks
        for key in ("boxes", "keypoints"):
            items = getattr(self, key)
            if items is not None:
                items = list(items)
                for k, i in enumerate(idx):
                    items[i] = getattr(part, key)[k]
                setattr(out, key, items)
        return out


def as_batch(x: Any) -> Batch:
    return x if isinstance(x, Batch) else Batch(images=x)


class Transform:
    """Base class; subclasses define ``sample`` and ``apply`` and list the targets they support."""

    supports: frozenset[str] = frozenset(TARGETS)
    per_sample = True  # parameters have a leading batch axis (False: one draw for the whole batch)

    def __init__(self) -> None:
        self.last_params: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return type(self).__name__

    def sample(self, batch: Batch, rng: np.random.Generator) -> dict[str, Any]:
        raise NotImplementedError

    def apply(self, batch: Batch, params: dict[str, Any]) -> Batch:
        raise NotImplementedError

    def run(self, batch: Batch, rng: np.random.Generator) -> tuple[Batch, dict[str, Any]]:
        """Draw and apply; containers override this because later draws depend on earlier outputs."""
        params = self.sample(batch, rng)
        return self.apply(batch, params), params

    def _check(self, batch: Batch) -> None:
        batch.validate(self.name)
        for key in TARGETS:
            if getattr(batch, key) is not None and key not in self.supports:
                raise ValueError(f"{self.name}: cannot transform {key} consistently with the images; "
                                 f"supported targets: {sorted(self.supports) or 'none'}")

    def __call__(self, x: np.ndarray | Batch, rng: np.random.Generator | int | None = None, *,
                 return_params: bool = False) -> Any:
        batch = as_batch(x)
        self._check(batch)
        out, params = self.run(batch, get_rng(rng))
        self.last_params = params
        result = out if isinstance(x, Batch) else out.images
        return (result, params) if return_params else result

    def replay(self, x: np.ndarray | Batch, params: dict[str, Any]) -> Any:
        """Apply a recorded draw ``params`` again: same input -> identical output."""
        batch = as_batch(x)
        self._check(batch)
        out = self.apply(batch, params)
        return out if isinstance(x, Batch) else out.images

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "last_params")
        return f"{self.name}({fields})"


def uniform_range(value: float | tuple[float, float], name: str, what: str, center: float = 0.0,
                  low: float | None = None) -> tuple[float, float]:
    """``v`` -> ``(center - v, center + v)``; a pair is returned as is. Validated."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2 or value[0] > value[1]:
            raise ValueError(f"{name}: {what} must be a number or a pair (min, max), got {value}")
        lo, hi = float(value[0]), float(value[1])
    else:
        if value < 0:
            raise ValueError(f"{name}: {what} must be non-negative, got {value}")
        lo, hi = center - float(value), center + float(value)
    if low is not None:
        if isinstance(value, (tuple, list)) and lo < low:
            raise ValueError(f"{name}: {what} range must be >= {low}, got {value}")
        lo = max(lo, low)
    return lo, hi
