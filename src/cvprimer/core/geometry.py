r"""How an op maps output positions to the input positions it reads: the ops' geometry declarations.

An op class declares its spatial geometry with a static method ``geometry(raw_inputs, kwargs, out_shapes)``
returning one of the small frozen types below (or None: the op does not say, and the analyzer reports its
receptive field as "unknown"). The receptive-field and input-region analyses read only these types, never an
op's name or its positional arguments. Every pair is per spatial axis (H, W) of an (N, C, H, W) tensor, and
the geometry describes the op's *first* activation input (the others are weights or same-sized operands).

Index arithmetic per axis, output index ``o``, input index ``i``:

* :class:`Window` (conv, pooling, pixel unshuffle): ``o`` reads ``i = o s - p + t d`` for taps ``t < k``;
  output rows ``[lo, hi]`` read ``[lo s - p, hi s - p + (k - 1) d]``.
* :class:`Transposed` (transposed conv, max unpooling; the inverse mapping): input ``i`` reaches the outputs
  ``o = i s - p + t d``, so ``o`` reads the ``i`` with ``(o + p - t d) / s`` an integer for some ``t < k``.
* :class:`Resample` (interpolation, pixel shuffle): ``o`` reads around the input coordinate
  ``c = (o + 1/2) / scale - 1/2`` (or ``o (L_in - 1) / (L_out - 1)`` with aligned corners), ``taps`` samples
  wide (1 nearest, 2 linear, 4 cubic); the exact rows come from the op's own 1-D operator (``reads``).
* :class:`Crop` (padding, slicing): ``o`` reads ``i = start + o step`` (a pad is a crop with a negative start).
* :class:`Pointwise` (elementwise ops, normalization): ``o`` reads ``i = o``; inputs of the same spatial size
  merge, broadcast (1 x 1) inputs are context; ``context`` says the op also depends on every position
  through statistics (normalization over H and W).
* :class:`Global` (global pooling, flattening, reductions over H and W): every output reads every input.

A geometry may carry ``reads(axis, lo, hi) -> (lo, hi)``, the exact input rows of output rows ``lo..hi``
computed from the op's own operator (resampling, adaptive bins); it overrides the formula above.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Pair = tuple[float, float]
Interval = tuple[int, int]
Reads = Callable[[int, int, int], Interval]


@dataclass(frozen=True)
class _Geometry:
    """Common part: an optional exact row map and a note shown beside the field."""

    reads: Reads | None = field(default=None, compare=False, repr=False, kw_only=True)
    note: str = field(default="", kw_only=True)

    def input_rows(self, axis: int, lo: int, hi: int) -> Interval:
        """Input rows (inclusive; possibly outside the input: padding) read by output rows ``lo..hi``."""
        if self.reads is not None:
            return self.reads(axis, lo, hi)
        return self._rows(axis, lo, hi)

    def _rows(self, axis: int, lo: int, hi: int) -> Interval:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True)
class Window(_Geometry):
    """A sliding window: kernel k, stride s (may be fractional for adaptive bins), top/left padding p, dilation d."""

    kernel: Pair
    stride: Pair
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)

    def _rows(self, axis: int, lo: int, hi: int) -> Interval:
        k, s, p, d = self.kernel[axis], self.stride[axis], self.padding[axis], self.dilation[axis]
        return (int(lo * s - p), int(hi * s - p + (k - 1) * d))


@dataclass(frozen=True)
class Transposed(_Geometry):
    """The transpose of a :class:`Window`: input ``i`` is spread to outputs ``i s - p + t d``, ``t < k``."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)

    def _rows(self, axis: int, lo: int, hi: int) -> Interval:
        k, s, p, d = self.kernel[axis], self.stride[axis], self.padding[axis], self.dilation[axis]
        ins = [(o + p - t * d) // s for o in range(lo, hi + 1) for t in range(k) if (o + p - t * d) % s == 0]
        return (min(ins), max(ins)) if ins else (0, -1)


@dataclass(frozen=True)
class Resample(_Geometry):
    """Resampling by ``scale`` = L_out / L_in per axis with ``taps`` samples per output (1, 2 or 4);
    ``lengths`` = ((H_in, H_out), (W_in, W_out)) for aligned corners."""

    scale: Pair
    taps: int = 1
    align_corners: bool = False
    lengths: tuple[tuple[int, int], tuple[int, int]] | None = None

    def _rows(self, axis: int, lo: int, hi: int) -> Interval:
        s = self.scale[axis]
        return (int(np.floor(lo / s)), int(np.floor(hi / s)))  # nearest with an integer factor


@dataclass(frozen=True)
class Crop(_Geometry):
    """Output ``o`` reads input ``start + o step`` (a pad: ``start`` = -width before, ``step`` 1)."""

    start: tuple[int, int] = (0, 0)
    step: tuple[int, int] = (1, 1)

    def _rows(self, axis: int, lo: int, hi: int) -> Interval:
        return (self.start[axis] + lo * self.step[axis], self.start[axis] + hi * self.step[axis])


@dataclass(frozen=True)
class Pointwise(_Geometry):
    """Output position o reads position o of every input of its size; ``context``: and every position
    through statistics (normalization)."""

    context: bool = False

    def _rows(self, axis: int, lo: int, hi: int) -> Interval:
        return (lo, hi)


@dataclass(frozen=True)
class Global(_Geometry):
    """Every output reads every input position (global pooling, flatten, reductions over H and W)."""

    def _rows(self, axis: int, lo: int, hi: int) -> Interval:  # the whole axis: the caller clips
        return (-(2**62), 2**62)


Geometry = Window | Transposed | Resample | Crop | Pointwise | Global

POINTWISE = Pointwise()


def pointwise(raw_inputs: Any, kwargs: Any, out_shapes: Any) -> Pointwise:
    """``geometry`` of an elementwise op (every output position reads the same position of its inputs)."""
    return POINTWISE


def spatial_kept(raw_inputs: Any, kwargs: Any, out_shapes: Any) -> Pointwise | Global:
    """``geometry`` of an op that keeps H and W (pointwise) or folds them away (global): a reduction, softmax,
    a reshape. Pointwise when the output is 4-D with the first input's (H, W), else global."""
    x = next((a for a in raw_inputs if isinstance(a, np.ndarray)), None)
    out = tuple(out_shapes[0])
    if x is not None and x.ndim == 4 and len(out) == 4 and out[-2:] == x.shape[-2:]:
        return POINTWISE
    return Global()


def axis_rows(matrix_of: Callable[[int], np.ndarray]) -> Reads:
    """``reads`` from a per-axis 1-D operator ``A`` (L_out, L_in): output rows ``lo..hi`` read the input
    columns where those rows of ``A`` are non-zero (zero weights read nothing)."""
    def reads(axis: int, lo: int, hi: int) -> Interval:
        A = matrix_of(axis)
        cols = np.nonzero(np.abs(A[lo:hi + 1]).sum(axis=0))[0]
        return (int(cols.min()), int(cols.max())) if cols.size else (0, -1)
    return reads


def along(x: Any, dim: Any, otherwise: Geometry | None) -> Geometry | None:
    """``geometry`` of an op acting along axis ``dim`` of ``x`` (softmax, concat, split, ...): pointwise when
    ``dim`` is N or C of an (N, C, H, W) ``x`` (H and W untouched), else ``otherwise`` (Global for an op that
    mixes along the axis, None when the mapping is not a window the analyses describe)."""
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        return Global()
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    if all(isinstance(d, (int, np.integer)) and int(d) % 4 in (0, 1) for d in dims):
        return POINTWISE
    return otherwise
