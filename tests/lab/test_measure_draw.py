"""The lab frame keeps measuring and plotting apart: ``run`` is ``measure`` then ``draw``; a plot asked for while
measuring is refused, an engine op run while drawing is refused, and the plots' ``series`` never reach the record."""

from __future__ import annotations

import numpy as np
import pytest

from cvprimer import tensor
from cvprimer.lab import runner
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, evidence, verdict_if


class Toy(Experiment):
    id = "toy-measure-draw"
    questions = (1,)
    topic = "data"
    thresholds = {"limit": 1.0}
    reasons = {"limit": {"en": "a toy", "zh": "玩具"}}
    reachable = ("confirmed", "refuted")
    text = {"en": {"title": "t", "claim": "c", "method": "m"}, "zh": {"title": "题", "claim": "说", "method": "法"}}
    mode = "ok"

    def measure(self, ctx):
        if self.mode == "plot_in_measure":
            ctx.figure()
        curve = np.arange(5.0) * (ctx.seed + 1)
        return Result({"x": Figure(float(curve[-1]), "u")}, series={"curve": curve})

    def draw(self, res, ctx):
        if self.mode == "op_in_draw":
            (tensor(np.ones(3, np.float32)) * 2).sum()
        if self.mode == "rng_in_draw":
            ctx.rng.normal()
        fig, ax = ctx.figure()
        ax.plot(res.series["curve"])
        ctx.save_figure(fig, "curve", "a curve", "一条曲线")

    @staticmethod
    def decide(figures, thresholds):
        return verdict_if(figures["x"] < thresholds["limit"]), evidence(en="e", zh="证")


def test_run_is_measure_then_draw(tmp_path):
    res = Toy().run(Context(str(tmp_path), seed=1, save_plots=True))
    assert res.values() == {"x": 8.0}
    assert [p.file for p in res.plots] == ["curve.png"]
    assert (tmp_path / "curve.png").is_file()


def test_a_plot_asked_for_while_measuring_is_refused(tmp_path):
    exp = Toy()
    exp.mode = "plot_in_measure"
    with pytest.raises(RuntimeError, match="measure\\(\\) must not plot"):
        exp.run(Context(str(tmp_path), save_plots=False))


def test_an_engine_op_run_while_drawing_is_refused(tmp_path):
    exp = Toy()
    exp.mode = "op_in_draw"
    with pytest.raises(RuntimeError, match="draw ran 2 engine op"):
        exp.run(Context(str(tmp_path), save_plots=False))


def test_a_random_draw_while_drawing_is_refused(tmp_path):
    exp = Toy()
    exp.mode = "rng_in_draw"
    ctx = Context(str(tmp_path), save_plots=False)
    with pytest.raises(RuntimeError, match="Toy.draw used ctx.rng.normal"):
        exp.run(ctx)
    assert isinstance(ctx.rng, np.random.Generator)  # given back after draw


def test_no_experiment_overrides_run():
    from cvprimer.lab.registry import all_experiments

    assert [e.id for e in all_experiments() if "run" in vars(e)] == []


def test_the_series_stay_out_of_the_record():
    out = runner.run_task(Toy, quick=True, seed=0, want_plots=False)
    assert out.error is None, out.traceback
    assert out.result is not None and out.result.series == {}
    assert out.result.values() == {"x": 4.0}
