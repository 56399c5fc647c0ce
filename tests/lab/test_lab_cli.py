"""``cvprimer lab``: selection, cache, results.json, the report files and one-line user errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cvprimer.cli import main
from cvprimer.lab import runner
from cvprimer.lab.experiment import Experiment, Figure, Result, evidence, verdict_if
from cvprimer.lab.registry import SelectionError, all_experiments, select


def lab(*args: str) -> int:
    return main(["lab", *args])


def test_registry_ids_unique_and_every_experiment_declares_both_languages():
    exps = all_experiments()
    assert len({e.id for e in exps}) == len(exps) >= 1
    for e in exps:
        e.check()
        assert e.command() == f"cvprimer lab run {e.id}"


def test_select_by_id_question_and_topic():
    assert [e.id for e in select(["q38"])] == ["q38-conv-vs-math"]
    assert [e.id for e in select(["38", "q38-conv-vs-math"])] == ["q38-conv-vs-math"]
    assert "q38-conv-vs-math" in [e.id for e in select(["architecture"])]
    with pytest.raises(SelectionError, match="valid ids"):
        select(["nope"])
    with pytest.raises(SelectionError, match="1..54"):
        select(["q99"])


def test_unknown_selector_is_one_line_exit_2(capsys, tmp_path):
    assert lab("--out", str(tmp_path), "run", "no-such-experiment") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cvprimer lab: unknown experiment 'no-such-experiment'")
    assert "q38-conv-vs-math" in err[0]


def test_nothing_selected_and_both_all_and_ids_are_user_errors(capsys, tmp_path):
    assert lab("run", "--out", str(tmp_path)) == 2
    assert "--all" in capsys.readouterr().err
    assert lab("run", "--all", "q38", "--out", str(tmp_path)) == 2


def test_out_is_a_file_or_unwritable(capsys, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    assert lab("run", "q38", "--out", str(f)) == 2
    assert "is a file" in capsys.readouterr().err
    if os.geteuid() != 0:  # root writes anywhere: the permission check cannot be exercised
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        assert lab("run", "q38", "--out", str(ro)) == 2
    assert lab("report", "--out", str(tmp_path / "missing")) == 2
    assert "does not exist" in capsys.readouterr().err


def test_bad_flag_values_exit_2(capsys):
    for args in (["run", "--all", "--seeds", "0"], ["run", "--all", "--seed", "-1"], ["report", "--lang", "fr"]):
        with pytest.raises(SystemExit) as e:
            lab(*args)
        assert e.value.code == 2


class _Toy(Experiment):
    id = "toy-mean"
    questions = (1,)
    topic = "data"
    thresholds = {"limit": 0.5}
    text = {"en": {"title": "t", "claim": "c", "method": "m"}, "zh": {"title": "题", "claim": "说", "method": "法"}}
    calls = 0

    def run(self, ctx):
        type(self).calls += 1
        ctx.progress.set_total(2)
        ctx.progress.update(2)
        return Result({"x": Figure(ctx.rng.uniform(), "")})

    @staticmethod
    def decide(figures, thresholds):
        ok = figures["x"] < thresholds["limit"]
        return verdict_if(ok), evidence(en=f"x={figures['x']:.3f}", zh=f"x={figures['x']:.3f}")


def test_runner_seeds_agreement_cache_and_corrupt_record(tmp_path):
    out = str(tmp_path)
    rec = runner.run_one(_Toy, out, quick=False, seed=0, seeds=5)
    assert rec["status"] == "ok" and rec["seeds"] == [0, 1, 2, 3, 4]
    per = rec["figures"]["x"]["per_seed"]
    assert len(per) == 5 and rec["figures"]["x"]["value"] == pytest.approx(sum(per) / 5)
    per_verdict = ["confirmed" if p < 0.5 else "refuted" for p in per]
    assert rec["per_seed_verdicts"] == per_verdict
    if len(set(per_verdict)) == 1:
        assert rec["verdict"] == per_verdict[0] and rec["seed_agreement"] == "5/5"
    else:
        assert rec["verdict"] == "unsettled" and "disagree" in rec["evidence"]["en"]
        assert "不一致" in rec["evidence"]["zh"]
    _Toy.calls = 0
    runner.run_many([_Toy], out, quick=False, seed=0, seeds=5, show_progress=False)
    assert _Toy.calls == 0  # cached: same code, mode and seeds
    runner.run_many([_Toy], out, quick=True, seed=0, seeds=3, show_progress=False)
    assert _Toy.calls == 3  # another mode re-runs, once per seed
    path = Path(out, "runs", "toy-mean", "quick", "result.json")
    path.write_text("{not json")
    assert runner.load_record(out, "toy-mean", "quick") is None
    assert runner.load_record(out, "toy-mean")["mode"] == "full"  # the full result lives apart, untouched
    runner.run_many([_Toy], out, quick=True, seed=0, seeds=3, show_progress=False)
    assert _Toy.calls == 6 and json.loads(path.read_text())["status"] == "ok"


class _Broken(_Toy):
    id = "toy-broken"

    def run(self, ctx):
        raise RuntimeError("boom")


def test_failing_experiment_is_recorded_not_cached(tmp_path):
    rec = runner.run_one(_Broken, str(tmp_path))
    assert rec["status"] == "error" and "boom" in rec["error"] and "Traceback" in rec["traceback"]
    assert not runner.is_fresh(rec, _Broken, True, [0])


def test_decide_must_return_a_known_verdict(tmp_path):
    class Bad(_Toy):
        id = "toy-bad"

        @staticmethod
        def decide(figures, thresholds):
            return "probably", {"en": "x", "zh": "x"}

    rec = runner.run_one(Bad, str(tmp_path))
    assert rec["status"] == "error" and "decide must return" in rec["error"]


def test_run_report_show_list_end_to_end(tmp_path, capsys):
    out = str(tmp_path / "rep")
    assert lab("run", "q38", "--out", out) == 0
    text = capsys.readouterr().out
    assert "q38-conv-vs-math" in text and "confirmed" in text
    assert lab("run", "q38", "--out", out) == 0
    assert "cached" in capsys.readouterr().out
    assert lab("report", "--out", out, "--lang", "zh") == 0
    res = json.loads(Path(out, "results.json").read_text(encoding="utf-8"))
    assert set(res) >= {"version", "created", "mode", "seeds", "experiments", "questions"}
    assert sorted(map(int, res["questions"])) == list(range(1, 55))
    e = res["experiments"][0]
    assert set(e) >= {"id", "questions", "topic", "title", "kind", "claim", "verdict", "evidence", "figures",
                      "seed_agreement", "seconds", "plots", "command"}
    assert res["questions"]["38"]["status"] == "done"
    zh = Path(out, "index.html").read_text(encoding="utf-8")
    en = Path(out, "index.en.html").read_text(encoding="utf-8")
    assert 'lang="zh-CN"' in zh and 'href="index.en.html"' in zh and 'href="index.zh.html"' in en
    assert zh.count('<section class="question"') == 54 and "http://" not in zh and "https://" not in zh
    assert lab("show", "q38", "--out", out) == 0
    assert "verdict: confirmed" in capsys.readouterr().out
    assert lab("list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert any(x["id"] == "q38-conv-vs-math" for x in listed)


def test_internal_error_keeps_its_traceback(monkeypatch, capsys):
    import cvprimer.lab.cli as labcli

    def explode(as_json):
        raise RuntimeError("internal")

    monkeypatch.setattr(labcli, "cmd_list", explode)
    assert lab("list") == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "please report it" in err


def test_module_entry_point_one_line_error():
    r = subprocess.run([sys.executable, "-m", "cvprimer", "lab", "show", "q99"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_a_users_own_index_or_results_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "mine"
    assert lab("run", "q38", "--seeds", "1", "--out", str(out)) == 0
    assert lab("report", "--out", str(out)) == 0  # our own files: rewritten freely
    assert lab("report", "--out", str(out)) == 0
    for name, text in (("index.html", "<html>my page</html>"), ("results.json", '{"mine": 1}'),
                       ("index.zh.html", "<p>我的</p>")):
        path = out / name
        keep = path.read_text(encoding="utf-8")
        path.write_text(text, encoding="utf-8")
        capsys.readouterr()
        assert lab("report", "--out", str(out)) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and name in err and "not written by cvprimer" in err
        assert lab("--out", str(out)) == 2  # the main job refuses before running anything
        assert path.read_text(encoding="utf-8") == text
        path.write_text(keep, encoding="utf-8")
    assert lab("report", "--out", str(out)) == 0


# ---- issue 24: the command line says what it did to the report ----


def _page_lang_and_link(path: Path) -> tuple[str, str]:
    import re

    text = path.read_text(encoding="utf-8")
    lang = re.search(r'<html lang="([^"]+)"', text).group(1)
    href = re.search(r'<a href="([^"]+)" hreflang="[^"]+" id="other-lang"', text).group(1)
    return lang, href


def test_report_lang_zh_rewrites_every_page_and_each_links_to_the_other_language(tmp_path):
    out = tmp_path / "rep"
    assert lab("run", "q38", "--seeds", "1", "--out", str(out)) == 0
    assert lab("report", "--out", str(out)) == 0  # English main page first
    assert lab("report", "--out", str(out), "--lang", "zh") == 0
    pages = {name: _page_lang_and_link(out / name) for name in ("index.html", "index.en.html", "index.zh.html")}
    assert pages == {"index.html": ("zh-CN", "index.en.html"), "index.en.html": ("en", "index.zh.html"),
                     "index.zh.html": ("zh-CN", "index.en.html")}
    created = json.loads((out / "results.json").read_text(encoding="utf-8"))["created"]
    for name in pages:  # none is left from the first report
        assert created in (out / name).read_text(encoding="utf-8"), name


def test_lab_run_rerenders_an_existing_report_or_says_it_did_not(tmp_path, capsys):
    out = tmp_path / "rep"
    assert lab("run", "q38", "--seeds", "1", "--out", str(out)) == 0
    text = capsys.readouterr().out
    assert f"report not updated: {out} has no report yet; `cvprimer lab report --out {out}` writes it" in text
    assert not (out / "index.html").exists()
    assert lab("report", "--out", str(out), "--lang", "zh") == 0
    capsys.readouterr()
    (out / "index.html").write_text((out / "index.html").read_text(encoding="utf-8").replace("q38", "OLD"),
                                    encoding="utf-8")
    assert lab("run", "q38", "--seeds", "1", "--out", str(out)) == 0
    assert f"report updated: {out / 'index.html'}" in capsys.readouterr().out
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "q38-conv-vs-math" in page and 'lang="zh-CN"' in page  # re-rendered, in the language it had


def test_report_on_an_empty_folder_is_one_line(tmp_path, capsys):
    assert lab("report", "--out", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no results in" in err and "cvprimer lab run --all" in err


def test_piped_run_prints_each_experiment_line_and_no_bar(tmp_path):
    r = subprocess.run([sys.executable, "-m", "cvprimer", "lab", "run", "q38", "q53", "--seeds", "1", "--out",
                        str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.startswith("  q")]
    assert sorted(row.split()[0] for row in rows) == ["q38-conv-vs-math", "q53-weight-update"]
    assert "\r" not in r.stdout + r.stderr and "exp/s" not in r.stderr


def test_result_lines_go_through_tqdm_write_so_a_bar_is_not_overwritten(monkeypatch, capsys):
    import tqdm

    import cvprimer.lab.cli as labcli

    written = []
    monkeypatch.setattr(tqdm.tqdm, "write", classmethod(lambda cls, s, file=None, **kw: written.append(s)))
    labcli._print_row({"id": "q38-conv-vs-math", "questions": [38], "verdict": "confirmed", "seconds": 1.0}, False)
    assert len(written) == 1 and written[0].split()[:3] == ["q38-conv-vs-math", "q38", "confirmed"]


def test_lab_list_uses_the_reports_topic_labels(capsys):
    from cvprimer.lab.questions import QUESTIONS, TOPICS

    assert lab("list") == 0
    text = capsys.readouterr().out
    heading = None
    for line in text.splitlines()[:-1]:
        if not line.startswith("  "):
            heading = line
            continue
        exp_id, qs = line.split()[:2]
        topic = QUESTIONS[int(qs[1:].split(",")[0])].topic
        assert heading == f"{TOPICS[topic]['en']} ({topic})", (exp_id, heading)
    assert lab("list", "--json") == 0
    for x in json.loads(capsys.readouterr().out):
        assert x["topic"] == QUESTIONS[x["questions"][0]].topic and x["topic_label"] == TOPICS[x["topic"]]


def test_full_result_is_kept_beside_quick_and_wins_the_report(tmp_path, monkeypatch):
    """Issue 24: results are kept per mode; a later quick run never replaces a full one; the report (collect)
    shows the fullest current result and its Reproduce line is the command that made it; a full result whose
    code changed gives way to a current quick one."""
    from cvprimer.lab import results

    out = str(tmp_path)
    full = runner.run_one(_Toy, out, quick=False, seed=0, seeds=2)
    quick = runner.run_one(_Toy, out, quick=True, seed=0, seeds=2)
    assert Path(out, "runs", "toy-mean", "full", "result.json").is_file()
    assert Path(out, "runs", "toy-mean", "quick", "result.json").is_file()
    assert runner.load_record(out, "toy-mean", "full")["command"] == full["command"]
    assert "--full" in full["command"] and "--full" not in quick["command"]
    monkeypatch.setattr(results, "all_experiments", lambda: [_Toy])
    monkeypatch.setattr(results, "by_question", lambda: {})
    shown = results.collect(out)["experiments"]
    assert [(r["id"], r["mode"], r["command"]) for r in shown] == [("toy-mean", "full", full["command"])]
    # the full record's code no longer matches: the current quick one is shown instead
    monkeypatch.setattr(runner, "stale_reason", lambda r, *a, **k: "code changed" if r["mode"] == "full" else None)
    assert runner.load_record(out, "toy-mean")["mode"] == "quick"
    with pytest.raises(ValueError, match="mode must be one of"):
        runner.run_dir(out, "toy-mean", "../x")
