r"""How an op maps output positions to the input positions it reads: the ops' geometry declarations.

An op class declares its spatial geometry with a static method ``geometry(call)`` (a :class:`~cvprimer.core.call.Call`)
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

Each type also owns the receptive-field arithmetic of :mod:`cvprimer.analysis.receptive_field`:
``field(axis, size, jump, start)`` maps one axis of the field of the op's input (size r, jump j, centre of unit
0 c0, in network-input pixels) to the output's (a window: ``r + (k - 1) d j, j s, c0 + ((k - 1) d / 2 - p) j``),
and ``reach`` says whether that map applies ("map"), the inputs' fields are united position by position
("merge": pointwise) or the field becomes global. Both arithmetics are checked against what the ops compute by
``tests/core/test_geometry_contract.py`` (autograd supports of single units, through single ops and random
stacks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

Pair = tuple[float, float]
Interval = tuple[int, int]
Reads = Callable[[int, int, int], Interval]
Field = tuple[float, float, float]  # (size, jump, start) of a receptive field along one axis


@dataclass(frozen=True)
class _Geometry:
    """Common part: an optional exact row map, a note shown beside the field, and the two arithmetics every
    type states for itself: :meth:`input_rows` (which input rows an output interval reads) and :meth:`field`
    (how one axis of a receptive field grows through the op)."""

    reads: Reads | None = field(default=None, compare=False, repr=False, kw_only=True)
    note: str = field(default="", kw_only=True)

    #: how the output's receptive field follows from the inputs' fields: "map" (:meth:`field` maps the first
    #: activation input's field, axis by axis), "merge" (position o reads position o: the fields of the inputs
    #: of the output's size are united) or "global" (every output reads every input position)
    reach: ClassVar[str] = "map"

    @property
    def context(self) -> bool:
        """Whether every output also depends on every input position through statistics (normalization)."""
        return False

    def input_rows(self, axis: int, lo: int, hi: int) -> Interval:
        """Input rows (inclusive; possibly outside the input: padding) read by output rows ``lo..hi``."""
        if self.reads is not None:
            return self.reads(axis, lo, hi)
        return self._rows(axis, lo, hi)

    def _rows(self, axis: int, lo: int, hi: int) -> Interval:  # pragma: no cover - overridden
        raise NotImplementedError

    def field(self, axis: int, size: float, jump: float, start: float) -> Field:
        """The receptive field of the output along ``axis`` from the input's: ``(size, jump, start)`` in
        network-input pixels (``size`` r pixels seen by one unit, ``jump`` j between neighbouring units,
        ``start`` c0 the centre of unit 0) in, the output's three out."""
        raise NotImplementedError  # pragma: no cover - overridden

    def kernel_text(self) -> str:
        """The sliding window as ``k_hxk_w/s<stride>/p<padding>/d<dilation>`` ("" for no window)."""
        return ""


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

    def field(self, axis: int, size: float, jump: float, start: float) -> Field:
        """``r' = r + (k - 1) d j``, ``j' = j s``, ``c0' = c0 + ((k - 1) d / 2 - p) j`` (Araujo et al., Distill
        2019): unit o's taps are centred at ``o s - p + (k - 1) d / 2`` input units."""
        k, s, p, d = self.kernel[axis], self.stride[axis], self.padding[axis], self.dilation[axis]
        return (size + (k - 1) * d * jump, jump * s, start + ((k - 1) * d / 2 - p) * jump)

    def kernel_text(self) -> str:
        return _window_text(self.kernel, self.stride, self.padding, self.dilation)


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

    def field(self, axis: int, size: float, jump: float, start: float) -> Field:
        """Output o receives the inputs i with ``o = i s - p + t d`` (t < k): all of them lie in the continuous
        interval ``[(o + p - (k - 1) d) / s, (o + p) / s]``, of width ``(k - 1) d / s``, so
        ``r' = r + (k - 1) d j / s``, ``j' = j / s``, ``c0' = c0 + (p - (k - 1) d / 2) j / s`` (an envelope: the
        units of one output period read slightly different inputs)."""
        k, s, p, d = self.kernel[axis], self.stride[axis], self.padding[axis], self.dilation[axis]
        return (size + (k - 1) * d / s * jump, jump / s, start + (p - (k - 1) * d / 2) / s * jump)

    def kernel_text(self) -> str:
        return "T:" + _window_text(self.kernel, self.stride, self.padding, self.dilation)


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

    def field(self, axis: int, size: float, jump: float, start: float) -> Field:
        """Output o reads around the input coordinate ``c = (o + 1/2) / scale - 1/2`` (aligned corners:
        ``o (L_in - 1) / (L_out - 1)``), so ``j' = j / scale`` (or ``j (L_in - 1) / (L_out - 1)``) and
        ``c0' = c0 + (1 / (2 scale) - 1/2) j`` (or ``c0``). The envelope grows by ``(1 - 1/scale) j`` for
        nearest (its one tap ``floor(o / scale)`` is within ``(1 - 1/scale) / 2`` of c), ``2 j`` for linear
        (taps ``floor(c)``, ``floor(c) + 1``) and ``4 j`` for cubic (``floor(c) - 1 .. floor(c) + 2``): clipped to
        whole pixels it holds exactly the pixels read (c not an integer).

        A one-tap resampling by a ratio other than a whole upsampling factor (nearest downsampling, 2 -> 3) has
        no such bound: its taps wander around c by up to a pixel, differently for nearest and nearest-exact.
        There the envelope is measured on the op's own rows (``reads``): with ``e(o)`` the offsets of output o's
        first and last rows from c(o), it spans ``[min e, max e]`` around c."""
        scale = self.scale[axis]
        if self.align_corners and self.lengths and self.lengths[axis][1] > 1:
            step, offset = (self.lengths[axis][0] - 1) / (self.lengths[axis][1] - 1), 0.0
        else:
            step, offset = 1 / scale, 0.5 / scale - 0.5
        if self.taps == 1 and not (scale >= 1 and float(scale).is_integer()) and self.reads and self.lengths:
            lo, hi = self._offsets(axis, step, offset)
            return (size + (hi - lo) * jump, jump * step, start + (offset + (lo + hi) / 2) * jump)
        grow = (1 - 1 / scale) if self.taps == 1 else float(self.taps)
        return (size + max(grow, 0.0) * jump, jump * step, start + offset * jump)

    def _offsets(self, axis: int, step: float, offset: float) -> Pair:
        """The least and largest offset of an output's first and last input rows from its centre
        ``c(o) = o step + offset``, over every output o of ``axis``."""
        assert self.lengths is not None
        rows = [(o, self.input_rows(axis, o, o)) for o in range(self.lengths[axis][1])]
        return (min(r[0] - (o * step + offset) for o, r in rows), max(r[1] - (o * step + offset) for o, r in rows))


@dataclass(frozen=True)
class Crop(_Geometry):
    """Output ``o`` reads input ``start + o step`` (a pad: ``start`` = -width before, ``step`` 1)."""

    start: tuple[int, int] = (0, 0)
    step: tuple[int, int] = (1, 1)

    def _rows(self, axis: int, lo: int, hi: int) -> Interval:
        return (self.start[axis] + lo * self.step[axis], self.start[axis] + hi * self.step[axis])

    def field(self, axis: int, size: float, jump: float, start: float) -> Field:
        """A unit reads one input unit: the size is kept, ``j' = j step``, ``c0' = c0 + start j``."""
        return (size, jump * self.step[axis], start + self.start[axis] * jump)


@dataclass(frozen=True)
class Pointwise(_Geometry):
    """Output position o reads position o of every input of its size; ``context``: and every position
    through statistics (normalization)."""

    context: bool = False  # a field of this type (the property of the others is always False)
    reach: ClassVar[str] = "merge"

    def _rows(self, axis: int, lo: int, hi: int) -> Interval:
        return (lo, hi)

    def field(self, axis: int, size: float, jump: float, start: float) -> Field:
        """Position o reads position o: the field passes unchanged (several inputs: the caller unites them)."""
        return (size, jump, start)


@dataclass(frozen=True)
class Global(_Geometry):
    """Every output reads every input position (global pooling, flatten, reductions over H and W)."""

    reach: ClassVar[str] = "global"

    def _rows(self, axis: int, lo: int, hi: int) -> Interval:  # the whole axis: the caller clips
        return (-(2**62), 2**62)

    def field(self, axis: int, size: float, jump: float, start: float) -> Field:
        """Every unit sees the whole input: an infinite size (the caller reports the field as global)."""
        return (math.inf, math.inf, start)


Geometry = Window | Transposed | Resample | Crop | Pointwise | Global


def _window_text(kernel: Any, stride: Any, padding: Any, dilation: Any) -> str:
    """``k_hxk_w/s<stride>/p<padding>/d<dilation>``, a pair with equal axes written once."""
    def pair(p: Any) -> str:
        a, b = (float(v) for v in p)
        return f"{a:g}" if a == b else f"{a:g}x{b:g}"
    return "x".join(f"{float(v):g}" for v in kernel) + f"/s{pair(stride)}/p{pair(padding)}/d{pair(dilation)}"

POINTWISE = Pointwise()


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
