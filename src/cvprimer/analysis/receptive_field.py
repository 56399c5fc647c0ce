r"""Theoretical receptive field of every tensor of a traced graph (questions 6, 21, 44).

Per spatial axis a tensor carries three numbers, relative to the network input:

* ``size`` r: how many input pixels one unit sees;
* ``jump`` j: the distance in input pixels between two neighbouring units (effective stride);
* ``start`` c0: the input coordinate of the centre of unit 0 (pixel centres at 0, 1, ...).

Unit ``i`` is centred at ``c0 + i j`` and sees ``[c0 + i j - (r-1)/2, c0 + i j + (r-1)/2]``; the
effective padding is ``(r-1)/2 - c0``. For a sliding window (conv, pooling) with kernel k,
stride s, padding p (top/left) and dilation d (Araujo et al., Distill 2019)::

    r' = r + (k - 1) d j        j' = j s        c0' = c0 + ((k - 1) d / 2 - p) j

The size never depends on padding; the position (c0, the effective padding) does: both are shown.
Transposed convolution divides the jump by s; upsampling divides it by the scale factor
(half-pixel centres ``c = (o + 1/2)/scale - 1/2``); pixel shuffle is nearest upsampling of a
rearrangement. Their fields are not the same for every unit of the output period, so the size
shown is the *envelope*: a continuous interval (possibly fractional in length) which, clipped to
whole pixels, holds the pixels a unit reads (exactly so away from the borders, where a unit may
read an intermediate layer's padding; :mod:`.region` gives every unit's exact region).
Global pooling, flattening and fully connected layers make the field
*global*. Statistics over positions (normalization, a squeeze-excitation gate) leave the local
field as it is but set ``context`` (the unit also depends on the whole image through them).

Each op class declares its geometry (``Function.geometry``, the types of :mod:`cvprimer.core.geometry`), and
the geometry owns the arithmetic: its ``field(axis, size, jump, start)`` is the per-axis formula above for its
kind of op, its ``reach`` says whether it maps the first input's field, merges the inputs' fields (pointwise) or
makes the field global. This module only walks the graph, asks each op's geometry and merges paths; it never
reads an op's name. An op that declares none on a tensor with a local field makes the field "unknown" (never a
silent 1 x 1).

Merging paths (addition, concatenation, any element-wise op) takes the union of the inputs'
fields. Paths whose jumps differ cannot be merged unit by unit: the merge is reported, with the
layer where the paths diverged (their last common op), and the field becomes unknown. Paths with
equal jumps but different centres merge (the union) and are reported as misaligned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from cvprimer.analysis.trace import Trace

_EPS = 1e-9


@dataclass(frozen=True)
class RF:
    """Receptive field of one tensor (per axis: (H, W)); ``kind`` is "local", "global" or "unknown"."""

    kind: str = "local"
    size: tuple[float, float] = (1.0, 1.0)
    jump: tuple[float, float] = (1.0, 1.0)
    start: tuple[float, float] = (0.0, 0.0)
    context: bool = False
    note: str = ""

    @property
    def effective_padding(self) -> tuple[float, float]:
        return (self.size[0] - 1) / 2 - self.start[0], (self.size[1] - 1) / 2 - self.start[1]


def declared_geometry(rec: Any) -> Any:
    """The geometry ``rec``'s op class declares for this call (None when it declares none)."""
    return rec.fn.geometry(rec.call)


def _spatial(shape: tuple[int, ...]) -> tuple[int, ...] | None:
    return tuple(shape[-2:]) if len(shape) == 4 else None


class ReceptiveFields:
    """Theoretical receptive fields of every op output of a :class:`Trace`."""

    def __init__(self, tr: Trace) -> None:
        self.trace = tr
        self.states: dict[int, RF] = {}  # id(array) -> RF
        self.op_states: dict[int, RF] = {}  # op index -> RF of its first output
        self.misalignments: list[dict[str, Any]] = []
        self.input_hw = _spatial(tr.input_shape)
        self._run()

    # -- the forward sweep -----------------------------------------------------------------
    def _run(self) -> None:
        tr = self.trace
        if self.input_hw is not None:
            self.states[tr.input_id] = RF()
        for rec in tr.ops:
            ins = []
            for ref, raw in zip(rec.inputs, rec.raw, strict=True):
                if ref.kind in ("activation", "input") and id(raw) in self.states:
                    ins.append((self.states[id(raw)], tuple(raw.shape), ref))
            if not ins:
                continue
            out = self._rule(rec, ins)
            self.op_states[rec.index] = out
            for o in rec.outputs:
                self.states[id(o)] = out

    def _rule(self, rec: Any, ins: list[tuple[RF, tuple[int, ...], Any]]) -> RF:
        """The field of ``rec``'s output from its class's declared geometry (:mod:`cvprimer.core.geometry`):
        a window, transposed window, resampling or crop maps the first activation input's field; a pointwise
        op merges its inputs; an op that declares nothing gets an unknown field."""
        first, fshape = ins[0][0], ins[0][1]
        if first.kind != "local" or len(fshape) != 4:
            return self._merge(rec, ins)
        g = declared_geometry(rec)
        if g is None:
            return RF("unknown", note=f"{rec.name} declares no geometry")
        if g.reach == "merge":
            out = self._merge(rec, ins)
            return replace(out, context=True) if g.context else out
        if g.reach == "global":
            return RF("global", note=g.note or f"{rec.name} mixes all positions")
        if len(rec.outputs[0].shape) != 4:
            return RF("unknown", note=f"{rec.name} declares a spatial geometry but has a "
                                      f"{len(rec.outputs[0].shape)}-D output")
        (r0, j0, c0), (r1, j1, c1) = (g.field(a, first.size[a], first.jump[a], first.start[a]) for a in range(2))
        out = replace(first, size=(r0, r1), jump=(j0, j1), start=(c0, c1), context=first.context or g.context)
        return replace(out, note=g.note) if g.note else out

    def _merge(self, rec: Any, ins: list[tuple[RF, tuple[int, ...], Any]]) -> RF:
        """Union of the inputs' fields for a spatially pointwise op (or global / unknown)."""
        out_shape = tuple(rec.outputs[0].shape)
        osp = _spatial(out_shape)
        full, context = [], False
        for rf, shp, ref in ins:
            sp = _spatial(shp)
            if osp is not None and sp == osp:
                full.append((rf, ref))
            elif sp == (1, 1) or (sp is None and osp is not None and len(shp) < 4 and shp[-2:] != osp):
                context = True  # a broadcast per-channel gate or statistic
            elif osp is None:
                return RF("global", note=f"{rec.name} mixes all positions")
            else:
                return RF("unknown", note=f"{rec.name} changes the spatial size {sp} -> {osp} in a way "
                                          "the receptive-field rules do not know")
        if not full:
            if osp is None:
                return RF("global", note=f"{rec.name} mixes all positions")
            return RF("global", context=True, note="derived from global context only")
        kinds = {rf.kind for rf, _ in full}
        if "unknown" in kinds:
            return next(rf for rf, _ in full if rf.kind == "unknown")
        if "global" in kinds:
            return RF("global", note=next(rf.note for rf, _ in full if rf.kind == "global"))
        base = full[0][0]
        out = base
        for rf, ref in full[1:]:
            if any(abs(rf.jump[a] - base.jump[a]) > _EPS for a in range(2)):
                self._report(rec, full[0][1], ref, f"jumps differ: {base.jump} vs {rf.jump}", True)
                return RF("unknown", note=f"paths with different strides merge at op {rec.name}")
            if any(abs(rf.start[a] - base.start[a]) > _EPS for a in range(2)):
                self._report(rec, full[0][1], ref, f"centres differ: {base.start} vs {rf.start}", False)
            lo = [min(out.start[a] - (out.size[a] - 1) / 2, rf.start[a] - (rf.size[a] - 1) / 2) for a in range(2)]
            hi = [max(out.start[a] + (out.size[a] - 1) / 2, rf.start[a] + (rf.size[a] - 1) / 2) for a in range(2)]
            out = replace(out, size=(hi[0] - lo[0] + 1, hi[1] - lo[1] + 1),
                          start=((hi[0] + lo[0]) / 2, (hi[1] + lo[1]) / 2), context=out.context or rf.context)
        return replace(out, context=out.context or context or any(rf.context for rf, _ in full))

    def _ancestors(self, ref: Any) -> set[int]:
        seen: set[int] = set()
        stack = [ref.producer[0]] if ref.producer else []
        while stack:
            i = stack.pop()
            if i in seen:
                continue
            seen.add(i)
            stack.extend(r.producer[0] for r in self.trace.ops[i].inputs if r.producer)
        return seen

    def _layer(self, op: int | None) -> str:
        if op is None:
            return "the input"
        c = self.trace.ops[op].module_call
        return self.trace.calls[c].name or "(model)" if c >= 0 else "(model)"

    def _report(self, rec: Any, a: Any, b: Any, detail: str, fatal: bool) -> None:
        common = self._ancestors(a) & self._ancestors(b)
        fork = max(common) if common else None
        self.misalignments.append(dict(
            layer=self._layer(rec.index), op=rec.name, op_index=rec.index, fork=self._layer(fork),
            fork_op=None if fork is None else self.trace.ops[fork].name, detail=detail, fatal=fatal))

    # -- queries ---------------------------------------------------------------------------
    def of_array(self, arr_id: int | None) -> RF | None:
        return None if arr_id is None else self.states.get(arr_id)

    def output(self) -> RF | None:
        return self.of_array(self.trace.output_ids[0]) if self.trace.output_ids else None


def input_region(rf: RF, i: int, j: int,
                 image_hw: tuple[int, int] | None = None) -> tuple[tuple[float, float], ...] | None:
    """Input rows and columns seen by output unit (i, j): ((top, bottom), (left, right)),
    inclusive; clipped to the image (and rounded to pixels) when ``image_hw`` is given, and None
    when the unit sees padding only."""
    if rf.kind != "local":
        raise ValueError(f"input_region: the receptive field is {rf.kind} ({rf.note}); no finite region")
    out = []
    for a, u in enumerate((i, j)):
        c = rf.start[a] + u * rf.jump[a]
        lo, hi = c - (rf.size[a] - 1) / 2, c + (rf.size[a] - 1) / 2
        if image_hw is not None:
            lo, hi = max(math.ceil(lo - _EPS), 0), min(math.floor(hi + _EPS), image_hw[a] - 1)
            if lo > hi:
                return None
        out.append((lo, hi))
    return tuple(out)
