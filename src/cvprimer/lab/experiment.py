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

        def measure(self, ctx: Context) -> Result:   # measures; never plots, never writes a verdict
            ...
            return Result(figures={"rf_d2": Figure(5, "px")}, series={"field": field_map})

        def draw(self, res: Result, ctx: Context) -> None:   # plots what measure kept; runs no engine op
            fig, ax = ctx.figure()
            ax.imshow(res.series["field"])
            ctx.save_figure(fig, "field", alt_en=..., alt_zh=...)

        @staticmethod
        def decide(figures, thresholds):          # pure: measured numbers -> (verdict, evidence)
            ok = figures["rf_d2"] == 5
            return verdict_if(ok), evidence(en=..., zh=...)

The runner calls ``run`` once per seed, then ``decide`` on the measured values (the mean over seeds), so
a verdict is never typed by hand: it is a function of the figures and of thresholds fixed in the class.
``run`` is the frame's and is not overridden: it calls ``measure`` (every number; a plot asked for here is
refused) and then ``draw`` (the pictures, from what ``measure`` returned: its figures, tables and ``series``,
the curves and images kept for plotting only; an engine op or a draw from ``ctx.rng`` here is refused), so
measuring never depends on plotting and a plot never measures.
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
import re
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
    """A small table: column headers (bilingual ``{"en", "zh"}`` or plain) and rows of cells (numbers, short strings
    or bilingual ``{"en", "zh"}`` texts)."""

    name: str
    columns: Sequence[str | Text]
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
            if isinstance(v, Mapping) and v and all(isinstance(x, str) for x in v.values()):
                return {str(k): x for k, x in v.items()}  # a bilingual text cell {"en": ..., "zh": ...}
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
    #: what ``draw`` needs beyond the figures and tables (curves, images, per-step series), measured by
    #: ``measure`` for the plots alone: never written to the record, never seen by ``decide``
    series: dict[str, Any] = field(default_factory=dict, repr=False)

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
        self.done, self._cb = 0, callback
        self.total: int | None = None

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
        #: "measure" while :meth:`Experiment.measure` runs (a plot is refused), "draw" while ``draw`` runs
        self.phase = ""

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
        """A matplotlib figure in the house style (Agg backend): ``fig, axes = ctx.figure(1, 2)``.
        Only in ``draw``: measuring and plotting are kept apart."""
        from cvprimer.lab.plots import new_figure

        if self.phase == "measure":
            raise RuntimeError("Context.figure: plots are drawn in draw(), from what measure() returned; "
                               "measure() must not plot")

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


class _NoDraws:
    """``ctx.rng`` while ``draw`` runs: any use is refused (a random draw there would belong to measuring, and it
    would shift the draws of everything measured after it)."""

    def __init__(self, owner: str) -> None:
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"{self._owner}.draw used ctx.rng.{name}: random draws belong in measure(); draw() only "
                           "plots what measure() returned")


class _Num(float):
    """A figure as a takeaway template sees it: ``{name}`` is :func:`fmt`'s text, ``{name:pct}`` 100x with a %
    sign, ``{name:x}`` with a times sign, any other spec is Python's (``{name:.1f}``)."""

    def __format__(self, spec: str) -> str:
        v = float(self)
        if spec == "":
            return fmt(v)
        if spec == "pct":
            return f"{fmt(100 * v)}%"
        if spec == "x":
            return f"{fmt(v)}x"
        return format(v, spec)


class _Figures(dict):
    """The mapping a template is formatted with: figure names to :class:`_Num`; a missing name is an error that
    names the experiment."""

    def __init__(self, exp_id: str, figures: Mapping[str, float]) -> None:
        super().__init__((k, _Num(float("nan") if v is None else v)) for k, v in figures.items())
        self.exp_id = exp_id

    def __missing__(self, key: str) -> Any:
        raise KeyError(f"{self.exp_id}: takeaway template names figure {key!r}, which the figures lack")


_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}")


def takeaway_fields(template: str) -> list[tuple[str, str]]:
    """The ``(figure, spec)`` placeholders of a takeaway template, in order."""
    return [(m.group(1), m.group(2) or "") for m in _FIELD.finditer(template)]


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
    # the report's label of each figure, {name or pattern with {slot}s: {"en", "zh"}}, and the translations of the
    # slot values ({value: {"en", "zh"}}); see cvprimer.lab.report.zh (a Figure's own label comes first)
    labels: ClassVar[Mapping[str, Text]] = {}
    terms: ClassVar[Mapping[str, Text]] = {}
    # The answer, revised (what to say in an interview now that it is measured), built by ``takeaway``:
    # ``key_term`` the term to use ({"en", "zh"}); ``key_figure`` the figure whose number proves it (one name, or
    # {verdict: name}); ``answer`` {verdict: {"en": template, "zh": template}} for an experiment, each template 1-3
    # sentences naming the key figure as ``{name}`` (``{name:pct}``, ``{name:.2f}``, ... see ``_Num``), or for a
    # page one fixed {"en", "zh"} answer drawn from its body. An experiment may override ``takeaway`` instead.
    key_term: ClassVar[Mapping[str, str]] = {}
    key_figure: ClassVar[str | Mapping[str, str]] = ""
    answer: ClassVar[Mapping[str, Any]] = {}

    def measure(self, ctx: Context) -> Result:  # pragma: no cover - abstract
        """Every measurement of one seed: figures (the claim's and beyond it), tables, notes and the ``series``
        that ``draw`` plots. No plot here (``ctx.figure`` refuses)."""
        raise NotImplementedError(f"{type(self).__name__}.measure")

    def draw(self, res: Result, ctx: Context) -> None:
        """The plots of one seed, from ``res`` alone (``ctx.figure`` / ``ctx.save_figure``); no engine op may
        run here. The default draws nothing."""

    def run(self, ctx: Context) -> Result:
        """``measure`` then ``draw``: what the runner calls once per seed (not overridden)."""
        from cvprimer.core.function import observe_ops

        ctx.phase = "measure"
        try:
            res = self.measure(ctx)
        finally:
            ctx.phase = ""
        if not isinstance(res, Result):
            raise TypeError(f"{type(self).__name__}.measure must return a Result, got {type(res).__name__}")
        ran: list[str] = []
        ctx.phase, rng = "draw", ctx.rng
        ctx.rng = _NoDraws(type(self).__name__)  # type: ignore[assignment]  # a plot must not consume the seed's draws
        try:
            with observe_ops(lambda fn, *_: ran.append(fn.__name__)):
                self.draw(res, ctx)
        finally:
            ctx.phase, ctx.rng = "", rng
        if ran:
            raise RuntimeError(f"{type(self).__name__}.draw ran {len(ran)} engine op(s) (first: {ran[0]}): "
                               "measuring belongs in measure(), draw() only plots what it returned")
        res.plots = list(res.plots or ctx.plots)
        return res

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        raise NotImplementedError("decide")  # pragma: no cover - pages have none

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        """Sentences about the figures beyond the seed's claim (computed from them; shown apart, no verdict)."""
        return None

    @classmethod
    def key_for(cls, verdict: str | None) -> str:
        """The figure whose number proves the answer for ``verdict`` or an answer key ``verdict:case`` ("" for a
        page)."""
        if isinstance(cls.key_figure, str):
            return cls.key_figure
        key = verdict or ""
        return str(cls.key_figure.get(key, "") or cls.key_figure.get(key.partition(":")[0], "")
                   or next(iter(cls.key_figure.values()), ""))

    @classmethod
    def takeaway_case(cls, figures: Mapping[str, float], verdict: str) -> str:
        """Which variant of ``answer[verdict]`` the figures call for, ``""`` for the plain one. A verdict that
        covers several situations (``nuanced``: which part of the claim failed) names them here and declares
        ``answer["nuanced:<case>"]``; the plain ``answer[verdict]`` stays the fallback."""
        return ""

    @classmethod
    def answer_key(cls, figures: Mapping[str, float], verdict: str) -> str:
        """The key of ``answer`` that ``takeaway`` fills for ``verdict`` on ``figures``."""
        case = cls.takeaway_case(figures, verdict) if verdict in VERDICTS else ""
        key = f"{verdict}:{case}" if case else verdict
        return key if key in cls.answer else verdict

    @classmethod
    def takeaway(cls, figures: Mapping[str, float], verdict: str | None) -> Text:
        r"""The answer, revised: 2-4 sentences per language saying what to answer now that it is measured.

        ``verdict`` is the aggregated outcome (a page passes None) and ``figures`` the mean figures it was decided
        on. The sentences are ``answer[verdict]`` with the figures filled in, then the key term; ``unsettled``
        says that the seeds disagree and quotes the key figure. Returns ``{"en": str, "zh": str}``."""
        term = {lang: str(cls.key_term.get(lang, "")) for lang in LANGS}
        if cls.kind == "page" or verdict is None:
            body = {lang: str(cls.answer.get(lang, "")) for lang in LANGS}
        elif verdict == UNSETTLED:
            key = cls.key_for(verdict)
            v = _Figures(cls.id, figures)[key]
            body = {"en": f"The seeds disagree here, so this run does not settle the claim: at least one comparison "
                          f"sits within the run-to-run noise and the verdict flips with the random draw (the key "
                          f"figure averages {v} over the seeds). Give the claim with its conditions and say the "
                          f"measured effect is not robust at this size; a full run with more seeds decides.",
                    "zh": f"各随机种子的结论不一致，本次运行无法判定这一说法：至少有一项比较落在运行间的噪声之内，"
                          f"结论随随机抽样而翻转（关键数字在各随机种子上的平均值为 {v}）。回答时给出说法及其成立条件，"
                          f"并说明在这个规模下测得的效应并不稳健；用更多随机种子的完整模式运行才能定论。"}
        else:
            if verdict not in cls.answer:
                raise ValueError(f"{cls.__name__}: no takeaway answer for verdict {verdict!r} "
                                 f"(answer has {sorted(cls.answer)})")
            figs = _Figures(cls.id, figures)
            chosen = cls.answer[cls.answer_key(figures, verdict)]
            body = {lang: str(chosen[lang]).format_map(figs) for lang in LANGS}
        return {"en": f"{body['en']} Key term: {term['en']}." if term["en"] else body["en"],
                "zh": f"{body['zh']}关键词：{term['zh']}。" if term["zh"] else body["zh"]}

    @classmethod
    def key_text(cls, figures: Mapping[str, float], verdict: str, lang: str = "en") -> str:
        """The key figure's number exactly as ``takeaway`` writes it for ``verdict`` (what tests look for)."""
        if verdict == UNSETTLED or verdict not in cls.answer:
            return format(_Figures(cls.id, figures)[cls.key_for(verdict)], "")
        chosen = cls.answer_key(figures, verdict)
        key = cls.key_for(chosen)
        spec = next((s for k, s in takeaway_fields(str(cls.answer[chosen][lang])) if k == key), "")
        return format(_Figures(cls.id, figures)[key], spec)

    @classmethod
    def _takeaway_problems(cls) -> list[str]:
        """What the takeaway declaration lacks (an overridden ``takeaway`` only needs a key term)."""
        gaps = []
        if any(not str(cls.key_term.get(lang, "")).strip() for lang in LANGS):
            gaps.append("takeaway: key_term needs 'en' and 'zh'")
        # (a classmethod bound to its class has __func__; the checker types it as a plain callable)
        if cls.takeaway.__func__ is not Experiment.takeaway.__func__:  # type: ignore[attr-defined]
            return gaps
        if cls.kind == "page":
            if any(not isinstance(cls.answer.get(lang), str) or not cls.answer[lang].strip() for lang in LANGS):
                gaps.append("takeaway: a page's answer needs fixed 'en' and 'zh' sentences")
            return gaps
        gaps += [f"takeaway: no answer for reachable verdict {v!r}" for v in cls.reachable if v not in cls.answer]
        for v in cls.answer:
            if v.partition(":")[0] not in cls.reachable:
                gaps.append(f"takeaway: answer {v!r} is for a verdict the experiment cannot reach")
                continue
            key = cls.key_for(v)
            for lang in LANGS:
                tpl = str(cls.answer[v].get(lang, "")) if isinstance(cls.answer[v], Mapping) else ""
                if not tpl.strip():
                    gaps.append(f"takeaway: answer[{v!r}] lacks {lang!r}")
                elif not key or key not in [k for k, _ in takeaway_fields(tpl)]:
                    gaps.append(f"takeaway: answer[{v!r}][{lang!r}] does not quote the key figure {{{key}}}")
        return gaps

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
        if cls.answer or cls.key_term:  # a takeaway, once declared, is whole (completeness() requires one)
            gaps = cls._takeaway_problems()
            if gaps:
                raise ValueError(f"{name}: {gaps[0]}")

    @classmethod
    def completeness(cls) -> list[str]:
        """What the declaration still lacks for a signed verdict (tests require an empty list): a reason for
        every threshold, for an experiment the verdicts its ``decide`` can reach, and the answer, revised (a key
        term and a template quoting the key figure for every reachable verdict; a page's fixed answer)."""
        gaps = [f"threshold {k!r} has no reason" for k in cls.thresholds if k not in cls.reasons]
        if cls.kind == "experiment" and not cls.reachable:
            gaps.append("reachable verdicts not declared")
        return gaps + cls._takeaway_problems()
