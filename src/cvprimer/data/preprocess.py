r"""Normalization fitted on the training data only: ``Scaler(...).fit(train) -> FittedTransform``.

The fitted object is frozen: its statistics are read-only arrays in a frozen dataclass, and it has
``transform``/``__call__`` and ``inverse`` but *no* ``fit``, so validation or test data can only ever be
transformed with training statistics, never used to refit them. ``fit`` also refuses a validation or
test :class:`~cvprimer.data.split.Split` (a :class:`TrainSplit` or a plain array is accepted).

Maps (``a, b`` the target range, statistics over all axes, or over all but axis 1 when
``per_channel=True``):

==================  ===========================================  ==============================
scaler              forward ``y = f(x)``                          inverse
==================  ===========================================  ==============================
MinMaxScaler        ``a + (b - a)(x - lo)/(hi - lo)``             ``lo + (y - a)(hi - lo)/(b - a)``
  ``data_range``    ``lo, hi`` given (e.g. 0..255), not fitted
Standardizer        ``(x - mean) / (std + eps)``                  ``y (std + eps) + mean``
Centerer            ``x - mean``                                  ``y + mean``
Log1p               ``log(1 + x)``                                ``exp(y) - 1``
ExpSquash           ``1 - exp(-x / s)``                           ``-s log(1 - y)``
ArctanSquash        ``(2 / pi) arctan(x / s)``                    ``s tan(pi y / 2)``
TanhSquash          ``tanh(x / s)``                               ``s artanh(y)``
==================  ===========================================  ==============================

The squashes take ``scale=s`` as a number or ``"std"``: the training data's standard deviation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cvprimer.data.split import Split, TrainSplit


def _training_array(data: Any, name: str) -> np.ndarray:
    if isinstance(data, Split) and not isinstance(data, TrainSplit):
        raise TypeError(f"{name}.fit: got a validation/test Split; statistics must be fitted on the training "
                        f"split only (pass splits.train)")
    x = data.images if isinstance(data, TrainSplit) else data
    if not isinstance(x, np.ndarray) or x.size == 0 or not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"{name}.fit: expected a non-empty numeric ndarray or TrainSplit, got "
                        f"{getattr(x, 'shape', type(x).__name__)}")
    return x.astype(np.float64)


def _axes(x: np.ndarray, per_channel: bool, name: str) -> tuple[int, ...] | None:
    if not per_channel:
        return None
    if x.ndim < 2:
        raise ValueError(f"{name}.fit: per_channel=True needs data of rank >= 2 (N, C, ...), got {x.shape}")
    return tuple(i for i in range(x.ndim) if i != 1)


def _frozen(a: Any) -> np.ndarray:
    arr = np.array(a, dtype=np.float64)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class FittedTransform:
    """A fitted, immutable map with ``transform`` and ``inverse``; ``stats`` holds its read-only statistics."""

    name: str
    stats: dict[str, np.ndarray]
    forward_fn: Callable[[np.ndarray, dict[str, np.ndarray]], np.ndarray] = field(repr=False)
    inverse_fn: Callable[[np.ndarray, dict[str, np.ndarray]], np.ndarray] = field(repr=False)

    def _check(self, x: Any) -> np.ndarray:
        if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.number):
            raise TypeError(f"{self.name}: expected a numeric ndarray, got {type(x).__name__}")
        for k, v in self.stats.items():
            if v.ndim and (v.ndim != x.ndim or v.shape[1] != x.shape[1]):
                raise ValueError(f"{self.name}: statistic {k!r} has shape {v.shape} (fitted per channel); "
                                 f"cannot apply it to data of shape {x.shape}")
        return x

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = self._check(x)
        out_dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
        return self.forward_fn(x.astype(np.float64), self.stats).astype(out_dtype)

    __call__ = transform

    def inverse(self, y: np.ndarray) -> np.ndarray:
        y = self._check(y)
        out_dtype = y.dtype if np.issubdtype(y.dtype, np.floating) else np.float32
        return self.inverse_fn(y.astype(np.float64), self.stats).astype(out_dtype)


class MinMaxScaler:
    """Map ``[lo, hi]`` (fitted, or ``data_range`` given) linearly onto ``feature_range``."""

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0), per_channel: bool = False,
                 data_range: tuple[float, float] | None = None) -> None:
        if len(feature_range) != 2 or not feature_range[0] < feature_range[1]:
            raise ValueError(f"MinMaxScaler: feature_range must be (a, b) with a < b, got {feature_range}")
        if data_range is not None and (len(data_range) != 2 or not data_range[0] < data_range[1]):
            raise ValueError(f"MinMaxScaler: data_range must be (lo, hi) with lo < hi, got {data_range}")
        if data_range is not None and per_channel:
            raise ValueError("MinMaxScaler: data_range is one constant range; per_channel must be False")
        self.feature_range, self.per_channel, self.data_range = feature_range, per_channel, data_range

    def fit(self, train: Any) -> FittedTransform:
        x = _training_array(train, "MinMaxScaler")
        if self.data_range is not None:
            lo, hi = self.data_range
        else:
            ax = _axes(x, self.per_channel, "MinMaxScaler")
            lo, hi = x.min(axis=ax, keepdims=ax is not None), x.max(axis=ax, keepdims=ax is not None)
        span = np.asarray(hi, dtype=np.float64) - lo
        stats = {"lo": _frozen(lo), "span": _frozen(np.where(span > 0, span, 1.0)),
                 "a": _frozen(self.feature_range[0]), "width": _frozen(self.feature_range[1] - self.feature_range[0])}
        return FittedTransform("MinMaxScaler", stats,
                               lambda v, s: s["a"] + s["width"] * (v - s["lo"]) / s["span"],
                               lambda v, s: s["lo"] + (v - s["a"]) * s["span"] / s["width"])


class Standardizer:
    """Z-score: subtract the training mean, divide by the training std (+ eps), globally or per channel."""

    def __init__(self, per_channel: bool = False, eps: float = 1e-8) -> None:
        self.per_channel, self.eps = per_channel, float(eps)

    def fit(self, train: Any) -> FittedTransform:
        x = _training_array(train, "Standardizer")
        ax = _axes(x, self.per_channel, "Standardizer")
        stats = {"mean": _frozen(x.mean(axis=ax, keepdims=ax is not None)),
                 "scale": _frozen(x.std(axis=ax, keepdims=ax is not None) + self.eps)}
        return FittedTransform("Standardizer", stats, lambda v, s: (v - s["mean"]) / s["scale"],
                               lambda v, s: v * s["scale"] + s["mean"])


class Centerer:
    """Zero-centring: subtract the training mean (globally or per channel)."""

    def __init__(self, per_channel: bool = False) -> None:
        self.per_channel = per_channel

    def fit(self, train: Any) -> FittedTransform:
        x = _training_array(train, "Centerer")
        ax = _axes(x, self.per_channel, "Centerer")
        stats = {"mean": _frozen(x.mean(axis=ax, keepdims=ax is not None))}
        return FittedTransform("Centerer", stats, lambda v, s: v - s["mean"], lambda v, s: v + s["mean"])


class _Squash:
    forward: Callable[..., Any]  # a NumPy ufunc (np.log1p, ...)
    backward: Callable[..., Any]

    def __init__(self, scale: float | str = 1.0) -> None:
        if not (scale == "std" or (isinstance(scale, (int, float)) and scale > 0)):
            raise ValueError(f"{type(self).__name__}: scale must be a positive number or 'std', got {scale!r}")
        self.scale = scale

    def fit(self, train: Any) -> FittedTransform:
        name = type(self).__name__
        x = _training_array(train, name)
        s = x.std() if self.scale == "std" else float(self.scale)
        if s <= 0:
            raise ValueError(f"{name}.fit: the training data is constant, so scale='std' would be 0")
        f, g = type(self).forward, type(self).backward
        return FittedTransform(name, {"scale": _frozen(s)}, lambda v, st: f(v / st["scale"]),
                               lambda v, st: g(v) * st["scale"])


class Log1p(_Squash):
    """``log(1 + x / s)`` for ``x > -s``; inverse ``s (exp(y) - 1)``. The default ``s = 1`` is plain log1p."""

    forward, backward = staticmethod(np.log1p), staticmethod(np.expm1)


class ExpSquash(_Squash):
    """``1 - exp(-x / s)``, squashing [0, inf) onto [0, 1); inverse ``-s log(1 - y)``."""

    forward = staticmethod(lambda v: -np.expm1(-v))
    backward = staticmethod(lambda v: -np.log1p(-v))


class ArctanSquash(_Squash):
    """``(2 / pi) arctan(x / s)`` onto (-1, 1); inverse ``s tan(pi y / 2)``."""

    forward = staticmethod(lambda v: np.arctan(v) * (2.0 / np.pi))
    backward = staticmethod(lambda v: np.tan(v * (np.pi / 2.0)))


class TanhSquash(_Squash):
    """``tanh(x / s)`` onto (-1, 1); inverse ``s artanh(y)``."""

    forward, backward = staticmethod(np.tanh), staticmethod(np.arctanh)
