"""Rendering one language's page from the results document (standard library only: ``html.escape`` and f-strings;
every text that came from an experiment is escaped)."""

from __future__ import annotations

import base64
import math
import os
from html import escape
from typing import Any

from cvprimer.lab.experiment import plain_png
from cvprimer.lab.report.assets import CSS, JS
from cvprimer.lab.report.i18n import UI
from cvprimer.lab.report.learn import learn_ui, related_html, source_html, takeaway_html, text_html
from cvprimer.lab.report.zh import cell_text, figure_label, header_text, unit_text
from cvprimer.lab.runner import MODES, run_dir

VERDICT_ORDER = ("confirmed", "nuanced", "refuted", "unsettled")


def _t(d: Any, lang: str) -> str:
    """A bilingual text in ``lang`` (falls back to English, then to the plain string)."""
    if isinstance(d, dict):
        return str(d.get(lang) or d.get("en") or "")
    return "" if d is None else str(d)


def _num(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if v == int(v) and abs(v) < 1e12:
            return f"{int(v):,}"
        return f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    return escape(str(v))


def _badge(kind: str, ui: dict[str, str]) -> str:
    label = ui.get(f"{kind}_badge", ui.get(kind, kind))
    return f'<span class="badge {escape(kind)}">{escape(label)}</span>'


def _img(out: str, rec: dict[str, Any], plot: dict[str, Any], lang: str, ui: dict[str, str]) -> str:
    alt = _t(plot.get("alt"), lang)
    cap = _t(plot.get("caption"), lang) or alt
    if len(rec.get("seeds") or []) > 1 and isinstance(plot.get("seed"), int):
        cap = f"{cap} ({ui['plot_seed']} {plot['seed']})"
    if not plain_png(plot.get("file")) or not plain_png(f"{rec.get('id', '')}.png"):
        return f'<figure><figcaption>[{escape(str(plot.get("file")))} refused] {escape(cap)}</figcaption></figure>'
    if rec.get("mode") not in MODES:
        return f'<figure><figcaption>[{escape(str(plot.get("file")))} refused] {escape(cap)}</figcaption></figure>'
    path = os.path.join(run_dir(out, rec["id"], rec["mode"]), plot["file"])
    if lang != "en":  # the plot drawn with this language's text, where the experiment wrote one (<stem>.<lang>.png)
        own = f"{path[:-4]}.{lang}.png"
        if os.path.isfile(own):
            path = own
        else:  # drawn without a CJK font (or with no text to translate): say its text is English
            cap = f"{cap}{ui['plot_text_en']}"
    try:
        with open(path, "rb") as fh:
            data = base64.b64encode(fh.read()).decode("ascii")
    except OSError:
        return f'<figure><figcaption>[{escape(plot["file"])} missing] {escape(cap)}</figcaption></figure>'
    return (f'<figure><img class="zoomable" src="data:image/png;base64,{data}" alt="{escape(alt)}" '
            f'title="{escape(ui["zoom_hint"])}" decoding="async">'
            f"<figcaption>{escape(cap)}</figcaption></figure>")


def _exp_class(rec: dict[str, Any]) -> Any:
    """The experiment class of a record (for its label table), None when this install has no such experiment."""
    from cvprimer.lab.registry import SelectionError, get

    try:
        return get(str(rec.get("id")))
    except SelectionError:
        return None


def seed_strip(values: Any, title: str) -> str:
    """A 60x10 inline SVG of the per-seed values of one figure: a dot per seed on a strip spanning
    ``mean ± R``, ``R = max(0.25 |mean|, max |v - mean|)`` (so seeds that agree cluster in the middle and a wide
    spread fills the strip); empty for fewer than two finite values. Built from numbers only, the title escaped."""
    vals = [float(v) for v in values or [] if isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v)]
    if len(vals) < 2:
        return ""
    mean = sum(vals) / len(vals)
    r = max(0.25 * abs(mean), max(abs(v - mean) for v in vals))
    w, pad = 60, 4
    xs = [w / 2 if r == 0 else w / 2 + (w / 2 - pad) * (v - mean) / r for v in vals]
    dots = "".join(f'<circle cx="{x:.1f}" cy="5" r="2.4"/>' for x in xs)
    return (f'<span class="seedstrip" title="{escape(title)}"><svg width="{w}" height="10" viewBox="0 0 {w} 10" '
            f'aria-hidden="true"><line x1="{pad}" y1="5" x2="{w - pad}" y2="5"/>{dots}</svg></span>')


def _figures(figs: dict[str, Any], ui: dict[str, str], lang: str, heading: str, exp: Any = None) -> str:
    """The figures table: the value is the mean over seeds; with several seeds also the spread and each seed's.
    Each row shows the figure's label in ``lang`` (the record's, else ``exp``'s label table; the identifier, in
    code type, only where neither has one) and its unit translated through the glossary (``report/zh.py``)."""
    if not figs:
        return ""
    multi = any("spread" in f for f in figs.values())
    head = f"<tr><th>{ui['figure']}</th><th>{ui['value']}</th>" + \
        (f"<th>{ui['spread']}</th><th>{ui['per_seed']}</th>" if multi else "") + f"<th>{ui['unit']}</th></tr>"
    rows = []
    for name, f in figs.items():
        label = _t(figure_label(exp, name, f), lang)
        extra = (f'<td class="num">{_num(f.get("spread"))}</td>'
                 f'<td class="num">{" / ".join(_num(v) for v in f.get("per_seed") or [])}'
                 f'{seed_strip(f.get("per_seed"), ui["seed_strip"])}</td>') if multi else ""
        cell = escape(label) if label else f"<code>{escape(name)}</code>"
        rows.append(f'<tr><td>{cell}</td><td class="num">{_num(f.get("value"))}</td>{extra}'
                    f"<td>{escape(unit_text(str(f.get('unit', '')), lang))}</td></tr>")
    return f'<div class="kv">{heading}</div><table>{head}{"".join(rows)}</table>'


def _tables(tables: list[dict[str, Any]], lang: str, ui: dict[str, str], seeds: int, exp: Any = None) -> str:
    """Tables; a numeric cell averaged over seeds shows ``mean ± spread`` (the record's ``spread`` grid); headers
    and text cells in ``lang`` (``report/zh.py``: the header glossary, and the names ``exp``'s plots translate)."""
    parts = []
    for t in tables or []:
        spread = t.get("spread")
        cols = "".join(f"<th>{escape(header_text(c, lang))}</th>" for c in t["columns"])
        body = []
        for j, r in enumerate(t["rows"]):
            cells = []
            for k, c in enumerate(r):
                if isinstance(c, (int, float)) and not isinstance(c, bool) or c is None:
                    sd = spread[j][k] if spread and j < len(spread) and k < len(spread[j]) else None
                    pm = f" ± {_num(sd)}" if isinstance(sd, (int, float)) and not isinstance(sd, bool) else ""
                    cells.append(f'<td class="num">{_num(c)}{pm}</td>')
                else:
                    cells.append(f"<td>{escape(cell_text(exp, _t(c, lang), lang))}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        note = ""
        if seeds > 1:
            note = f" ({ui['mean_note']})" if spread else (f" ({ui['table_seed']} {_num(t.get('seed'))})"
                                                           if t.get("seed") is not None else "")
        cap = escape(_t(t.get("caption"), lang)) + escape(note)
        parts.append(f"<table>{f'<caption>{cap}</caption>' if cap else ''}<tr>{cols}</tr>{''.join(body)}</table>")
    return "".join(parts)


def _paragraphs(text: str) -> str:
    """Paragraphs (blank-line separated), escaped, with their question mentions linked (``#qN``)."""
    return "".join(f"<p>{text_html(p.strip())}</p>" for p in text.split("\n\n") if p.strip())


def _experiment(rec: dict[str, Any], out: str, ui: dict[str, str], lang: str, anchor: str) -> str:
    kind = rec.get("kind", "experiment")
    parts = [f'<article class="exp" id="{escape(anchor)}" data-id="{escape(rec["id"])}">',
             f"<h3>{escape(_t(rec.get('title'), lang))} <small><code>{escape(rec['id'])}</code></small></h3>"]
    if kind == "experiment":
        parts.append(f'<p><span class="kv">{ui["claim"]}</span>{text_html(_t(rec.get("claim"), lang))}</p>')
    else:
        parts.append(f'<div class="body">{_paragraphs(_t(rec.get("body"), lang))}</div>')
    parts.append(f'<p><span class="kv">{ui["method"]}</span>{text_html(_t(rec.get("method"), lang))}</p>')
    parts.append(f'<p><span class="kv">{ui["command"]}</span><code class="cmd">{escape(rec["command"])}</code> '
                 f'<small>({escape(str(rec.get("mode")))}, {_num(rec.get("seconds"))} {ui["seconds"]})</small></p>')
    parts.append(source_html(rec, lang))
    if rec.get("status") == "error":
        parts.append(f'<p class="err">{ui["error"]} {escape(str(rec.get("error")))}</p></article>')
        return "".join(parts)
    n_seeds = len(rec.get("seeds") or [])
    marks = []
    if rec.get("stale"):
        marks.append(f'<p class="mark stale">{escape(ui["stale"])} ({escape(str(rec["stale"]))})</p>')
    if rec.get("quick_provisional") and rec.get("mode") == "quick":
        marks.append(f'<p class="mark provisional">{escape(ui["provisional"])}</p>')
    parts.extend(marks)
    exp = _exp_class(rec)
    parts.append(_figures(rec.get("figures") or {}, ui, lang, ui["figures"], exp))
    parts.append(_tables(rec.get("tables") or [], lang, ui, n_seeds, exp))
    parts.extend(_img(out, rec, p, lang, ui) for p in rec.get("plots") or [])
    if rec.get("notes"):
        whose = f" ({ui['notes_seed']} {_num(rec.get('notes_seed'))})" if n_seeds > 1 and rec.get("notes_seed") \
            is not None else ""
        parts.append(f'<div class="body"><span class="kv">{ui["notes"]}{escape(whose)}</span>'
                     f'{_paragraphs(_t(rec["notes"], lang))}</div>')
    if rec.get("beyond") or rec.get("beyond_tables") or rec.get("beyond_text"):
        parts.append(f'<div class="beyond"><div class="kv">{escape(ui["beyond"])}</div>'
                     f'{_paragraphs(_t(rec.get("beyond_text"), lang))}'
                     f'{_figures(rec.get("beyond") or {}, ui, lang, ui["figures"], exp)}'
                     f'{_tables(rec.get("beyond_tables") or [], lang, ui, n_seeds, exp)}'
                     f'{_paragraphs(_t(rec.get("beyond_evidence"), lang))}</div>')
    if kind == "experiment" and rec.get("verdict"):
        reasons = rec.get("reasons") or {}
        th = "; ".join(f"{escape(k)} = {_num(v)}" + (f" — {escape(_t(reasons[k], lang))}" if k in reasons else "")
                       for k, v in (rec.get("thresholds") or {}).items())
        agree = f' · {escape(str(rec.get("seed_agreement")))} {ui["seed_agreement"]}' if rec.get("seed_agreement") \
            else ""
        parts.append(f'<div class="answer" data-verdict="{escape(rec["verdict"])}">'
                     f'<p><span class="kv">{ui["verdict"]}</span>{_badge(rec["verdict"], ui)}{agree}</p>'
                     f'<p><span class="kv">{ui["evidence"]}</span>{text_html(_t(rec.get("evidence"), lang))}</p>'
                     f'<p><small>{ui["thresholds"]}: {th}</small></p></div>')
    parts.append("</article>")
    return "".join(parts)


def _shared_stub(rec: dict[str, Any], ui: dict[str, str], lang: str, anchor: str, first: int) -> str:
    """A later question's pointer to an experiment rendered in full under question ``first`` (no second copy)."""
    return (f'<article class="exp shared" id="{escape(anchor)}" data-id="{escape(rec["id"])}">'
            f"<h3>{escape(_t(rec.get('title'), lang))} <small><code>{escape(rec['id'])}</code></small></h3>"
            f'<p>{escape(ui["shared"])} '
            f'<a href="#{escape(rec["id"])}">{escape(ui["see_question"].format(n=first))}</a></p>'
            "</article>")


def _question_verdicts(q: dict[str, Any], recs: dict[str, dict[str, Any]]) -> list[str]:
    if q["status"] == "pending":
        return ["pending"]
    out = []
    for i in q["experiments"]:
        r = recs.get(i)
        if r is None:
            out.append("notrun")
        elif r.get("status") == "error":
            out.append("error")
        else:
            v = r.get("verdict")
            out.append(v if v in VERDICT_ORDER else "page" if v is None else "error")
    return out


def _legend(ui: dict[str, str]) -> str:
    """What the badges, modes, marks and the two meanings of "seed" mean (a collapsed ``<details>``)."""
    rows = "".join(f"<dt>{_badge(v, ui)}</dt><dd>{escape(ui['legend_' + v])}</dd>"
                   for v in (*VERDICT_ORDER, "page"))
    terms = "".join(f"<dt>{escape(ui['legend_' + k + '_term'])}</dt><dd>{escape(ui['legend_' + k])}</dd>"
                    for k in ("quick", "full", "provisional", "source", "seed"))
    return (f'<details class="legend" id="legend"><summary>{escape(ui["legend"])}</summary>'
            f"<dl>{rows}{terms}</dl></details>")


def render(results: dict[str, Any], lang: str, out: str, other_href: str) -> str:
    """The whole page in ``lang`` as a string."""
    from cvprimer.lab.questions import TOPICS

    ui = UI[lang]
    lui = learn_ui(lang)
    recs = {r["id"]: r for r in results["experiments"]}
    questions = results["questions"]
    verdicts = {n: _question_verdicts(q, recs) for n, q in questions.items()}
    by_topic: dict[str, list[str]] = {k: [] for k in TOPICS}
    for n, q in questions.items():
        by_topic.setdefault(q["topic"], []).append(n)

    # counted per question (an experiment answering two questions counts in both), so the counts add up to the
    # questions shown; the script recounts them from the sections left by the filters
    kinds = (*VERDICT_ORDER, "page", "pending", "notrun", "error")
    counts = {v: sum(v in dict.fromkeys(vs) for vs in verdicts.values()) for v in kinds}
    answered = sum(q["status"] == "done" for q in questions.values())
    summary = "".join(f'<div data-v="{v}">{_badge(v, ui)} <span class="n">{counts[v]}</span></div>'
                      for v in kinds if v in VERDICT_ORDER or v == "page" or counts[v]) + \
        (f'<div>{ui["questions"]}: <span id="n-shown">{len(questions)}</span>/{len(questions)} {ui["shown"]} · '
         f'{answered}/{len(questions)} {ui["answered"]}</div>')

    index = []
    for topic, nums in by_topic.items():
        if not nums:
            continue
        items = "".join(
            f'<li data-q="{n}"><a href="#q{n}">{n}. {escape(_t(questions[n]["title"], lang))}</a> '
            + " ".join(_badge(v, ui) for v in dict.fromkeys(verdicts[n])) + "</li>"
            for n in sorted(nums, key=int))
        index.append(f'<div class="topic" data-topic="{escape(topic)}">'
                     f"<h3>{escape(_t(TOPICS.get(topic), lang) or topic)}</h3><ol>{items}</ol></div>")

    errata = []
    for r in recs.values():  # the errata judge the source document: only its own claim's verdicts, never unsettled ones
        if r.get("verdict") in ("refuted", "nuanced"):
            qs = ", ".join(f'<a href="#q{q}">{q}</a>' for q in r["questions"])
            errata.append(f'<li>{_badge(r["verdict"], ui)} {ui["question"]} {qs}: '
                          f'<a href="#{escape(r["id"])}">{escape(_t(r.get("title"), lang))}</a> — '
                          f'{text_html(_t(r.get("evidence"), lang))}</li>')
    errata_html = f"<ul>{''.join(errata)}</ul>" if errata else f"<p>{ui['errata_none']}</p>"

    sections = []
    for n in sorted(questions, key=int):
        q = questions[n]
        vs = verdicts[n]
        head = (f'<section class="question" id="q{n}" data-q="{n}" data-topic="{escape(q["topic"])}" '
                f'data-verdicts="{escape(" ".join(dict.fromkeys(vs)))}"><h2>{n}. {escape(_t(q["title"], lang))} '
                + " ".join(_badge(v, ui) for v in dict.fromkeys(vs)) + "</h2>"
                f'<div class="seedclaim"><span class="kv">{ui["seed_claim"]}</span>'
                f'{escape(_t(q.get("seed_claim"), lang))}</div>' + related_html(int(n), lang)
                + f'<button class="reveal" type="button">{ui["reveal"]}</button>'
                + "".join(takeaway_html(recs[i], lang) for i in q["experiments"] if i in recs))
        body = []
        if q["status"] == "pending":
            body.append(f"<p>{ui['pending']}</p>")
        for i in q["experiments"]:
            if i in recs:  # an experiment serving several questions is rendered once, in the first one's section
                first = min(recs[i]["questions"])
                body.append(_experiment(recs[i], out, ui, lang, i) if str(first) == n
                            else _shared_stub(recs[i], ui, lang, f"{i}-q{n}", first))
            else:
                body.append(f'<p>{ui["not_run"]} <code class="cmd">cvprimer lab run {escape(i)}</code></p>')
        sections.append(head + "".join(body) + "</section>")

    topic_opts = "".join(f'<option value="{escape(k)}">{escape(_t(v, lang))}</option>' for k, v in TOPICS.items())
    verdict_opts = "".join(f'<option value="{v}">{escape(ui.get(v + "_badge", ui.get(v, v)))}</option>'
                           for v in (*VERDICT_ORDER, "page", "pending"))
    seeds = ", ".join(map(str, results.get("seeds", [])))
    meta = (f'{ui["generated"]} {escape(str(results.get("created", "")))} · {ui["mode"]} '
            f'{escape(str(results.get("mode")))} · {ui["seeds"]} {escape(seeds)}')
    other_code = "en" if lang == "zh" else "zh"
    return f"""<!DOCTYPE html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="generator" content="cvprimer lab">
<title>{escape(ui["doc_title"])}</title><style>{CSS}</style></head>
<body><header class="top"><div class="inner"><h1>{escape(ui["doc_title"])}</h1><p>{escape(ui["subtitle"])}</p>
<p>{meta} · <a href="{escape(other_href)}" hreflang="{other_code}" id="other-lang">{ui["other_lang"]}</a></p>
</div></header>
<div class="controls"><button type="button" id="ctl-toggle" aria-expanded="false" aria-controls="filters">\
{escape(lui["controls_toggle"])}</button><div class="filters" id="filters"><label>{ui["filter_verdict"]} \
<select id="f-verdict"><option value="all">{ui["all"]}</option>
{verdict_opts}</select></label><label>{ui["filter_topic"]} <select id="f-topic"><option value="all">{ui["all"]}</option>
{topic_opts}</select></label><label>{ui["search"]} <input type="search" id="f-search" placeholder="{ui["search_ph"]}">
</label></div><label><input type="checkbox" id="study"> {ui["study"]}</label>
<button type="button" id="next-unrevealed" class="studyonly">{ui["next_unrevealed"]}</button></div>
<main><p class="studyhelp">{ui["study_help"]} <button type="button" id="start-over">\
{escape(lui["start_over"])}</button></p><div class="summary" id="summary">{summary}</div>
{_legend(ui)}
<nav class="index" id="index">{"".join(index)}</nav>
<section id="errata"><h2>{ui["errata"]}</h2>{errata_html}</section>
<p id="no-match" class="hidden">{ui["no_match"]}</p>
{"".join(sections)}
</main><div id="zoom" class="hidden" role="dialog" aria-label="{escape(ui["zoom"])}" tabindex="-1"></div>
<script>{JS}</script></body></html>
"""
