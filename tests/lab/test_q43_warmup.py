"""q43: decide on both sides of every threshold; classify_steps."""

from cvprimer.lab.experiments.q43_warmup import WarmUp as E
from cvprimer.lab.experiments.q43_warmup import classify_steps

T = E.thresholds


def figs(**kw):
    f = {"spike_none_0.08": 33.0, "spike_warm_0.08": 1.07, "spike_ratio_top_lr": 30.9, "largest_stable_lr_warm": 0.04,
         "largest_stable_lr_none": 0.04, "lr_ratio": 1.0, "early_overshoot_frac": 0.267, "early_overfit_frac": 0.2,
         "warm_early_overshoot_frac": 0.1, "adam_first_update_over_lr_sqrtP": 0.888,
         "adam_update_norm_ratio_first10": 3.26, "bn_var_change_none": 0.137, "bn_var_change_warm": 0.0882}
    f.update(kw)
    return f


def test_nuanced_when_warmup_calms_but_does_not_extend():
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "30.9" in ev["en"] and "26.7%" in ev["en"] and "more common than" in ev["en"]
    assert "0.888" in ev["zh"]


def test_spike_threshold():
    assert E.decide(figs(spike_ratio_top_lr=T["min_spike_ratio"] - 0.01), T)[0] == "refuted"
    assert E.decide(figs(spike_ratio_top_lr=T["min_spike_ratio"] - 0.01, lr_ratio=T["min_lr_ratio"]), T)[0] \
        == "nuanced"


def test_confirmed_only_with_extension_and_the_overfitting_mechanism():
    assert E.decide(figs(lr_ratio=T["min_lr_ratio"]), T)[0] == "nuanced"  # overshoot, not over-fitting
    v, ev = E.decide(figs(lr_ratio=T["min_lr_ratio"], early_overfit_frac=0.5), T)
    assert v == "confirmed" and "less common than" in ev["en"]
    _, ev = E.decide(figs(early_overfit_frac=0.267), T)
    assert "as common as" in ev["en"] and "一样常见" in ev["zh"]


def test_classify_steps():
    rows = [{"batch_before": 1.0, "batch_after": 2.0, "probe_before": 1.0, "probe_after": 2.0},   # overshoot
            {"batch_before": 1.0, "batch_after": 0.5, "probe_before": 1.0, "probe_after": 1.5},   # over-fit
            {"batch_before": 1.0, "batch_after": 0.5, "probe_before": 1.0, "probe_after": 0.9},   # healthy
            {"batch_before": 1.0, "batch_after": 0.5, "probe_before": 1.0, "probe_after": 0.8}]
    assert classify_steps(rows) == (0.25, 0.25)
