"""Index encodings with ``torch.nn.functional`` names: ``one_hot``."""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.tensor import Tensor


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """PyTorch's ``F.one_hot``: class indices (any shape S, integer dtype) -> int64 of shape S + (num_classes,)
    with ``out[..., k] = 1`` where ``tensor[...] == k`` and 0 elsewhere; ``num_classes=-1`` takes
    ``max(tensor) + 1``. Not differentiable (integer output, like PyTorch's)."""
    idx = tensor.data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expects an integer index tensor, got dtype {idx.dtype} of shape {idx.shape}")
    if not isinstance(num_classes, (int, np.integer)) or isinstance(num_classes, bool) or num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be -1 or a non-negative int, got {num_classes!r}")
    if num_classes == -1:
        if idx.size == 0:
            raise ValueError(f"one_hot: cannot infer num_classes from an empty tensor of shape {idx.shape}; pass it")
        num_classes = int(idx.max()) + 1
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"one_hot: class values must lie in [0, {num_classes}), got values from {int(idx.min())} "
                         f"to {int(idx.max())} (shape {idx.shape})")
    out = np.zeros(idx.shape + (int(num_classes),), np.int64)
    np.put_along_axis(out, idx.astype(np.int64)[..., None], 1, axis=-1)
    return Tensor._wrap(out)
