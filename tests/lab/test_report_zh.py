"""The Chinese page is Chinese (issue 24): figure names, table headers, units, captions and plot text.

The records come from a real lab run folder when ``CVPRIMER_LAB_REPORT`` names one (every experiment is then
checked), else from a quick run of a few cheap experiments made once for this module. No browser: the page is
rendered with :func:`cvprimer.lab.report.html.render` and read with :mod:`html.parser`."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from cvprimer.lab.experiment import LANGS, Context
from cvprimer.lab.registry import all_experiments, get
from cvprimer.lab.report import zh
from cvprimer.lab.report.html import render
from cvprimer.lab.report.i18n import UI
from cvprimer.lab.results import collect

# Latin words a Chinese page writes as they are; each is an abbreviation or a name Chinese technical text keeps
# (translating them would make the page harder to read, not easier). Anything else needs a translation.
ALLOWED_WORDS = frozenset({
    "MACs", "GMACs", "GMAC", "MAC", "FLOPs", "FLOP", "GFLOP",  # operation counts: no Chinese abbreviation exists
    "ReLU", "ReLUs", "BN", "SE", "CBAM", "SMOTE", "HOG",  # method names
    "CNN", "MLP", "SGD", "Adam", "AdamW", "IoU", "SSIM", "PSNR", "KS", "MSE", "MMD", "CPU", "GB", "lr",
    "log", "cos", "sqrt", "std", "dL", "dz", "dW",  # functions and derivatives written in formulas
})
# identifiers a Chinese text may quote: PyTorch's own argument names (the reader types them) and math subscripts
ALLOWED_IDENTIFIERS = frozenset({"ceil_mode", "count_include_pad", "exp_avg", "exp_avg_sq", "grad_at_zero",
                                 "cross_entropy", "x_i", "x_j", "r_l"})
IDENTIFIER = re.compile(r"\b[a-z]+_[a-z_]+\b")
QUICK_RUN = ("q13", "q38", "q06", "q35", "q16", "q46", "q53")


@pytest.fixture(scope="module")
def lab_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("CVPRIMER_LAB_REPORT")
    if given:
        out = Path(given)
        assert (out / "runs").is_dir(), f"CVPRIMER_LAB_REPORT={given} holds no runs/ folder"
        return out
    out = tmp_path_factory.mktemp("lab-zh")
    r = subprocess.run([sys.executable, "-m", "cvprimer", "lab", "--out", str(out), "run", *QUICK_RUN, "--seeds", "1"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def results(lab_out: Path) -> dict[str, Any]:
    res = collect(str(lab_out))
    assert res["experiments"], f"no records under {lab_out}"
    return res


@pytest.fixture(scope="module")
def zh_page(results: dict[str, Any], lab_out: Path) -> str:
    return render(results, "zh", str(lab_out), "index.en.html")


class Tables(HTMLParser):
    """Every ``<table>`` of a page as rows of ``(tag, text)`` cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[tuple[str, str]]]] = []
        self._cell: list[str] | None = None
        self._tag = ""

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell, self._tag = [], tag

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append((self._tag, "".join(self._cell).strip()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def english_words(text: str) -> list[str]:
    """The Latin words of ``text`` that a Chinese page should not show: none when the text has Chinese in it;
    otherwise its words of two or more letters outside :data:`ALLOWED_WORDS` (one letter is a math symbol)."""
    if zh.has_cjk(text):
        return []
    return [w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in ALLOWED_WORDS]


def test_english_words_detector() -> None:
    assert english_words("val accuracy") == ["val", "accuracy"]
    assert english_words("验证准确率（ReLU）") == []
    assert english_words("MACs") == [] and english_words("n") == [] and english_words("|W1|₂") == []
    assert english_words("fraction of [0, 1]") == ["fraction", "of"]


def test_every_figure_has_a_chinese_label(results: dict[str, Any]) -> None:
    """The completeness check of labels: every figure (claim and beyond) of every record gets a Chinese label
    from its record or its experiment's label table, and no label is an identifier."""
    gaps, bad = [], []
    for rec in results["experiments"]:
        exp = get(rec["id"])
        figs = {**(rec.get("figures") or {}), **(rec.get("beyond") or {})}
        gaps += [f"{rec['id']}: {n}" for n in zh.missing_labels(exp, figs)]
        for name, f in figs.items():
            label = zh.figure_label(exp, name, f) or {}
            if label.get("zh") and (not zh.has_cjk(label["zh"]) and english_words(label["zh"])
                                    or IDENTIFIER.search(label["zh"])):
                bad.append(f"{rec['id']}: {name} -> {label['zh']!r}")
    assert not gaps, f"figures without a Chinese label: {gaps}"
    assert not bad, f"Chinese labels that are English or identifiers: {bad}"


def test_zh_page_has_no_english_figure_names_headers_or_units(zh_page: str) -> None:
    parser = Tables()
    parser.feed(zh_page)
    assert parser.tables, "no table on the Chinese page"
    ui = UI["zh"]
    problems, figure_tables = [], 0
    for table in parser.tables:
        head = [text for tag, text in table[0] if tag == "th"] if table else []
        problems += [f"header {h!r}" for h in head if english_words(h)]
        if head and head[0] == ui["figure"]:  # a measured-figures table: name, value[, spread, per seed], unit
            figure_tables += 1
            assert head[-1] == ui["unit"], head
            for row in table[1:]:
                name, unit = row[0][1], row[-1][1]
                problems += [f"figure name {name!r}" for _ in english_words(name)[:1]]
                problems += [f"unit {unit!r} (of {name!r})" for _ in english_words(unit)[:1]]
    assert figure_tables, "no measured-figures table on the Chinese page"
    assert not problems, f"{len(problems)} English labels on the Chinese page: {problems[:40]}"


def test_zh_page_translates_the_names_in_table_cells(results: dict[str, Any], lab_out: Path) -> None:
    """A table cell naming something the experiment's plots already translate (its tr_table: methods, settings)
    shows the Chinese name on the Chinese page."""
    from cvprimer.lab.plots import module_table

    checked = 0
    for rec in results["experiments"]:
        own = module_table(get(rec["id"]).__module__)
        tables = (rec.get("tables") or []) + (rec.get("beyond_tables") or [])
        pairs = {c: own[c] for t in tables for row in t["rows"] for c in row if isinstance(c, str) and c in own}
        if not pairs:
            continue
        parser = Tables()
        parser.feed(render({**results, "experiments": [rec]}, "zh", str(lab_out), "x"))
        cells = {text for table in parser.tables for row in table for tag, text in row if tag == "td"}
        assert all(v in cells for v in pairs.values()), (rec["id"], {k: v for k, v in pairs.items() if v not in cells})
        assert not set(pairs) & cells, (rec["id"], set(pairs) & cells)
        checked += 1
    assert checked, "no table cell with a translated name in these records"


def test_the_english_page_keeps_english_labels(results: dict[str, Any], lab_out: Path) -> None:
    page = render(results, "en", str(lab_out), "index.zh.html")
    parser = Tables()
    parser.feed(page)
    heads = [c[1] for t in parser.tables if t for c in t[0] if c[0] == "th"]
    assert UI["en"]["figure"] in heads and not any(zh.has_cjk(h) for h in heads)


def _zh_texts(rec: dict[str, Any]) -> dict[str, str]:
    out = {k: (rec.get(k) or {}).get("zh", "") for k in ("evidence", "notes", "beyond_evidence", "beyond_text",
                                                          "takeaway", "claim", "method", "body", "title")
           if isinstance(rec.get(k), dict)}
    for i, t in enumerate((rec.get("tables") or []) + (rec.get("beyond_tables") or [])):
        out[f"table {i} caption"] = (t.get("caption") or {}).get("zh", "")
    for i, p in enumerate(rec.get("plots") or []):
        out[f"plot {i} alt"] = (p.get("alt") or {}).get("zh", "")
        out[f"plot {i} caption"] = (p.get("caption") or {}).get("zh", "")
    return out


def test_zh_texts_of_records_hold_no_identifiers(results: dict[str, Any]) -> None:
    """Evidence, notes, captions and alt texts in Chinese name things in words, not ``snake_case`` identifiers;
    decide is rerun on the recorded figures so the check sees the evidence the installed code writes."""
    found = []
    for rec in results["experiments"]:
        texts = _zh_texts(rec)
        exp = get(rec["id"])
        if exp.kind == "experiment" and rec.get("status") == "ok":
            values = {k: float("nan") if f.get("value") is None else f["value"] for k, f in rec["figures"].items()}
            texts["evidence (rerun)"] = exp.decide(values, exp.thresholds)[1]["zh"]
            beyond = {k: float("nan") if f.get("value") is None else f["value"]
                      for k, f in (rec.get("beyond") or {}).items()}
            texts["beyond (rerun)"] = (exp.explain_beyond(beyond) or {}).get("zh", "")
        for where, text in texts.items():
            ids = set(IDENTIFIER.findall(text or "")) - ALLOWED_IDENTIFIERS
            if ids:
                found.append(f"{rec['id']} {where}: {sorted(ids)}")
            if text and english_words(text):  # a caption, alt text or evidence in English on the Chinese page
                found.append(f"{rec['id']} {where}: not Chinese: {text[:60]!r}")
    assert not found, found


def test_static_zh_texts_hold_no_identifiers_and_seed_means_random_seed() -> None:
    """The fixed texts of all experiments (title, claim, method, body, beyond, reasons): no identifiers, and a bare
    种子 (seed) is always 随机种子 (a random seed); the source document is 原文, never a "seed document"."""
    found = []
    for exp in all_experiments():
        texts = {k: exp.t(k, "zh") for k in ("title", "claim", "method", "body", "beyond")}
        texts.update({f"reason {k}": v["zh"] for k, v in exp.reasons.items()})
        for where, text in texts.items():
            ids = set(IDENTIFIER.findall(text)) - ALLOWED_IDENTIFIERS
            if ids:
                found.append(f"{exp.id} {where}: {sorted(ids)}")
            if re.search(r"(?<!随机)种子", text):
                found.append(f"{exp.id} {where}: bare 种子")
    for key, text in UI["zh"].items():
        if re.search(r"(?<!随机)种子", text):
            found.append(f"UI {key}: bare 种子")
    assert not found, found


def test_units_and_headers_glossary() -> None:
    assert zh.unit_text("fraction", "zh") == "比例" and zh.unit_text("s", "zh") == "秒"
    assert zh.unit_text("px", "zh") == "像素" and zh.unit_text("params", "zh") == "参数量"
    assert zh.unit_text("fraction", "en") == "fraction" and zh.unit_text("made-up unit", "zh") == "made-up unit"
    assert zh.header_text("val acc", "zh") == "验证准确率" and zh.header_text("val acc", "en") == "val acc"
    both = {"en": "a", "zh": "乙"}
    assert zh.header_text(both, "zh") == "乙" and zh.header_text(both, "en") == "a"
    for glossary in (zh.UNITS, zh.HEADERS):
        bad = {k: v for k, v in glossary.items() if english_words(v)}
        assert not bad, f"glossary entries left in English: {bad}"


def test_label_patterns() -> None:
    labels = {"acc_{init}_{act}": {"en": "accuracy, {init}, {act}", "zh": "准确率（{init}，{act}）"},
              "rf_d{d}": {"en": "field, dilation {d}", "zh": "感受野（空洞率 {d}）"}}
    terms = {"all_zero": {"en": "all zero", "zh": "全零"}}
    # a two-part value splits where both parts have a translation (all_zero + relu, not all + zero_relu)
    assert zh.label_from(labels, terms, "acc_all_zero_relu") == {"en": "accuracy, all zero, ReLU",
                                                                  "zh": "准确率（全零，ReLU）"}
    assert zh.label_from(labels, terms, "rf_d2") == {"en": "field, dilation 2", "zh": "感受野（空洞率 2）"}
    assert zh.label_from(labels, terms, "acc_unknown_relu") is None  # an untranslated value gives no label
    assert zh.label_from(labels, terms, "other") is None
    assert zh.label_from({"other": {"en": "x", "zh": "乙"}}, {}, "other") == {"en": "x", "zh": "乙"}


def test_every_experiment_declares_labels() -> None:
    """Each experiment with measured figures carries a label table whose patterns all have both languages."""
    for exp in all_experiments():
        for key, text in exp.labels.items():
            assert set(text) >= set(LANGS) and not english_words(re.sub(r"\{\w+\}", "", text["zh"])), (exp.id, key)
            slots = set(re.findall(r"\{(\w+)\}", key))
            for lang in LANGS:  # a pattern's label uses exactly its slots, in both languages
                assert set(re.findall(r"\{(\w+)\}", text[lang])) == slots, (exp.id, key, lang)


# ------------------------------------------------------------------------------------------------ plots per language
def _draw(ctx: Context, name: str) -> None:
    from cvprimer.lab.plots import tr

    fig, ax = ctx.figure()
    ax.bar([0, 1], [1.0, 2.0])
    ax.set_xticks([0, 1], [tr("plain net", "普通网络"), tr("with gate", "带门控")])  # tick labels set by hand
    ax.set_title(tr("accuracy by model", "各模型的准确率"))
    ax.set_xlabel("epoch")  # a common word: report/zh.py's PLOT_TEXT has it
    ax.plot([0, 1], [0, 1], label=tr("train", "训练"))
    ax.legend()
    ctx.save_figure(fig, name, "alt", "替代文本")


def _texts_of_last_zh_figure(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import cvprimer.lab.plots as plots

    seen: list[str] = []
    real = plots._to_chinese

    def spy(fig: Any, family: str, tables: Any = None) -> int:
        n = real(fig, family, tables)
        fig.canvas.draw()
        from matplotlib.text import Text

        seen.extend(t.get_text() for t in fig.findobj(Text) if t.get_text())
        return n

    monkeypatch.setattr(plots, "_to_chinese", spy)
    return seen


def test_plot_written_per_language_with_a_cjk_font(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cvprimer.lab.plots as plots

    if plots.cjk_font() is None:
        pytest.skip("no CJK font for matplotlib (apt-get install fonts-noto-cjk)")
    seen = _texts_of_last_zh_figure(monkeypatch)
    with plots.style():
        _draw(Context(str(tmp_path)), "p")
    assert (tmp_path / "p.png").is_file() and (tmp_path / "p.zh.png").is_file()
    assert (tmp_path / "p.png").read_bytes() != (tmp_path / "p.zh.png").read_bytes()
    for text in ("各模型的准确率", "普通网络", "带门控", "轮次", "训练"):
        assert text in seen, (text, seen)
    assert not {"accuracy by model", "plain net", "with gate", "epoch"} & set(seen), seen


def test_plot_falls_back_to_english_without_a_cjk_font(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cvprimer.lab.plots as plots

    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    with plots.style():
        _draw(Context(str(tmp_path)), "p")
    assert (tmp_path / "p.png").is_file() and not (tmp_path / "p.zh.png").exists()


def test_no_cjk_request_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    import cvprimer.lab.plots as plots

    plots.cjk_font.cache_clear()
    monkeypatch.setenv("CVPRIMER_LAB_NO_CJK", "1")
    try:
        assert plots.cjk_font() is None
    finally:
        plots.cjk_font.cache_clear()


def test_zh_page_shows_the_chinese_plot(results: dict[str, Any], lab_out: Path) -> None:
    """Where a run folder holds ``<stem>.zh.png`` the Chinese page embeds it and the English page the original."""
    from cvprimer.lab.runner import run_dir

    pairs = []
    for rec in results["experiments"]:
        for p in rec.get("plots") or []:
            folder = Path(run_dir(str(lab_out), rec["id"], rec["mode"]))
            if (folder / p["file"]).is_file() and (folder / f"{p['file'][:-4]}.zh.png").is_file():
                pairs.append((rec, folder / p["file"], folder / f"{p['file'][:-4]}.zh.png"))
    if not pairs:
        import cvprimer.lab.plots as plots

        assert os.environ.get("CVPRIMER_LAB_REPORT") or plots.cjk_font() is None, \
            "a CJK font is installed but the quick run wrote no Chinese plot (q38 draws one)"
        pytest.skip("no Chinese plot in this folder (run without a CJK font, or before plots had one)")
    rec, en_png, zh_png = pairs[0]
    one = {**results, "experiments": [rec]}
    b64 = {k: base64.b64encode(p.read_bytes()).decode("ascii") for k, p in (("en", en_png), ("zh", zh_png))}
    zh_html, en_html = render(one, "zh", str(lab_out), "x"), render(one, "en", str(lab_out), "x")
    assert b64["zh"] in zh_html and b64["en"] not in zh_html
    assert b64["en"] in en_html and b64["zh"] not in en_html


def test_zh_page_without_a_chinese_plot_says_its_text_is_english(results: dict[str, Any], lab_out: Path,
                                                                  tmp_path: Path) -> None:
    """A plot drawn without a CJK font has no ``<stem>.zh.png``: the Chinese page shows the English plot with its
    Chinese caption and says the plot's text is English (the English page says nothing)."""
    import shutil

    from cvprimer.lab.runner import run_dir

    rec = next((r for r in results["experiments"] if r.get("plots")), None)
    assert rec is not None, "no record with a plot"
    src, dst = Path(run_dir(str(lab_out), rec["id"], rec["mode"])), Path(run_dir(str(tmp_path), rec["id"], rec["mode"]))
    shutil.copytree(src, dst)
    for p in dst.glob("*.zh.png"):
        p.unlink()
    one = {**results, "experiments": [rec]}
    en_png = base64.b64encode((dst / rec["plots"][0]["file"]).read_bytes()).decode("ascii")
    zh_html, en_html = render(one, "zh", str(tmp_path), "x"), render(one, "en", str(tmp_path), "x")
    caption = (rec["plots"][0].get("caption") or rec["plots"][0]["alt"])["zh"]
    # the note ends the plot's caption (after the "(random seed k)" a run over several seeds adds)
    assert en_png in zh_html
    note = re.escape(escape(UI["zh"]["plot_text_en"]))
    assert re.search(re.escape(escape(caption)) + r"[^<]*" + note + "</figcaption>", zh_html)
    assert UI["zh"]["plot_text_en"] and UI["zh"]["plot_text_en"] not in en_html


def test_tr_table_belongs_to_its_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two modules may translate the same English plot text differently: each figure uses the table of the module
    that saved it."""
    import cvprimer.lab.plots as plots

    if plots.cjk_font() is None:
        pytest.skip("no CJK font for matplotlib (apt-get install fonts-noto-cjk)")
    seen = _texts_of_last_zh_figure(monkeypatch)
    code = ("def draw(ctx, name):\n"
            "    fig, ax = ctx.figure()\n"
            "    ax.set_title('none of them')\n"
            "    ctx.save_figure(fig, name, 'alt', '替代文本')\n")
    modules = {}
    for mod, zh_text in (("fake_lab_module_a", "甲模块的译文"), ("fake_lab_module_b", "乙模块的译文")):
        ns: dict[str, Any] = {"__name__": mod}
        exec(compile(code, mod, "exec"), ns)
        # declared from inside the module (tr_table reads its caller's module name)
        ns["PLOT_ZH"] = eval("tr_table({'none of them': z})",
                             {"__name__": mod, "tr_table": plots.tr_table, "z": zh_text})
        modules[mod] = ns
    with plots.style():
        modules["fake_lab_module_a"]["draw"](Context(str(tmp_path)), "a")
        first = list(seen)
        modules["fake_lab_module_b"]["draw"](Context(str(tmp_path)), "b")
    assert "甲模块的译文" in first and "乙模块的译文" not in first
    assert "乙模块的译文" in seen[len(first):] and "甲模块的译文" not in seen[len(first):]
