r"""Containers: ``Compose`` (in sequence), ``RandomApply`` (with probability p), ``OneOf`` (pick one).

Their recorded params nest the children's: ``Compose`` -> ``{"steps": [p_1, ..., p_k]}``;
``RandomApply`` -> ``{"applied": bool (N,) or bool, "params": p}`` with ``p`` drawn for the applied
images only; ``OneOf`` -> ``{"choice": int (N,) or int, "params": [p_k or None per child]}``. For
children whose params are per image, the coin/choice is per image; for batch-level children (mixup,
CutMix) it is one draw for the batch. ``replay`` re-applies such a record exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cvprimer.data.augment.base import TARGETS, Batch, Transform


def _transforms(items: Sequence[Transform], name: str) -> list[Transform]:
    items = list(items)
    if not items or not all(isinstance(t, Transform) for t in items):
        raise TypeError(f"{name}: expected a non-empty list of Transform objects, got "
                        f"{[type(t).__name__ for t in items]}")
    return items


class Compose(Transform):
    """Apply ``transforms`` one after the other; each sees the previous one's output."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        super().__init__()
        self.transforms = _transforms(transforms, self.name)
        self.supports = frozenset(t for t in TARGETS if all(t in c.supports for c in self.transforms))
        self.per_sample = all(t.per_sample for t in self.transforms)

    def run(self, batch: Batch, rng: np.random.Generator) -> tuple[Batch, dict[str, Any]]:
        steps = []
        for t in self.transforms:
            t._check(batch)
            batch, p = t.run(batch, rng)
            steps.append(p)
        return batch, {"steps": steps}

    def apply(self, batch: Batch, params: dict[str, Any]) -> Batch:
        if len(params["steps"]) != len(self.transforms):
            raise ValueError(f"{self.name}: params hold {len(params['steps'])} steps, expected {len(self.transforms)}")
        for t, p in zip(self.transforms, params["steps"], strict=True):
            t._check(batch)
            batch = t.apply(batch, p)
        return batch


class RandomApply(Transform):
    """Apply ``transform`` to each image with probability ``p`` (to the whole batch for batch-level ones)."""

    def __init__(self, transform: Transform, p: float = 0.5) -> None:
        super().__init__()
        self.transform = _transforms([transform], self.name)[0]
        if not 0 <= p <= 1:
            raise ValueError(f"{self.name}: p must be in [0, 1], got {p}")
        self.p = float(p)
        self.supports = self.transform.supports
        self.per_sample = self.transform.per_sample

    def run(self, batch: Batch, rng: np.random.Generator) -> tuple[Batch, dict[str, Any]]:
        if not self.per_sample:
            applied = bool(rng.random() < self.p)
            if not applied:
                return batch, {"applied": False, "params": None}
            out, p = self.transform.run(batch, rng)
            return out, {"applied": True, "params": p}
        applied = rng.random(batch.images.shape[0]) < self.p
        idx = np.flatnonzero(applied)
        if idx.size == 0:
            return batch, {"applied": applied, "params": None}
        part, p = self.transform.run(batch.subset(idx), rng)
        return batch.assign(idx, part, self.name), {"applied": applied, "params": p}

    def apply(self, batch: Batch, params: dict[str, Any]) -> Batch:
        applied = params["applied"]
        if params["params"] is None:
            return batch
        if isinstance(applied, (bool, np.bool_)):
            return self.transform.apply(batch, params["params"])
        idx = np.flatnonzero(applied)
        return batch.assign(idx, self.transform.apply(batch.subset(idx), params["params"]), self.name)


class OneOf(Transform):
    """Apply exactly one of ``transforms`` per image (per batch if any is batch-level), chosen by ``p``."""

    def __init__(self, transforms: Sequence[Transform], p: Sequence[float] | None = None) -> None:
        super().__init__()
        self.transforms = _transforms(transforms, self.name)
        k = len(self.transforms)
        w = np.ones(k) if p is None else np.asarray(p, dtype=np.float64)
        if w.shape != (k,) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"{self.name}: p must hold {k} non-negative weights with a positive sum, got {p}")
        self.p = w / w.sum()
        self.supports = frozenset(t for t in TARGETS if all(t in c.supports for c in self.transforms))
        self.per_sample = all(t.per_sample for t in self.transforms)

    def run(self, batch: Batch, rng: np.random.Generator) -> tuple[Batch, dict[str, Any]]:
        if not self.per_sample:
            c = int(rng.choice(len(self.transforms), p=self.p))
            out, p = self.transforms[c].run(batch, rng)
            return out, {"choice": c, "params": [p if i == c else None for i in range(len(self.transforms))]}
        choice = rng.choice(len(self.transforms), size=batch.images.shape[0], p=self.p)
        inner: list[Any] = []
        out = batch
        for k, t in enumerate(self.transforms):
            idx = np.flatnonzero(choice == k)
            if idx.size == 0:
                inner.append(None)
                continue
            part, p = t.run(batch.subset(idx), rng)
            out = out.assign(idx, part, self.name)
            inner.append(p)
        return out, {"choice": choice, "params": inner}

    def apply(self, batch: Batch, params: dict[str, Any]) -> Batch:
        choice = params["choice"]
        if isinstance(choice, (int, np.integer)):
            return self.transforms[int(choice)].apply(batch, params["params"][int(choice)])
        out = batch
        for k, t in enumerate(self.transforms):
            idx = np.flatnonzero(np.asarray(choice) == k)
            if idx.size:
                out = out.assign(idx, t.apply(batch.subset(idx), params["params"][k]), self.name)
        return out
