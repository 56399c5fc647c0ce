r"""Running experiments: seeds, the verdict from ``decide``, the cache, progress and Ctrl-C.

For each experiment the runner

1. skips it when ``<out>/runs/<id>/result.json`` holds a finished result of the same code version (a hash of
   the experiment's module and of this frame), mode and seeds, unless ``force``;
2. seeds the library's default generator and calls ``run(ctx)`` once per seed (quick mode: one seed; full
   mode: ``seeds`` consecutive seeds for a stochastic experiment, one for a deterministic one), with BLAS and
   the convolution pool held to the experiment's ``threads``; plots come from the first seed;
3. calls ``decide`` on the mean of each figure over seeds for the verdict, and on each seed's own figures to
   count how many seeds agree with it (``"3/3"``); a disagreement is added to the evidence;
4. writes ``result.json`` atomically right away, so Ctrl-C keeps every finished result.

An experiment that raises is recorded with ``status: "error"`` (never cached) and the others go on.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from cvprimer.analysis.timing import blas_threads
from cvprimer.core.random import manual_seed
from cvprimer.core.serialization import atomic_write
from cvprimer.lab.experiment import LANGS, UNSETTLED, VERDICTS, Context, Experiment, Progress, Result

FRAME_VERSION = "1"
RESULTS_VERSION = 1


def code_version(exp: type[Experiment]) -> str:
    """A short hash of the experiment's module source and the frame version (changes invalidate the cache)."""
    mod = sys.modules[exp.__module__]
    try:
        src = inspect.getsource(mod)
    except (OSError, TypeError):  # pragma: no cover - source not available (frozen install)
        src = exp.__module__
    return hashlib.sha256(f"{FRAME_VERSION}\n{src}".encode()).hexdigest()[:16]


def run_dir(out: str, exp_id: str) -> str:
    return os.path.join(out, "runs", exp_id)


def seeds_for(exp: type[Experiment], quick: bool, seed: int, seeds: int) -> list[int]:
    """The seeds an experiment runs with: ``seeds`` consecutive ones from ``seed`` in either mode, one when the
    experiment is deterministic."""
    if seeds < 1:
        raise ValueError(f"lab run: --seeds must be >= 1, got {seeds}")
    n = seeds if exp.stochastic else 1
    return [seed + i for i in range(n)]


def load_record(out: str, exp_id: str) -> dict[str, Any] | None:
    """The cached record of an experiment, or None when absent or unreadable (a corrupt file is re-run)."""
    path = os.path.join(run_dir(out, exp_id), "result.json")
    try:
        with open(path, encoding="utf-8") as fh:
            rec = json.load(fh)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(rec, dict) or rec.get("id") != exp_id or not isinstance(rec.get("figures"), dict):
        return None
    return rec


def _texts(exp: type[Experiment], key: str) -> dict[str, str] | None:
    d = {lang: exp.t(key, lang) for lang in LANGS}
    return d if any(d.values()) else None


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
            entry["spread"] = float(vals.std(ddof=1)) if vals.size > 1 else 0.0
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


def run_one(exp: type[Experiment], out: str, quick: bool = True, seed: int = 0, seeds: int = 3,
            progress: Callable[[int, int | None], None] | None = None) -> dict[str, Any]:
    """Run one experiment over its seeds and write its ``result.json``; returns the record."""
    folder = run_dir(out, exp.id)
    os.makedirs(folder, exist_ok=True)
    seed_list = seeds_for(exp, quick, seed, seeds)
    base: dict[str, Any] = {
        "id": exp.id, "questions": list(exp.questions), "topic": exp.topic, "kind": exp.kind,
        "title": _texts(exp, "title"), "claim": _texts(exp, "claim"), "method": _texts(exp, "method"),
        "body": _texts(exp, "body"), "thresholds": dict(exp.thresholds), "command": exp.command(),
        "code_version": code_version(exp), "mode": "quick" if quick else "full", "seeds": seed_list,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    t0 = time.perf_counter()
    results: list[Result] = []
    plots: list[Any] = []
    try:
        for i, s in enumerate(seed_list):
            manual_seed(s)
            ctx = Context(folder, quick=quick, seed=s, progress=Progress(progress), save_plots=(i == 0))
            with blas_threads(exp.threads):
                res = exp().run(ctx)
            if not isinstance(res, Result):
                raise TypeError(f"{exp.id}: run must return a Result, got {type(res).__name__}")
            if i == 0:
                plots = res.plots or ctx.plots
            results.append(res)
        agg = aggregate(exp, results, seed_list)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # an experiment's bug must not stop the others; it is reported, never cached
        rec = {**base, "status": "error", "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(),
               "figures": {}, "tables": [], "plots": [], "verdict": None, "evidence": None, "seed_agreement": None,
               "seconds": round(time.perf_counter() - t0, 3)}
        _write(folder, rec)
        return rec
    first = results[0]
    rec = {**base, "status": "ok", **agg, "tables": [t.to_json() for t in first.tables],
           "beyond_tables": [t.to_json() for t in first.beyond_tables],
           "plots": [p.to_json() for p in plots], "notes": dict(first.notes) if first.notes else None,
           "seconds": round(time.perf_counter() - t0, 3)}
    _write(folder, rec)
    return rec


def _write(folder: str, rec: dict[str, Any]) -> None:
    atomic_write(os.path.join(folder, "result.json"), json.dumps(rec, ensure_ascii=False, indent=1, allow_nan=False))


def is_fresh(rec: dict[str, Any] | None, exp: type[Experiment], quick: bool, seed_list: list[int]) -> bool:
    return bool(rec and rec.get("status") == "ok" and rec.get("code_version") == code_version(exp)
                and rec.get("mode") == ("quick" if quick else "full") and rec.get("seeds") == seed_list)


def run_many(exps: Sequence[type[Experiment]], out: str, quick: bool = True, seed: int = 0, seeds: int = 3,
             force: bool = False, show_progress: bool = True,
             on_done: Callable[[dict[str, Any], bool], None] | None = None) -> list[dict[str, Any]]:
    """Run (or take from the cache) each experiment; ``on_done(record, cached)`` after each one.

    KeyboardInterrupt propagates after the current experiment is abandoned; finished ones stay on disk.
    """
    bar = _bar(len(exps), show_progress)
    records = []
    try:
        for exp in exps:
            if bar is not None:
                bar.set_description(exp.id)
            rec = load_record(out, exp.id)
            cached = not force and is_fresh(rec, exp, quick, seeds_for(exp, quick, seed, seeds))
            if not cached:
                rec = run_one(exp, out, quick, seed, seeds, progress=_inner(bar, exp.id))
            assert rec is not None
            records.append(rec)
            if on_done:
                on_done(rec, cached)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return records


def _bar(total: int, show: bool) -> Any:
    if not show:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # the lab extra brings tqdm; without it there is simply no bar
        return None
    return tqdm(total=total, unit="exp", file=sys.stderr, leave=False, disable=None, dynamic_ncols=True)


def _inner(bar: Any, exp_id: str) -> Callable[[int, int | None], None] | None:
    if bar is None:
        return None

    def cb(done: int, total: int | None) -> None:
        bar.set_description(f"{exp_id} {done}/{total}" if total else f"{exp_id} {done}")

    return cb
