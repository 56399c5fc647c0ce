"""q32: decide on both sides of each threshold."""

from cvprimer.lab.experiments.q32_multi_device import MultiDevice as E

T = E.thresholds
GOOD = {"mean_vs_big_mean_loss": 1e-15, "sum_vs_big_mean_loss": 1.0, "max_vs_big_mean_loss": 7.5,
        "mean_vs_big_sum_loss": 0.5, "sum_vs_big_sum_loss": 2e-15, "max_vs_big_sum_loss": 4.0,
        "bn_per_device_vs_big": 0.08, "mpi_mean_vs_big_mean_loss": 1e-16}


def test_nuanced_when_averaging_matches_but_per_device_bn_does_not():
    v, ev = E.decide(GOOD, T)
    assert v == "nuanced" and "0.08" in ev["en"] and "1e-15" in ev["en"] and ev["zh"]


def test_confirmed_when_batch_norm_makes_no_difference():
    assert E.decide({**GOOD, "bn_per_device_vs_big": T["different"] / 2}, T)[0] == "confirmed"


def test_refuted_when_the_mean_does_not_reproduce_the_large_batch():
    assert E.decide({**GOOD, "mean_vs_big_mean_loss": 10 * T["exact"]}, T)[0] == "refuted"


def test_refuted_when_the_real_mpi_run_disagrees():
    assert E.decide({**GOOD, "mpi_mean_vs_big_mean_loss": 10 * T["exact"]}, T)[0] == "refuted"


def test_without_mpi_the_in_process_figures_decide():
    figs = {k: v for k, v in GOOD.items() if not k.startswith("mpi_")}
    v, ev = E.decide(figs, T)
    assert v == "nuanced" and "MPI" not in ev["en"]


def test_refuted_when_sum_or_max_would_also_match():
    assert E.decide({**GOOD, "sum_vs_big_mean_loss": T["different"] / 2}, T)[0] == "refuted"
    assert E.decide({**GOOD, "sum_vs_big_sum_loss": 10 * T["exact"]}, T)[0] == "refuted"
