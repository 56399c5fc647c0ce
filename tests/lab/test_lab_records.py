"""Cached ``result.json`` records that are valid JSON but malformed (issue 25, point 11): ``load_record`` reads
them as missing, so ``lab show`` says "no result", ``lab report`` leaves them out and ``lab run`` re-runs them;
``lab show`` in Chinese on an ASCII terminal prints "?" rather than crash."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from cvprimer.cli import main
from cvprimer.lab.runner import load_record, record_problem

EXP = "q11-parameter-count"


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("lab") / "out"
    assert main(["lab", "run", "q11", "q06", "--out", str(d)]) == 0
    return d


def _record(d):
    return d / "runs" / EXP / "quick" / "result.json"


def _bad(rec, how):
    rec = json.loads(json.dumps(rec))
    if how == "value-na":
        next(iter(rec["figures"].values()))["value"] = "n/a"
    elif how == "spread-str":
        next(iter(rec["figures"].values()))["spread"] = "wide"
    elif how == "figures-list":
        rec["figures"] = [1, 2]
    elif how == "figure-number":
        rec["figures"] = {"a": 3}
    elif how == "no-status":
        del rec["status"]
    elif how == "no-figures":
        del rec["figures"]
    elif how == "questions-str":
        rec["questions"] = "11"
    elif how == "evidence-list":
        rec["evidence"] = ["a"]
    elif how == "verdict-number":
        rec["verdict"] = 3
    elif how == "tables-dict":
        rec["tables"] = {"a": 1}
    elif how == "rows-str":
        rec["tables"] = [{"columns": ["a"], "rows": "x"}]
    elif how == "beyond-value":
        rec["beyond"] = {"x": {"value": [1]}}
    elif how == "seeds-str":
        rec["seeds"] = "0"
    elif how == "plots-str":
        rec["plots"] = "a.png"
    return rec


CASES = ["value-na", "spread-str", "figures-list", "figure-number", "no-status", "no-figures", "questions-str",
         "evidence-list", "verdict-number", "tables-dict", "rows-str", "beyond-value", "seeds-str", "plots-str"]


def test_a_real_record_is_valid(lab_dir):
    rec = load_record(str(lab_dir), EXP)
    assert rec is not None and record_problem(rec, EXP) is None


@pytest.mark.parametrize("how", CASES)
def test_malformed_record_reads_as_missing_and_show_does_not_crash(tmp_path, capsys, lab_dir, how):
    d = tmp_path / "out"
    shutil.copytree(lab_dir, d)
    good = json.loads(_record(d).read_text(encoding="utf-8"))
    _record(d).write_text(json.dumps(_bad(good, how)), encoding="utf-8")
    assert record_problem(_bad(good, how), EXP) is not None
    assert load_record(str(d), EXP) is None
    capsys.readouterr()
    assert main(["lab", "show", "q11", "--out", str(d)]) == 0
    assert "no result" in capsys.readouterr().out


def test_report_leaves_a_malformed_record_out_and_run_reruns_it(tmp_path, capsys, lab_dir):
    d = tmp_path / "out"
    shutil.copytree(lab_dir, d)
    good = json.loads(_record(d).read_text(encoding="utf-8"))
    _record(d).write_text(json.dumps(_bad(good, "value-na")), encoding="utf-8")
    assert main(["lab", "report", "--out", str(d)]) == 0
    assert os.path.isfile(d / "index.html")
    ids = [r["id"] for r in json.loads((d / "results.json").read_text(encoding="utf-8"))["experiments"]]
    assert ids == ["q06-rf-arithmetic"]  # the malformed record is left out, the rest renders
    capsys.readouterr()
    assert main(["lab", "run", "q11", "--out", str(d)]) == 0
    assert "cached" not in capsys.readouterr().out  # re-run, not served
    assert load_record(str(d), EXP) is not None


def test_show_in_chinese_on_an_ascii_terminal(lab_dir):
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    r = subprocess.run([sys.executable, "-m", "cvprimer", "lab", "show", "q11", "--lang", "zh", "--out",
                        str(lab_dir)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "verdict:" in r.stdout and "?" in r.stdout
