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

Before anything allocates on the model's real sizes (the effective receptive field runs a real forward and
backward), :func:`erf_memory_estimate` sizes it from the shape-only trace and :func:`check_fits` refuses it in
one line when it exceeds :func:`available_memory` (``MemAvailable``, a container's cgroup limit, or
``$CVPRIMER_MEMORY_LIMIT`` for tests).
"""

from __future__ import annotations

import os
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


MEMORY_LIMIT_ENV = "CVPRIMER_MEMORY_LIMIT"


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def available_memory() -> int | None:
    """Bytes this process may still allocate: ``MemAvailable`` of ``/proc/meminfo``, lowered to the
    cgroup v2 limit's headroom (``memory.max - memory.current``) inside a container; ``$CVPRIMER_MEMORY_LIMIT``
    (bytes) overrides both (tests, or a user who wants a lower bound). None when nothing can be read."""
    env = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if env:
        if not env.isdigit():
            raise ValueError(f"analyze: ${MEMORY_LIMIT_ENV} must be a number of bytes, got {env!r}")
        return int(env)
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    limit, used = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if limit is not None and used is not None:
        avail = limit - used if avail is None else min(avail, limit - used)
    return avail


def erf_memory_estimate(tr: Trace, totals: dict[str, Any], upto: int | None = None) -> int:
    r"""Bytes one real forward + backward of the effective-receptive-field measurement may need, from the
    shape-only trace: every forward output at once, what backward keeps, 4 x the parameters the ops up to
    op ``upto`` (the measured layer; default: all) use (their gradients, the accumulation's temporaries and
    the lowered weights), the random input drawn in float64 with its float copy and gradient, and the map's
    float64 accumulator::

        forward_bytes + kept_for_backward_bytes + 4 P_path + N_x (8 + 2 itemsize) + 16 H W

    An upper estimate: measured with ``tracemalloc``, the peak of one sample was 0.2-0.9 of it for resnet18,
    resnet20, vgg11, mobilenet_v2 and squeezenet1_0 (inputs 64 to 256 pixels).
    """
    x = tr.keep[0].data
    n_x = int(np.prod(tr.input_shape, dtype=np.int64))
    hw = int(np.prod(tr.input_shape[-2:], dtype=np.int64)) if len(tr.input_shape) >= 2 else n_x
    params: dict[int, int] = {}
    for rec in tr.ops if upto is None else tr.ops[:upto + 1]:
        for a, ref in zip(rec.raw, rec.inputs, strict=True):
            if ref.kind == "param":
                params[id(a)] = int(a.nbytes)
    mem = totals["memory"]
    return int(mem["forward_bytes"] + mem["kept_for_backward_bytes"] + 4 * sum(params.values())
               + n_x * (8 + 2 * x.dtype.itemsize) + 16 * hw)


def check_fits(needed: int, what: str, limit: int | None = None) -> None:
    """Refuse with a one-line ``ValueError`` when ``needed`` bytes exceed the
    memory available (``limit`` or :func:`available_memory`); nothing is refused when it cannot be read."""
    avail = available_memory() if limit is None else limit
    if avail is not None and needed > avail:
        raise ValueError(f"analyze: {what} needs ~{_gib(needed)} GiB, more than the {_gib(avail)} GiB available")


def _gib(n: int) -> str:
    g = n / 2**30
    return f"{g:,.0f}" if g >= 100 else f"{g:.3g}"
