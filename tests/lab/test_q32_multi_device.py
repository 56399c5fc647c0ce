"""q32: decide exactly at both thresholds for every figure that uses them; the real run checked against the closed
forms of data parallelism (mean over devices = whole batch, sum = twice it, for a mean-reduced loss)."""

import numpy as np

from cvprimer.lab.experiments.q32_multi_device import MultiDevice as E
from cvprimer.lab.experiments.q32_multi_device import _bn_net, _grad, _grad_half_of_whole
from labcheck import edges, reached, run_tiny

T = E.thresholds
GOOD = {"mean_vs_big_mean_loss": 1e-15, "sum_vs_big_mean_loss": 1.0, "max_vs_big_mean_loss": 7.5,
        "mpi_mean_vs_big_mean_loss": 1e-16}


def test_edges_exact():
    for k in ("mean_vs_big_mean_loss", "mpi_mean_vs_big_mean_loss"):
        edges(E, lambda v, k=k: {**GOOD, k: v}, "exact", below="confirmed", at="confirmed", above="refuted")


def test_edges_different():
    for k in ("sum_vs_big_mean_loss", "max_vs_big_mean_loss"):
        edges(E, lambda v, k=k: {**GOOD, k: v}, "different", below="refuted", at="confirmed", above="confirmed")


def test_reachable_and_evidence():
    reached(E, [GOOD, {**GOOD, "mean_vs_big_mean_loss": 0.5}])
    v, ev = E.decide(GOOD, T)
    assert v == "confirmed" and "1e-15" in ev["en"] and "7.5" in ev["zh"] and "MPI" in ev["en"]
    no_mpi = {k: x for k, x in GOOD.items() if not k.startswith("mpi_")}
    v, ev = E.decide(no_mpi, T)
    assert v == "confirmed" and "not available" in ev["en"]
    b = E.explain_beyond({"mean_vs_big_sum_loss": 0.5, "sum_vs_big_sum_loss": 2e-15, "bn_per_device_vs_big": 0.0806,
                          "bn_synced_vs_big": 4e-15, "gradient_bytes": 246824, "ring_bytes_per_rank": 246864})
    assert "0.0806" in b["en"] and "246,824" in b["zh"]


def test_synchronized_bn_reproduces_the_whole_batch():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 1, 8, 8)), rng.integers(0, 10, 6)
    net = _bn_net().double()
    big = _grad(net, x, y, "mean")
    halves = [np.arange(3), np.arange(3, 6)]
    synced = (_grad_half_of_whole(net, x, y, halves[0]) + _grad_half_of_whole(net, x, y, halves[1])) / 2
    np.testing.assert_allclose(synced, big, rtol=0, atol=1e-12 * np.abs(big).max())


def test_run_against_the_closed_forms():
    """With a mean-reduced loss over two equal halves the whole-batch gradient is (g0 + g1) / 2, so the mean over
    devices matches it, the sum is exactly twice it (relative difference 1) and, for a sum-reduced loss, the mean
    is half of it (0.5); per-device batch norm breaks the first identity, synchronized batch norm keeps it."""
    res = run_tiny(E, seed=1)
    f, b = res.values(), res.beyond_values()
    assert f["mean_vs_big_mean_loss"] < 1e-12 and abs(f["sum_vs_big_mean_loss"] - 1) < 1e-12
    assert abs(b["mean_vs_big_sum_loss"] - 0.5) < 1e-12 and b["sum_vs_big_sum_loss"] < 1e-12
    assert b["bn_synced_vs_big"] < 1e-12 < b["bn_per_device_vs_big"]
    assert f["max_vs_big_mean_loss"] > T["different"] and E.decide(f, T)[0] == "confirmed"
