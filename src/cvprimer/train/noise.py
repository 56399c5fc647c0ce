r"""Find likely mislabelled samples from out-of-fold predictions (data cleaning, canon question 4).

For each of ``folds`` stratified folds, a classifier trained on the other folds predicts class
probabilities p(k | x) for the held-out samples, so every sample gets a prediction from a model
that never saw it. A sample with given label y is flagged when its *self-confidence*
p(y | x) is below the class threshold t_y, the mean self-confidence of the samples labelled y
(the rule of confident learning, Northcutt et al. 2021, arXiv:1911.00068) **and** some other
class k has p(k | x) >= t_k. Flagged samples are ranked by self-confidence, lowest first.

The default classifier is a one-hidden-layer MLP trained with the engine (Adam-free plain SGD
with momentum, a few epochs); any ``fit_predict(x_train, y_train, x_test) -> probabilities``
can be passed instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import cvprimer as cp


@dataclass
class NoiseReport:
    flagged: np.ndarray  # indices, most suspicious first
    self_confidence: np.ndarray  # p(given label | x), out of fold, per sample
    suggested: np.ndarray  # argmax of the out-of-fold probabilities, per sample
    probabilities: np.ndarray  # (N, C) out-of-fold


def mlp_fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, num_classes: int,
                    hidden: int = 128, epochs: int = 8, lr: float = 0.05, batch_size: int = 64,
                    seed: int = 0) -> np.ndarray:
    """Train a ReLU MLP with SGD + momentum on flattened inputs; return softmax probabilities."""
    rng = np.random.default_rng(seed)
    xtr = x_train.reshape(len(x_train), -1).astype(np.float32)
    xte = x_test.reshape(len(x_test), -1).astype(np.float32)
    d = xtr.shape[1]
    params = [cp.Tensor((rng.standard_normal((d, hidden)) * np.sqrt(2 / d)).astype(np.float32), requires_grad=True),
              cp.zeros(hidden, requires_grad=True),
              cp.Tensor((rng.standard_normal((hidden, num_classes)) * np.sqrt(1 / hidden)).astype(np.float32),
                        requires_grad=True),
              cp.zeros(num_classes, requires_grad=True)]
    vel = [np.zeros_like(p.data) for p in params]

    def logits(xb: np.ndarray) -> cp.Tensor:
        w1, b1, w2, b2 = params
        return (cp.Tensor(xb) @ w1 + b1).relu() @ w2 + b2

    for _ in range(epochs):
        order = rng.permutation(len(xtr))
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            z = logits(xtr[idx])
            loss = (cp.logsumexp(z, 1) - z[np.arange(len(idx)), y_train[idx]]).mean()
            for p in params:
                p.grad = None
            loss.backward()
            with cp.no_grad():
                for p, v in zip(params, vel, strict=True):
                    assert p.grad is not None  # every parameter is used by the loss
                    v *= 0.9
                    v += p.grad.data
                    p.data -= lr * v
    with cp.no_grad():
        zt = logits(xte).data.astype(np.float64)
    zt -= zt.max(axis=1, keepdims=True)
    e = np.exp(zt)
    return e / e.sum(axis=1, keepdims=True)


def _stratified_folds(y: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    fold = np.empty(len(y), np.int64)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        fold[idx] = np.arange(len(idx)) % folds
    return fold


def find_label_noise(x: np.ndarray, y: np.ndarray, num_classes: int, folds: int = 5,
                     fit_predict: Callable[..., np.ndarray] | None = None,
                     rng: np.random.Generator | None = None) -> NoiseReport:
    """Flag samples whose given label disagrees with out-of-fold predictions (see module docstring)."""
    y = np.asarray(y, dtype=np.int64)
    if len(x) != len(y):
        raise ValueError(f"find_label_noise: {len(x)} samples but {len(y)} labels")
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(f"find_label_noise: labels must be in [0, {num_classes}), got {y.min()}..{y.max()}")
    if folds < 2 or np.bincount(y, minlength=num_classes)[np.unique(y)].min() < folds:
        raise ValueError(f"find_label_noise: need folds >= 2 and at least {folds} samples of every class")
    rng = rng if rng is not None else np.random.default_rng(0)
    fp = fit_predict or (lambda a, b, c: mlp_fit_predict(a, b, c, num_classes))
    fold = _stratified_folds(y, folds, rng)
    probs = np.zeros((len(y), num_classes))
    for f in range(folds):
        test = fold == f
        probs[test] = fp(x[~test], y[~test], x[test])
    self_conf = probs[np.arange(len(y)), y]
    thresholds = np.array([self_conf[y == c].mean() if np.any(y == c) else 1.0 for c in range(num_classes)])
    other = probs.copy()
    other[np.arange(len(y)), y] = -1.0
    confident_elsewhere = (other >= thresholds[None, :]).any(axis=1)
    flagged = np.flatnonzero((self_conf < thresholds[y]) & confident_elsewhere)
    flagged = flagged[np.argsort(self_conf[flagged], kind="stable")]
    return NoiseReport(flagged, self_conf, probs.argmax(axis=1), probs)
