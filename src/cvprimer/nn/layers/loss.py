r"""Loss modules (``torch.nn``'s names and constructor arguments): thin wrappers that store the
options and call the functional loss in :mod:`cvprimer.functional.loss`, which does all the math.

``criterion = nn.CrossEntropyLoss(label_smoothing=0.1); loss = criterion(logits, target)`` is
``F.cross_entropy(logits, target, label_smoothing=0.1)``. Class weights (``weight``, ``pos_weight``)
are registered as buffers, as in PyTorch, so they follow ``to(dtype)`` and appear in ``state_dict``.

PyTorch's deprecated ``size_average`` / ``reduce`` arguments are accepted in their positions and
mapped to ``reduction`` the way PyTorch maps them (``reduce=False`` -> 'none'; else
``size_average=False`` -> 'sum'; else 'mean').

Differences from PyTorch: the focal losses (:class:`SigmoidFocalLoss`, :class:`SoftmaxFocalLoss`)
have no ``torch.nn`` module (torchvision has the sigmoid one as a function only);
:class:`MultiMarginLoss` and :class:`CosineEmbeddingLoss` take the same arguments as PyTorch's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.tensor import Tensor
from cvprimer.functional.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_embedding_loss,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    multi_margin_loss,
    nll_loss,
    sigmoid_focal_loss,
    smooth_l1_loss,
    softmax_focal_loss,
)
from cvprimer.nn.module import Module


def _legacy_reduction(name: str, size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's mapping of the deprecated ``size_average``/``reduce`` pair onto ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    for flag, v in (("size_average", size_average), ("reduce", reduce)):
        if v is not None and not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{name}: {flag} must be a bool or None, got {v!r}")
    if reduce is False:
        return "none"
    return "sum" if size_average is False else "mean"


class _Loss(Module):
    """Base: holds ``reduction`` (checked by the functional op on each call)."""

    _reductions: tuple[str, ...] = ("none", "mean", "sum")

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        name = type(self).__name__
        reduction = _legacy_reduction(name, size_average, reduce, reduction)
        if reduction not in self._reductions:
            raise ValueError(f"{name}: reduction must be one of {self._reductions}, got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class _WeightedLoss(_Loss):
    """Base of the losses with a per-class ``weight`` (a buffer, None allowed)."""

    def __init__(self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _as_buffer(type(self).__name__, "weight", weight))


def _as_buffer(name: str, what: str, w: Any) -> Tensor | None:
    if w is None:
        return None
    arr = w.data if isinstance(w, Tensor) else np.asarray(w)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name}: {what} must be a numeric array or Tensor, got dtype {arr.dtype}")
    return Tensor(arr.astype(np.float32) if arr.dtype.kind in "iu" else arr.copy())


class L1Loss(_Loss):
    r"""Mean absolute error ``|x - y|`` (:func:`~cvprimer.functional.l1_loss`). Shape: input and
    target the same shape; output a scalar, or the input's shape with ``reduction='none'``."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    r"""Squared error ``(x - y)^2`` (:func:`~cvprimer.functional.mse_loss`); shapes as :class:`L1Loss`."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    r"""``0.5 d^2 / beta`` for ``|d| < beta``, else ``|d| - 0.5 beta`` with ``d = x - y``
    (:func:`~cvprimer.functional.smooth_l1_loss`); shapes as :class:`L1Loss`."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = float(beta)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    r"""``0.5 d^2`` for ``|d| <= delta``, else ``delta (|d| - 0.5 delta)``
    (:func:`~cvprimer.functional.huber_loss`); shapes as :class:`L1Loss`."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = float(delta)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class CrossEntropyLoss(_WeightedLoss):
    r"""``-sum_c w_c q_c log softmax(x)_c`` over logits (:func:`~cvprimer.functional.cross_entropy`).

    Shape: input (C,), (N, C) or (N, C, d1, ...); target class indices (N, d1, ...) of an integer dtype,
    or class probabilities of the input's shape. ``weight`` (C,), ``ignore_index`` and
    ``label_smoothing`` as in PyTorch.
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                             reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    r"""``-w_y x_y`` on log-probabilities (:func:`~cvprimer.functional.nll_loss`); shapes as
    :class:`CrossEntropyLoss` with class-index targets."""

    def __init__(self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = int(ignore_index)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    r"""``-w [y log p + (1 - y) log(1 - p)]`` on probabilities
    (:func:`~cvprimer.functional.binary_cross_entropy`); input and target the same shape, ``weight``
    broadcastable to it."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    r"""``-w [p_w y log sigma(x) + (1 - y) log(1 - sigma(x))]`` on logits, computed stably
    (:func:`~cvprimer.functional.binary_cross_entropy_with_logits`); ``pos_weight`` broadcasts along the
    last (class) axis as in PyTorch."""

    def __init__(self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _as_buffer("BCEWithLogitsLoss", "weight", weight))
        self.register_buffer("pos_weight", _as_buffer("BCEWithLogitsLoss", "pos_weight", pos_weight))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    r"""``y (log y - x)`` pointwise with ``x = log q`` (:func:`~cvprimer.functional.kl_div`);
    ``reduction='batchmean'`` is the true KL divergence per sample; ``log_target=True`` takes ``log y``."""

    _reductions = ("none", "mean", "sum", "batchmean")

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = bool(log_target)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class MultiMarginLoss(_WeightedLoss):
    r"""Multi-class hinge ``sum_{i != y} w_y max(0, margin - x_y + x_i)^p / C``
    (:func:`~cvprimer.functional.multi_margin_loss`); input (N, C) or (C,), target (N,) or ()."""

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Any = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: p must be 1 or 2, got {p!r}")
        self.p, self.margin = int(p), float(margin)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                 reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    r"""``1 - cos(x1, x2)`` for target 1, ``max(0, cos(x1, x2) - margin)`` for target -1
    (:func:`~cvprimer.functional.cosine_embedding_loss`); inputs (N, D) or (D,), target (N,) or ()."""

    def __init__(self, margin: float = 0.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = float(margin)

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class SigmoidFocalLoss(_Loss):
    r"""RetinaNet's focal loss on logits, ``-alpha_t (1 - p_t)^gamma log p_t`` elementwise
    (:func:`~cvprimer.functional.sigmoid_focal_loss`); ``alpha`` a scalar, a (C,) vector or None."""

    def __init__(self, alpha: Any = None, gamma: float = 2.0, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        if gamma < 0:
            raise ValueError(f"SigmoidFocalLoss: gamma must be >= 0, got {gamma}")
        self.alpha, self.gamma = alpha, float(gamma)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return sigmoid_focal_loss(input, target, alpha=self.alpha, gamma=self.gamma, reduction=self.reduction)


class SoftmaxFocalLoss(_Loss):
    r"""Multi-class focal loss ``-alpha_y (1 - p_y)^gamma log p_y`` over softmax probabilities
    (:func:`~cvprimer.functional.softmax_focal_loss`); shapes as :class:`CrossEntropyLoss`;
    ``gamma=0`` without ``alpha`` is cross-entropy."""

    def __init__(self, alpha: Any = None, gamma: float = 2.0, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        if gamma < 0:
            raise ValueError(f"SoftmaxFocalLoss: gamma must be >= 0, got {gamma}")
        self.alpha, self.gamma, self.ignore_index = alpha, float(gamma), int(ignore_index)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return softmax_focal_loss(input, target, alpha=self.alpha, gamma=self.gamma, ignore_index=self.ignore_index,
                                  reduction=self.reduction)


LOSSES = (L1Loss, MSELoss, SmoothL1Loss, HuberLoss, CrossEntropyLoss, NLLLoss, BCELoss, BCEWithLogitsLoss,
          KLDivLoss, MultiMarginLoss, CosineEmbeddingLoss, SigmoidFocalLoss, SoftmaxFocalLoss)
