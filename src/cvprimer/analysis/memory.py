r"""Activation memory of a traced forward: total, peak during inference, kept for backward.

* **forward activations**: bytes of every op output that allocates (views such as reshape,
  permute, expand, basic slicing and split allocate nothing);
* **peak (inference)**: a liveness sweep in execution order: a tensor is alive from the op that
  makes it until its last consumer (a view keeps its base alive); the maximum of the live bytes
  (input included, parameters excluded);
* **kept for backward** (training): the union of the arrays each op's backward needs, by the
  op's own declaration, its class's structured ``saves_for_backward`` (:mod:`cvprimer.core.saves`:
  the arguments and outputs kept, by position, and the fresh arrays with their sizes and dtypes:
  conv its lowered input, linear/matmul their inputs, activations their input or output,
  normalization its normalized input, max pooling its int8 window arg-max, dropout its mask, a
  max/min/var reduction an input-sized array, add / concat / reshape / pooling by averaging
  nothing). Arrays the op received (activations, the model input, constant masks) are counted at
  their size, parameters not (they are in the parameter count). An array kept by two ops is
  counted once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.analysis.trace import Trace
from cvprimer.core.saves import as_saves


def _nbytes(shape: tuple[int, ...], dtype: Any) -> int:
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize


def activation_memory(tr: Trace) -> dict[str, Any]:
    """Forward, peak-inference and kept-for-backward activation bytes, and per-op output bytes."""
    base: dict[int, int] = {}  # id(array) -> id of the array that owns its memory
    size: dict[int, int] = {id(tr.keep[0].data): _nbytes(tr.input_shape, tr.keep[0].data.dtype)}
    base[id(tr.keep[0].data)] = id(tr.keep[0].data)
    born: dict[int, int] = {id(tr.keep[0].data): -1}
    for i, shape in tr.extra_inputs:  # further model inputs are live from the start too
        size[i], base[i], born[i] = _nbytes(shape, tr.keep[0].data.dtype), i, -1
    last_use: dict[int, int] = {}
    per_op: list[int] = []
    forward = 0
    for rec in tr.ops:
        for raw in rec.raw:
            if isinstance(raw, np.ndarray) and id(raw) in base:
                last_use[base[id(raw)]] = rec.index
        view = rec.fn.is_view
        first_in = next((r for r in rec.raw if isinstance(r, np.ndarray) and id(r) in base), None)
        out_bytes = 0
        for o in rec.outputs:
            if view and first_in is not None:
                base[id(o)] = base[id(first_in)]
            else:
                base[id(o)] = id(o)
                size[id(o)] = _nbytes(o.shape, o.dtype)
                born[id(o)] = rec.index
                out_bytes += size[id(o)]
        per_op.append(out_bytes)
        forward += out_bytes
    for oid in tr.output_ids:  # the returned outputs live to the end
        if oid in base:
            last_use[base[oid]] = len(tr.ops)
    # peak: sweep op by op; an array dies after its last use (or right away if never used)
    events = np.zeros(len(tr.ops) + 3, dtype=np.int64)  # slot t = op t - 1 (slot 0: the input)
    for a, b in born.items():
        end = max(last_use.get(a, b), b)
        events[b + 1] += size[a]
        events[end + 2] -= size[a]
    peak = int(np.cumsum(events).max())
    kept: dict[Any, int] = {}
    for rec in tr.ops:
        if not any(r.kind in ("activation", "param", "input") for r in rec.inputs):
            continue
        saves = as_saves(rec.fn.saves_for_backward)  # the op class's own declaration (core.saves)
        for i in saves.input_indices(rec.raw):
            if rec.inputs[i].kind in ("activation", "input", "const"):  # parameters are counted apart
                a = rec.raw[i]
                kept[base.get(id(a), id(a))] = size.get(base.get(id(a), id(a)), int(a.nbytes))
        for j in saves.outputs:
            if j < len(rec.outputs):
                o = rec.outputs[j]
                kept[base[id(o)]] = size.get(base[id(o)], 0)
        for k, e in enumerate(saves.extra):
            if e.lowered:  # a lowered copy stands in for the input: counted once, at the input's size
                a = rec.raw[e.index]
                kept[base.get(id(a), id(a))] = size.get(base.get(id(a), id(a)), int(a.nbytes))
            else:
                kept[("extra", rec.index, k)] = e.nbytes(rec.raw, rec.outputs)
    return dict(forward_bytes=forward, peak_inference_bytes=peak, kept_for_backward_bytes=sum(kept.values()),
                per_op_output_bytes=per_op)
