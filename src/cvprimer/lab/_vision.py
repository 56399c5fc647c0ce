r"""Helpers shared by the lab's vision experiments (q09, q24, q40, q49, q50).

- :func:`small_cnn` / :func:`train_cnn`: one fast strided CNN for the 1x28x28 MNIST sample (5x5 stem whose
  filters are worth looking at), trained with :func:`cvprimer.lab.common.fit`.
- :func:`hog_features`: scikit-image's HOG descriptor of each image (the hand-crafted baseline).
- :func:`linear_probe`: softmax regression on fixed features, trained by our engine and optimizers.
- :func:`data_hunger`: validation accuracy vs training-set size for the CNN, HOG + linear and pixels + linear.
- :func:`input_gradient`, :func:`fgsm`: the loss gradient with respect to the input and the fast-gradient-sign
  attack built on it; :func:`image_grid`, :func:`entropy_bits` for plots and histograms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.lab.common import Data, fit, load_data, predict, stratified_indices

METHODS = ("cnn", "hog", "pixels")


def small_cnn(width: int = 8, num_classes: int = 10) -> Any:
    """``1x28x28 -> num_classes``: a 5x5 stride-2 convolution to ``width`` channels (14x14), ReLU, a 3x3
    stride-2 convolution to ``2 width`` (7x7), ReLU, and a linear classifier. ``model[0]`` is the stem."""
    return nn.Sequential(nn.Conv2d(1, width, 5, stride=2, padding=2), nn.ReLU(),
                         nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(2 * width * 49, num_classes))


def epochs_for(n: int, steps: int, batch_size: int = 64, max_epochs: int = 40) -> int:
    """Epochs that give about ``steps`` updates on ``n`` examples (at least 1, at most ``max_epochs``)."""
    return int(min(max_epochs, max(1, math.ceil(steps * batch_size / n))))


def train_cnn(data: Data, steps: int, rng: np.random.Generator, seed: int, width: int = 8,
              lr: float = 3e-3) -> tuple[Any, Any]:
    """A :func:`small_cnn` built after ``cp.manual_seed(seed)`` and trained for about ``steps`` updates."""
    cp.manual_seed(seed)
    model = small_cnn(width)
    f = fit(model, _lean(data), epochs_for(len(data.y_train), steps), rng, lr=lr)
    f.val_acc = accuracy_of(model, data.x_val, data.y_val)
    return model, f


def _lean(data: Data) -> Data:
    """The same training split with a one-example validation split (fit validates every epoch; the real
    validation accuracy is measured once at the end)."""
    return Data(data.x_train, data.y_train, data.x_val[:1], data.y_val[:1])


def hog_features(images: np.ndarray) -> np.ndarray:
    """HOG (scikit-image; 9 orientations, 7x7-pixel cells, 2x2-cell blocks, L2-Hys) of each (1, 28, 28)
    image: 324 features for 28x28 inputs."""
    from skimage.feature import hog

    return np.stack([hog(im[0], orientations=9, pixels_per_cell=(7, 7), cells_per_block=(2, 2))
                     for im in images]).astype(np.float32)


def linear_probe(f_train: np.ndarray, y_train: np.ndarray, f_val: np.ndarray, y_val: np.ndarray, steps: int,
                 rng: np.random.Generator, seed: int, lr: float = 1e-2) -> float:
    """Softmax regression (one ``nn.Linear``) on fixed features, standardized with the training split's
    statistics and trained by Adam with :func:`fit` for about ``steps`` updates; the validation accuracy."""
    mu, sd = f_train.mean(0), f_train.std(0) + 1e-6
    d = Data(((f_train - mu) / sd).astype(np.float32), y_train, ((f_val - mu) / sd).astype(np.float32), y_val)
    cp.manual_seed(seed)
    model = nn.Linear(f_train.shape[1], 10)
    fit(model, _lean(d), epochs_for(len(y_train), steps), rng, lr=lr, weight_decay=1e-4)
    return accuracy_of(model, d.x_val, d.y_val)


def data_hunger(sizes: Sequence[int], n_val: int, steps: int, rng: np.random.Generator, seed: int,
                methods: Sequence[str] = METHODS) -> tuple[dict[str, list[float]], Any]:
    """Validation accuracy of each method in ``methods`` (``"cnn"``, ``"hog"``, ``"pixels"``) trained on
    nested stratified subsets of the MNIST sample of each size in ``sizes`` (one validation split of
    ``n_val``). Returns ``({method: [acc per size]}, the CNN trained on the largest subset)``."""
    sizes = sorted(sizes)
    data = load_data("mnist_sample", sizes[-1], n_val, rng)
    hog_tr = hog_features(data.x_train) if "hog" in methods else None
    hog_va = hog_features(data.x_val) if "hog" in methods else None
    out: dict[str, list[float]] = {m: [] for m in methods}
    model = None
    for n in sizes:
        idx = stratified_indices(data.y_train, n, rng)
        ytr = data.y_train[idx]
        if "cnn" in methods:
            sub = Data(data.x_train[idx], ytr, data.x_val, data.y_val)
            model, f = train_cnn(sub, steps, rng, seed)
            out["cnn"].append(f.val_acc)
        if "hog" in methods:
            assert hog_tr is not None and hog_va is not None  # computed above when "hog" is asked for
            out["hog"].append(linear_probe(hog_tr[idx], ytr, hog_va, data.y_val, steps, rng, seed))
        if "pixels" in methods:
            out["pixels"].append(linear_probe(data.x_train[idx].reshape(n, -1), ytr,
                                              data.x_val.reshape(len(data.y_val), -1), data.y_val, steps, rng, seed))
    return out, model


def input_gradient(model: Any, x: np.ndarray, y: np.ndarray, logit: bool = False) -> np.ndarray:
    """``d loss / d x`` for a batch (eval mode): the mean cross-entropy's gradient, or with ``logit=True`` the
    gradient of the true class's logit summed over the batch (a saliency map per image)."""
    was = model.training
    model.eval()
    try:
        xt = cp.Tensor(np.ascontiguousarray(x, np.float32), requires_grad=True)
        out = model(xt)
        if logit:
            onehot = np.zeros(out.shape, np.float32)
            onehot[np.arange(len(y)), y] = 1.0
            (out * cp.Tensor(onehot)).sum().backward()
        else:
            F.cross_entropy(out, cp.Tensor(np.asarray(y, np.int64))).backward()
        assert xt.grad is not None  # xt requires grad and feeds the loss
        return xt.grad.numpy().copy()
    finally:
        model.train(was)


def fgsm(model: Any, x: np.ndarray, y: np.ndarray, eps: float) -> np.ndarray:
    """The fast-gradient-sign attack (Goodfellow et al., 2014): ``clip(x + eps sign(d loss / d x), 0, 1)``."""
    if eps == 0:
        return x.copy()
    g = input_gradient(model, x, y)
    return np.clip(x + np.float32(eps) * np.sign(g), 0.0, 1.0).astype(np.float32)


def accuracy_of(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy (eval mode, no gradients)."""
    return float((predict(model, x).argmax(1) == y).mean())


def image_grid(images: np.ndarray, ncols: int, pad: int = 1, fill: float = 1.0) -> np.ndarray:
    """Tile (N, H, W) or (N, 1, H, W) images into one 2-D array with ``ncols`` columns."""
    ims = np.asarray(images)
    if ims.ndim == 4:
        ims = ims[:, 0]
    n, h, w = ims.shape
    rows = math.ceil(n / ncols)
    grid = np.full((rows * (h + pad) + pad, ncols * (w + pad) + pad), fill, dtype=np.float64)
    for i, im in enumerate(ims):
        r, c = divmod(i, ncols)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = im
    return grid


def entropy_bits(counts: np.ndarray) -> float:
    """Shannon entropy (bits) of a histogram; log2(10) = 3.32 for ten equally frequent classes."""
    p = np.asarray(counts, np.float64)
    p = p[p > 0] / p.sum()
    return float(-(p * np.log2(p)).sum()) if p.size else 0.0
