"""Finding experiments: every :class:`~cvprimer.lab.experiment.Experiment` subclass with an ``id`` defined in a
module of :mod:`cvprimer.lab.experiments` (one file per question or tight group), and selecting them by id,
question (``q19`` or ``19``) or topic."""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from collections.abc import Iterable

from cvprimer.lab.experiment import TOPIC_KEYS, Experiment
from cvprimer.lab.questions import QUESTIONS


class SelectionError(ValueError):
    """A selector that names no experiment (the message lists the valid ones)."""


@functools.lru_cache(maxsize=1)
def all_experiments() -> tuple[type[Experiment], ...]:
    """Every registered experiment class, ordered by first question then id. Ids are unique."""
    import cvprimer.lab.experiments as pkg

    found: dict[str, type[Experiment]] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
        for obj in vars(mod).values():
            if (isinstance(obj, type) and issubclass(obj, Experiment) and obj is not Experiment
                    and obj.__module__ == mod.__name__ and obj.id):
                obj.check()
                if obj.id in found and found[obj.id] is not obj:
                    raise ValueError(f"lab: experiment id {obj.id!r} is defined twice "
                                     f"({found[obj.id].__module__} and {obj.__module__})")
                found[obj.id] = obj
    return tuple(sorted(found.values(), key=lambda e: (min(e.questions), e.id)))


def get(exp_id: str) -> type[Experiment]:
    for e in all_experiments():
        if e.id == exp_id:
            return e
    raise SelectionError(f"unknown experiment {exp_id!r}; valid ids: {', '.join(e.id for e in all_experiments())}")


def by_question() -> dict[int, list[type[Experiment]]]:
    """Question number -> the experiments and pages that answer it (every question number is a key)."""
    out: dict[int, list[type[Experiment]]] = {q: [] for q in sorted(QUESTIONS)}
    for e in all_experiments():
        for q in e.questions:
            out[q].append(e)
    return out


_QUESTION = re.compile(r"^q?0*(\d{1,2})$", re.IGNORECASE)


def select(selectors: Iterable[str]) -> list[type[Experiment]]:
    """Experiments named by ids, question numbers (``q19``/``19``) or topics, in registry order, no repeats.

    Raises :class:`SelectionError` naming the bad selector and the valid choices.
    """
    exps = all_experiments()
    chosen: set[str] = set()
    for sel in selectors:
        s = sel.strip()
        m = _QUESTION.match(s)
        if m:
            q = int(m.group(1))
            if q not in QUESTIONS:
                raise SelectionError(f"question {s!r} is out of range; the source document has questions "
                                     f"1..{len(QUESTIONS)}")
            hits = [e.id for e in exps if q in e.questions]
            if not hits:
                raise SelectionError(f"question {q} has no experiment yet; answered questions: "
                                     f"{', '.join(str(n) for n, es in by_question().items() if es)}")
        elif s in TOPIC_KEYS:
            hits = [e.id for e in exps if e.topic == s]
            if not hits:
                raise SelectionError(f"topic {s!r} has no experiment yet")
        else:
            hits = [get(s).id]
        chosen.update(hits)
    return [e for e in exps if e.id in chosen]
