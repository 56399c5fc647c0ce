r"""A notebook per experiment: run one experiment from Python (:func:`run_in_notebook`) and write a Jupyter
notebook that does it with its parameters exposed (:func:`write_notebook`, ``cvprimer lab notebook q19``).

    from cvprimer.lab import run_in_notebook
    run = run_in_notebook("q19", quick=True, seed=0)     # a tqdm.auto bar while it runs
    run.figures_table("en")                              # an HTML table in Jupyter
    run.show_plots()                                     # the PNGs, inline
    verdict, evidence = run.decide()                     # the experiment's own decide, on these figures

Running never touches matplotlib's backend or pyplot (the lab draws on :class:`matplotlib.figure.Figure`), so a
notebook's inline plots keep working. The notebook file is nbformat v4; it carries ``metadata.cvprimer`` so that
``cvprimer lab notebook`` overwrites only notebooks it wrote itself, never a user's file.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cvprimer.core.serialization import atomic_write
from cvprimer.errors import UserError, require_all
from cvprimer.lab.experiment import LANGS, Experiment, Result, Text, fmt

TAG = "cvprimer-lab-notebook"  # metadata.cvprimer.generator of every notebook written here


def _experiment(exp: str | type[Experiment]) -> type[Experiment]:
    if isinstance(exp, type) and issubclass(exp, Experiment):
        return exp
    from cvprimer.lab.registry import SelectionError, select

    try:
        found = select([str(exp)])
    except SelectionError as e:
        raise UserError(str(e)) from None
    if len(found) != 1:
        raise UserError(f"notebook: {exp!r} selects {len(found)} experiments ({', '.join(e.id for e in found)}); "
                        "name one (an id or qN)")
    return found[0]


@dataclass
class NotebookRun:
    """One run of one experiment in this process: its :class:`Result`, the PNG bytes of its plots and helpers
    that display them in Jupyter (each also works in a plain interpreter, returning text)."""

    exp: type[Experiment]
    result: Result
    pngs: dict[str, bytes] = field(default_factory=dict)
    seconds: float = 0.0
    quick: bool = True
    seed: int = 0

    def figures(self) -> dict[str, float]:
        """The claim's figures as numbers (what ``decide`` sees)."""
        return self.result.values()

    def decide(self, thresholds: Mapping[str, float] | None = None) -> tuple[str | None, Text | None]:
        """``(verdict, evidence)`` from the experiment's ``decide`` on this run's figures with ``thresholds``
        (default: the experiment's own); ``(None, None)`` for a page, which has no verdict."""
        if self.exp.kind == "page":
            return None, None
        th = dict(self.exp.thresholds)
        unknown = set(thresholds or {}) - set(th)
        if unknown:
            raise ValueError(f"{self.exp.id}: unknown thresholds {sorted(unknown)}; it has {sorted(th)}")
        th.update(thresholds or {})
        return self.exp.decide(self.figures(), th)

    def takeaway(self, verdict: str | None) -> Text:
        """The answer, revised, for ``verdict`` on this run's figures (see :meth:`Experiment.takeaway`)."""
        return self.exp.takeaway(self.figures(), verdict)

    def figures_table(self, lang: str = "en") -> _Html:
        """The measured figures (name, value, unit; the ones beyond the claim marked) as a table."""
        rows = [(name, f, "") for name, f in self.result.figures.items()]
        rows += [(name, f, "beyond" if lang == "en" else "延伸") for name, f in self.result.beyond.items()]
        head = ("figure", "value", "unit", "") if lang == "en" else ("数据", "数值", "单位", "")
        body = [[(f.label or {}).get(lang) or name, fmt(f.value, 4), f.unit, tag] for name, f, tag in rows]
        return _Html(_table(head, body))

    def tables(self, lang: str = "en") -> _Html:
        """The experiment's own tables (claim and beyond), each with its caption."""
        parts = []
        for t in [*self.result.tables, *self.result.beyond_tables]:
            cells = [[fmt(c, 4) if isinstance(c, float) else c for c in r] for r in t.rows]
            cap = (t.caption or {}).get(lang, "")
            parts.append(f"<h4>{html.escape(t.name)}</h4>" + _table(t.columns, cells)
                         + (f"<p><i>{html.escape(cap)}</i></p>" if cap else ""))
        return _Html("".join(parts) or "<p>(no tables)</p>")

    def show_plots(self, lang: str = "en") -> list[Any]:
        """Display every plot inline (IPython), in ``lang`` where the lab drew a Chinese copy (``<stem>.zh.png``),
        and return the display objects (the file names without IPython)."""
        try:
            from IPython.display import Image, display
        except ImportError:
            return sorted(self.pngs)
        shown = []
        for p in self.result.plots:
            zh = f"{p.file[:-4]}.zh.png"
            data = self.pngs.get(zh) if lang == "zh" and zh in self.pngs else self.pngs.get(p.file)
            if data:
                img = Image(data=data, format="png")
                display(img)
                shown.append(img)
        return shown


class _Html:
    """HTML that Jupyter renders (``_repr_html_``) and a plain interpreter prints as its source."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_html_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


def _table(head: Any, rows: Any) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _bar(exp: type[Experiment]) -> Any:
    """A ``tqdm.auto`` bar (a widget in Jupyter, text on a terminal) fed by the experiment's progress; None
    without tqdm."""
    import warnings

    try:
        with warnings.catch_warnings():  # tqdm.auto falls back to a text bar without ipywidgets, and says so
            warnings.simplefilter("ignore")
            from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=None, desc=exp.id, leave=False)


def run_in_notebook(exp: str | type[Experiment], quick: bool = True, seed: int = 0,
                    progress: bool = True) -> NotebookRun:
    """Run one experiment (an id, ``"q19"`` or the class) once with ``seed`` in this process, the way the
    runner runs one seed (same seeding, same threads, plots drawn without pyplot), and return a
    :class:`NotebookRun`. Progress goes to a ``tqdm.auto`` bar. An error inside the experiment is raised as a
    ``RuntimeError`` carrying its traceback."""
    from cvprimer.lab.runner import run_task

    e = _experiment(exp)
    bar = _bar(e) if progress else None

    def tick(done: int, total: int | None) -> None:
        if bar is not None:
            if total is not None and bar.total != total:
                bar.reset(total=total)
            bar.n = done
            bar.refresh()

    try:
        out = run_task(e, quick, int(seed), True, tick)
    finally:
        if bar is not None:
            bar.close()
    if out.error is not None or out.result is None:
        raise RuntimeError(f"{e.id} failed: {out.error}\n{out.traceback or ''}")
    return NotebookRun(e, out.result, out.pngs, out.seconds, quick, int(seed))


# ------------------------------------------------------------------------------------------------ the file
def _md(exp: type[Experiment], langs: tuple[str, ...], full: bool) -> str:
    from cvprimer.lab.questions import QUESTIONS

    qs = ", ".join(f"q{q}" for q in exp.questions)
    lines = [f"# {exp.t('title', langs[0])}", "", f"`{exp.id}` ({qs}, {exp.topic})", ""]
    for lang in langs:
        word = "Question" if lang == "en" else "问题"
        lines += [f"**{word} {q}.** {QUESTIONS[q].title.get(lang, '')}" for q in exp.questions] + [""]
    for lang in langs:
        claim, method = ("Claim", "Method") if lang == "en" else ("说法", "方法")
        lines += [f"**{claim}.** {exp.t('claim', lang)}", "", f"**{method}.** {exp.t('method', lang)}", ""]
        if exp.kind == "page":
            lines += [exp.t("body", lang), ""]
    mode = "--full" if full else "quick mode"
    lines += [f"Generated by `cvprimer lab notebook {exp.id}` ({mode}). Edit the parameters in the next cell and "
              "run all cells; the verdict comes from the experiment's own `decide` on the figures measured here."]
    return "\n".join(lines)


def build_notebook(exp: str | type[Experiment], full: bool = False, lang: str | None = None) -> dict[str, Any]:
    """The notebook (an nbformat v4 node) for one experiment; ``lang`` ``"en"``/``"zh"`` for one language,
    None for both."""
    require_all(("nbformat",), what="cvprimer lab notebook", extra="notebook")
    import nbformat.v4 as v4

    e = _experiment(exp)
    langs = LANGS if lang is None else (lang,)
    if any(x not in LANGS for x in langs):
        raise UserError(f"notebook: --lang must be one of {LANGS}, got {lang!r}")
    th = "".join(f"\n    {k!r}: {v!r}," for k, v in e.thresholds.items())
    params = ("# parameters: edit them, then run all cells\n"
              f"EXPERIMENT = {e.id!r}\n"
              f"QUICK = {not full!r}  # False: the full size (more data and steps, slower)\n"
              "SEED = 0  # the random seed of this run\n"
              f"LANG = {langs[0]!r}  # 'en' or 'zh'\n"
              f"THRESHOLDS = {{{th}\n}}  # declared by the experiment; decide() reads them")
    cells = [v4.new_markdown_cell(_md(e, langs, full)), v4.new_code_cell(params),
             v4.new_code_cell("from cvprimer.lab import run_in_notebook\n\n"
                              "run = run_in_notebook(EXPERIMENT, quick=QUICK, seed=SEED)\n"
                              "print(f'{run.exp.id}: {run.seconds:.1f} s')"),
             v4.new_markdown_cell("## Figures"), v4.new_code_cell("run.figures_table(LANG)"),
             v4.new_code_cell("run.tables(LANG)"), v4.new_markdown_cell("## Plots"),
             v4.new_code_cell("run.show_plots(LANG);"), v4.new_markdown_cell("## Verdict")]
    if e.kind == "page":
        cells.append(v4.new_code_cell("notes = run.result.notes or {}\nprint(notes.get(LANG, '(a page: no verdict)'))\n"
                                      "print(run.takeaway(None)[LANG])"))
    else:
        cells.append(v4.new_code_cell("verdict, evidence = run.decide(THRESHOLDS)\nprint('verdict:', verdict)\n"
                                      "print(evidence[LANG])\nprint()\nprint(run.takeaway(verdict)[LANG])"))
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["cvprimer"] = {"generator": TAG, "experiment": e.id, "full": bool(full), "lang": lang or "both"}
    return nb


def is_ours(path: str) -> bool:
    """Whether ``path`` is a notebook this module wrote (its ``metadata.cvprimer.generator`` tag)."""
    try:
        with open(path, encoding="utf-8") as fh:
            meta = json.load(fh).get("metadata", {})
    except (OSError, ValueError, UnicodeDecodeError, AttributeError):
        return False
    return isinstance(meta, dict) and isinstance(meta.get("cvprimer"), dict) and meta["cvprimer"].get(
        "generator") == TAG


def write_notebook(exp: str | type[Experiment], out: str | None = None, full: bool = False,
                   lang: str | None = None) -> str:
    """Write the notebook of one experiment to ``out`` (default ``<id>.ipynb`` in the current folder) and return
    the path. An existing file is replaced only when it is a notebook written here; anything else is refused."""
    e = _experiment(exp)
    out = out or f"{e.id}.ipynb"
    if not out.endswith(".ipynb"):
        raise UserError(f"notebook: --out must end with .ipynb, got {out!r}")
    if os.path.isdir(out):
        raise UserError(f"notebook: --out {out!r} is a folder; give a FILE.ipynb path")
    if os.path.exists(out) and not is_ours(out):
        raise UserError(f"notebook: {out!r} exists and is not a notebook cvprimer wrote; choose another --out "
                        "(it is never overwritten)")
    import nbformat

    nb = build_notebook(e, full, lang)
    nbformat.validate(nb)
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise UserError(f"notebook: the folder {folder!r} does not exist")
    atomic_write(out, nbformat.writes(nb).encode("utf-8"))
    return out
