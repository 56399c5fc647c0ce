"""The answer, revised (issue 24): every experiment and page declares a takeaway, the runner stores it, and for
every verdict an experiment can reach it is produced from the figures, quoting the key figure's number.

The synthetic figures are the ones each experiment's own test already feeds ``decide`` on both sides of its
thresholds (``labcheck.reached`` / ``labcheck.edges``): they are captured here by spying on ``labcheck.verdict``
while those test functions run, so a new threshold case in ``test_qNN_*.py`` is checked here too.
"""

from __future__ import annotations

import importlib
import inspect
import math
import re
from collections import defaultdict
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import labcheck
from cvprimer.lab.experiment import UNSETTLED, Experiment, Figure, Result
from cvprimer.lab.registry import all_experiments
from cvprimer.lab.runner import TaskOut, build_record, record_problem

HERE = Path(__file__).parent
SEED = HERE.parents[1].parent / "shared/seed/000_d3753e17707acfe2.txt"
EXPERIMENTS = [e for e in all_experiments() if e.kind == "experiment"]
PAGES = [e for e in all_experiments() if e.kind == "page"]
IDENT = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")  # a figure name or other snake_case identifier


def _params(fn: Any) -> list[tuple[Any, ...]] | None:
    """The argument tuples a test function runs with: [()] without parameters, its ``parametrize`` values when
    that is its only kind of parameter, None when it needs fixtures."""
    names = list(inspect.signature(fn).parameters)
    if not names:
        return [()]
    marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "parametrize"]
    if len(marks) != 1:
        return None
    argnames = marks[0].args[0]
    argnames = [a.strip() for a in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
    if argnames != names:
        return None
    vals = [getattr(v, "values", v) for v in marks[0].args[1]]
    return [tuple(v) if len(names) > 1 else (v if isinstance(v, tuple) and len(v) == 1 else (v,)) for v in vals]


@cache
def captured() -> dict[str, list[dict[str, float]]]:
    """``{experiment id: [figures, ...]}``: every figure set the experiments' own threshold tests decide on."""
    seen: dict[str, list[dict[str, float]]] = defaultdict(list)
    original = labcheck.verdict

    def spy(exp: type[Experiment], figures: Mapping[str, float], thresholds: Mapping[str, float] | None = None):
        seen[exp.id].append(dict(figures))
        return original(exp, figures, thresholds)

    labcheck.verdict = spy
    try:
        for path in sorted(HERE.glob("test_q*.py")):
            mod = importlib.import_module(path.stem)
            if getattr(mod, "verdict", None) is original:
                mod.verdict = spy
            try:
                for name, fn in vars(mod).items():
                    if not name.startswith("test_") or not callable(fn):
                        continue
                    src = inspect.getsource(fn)
                    if "run_tiny" in src or not ("reached(" in src or "edges(" in src or "verdict(" in src):
                        continue
                    for args in _params(fn) or ():
                        fn(*args)
            finally:
                if getattr(mod, "verdict", None) is spy:
                    mod.verdict = original
    finally:
        labcheck.verdict = original
    return dict(seen)


def _sentences(text: str, lang: str) -> int:
    if lang == "zh":
        return text.count("。")
    return len(re.findall(r"[.!?](?=\s+[A-Z'(\"]|$)", text))


def _check_text(exp: type[Experiment], take: Mapping[str, str], number: Mapping[str, str] | None) -> None:
    assert set(take) >= {"en", "zh"}, exp.id
    for lang in ("en", "zh"):
        t = take[lang]
        assert t.strip(), f"{exp.id}: empty {lang} takeaway"
        assert "{" not in t and "}" not in t, f"{exp.id}: unfilled placeholder in {t!r}"
        n = _sentences(t, lang)
        assert 2 <= n <= 4, f"{exp.id}: {lang} takeaway has {n} sentences (2-4 wanted): {t!r}"
        if number is not None:
            assert number[lang] in t, f"{exp.id}: {lang} takeaway lacks the key figure's {number[lang]!r}: {t!r}"
    assert re.search(r"[\u4e00-\u9fff]", take["zh"]), f"{exp.id}: the Chinese takeaway has no Chinese"
    left = IDENT.findall(take["zh"])
    assert not left, f"{exp.id}: English identifiers left in the Chinese takeaway: {left}"
    assert "Key term" not in take["zh"] and "关键词" in take["zh"] and "Key term:" in take["en"]


@pytest.mark.parametrize("exp", all_experiments(), ids=lambda e: e.id)
def test_every_experiment_and_page_declares_a_takeaway(exp):
    assert not [g for g in exp.completeness() if "takeaway" in g]
    assert exp.key_term.get("en") and re.search(r"[\u4e00-\u9fff]", exp.key_term.get("zh", ""))


@pytest.mark.parametrize("exp", EXPERIMENTS, ids=lambda e: e.id)
def test_takeaway_for_every_reachable_verdict_quotes_the_key_figure(exp):
    examples = captured().get(exp.id, [])
    assert examples, f"{exp.id}: its test feeds decide no figures through labcheck"
    reached: set[str] = set()
    for figs in examples:
        v, _ = exp.decide(dict(figs), dict(exp.thresholds))
        reached.add(v)
        take = exp.takeaway(figs, v)
        num = {lang: exp.key_text(figs, v, lang) for lang in ("en", "zh")}
        assert any(ch.isdigit() for ch in num["en"]) or not math.isfinite(figs[exp.key_for(v)])
        _check_text(exp, take, num)
    assert reached == set(exp.reachable), f"{exp.id}: the tests' figures reach {sorted(reached)}"
    # the seeds disagree: the takeaway says so and still quotes the key figure
    figs = examples[0]
    take = exp.takeaway(figs, UNSETTLED)
    _check_text(exp, take, {lang: exp.key_text(figs, UNSETTLED, lang) for lang in ("en", "zh")})
    assert "seeds disagree" in take["en"] and "随机种子" in take["zh"]


def test_the_takeaway_follows_the_verdict():
    """q19 on figures either side of its tolerance: a different answer, each quoting that run's spread."""
    from cvprimer.lab.experiments.q19_zero_init import ZeroInit as E

    base = {f"{k}_{a}": 0.0 for k in ("spread_all_zero", "acc_all_zero") for a in ("relu", "tanh", "sigmoid")}
    tol = E.thresholds["same_output_tol"]
    same = {**base, "spread_all_zero_sigmoid": tol}
    differ = {**base, "spread_all_zero_sigmoid": 0.25}
    (v1, _), (v2, _) = E.decide(same, E.thresholds), E.decide(differ, E.thresholds)
    assert (v1, v2) == ("confirmed", "nuanced")
    t1, t2 = E.takeaway(same, v1), E.takeaway(differ, v2)
    assert t1["en"] != t2["en"] and "1e-06" in t1["en"] and "0.25" in t2["en"] and "0.25" in t2["zh"]
    assert "symmetry breaking" in t2["en"] and "对称性破缺" in t2["zh"]


@pytest.mark.parametrize("exp", PAGES, ids=lambda e: e.id)
def test_a_page_has_a_fixed_answer(exp):
    take = exp.takeaway({}, None)
    _check_text(exp, take, None)
    assert take == exp.takeaway({"anything": 1.0}, None)


def test_the_runner_stores_the_takeaway_from_the_mean_figures():
    from cvprimer.lab.experiments.q19_zero_init import ZeroInit as E

    def result(sigmoid_spread: float) -> Result:
        figs = {f"{k}_{a}": Figure(0.0) for k in ("spread_all_zero", "acc_all_zero") for a in ("relu", "tanh")}
        figs["acc_all_zero_sigmoid"] = Figure(0.2)
        figs["spread_all_zero_sigmoid"] = Figure(sigmoid_spread)
        return Result(figures=figs)

    outs = [TaskOut(E.id, s, result(v)) for s, v in ((0, 0.5), (1, 1.5))]
    rec = build_record(E, outs, True, [0, 1])
    assert rec["verdict"] == "nuanced" and record_problem(rec, E.id) is None
    assert "output spread 1)" in rec["takeaway"]["en"] and "离散度 1）" in rec["takeaway"]["zh"]
    split = [TaskOut(E.id, s, result(v)) for s, v in ((0, 0.0), (1, 1.5))]
    rec = build_record(E, split, True, [0, 1])
    assert rec["verdict"] == UNSETTLED and "seeds disagree" in rec["takeaway"]["en"]
    assert "0.75" in rec["takeaway"]["en"]  # the mean of the key figure over the seeds
    broken = {**rec, "takeaway": {"en": 3}}
    assert record_problem(broken, E.id) is not None


def test_a_takeaway_template_must_quote_the_key_figure():
    from cvprimer.lab.experiments.q19_zero_init import ZeroInit

    class Bad(ZeroInit):
        answer = {**ZeroInit.answer, "refuted": {"en": "No number here.", "zh": "这里没有数字。"}}

    assert any("key figure" in g for g in Bad.completeness())
    with pytest.raises(ValueError, match="key figure"):
        Bad.check()


def test_takeaways_are_our_own_words():
    if not SEED.is_file():
        pytest.skip(f"source text not found at {SEED}")
    seed = SEED.read_text(encoding="utf-8")
    runs = {"zh": 12, "en": 30}
    for exp in all_experiments():
        texts = [exp.answer] if exp.kind == "page" else list(exp.answer.values())
        for t in texts:
            for lang, run in runs.items():
                s = re.sub(r"\{[^{}]*\}", "", t[lang])
                copied = [s[i:i + run] for i in range(len(s) - run + 1) if s[i:i + run] in seed]
                assert not copied, f"{exp.id}: takeaway[{lang}] repeats the source text: {copied[0]!r}"


def test_a_case_picks_the_variant_that_matches_the_figures():
    """q08's nuanced verdict covers 'width held, depth did not' and the reverse: each gets its own answer."""
    from cvprimer.lab.experiments.q08_depth_width import DepthVersusWidth as E

    width_only = {"val_acc_w8": 0.6, "val_acc_w32": 0.8, "val_acc_w128": 0.9,
                  "train_loss_d1": 0.5, "train_loss_d2": 0.5, "train_loss_d4": 0.6}
    depth_only = {"val_acc_w8": 0.8, "val_acc_w32": 0.8, "val_acc_w128": 0.805,
                  "train_loss_d1": 0.5, "train_loss_d2": 0.3, "train_loss_d4": 0.2}
    for figs, case, said in ((width_only, "width", "Width helped"), (depth_only, "depth", "Depth helped")):
        v, _ = E.decide(figs, E.thresholds)
        assert v == "nuanced" and E.answer_key(figs, v) == f"nuanced:{case}"
        assert E.takeaway(figs, v)["en"].startswith(said)
    mixed = {**width_only, "val_acc_w32": 0.605}  # one width step fails, depth fails too: the plain answer
    assert E.decide(mixed, E.thresholds)[0] == "nuanced" and E.answer_key(mixed, "nuanced") == "nuanced"
