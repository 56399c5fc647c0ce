r"""The analysis report: one row per module call, totals, and its renderings.

A *row* is one call of the innermost module that ran ops (a reused ``ReLU`` gives one row per
call; a residual block's own ``x + identity`` appears in the block's row). Columns: input and output
shape, kernel (the window of a conv or pooling op: ``3x3/s2/p1/d1/g1``), parameters (weights / biases /
normalization affine, each shared parameter once), MACs, ``flops`` (the *other*, non-GEMM FLOPs: zero for a
conv without bias), ``total_flops`` (2 x MACs + other FLOPs, what the tables print as FLOPs), bytes moved,
backward estimate, output (activation) bytes, working set (inputs + outputs + weights), arithmetic
intensity, roofline bound and time, receptive field (size, jump, effective padding, centre of unit 0) and
the ops without a cost formula ("uncounted").

Renderings: :meth:`Report.table` (terminal), :meth:`Report.to_csv`, :meth:`Report.to_json`,
:meth:`Report.plot_costs` and :meth:`Report.plot_roofline` (matplotlib, imported lazily).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from cvprimer.analysis.cost import headline, op_cost
from cvprimer.analysis.memory import activation_memory
from cvprimer.analysis.receptive_field import RF, ReceptiveFields
from cvprimer.analysis.roofline import MachineProfile, bound, intensity, time_estimate
from cvprimer.analysis.table import flat_table, kernels, tree_rows, tree_table
from cvprimer.analysis.trace import Trace
from cvprimer.core.serialization import atomic_write


@dataclass
class Row:
    name: str
    type: str
    ops: str
    out_shape: tuple[int, ...] | None
    in_shape: tuple[int, ...] | None = None
    kernel: str = ""
    params: int = 0
    weights: int = 0
    biases: int = 0
    norm_affine: int = 0
    macs: int = 0
    flops: int = 0
    total_flops: int = 0
    bytes: int = 0
    bwd_macs: int = 0
    bwd_flops: int = 0
    act_bytes: int = 0
    working_set: int = 0
    intensity: float = 0.0
    bound: str = "-"
    time_s: float = 0.0
    rf_kind: str = ""
    rf_size: tuple[float, float] | None = None
    rf_jump: tuple[float, float] | None = None
    rf_eff_padding: tuple[float, float] | None = None
    rf_start: tuple[float, float] | None = None
    rf_context: bool = False
    uncounted: list[str] = field(default_factory=list)


def _fmt_rf(rf: RF | None) -> dict[str, Any]:
    if rf is None:
        return dict(rf_kind="")
    if rf.kind != "local":
        return dict(rf_kind=rf.kind, rf_context=rf.context)
    return dict(rf_kind="local", rf_size=rf.size, rf_jump=rf.jump, rf_eff_padding=rf.effective_padding,
                rf_start=rf.start, rf_context=rf.context)


@dataclass
class Report:
    rows: list[Row]
    totals: dict[str, Any]
    convention: str
    profile: MachineProfile
    trace: Trace
    rf: ReceptiveFields
    module_params: dict[int, dict[str, int]] = field(default_factory=dict)  # id(module) -> its own counts

    # -- aggregates ----------------------------------------------------------------------
    def by_op_type(self) -> dict[str, dict[str, float]]:
        """Totals per operator type (``conv2d``, ``relu``, ...): call count, MACs, other FLOPs, bytes moved and
        the share of all MACs, largest MAC count first."""
        out: dict[str, dict[str, float]] = {}
        for rec in self.trace.ops:
            c = op_cost(rec)
            d = out.setdefault(rec.name, {"count": 0, "macs": 0, "flops": 0, "bytes": 0})
            d["count"] += 1
            d["macs"] += c.macs
            d["flops"] += c.flops
            d["bytes"] += c.bytes
        total = max(self.totals["macs"], 1)
        for d in out.values():
            d["macs_pct"] = 100.0 * d["macs"] / total
        return dict(sorted(out.items(), key=lambda kv: (-kv[1]["macs"], -kv[1]["flops"], kv[0])))

    def subtotals(self, depth: int) -> list[dict[str, Any]]:
        """Rows summed over the module tree cut at ``depth`` dotted levels (``layer1.0.conv1`` at depth 1 counts
        toward ``layer1``), in first-use order, with each group's share of parameters and MACs."""
        if depth < 1:
            raise ValueError(f"subtotals: depth must be >= 1, got {depth}")
        groups: dict[str, dict[str, Any]] = {}
        for r in self.rows:
            key = ".".join(r.name.split(".")[:depth])
            g = groups.setdefault(key, {"name": key, "rows": 0, "params": 0, "macs": 0, "flops": 0, "bytes": 0,
                                        "out_shape": None})
            g["rows"] += 1
            for k in ("params", "macs", "flops", "bytes"):
                g[k] += getattr(r, k)
            g["out_shape"] = r.out_shape
        tp, tm = max(self.totals["params"]["total"], 1), max(self.totals["macs"], 1)
        for g in groups.values():
            g["params_pct"], g["macs_pct"] = 100.0 * g["params"] / tp, 100.0 * g["macs"] / tm
        return list(groups.values())

    # -- renderings ----------------------------------------------------------------------
    def tree(self, depth: int) -> list[dict[str, Any]]:
        """The module-call tree to ``depth`` with subtree sums (:func:`.table.tree_rows`)."""
        return tree_rows(self, depth)

    def table(self, max_rows: int | None = None, depth: int | None = None) -> str:
        """The terminal table: one line per row, or with ``depth`` the module tree to that depth (torchinfo's
        layout, :func:`.table.tree_table`); then totals by operator type and the totals. Column widths follow
        the content; FLOPs columns are 2 x MACs + other FLOPs."""
        return flat_table(self, max_rows) if depth is None else tree_table(self, depth)

    def as_dict(self) -> dict[str, Any]:
        return {"convention": self.convention, "totals": self.totals, "profile": self.profile.as_dict(),
                "by_op_type": self.by_op_type(), "rows": [asdict(r) for r in self.rows]}

    def to_json(self, path: str | os.PathLike[str]) -> None:
        atomic_write(path, json.dumps(_finite(self.as_dict()), indent=1, default=_json_default, allow_nan=False))

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        buf = io.StringIO()
        names = list(Row.__dataclass_fields__)
        w = csv.writer(buf)
        w.writerow(names)
        for r in self.rows:
            d = asdict(r)
            w.writerow(["x".join(map(str, v)) if isinstance(v, (tuple, list)) and k != "uncounted"
                        else (";".join(v) if k == "uncounted" else v) for k, v in ((n, d[n]) for n in names)])
        atomic_write(path, buf.getvalue())

    def plot_costs(self, path: str | os.PathLike[str]) -> None:
        """Per-layer bars: MACs and other FLOPs (log scale), saved as PNG."""
        from matplotlib.figure import Figure  # a Figure of its own, no pyplot: the user's backend is left alone

        rows = [r for r in self.rows if r.macs or r.flops]
        fig = Figure(figsize=(max(6, 0.25 * len(rows)), 4))
        ax = fig.subplots()
        xs = range(len(rows))
        ax.bar([x - 0.2 for x in xs], [r.macs for r in rows], width=0.4, label="MACs")
        ax.bar([x + 0.2 for x in xs], [r.flops for r in rows], width=0.4, label="other FLOPs")
        ax.set_yscale("log")
        ax.set_xticks(list(xs), [r.name for r in rows], rotation=90, fontsize=6)
        ax.legend()
        fig.tight_layout()
        _save_figure(fig, path)

    def plot_roofline(self, path: str | os.PathLike[str]) -> None:
        """Roofline chart: attainable FLOP/s against intensity, one dot per layer."""
        import numpy as np
        from matplotlib.figure import Figure  # a Figure of its own, no pyplot: the user's backend is left alone

        pf = self.profile
        ai = np.logspace(-2, 3, 200)
        fig = Figure(figsize=(6, 4))
        ax = fig.subplots()
        ax.loglog(ai, np.minimum(pf.peak_flops, ai * pf.bandwidth), "k-", label="roofline")
        for r in self.rows:
            if r.bytes and (r.macs or r.flops) and r.time_s > 0:
                ax.loglog(r.intensity, (2 * r.macs + r.flops) / r.time_s, "o", ms=3,
                          color="tab:red" if r.bound == "memory" else "tab:blue")
        ax.axvline(pf.ridge, color="grey", ls=":", label=f"ridge {pf.ridge:.1f} FLOPs/byte")
        ax.set_xlabel("arithmetic intensity (FLOPs/byte)")
        ax.set_ylabel("attainable FLOP/s")
        ax.set_title("red: memory-bound layers, blue: compute-bound")
        ax.legend()
        fig.tight_layout()
        _save_figure(fig, path)


def _json_default(o: Any) -> Any:
    """NumPy scalars as Python numbers; anything else by its text."""
    return _finite(o.item()) if hasattr(o, "item") else str(o)


def _finite(o: Any) -> Any:
    """Strict JSON: infinities/NaN (e.g. the intensity of a view, which moves no bytes) become null."""
    if isinstance(o, float):
        return o if o == o and abs(o) != float("inf") else None
    if isinstance(o, dict):
        return {str(k): _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def _save_figure(fig: Any, path: str | os.PathLike[str]) -> None:
    """PNG written to a temporary name, fsynced, then renamed (the house rule for files we write)."""
    buf = io.BytesIO()
    fig.savefig(buf, dpi=120, format="png")
    atomic_write(path, buf.getvalue())


def build_report(tr: Trace, convention: str, profile: MachineProfile, params: tuple[dict, dict]) -> Report:
    """Assemble rows and totals from a trace (see the module docstring)."""
    totals_p, per_module = params
    rf = ReceptiveFields(tr)
    mem = activation_memory(tr)
    rows: list[Row] = []
    last_op: list[int] = []  # per row: the index of its last op
    row_ops: list[list[Any]] = []  # per row: its ops
    credited: set[int] = set()
    tot: Counter[str] = Counter()
    uncounted: Counter[str] = Counter()
    prev_call = None
    for rec in tr.ops:
        c = op_cost(rec)
        call = tr.calls[rec.module_call] if rec.module_call >= 0 else None
        if not rows or rec.module_call != prev_call:  # a new row: a contiguous run of one module call's ops
            name = (call.name or "(model)") if call else "(model)"
            row = Row(name, call.type if call else type(tr.model).__name__, "", None)
            if call is not None and id(call.module) not in credited:
                credited.add(id(call.module))
                pm = per_module.get(id(call.module), {})
                row.params, row.weights = pm.get("total", 0), pm.get("weights", 0)
                row.biases, row.norm_affine = pm.get("biases", 0), pm.get("norm_affine", 0)
            rows.append(row)
            last_op.append(rec.index)
            row_ops.append([])
            row.in_shape = next((tuple(a.shape) for a, ref in zip(rec.raw, rec.inputs, strict=True)
                                 if ref.kind in ("activation", "input")), None)
        prev_call = rec.module_call
        row = rows[-1]
        last_op[-1] = rec.index
        row_ops[-1].append(rec)
        row.ops = f"{row.ops},{rec.name}" if row.ops else rec.name
        if not c.counted:
            row.uncounted.append(rec.name)
            uncounted[rec.name] += 1
        row.macs += c.macs
        row.flops += c.flops
        row.bytes += c.bytes
        row.bwd_macs += c.bwd_macs
        row.bwd_flops += c.bwd_flops
        row.act_bytes += mem["per_op_output_bytes"][rec.index]
        ins = sum(int(a.nbytes) for a, ref in zip(rec.raw, rec.inputs, strict=True) if ref.kind != "option")
        row.working_set += ins + sum(int(o.nbytes) for o in rec.outputs)
        for k in ("macs", "flops", "bytes", "bwd_macs", "bwd_flops"):
            tot[k] += getattr(c, k)
    for row, li, recs in zip(rows, last_op, row_ops, strict=True):
        row.out_shape = tr.ops[li].out_shapes[0]
        row.kernel = kernels(recs)
        row.total_flops = work = 2 * row.macs + row.flops
        row.intensity = intensity(work, row.bytes)
        row.bound = bound(work, row.bytes, profile)
        row.time_s = time_estimate(work, row.bytes, profile)
        for k, v in _fmt_rf(rf.op_states.get(li)).items():
            setattr(row, k, v)
    out_rf = rf.output()
    macs, flops = tot["macs"], tot["flops"]
    labels = {"torchvision": "torchvision 'GFLOPS' (= GMACs of conv + matmul)", "macs": "GMACs",
              "flops": "GFLOPs (2 x MACs + other FLOPs)"}
    totals = dict(
        input_shape=tr.input_shape,
        output_shape=tuple(tr.keep[-1].shape) if tr.output_ids else None,
        params=totals_p, macs=macs, flops=flops, bytes=tot["bytes"],
        headline=headline(convention, macs, flops), headline_label=labels[convention],
        bwd_macs=tot["bwd_macs"], bwd_flops=tot["bwd_flops"],
        bwd_ratio=(tot["bwd_macs"] / macs) if macs else 0.0,
        training_flops=2 * (macs + tot["bwd_macs"]) + flops + tot["bwd_flops"],
        memory={k: v for k, v in mem.items() if k != "per_op_output_bytes"},
        uncounted=dict(uncounted), misalignments=rf.misalignments,
        output_rf=_fmt_rf(out_rf), time_s=sum(r.time_s for r in rows),
    )
    return Report(rows, totals, convention, profile, tr, rf, per_module)
