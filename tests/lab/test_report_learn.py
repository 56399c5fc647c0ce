"""The report's study tools without a browser (issue 24): the takeaway box, the related-questions table, question
mentions turned into links (after escaping), and each experiment's code location and excerpt. The browser checks of
the same features are in test_report_browser.py."""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cvprimer.lab.questions import QUESTIONS
from cvprimer.lab.report import learn
from cvprimer.lab.report.html import render
from cvprimer.lab.report.learn import RELATED, linkify, related_html, source_html, takeaway_html, text_html


def test_related_is_symmetric_covers_every_question_and_holds_the_named_groups():
    assert set(RELATED) == set(QUESTIONS)
    for n, others in RELATED.items():
        assert others and n not in others and list(others) == sorted(set(others)), n
        assert all(n in RELATED[m] for m in others), f"q{n} -> {others} is not symmetric"
    for group in ((16, 25, 34, 47), (3, 6, 21, 44), (19, 20, 23), (29, 22, 4)):
        for a in group:
            assert set(group) - {a} <= set(RELATED[a]), (a, group)
    assert 25 not in RELATED[3]  # unrelated questions stay apart


def test_a_related_group_naming_no_question_is_refused():
    with pytest.raises(ValueError, match=r"'q99' in 'q1 q99' is not a question"):
        learn._closure(("q1 q99",))
    with pytest.raises(ValueError, match="'19' in"):
        learn._closure(("q1 19",))
    assert learn._closure(("q1 q2", "q2 q3"))[2] == (1, 3)


def test_related_html_links_each_related_question():
    html = related_html(19, "en")
    assert re.findall(r'href="#q(\d+)"', html) == [str(m) for m in RELATED[19]]
    assert "Related:" in html and "相关题目" in related_html(19, "zh")


@pytest.mark.parametrize(("text", "links"), [
    ("see question 19 and questions 4", ["19", "4"]),
    ("Question 3, q21 and Q6.", ["3", "21", "6"]),
    ("见第 19 题，第3题和第 44 题", ["19", "3", "44"]),
    ("(q47)", ["47"]),
    ("see questions 1 and 2, questions 3, 6 and 21 or question 4 & 22", ["1", "2", "3", "6", "21", "4", "22"]),
    ("见第 1、2 题与第 3 和 44 题", ["1", "2", "3", "44"]),
    ("questions 1 and 99", ["1"]),
    ("q99, question 0, 第 55 题, question 123", []),  # no such question
    ("q04-overfitting, q19_zero_init, faq19, seq2seq, 2q3, q1x", []),  # ids and words are not mentions
])
def test_linkify_links_question_mentions_only(text: str, links: list[str]):
    html = linkify(escape(text))
    assert re.findall(r'<a href="#q(\d+)">', html) == links
    assert re.sub(r"</?a[^>]*>", "", html) == escape(text)  # nothing but the links added


def test_linkify_runs_on_escaped_text_so_markup_stays_text():
    html = text_html('<a href="javascript:x">q5</a> & "q7" \'q8\'')
    assert html.count("<a ") == 3 and "javascript" not in re.findall(r"<a [^>]*>", html)[0]
    assert "&lt;a href=&quot;javascript:x&quot;&gt;" in html
    assert '&quot;<a href="#q7">q7</a>&quot;' in html and '&#x27;<a href="#q8">q8</a>&#x27;' in html


def test_takeaway_html_escapes_and_is_empty_without_a_text():
    rec = {"id": "q19-zero-init", "takeaway": {"en": "Zero <init> fails; see question 20.\n\nSymmetry.", "zh": "对称"}}
    html = takeaway_html(rec, "en")
    assert html.startswith('<div class="takeaway" data-id="q19-zero-init">')
    assert "&lt;init&gt;" in html and "<init>" not in html and html.count("<p>") == 2
    assert '<a href="#q20">20</a>' in html and "The answer, revised" in html
    assert "对称" in takeaway_html(rec, "zh") and "修正后的答案" in takeaway_html(rec, "zh")
    assert takeaway_html({"id": "x", "takeaway": {"en": "only English"}}, "zh").count("only English") == 1
    for missing in ({"id": "x"}, {"id": "x", "takeaway": None}, {"id": "x", "takeaway": {"en": " "}},
                    {"id": "x", "takeaway": "not a dict"}):
        assert takeaway_html(missing, "en") == ""


def test_source_html_names_the_module_and_shows_measure_and_decide():
    import cvprimer

    html = source_html({"id": "q19-zero-init"}, "en")
    path = re.search(r"<code>([^<]+\.py)</code>", html).group(1)
    assert path == "cvprimer/lab/experiments/q19_zero_init.py"
    assert (Path(cvprimer.__file__).resolve().parent.parent / path).is_file()
    assert '<details class="code">' in html and "<details open" not in html
    blocks = re.findall(r"<pre><code>(.*?)</code></pre>", html, re.S)
    assert blocks[0].startswith("def measure(self, ctx: Context) -&gt; Result:")  # escaped, dedented
    assert blocks[-1].startswith("@staticmethod\ndef decide(")
    assert not any(b.startswith("def draw(") for b in blocks)  # the plots are not what measured it
    split = re.findall(r"<pre><code>(.*?)</code></pre>", source_html({"id": "q48-batch-norm"}, "en"), re.S)
    assert any("def _sweep(" in b for b in split)  # measure calls helpers: they are shown too
    page = source_html({"id": "q07-tuning-tips"}, "zh")  # a page: measure only, no decide
    assert "def measure(" in page and "def decide(" not in page and "实测所用的代码" in page


def test_source_html_says_so_when_the_source_or_the_experiment_is_missing(monkeypatch):
    assert "no experiment with this id" in source_html({"id": "q99-gone"}, "en")

    def no_source(obj):
        raise OSError("could not get source code")

    monkeypatch.setattr(learn.inspect, "getsource", no_source)
    html = source_html({"id": "q19-zero-init"}, "en")
    assert "<pre>" not in html and html.count("source not available") == 2  # measure and decide
    assert "q19_zero_init.py" in html


# ---- the page: every question section gets its takeaway (a shared experiment's too), related line, reveal button


def _results() -> dict:
    def rec(exp_id: str, qs: list[int], kind: str = "experiment", takeaway: bool = True) -> dict:
        r = {"id": exp_id, "questions": qs, "topic": QUESTIONS[qs[0]].topic, "kind": kind,
             "title": {"en": f"T {exp_id}", "zh": f"题 {exp_id}"}, "claim": {"en": "c", "zh": "c"},
             "method": {"en": "see q6", "zh": "见第 6 题"}, "command": f"cvprimer lab run {exp_id}", "mode": "quick",
             "seeds": [0], "status": "ok", "seconds": 1.0, "figures": {}, "tables": [], "plots": [],
             "verdict": "confirmed" if kind == "experiment" else None,
             "evidence": {"en": "as question 19 shows <script>", "zh": "如第 19 题 <script>"}}
        if kind == "page":
            r["body"] = {"en": "b", "zh": "b"}
        if takeaway:
            r["takeaway"] = {"en": f"Answer <{exp_id}>", "zh": f"答案 <{exp_id}>"}
        return r

    exps = [rec("q04-overfitting", [4, 22]), rec("q19-zero-init", [19]), rec("q07-tuning-tips", [7], "page"),
            rec("q03-dilated-rf", [3], takeaway=False)]
    owner = {q: r["id"] for r in exps for q in r["questions"]}
    questions = {str(n): {"title": q.title, "seed_claim": q.seed_claim,
                          "topic": q.topic, "experiments": [owner[n]] if n in owner else [],
                          "status": "done" if n in owner else "pending"} for n, q in QUESTIONS.items()}
    return {"created": "now", "mode": "quick", "seeds": [0], "experiments": exps, "questions": questions}


class _Sections(HTMLParser):
    """Which classes and links each ``section.question`` holds."""

    def __init__(self) -> None:
        super().__init__()
        self.cur: str | None = None
        self.depth = 0
        self.classes: dict[str, list[str]] = {}
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if a.get("href"):
            self.hrefs.append(a["href"])
        if tag == "section" and "question" in (a.get("class") or "").split():
            self.cur, self.depth = a["id"], 0
            self.classes[self.cur] = []
        if self.cur:
            if tag == "section":
                self.depth += 1
            self.classes[self.cur].extend((a.get("class") or "").split())

    def handle_endtag(self, tag):
        if self.cur and tag == "section":
            self.depth -= 1
            if self.depth == 0:
                self.cur = None


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_render_places_takeaways_related_lines_and_reveal_buttons(tmp_path: Path, lang: str):
    page = render(_results(), lang, str(tmp_path), "other.html")
    p = _Sections()
    p.feed(page)
    assert len(p.classes) == len(QUESTIONS)
    with_takeaway = {q for q, cls in p.classes.items() if "takeaway" in cls}
    assert with_takeaway == {"q4", "q22", "q19", "q7"}  # q22 shows its shared experiment's; q3's record has none
    assert all(p.classes[q].count("related") == 1 and p.classes[q].count("reveal") == 1 for q in p.classes)
    assert "<q19-zero-init>" not in page and "&lt;q19-zero-init&gt;" in page
    assert "<script>" not in page.split("<script>", 1)[0] and "&lt;script&gt;" in page  # escaped evidence
    internal = [h[1:] for h in p.hrefs if h.startswith("#")]
    assert internal and all(i in p.ids for i in internal), sorted(set(internal) - p.ids)
    assert "#q19" in p.hrefs and "#q6" in p.hrefs  # the evidence's and the method's mentions, linked
    assert page.count('<details class="code">') == 4  # each rendered experiment once (q22's is a pointer)
