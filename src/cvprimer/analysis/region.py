r"""Exact input region of any output unit, by propagating index intervals backwards (question 21).

The (size, jump, start) description of :mod:`.receptive_field` is the same for every unit only
for sliding windows; after upsampling or a transposed convolution neighbouring units see
slightly different windows. :func:`unit_region` therefore walks the traced graph backwards from
one unit, mapping the interval of rows (and of columns) each op reads, op by op, to the model
input, and takes the union where paths merge. Every rule is the op's own index arithmetic, read from the
geometry its class declares (:mod:`cvprimer.core.geometry`; no op is named here):

* sliding windows (conv, pooling): rows ``[lo s - p, hi s - p + (k-1) d]``;
* transposed conv: the inputs ``i`` with ``o = i s - p + t d`` for some tap ``t`` (enumerated);
* nearest / bilinear resampling and adaptive pooling: the non-zero columns of the op's own 1-D
  operator (``nearest_index``, ``linear_matrix``, PyTorch's bins), so zero weights are not counted;
* pixel shuffle ``floor(o / r)``, unshuffle ``[lo r, hi r + r - 1]``, pad (a shift; in reflect, replicate
  and circular modes the rows the padding copies), strided slicing (``start + o step``);
* element-wise ops pass the interval through (a broadcast 1 x 1 input gets its only row);
  anything that mixes all positions (global pooling, flatten + linear) reads the whole range, and so
  does an op that declares no geometry (a superset, never a guess).

Intervals are clipped to each tensor's extent (padding reads no input pixel).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.analysis.receptive_field import declared_geometry
from cvprimer.analysis.trace import Trace

Interval = tuple[int, int]


def _clip(iv: Interval, n: int) -> Interval | None:
    lo, hi = max(iv[0], 0), min(iv[1], n - 1)
    return (lo, hi) if lo <= hi else None


def _backward_rule(rec: Any, ivs: tuple[Interval, Interval],
                   in_hw: tuple[int, int]) -> tuple[Interval, Interval] | None | str:
    """Rows/columns of the first input read by output rows/columns ``ivs``, from the op's declared geometry:
    None for a pointwise op (pass-through), "all" for a global one or one that declares nothing (the
    conservative answer: the whole input)."""
    g = declared_geometry(rec)
    if g is None or g.reach == "global":
        return "all"
    if g.reach == "merge":
        return None
    return tuple(g.input_rows(a, iv[0], iv[1]) for a, iv in enumerate(ivs))


def unit_region(tr: Trace, i: int, j: int, op_index: int | None = None) -> tuple[Interval, Interval] | None:
    """Input rows and columns ((top, bottom), (left, right)), inclusive, that output unit (i, j)
    of op ``op_index`` (default: the last op with a 4-D output) depends on; None if none."""
    if op_index is None:
        op_index = max(r.index for r in tr.ops if r.outputs[0].ndim == 4)
    target = tr.ops[op_index].outputs[0]
    if target.ndim != 4:
        raise ValueError(f"unit_region: op {tr.ops[op_index].name} has a {target.ndim}-D output; need (N, C, H, W)")
    regions: dict[int, Any] = {id(target): ((i, i), (j, j))}  # id(array) -> intervals or "all"
    for rec in reversed(tr.ops[:op_index + 1]):
        outs = [regions[id(o)] for o in rec.outputs if id(o) in regions]
        if not outs:
            continue
        whole = any(o == "all" for o in outs)
        # ((top, bottom), (left, right)) of the outputs' region; None when one needs the whole map
        ivs: Any = None if whole else tuple((min(o[a][0] for o in outs), max(o[a][1] for o in outs)) for a in range(2))
        first = next((k for k, ref in enumerate(rec.inputs) if ref.kind in ("activation", "input")), 0)
        for k, (ref, a) in enumerate(zip(rec.inputs, rec.raw, strict=True)):
            if ref.kind not in ("activation", "input"):
                continue
            if a.ndim != 4:
                regions[id(a)] = "all"
                continue
            full = ((0, a.shape[2] - 1), (0, a.shape[3] - 1))
            got: Any  # intervals ((top, bottom), (left, right)), "all" or None
            if whole:
                got = full
            else:
                # the geometry describes the first activation input and any other of its spatial size
                # (max unpooling's indices are read where its values are)
                same = k == first or a.shape[-2:] == np.shape(rec.raw[first])[-2:]
                got = _backward_rule(rec, ivs, a.shape[-2:]) if same else None
                if got == "all":
                    got = full
                elif got is None:
                    if rec.outputs[0].ndim == 4 and a.shape[-2:] == rec.outputs[0].shape[-2:]:
                        got = ivs
                    elif a.shape[-2:] == (1, 1):
                        got = ((0, 0), (0, 0))
                    else:
                        got = full
            rows, cols = _clip(got[0], a.shape[2]), _clip(got[1], a.shape[3])
            if rows is None or cols is None:
                continue
            clipped = (rows, cols)
            old = regions.get(id(a))
            if old == "all":
                continue
            regions[id(a)] = tuple(clipped) if old is None else tuple(
                (min(old[ax][0], clipped[ax][0]), max(old[ax][1], clipped[ax][1])) for ax in range(2))
    got = regions.get(tr.input_id)
    if got == "all":
        return ((0, tr.input_shape[2] - 1), (0, tr.input_shape[3] - 1))
    return got
