r"""From one :class:`~cvprimer.lab.experiment.Result` per seed to one record: figures, tables and the verdict.

Rules (docs/lab.md states them for readers):

* **Every seed decides.** ``decide`` runs on each seed's own figures. When every seed reaches the same verdict,
  that is the experiment's verdict; otherwise the outcome is ``unsettled`` and the evidence gives the split
  (k/n) and each seed's verdict and sentence. A comparison therefore counts only if it holds in every seed; the
  margins of comparisons between noisy figures are declared no smaller than the across-seed spread.
* **Figures and tables show the mean and the spread.** A figure's ``value`` is the mean over seeds, with
  ``spread`` (sample standard deviation) and ``per_seed`` values. A table whose shape and text cells agree across
  seeds gets the mean of each numeric cell and a parallel ``spread`` grid; a table whose structure varies with the
  seed is the first seed's, labelled so.
* **What lies beyond the seed's claim never decides.** ``Result.beyond`` figures are aggregated the same way and
  explained by ``explain_beyond``; ``decide`` never sees them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from cvprimer.lab.experiment import LANGS, UNSETTLED, VERDICTS, Experiment, Result, Table


def _check_decision(exp: type[Experiment], out: Any) -> tuple[str, dict[str, str]]:
    if (not isinstance(out, tuple) or len(out) != 2 or out[0] not in VERDICTS or not isinstance(out[1], dict)
            or any(not out[1].get(lang) for lang in LANGS)):
        raise TypeError(f"{exp.id}: decide must return (verdict in {VERDICTS}, {{'en': ..., 'zh': ...}}), got {out!r}")
    return out[0], dict(out[1])


def _figure_entries(results: Sequence[Result], attr: str) -> tuple[dict[str, Any], dict[str, float]]:
    """``{name: json entry}`` with the mean over seeds as ``value`` (plus ``spread`` and ``per_seed`` when there
    are several seeds), and ``{name: mean}``; ``attr`` is ``"figures"`` or ``"beyond"``."""
    entries: dict[str, Any] = {}
    means: dict[str, float] = {}
    for name, fig in getattr(results[0], attr).items():
        vals = np.array([getattr(r, attr)[name].value for r in results if name in getattr(r, attr)], dtype=np.float64)
        mean = float(vals.mean()) if vals.size else float("nan")
        means[name] = mean
        entry = fig.to_json()
        entry["value"] = mean if math.isfinite(mean) else None
        if len(results) > 1:
            sd = float(vals.std(ddof=1)) if vals.size > 1 else 0.0
            entry["spread"] = sd if math.isfinite(sd) else None  # a non-finite seed: no spread (JSON has no NaN)
            entry["per_seed"] = [float(v) if math.isfinite(v) else None for v in vals]
        entries[name] = entry
    return entries, means


def aggregate(exp: type[Experiment], results: Sequence[Result], seeds: Sequence[int] | None = None) -> dict[str, Any]:
    """Figures averaged over seeds (with their spread) and the verdict.

    Every seed decides on its own figures. When all seeds reach the same verdict it is the experiment's verdict
    and the evidence is ``decide`` on the mean figures (or, should the mean land elsewhere, the first seed's
    sentence, labelled so). When they differ the outcome is ``unsettled``: the evidence gives the split (k/n)
    and each seed's verdict and sentence. What lies beyond the seed's claim never reaches ``decide``.
    """
    seeds = list(seeds) if seeds is not None else list(range(len(results)))
    figures, means = _figure_entries(results, "figures")
    beyond, beyond_means = _figure_entries(results, "beyond")
    out: dict[str, Any] = {"figures": figures, "beyond": beyond,
                           "beyond_evidence": _check_text(exp, exp.explain_beyond(beyond_means)) if beyond else None}
    if exp.kind == "page":
        return {**out, "verdict": None, "evidence": None, "seed_agreement": None}
    th = dict(exp.thresholds)
    decisions = [_check_decision(exp, exp.decide(r.values(), th)) for r in results]
    per_seed = [v for v, _ in decisions]
    counts = {v: per_seed.count(v) for v in dict.fromkeys(per_seed)}
    if len(counts) == 1:
        verdict = per_seed[0]
        mean_v, ev = _check_decision(exp, exp.decide(means, th))
        if mean_v != verdict:  # a mean can fall where no seed fell: quote a seed that reached the verdict instead
            ev = {"en": f"(figures of seed {seeds[0]}) {decisions[0][1]['en']}",
                  "zh": f"（随机种子 {seeds[0]} 的数据）{decisions[0][1]['zh']}"}
        agree = len(per_seed)
    else:
        verdict = UNSETTLED
        top = max(counts.values())
        split_en = ", ".join(f"{n}/{len(per_seed)} {v}" for v, n in counts.items())
        split_zh = "，".join(f"{n}/{len(per_seed)} 为 {v}" for v, n in counts.items())
        ev = {"en": f"The seeds disagree ({split_en}), so the verdict is unsettled. "
                    + " ".join(f"Seed {s}: {v}. {e['en']}" for s, (v, e) in zip(seeds, decisions, strict=True)),
              "zh": f"各随机种子的结论不一致（{split_zh}），因此结论未定。"
                    + "".join(f"随机种子 {s}：{v}。{e['zh']}" for s, (v, e) in zip(seeds, decisions, strict=True))}
        agree = top
    return {**out, "verdict": verdict, "evidence": ev, "seed_agreement": f"{agree}/{len(per_seed)}",
            "per_seed_verdicts": per_seed,
            "per_seed_evidence": [e for _, e in decisions] if len(results) > 1 else None}


def _check_text(exp: type[Experiment], text: Any) -> dict[str, str] | None:
    if text is None:
        return None
    if not isinstance(text, dict) or any(not text.get(lang) for lang in LANGS):
        raise TypeError(f"{exp.id}: explain_beyond must return None or {{'en': ..., 'zh': ...}}, got {text!r}")
    return dict(text)


def _numeric(c: Any) -> bool:
    return isinstance(c, (int, float, np.integer, np.floating)) and not isinstance(c, (bool, np.bool_))


def aggregate_tables(per_seed: Sequence[Sequence[Table]], seeds: Sequence[int]) -> list[dict[str, Any]]:
    """The tables of every seed as JSON: numeric cells averaged over seeds with a ``spread`` grid (sample standard
    deviation) when every seed's table has the same name, columns, shape and text cells; otherwise the first
    seed's table with ``seed`` set to say whose it is."""
    first = per_seed[0]
    out = []
    for i, t in enumerate(first):
        js = t.to_json()
        if len(per_seed) == 1:
            out.append(js)
            continue
        same = all(len(s) > i and s[i].name == t.name and list(s[i].columns) == list(t.columns)
                   and len(s[i].rows) == len(t.rows) for s in per_seed)
        if same:
            for s in per_seed:
                for r0, r in zip(t.rows, s[i].rows, strict=True):
                    if len(r) != len(r0) or any(_numeric(a) != _numeric(b) or (not _numeric(a) and a != b)
                                                for a, b in zip(r0, r, strict=True)):
                        same = False
        if not same:
            js["seed"] = int(seeds[0])
            out.append(js)
            continue
        rows, spread = [], []
        for j, r0 in enumerate(t.rows):
            row: list[Any] = []
            sp: list[Any] = []
            for k, c in enumerate(r0):
                if not _numeric(c):
                    row.append(js["rows"][j][k])
                    sp.append(None)
                    continue
                vals = np.array([float(s[i].rows[j][k]) for s in per_seed], dtype=np.float64)
                finite = bool(np.all(np.isfinite(vals)))
                m = float(vals.mean()) if finite else None
                is_int = all(isinstance(s[i].rows[j][k], (int, np.integer)) for s in per_seed)
                row.append(int(m) if is_int and m is not None and m == int(m) else m)
                sp.append(float(vals.std(ddof=1)) if finite else None)
            rows.append(row)
            spread.append(sp)
        js["rows"], js["spread"] = rows, spread
        out.append(js)
    return out
