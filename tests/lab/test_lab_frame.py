"""The lab's frame: every seed decides and a split is unsettled; figures and tables are the seeds' means; what lies
beyond the seed's claim never reaches decide; the cache key covers code, frame, packages, mode and seeds; the
report shows exactly the values of results.json; processes and MPI ranks give the records a single process gives."""

from __future__ import annotations

import json
import os
import re
import shutil
from html import unescape
from pathlib import Path

import numpy as np
import pytest

from cvprimer.lab import aggregate as agg
from cvprimer.lab import cache, runner
from cvprimer.lab.experiment import Experiment, Figure, Result, Table, evidence, verdict_if
from cvprimer.lab.registry import all_experiments
from cvprimer.lab.report.html import _num, render
from cvprimer.lab.results import collect


class Seeded(Experiment):
    """x is the seed itself: seed 0 and 1 confirm (x < 1.5), seed 2 refutes."""

    id = "toy-seeded"
    questions = (1,)
    topic = "data"
    thresholds = {"limit": 1.5}
    reasons = {"limit": {"en": "a toy", "zh": "玩具"}}
    reachable = ("confirmed", "refuted")
    text = {"en": {"title": "t", "claim": "c", "method": "m"}, "zh": {"title": "题", "claim": "说", "method": "法"}}

    def run(self, ctx):
        x = float(ctx.seed)
        rows = [["a", x, 2 * x], ["b", 10.0, x + 0.5]]
        return Result({"x": Figure(x, "u"), "twice": Figure(2 * x, "u")},
                      tables=[Table("t", ["name", "x", "2x"], rows)],
                      beyond={"extra": Figure(100 + x, "u")}, beyond_tables=[Table("b", ["k"], [[x]])])

    @staticmethod
    def decide(figures, thresholds):
        assert "extra" not in figures, "beyond figures reached decide"
        ok = figures["x"] < thresholds["limit"]
        return verdict_if(ok), evidence(en=f"x = {figures['x']}", zh=f"x = {figures['x']}")

    @staticmethod
    def explain_beyond(beyond):
        return {"en": f"extra is {beyond['extra']}", "zh": f"extra 为 {beyond['extra']}"}


def _results(seeds):
    return [Seeded().run(type("C", (), {"seed": s})()) for s in seeds]


def test_every_seed_decides_and_a_split_is_unsettled():
    out = agg.aggregate(Seeded, _results([0, 1, 2]), [0, 1, 2])
    assert out["per_seed_verdicts"] == ["confirmed", "confirmed", "refuted"]
    assert out["verdict"] == "unsettled" and out["seed_agreement"] == "2/3"
    assert "2/3 confirmed" in out["evidence"]["en"] and "1/3 refuted" in out["evidence"]["en"]
    assert "Seed 2: refuted" in out["evidence"]["en"] and "随机种子 2" in out["evidence"]["zh"]
    # the mean (x = 1.0) would confirm: a verdict from the mean, or from seed 0 alone, fails here
    assert Seeded.decide({"x": 1.0, "twice": 2.0}, Seeded.thresholds)[0] == "confirmed"


def test_unanimous_seeds_give_their_verdict_with_the_mean_figures():
    out = agg.aggregate(Seeded, _results([0, 1]), [0, 1])
    assert out["verdict"] == "confirmed" and out["seed_agreement"] == "2/2"
    assert out["evidence"]["en"] == "x = 0.5"  # decide on the means
    assert out["figures"]["x"]["value"] == 0.5 and out["figures"]["x"]["per_seed"] == [0.0, 1.0]
    assert out["figures"]["x"]["spread"] == pytest.approx(np.std([0.0, 1.0], ddof=1))


class MeanElsewhere(Seeded):
    """Both seeds refute (x outside [0.4, 0.6]) while their mean 0.5 would confirm."""

    id = "toy-mean-elsewhere"

    @staticmethod
    def decide(figures, thresholds):
        ok = abs(figures["x"] - 0.5) < 0.1
        return verdict_if(ok), evidence(en=f"x = {figures['x']}", zh=f"x = {figures['x']}")


def test_a_mean_that_no_seed_reached_never_gives_the_evidence():
    out = agg.aggregate(MeanElsewhere, _results([0, 1]), [0, 1])
    assert out["verdict"] == "refuted"
    assert out["evidence"]["en"] == "(figures of seed 0) x = 0.0"


class NonFinite(Seeded):
    id = "toy-nonfinite"

    def run(self, ctx):
        res = super().run(ctx)
        res.figures["x"] = Figure(float("nan") if ctx.seed == 1 else ctx.seed, "u")
        return res


def test_a_non_finite_figure_is_recorded_not_a_crash(tmp_path):
    rec = runner.run_one(NonFinite, str(tmp_path), seeds=2)
    assert rec["status"] == "ok", rec.get("error")
    assert rec["figures"]["x"]["per_seed"] == [0.0, None] and rec["figures"]["x"]["spread"] is None


def test_beyond_figures_are_aggregated_apart_and_explained():
    out = agg.aggregate(Seeded, _results([0, 1]), [0, 1])
    assert "extra" not in out["figures"] and out["beyond"]["extra"]["value"] == 100.5
    assert out["beyond_evidence"]["en"] == "extra is 100.5"
    with pytest.raises(ValueError, match="both"):
        Result({"a": Figure(1)}, beyond={"a": Figure(2)})


def test_tables_are_averaged_over_seeds_with_a_spread_grid():
    t = agg.aggregate_tables([r.tables for r in _results([0, 1, 2])], [0, 1, 2])[0]
    assert t["rows"] == [["a", 1.0, 2.0], ["b", 10.0, 1.5]]
    assert t["spread"][0][0] is None and t["spread"][0][1] == pytest.approx(1.0)
    assert t["spread"][1][1] == 0.0
    # a table whose text cells change with the seed is the first seed's, labelled
    mixed = agg.aggregate_tables([[Table("t", ["k", "v"], [["x", 1.0]])], [Table("t", ["k", "v"], [["y", 2.0]])]],
                                 [4, 5])[0]
    assert mixed["rows"] == [["x", 1.0]] and mixed["seed"] == 4 and "spread" not in mixed


def test_seed_list_mode_and_force_decide_whether_the_cache_serves(tmp_path):
    out = str(tmp_path)
    calls = []
    orig = runner.run_task

    def counting(exp, quick, seed, want_plots, progress=None):
        calls.append(seed)
        return orig(exp, quick, seed, want_plots, progress)

    runner.run_task = counting
    try:
        runner.run_many([Seeded], out, quick=True, seed=0, seeds=2, show_progress=False)
        runner.run_many([Seeded], out, quick=True, seed=0, seeds=2, show_progress=False)
        assert calls == [0, 1]
        runner.run_many([Seeded], out, quick=True, seed=0, seeds=3, show_progress=False)  # another seed list
        runner.run_many([Seeded], out, quick=True, seed=1, seeds=3, show_progress=False)  # shifted seeds
        runner.run_many([Seeded], out, quick=False, seed=1, seeds=3, show_progress=False)  # another mode
        runner.run_many([Seeded], out, quick=False, seed=1, seeds=3, force=True, show_progress=False)
    finally:
        runner.run_task = orig
    assert calls == [0, 1, 0, 1, 2, 1, 2, 3, 1, 2, 3, 1, 2, 3]
    rec = runner.load_record(out, Seeded.id)
    assert rec["command"] == "cvprimer lab run toy-seeded --full --seed 1 --seeds 3"


def _fake_package(tmp_path, monkeypatch):
    root = tmp_path / "pkg"
    for rel in (*cache.FRAME_FILES, "engine.py"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"# {rel}\n")
    monkeypatch.setattr(cache, "PACKAGE_ROOT", str(root))
    return root


def test_cache_key_covers_code_frame_packages_mode_and_seeds(tmp_path, monkeypatch):
    root = _fake_package(tmp_path, monkeypatch)
    key = cache.code_key("e", ["engine.py"], "quick", [0, 1, 2])
    assert key == cache.code_key("e", ["engine.py"], "quick", [0, 1, 2])
    assert key != cache.code_key("e", ["engine.py"], "quick", [0, 1])
    assert key != cache.code_key("e", ["engine.py"], "full", [0, 1, 2])
    rec = {"id": "e", "status": "ok", "mode": "quick", "seeds": [0, 1, 2], "code_files": ["engine.py"],
           "code_version": key}
    assert cache.stale_reason(rec) is None
    (root / "engine.py").write_text("# engine, changed\n")  # an engine module the experiment loaded
    assert cache.stale_reason(rec) is not None
    (root / "engine.py").write_text("# engine.py\n")
    assert cache.stale_reason(rec) is None
    (root / "lab/report/html.py").write_text("# another renderer\n")  # the frame
    assert cache.stale_reason(rec) is not None
    (root / "lab/report/html.py").write_text("# lab/report/html.py\n")
    monkeypatch.setattr(cache, "versions", lambda: {"numpy": "0.0"})  # a package version
    assert cache.stale_reason(rec) is not None


def test_cache_refuses_files_outside_the_package(tmp_path, monkeypatch):
    _fake_package(tmp_path, monkeypatch)
    (tmp_path / "secret.py").write_text("x")
    assert cache.file_digest("../secret.py") is None and cache.file_digest(str(tmp_path / "secret.py")) is None
    assert cache.code_key("e", ["../secret.py"], "quick", [0]) is None


def test_loaded_files_hold_engine_modules_and_only_this_experiment():
    import cvprimer.lab.experiments.q38_conv_vs_math as q38

    all_experiments()  # the registry imports every experiment module
    files = cache.loaded_files(q38.__name__)
    assert "lab/experiments/q38_conv_vs_math.py" in files and "core/tensor.py" in files
    assert not [f for f in files if f.startswith("lab/experiments/q") and "q38" not in f]
    assert "lab/_deepmlp.py" not in files  # another experiment's helper, imported by the registry, not by q38


def test_report_shows_the_results_json_values_and_nothing_else(tmp_path):
    out = str(tmp_path)
    rec = runner.run_one(Seeded, out, quick=True, seed=0, seeds=2)
    res = collect(out)
    res["experiments"] = [rec | {"stale": None}]
    res["questions"]["1"]["experiments"] = [Seeded.id]
    page = render(res, "en", out, "index.zh.html")
    art = page[page.index('data-id="toy-seeded"'):]
    art = art[:art.index("</article>")]
    # the per-seed dot strip (a picture of the same numbers, tests/lab/test_report_seed_strip.py) is not text
    cells = [unescape(re.sub(r'<span class="seedstrip".*?</span>', "", c))
             for c in re.findall(r'<td class="num">(.*?)</td>', art)]
    fig = rec["figures"]
    # figures: mean, spread, per-seed values, for each figure, in order
    assert cells[:6] == [_num(fig["x"]["value"]), _num(fig["x"]["spread"]),
                         " / ".join(_num(v) for v in fig["x"]["per_seed"]),
                         _num(fig["twice"]["value"]), _num(fig["twice"]["spread"]),
                         " / ".join(_num(v) for v in fig["twice"]["per_seed"])]
    t = rec["tables"][0]
    want = [f"{_num(c)} ± {_num(t['spread'][j][k])}" for j, r in enumerate(t["rows"]) for k, c in enumerate(r)
            if not isinstance(c, str)]
    assert cells[6:10] == want
    assert "0.5" in cells[0] and "extra is 100.5" in art and "Beyond the source document" in art
    assert "a toy" in art  # the threshold's reason


def test_report_refuses_plot_paths_and_escapes_record_strings(tmp_path):
    out = str(tmp_path)
    rec = runner.run_one(Seeded, out, quick=True, seed=0, seeds=1)
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG secret")
    rec["plots"] = [{"file": "../../secret.png", "alt": {"en": "a"}}, {"file": str(secret), "alt": {"en": "a"}}]
    rec["verdict"] = '<script>alert(1)</script>'
    rec["evidence"] = {"en": "<b>x</b>", "zh": "<b>x</b>"}
    res = collect(out)
    res["experiments"] = [rec]
    res["questions"]["1"]["experiments"] = [Seeded.id]
    page = render(res, "en", out, "index.zh.html")
    import base64

    assert base64.b64encode(secret.read_bytes()).decode() not in page
    assert "<script>alert(1)</script>" not in page and "<b>x</b>" not in page and "refused" in page


class ToyPool(Seeded):
    id = "toy-pool"


def test_worker_processes_give_the_records_of_one_process(tmp_path):
    one = runner.run_many([Seeded, ToyPool], str(tmp_path / "one"), seeds=3, show_progress=False)
    two = runner.run_many([Seeded, ToyPool], str(tmp_path / "two"), seeds=3, jobs=2, show_progress=False)
    keys = ("figures", "beyond", "tables", "verdict", "evidence", "per_seed_verdicts", "seeds")
    assert [{k: r[k] for k in keys} for r in one] == [{k: r[k] for k in keys} for r in two]


@pytest.mark.skipif(shutil.which("mpiexec") is None, reason="mpiexec not installed (the distributed extra)")
def test_mpi_ranks_give_the_records_of_one_process(tmp_path):
    import subprocess

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    r = subprocess.run(["mpiexec", "-n", "2", "cvprimer", "lab", "run", "q38", "q53", "--seeds", "2", "--out",
                        str(tmp_path / "mpi")], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "2 MPI ranks" in r.stdout and r.stdout.count("cvprimer lab:") == 1  # rank 0 alone speaks
    from cvprimer.lab.registry import select

    local = runner.run_many(select(["q38", "q53"]), str(tmp_path / "one"), seeds=2, show_progress=False)
    for rec in local:
        m = json.loads(Path(tmp_path, "mpi", "runs", rec["id"], "quick", "result.json").read_text())
        assert m["verdict"] == rec["verdict"] and m["seeds"] == rec["seeds"]
        assert {k: v["value"] for k, v in m["figures"].items()} == {k: v["value"] for k, v in rec["figures"].items()}
        assert all(Path(tmp_path, "mpi", "runs", rec["id"], "quick", p["file"]).is_file() for p in m["plots"])


@pytest.mark.parametrize("exp", all_experiments(), ids=lambda e: e.id)
def test_every_experiment_gives_reasons_and_its_reachable_verdicts(exp):
    assert exp.completeness() == []


def test_docs_catalogue_is_generated_from_the_code():
    from cvprimer.lab.catalog import BEGIN, END, catalog

    doc = (Path(__file__).parents[2] / "docs" / "lab.md").read_text(encoding="utf-8")
    assert doc.split(BEGIN, 1)[1].split(END, 1)[0].strip() == catalog().strip(), \
        "docs/lab.md is stale: run python -m cvprimer.lab.catalog --write"


def test_an_experiments_topic_is_its_first_questions():
    class Elsewhere(Seeded):
        id = "toy-elsewhere"
        topic = "loss"  # question 1 is filed under "data" in questions.py

    with pytest.raises(ValueError, match="differs from question 1's topic 'data'"):
        Elsewhere.check()
    Seeded.check()


def test_the_frame_counts_questions_from_questions_py():
    """No number literal 54 (or 55, as range(1, 55)) in the lab frame or report code, and no "54" in its
    strings: the question count comes from ``questions.QUESTIONS`` (issue 28, point 6). Comments and the
    modules' docstrings may mention it."""
    import io
    import pathlib
    import tokenize

    import cvprimer.lab as lab_pkg

    root = pathlib.Path(lab_pkg.__file__).parent
    files = [p for p in [*root.glob("*.py"), *root.glob("report/*.py")] if p.name != "questions.py"]
    assert len(files) > 10
    found = []
    for p in files:
        for tok in tokenize.generate_tokens(io.StringIO(p.read_text(encoding="utf-8")).readline):
            if tok.type == tokenize.NUMBER and tok.string in ("54", "55"):
                found.append(f"{p.name}:{tok.start[0]}")
            if tok.type == tokenize.STRING and tok.start[0] > 3 and re.search(r"\b54\b", tok.string):
                found.append(f"{p.name}:{tok.start[0]}")
    assert not found, found


def test_one_thread_control_for_experiments():
    """The runner holds every experiment's ``run`` to ``Experiment.threads`` (issue 28 point 6): experiments do
    not set BLAS threads themselves, except q54's single-thread roofline helper, whose contract is one thread
    also when it is called outside the runner."""
    import pathlib

    import cvprimer.lab.experiments as pkg

    users = sorted(p.name for p in pathlib.Path(pkg.__file__).parent.glob("q*.py")
                   if "blas_threads(" in p.read_text(encoding="utf-8"))
    assert users == ["q54_depthwise_speed.py"]
    src = pathlib.Path(pkg.__file__).parent.joinpath("q54_depthwise_speed.py").read_text(encoding="utf-8")
    assert src.count("blas_threads(") == 1
