"""The report in a real browser: Debian's chromium driven through selenium with the driver's path given.

The report under test is ``$CVPRIMER_LAB_REPORT`` when set (``.ci/run`` points it at the output of
``cvprimer lab run --all --quick``), else a small one built here from one experiment. Without a browser the
tests skip with the reason, unless ``CVPRIMER_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns the skip
into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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
    for cmd in (["run", "q38"], ["report"]):
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
    # an experiment that answers several questions appears (with its plots) in each of their sections
    n_plots = sum(len(r.get("plots") or []) * len(r["questions"]) for r in results["experiments"])
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
    _open(driver, report_dir / "index.html")
    driver.execute_script("localStorage.clear();")
    answers = driver.find_elements("css selector", "section.question .answer")
    assert answers and all(a.is_displayed() for a in answers[:3])
    driver.find_element("id", "study").click()
    assert not any(a.is_displayed() for a in answers)
    section = answers[0].find_element("xpath", "ancestor::section[1]")
    button = section.find_element("css selector", "button.reveal")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    assert all(a.is_displayed() for a in section.find_elements("css selector", ".answer"))
    stored = json.loads(driver.execute_script("return localStorage.getItem('cvprimer-lab-studied');"))
    assert section.get_attribute("data-q") in stored
    driver.find_element("id", "study").click()
    assert all(a.is_displayed() for a in answers)


def test_chinese_page_renders_and_links_back(driver, report_dir: Path):
    logs = _open(driver, report_dir / "index.zh.html")
    assert _errors(logs) == []
    assert driver.find_element("tag name", "html").get_attribute("lang") == "zh-CN"
    assert "实验" in driver.title
    assert len(driver.find_elements("css selector", "section.question")) == 54
    assert driver.find_element("id", "other-lang").get_attribute("href").endswith("/index.html")
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
