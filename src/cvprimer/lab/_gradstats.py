r"""Gradient statistics shared by the batch-size experiments (q18, q30): the full-data gradient as one vector,
the noise of mini-batch gradients around it (and their cosine with it), and a sharpness proxy of the loss at
the current weights.

- :func:`gradient_noise`: ``E||g_B - g||^2`` over random batches of size ``B`` drawn without replacement. For
  per-example gradients with covariance ``Sigma`` over ``N`` examples, sampling theory gives
  ``tr(Sigma) / B * (N - B) / (N - 1)``: the ``1/B`` law with a finite-population factor.
- :func:`sharpness`: the mean rise of the loss when every parameter tensor ``w`` is perturbed by Gaussian noise of
  standard deviation ``rho * rms(w)`` (a scale-aware, filter-normalization-like proxy for the curvature around a
  minimum; Keskar et al. 2017, arXiv:1609.04836; Li et al. 2018, arXiv:1712.09913).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F


def flat_grad(model: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The gradient of the mean cross-entropy on ``(x, y)`` as one flat float64 vector."""
    model.zero_grad()
    F.cross_entropy(model(cp.tensor(x)), cp.tensor(y)).backward()
    out = np.concatenate([p.grad.data.ravel() for p in model.parameters()]).astype(np.float64)
    model.zero_grad()
    return out


def batch_gradient_stats(model: Any, x: np.ndarray, y: np.ndarray, sizes: list[int], draws: int,
                         rng: np.random.Generator) -> dict[str, np.ndarray]:
    """For each batch size in ``sizes`` (``draws`` batches each, drawn without replacement from ``(x, y)``):
    ``noise`` = mean ``||g_B - g||^2`` and ``cosine`` = mean cosine between ``g_B`` and the full gradient ``g``."""
    g = flat_grad(model, x, y)
    gn = float(np.linalg.norm(g)) + 1e-30
    noise, cosine = [], []
    for b in sizes:
        gs = [flat_grad(model, x[i], y[i]) for i in (rng.choice(len(x), b, replace=False) for _ in range(draws))]
        noise.append(float(np.mean([np.sum((gb - g) ** 2) for gb in gs])))
        cosine.append(float(np.mean([gb @ g / (gn * (np.linalg.norm(gb) + 1e-30)) for gb in gs])))
    return {"noise": np.array(noise), "cosine": np.array(cosine)}


def gradient_noise(model: Any, x: np.ndarray, y: np.ndarray, sizes: list[int], draws: int,
                   rng: np.random.Generator) -> np.ndarray:
    """``E||g_B - g||^2`` for each batch size in ``sizes`` (``draws`` batches each, without replacement)."""
    return batch_gradient_stats(model, x, y, sizes, draws, rng)["noise"]


def loss_on(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of ``model`` on ``(x, y)`` without gradients (eval mode, restored afterwards)."""
    was = model.training
    model.eval()
    try:
        with cp.no_grad():
            return float(F.cross_entropy(model(cp.tensor(x)), cp.tensor(y)).item())
    finally:
        model.train(was)


def sharpness(model: Any, x: np.ndarray, y: np.ndarray, rho: float, draws: int, rng: np.random.Generator) -> float:
    """Mean loss increase on ``(x, y)`` under ``draws`` random perturbations ``w + rho * rms(w) * N(0, 1)`` of
    every parameter tensor; the weights are restored exactly afterwards."""
    base = loss_on(model, x, y)
    params = list(model.parameters())
    saved = [p.data.copy() for p in params]
    rises = []
    try:
        for _ in range(draws):
            for p, w in zip(params, saved, strict=True):
                scale = rho * float(np.sqrt(np.mean(w.astype(np.float64) ** 2)))
                p.data[...] = w + (scale * rng.standard_normal(w.shape)).astype(w.dtype)
            rises.append(loss_on(model, x, y) - base)
    finally:
        for p, w in zip(params, saved, strict=True):
            p.data[...] = w
    return float(np.mean(rises))
