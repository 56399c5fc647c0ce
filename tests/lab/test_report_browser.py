"""The report in a real browser: Debian's chromium driven through selenium with the driver's path given.

The report under test is ``$CVPRIMER_LAB_REPORT`` when set (``.ci/run`` points it at the output of
``cvprimer lab run --all --quick``), else a small one built here from two experiments. Without a browser the
tests skip with the reason, unless ``CVPRIMER_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns the skip
into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CVPRIMER_CHROMIUM", "/usr/bin/chromium")
DRIVER = os.environ.get("CVPRIMER_CHROMEDRIVER", "/usr/bin/chromedriver")
REQUIRED = os.environ.get("CVPRIMER_REQUIRE_BROWSER") == "1"


def _skip_or_fail(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"browser test required (CVPRIMER_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("CVPRIMER_LAB_REPORT")
    if given:
        out = Path(given)
        assert (out / "index.html").is_file(), f"CVPRIMER_LAB_REPORT={given} holds no index.html"
        return out
    out = tmp_path_factory.mktemp("lab")
    # q38 and q4 (which also answers q22): two questions with verdicts and one shared experiment to link
    for cmd in (["run", "q38", "q4", "--seeds", "1"], ["report"]):
        r = subprocess.run([sys.executable, "-m", "cvprimer", "lab", "--out", str(out), *cmd], capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def driver():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _skip_or_fail("selenium is not installed (pip install -e '.[test]')")
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        _skip_or_fail(f"no browser: {CHROMIUM} or {DRIVER} missing (apt-get install chromium chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1200,1600"):
        opts.add_argument(flag)
    profile = Path(os.environ.get("TMPDIR", "/tmp")) / f"cvprimer-chrome-{os.getpid()}"
    opts.add_argument(f"--user-data-dir={profile}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)
    drv.set_page_load_timeout(120)
    yield drv
    drv.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _open(driver, path: Path) -> list[dict]:
    driver.get(path.resolve().as_uri())
    return driver.get_log("browser")


def _errors(logs: list[dict]) -> list[str]:
    return [e["message"] for e in logs if e.get("level") in ("SEVERE", "ERROR")]


def _visible(driver, selector: str) -> list:
    return [e for e in driver.find_elements("css selector", selector) if e.is_displayed()]


def test_english_page_structure_images_and_no_network(driver, report_dir: Path):
    logs = _open(driver, report_dir / "index.html")
    assert _errors(logs) == []
    sections = driver.find_elements("css selector", "section.question")
    assert [s.get_attribute("id") for s in sections] == [f"q{n}" for n in range(1, 55)]
    results = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    # an experiment that answers several questions is rendered (with its plots) once; later questions link to it
    n_plots = sum(len(r.get("plots") or []) for r in results["experiments"])
    widths = driver.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth]);")
    assert len(widths) == n_plots
    assert all(done and w > 0 for done, w in widths), widths
    resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name);")
    assert [r for r in resources if not r.startswith(("data:", "file:"))] == []
    ids = {r["id"] for r in results["experiments"]}
    assert ids and all(driver.find_elements("css selector", f'article[data-id="{i}"]') for i in ids)
    all_ids = driver.execute_script("return Array.from(document.querySelectorAll('[id]')).map(e => e.id);")
    assert len(all_ids) == len(set(all_ids)), "duplicate element ids"
    assert all(driver.find_elements("id", i) for i in ids)  # every experiment has its plain anchor once
    driver.save_screenshot(str(report_dir / "screenshot-en.png"))


def test_verdict_filter_hides_and_shows_sections(driver, report_dir: Path):
    from selenium.webdriver.support.ui import Select

    _open(driver, report_dir / "index.html")
    total = len(_visible(driver, "section.question"))
    verdicts = driver.execute_script(
        "return Array.from(document.querySelectorAll('section.question')).map(s => s.dataset.verdicts);")
    present = next(v for v in ("confirmed", "nuanced", "refuted", "page") if any(v in s.split() for s in verdicts))
    Select(driver.find_element("id", "f-verdict")).select_by_value(present)
    shown = _visible(driver, "section.question")
    assert 0 < len(shown) < total
    assert all(present in s.get_attribute("data-verdicts").split() for s in shown)
    Select(driver.find_element("id", "f-verdict")).select_by_value("all")
    assert len(_visible(driver, "section.question")) == total
    box = driver.find_element("id", "f-search")
    box.send_keys("q38")
    assert [s.get_attribute("id") for s in _visible(driver, "section.question")] == ["q38"]


def test_study_mode_hides_then_reveals_and_remembers(driver, report_dir: Path):
    _open(driver, report_dir / "index.en.html")
    driver.execute_script("localStorage.clear();")
    _open(driver, report_dir / "index.en.html")
    answers = driver.find_elements("css selector", "section.question .answer")
    assert answers and all(a.is_displayed() for a in answers[:3])
    driver.find_element("id", "study").click()
    assert not any(a.is_displayed() for a in answers)
    section = answers[0].find_element("xpath", "ancestor::section[1]")
    button = section.find_element("css selector", "button.reveal")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    assert all(a.is_displayed() for a in section.find_elements("css selector", ".answer"))
    stored = json.loads(driver.execute_script("return localStorage.getItem('cvprimer-lab-revealed-en');"))
    assert section.get_attribute("data-q") in stored
    driver.find_element("id", "study").click()
    assert all(a.is_displayed() for a in answers)


def test_chinese_page_renders_and_links_back(driver, report_dir: Path):
    logs = _open(driver, report_dir / "index.zh.html")
    assert _errors(logs) == []
    assert driver.find_element("tag name", "html").get_attribute("lang") == "zh-CN"
    assert "实验" in driver.title
    assert len(driver.find_elements("css selector", "section.question")) == 54
    assert driver.find_element("id", "other-lang").get_attribute("href").endswith("/index.en.html")
    driver.save_screenshot(str(report_dir / "screenshot-zh.png"))


def test_displayed_figures_are_the_results_json_means(driver, report_dir: Path):
    """What the reader sees in each experiment's figures table is exactly results.json's value (the mean over
    seeds), spread and per-seed values, in the page's number format: a renderer that shows one seed's value, or
    scales a number, fails here."""
    from cvprimer.lab.report.html import _num

    _open(driver, report_dir / "index.html")
    results = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    checked = 0
    for rec in results["experiments"]:
        figs = rec.get("figures") or {}
        if rec.get("status") != "ok" or not figs:
            continue
        rows = driver.execute_script(
            "const a = document.getElementById(arguments[0]); const t = a && a.querySelector('div.kv + table');"
            "return t ? Array.from(t.rows).slice(1).map(r => Array.from(r.cells).map(c => c.textContent)) : null;",
            rec["id"])
        assert rows is not None, f"{rec['id']}: no figures table"
        multi = any("spread" in f for f in figs.values())
        want = [[_num(f.get("value"))] + ([_num(f.get("spread")), " / ".join(_num(v) for v in f.get("per_seed") or [])]
                                          if multi else []) for f in figs.values()]
        got = [r[1:4] if multi else r[1:2] for r in rows]
        assert got == want, f"{rec['id']}: the page shows {got}, results.json holds {want}"
        checked += 1
    assert checked > 0


# ---- issue 24: study mode, phone layout, search, counts, legend (both pages; desktop 1366x900, phone 390 px) ----

PAGES = {"en": "index.html", "zh": "index.zh.html"}


def _page(report_dir: Path, lang: str) -> Path:
    """The page in ``lang`` (``index.html`` may be either language, ``index.<lang>.html`` is always that one)."""
    path = report_dir / f"index.{lang}.html"
    return path if path.is_file() else report_dir / PAGES[lang]


@pytest.fixture
def desktop(driver):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1366, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    yield driver
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.fixture
def phone(driver):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    yield driver
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def _fresh(driver, path: Path) -> None:
    _open(driver, path)
    driver.execute_script("localStorage.clear();")
    _open(driver, path)


def _key(driver, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(key).perform()


def _current_q(driver) -> str:
    """The question whose section holds the line just under the sticky controls."""
    return driver.execute_script(
        "const y = document.querySelector('.controls').getBoundingClientRect().bottom + 24;"
        "let cur = null; document.querySelectorAll('section.question:not(.hidden)').forEach(s => {"
        "  if (s.getBoundingClientRect().top <= y) { cur = s.dataset.q; } }); return cur;")


def _jump(driver, n: int) -> None:
    driver.execute_script("document.getElementById(arguments[0]).scrollIntoView();", f"q{n}")


def _first_experiment_q(driver) -> int:
    return int(driver.execute_script(
        "return document.querySelector('section.question .answer').closest('section').dataset.q;"))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_study_mode_ticked_with_the_mouse_then_space_reveals(desktop, report_dir: Path, lang: str):
    driver = desktop
    _fresh(driver, _page(report_dir, lang))
    driver.find_element("id", "study").click()
    n = _first_experiment_q(driver)
    _jump(driver, n)
    section = driver.find_element("id", f"q{n}")
    assert not any(a.is_displayed() for a in section.find_elements("css selector", ".answer"))
    _key(driver, " ")
    assert driver.find_element("id", "study").is_selected(), "Space unticked study mode"
    assert "study" in driver.find_element("tag name", "body").get_attribute("class")
    assert all(a.is_displayed() for a in section.find_elements("css selector", ".answer"))
    other = driver.find_elements("css selector", f"section.question:not(#q{n}) .answer")
    assert other and not any(a.is_displayed() for a in other[:5])  # one question at a time


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_study_mode_hides_errata_badges_and_beyond_until_revealed(desktop, report_dir: Path, lang: str):
    driver = desktop
    _fresh(driver, _page(report_dir, lang))
    assert driver.find_element("id", "errata").is_displayed()
    driver.find_element("id", "study").click()
    assert not driver.find_element("id", "errata").is_displayed()
    verdicts = ("confirmed", "nuanced", "refuted", "unsettled")
    shown = [b.text for b in driver.find_elements("css selector", ".badge") if b.is_displayed()
             and any(v in b.get_attribute("class").split() for v in verdicts)]
    assert shown == [], f"verdict badges visible in study mode: {shown[:5]}"
    assert not _visible(driver, ".beyond") and not _visible(driver, ".answer")
    n = _first_experiment_q(driver)
    section = driver.find_element("id", f"q{n}")
    button = section.find_element("css selector", "button.reveal")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    assert [b for b in section.find_elements("css selector", "h2 .badge") if b.is_displayed()]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_study_keys_j_k_move_and_arrows_scroll(desktop, report_dir: Path, lang: str):
    driver = desktop
    _fresh(driver, _page(report_dir, lang))
    driver.find_element("id", "study").click()
    _jump(driver, 10)
    assert _current_q(driver) == "10"
    y = driver.execute_script("return window.scrollY;")
    _key(driver, "\ue015")  # ArrowDown: scrolls a little (perhaps smoothly), stays in the question
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 3).until(lambda d: d.execute_script("return window.scrollY;") != y)
    time.sleep(0.5)  # let a smooth scroll finish
    y2 = driver.execute_script("return window.scrollY;")
    assert 0 < y2 - y < 200 and _current_q(driver) == "10"
    _key(driver, "j")
    assert _current_q(driver) == "11"
    _key(driver, "k")
    assert _current_q(driver) == "10"
    help_text = driver.find_element("css selector", ".studyhelp").text
    assert "j" in help_text and "k" in help_text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_phone_controls_are_one_short_row_and_an_index_jump_shows_the_heading(phone, report_dir: Path, lang: str):
    driver = phone
    _fresh(driver, _page(report_dir, lang))
    assert driver.execute_script("return window.innerWidth;") == 390
    assert driver.execute_script("return document.querySelector('.controls').offsetHeight;") <= 60
    assert driver.execute_script("return document.documentElement.scrollWidth;") <= 390, "horizontal overflow"
    driver.execute_script("document.querySelector('nav.index a[href=\"#q30\"]').click();")
    bottom, top = driver.execute_script(
        "return [document.querySelector('.controls').getBoundingClientRect().bottom,"
        " document.querySelector('#q30 h2').getBoundingClientRect().top];")
    assert top >= bottom, f"the heading (top {top}) is under the sticky controls (bottom {bottom})"
    driver.find_element("id", "study").click()
    assert driver.execute_script("return document.querySelector('.controls').offsetHeight;") <= 60
    driver.save_screenshot(str(report_dir / f"screenshot-phone-{lang}.png"))


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_plot_opens_full_width_and_closes(driver, report_dir: Path, size: str, lang: str, request):
    driver = request.getfixturevalue(size)
    _fresh(driver, _page(report_dir, lang))
    imgs = _visible(driver, "section.question img")
    assert imgs, "no plot in the report"
    img = max(imgs[:20], key=lambda i: i.size["width"])
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", img)
    small = img.size["width"]
    img.click()
    zoom = driver.find_element("id", "zoom")
    assert zoom.is_displayed()
    big = zoom.find_element("tag name", "img")
    width = driver.execute_script("return window.innerWidth;")
    assert big.size["width"] >= min(width, int(big.get_attribute("naturalWidth"))) - 20 and big.size["width"] >= small
    _key(driver, "\ue00c")  # Escape
    assert not zoom.is_displayed()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_search_whole_words_and_question_numbers(desktop, report_dir: Path, lang: str):
    driver = desktop
    _fresh(driver, _page(report_dir, lang))
    box = driver.find_element("id", "f-search")
    box.send_keys("19")
    assert [s.get_attribute("id") for s in _visible(driver, "section.question")] == ["q19"]
    box.clear()
    box.send_keys("q7")
    assert [s.get_attribute("id") for s in _visible(driver, "section.question")] == ["q7"]
    box.clear()
    box.send_keys("ization")  # a piece of a word (normalization, regularization), never a word of its own
    assert _visible(driver, "section.question") == [] and driver.find_element("id", "no-match").is_displayed()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_counts_follow_filters_and_empty_topics_hide(desktop, report_dir: Path, lang: str):
    from selenium.webdriver.support.ui import Select

    driver = desktop
    _fresh(driver, _page(report_dir, lang))

    def counts() -> tuple[int, int]:
        total = driver.execute_script(
            "return Array.from(document.querySelectorAll('#summary [data-v] .n'))"
            ".reduce((a, e) => a + parseInt(e.textContent, 10), 0);")
        return total, int(driver.find_element("id", "n-shown").text)

    assert counts() == (54, 54)  # one verdict per question: the counts add up to the 54 questions
    Select(driver.find_element("id", "f-topic")).select_by_value("data")
    shown = _visible(driver, "section.question")
    assert 0 < len(shown) < 54 and counts() == (len(shown), len(shown))
    headings = [d.get_attribute("data-topic") for d in _visible(driver, "nav.index div.topic")]
    assert headings == ["data"]
    Select(driver.find_element("id", "f-topic")).select_by_value("all")
    driver.find_element("id", "f-search").send_keys("19")
    assert counts() == (1, 1) and len(_visible(driver, "nav.index div.topic")) == 1


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_legend_defines_badges_modes_and_both_seeds(desktop, report_dir: Path, lang: str):
    driver = desktop
    _fresh(driver, _page(report_dir, lang))
    legend = driver.find_element("id", "legend")
    legend.find_element("tag name", "summary").click()
    text = legend.text
    for kind in ("confirmed", "nuanced", "refuted", "unsettled", "page"):
        assert legend.find_elements("css selector", f".badge.{kind}"), kind
    words = {"en": ("quick mode", "full mode", "provisional", "the source document", "random seed"),
             "zh": ("快速模式", "完整模式", "暂定", "原文", "随机种子")}[lang]
    assert all(w in text for w in words), text
    if lang == "en":
        assert "source document" in driver.find_element("css selector", "#q1 .seedclaim .kv").text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_shared_experiment_is_rendered_once_and_linked(desktop, report_dir: Path, lang: str):
    driver = desktop
    _fresh(driver, _page(report_dir, lang))
    results = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    shared = [r for r in results["experiments"] if len(r["questions"]) > 1]
    assert shared, "no experiment answers two questions in this report"
    for r in shared:
        first, *later = sorted(r["questions"])
        assert driver.find_elements("css selector", f"#q{first} article#{r['id']} .answer")
        for q in later:
            stub = driver.find_element("css selector", f'#q{q} article[data-id="{r["id"]}"]')
            assert not stub.find_elements("css selector", "img, table, .answer")
            link = stub.find_element("css selector", f'a[href="#{r["id"]}"]')
            assert str(first) in link.text
            link.click()
            assert _current_q(driver) == str(first)


# ---- issue 24, the report as a study tool: takeaways, related questions, the code, study state, phone, print ----

def _takeaway(rec_id: str, lang: str) -> str:
    # markup that must arrive as text, a question mention that must become a link, two paragraphs
    return {"en": f"Say this about {rec_id} <b>now</b> & cite question 19.\n\nThe number: 1 < 2.",
            "zh": f"关于 {rec_id} 现在这样回答 <b>加粗</b>，见第 19 题。\n\n关键数字：1 < 2。"}[lang]


@pytest.fixture(scope="module")
def takeaway_pages(report_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The report's pages rendered again from its results.json with a takeaway in every record (the field
    ``rec["takeaway"]``), beside the real pages' plots (read from ``report_dir``)."""
    from cvprimer.lab.report.html import render

    results = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    for rec in results["experiments"]:
        rec["takeaway"] = {lang: _takeaway(rec["id"], lang) for lang in ("en", "zh")}
    out = tmp_path_factory.mktemp("takeaway")
    (out / "results.json").write_text(json.dumps(results), encoding="utf-8")
    pages = {}
    for lang, other in (("en", "zh"), ("zh", "en")):
        pages[lang] = out / f"index.{lang}.html"
        pages[lang].write_text(render(results, lang, str(report_dir), f"index.{other}.html"), encoding="utf-8")
    return pages


def _unrun(page: Path) -> set[str]:
    """The sections of questions none of whose experiments has a record in the folder of ``page``'s results."""
    results = json.loads((page.parent / "results.json").read_text(encoding="utf-8"))
    ids = {r["id"] for r in results["experiments"]}
    return {f"q{n}" for n, q in results["questions"].items() if not ids & set(q["experiments"])}


def _sections_without(driver, selector: str) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('section.question'))"
        ".filter(s => !s.querySelector(arguments[0])).map(s => s.id);", selector)


def _displayed(driver, selector: str) -> list[bool]:
    """Whether each element matching ``selector`` is rendered (a box of its own; works off screen too)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.getClientRects().length > 0);",
        selector)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_takeaway_in_every_question_section_hidden_until_revealed(desktop, takeaway_pages, lang: str):
    driver = desktop
    _fresh(driver, takeaway_pages[lang])
    assert set(_sections_without(driver, ".takeaway")) == _unrun(takeaway_pages[lang])
    boxes = driver.find_elements("css selector", "section.question .takeaway")
    assert all(_displayed(driver, "section.question .takeaway"))
    first = boxes[0]
    text = first.text
    assert ("<b>" in text and "1 < 2" in text), text  # escaped: the markup is shown as text
    assert not first.find_elements("tag name", "b")
    assert len(first.find_elements("tag name", "p")) == 2
    link = first.find_element("css selector", 'a[href="#q19"]')
    assert ("19" in link.text) and driver.find_elements("id", "q19")
    label = {"en": "The answer, revised", "zh": "修正后的答案"}[lang]
    assert first.find_element("css selector", ".kv").text == label
    # study mode hides every takeaway until its question is revealed, then shows that one only
    driver.find_element("id", "study").click()
    assert not any(_displayed(driver, "section.question .takeaway"))
    n = _first_experiment_q(driver)
    button = driver.find_element("css selector", f"#q{n} > button.reveal")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    assert all(_displayed(driver, f"#q{n} .takeaway"))
    assert sum(_displayed(driver, "section.question .takeaway")) == len(_displayed(driver, f"#q{n} .takeaway"))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_real_report_has_a_takeaway_wherever_its_records_carry_one(desktop, report_dir: Path, lang: str):
    """On the lab's own output: every question whose records carry a ``takeaway`` shows it in its section, and
    once every record carries one (the lab declares a takeaway for each experiment and page), every question
    section has one."""
    driver = desktop
    _fresh(driver, _page(report_dir, lang))
    results = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    recs = {r["id"]: r for r in results["experiments"]}
    with_one = {f"q{n}" for n, q in results["questions"].items()
                if any((recs.get(i) or {}).get("takeaway") for i in q["experiments"])}
    missing = set(_sections_without(driver, ".takeaway"))
    assert not with_one & missing, sorted(with_one & missing)
    if all(r.get("takeaway") for r in recs.values()):
        answered = {f"q{n}" for n, q in results["questions"].items()
                    if q["experiments"] and all(i in recs for i in q["experiments"])}
        assert answered and not answered & missing, f"sections without a takeaway: {sorted(answered & missing)}"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_related_questions_and_mentions_are_links_that_resolve(desktop, takeaway_pages, lang: str):
    from cvprimer.lab.report.learn import RELATED

    driver = desktop
    _fresh(driver, takeaway_pages[lang])
    related = driver.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('section.question')).map(s => [s.dataset.q,"
        " Array.from(s.querySelectorAll('.related a')).map(a => a.getAttribute('href'))]));")
    assert set(related) == {str(n) for n in range(1, 55)}
    assert all(related[str(n)] == [f"#q{m}" for m in RELATED[n]] for n in range(1, 55))
    assert related["16"] == ["#q25", "#q34", "#q47"] and "#q22" in related["29"] and "#q4" in related["29"]
    assert sum(map(len, related.values())) > 54
    # every in-page link of the page has its target, whatever produced it
    broken = driver.execute_script(
        "return Array.from(document.querySelectorAll('a[href^=\"#\"]')).map(a => a.getAttribute('href'))"
        ".filter(h => !document.getElementById(h.slice(1)));")
    assert broken == []
    mentions = driver.find_elements("css selector", ".takeaway a[href='#q19']")
    assert len(mentions) >= 54 - len(_unrun(takeaway_pages[lang]))  # the mention in each takeaway, linked
    link = driver.find_element("css selector", "#q16 .related a[href='#q34']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", link)
    link.click()
    assert _current_q(driver) == "34"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_each_experiment_says_where_its_code_is_and_shows_measure_and_decide(desktop, report_dir: Path, lang: str):
    import cvprimer
    from cvprimer.lab.registry import get
    from cvprimer.lab.report.learn import source_path

    driver = desktop
    _fresh(driver, _page(report_dir, lang))
    results = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    root = Path(cvprimer.__file__).resolve().parent.parent
    for rec in results["experiments"]:
        art = driver.find_element("id", rec["id"])
        path = art.find_element("css selector", ".source code").text
        assert path == source_path(get(rec["id"])) and path.startswith("cvprimer/lab/experiments/"), path
        assert (root / path).is_file()
        details = art.find_element("css selector", "details.code")
        assert details.get_attribute("open") is None and not _visible(driver, f"#{rec['id']} details.code pre")
        driver.execute_script("arguments[0].open = true;", details)
        code = "\n".join(p.text for p in details.find_elements("css selector", "pre code"))
        assert "def measure(self" in code and "def draw(" not in code
        assert ("def decide(" in code) == (rec.get("kind", "experiment") == "experiment"), rec["id"]
    # the code is not searched: words only the code and its path hold find nothing
    box = driver.find_element("id", "f-search")
    for word in ("staticmethod", Path(path).name):
        box.clear()
        box.send_keys(word)
        assert _visible(driver, "section.question") == [], word


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_study_state_survives_a_reload_per_language(desktop, report_dir: Path, lang: str):
    driver = desktop
    page, other = _page(report_dir, lang), _page(report_dir, "zh" if lang == "en" else "en")
    _fresh(driver, page)
    driver.find_element("id", "study").click()
    n = _first_experiment_q(driver)
    button = driver.find_element("css selector", f"#q{n} > button.reveal")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    _open(driver, page)  # reload
    assert driver.find_element("id", "study").is_selected()
    assert "study" in driver.find_element("tag name", "body").get_attribute("class")
    assert all(_displayed(driver, f"#q{n} .answer"))
    assert not any(_displayed(driver, f"section.question:not(#q{n}) .answer"))
    assert not any(b.is_displayed() for b in driver.find_elements("css selector", f"#q{n} > button.reveal"))
    assert "studied" in driver.find_element("css selector", f'nav.index li[data-q="{n}"]').get_attribute("class")
    _open(driver, other)  # the other language keeps its own state
    assert not driver.find_element("id", "study").is_selected() and all(_displayed(driver, "section.question .answer"))
    _open(driver, page)
    start = driver.find_element("id", "start-over")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", start)
    start.click()
    assert not any(_displayed(driver, "section.question .answer"))
    _open(driver, page)
    assert driver.find_element("id", "study").is_selected() and not any(_displayed(driver, "section.question .answer"))
    driver.find_element("id", "study").click()  # unticked: remembered too
    _open(driver, page)
    assert not driver.find_element("id", "study").is_selected() and all(_displayed(driver, "section.question .answer"))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_enter_reveals_and_next_unrevealed_skips_revealed_questions(desktop, report_dir: Path, lang: str):
    driver = desktop
    _fresh(driver, _page(report_dir, lang))
    driver.find_element("id", "study").click()
    b11 = driver.find_element("css selector", "#q11 > button.reveal")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", b11)
    b11.click()
    _jump(driver, 10)
    assert _current_q(driver) == "10" and "revealed" not in driver.find_element("id", "q10").get_attribute("class")
    _key(driver, "\ue007")  # Enter
    assert "revealed" in driver.find_element("id", "q10").get_attribute("class")
    assert "revealed" not in driver.find_element("id", "q12").get_attribute("class")
    driver.find_element("id", "next-unrevealed").click()
    assert _current_q(driver) == "12"  # q11 was revealed already


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_phone_no_horizontal_overflow_and_filters_behind_a_toggle(phone, report_dir: Path, lang: str):
    driver = phone
    _fresh(driver, _page(report_dir, lang))

    def overflow() -> tuple[int, int]:
        # a phone widens its layout viewport to fit overflowing content, so innerWidth must stay 390 too
        width, inner = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth];")
        assert inner == 390, f"the layout viewport grew to {inner} px: something is wider than the screen"
        return width, inner

    toggle = driver.find_element("id", "ctl-toggle")
    assert toggle.is_displayed() and not driver.find_element("id", "f-verdict").is_displayed()
    assert driver.execute_script("return document.querySelector('.controls').offsetHeight;") <= 60
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert all(driver.find_element("id", i).is_displayed() for i in ("f-verdict", "f-topic", "f-search"))
    driver.find_element("id", "f-search").send_keys("19")
    assert [s.get_attribute("id") for s in _visible(driver, "section.question")] == ["q19"]
    width, inner = overflow()
    assert width <= inner, f"horizontal overflow with the filters open: {width} > {inner}"
    driver.execute_script("const b = document.getElementById('f-search'); b.value = '';"
                          "b.dispatchEvent(new Event('input'));")
    assert len(_visible(driver, "section.question")) == 54
    toggle.click()
    assert not driver.find_element("id", "f-verdict").is_displayed()
    assert driver.execute_script("return document.querySelector('.controls').offsetHeight;") <= 60
    # every code excerpt open: tables and code scroll inside their own boxes, the page never sideways
    driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true);")
    width, inner = overflow()
    assert width <= inner, f"horizontal overflow at {inner} px: the page is {width} px wide"
    wide = driver.execute_script(
        "return Array.from(document.querySelectorAll('pre, table')).filter(e => e.scrollWidth > e.clientWidth + 1)"
        ".map(e => [e.tagName, getComputedStyle(e).overflowX]);")
    assert wide and all(o in ("auto", "scroll") for _, o in wide), wide
    assert "PRE" in {t for t, _ in wide}
    driver.find_element("id", "study").click()
    width, inner = overflow()
    assert width <= inner


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_print_shows_every_answer_without_controls(desktop, takeaway_pages, lang: str):
    driver = desktop
    _fresh(driver, takeaway_pages[lang])
    driver.find_element("id", "study").click()  # printed from study mode, nothing revealed
    assert not any(_displayed(driver, ".answer"))
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        for sel in (".answer", ".takeaway", "#errata"):
            shown = _displayed(driver, sel)
            assert shown and all(shown), sel
        for sel in (".controls", "section.question > button.reveal", ".studyhelp"):
            assert not any(_displayed(driver, sel)), sel
        badges = driver.execute_script(
            "return Array.from(document.querySelectorAll('section.question h2 .badge'))"
            ".map(b => getComputedStyle(b).visibility);")
        assert badges and set(badges) == {"visible"}
        breaks = driver.execute_script(
            "return Array.from(document.querySelectorAll('figure, table')).map(e => getComputedStyle(e).breakInside);")
        assert breaks and set(breaks) == {"avoid"}
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert not any(_displayed(driver, ".answer"))  # back on screen: study mode again


def test_chinese_page_shows_chinese_labels_in_the_browser(driver, report_dir: Path):
    """Issue 24 ("Chinese complete"), as rendered: on the Chinese page every figure name, table header and unit
    the browser shows is Chinese (the short list of allowed words is test_report_zh's, with its reasons), and the
    plots are the Chinese copies where a CJK font made one."""
    from test_report_zh import english_words

    from cvprimer.lab.report.i18n import UI

    _open(driver, report_dir / "index.zh.html")
    rows = driver.execute_script("""
        const out = [];
        for (const t of document.querySelectorAll('section.question table')) {
          const head = Array.from(t.querySelectorAll('tr:first-child th')).map(th => th.textContent.trim());
          out.push({head: head, rows: Array.from(t.querySelectorAll('tr')).slice(1).map(
            tr => Array.from(tr.children).map(td => td.textContent.trim()))});
        }
        return out;""")
    assert rows
    bad = [f"header {h!r}" for t in rows for h in t["head"] if english_words(h)]
    figure_tables = [t for t in rows if t["head"] and t["head"][0] == "指标"] or \
        [t for t in rows if t["head"] and t["head"][-1] == "单位"]
    assert figure_tables, "no measured-figures table rendered on the Chinese page"
    for t in figure_tables:
        for r in t["rows"]:
            bad += [f"figure name {r[0]!r}" for _ in english_words(r[0])[:1]]
            bad += [f"unit {r[-1]!r}" for _ in english_words(r[-1])[:1]]
    assert not bad, bad[:30]
    imgs = "return Array.from(document.querySelectorAll('section.question img')).map(i => i.getAttribute('src'));"
    zh_srcs = driver.execute_script(imgs)
    page_text = driver.find_element("tag name", "body").get_attribute("textContent")
    _open(driver, report_dir / "index.en.html")
    en_srcs = driver.execute_script(imgs)
    assert zh_srcs and len(zh_srcs) == len(en_srcs)
    # the Chinese copies of the plots, or (no CJK font where the lab ran) the English plot with the note saying so
    assert set(zh_srcs) != set(en_srcs) or UI["zh"]["plot_text_en"] in page_text
