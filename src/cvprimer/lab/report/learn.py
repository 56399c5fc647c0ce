"""The report as a study tool: the takeaway box, links between related questions, question mentions turned into
links, and where each experiment's code lives with an excerpt of its ``measure`` and ``decide``.

Every function here returns HTML built from escaped text only: a text is escaped first and only then are the
question mentions in the *escaped* text wrapped in ``<a href="#qN">`` (a strict pattern on digits, so no markup
can be smuggled through a mention).
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Container, Mapping
from html import escape
from typing import Any

from cvprimer.lab.questions import QUESTIONS

# the report's own words for the study tools, beside the page's UI words of i18n.py
LEARN_UI: dict[str, dict[str, str]] = {
    "en": {
        "takeaway": "The answer, revised", "related": "Related:", "source": "Code:",
        "code_summary": "The code that measured it: measure and decide", "source_missing": "source not available",
        "source_unknown": "no experiment with this id in the installed lab",
        "controls_toggle": "Filters", "start_over": "Hide all again",
    },
    "zh": {
        "takeaway": "修正后的答案", "related": "相关题目：", "source": "代码：",
        "code_summary": "实测所用的代码：measure 与 decide", "source_missing": "无法取得源代码",
        "source_unknown": "当前安装的实验室中没有这个实验编号",
        "controls_toggle": "筛选", "start_over": "全部重新隐藏",
    },
}

# questions a learner should read together, written as the report shows them; the relation is the symmetric
# closure of these groups
RELATED_GROUPS: tuple[str, ...] = (
    "q16 q25 q34 q47",  # activation functions and ReLU
    "q3 q6 q21 q44",  # receptive fields
    "q19 q20 q23",  # initialization and gradient flow
    "q29 q22 q4",  # over-fitting and its remedies
    "q27 q22 q51",  # regularization and generalization
    "q42 q51",  # augmentation as a regularizer
    "q1 q2 q48",  # normalizing inputs and activations
    "q23 q48",  # batch norm and gradient flow
    "q11 q12 q14 q45",  # counting parameters and FLOPs
    "q13 q14 q17 q45 q54",  # the conv family and its cost
    "q9 q10 q35 q36",  # sampling and pooling
    "q5 q18 q30 q53",  # optimizers, batches and the update rule
    "q7 q43 q46",  # tuning, warm-up and convergence
    "q35 q37 q41 q53",  # back-propagation by hand
    "q26 q38 q52",  # conv vs fully connected
    "q8 q24 q39 q40 q52",  # depth and why deep CNNs work
    "q15 q39",  # residual addition vs dense concatenation
    "q28 q33 q41",  # losses
    "q31 q32",  # frameworks and multi-device training
    "q40 q49 q50",  # beyond the classic CNN
)


def _closure(groups: tuple[str, ...]) -> dict[int, tuple[int, ...]]:
    """Question -> the questions it shares a group with (sorted); every question of the source text is a key."""
    rel: dict[int, set[int]] = {n: set() for n in QUESTIONS}
    for g in groups:
        nums = []
        for word in g.split():
            m = re.fullmatch(r"q(\d+)", word)
            if not m or int(m.group(1)) not in QUESTIONS:
                raise ValueError(f"RELATED_GROUPS: {word!r} in {g!r} is not a question q1..q{len(QUESTIONS)}")
            nums.append(int(m.group(1)))
        for a in nums:
            rel[a].update(b for b in nums if b != a)
    return {n: tuple(sorted(s)) for n, s in rel.items()}


RELATED: dict[int, tuple[int, ...]] = _closure(RELATED_GROUPS)


def learn_ui(lang: str) -> dict[str, str]:
    """The study tools' words in ``lang`` (English for an unknown language)."""
    return LEARN_UI.get(lang, LEARN_UI["en"])


def related_html(n: int, lang: str) -> str:
    """The "Related: q16 · q25" line of question ``n`` (empty when it has no related question)."""
    others = RELATED.get(int(n), ())
    if not others:
        return ""
    links = " · ".join(f'<a href="#q{m}">q{m}</a>' for m in others)
    return f'<p class="related"><span class="kv">{escape(learn_ui(lang)["related"])}</span> {links}</p>'


# a mention of a question in already-escaped text: "question 19", "questions 1 and 2" / "1, 2 and 3" (each number
# linked), a bare "q19" that is not part of an id such as q19-zero-init, or "第 19 题" / "第 1、2 题"; digits only,
# so a link's target is always #q<digits>
_SEP_EN = r"(?:,\s*|\s+and\s+|\s+or\s+|\s*&amp;\s*)"
_SEP_ZH = r"(?:\s*[、,，和与及]\s*)"
_MENTION = re.compile(
    rf"(?P<word>\b[Qq]uestions?\s+)(?P<n1>\d{{1,2}}(?:{_SEP_EN}\d{{1,2}})*)\b(?![\w-])"
    r"|(?<![\w-])(?P<q>[Qq])(?P<n2>\d{1,2})(?![\w-])"
    rf"|(?P<zh>第\s*)(?P<n3>\d{{1,2}}(?:{_SEP_ZH}\d{{1,2}})*)(?P<ti>\s*题)")
_NUMBER = re.compile(r"\d{1,2}")


def linkify(escaped: str, valid: Container[int] = QUESTIONS) -> str:
    """``escaped`` (text already passed through ``html.escape``) with every mention of a question number in
    ``valid`` wrapped in a link to its section ``#qN``; other numbers are left as they are. A single "第 N 题"
    is linked whole, a list ("questions 1 and 2", "第 1、2 题") number by number."""

    def one(m: re.Match[str]) -> str:
        n = int(m.group(0))
        return f'<a href="#q{n}">{m.group(0)}</a>' if n in valid else m.group(0)

    def sub(m: re.Match[str]) -> str:
        if m.group("n2"):
            n = int(m.group("n2"))
            return f'<a href="#q{n}">{m.group("q")}{m.group("n2")}</a>' if n in valid else m.group(0)
        if m.group("n1"):
            return m.group("word") + _NUMBER.sub(one, m.group("n1"))
        nums = m.group("n3")
        if nums.isdigit():
            n = int(nums)
            return f'<a href="#q{n}">{m.group(0)}</a>' if n in valid else m.group(0)
        return m.group("zh") + _NUMBER.sub(one, nums) + m.group("ti")

    return _MENTION.sub(sub, escaped)


def text_html(text: str) -> str:
    """A plain text as HTML: escaped, then its question mentions linked."""
    return linkify(escape(text))


def paragraphs_html(text: str) -> str:
    """Paragraphs separated by blank lines, each escaped and linked, as ``<p>`` elements."""
    return "".join(f"<p>{text_html(p.strip())}</p>" for p in text.split("\n\n") if p.strip())


def takeaway_html(rec: Mapping[str, Any], lang: str) -> str:
    """The takeaway box of an experiment's record (``rec["takeaway"]`` = ``{"en": ..., "zh": ...}``): the
    revised answer to give in an interview. Empty when the record has none (or only an empty text)."""
    t = rec.get("takeaway")
    text = str(t.get(lang) or t.get("en") or "") if isinstance(t, Mapping) else ""
    if not text.strip():
        return ""
    return (f'<div class="takeaway" data-id="{escape(str(rec.get("id", "")))}">'
            f'<div class="kv">{escape(learn_ui(lang)["takeaway"])}</div>{paragraphs_html(text)}</div>')


def _package_root() -> str:
    import cvprimer

    return os.path.dirname(os.path.dirname(os.path.abspath(cvprimer.__file__)))


def source_path(cls: type) -> str | None:
    """Where ``cls`` is defined, relative to the folder holding the ``cvprimer`` package
    (``cvprimer/lab/experiments/q19_zero_init.py``), with ``/`` separators; None when unknown."""
    try:
        path = inspect.getsourcefile(cls)
    except (TypeError, OSError):
        return None
    if not path:
        return None
    rel = os.path.relpath(os.path.abspath(path), _package_root())
    return rel.replace(os.sep, "/")


def method_sources(cls: Any) -> dict[str, str | None]:
    """The source of ``cls.measure`` (what the numbers come from; ``draw`` only plots them), of the class's own
    helper methods ``measure`` calls as ``self._name(...)`` (one level: long measurements are split into helpers)
    and, for an experiment, of ``cls.decide``; each dedented, None where the source is unavailable (no file, a
    compiled module)."""
    from cvprimer.lab.experiment import Experiment

    out: dict[str, str | None] = {}

    def add(name: str) -> str | None:
        fn = inspect.getattr_static(cls, name, None)
        fn = getattr(fn, "__func__", fn)  # a staticmethod's or classmethod's function
        try:
            out[name] = _dedent(inspect.getsource(fn))
        except (TypeError, OSError):
            out[name] = None
        return out[name]

    measure = add("measure")
    for helper in dict.fromkeys(re.findall(r"\bself\.(_\w+)\(", measure or "")):
        fn = inspect.getattr_static(cls, helper, None)
        if callable(getattr(fn, "__func__", fn)) and getattr(fn, "__module__", None) == cls.__module__:
            add(helper)
    if cls.kind == "experiment" and getattr(cls, "decide", None) is not Experiment.decide:
        add("decide")
    return out


def _dedent(src: str) -> str:
    import textwrap

    return textwrap.dedent(src).rstrip() + "\n"


def source_html(rec: Mapping[str, Any], lang: str) -> str:
    """Where the experiment's code lives and a collapsed ``<details>`` with its ``measure`` and ``decide``, taken
    from the installed code when the report is written (escaped, in ``<pre><code>``)."""
    from cvprimer.lab.registry import SelectionError, get

    ui = learn_ui(lang)
    try:
        cls = get(str(rec.get("id", "")))
    except SelectionError:
        return (f'<p class="source"><span class="kv">{escape(ui["source"])}</span>'
                f'<em>{escape(ui["source_unknown"])}</em></p>')
    path = source_path(cls)
    where = f"<code>{escape(path)}</code>" if path else f'<em>{escape(ui["source_missing"])}</em>'
    srcs = method_sources(cls)
    blocks = "".join(
        f'<pre><code>{escape(src)}</code></pre>' if src is not None
        else f'<p><code>{escape(name)}</code>: <em>{escape(ui["source_missing"])}</em></p>'
        for name, src in srcs.items())
    details = (f'<details class="code"><summary>{escape(ui["code_summary"])}</summary>{blocks}</details>'
               if srcs else "")
    return f'<div class="source"><p><span class="kv">{escape(ui["source"])}</span>{where}</p>{details}</div>'
