r"""Stratified train/validation/test splits, and the split types that keep resampling on the training side.

Design (leakage guard): :func:`split_arrays` returns a :class:`Splits` whose ``train`` member is a
:class:`TrainSplit` and whose ``val``/``test`` members are plain :class:`Split`. Everything that changes
the class distribution or fits statistics from data (the resamplers in :mod:`cvprimer.data.imbalance`)
accepts a ``TrainSplit`` directly, refuses a ``Split``, and accepts raw arrays only with an explicit
``training=True``. Resampling the validation set by accident therefore needs two deliberate mistakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cvprimer.core.random import get_rng
from cvprimer.data.datasets.base import ArrayDataset, check_labels


def stratified_split(labels: np.ndarray | Sequence[int], fractions: Sequence[float],
                     rng: np.random.Generator | int | None = None) -> tuple[np.ndarray, ...]:
    r"""Split sample indices into ``len(fractions)`` parts keeping each class's proportions.

    For each class with :math:`n_c` samples, part :math:`j` gets :math:`\lfloor n_c f_j \rfloor` of them
    and the remaining samples go to the parts with the largest fractional remainders (ties to the earlier
    part), so every sample is in exactly one part and per-class counts differ from :math:`n_c f_j` by
    less than one. Indices inside a class are shuffled with ``rng``; each returned array is sorted.

    Returns one int64 index array per fraction. Same ``rng`` seed -> same split.
    """
    y = check_labels(labels, None, "stratified_split")
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 1 or f.size < 1 or np.any(f < 0) or not np.isclose(f.sum(), 1.0):
        raise ValueError(f"stratified_split: fractions must be non-negative and sum to 1, got {list(fractions)}")
    gen = get_rng(rng)
    parts: list[list[np.ndarray]] = [[] for _ in f]
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[gen.permutation(idx.size)]
        exact = idx.size * f
        counts = np.floor(exact).astype(np.int64)
        short = idx.size - counts.sum()
        if short:
            order = np.argsort(-(exact - counts), kind="stable")
            counts[order[:short]] += 1
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for j in range(f.size):
            parts[j].append(idx[bounds[j]:bounds[j + 1]])
    return tuple(np.sort(np.concatenate(p)).astype(np.int64) if p else np.zeros(0, np.int64) for p in parts)


@dataclass(frozen=True)
class Split:
    """Images and labels of one evaluation split (validation or test). Not accepted by resamplers."""

    images: np.ndarray
    labels: np.ndarray
    indices: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def dataset(self) -> ArrayDataset:
        return ArrayDataset(self.images, self.labels)


@dataclass(frozen=True)
class TrainSplit(Split):
    """The training split: the only split type resamplers and normalizer ``fit`` helpers take as-is."""


@dataclass(frozen=True)
class Splits:
    train: TrainSplit
    val: Split
    test: Split


def split_arrays(images: np.ndarray, labels: np.ndarray, fractions: Sequence[float] = (0.8, 0.1, 0.1),
                 rng: np.random.Generator | int | None = None) -> Splits:
    """Stratified (train, val, test) split of arrays; ``fractions`` has three entries summing to 1."""
    if len(fractions) != 3:
        raise ValueError(f"split_arrays: expected three fractions (train, val, test), got {list(fractions)}")
    y = check_labels(labels, np.asarray(images).shape[0], "split_arrays")
    tr, va, te = stratified_split(y, fractions, rng)
    return Splits(TrainSplit(images[tr], y[tr], tr), Split(images[va], y[va], va), Split(images[te], y[te], te))
