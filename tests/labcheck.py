"""Shared checks for the lab's experiment tests (``from labcheck import edges, run_tiny, reached``).

``edges`` drives a ``decide`` exactly at one threshold and one floating-point step (one ULP, ``np.nextafter``)
either side, so a threshold shifted by any amount or a ``<`` turned into ``<=`` fails a test. ``run_tiny`` runs
an experiment's real ``run()`` at the tests' size (``Context(tiny=True)``: quick mode, shrunk further where the
experiment's ``ctx.pick`` offers a tiny value), so its measurement can be recomputed independently.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from cvprimer.analysis.timing import blas_threads
from cvprimer.core.random import manual_seed
from cvprimer.lab.experiment import Context, Experiment, Result


def verdict(exp: type[Experiment], figures: Mapping[str, float], thresholds: Mapping[str, float] | None = None) -> str:
    """The verdict ``decide`` returns (its evidence checked to be bilingual and non-empty)."""
    v, ev = exp.decide(dict(figures), dict(exp.thresholds if thresholds is None else thresholds))
    assert ev.get("en") and ev.get("zh"), f"{exp.id}: decide returned an empty evidence sentence"
    return v


def edges(exp: type[Experiment], make: Callable[[float], Mapping[str, float]], threshold: str,
          below: str, at: str, above: str, value: float | None = None) -> None:
    """Assert the verdicts one ULP below, exactly at, and one ULP above a threshold.

    ``make(v)`` returns a full set of figures in which the quantity compared with ``thresholds[threshold]``
    equals ``v`` (every other figure held where the branch under test is live). ``value`` overrides the point
    (for a threshold applied to a derived quantity, e.g. ``1 + t``).
    """
    t = float(exp.thresholds[threshold]) if value is None else float(value)
    lo, hi = np.nextafter(t, -np.inf), np.nextafter(t, np.inf)
    got = (verdict(exp, make(lo)), verdict(exp, make(t)), verdict(exp, make(hi)))
    assert got == (below, at, above), (f"{exp.id}: around {threshold} = {t!r} expected (below, at, above) = "
                                       f"{(below, at, above)}, got {got}")


def reached(exp: type[Experiment], examples: Iterable[Mapping[str, float]]) -> None:
    """Assert that the examples reach exactly the verdicts the experiment declares ``reachable``."""
    got = {verdict(exp, f) for f in examples}
    assert got == set(exp.reachable), f"{exp.id}: examples reach {sorted(got)}, declared {sorted(exp.reachable)}"


def run_tiny(exp: type[Experiment], seed: int = 0, **ctx: Any) -> Result:
    """The experiment's real ``run()`` at the tests' size, seeded as the runner seeds it, plots not written."""
    manual_seed(seed)
    with tempfile.TemporaryDirectory() as d, blas_threads(exp.threads):
        res = exp().run(Context(d, quick=True, seed=seed, save_plots=False, tiny=True, **ctx))
    assert isinstance(res, Result)
    return res
