r"""Running experiments: seeds, processes and MPI ranks, the cache, the record, progress and Ctrl-C.

For each selected experiment the runner

1. serves ``<out>/runs/<id>/<mode>/result.json`` when it is a finished result of the same mode and seed list whose cache
   key still matches (:mod:`cvprimer.lab.cache`: the experiment's module, every cvprimer module it loaded, the
   frame and report code, package versions), unless ``force``;
2. otherwise runs one *task* per seed: ``seeds`` consecutive seeds from ``seed`` in either mode (one for a
   deterministic experiment), each seeding the library's default generator and calling ``run(ctx)`` with BLAS and
   the convolution pool held to the experiment's ``threads``. Tasks run in this process (``jobs=1``), in
   ``jobs`` worker processes, or spread over MPI ranks when the command was started by ``mpiexec`` (rank 0 plans,
   every rank runs its share, rank 0 gathers and writes). Each task runs in a private temporary folder and hands
   back its result, the bytes of its plots (the first seed's) and the list of cvprimer files it loaded;
3. aggregates the seeds (:mod:`cvprimer.lab.aggregate`: every seed decides, a split is ``unsettled``) and writes
   the plots and then ``result.json`` atomically, as soon as the experiment's last seed is in, so Ctrl-C keeps
   every finished result.

An experiment whose ``run`` raises is recorded with ``status: "error"`` (never served from the cache) and the
others go on.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cvprimer.analysis.timing import blas_threads
from cvprimer.core.random import manual_seed
from cvprimer.core.serialization import atomic_write
from cvprimer.lab import schedule
from cvprimer.lab.aggregate import aggregate, aggregate_tables
from cvprimer.lab.cache import code_key, loaded_files, stale_reason, versions
from cvprimer.lab.experiment import LANGS, Context, Experiment, Progress, Result, plain_png
from cvprimer.lab.plots import style as plot_style

RESULTS_VERSION = 2


MODES = ("full", "quick")  # fullest first: the order in which a report prefers results


def run_dir(out: str, exp_id: str, mode: str) -> str:
    """Where one experiment's record and plots of one mode live: ``<out>/runs/<id>/<mode>/``. Each mode has its
    own folder, so a quick run never replaces a full result."""
    if mode not in MODES:
        raise ValueError(f"lab: mode must be one of {MODES}, got {mode!r}")
    return os.path.join(out, "runs", exp_id, mode)


def seeds_for(exp: type[Experiment], quick: bool, seed: int, seeds: int) -> list[int]:
    """The seeds an experiment runs with: ``seeds`` consecutive ones from ``seed`` in either mode, one when the
    experiment is deterministic."""
    if seeds < 1:
        raise ValueError(f"lab run: --seeds must be >= 1, got {seeds}")
    n = seeds if exp.stochastic else 1
    return [seed + i for i in range(n)]


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - platforms without affinity
        return max(1, os.cpu_count() or 1)


def load_record(out: str, exp_id: str, mode: str | None = None) -> dict[str, Any] | None:
    """The cached record of an experiment in ``mode``, or None when absent, unreadable or malformed (it is then
    re-run, and ``lab show`` / ``lab report`` treat it as missing). Malformed: valid JSON that breaks the
    record's schema (see :func:`record_problem`), e.g. a figure whose value is the string "n/a", or a record
    whose mode is not the folder's.

    ``mode=None``: the result a report shows, the fullest one that is current: a full result whose code is
    unchanged, else a current quick one, else a full one, else a quick one (stale ones are marked by the
    report)."""
    if mode is None:
        found = [r for m in MODES if (r := load_record(out, exp_id, m)) is not None]
        current = [r for r in found if r.get("status") != "ok" or stale_reason(r) is None]
        return current[0] if current else (found[0] if found else None)
    path = os.path.join(run_dir(out, exp_id, mode), "result.json")
    try:
        with open(path, encoding="utf-8") as fh:
            rec = json.load(fh)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if record_problem(rec, exp_id) is not None or rec.get("mode") != mode:
        return None
    return rec


_NUM = (int, float)


def _is_num(v: Any, none: bool = True) -> bool:
    return (v is None and none) or (isinstance(v, _NUM) and not isinstance(v, bool))


def _is_texts(v: Any) -> bool:
    """None, a string, or ``{lang: str}``: the shapes the record's texts take."""
    return v is None or isinstance(v, str) or (isinstance(v, dict) and all(isinstance(t, str) for t in v.values()))


def _figures_problem(name: str, figs: Any) -> str | None:
    if figs is None and name == "beyond":
        return None
    if not isinstance(figs, dict):
        return f"{name} is a {type(figs).__name__}, expected an object"
    for k, f in figs.items():
        if not isinstance(f, dict):
            return f"{name}[{k!r}] is a {type(f).__name__}, expected an object"
        if not _is_num(f.get("value")):
            return f"{name}[{k!r}].value is {f.get('value')!r}, expected a number or null"
        if not _is_num(f.get("spread")):
            return f"{name}[{k!r}].spread is {f.get('spread')!r}, expected a number or null"
        if not isinstance(f.get("unit", ""), str) or not _is_texts(f.get("label")):
            return f"{name}[{k!r}] has a unit or label that is not text"
    return None


def _tables_problem(name: str, tables: Any) -> str | None:
    if tables is None:
        return None
    if not isinstance(tables, list):
        return f"{name} is a {type(tables).__name__}, expected a list"
    for t in tables:
        if not (isinstance(t, dict) and isinstance(t.get("columns", []), list) and isinstance(t.get("rows", []), list)
                and all(isinstance(r, list) for r in t.get("rows", [])) and _is_texts(t.get("caption"))):
            return f"{name} holds a table that is not {{columns: [...], rows: [[...]], caption}}"
    return None


def record_problem(rec: Any, exp_id: str) -> str | None:
    """What is wrong with a ``result.json`` record (None: it can be shown, reported and served from the cache).

    Checks the types of the fields that ``lab show``, ``lab report`` and ``lab run`` read (the schema
    :func:`build_record` writes): ``id`` equal to ``exp_id``; ``status`` "ok" or "error"; ``questions`` a list
    of ints; ``figures`` / ``beyond`` ``{name: {value: number|null, spread: number|null, unit: str, label}}``;
    texts (``title``, ``claim``, ``evidence``, ...) null, a string or ``{lang: str}``; ``tables`` lists of
    ``{columns, rows, caption}``; ``plots`` a list of objects; ``seeds`` a list of ints; ``verdict`` and
    ``error`` null or a string; ``seconds`` a number. Keys an older record lacks are not required, except
    ``id``, ``status`` and ``figures``.
    """
    if not isinstance(rec, dict):
        return f"a JSON {type(rec).__name__}, expected an object"
    if rec.get("id") != exp_id:
        return f"id {rec.get('id')!r}, expected {exp_id!r}"
    if rec.get("status") not in ("ok", "error"):
        return f"status {rec.get('status')!r}, expected 'ok' or 'error'"
    for name in ("figures", "beyond"):
        why = _figures_problem(name, rec.get(name))
        if why:
            return why
    for name in ("tables", "beyond_tables"):
        why = _tables_problem(name, rec.get(name))
        if why:
            return why
    checks = {
        "questions": lambda v: isinstance(v, list) and all(isinstance(q, int) and not isinstance(q, bool)
                                                           for q in v),
        "seeds": lambda v: isinstance(v, list) and all(isinstance(q, int) and not isinstance(q, bool) for q in v),
        "mode": lambda v: v in ("quick", "full"),
        "verdict": lambda v: v is None or isinstance(v, str),
        "error": lambda v: v is None or isinstance(v, str),
        "seed_agreement": lambda v: v is None or isinstance(v, str),
        "topic": lambda v: v is None or isinstance(v, str),
        "command": lambda v: isinstance(v, str),
        "seconds": lambda v: _is_num(v, none=False),
        "plots": lambda v: isinstance(v, list) and all(isinstance(p, dict) for p in v),
        "quick_provisional": lambda v: isinstance(v, bool),
        "code_files": lambda v: isinstance(v, list),
        **{k: _is_texts for k in ("title", "claim", "method", "body", "beyond_text", "evidence", "beyond_evidence",
                                  "takeaway")},
    }
    for k, ok in checks.items():
        if k in rec and not ok(rec[k]):
            return f"{k} is {rec[k]!r:.60}, which is not what lab records hold"
    if "questions" not in rec:
        return "no questions"
    return None


def is_fresh(rec: dict[str, Any] | None, exp: type[Experiment], quick: bool, seed_list: list[int]) -> bool:
    """Whether ``rec`` may be served for ``exp`` in this mode with these seeds (see :mod:`cvprimer.lab.cache`)."""
    if not rec:
        return False
    return rec.get("id") == exp.id and stale_reason(rec, "quick" if quick else "full", seed_list) is None


# ------------------------------------------------------------------------------------------------ one task
@dataclass
class TaskOut:
    """What one (experiment, seed) task hands back to the process that writes the record."""

    exp_id: str
    seed: int
    result: Result | None
    pngs: dict[str, bytes] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    traceback: str | None = None


def run_task(exp: type[Experiment], quick: bool, seed: int, want_plots: bool,
             progress: Callable[[int, int | None], None] | None = None) -> TaskOut:
    """Run ``exp`` once with ``seed`` in a private temporary folder; never raises for the experiment's own
    errors (they come back in ``error``/``traceback``), only for KeyboardInterrupt."""
    t0 = time.perf_counter()
    res, pngs, err, tb = None, {}, None, None
    with tempfile.TemporaryDirectory(prefix="cvprimer-lab-") as d:
        try:
            manual_seed(seed)
            ctx = Context(d, quick=quick, seed=seed, progress=Progress(progress), save_plots=want_plots)
            with blas_threads(exp.threads), plot_style() if want_plots else contextlib.nullcontext():
                res = exp().run(ctx)
            if not isinstance(res, Result):
                raise TypeError(f"{exp.id}: run must return a Result, got {type(res).__name__}")
            res.plots = list(res.plots or ctx.plots)
            res.series = {}  # the plots' inputs, drawn already: not carried to the record's process
            for p in res.plots if want_plots else ():
                # the plot, and its Chinese copy <stem>.zh.png where plots.save_png wrote one
                for name in (p.file, f"{p.file[:-4]}.zh.png"):
                    path = os.path.join(d, name)
                    if os.path.isfile(path):
                        with open(path, "rb") as fh:
                            pngs[name] = fh.read()
        except KeyboardInterrupt:
            raise
        except Exception as e:  # an experiment's bug must not stop the others; it is reported, never cached
            res, err, tb = None, f"{type(e).__name__}: {e}", traceback.format_exc()
    return TaskOut(exp.id, seed, res, pngs, loaded_files(exp.__module__), time.perf_counter() - t0, err, tb)


def _pool_task(exp: type[Experiment], quick: bool, seed: int, want_plots: bool) -> TaskOut:
    return run_task(exp, quick, seed, want_plots)


# ------------------------------------------------------------------------------------------------ the record
def _texts(exp: type[Experiment], key: str) -> dict[str, str] | None:
    d = {lang: exp.t(key, lang) for lang in LANGS}
    return d if any(d.values()) else None


def command_for(exp: type[Experiment], quick: bool, seed_list: Sequence[int]) -> str:
    """The command that reproduces exactly this record (mode, first seed and number of seeds)."""
    cmd = exp.command() + ("" if quick else " --full")
    if seed_list and seed_list[0] != 0:
        cmd += f" --seed {seed_list[0]}"
    return cmd + (f" --seeds {len(seed_list)}" if exp.stochastic else "")


def takeaway_for(exp: type[Experiment], agg: dict[str, Any]) -> dict[str, str] | None:
    """The answer, revised, of an aggregated result: ``exp.takeaway`` on the mean figures and the aggregated
    verdict (``unsettled`` included; None for a page), checked to be ``{"en": str, "zh": str}``, both non-empty.
    None for an experiment that declares no takeaway (``Experiment.completeness`` reports it)."""
    if exp._takeaway_problems():
        return None
    means = {k: (float("nan") if f.get("value") is None else float(f["value"])) for k, f in agg["figures"].items()}
    take = exp.takeaway(means, agg.get("verdict"))
    if not isinstance(take, dict) or any(not isinstance(take.get(lang), str) or not take[lang] for lang in LANGS):
        raise TypeError(f"{exp.id}: takeaway must return {{'en': str, 'zh': str}}, both non-empty, got {take!r:.80}")
    return {lang: take[lang] for lang in LANGS}


def build_record(exp: type[Experiment], outs: Sequence[TaskOut], quick: bool, seed_list: Sequence[int]) -> dict:
    """The record of one experiment from its tasks (one per seed, in seed order)."""
    files = sorted({f for o in outs for f in o.files})
    mode = "quick" if quick else "full"
    rec: dict[str, Any] = {
        "id": exp.id, "questions": list(exp.questions), "topic": exp.topic, "kind": exp.kind,
        "title": _texts(exp, "title"), "claim": _texts(exp, "claim"), "method": _texts(exp, "method"),
        "body": _texts(exp, "body"), "beyond_text": _texts(exp, "beyond"),
        "thresholds": dict(exp.thresholds), "reasons": {k: dict(v) for k, v in exp.reasons.items()},
        "reachable": list(exp.reachable), "quick_provisional": bool(exp.quick_provisional),
        "command": command_for(exp, quick, seed_list), "mode": mode, "seeds": list(seed_list),
        "code_version": code_key(exp.id, files, mode, seed_list), "code_files": files, "versions": versions(),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cores": usable_cores()},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(sum(o.seconds for o in outs), 3),
    }
    failed = next((o for o in outs if o.error is not None), None)
    if failed is not None:
        return {**rec, "status": "error", "error": f"seed {failed.seed}: {failed.error}",
                "traceback": failed.traceback, "figures": {}, "beyond": {}, "tables": [], "beyond_tables": [],
                "plots": [], "verdict": None, "evidence": None, "seed_agreement": None}
    results = [o.result for o in outs if o.result is not None]  # every task succeeded: none is None
    try:
        agg = aggregate(exp, results, list(seed_list))
    except Exception as e:  # a decide that breaks its contract is the experiment's error, reported like one
        return {**rec, "status": "error", "error": f"decide: {type(e).__name__}: {e}",
                "traceback": traceback.format_exc(), "figures": {}, "beyond": {}, "tables": [], "beyond_tables": [],
                "plots": [], "verdict": None, "evidence": None, "seed_agreement": None}
    try:
        take = takeaway_for(exp, agg)
    except Exception as e:  # a broken takeaway template is the experiment's error, like a broken decide
        return {**rec, "status": "error", "error": f"takeaway: {type(e).__name__}: {e}",
                "traceback": traceback.format_exc(), "figures": {}, "beyond": {}, "tables": [], "beyond_tables": [],
                "plots": [], "verdict": None, "evidence": None, "seed_agreement": None}
    first = results[0]
    return {**rec, "status": "ok", **agg, "takeaway": take,
            "tables": aggregate_tables([r.tables for r in results], seed_list),
            "beyond_tables": aggregate_tables([r.beyond_tables for r in results], seed_list),
            "plots": [{**p.to_json(), "seed": int(seed_list[0])} for p in first.plots],
            "notes": dict(first.notes) if first.notes else None, "notes_seed": int(seed_list[0])}


def write_record(out: str, rec: dict[str, Any], pngs: dict[str, bytes]) -> None:
    """The plots first, then ``result.json``, each atomically (a record never names a plot not yet written)."""
    folder = run_dir(out, rec["id"], rec["mode"])
    os.makedirs(folder, exist_ok=True)
    for name, data in pngs.items():
        if not plain_png(name):
            raise ValueError(f"lab: plot file name must be a plain '<stem>.png', got {name!r}")
        atomic_write(os.path.join(folder, name), data)
    atomic_write(os.path.join(folder, "result.json"),
                 json.dumps(rec, ensure_ascii=False, indent=1, allow_nan=False))


def run_one(exp: type[Experiment], out: str, quick: bool = True, seed: int = 0, seeds: int = 3,
            progress: Callable[[int, int | None], None] | None = None) -> dict[str, Any]:
    """Run one experiment over its seeds in this process and write its record; returns the record."""
    seed_list = seeds_for(exp, quick, seed, seeds)
    outs = [run_task(exp, quick, s, i == 0, progress) for i, s in enumerate(seed_list)]
    rec = build_record(exp, outs, quick, seed_list)
    write_record(out, rec, outs[0].pngs)
    return rec


# ------------------------------------------------------------------------------------------------ many
def run_many(exps: Sequence[type[Experiment]], out: str, quick: bool = True, seed: int = 0, seeds: int = 3,
             force: bool = False, show_progress: bool = True, jobs: int = 1,
             on_done: Callable[[dict[str, Any], bool], None] | None = None, comm: Any = None) -> list[dict[str, Any]]:
    """Run (or serve from the cache) each experiment; ``on_done(record, cached)`` as each one is finished.

    ``jobs`` > 1 runs the (experiment, seed) tasks in that many worker processes, longest first. ``comm``, a
    :class:`~cvprimer.distributed.comm.Communicator` with several ranks, spreads them over the MPI ranks instead:
    every rank must call this with the same arguments; rank 0 plans, writes and returns the records, the others
    return ``[]``. KeyboardInterrupt propagates; finished results stay on disk.
    """
    if jobs < 1:
        raise ValueError(f"lab run: --jobs must be >= 1, got {jobs}")
    mpi = comm is not None and comm.world_size > 1
    records: dict[str, dict[str, Any]] = {}
    plans: list[schedule.Plan] = []
    if not mpi or comm.is_main:
        for exp in exps:
            seed_list = seeds_for(exp, quick, seed, seeds)
            rec = load_record(out, exp.id, "quick" if quick else "full")
            if not force and is_fresh(rec, exp, quick, seed_list):
                assert rec is not None
                records[exp.id] = rec
                if on_done:
                    on_done(rec, True)
                continue
            prev = float(rec.get("seconds", 1.0)) / max(1, len(rec.get("seeds") or [1])) if rec else 1.0
            plans.append(schedule.Plan(exp, seed_list, prev))

    def finish(plan: schedule.Plan) -> None:
        outs = [plan.outs[s] for s in plan.seeds]
        rec = build_record(plan.exp, outs, quick, plan.seeds)
        write_record(out, rec, outs[0].pngs)
        records[plan.exp.id] = rec
        if on_done:
            on_done(rec, False)

    if mpi:
        schedule.over_mpi(comm, plans, quick, finish)
    elif jobs > 1 and sum(len(p.seeds) for p in plans) > 1:
        schedule.in_processes(plans, quick, jobs, finish, show_progress)
    else:
        schedule.in_this_process(plans, quick, finish, show_progress)
    if mpi and not comm.is_main:
        return []
    return [records[e.id] for e in exps if e.id in records]
