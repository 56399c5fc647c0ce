"""``results.json``: every cached record gathered into one machine-readable, stable document.

Schema (version 2)::

    {"version": 1, "created": ISO time, "mode": "quick" | "full" | "mixed" | null, "seeds": [...],
     "experiments": [{"id", "questions", "topic", "title", "kind", "claim", "verdict", "evidence",
                      "figures": {name: {"value" (mean over seeds), "unit", "spread", "per_seed"}},
                      "beyond": {...same...}, "beyond_evidence", "beyond_tables", "seed_agreement",
                      "per_seed_verdicts", "thresholds", "reasons", "reachable", "quick_provisional",
                      "tables": [{"name", "columns", "rows" (means), "spread" (grid), "caption"}],
                      "seconds", "plots", "command", "status", "code_version", "code_files", "versions",
                      "stale": null | why the record no longer matches the code}],
     "questions": {"1": {"title", "topic", "experiments": [ids], "status": "done" | "not run" | "pending"},
                   ..., "54": {...}}}

``pending``: no experiment answers the question yet; ``not run``: experiments exist but none has a result in
this folder. Texts are ``{"en": ..., "zh": ...}``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from cvprimer.core.serialization import atomic_write
from cvprimer.lab.registry import all_experiments, by_question
from cvprimer.lab.runner import RESULTS_VERSION, load_record


def collect(out: str) -> dict[str, Any]:
    """Gather the records under ``out/runs`` for the registered experiments (registry order)."""
    from cvprimer.lab.cache import stale_reason
    from cvprimer.lab.questions import QUESTIONS

    records = [r for r in (load_record(out, e.id) for e in all_experiments()) if r is not None]
    for r in records:
        r["stale"] = stale_reason(r) if r.get("status") == "ok" else None
    have = {r["id"] for r in records}
    modes = {r.get("mode") for r in records}
    seeds = sorted({s for r in records for s in r.get("seeds", [])})
    questions: dict[str, Any] = {}
    for q, exps in by_question().items():
        ids = [e.id for e in exps]
        status = "pending" if not ids else "done" if any(i in have for i in ids) else "not run"
        info = QUESTIONS[q]
        questions[str(q)] = {"title": dict(info.title), "seed_claim": dict(info.seed_claim), "topic": info.topic,
                             "experiments": ids, "status": status}
    return {"version": RESULTS_VERSION, "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "mode": (modes.pop() if len(modes) == 1 else "mixed") if modes else None, "seeds": seeds,
            "experiments": records, "questions": questions}


GENERATOR = "cvprimer lab"


def ours(path: str) -> bool:
    """Whether ``path`` is absent or a report file cvprimer's lab wrote (``results.json`` with our generator, or
    a page carrying our generator tag; earlier versions' files are recognised by their structure and title)."""
    if not os.path.lexists(path):
        return True
    if not os.path.isfile(path) or os.path.islink(path):
        return False
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(4096) if path.endswith(".html") else fh.read()
    except (OSError, UnicodeDecodeError):
        return False
    if path.endswith(".html"):
        return (f'<meta name="generator" content="{GENERATOR}">' in head
                or "<title>cvprimer lab:" in head or "<title>cvprimer 实验室" in head)
    try:
        doc = json.loads(head)
    except ValueError:
        return False
    return isinstance(doc, dict) and (doc.get("generator") == GENERATOR
                                      or {"version", "experiments", "questions"} <= set(doc))


def refuse_foreign(out: str, names: list[str]) -> None:
    """Raise ``FileExistsError`` naming the first of ``names`` in ``out`` that cvprimer did not write: the lab
    never overwrites a user's own ``index.html`` or ``results.json``."""
    for name in names:
        path = os.path.join(out, name)
        if not ours(path):
            raise FileExistsError(f"{path} exists and was not written by cvprimer lab; it is left alone: "
                                  f"choose another --out folder or move that file")


def write_results(out: str, results: dict[str, Any]) -> str:
    path = os.path.join(out, "results.json")
    refuse_foreign(out, ["results.json"])
    atomic_write(path, json.dumps({"generator": GENERATOR, **results}, ensure_ascii=False, indent=1,
                                  allow_nan=False))
    return path
