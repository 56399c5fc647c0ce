"""The README's main job until the lab exists: train a small network with the engine on
scikit-learn's digits (1,797 real 8x8 handwritten digits, bundled with scikit-learn) and
print the loss falling and the held-out accuracy.

Written with the raw engine (Tensor ops and autograd only) so it exercises the core.
"""

from __future__ import annotations

import time

import numpy as np

import cvprimer as cp
from cvprimer.errors import require


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    datasets = require("sklearn.datasets", what="the demo's digits")  # a one-line error naming the data extra
    d = datasets.load_digits()
    return (d.data / 16.0).astype(np.float32), d.target.astype(np.int64)


def run_demo(epochs: int = 15, batch_size: int = 64, lr: float = 0.1, hidden: int = 64, seed: int = 0,
             log=print) -> dict:
    """Train a 64-hidden-unit MLP with SGD + momentum; return the final metrics.

    Loss: softmax cross-entropy written from engine ops (logsumexp - picked logit).
    Training stops at the first step whose loss is not finite (too large an ``lr``): the result then holds
    ``diverged`` (``{"epoch", "step", "loss"}``) and the history of the finished epochs; otherwise
    ``diverged`` is None.
    """
    rng = np.random.default_rng(seed)
    x, y = _load_digits()
    order = rng.permutation(len(x))
    n_val = len(x) // 5
    val, tr = order[:n_val], order[n_val:]
    mean = x[tr].mean(0)
    std = x[tr].std(0) + 0.1  # fit normalisation on the training split only
    x = (x - mean) / std

    def param(*shape: int, fan_in: int) -> cp.Tensor:
        return cp.Tensor((rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32), requires_grad=True)

    params = [param(64, hidden, fan_in=64), cp.zeros(hidden, requires_grad=True),
              param(hidden, 10, fan_in=hidden), cp.zeros(10, requires_grad=True)]
    velocity = [np.zeros_like(p.data) for p in params]

    def forward(xb: np.ndarray) -> cp.Tensor:
        w1, b1, w2, b2 = params
        return (cp.Tensor(xb) @ w1 + b1).relu() @ w2 + b2

    def loss_fn(logits: cp.Tensor, yb: np.ndarray) -> cp.Tensor:
        picked = logits[np.arange(len(yb)), yb]
        return (cp.logsumexp(logits, 1) - picked).mean()

    log(f"cvprimer demo: MLP 64-{hidden}-10 on scikit-learn digits ({len(tr)} train / {len(val)} validation)")
    t0 = time.perf_counter()
    history: list[tuple[float, float, float]] = []
    for epoch in range(1, epochs + 1):
        perm = rng.permutation(tr)
        total = 0.0
        for step, i in enumerate(range(0, len(perm), batch_size), start=1):
            idx = perm[i:i + batch_size]
            with np.errstate(over="ignore", invalid="ignore"):  # overflow is what the check below reports
                loss = loss_fn(forward(x[idx]), y[idx])
            if not np.isfinite(loss.item()):
                return {"history": history, "diverged": {"epoch": epoch, "step": step, "loss": loss.item()},
                        "val_acc": history[-1][2] if history else None,
                        "train_loss": history[-1][0] if history else None}
            for p in params:
                p.grad = None
            with np.errstate(over="ignore", invalid="ignore"):
                loss.backward()
            with cp.no_grad(), np.errstate(over="ignore", invalid="ignore"):
                for p, v in zip(params, velocity, strict=True):
                    assert p.grad is not None  # every parameter is used by the loss
                    v *= 0.9
                    v += p.grad.data
                    p.data -= lr * v
            total += loss.item() * len(idx)
        with cp.no_grad():
            val_logits = forward(x[val])
            val_loss = loss_fn(val_logits, y[val]).item()
            acc = float((val_logits.data.argmax(1) == y[val]).mean())
        history.append((total / len(tr), val_loss, acc))
        log(f"epoch {epoch:2d}  train loss {total / len(tr):.4f}  val loss {val_loss:.4f}  val acc {acc:.3f}")
    log(f"done in {time.perf_counter() - t0:.1f}s")
    return {"history": history, "diverged": None, "val_acc": history[-1][2], "train_loss": history[-1][0]}
