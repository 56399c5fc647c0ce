r"""Terminal renderings of a :class:`~cvprimer.analysis.report.Report`: the per-layer table, the module tree
(torchinfo's layout: ``--depth N``) and the totals.

Column widths are computed from the content, so names are never cut. FLOPs in every table are the total
floating-point operations ``2 x MACs + other FLOPs`` (a multiply-accumulate is two FLOPs); the report's
``Row.flops`` and ``totals["flops"]`` keep the "other" (non-GEMM) part alone, as the cost model counts it.

Kernel column: the sliding window of the row's op as ``k_hxk_w/s<stride>/p<padding>/d<dilation>``, with
``/g<groups>`` for a convolution (``3x3/s2/p1/d1/g1``) and a ``T:`` prefix for a transposed one; a pair with
equal axes is written once (``s2`` for (2, 2)). It is read from the op's declared geometry
(:mod:`cvprimer.core.geometry`), never from a layer's name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cvprimer.analysis.cost import op_cost
from cvprimer.analysis.receptive_field import declared_geometry

if TYPE_CHECKING:  # pragma: no cover
    from cvprimer.analysis.report import Report
    from cvprimer.analysis.trace import OpRecord


def op_kernel(rec: OpRecord) -> str:
    """The kernel text of one op (``""`` when it declares no sliding window)."""
    try:
        g = declared_geometry(rec)
    except Exception:  # a geometry that cannot describe this call: no kernel shown, the RF reports it
        return ""
    text = g.kernel_text() if g is not None else ""
    if not text:
        return ""
    groups = next((a.groups for a in rec.raw if hasattr(a, "groups") and not hasattr(a, "shape")),
                  None)
    if groups is not None:
        text += f"/g{int(groups)}"
    return text


def kernels(recs: list[OpRecord]) -> str:
    """The distinct kernels of a run of ops, comma-separated."""
    out: list[str] = []
    for rec in recs:
        k = op_kernel(rec)
        if k and k not in out:
            out.append(k)
    return ",".join(out)


def shape_text(shape: tuple[int, ...] | None) -> str:
    return "x".join(str(s) for s in shape) if shape else ""


def render(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """Lines of a table whose column widths fit the longest cell; columns in ``right`` right-aligned."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                                  strict=True)))
    lines = [line(header).rstrip()]
    lines.append("-" * len(lines[0]))
    lines += [line(r).rstrip() for r in rows]
    return lines


def flat_table(rep: Report, max_rows: int | None = None) -> str:
    """One line per row of the report (a contiguous run of one module call's ops), then the totals."""
    header = ["layer", "type", "input", "output", "kernel", "params", "MACs", "%MACs", "FLOPs", "AI", "bound",
              "RF", "jump", ""]
    total_macs = max(rep.totals["macs"], 1)
    cells = []
    for r in rep.rows if max_rows is None else rep.rows[:max_rows]:
        rf = f"{r.rf_size[0]:g}x{r.rf_size[1]:g}" if r.rf_size else r.rf_kind
        ai = "inf" if r.intensity == float("inf") else f"{r.intensity:.1f}"
        cells.append([r.name, r.type, shape_text(r.in_shape), shape_text(r.out_shape), r.kernel, f"{r.params:,}",
                      f"{r.macs:,}", f"{100.0 * r.macs / total_macs:.1f}%", f"{r.total_flops:,}", ai, r.bound, rf,
                      f"{r.rf_jump[0]:g}" if r.rf_jump else "",
                      "[uncounted: " + ", ".join(r.uncounted) + "]" if r.uncounted else ""])
    lines = render(header, cells, {5, 6, 7, 8, 9, 11, 12})
    return "\n".join(lines + totals_lines(rep, len(lines[1])))


def tree_rows(rep: Report, depth: int) -> list[dict[str, Any]]:
    """The module-call tree down to ``depth`` (the model itself is depth 0), in call order.

    Each node sums its whole subtree: parameters (each module's own, credited to its first call, shared
    ones once), MACs, other FLOPs and total FLOPs (2 x MACs + other). ``kernel`` is the window of the
    call's own ops. A module called twice is two nodes.
    """
    if depth < 0:
        raise ValueError(f"tree: depth must be >= 0, got {depth}")
    calls = rep.trace.calls
    n = len(calls)
    agg = [{"params": 0, "macs": 0, "flops": 0} for _ in range(n)]
    own_ops: list[list[OpRecord]] = [[] for _ in range(n)]
    credited: set[int] = set()
    for c in calls:
        if id(c.module) not in credited:
            credited.add(id(c.module))
            agg[c.index]["params"] = rep.module_params.get(id(c.module), {}).get("total", 0)
    for rec in rep.trace.ops:
        if rec.module_call >= 0:
            cost = op_cost(rec)
            agg[rec.module_call]["macs"] += cost.macs
            agg[rec.module_call]["flops"] += cost.flops
            own_ops[rec.module_call].append(rec)
    for c in reversed(calls):  # calls are in pre-order: every child comes after its parent
        if c.parent is not None:
            for k, v in agg[c.index].items():
                agg[c.parent][k] += v
    out = []
    for c in calls:
        if c.depth > depth:
            continue
        a = agg[c.index]
        out.append({"name": c.name or "(model)", "type": c.type, "depth": c.depth, "in_shape": c.in_shape,
                    "out_shape": c.out_shape, "kernel": kernels(own_ops[c.index]), "params": a["params"],
                    "macs": a["macs"], "flops": a["flops"], "total_flops": 2 * a["macs"] + a["flops"]})
    return out


def tree_table(rep: Report, depth: int) -> str:
    """torchinfo's layout: the module tree to ``depth``, indented, each row summing its sub-modules."""
    total_macs = max(rep.totals["macs"], 1)
    header = ["module", "type", "input", "output", "kernel", "params", "MACs", "%MACs", "FLOPs"]
    cells = [["  " * t["depth"] + t["name"], t["type"], shape_text(t["in_shape"]), shape_text(t["out_shape"]),
              t["kernel"], f"{t['params']:,}", f"{t['macs']:,}", f"{100.0 * t['macs'] / total_macs:.1f}%",
              f"{t['total_flops']:,}"] for t in tree_rows(rep, depth)]
    lines = render(header, cells, {5, 6, 7, 8})
    note = f"module tree to depth {depth}: each row sums its sub-modules; FLOPs = 2 x MACs + other FLOPs"
    return "\n".join([note] + lines + totals_lines(rep, len(lines[1])))


def totals_lines(rep: Report, width: int) -> list[str]:
    """The totals under a table: shapes, parameters, MACs and FLOPs, memory, operator types, machine."""
    t = rep.totals
    p = t["params"]
    by_op = ", ".join(f"{k} x{int(v['count'])} {v['macs_pct']:.1f}%" for k, v in rep.by_op_type().items()
                      if v["macs"])
    pf = rep.profile
    lines = ["-" * width,
             f"input {t['input_shape']} -> output {t['output_shape']}",
             f"parameters: {p['total']:,} (weights {p['weights']:,}, biases {p['biases']:,}, norm affine "
             f"{p['norm_affine']:,}; trainable {p['trainable']:,}, frozen {p['frozen']:,}); buffers "
             f"{p['buffers']:,}",
             f"MACs (conv + matmul): {t['macs']:,}   other FLOPs: {t['flops']:,}   FLOPs (2 x MACs + other): "
             f"{2 * t['macs'] + t['flops']:,}",
             f"{t['headline_label']}: {t['headline'] / 1e9:.4g} G   (convention {rep.convention!r})",
             f"backward estimate: {t['bwd_macs']:,} MACs + {t['bwd_flops']:,} FLOPs (~{t['bwd_ratio']:.2f}x "
             "forward MACs)",
             f"memory: params {p['param_bytes'] / 2**20:.2f} MiB, activations (forward) "
             f"{t['memory']['forward_bytes'] / 2**20:.2f} MiB, peak inference "
             f"{t['memory']['peak_inference_bytes'] / 2**20:.2f} MiB, kept for backward "
             f"{t['memory']['kept_for_backward_bytes'] / 2**20:.2f} MiB",
             f"MACs by operator type: {by_op or 'none'}",
             f"machine: peak {pf.peak_flops / 1e9:.1f} GFLOP/s, bandwidth {pf.bandwidth / 1e9:.1f} GB/s, ridge "
             f"{pf.ridge:.1f} FLOPs/byte ({pf.name})"]
    if t.get("erf", {}).get("layer"):
        e = t["erf"]
        lines.append(f"effective receptive field of {e['layer']!r} (centre unit): non-zero gradient over "
                     f"{e['support_size']}, 95% of it within {e['size_95']}x{e['size_95']}; theoretical "
                     f"{e['theoretical_size']}")
    if t["uncounted"]:
        lines.append("UNCOUNTED ops (no cost formula; not included above): "
                     + ", ".join(f"{k} x{v}" for k, v in t["uncounted"].items()))
    for m in t["misalignments"]:
        lines.append(f"receptive field: paths merging at {m['layer']!r} ({m['op']}) do not align "
                     f"({m['detail']}); they diverged at {m['fork']!r}")
    return lines
