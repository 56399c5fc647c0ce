r"""Exact input region of any output unit, by propagating index intervals backwards (question 21).

The (size, jump, start) description of :mod:`.receptive_field` is the same for every unit only
for sliding windows; after upsampling or a transposed convolution neighbouring units see
slightly different windows. :func:`unit_region` therefore walks the traced graph backwards from
one unit, mapping the interval of rows (and of columns) each op reads, op by op, to the model
input, and takes the union where paths merge. Every rule is the op's own index arithmetic:

* sliding windows (conv, pooling): rows ``[lo s - p, hi s - p + (k-1) d]``;
* transposed conv: the inputs ``i`` with ``o = i s - p + t d`` for some tap ``t`` (enumerated);
* nearest / bilinear resampling and adaptive pooling: the non-zero columns of the op's own 1-D
  operator (``nearest_index``, ``linear_matrix``, PyTorch's bins), so zero weights are not counted;
* pixel shuffle ``floor(o / r)``, unshuffle ``[lo r, hi r + r - 1]``, pad (a shift), strided
  slicing (``start + o step``);
* element-wise ops pass the interval through (a broadcast 1 x 1 input gets its only row);
  anything that mixes all positions (global pooling, flatten + linear) reads the whole range.

Intervals are clipped to each tensor's extent (padding reads no input pixel).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.analysis.trace import Trace
from cvprimer.functional.sampling._separable import adaptive_avg_matrix, linear_matrix, nearest_index

Interval = tuple[int, int]


def _clip(iv: Interval, n: int) -> Interval | None:
    lo, hi = max(iv[0], 0), min(iv[1], n - 1)
    return (lo, hi) if lo <= hi else None


def _rows_of(A: np.ndarray, iv: Interval) -> Interval:
    cols = np.nonzero(np.abs(A[iv[0]:iv[1] + 1]).sum(axis=0))[0]
    return (int(cols.min()), int(cols.max())) if cols.size else (0, -1)


def _transposed(iv: Interval, k: int, s: int, p: int, d: int) -> Interval:
    ins = [(o + p - t * d) // s for o in range(iv[0], iv[1] + 1) for t in range(k) if (o + p - t * d) % s == 0]
    return (min(ins), max(ins)) if ins else (0, -1)


def _backward_rule(rec: Any, ivs: tuple[Interval, Interval],
                   in_hw: tuple[int, int]) -> tuple[Interval, Interval] | None:
    """Rows/columns of the first input read by output rows/columns ``ivs`` (None: pass-through)."""
    name, raw = rec.fn.__name__, rec.raw
    H, W = in_hw
    if name in ("Conv2dFn", "MaxPool2dFn", "AvgPool2dFn"):
        if name == "Conv2dFn":
            g = raw[3]
            k, s, d, p = g.k, g.s, g.d, (g.pads[0], g.pads[2])
        else:
            g = raw[1]
            k, s, p, d = g["k"], g["s"], g["p"], g.get("d", (1, 1))
        return tuple((iv[0] * s[a] - p[a], iv[1] * s[a] - p[a] + (k[a] - 1) * d[a]) for a, iv in enumerate(ivs))
    if name == "ConvTranspose2dFn":
        g = raw[3]
        return tuple(_transposed(iv, g.k[a], g.s[a], g.pads[2 * a], g.d[a]) for a, iv in enumerate(ivs))
    if name == "InterpolateFn":
        mode, out, scales, align = raw[1], raw[2], raw[3], bool(raw[4])
        res = []
        for a, (n_in, iv) in enumerate(zip((H, W), ivs, strict=True)):
            if mode == "nearest":
                idx = nearest_index(n_in, out[a], scales[a])[iv[0]:iv[1] + 1]
                res.append((int(idx.min()), int(idx.max())))
            else:
                res.append(_rows_of(linear_matrix(n_in, out[a], align, scales[a], np.dtype(np.float64)), iv))
        return tuple(res)
    if name == "AdaptiveAvgPool2dFn":
        out = raw[1]
        return tuple(_rows_of(adaptive_avg_matrix(n, out[a], np.dtype(np.float64)), iv)
                     for a, (n, iv) in enumerate(zip((H, W), ivs, strict=True)))
    if name in ("GlobalAvgPool2dFn", "GlobalMaxPool2dFn"):
        return ((0, H - 1), (0, W - 1))
    if name == "PixelShuffleFn":
        r = raw[1]
        return tuple((iv[0] // r, iv[1] // r) for iv in ivs)
    if name == "PixelUnshuffleFn":
        r = raw[1]
        return tuple((iv[0] * r, iv[1] * r + r - 1) for iv in ivs)
    if name == "PadFn":
        pad = list(raw[1]) + [0] * 4
        return ((ivs[0][0] - pad[2], ivs[0][1] - pad[2]), (ivs[1][0] - pad[0], ivs[1][1] - pad[0]))
    if name == "GetItemFn":
        idx = raw[1] if isinstance(raw[1], tuple) else (raw[1],)
        if len(idx) == 4 and all(isinstance(t, slice) for t in idx):
            res = []
            for a, (sl, n) in enumerate(zip(idx[2:], (H, W), strict=True)):
                start, _, step = sl.indices(n)
                if step < 1:
                    return ((0, H - 1), (0, W - 1))
                res.append((start + ivs[a][0] * step, start + ivs[a][1] * step))
            return tuple(res)
        return ((0, H - 1), (0, W - 1))
    return None


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
        ivs = None if whole else tuple((min(o[a][0] for o in outs), max(o[a][1] for o in outs)) for a in range(2))
        for k, (ref, a) in enumerate(zip(rec.inputs, rec.raw, strict=True)):
            if ref.kind not in ("activation", "input"):
                continue
            if a.ndim != 4:
                regions[id(a)] = "all"
                continue
            full = ((0, a.shape[2] - 1), (0, a.shape[3] - 1))
            if whole:
                got = full
            else:
                got = _backward_rule(rec, ivs, a.shape[-2:]) if k == 0 else None
                if got is None:
                    if rec.outputs[0].ndim == 4 and a.shape[-2:] == rec.outputs[0].shape[-2:]:
                        got = ivs
                    elif a.shape[-2:] == (1, 1):
                        got = ((0, 0), (0, 0))
                    else:
                        got = full
            clipped = [_clip(got[ax], a.shape[2 + ax]) for ax in range(2)]
            if None in clipped:
                continue
            old = regions.get(id(a))
            if old == "all":
                continue
            regions[id(a)] = tuple(clipped) if old is None else tuple(
                (min(old[ax][0], clipped[ax][0]), max(old[ax][1], clipped[ax][1])) for ax in range(2))
    got = regions.get(tr.input_id)
    if got == "all":
        return ((0, tr.input_shape[2] - 1), (0, tr.input_shape[3] - 1))
    return got
