"""q21: decide exactly at its threshold for each of the seed's methods; every verdict reached; the real run's
fields recomputed by the closed-form receptive-field rule."""

import pytest

from cvprimer.lab.experiments.q21_grow_rf import EXTRA, SEED, field_rule
from cvprimer.lab.experiments.q21_grow_rf import GrowField as E
from labcheck import edges, reached, run_tiny


def figs(base=7.0, **gain):
    """Fields with the given gains over the plain stacks (``base=0``: the field equals the gain exactly, so the
    edge tests see the threshold itself, not a rounded sum)."""
    f = {}
    for n in SEED:
        f[f"rf_base_{n}"] = base
        f[f"rf_{n}"] = base + gain.get(n, 8.0)
    return f


@pytest.mark.parametrize("method", list(SEED))
def test_min_gain_edge_for_each_method(method):
    edges(E, lambda v: figs(0.0, **{method: v}), "min_gain_px", below="nuanced", at="confirmed", above="confirmed")


def test_reached_and_refuted_when_no_method_grows():
    none = {n: 0.0 for n in SEED}
    assert E.decide(figs(**none), E.thresholds)[0] == "refuted"
    edges(E, lambda v: figs(0.0, **dict(none, dilation=v)), "min_gain_px",
          below="refuted", at="nuanced", above="nuanced")
    reached(E, [figs(), figs(pooling=0.0), figs(**none)])


def test_evidence_names_the_boundary():
    v, ev = E.decide(figs(pooling=0.0), E.thresholds)
    assert v == "nuanced" and "pooling" in ev["en"] and "do(es) not" in ev["en"] and "池化没有" in ev["zh"]


def test_run_matches_the_closed_form_rule():
    res = run_tiny(E)
    f = res.values()
    assert set(f) == {f"rf_{n}" for n in SEED} | {f"rf_base_{n}" for n in SEED}  # extra methods stay beyond
    for n, (stack, base) in SEED.items():
        assert f[f"rf_{n}"] == field_rule(stack) and f[f"rf_base_{n}"] == field_rule(base)
    assert (f["rf_dilation"], f["rf_pooling"], f["rf_large_kernel"], f["rf_base_dilation"]) == (15, 18, 15, 7)
    for n, stack in EXTRA.items():
        assert res.beyond[f"rf_{n}"].value == field_rule(stack)
    assert res.beyond["params_large_kernel"].value == 15 * 15 * 16 * 16 + 16  # conv weights + bias
    assert E.decide(f, E.thresholds)[0] == "confirmed"
