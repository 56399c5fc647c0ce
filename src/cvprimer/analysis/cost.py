r"""Per-op cost from each op's own ``cost`` formula; parameter counts; the counting conventions.

MACs and FLOPs are kept apart:

* ``macs``: multiply-accumulates of the GEMM-like ops only (conv2d, conv_transpose2d, linear,
  matmul, attention's two products: the op classes with ``is_gemm``). One MAC = one multiply + one add.
* ``flops``: every other floating-point operation, in FLOPs: normalization, activations,
  pooling, element-wise adds, softmax, bias additions. An op formula that reports "macs" for a
  non-GEMM op (e.g. eval batch norm's one multiply-add per element) is converted at 2 FLOPs
  per MAC, so a normalization can never inflate the MAC total.

Conventions for a single headline number (question 12):

* ``"torchvision"``: torchvision's "GFLOPS" column, which is really the GMACs of conv and
  matmul/linear (no normalization, activation, pooling or adds);
* ``"macs"``: the same multiply-accumulates, labelled honestly as MACs;
* ``"flops"``: ``2 x MACs + other FLOPs`` (a multiply-add is two FLOPs).

Backward estimate: a GEMM op's backward needs one product of the same size per gradient it
produces (the input gradient unless the input is the model input, and the weight gradient), so
about 2x its forward MACs; other ops are taken at 1x their forward FLOPs when any of their
inputs carries a gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cvprimer.analysis.trace import OpRecord
from cvprimer.core.cost import Cost

CONVENTIONS = ("torchvision", "macs", "flops")


@dataclass
class OpCost:
    """One traced op's work in the analyzer's convention: the op's :class:`~cvprimer.core.cost.Cost` with a
    non-GEMM op's MACs moved into ``flops`` (2 each), whether it was ``counted`` (it has a ``cost``), whether it
    is a ``gemm``, and the backward estimate ``bwd_macs`` / ``bwd_flops`` (see the module docstring)."""

    macs: int = 0
    flops: int = 0
    bytes: int = 0
    counted: bool = True
    gemm: bool = False
    bwd_macs: int = 0
    bwd_flops: int = 0


def op_cost(rec: OpRecord) -> OpCost:
    """The cost of one traced op from its class's ``cost(call)`` (``counted=False`` when it has none)."""
    fn = rec.fn
    if fn.cost is None:
        return OpCost(counted=False)
    c = fn.cost(rec.call)
    if not isinstance(c, Cost):
        raise TypeError(f"{fn.__qualname__}.cost returned {type(c).__name__}, expected a cvprimer.core.cost.Cost")
    macs, flops, nbytes = c.macs, c.flops, c.bytes
    gemm = fn.is_gemm
    if not gemm:
        flops, macs = flops + 2 * macs, 0
    grads_in = [r for r in rec.inputs if r.kind in ("activation", "param")]
    if gemm:
        n_grads = sum(1 for r in rec.inputs[:2] if r.kind in ("activation", "param"))
        bwd_macs, bwd_flops = macs * n_grads, flops
    else:
        bwd_macs, bwd_flops = 0, (flops if grads_in else 0)
    return OpCost(macs, flops, nbytes, True, gemm, bwd_macs, bwd_flops)


def headline(convention: str, macs: int, flops: int) -> int:
    """The single number a convention reports (see the module docstring)."""
    if convention not in CONVENTIONS:
        raise ValueError(f"analyze: convention must be one of {CONVENTIONS}, got {convention!r}")
    return 2 * macs + flops if convention == "flops" else macs


def norm_parameter_ids(tr: Any) -> set[int]:
    """ids of the parameter arrays a normalization op of the trace used as its gamma/beta."""
    out: set[int] = set()
    for rec in tr.ops:
        if rec.fn.is_normalization:
            out.update(id(a) for a, ref in zip(rec.raw[1:3], rec.inputs[1:3], strict=True) if ref.kind == "param")
    return out


def parameter_summary(model: Any, norm_ids: set[int] | None = None) -> tuple[dict[str, int], dict[int, dict[str, int]]]:
    """Totals and per-module (direct) parameter counts.

    Categories: ``weights``, ``biases`` and ``norm_affine`` (the gamma/beta of a normalization
    layer); ``trainable``/``frozen`` by ``requires_grad``; ``buffers`` (running statistics...,
    not parameters). A parameter shared by several modules is counted once, for the first
    module that owns it (question 11). A parameter is normalization affine when an op whose class
    declares ``is_normalization`` used it as gamma/beta in the trace (``norm_ids``, from
    :func:`norm_parameter_ids`); no module or op is recognised by its name. Returns (totals,
    {id(module): counts}).
    """
    seen: set[int] = set()
    seen_buf: set[int] = set()
    tot = dict(weights=0, biases=0, norm_affine=0, total=0, trainable=0, frozen=0, buffers=0,
               param_bytes=0, buffer_bytes=0)
    per: dict[int, dict[str, int]] = {}
    for _, m in model.named_modules():
        d = per.setdefault(id(m), dict(weights=0, biases=0, norm_affine=0, total=0, buffers=0, bytes=0))
        for pname, p in m._parameters.items():
            if p is None or id(p) in seen:
                continue
            seen.add(id(p))
            n = int(p.data.size)
            is_norm = id(p.data) in (norm_ids or ())
            cat = "norm_affine" if is_norm else ("biases" if pname.endswith("bias") else "weights")
            for t in (tot, d):
                t[cat] += n
                t["total"] += n
            d["bytes"] += int(p.data.nbytes)
            tot["param_bytes"] += int(p.data.nbytes)
            tot["trainable" if p.requires_grad else "frozen"] += n
        for b in m._buffers.values():
            if b is None or id(b) in seen_buf:
                continue
            seen_buf.add(id(b))
            tot["buffers"] += int(b.data.size)
            d["buffers"] += int(b.data.size)
            tot["buffer_bytes"] += int(b.data.nbytes)
    return tot, per
