r"""The anatomy of a lab experiment: :class:`Experiment`, what it returns (:class:`Result`, :class:`Figure`,
:class:`Table`, :class:`Plot`) and what it is given (:class:`Context`).

An experiment turns one claim of the seed document into a measurement::

    class DilatedField(Experiment):
        id = "q03-dilated-rf"
        questions = (3,)
        topic = "architecture"
        thresholds = {"rel_tol": 0.0}            # declared before anything runs
        text = {"en": {"title": ..., "claim": ..., "method": ...},
                "zh": {"title": ..., "claim": ..., "method": ...}}

        def run(self, ctx: Context) -> Result:   # measures; never writes a verdict
            ...
            return Result(figures={"rf_d2": Figure(5, "px")})

        @staticmethod
        def decide(figures, thresholds):          # pure: measured numbers -> (verdict, evidence)
            ok = figures["rf_d2"] == 5
            return verdict_if(ok), evidence(en=..., zh=...)

The runner calls ``run`` once per seed, then ``decide`` on the measured values (the mean over seeds), so
a verdict is never typed by hand: it is a function of the figures and of thresholds fixed in the class.
Unit tests feed ``decide`` synthetic figures on both sides of every threshold.

A *page* (``kind = "page"``) answers a question with no single measurable claim: its ``text`` carries a
``body`` (paragraphs separated by blank lines) and ``run`` may still measure a small live demo; its verdict
is ``None`` and ``decide`` is never called.

Texts are bilingual: every text dict has ``"en"`` and ``"zh"`` entries, kept in the experiment's own file so
a translation never drifts from the code it describes.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from cvprimer.lab.questions import QUESTIONS, TOPICS

CONFIRMED, REFUTED, NUANCED = "confirmed", "refuted", "nuanced"
VERDICTS = (CONFIRMED, REFUTED, NUANCED)  # what one seed's ``decide`` may return
UNSETTLED = "unsettled"  # the runner's outcome when the seeds do not all reach the same verdict
OUTCOMES = (*VERDICTS, UNSETTLED)
LANGS = ("en", "zh")
TOPIC_KEYS = tuple(TOPICS)  # topics live in one place: questions.py

Text = dict[str, str]  # {"en": ..., "zh": ...}


def plain_png(name: Any) -> bool:
    """Whether ``name`` is a plain ``<stem>.png`` file name (no folder part, no leading dot): the only plot names
    written into a run folder or read back from a record, which may come from a shared or downloaded folder."""
    return (isinstance(name, str) and len(name) > 4 and name.endswith(".png") and not name.startswith(".")
            and "/" not in name and "\\" not in name and name == os.path.basename(name))


def evidence(en: str, zh: str) -> Text:
    """The evidence sentence of a verdict in both languages (each quotes the numbers and the threshold)."""
    if not en or not zh:
        raise ValueError("evidence: both the English and the Chinese sentence are required")
    return {"en": en, "zh": zh}


def fmt(x: float, digits: int = 3) -> str:
    """A measured number for a sentence: ``digits`` significant digits, thousands separators for big ints."""
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.{digits}g}"


@dataclass
class Figure:
    """One measured number: ``value`` with its ``unit`` (``""`` for a pure number) and an optional label."""

    value: float
    unit: str = ""
    label: Text | None = None

    def __post_init__(self) -> None:
        if isinstance(self.value, (bool, np.bool_)):
            self.value = float(self.value)
        try:
            self.value = float(self.value)
        except (TypeError, ValueError):
            raise TypeError(f"Figure: value must be a number, got {type(self.value).__name__}") from None

    def to_json(self) -> dict[str, Any]:
        v = self.value if math.isfinite(self.value) else None
        d: dict[str, Any] = {"value": v, "unit": self.unit}
        if self.label:
            d["label"] = dict(self.label)
        return d


@dataclass
class Table:
    """A small table: column headers (bilingual or plain) and rows of cells (numbers or short strings)."""

    name: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: Text | None = None

    def __post_init__(self) -> None:
        for i, r in enumerate(self.rows):
            if len(r) != len(self.columns):
                raise ValueError(f"Table {self.name!r}: row {i} has {len(r)} cells, expected {len(self.columns)}")

    def to_json(self) -> dict[str, Any]:
        def cell(v: Any) -> Any:
            if isinstance(v, (np.integer,)):
                return int(v)
            if isinstance(v, (float, np.floating)):
                return float(v) if math.isfinite(float(v)) else None
            return v if isinstance(v, (int, str)) or v is None else str(v)

        return {"name": self.name, "columns": list(self.columns), "rows": [[cell(c) for c in r] for r in self.rows],
                "caption": dict(self.caption) if self.caption else None}


@dataclass
class Plot:
    """A PNG written by :meth:`Context.save_figure`: its file name (relative to the experiment's folder),
    the alt text (what the picture shows, both languages) and an optional caption."""

    file: str
    alt: Text
    caption: Text | None = None

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "alt": dict(self.alt), "caption": dict(self.caption) if self.caption else None}


@dataclass
class Result:
    """What ``run`` returns: figures by name, tables, plots and free notes (bilingual). No verdict: the
    runner computes it from ``figures`` with the experiment's ``decide``.

    ``beyond`` and ``beyond_tables`` hold what the lab measures *beyond the seed's claim* (an extra method, a
    wider setting, a caveat of our own). They are shown under their own heading and are never passed to
    ``decide``: by construction they cannot move the verdict or enter the errata. ``notes`` must be computed
    from the figures (no measured number in fixed text)."""

    figures: dict[str, Figure] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    notes: Text | None = None
    beyond: dict[str, Figure] = field(default_factory=dict)
    beyond_tables: list[Table] = field(default_factory=list)

    def __post_init__(self) -> None:
        both = set(self.figures) & set(self.beyond)
        if both:
            raise ValueError(f"Result: figure names used both for the claim and beyond it: {sorted(both)}")

    def values(self) -> dict[str, float]:
        """The claim's figures as plain numbers (what ``decide`` sees)."""
        return {k: f.value for k, f in self.figures.items()}

    def beyond_values(self) -> dict[str, float]:
        """The figures beyond the seed's claim as plain numbers (what ``explain_beyond`` sees)."""
        return {k: f.value for k, f in self.beyond.items()}


class Progress:
    """Progress inside a long experiment: ``ctx.progress.update(n)`` / ``set_total``; drawn by the runner."""

    def __init__(self, callback: Callable[[int, int | None], None] | None = None) -> None:
        self.done, self.total, self._cb = 0, None, callback

    def set_total(self, total: int) -> None:
        self.total, self.done = int(total), 0
        if self._cb:
            self._cb(self.done, self.total)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._cb:
            self._cb(self.done, self.total)


class Context:
    """What an experiment is given: ``quick`` (less data / fewer steps, never a different experiment),
    ``seed`` and a seeded ``rng``, ``out_dir`` (its own folder for PNGs), ``progress`` and plot helpers."""

    def __init__(self, out_dir: str, quick: bool = True, seed: int = 0, progress: Progress | None = None,
                 save_plots: bool = True, tiny: bool = False) -> None:
        self.out_dir, self.quick, self.seed = out_dir, bool(quick) or bool(tiny), int(seed)
        self.tiny = bool(tiny)  # the unit tests' size: quick mode shrunk further where ``pick`` offers it
        self.rng = np.random.default_rng(seed)
        self.progress = progress or Progress()
        self.save_plots = save_plots
        self.plots: list[Plot] = []
        self.started = time.perf_counter()

    def pick(self, quick: Any, full: Any, tiny: Any = None) -> Any:
        """``quick`` in quick mode, ``full`` otherwise: the one knob an experiment turns between modes.

        ``tiny`` (optional) is the size the unit tests run ``run()`` at (``Context(..., tiny=True)``); where it
        is not given the tests run the quick size. It never reaches a report."""
        if self.tiny and tiny is not None:
            return tiny
        return quick if self.quick else full

    def child_rng(self) -> np.random.Generator:
        """An independent generator derived from this run's seed (for a sub-task that needs its own stream)."""
        return np.random.default_rng(self.rng.integers(2**63))

    def figure(self, nrows: int = 1, ncols: int = 1, size: tuple[float, float] | None = None) -> tuple[Any, Any]:
        """A matplotlib figure in the house style (Agg backend): ``fig, axes = ctx.figure(1, 2)``."""
        from cvprimer.lab.plots import new_figure

        return new_figure(nrows, ncols, size)

    def save_figure(self, fig: Any, name: str, alt_en: str, alt_zh: str, caption: Text | None = None) -> Plot:
        """Write ``fig`` as ``<out_dir>/<name>.png`` (atomically), close it and record the plot."""
        from cvprimer.lab.plots import save_png

        if not plain_png(f"{name}.png"):
            raise ValueError(f"save_figure: name must be a plain file stem, got {name!r}")
        plot = Plot(f"{name}.png", {"en": alt_en, "zh": alt_zh}, caption)
        if self.save_plots:
            os.makedirs(self.out_dir, exist_ok=True)
            save_png(fig, os.path.join(self.out_dir, plot.file))
        else:
            from cvprimer.lab.plots import close

            close(fig)
        self.plots.append(plot)
        return plot


def verdict_if(confirmed: bool, nuanced: bool = False) -> str:
    """``confirmed`` when the claim held, ``nuanced`` when it held only in part, ``refuted`` otherwise."""
    return CONFIRMED if confirmed else NUANCED if nuanced else REFUTED


class Experiment:
    """Base class of every lab experiment and page (see the module docstring)."""

    id: ClassVar[str] = ""
    questions: ClassVar[tuple[int, ...]] = ()
    topic: ClassVar[str] = ""
    kind: ClassVar[str] = "experiment"  # or "page"
    stochastic: ClassVar[bool] = True  # run once per seed in full mode; False: once (deterministic)
    # BLAS/conv threads while ``run`` executes: the lab's nets are small, and one thread is faster for them on a
    # 2-core machine (measured up to 7x on a busy one); None leaves the library's default (all cores)
    threads: ClassVar[int | None] = 1
    thresholds: ClassVar[Mapping[str, float]] = {}
    # one bilingual line per threshold saying why it sits where it does: a measured noise floor (quote it), theory,
    # or a named convention; ``check`` refuses a threshold without one
    reasons: ClassVar[Mapping[str, Text]] = {}
    # the verdicts ``decide`` can return; tests show each one reached and docs/lab.md lists them
    reachable: ClassVar[tuple[str, ...]] = ()
    # True: quick mode is known to be too small to settle this claim; the report marks its quick verdict provisional
    quick_provisional: ClassVar[bool] = False
    # {"en": {"title", "claim", "method", ["body"], ["beyond"]}, "zh": ...}; title neutral (a topic or the question,
    # never a verdict); no measured number in any of them; "beyond" says what the lab adds beyond the seed's claim
    text: ClassVar[Mapping[str, Mapping[str, str]]] = {}

    def run(self, ctx: Context) -> Result:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.run")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        raise NotImplementedError("decide")  # pragma: no cover - pages have none

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        """Sentences about the figures beyond the seed's claim (computed from them; shown apart, no verdict)."""
        return None

    # ------------------------------------------------------------------------------------------------
    @classmethod
    def t(cls, key: str, lang: str = "en") -> str:
        """One text of this experiment in ``lang`` (``""`` when absent)."""
        return str(cls.text.get(lang, {}).get(key, ""))

    @classmethod
    def command(cls) -> str:
        return f"cvprimer lab run {cls.id}"

    @classmethod
    def check(cls) -> None:
        """Validate the declaration (called by the registry): a broken experiment fails loudly at import."""
        name = cls.__name__
        if not cls.id or cls.id != cls.id.lower() or " " in cls.id:
            raise ValueError(f"{name}: id must be a lower-case slug like 'q03-dilated-rf', got {cls.id!r}")
        if not cls.questions or any(q not in QUESTIONS for q in cls.questions):
            raise ValueError(f"{name}: questions must be numbers in 1..{len(QUESTIONS)}, got {cls.questions!r}")
        if cls.topic not in TOPIC_KEYS:
            raise ValueError(f"{name}: topic must be one of {TOPIC_KEYS}, got {cls.topic!r}")
        first = QUESTIONS[min(cls.questions)].topic
        if cls.topic != first:
            raise ValueError(f"{name}: topic {cls.topic!r} differs from question {min(cls.questions)}'s topic "
                             f"{first!r} in questions.py (the report and `lab list` file it there)")
        if cls.kind not in ("experiment", "page"):
            raise ValueError(f"{name}: kind must be 'experiment' or 'page', got {cls.kind!r}")
        needed = ("title", "claim", "method") + (("body",) if cls.kind == "page" else ())
        for lang in LANGS:
            missing = [k for k in needed if not cls.t(k, lang)]
            if missing:
                raise ValueError(f"{name}: text[{lang!r}] lacks {missing}")
        if cls.kind == "experiment" and cls.decide is Experiment.decide:
            raise ValueError(f"{name}: an experiment needs a decide(figures, thresholds) staticmethod")
        extra = set(cls.reasons) - set(cls.thresholds)
        if extra:
            raise ValueError(f"{name}: reasons for thresholds that do not exist: {sorted(extra)}")
        for key, why in cls.reasons.items():
            if not isinstance(why, Mapping) or any(not str(why.get(lang, "")).strip() for lang in LANGS):
                raise ValueError(f"{name}: reasons[{key!r}] must be {{'en': ..., 'zh': ...}}, both non-empty")
        allowed = VERDICTS if cls.kind == "experiment" else ()
        if any(v not in allowed for v in cls.reachable):
            raise ValueError(f"{name}: reachable must be a subset of {allowed}, got {cls.reachable!r}")

    @classmethod
    def completeness(cls) -> list[str]:
        """What the declaration still lacks for a signed verdict (tests require an empty list): a reason for
        every threshold, and for an experiment the verdicts its ``decide`` can reach."""
        gaps = [f"threshold {k!r} has no reason" for k in cls.thresholds if k not in cls.reasons]
        if cls.kind == "experiment" and not cls.reachable:
            gaps.append("reachable verdicts not declared")
        return gaps
