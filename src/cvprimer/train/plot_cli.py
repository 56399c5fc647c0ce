r"""``cvprimer plot RUN_DIR [RUN_DIR ...]``: overlay the curves of training runs in one PNG.

Each run folder (written by ``cvprimer train``: it has ``config.json``) is read from its logs: ``epochs.jsonl`` for
``loss`` and ``acc`` (one panel each, against the epoch: training solid — its running mean —, the exact training
metric of ``--train-eval exact`` dotted, validation dashed; a run cut by ``--max-steps`` ends on a fractional
epoch, ``epoch - 1 + batches run / batches``, drawn with an open marker) and ``steps.csv`` for ``lr`` (against
the optimizer step). One colour per run, labelled by
the run folder's name (its path when two names are the same).

Errors are one line (exit 2): a folder that is not a run, a run without logs yet, a metric that no run logs, an
output that is not a ``.png`` or already exists (``cvprimer plot`` never overwrites a file), or no matplotlib.
This module imports only the standard library at load time (the command line starts fast).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from typing import Any

from cvprimer.errors import UserError

METRICS = ("loss", "acc", "lr")
DEFAULT_OUT = "runs-plot.png"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("plot", help="overlay training runs' loss/accuracy/lr curves in one PNG",
                       description="Overlay the curves of one or more run folders (from their epoch and step "
                                   "logs) in one PNG, one colour per run.")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders written by `cvprimer train`")
    p.add_argument("--out", default=DEFAULT_OUT,
                   help="the PNG to write (default %(default)s); an existing file is never overwritten")
    p.add_argument("--metric", nargs="+", choices=METRICS, default=list(METRICS),
                   help="panels to draw, in order (default: %(default)s)")


def _read_epochs(run: str) -> list[dict[str, Any]]:
    path = os.path.join(run, "epochs.jsonl")
    if not os.path.isfile(path):
        raise UserError(f"{run!r} has no epoch logs yet (no epochs.jsonl: the run stopped before its first epoch "
                        f"ended)")
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    raise UserError(f"{path!r}: line {n} is not JSON (a damaged log)") from None
    if not rows:
        raise UserError(f"{run!r} has no epoch logs yet (epochs.jsonl is empty)")
    return rows


def _read_steps(run: str) -> list[dict[str, str]]:
    path = os.path.join(run, "steps.csv")
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _labels(runs: list[str]) -> list[str]:
    names = [os.path.basename(os.path.normpath(r)) or r for r in runs]
    return [r if names.count(n) > 1 else n for r, n in zip(runs, names, strict=True)]


def _epoch_x(rows: list[dict[str, Any]], steps: list[dict[str, str]]) -> list[float]:
    """Epoch numbers, the last one fractional when ``max_steps`` cut it (from the step log's rows)."""
    xs = [float(r["epoch"]) for r in rows]
    last = rows[-1]
    if last.get("partial_epoch") and steps:
        per: dict[int, int] = {}
        for s in steps:
            per[int(float(s["epoch"]))] = per.get(int(float(s["epoch"])), 0) + 1
        full = [n for e, n in per.items() if e != int(last["epoch"])]
        if full:
            xs[-1] = float(last["epoch"]) - 1 + per.get(int(last["epoch"]), 0) / max(full)
    return xs


def _collect(runs: list[str], metrics: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for run in runs:
        if not os.path.isdir(run):
            raise UserError(f"{run!r}: no such folder")
        if not os.path.isfile(os.path.join(run, "config.json")):
            raise UserError(f"{run!r} is not a run folder (no config.json); give folders written by `cvprimer train`")
        rows, steps = _read_epochs(run), _read_steps(run)
        out.append({"run": run, "rows": rows, "steps": steps, "x": _epoch_x(rows, steps)})
    for m in metrics:
        if m == "lr":
            if not any(d["steps"] and "lr" in d["steps"][0] for d in out):
                raise UserError("--metric lr: no run has a step log with an lr column (steps.csv)")
            continue
        keys = (f"train_{m}", f"val_{m}")
        if not any(k in r for d in out for r in d["rows"] for k in keys):
            logged = sorted({k for d in out for r in d["rows"] for k in r})
            raise UserError(f"--metric {m}: no run logs {' or '.join(keys)} (they log {', '.join(logged)})")
    return out


def _check_out(path: str) -> None:
    if not path.lower().endswith(".png"):
        raise UserError(f"--out {path!r}: expected a .png file name")
    if os.path.lexists(path):
        raise UserError(f"--out {path!r} already exists; cvprimer plot never overwrites a file: choose another name "
                        f"or remove it")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UserError(f"--out {path!r}: the folder {parent!r} does not exist")


def plot_runs(runs: list[str], out: str, metrics: list[str] | tuple[str, ...] = METRICS) -> str:
    """Draw ``metrics`` of the run folders ``runs`` into the new PNG ``out`` (module docstring); returns ``out``.
    Raises :class:`~cvprimer.errors.UserError` for the cases listed there."""
    metrics = list(dict.fromkeys(metrics))
    _check_out(out)
    data = _collect(runs, metrics)
    from cvprimer.errors import require

    require("matplotlib", what="cvprimer plot")
    from matplotlib.figure import Figure  # a Figure of its own, no pyplot: a notebook's backend is left alone

    from cvprimer.core.serialization import atomic_write

    fig = Figure(figsize=(5.2 * len(metrics), 3.8))
    axes = fig.subplots(1, len(metrics), squeeze=False)
    for i, (d, label) in enumerate(zip(data, _labels(runs), strict=True)):
        color = f"C{i % 10}"
        for ax, m in zip(axes[0], metrics, strict=True):
            if m == "lr":
                pts = [(int(float(s["step"])), float(s["lr"])) for s in d["steps"] if s.get("lr")]
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], color=color, label=label)
                continue
            for key, style, split in ((f"train_{m}", "-", "train"), (f"train_{m}_exact", ":", "train (exact)"),
                                      (f"val_{m}", "--", "val")):
                pts = [(x, r[key]) for x, r in zip(d["x"], d["rows"], strict=True) if key in r]
                if not pts:
                    continue
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, color=color, marker="o", ms=3,
                        label=f"{label} {split}")
                if d["rows"][-1].get("partial_epoch") and key in d["rows"][-1]:
                    ax.plot([pts[-1][0]], [pts[-1][1]], "o", mfc="white", color=color, ms=6)
    for ax, m in zip(axes[0], metrics, strict=True):
        ax.set_xlabel("optimizer step" if m == "lr" else "epoch")
        ax.set_ylabel({"loss": "loss", "acc": "accuracy", "lr": "learning rate"}[m])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(out, lambda f: fig.savefig(f, dpi=100, format="png"))
    return out


def run(args: argparse.Namespace) -> int:
    out = plot_runs(list(args.runs), args.out, args.metric)
    print(f"wrote {out} ({len(args.runs)} run(s): {', '.join(args.metric)})")
    return 0
