r"""Class imbalance: class weights, random under/over-sampling, SMOTE, and class-balanced samplers.

Leakage guard (see :mod:`cvprimer.data.split`): every resampler takes either a :class:`TrainSplit`
(returned as a new ``TrainSplit``) or raw arrays *with an explicit* ``training=True`` (returned as
``(images, labels)``). A validation/test :class:`Split` is refused, and raw arrays without
``training=True`` are refused, because resampling anything but the training data makes the evaluation
distribution a lie (SMOTE on validation even copies training-like points into it).

Resampled output keeps the original samples first, in their order, then the added ones (class by
class); ``TrainSplit.indices`` of the result holds the source index of every row, ``-1`` for
synthetic SMOTE rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cvprimer.core.random import get_rng
from cvprimer.data.datasets.base import check_labels
from cvprimer.data.loader import WeightedRandomSampler
from cvprimer.data.split import Split, TrainSplit


def class_weights(labels: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    r"""'balanced' class weights, as scikit-learn: ``w_c = n_samples / (n_classes * count_c)``.

    Returns a float64 array of length ``num_classes`` (default ``max(label) + 1``); every class must occur.
    """
    y = check_labels(labels, None, "class_weights")
    k = int(num_classes) if num_classes is not None else int(y.max()) + 1
    counts = np.bincount(y, minlength=k)
    if counts.size > k:
        raise ValueError(f"class_weights: label {y.max()} is outside num_classes={k}")
    if np.any(counts == 0):
        raise ValueError(f"class_weights: classes {np.flatnonzero(counts == 0).tolist()} have no samples; "
                         f"'balanced' weights would be infinite")
    return y.size / (k * counts.astype(np.float64))


def _training_data(data: Any, labels: Any, training: bool, name: str) -> tuple[np.ndarray, np.ndarray, bool]:
    if isinstance(data, Split) and not isinstance(data, TrainSplit):
        raise TypeError(f"{name}: got a validation/test Split; resampling applies to the training split only")
    if isinstance(data, TrainSplit):
        return data.images, data.labels, True
    if training is not True:
        raise ValueError(f"{name}: resampling raw arrays needs an explicit training=True (or pass a "
                         f"TrainSplit); never resample validation or test data")
    if not isinstance(data, np.ndarray):
        raise TypeError(f"{name}: expected images as an ndarray (N, ...) or a TrainSplit, got {type(data).__name__}")
    return data, check_labels(labels, data.shape[0], name), False


def _targets(y: np.ndarray, target_counts: Mapping[int, int] | None, default: int, name: str,
             direction: str) -> dict[int, int]:
    classes, counts = np.unique(y, return_counts=True)
    have: dict[int, int] = dict(zip(classes.tolist(), counts.tolist(), strict=True))
    want = {c: default for c in have} if target_counts is None else {int(c): int(v) for c, v in target_counts.items()}
    for c, v in want.items():
        if c not in have:
            raise ValueError(f"{name}: class {c} in target_counts has no samples")
        if (direction == "down" and not 0 < v <= have[c]) or (direction == "up" and v < have[c]):
            raise ValueError(f"{name}: target count {v} for class {c} (which has {have[c]}) must be "
                             f"{'in 1..' + str(have[c]) if direction == 'down' else '>= ' + str(have[c])}")
    return {c: want.get(c, have[c]) for c in have}


def _result(x: np.ndarray, y: np.ndarray, src: np.ndarray, as_split: bool) -> Any:
    return TrainSplit(x, y, src) if as_split else (x, y)


def random_undersample(data: Any, labels: Any = None, *, training: bool = False,
                       target_counts: Mapping[int, int] | None = None,
                       rng: np.random.Generator | int | None = None) -> Any:
    """Keep a random subset of each class: by default every class down to the smallest class's count."""
    x, y, as_split = _training_data(data, labels, training, "random_undersample")
    gen = get_rng(rng)
    want = _targets(y, target_counts, int(np.bincount(y)[np.unique(y)].min()), "random_undersample", "down")
    keep = np.sort(np.concatenate([gen.choice(np.flatnonzero(y == c), size=v, replace=False)
                                   for c, v in want.items()]))
    return _result(x[keep], y[keep], keep, as_split)


def random_oversample(data: Any, labels: Any = None, *, training: bool = False,
                      target_counts: Mapping[int, int] | None = None,
                      rng: np.random.Generator | int | None = None) -> Any:
    """Append random duplicates of each class: by default every class up to the largest class's count."""
    x, y, as_split = _training_data(data, labels, training, "random_oversample")
    gen = get_rng(rng)
    want = _targets(y, target_counts, int(np.bincount(y).max()), "random_oversample", "up")
    extra = [gen.choice(np.flatnonzero(y == c), size=v - np.count_nonzero(y == c), replace=True)
             for c, v in want.items()]
    src = np.concatenate([np.arange(y.size), *extra]).astype(np.int64)
    return _result(x[src], y[src], src, as_split)


def _knn(points: np.ndarray, k: int) -> np.ndarray:
    """Indices (n, k) of each point's k nearest others (Euclidean), nearest first."""
    sq = np.einsum("ij,ij->i", points, points)
    d = sq[:, None] + sq[None, :] - 2.0 * points @ points.T
    np.fill_diagonal(d, np.inf)
    part = np.argpartition(d, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(d, part, axis=1).argsort(axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def smote(data: Any, labels: Any = None, *, training: bool = False, k_neighbors: int = 5,
          target_counts: Mapping[int, int] | None = None, features: np.ndarray | None = None,
          reduce_k: bool = False, rng: np.random.Generator | int | None = None) -> Any:
    r"""SMOTE (Chawla et al. 2002, arXiv:1106.1813): synthesize minority samples on neighbour segments.

    For each class ``c`` short of its target (default: the largest class's count), with ``X_c`` the
    class's samples flattened to vectors, find each sample's ``k`` nearest neighbours *within the class*
    and create each new sample as ``x_i + u (x_j - x_i)`` with ``i`` uniform over the class, ``j`` uniform
    over its neighbours and ``u ~ U(0, 1)``. Works on any sample shape (images are flattened for the
    search and interpolated in their own shape).

    Parameters
    ----------
    features : optional (N, D) embeddings used for the neighbour search *instead of* the pixels; the
        images themselves are still what is interpolated (feature-space SMOTE).
    reduce_k : a class with fewer than ``k + 1`` samples is an error unless ``reduce_k=True``, which then
        uses ``k = count - 1`` for that class (at least 2 samples are always needed).
    """
    x, y, as_split = _training_data(data, labels, training, "smote")
    if k_neighbors < 1:
        raise ValueError(f"smote: k_neighbors must be >= 1, got {k_neighbors}")
    flat = x.reshape(x.shape[0], -1).astype(np.float64)
    if features is not None:
        feats = np.asarray(features, dtype=np.float64)
        if feats.ndim != 2 or feats.shape[0] != x.shape[0]:
            raise ValueError(f"smote: features must be (N, D) with N = {x.shape[0]}, got {feats.shape}")
    else:
        feats = flat
    gen = get_rng(rng)
    want = _targets(y, target_counts, int(np.bincount(y).max()), "smote", "up")
    new_x, new_y = [], []
    for c, v in want.items():
        idx = np.flatnonzero(y == c)
        need = v - idx.size
        if need == 0:
            continue
        k = k_neighbors
        if idx.size < k + 1:
            if not reduce_k or idx.size < 2:
                raise ValueError(f"smote: class {c} has {idx.size} samples; k_neighbors={k_neighbors} needs at "
                                 f"least {k_neighbors + 1} (pass reduce_k=True to use k = {idx.size - 1})")
            k = idx.size - 1
        nn = _knn(feats[idx], k)
        i = gen.integers(0, idx.size, size=need)
        j = nn[i, gen.integers(0, k, size=need)]
        u = gen.random(need)[:, None]
        base = flat[idx[i]]
        new_x.append(base + u * (flat[idx[j]] - base))
        new_y.append(np.full(need, c, dtype=np.int64))
    if not new_x:
        return _result(x.copy(), y.copy(), np.arange(y.size), as_split)
    synth = np.concatenate(new_x).reshape(-1, *x.shape[1:]).astype(x.dtype)
    out_y = np.concatenate([y, *new_y])
    src = np.concatenate([np.arange(y.size), np.full(out_y.size - y.size, -1)]).astype(np.int64)
    return _result(np.concatenate([x, synth]), out_y, src, as_split)


class ClassBalancedSampler:
    r"""Round-robin over classes: every aligned block of ``K`` indices holds one sample of each class.

    Within a class, indices come from successive random permutations (each sample once before any
    repeats). The class order inside each block is shuffled. So a batch size that is a multiple of ``K``
    gives exactly balanced batches. ``num_samples`` defaults to ``K * max_count``.
    """

    def __init__(self, labels: np.ndarray, num_samples: int | None = None) -> None:
        y = check_labels(labels, None, "ClassBalancedSampler")
        self.classes = [np.flatnonzero(y == c) for c in np.unique(y)]
        if not self.classes:
            raise ValueError("ClassBalancedSampler: got no labels")
        k = len(self.classes)
        self.num_samples = int(num_samples) if num_samples is not None else k * max(map(len, self.classes))
        if self.num_samples < 1:
            raise ValueError(f"ClassBalancedSampler: num_samples must be >= 1, got {num_samples}")

    def __len__(self) -> int:
        return self.num_samples

    def indices(self, rng: np.random.Generator) -> np.ndarray:
        k = len(self.classes)
        per = -(-self.num_samples // k)
        cols = []
        for members in self.classes:
            reps = -(-per // members.size)
            cols.append(np.concatenate([members[rng.permutation(members.size)] for _ in range(reps)])[:per])
        table = np.stack(cols, axis=1)  # (per, K): row r holds the r-th draw of every class
        order = np.argsort(rng.random((per, k)), axis=1)
        return np.take_along_axis(table, order, axis=1).ravel()[: self.num_samples].astype(np.int64)


def weighted_sampler(labels: np.ndarray, num_samples: int | None = None,
                     weights: np.ndarray | None = None) -> WeightedRandomSampler:
    """A with-replacement sampler drawing each sample with probability ∝ its class weight ('balanced')."""
    y = check_labels(labels, None, "weighted_sampler")
    w = class_weights(y) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size <= y.max():
        raise ValueError(f"weighted_sampler: expected one weight per class (>= {y.max() + 1}), got {w.shape}")
    return WeightedRandomSampler(w[y], num_samples if num_samples is not None else y.size, replacement=True)
