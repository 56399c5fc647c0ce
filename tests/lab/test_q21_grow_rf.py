"""q21: decide on both sides of its threshold."""

from cvprimer.lab.experiments.q21_grow_rf import METHODS, TARGET
from cvprimer.lab.experiments.q21_grow_rf import GrowField as E

T = E.thresholds


def figs(**fields):
    f = {}
    for n in METHODS:
        f[f"rf_{n}"] = fields.get(n, TARGET)
        f[f"params_{n}"], f[f"macs_{n}"] = 1000.0, 12345.0
    f["macs_strided"] = 777.0
    f["analyzer_vs_autograd"] = 0.0
    return f


def test_nuanced_when_missing_methods_also_reach_the_field():
    v, ev = E.decide(figs(pooling=18), T)
    assert v == "nuanced" and "18 px" in ev["en"] and "777" in ev["en"] and "deeper" in ev["en"] and "777" in ev["zh"]


def test_confirmed_when_only_the_seeds_methods_reach_the_field():
    f = figs(deeper=TARGET - 2 * T["match_px"], strided=TARGET - 2 * T["match_px"])
    assert E.decide(f, T)[0] == "confirmed"


def test_refuted_when_a_seed_method_falls_short():
    assert E.decide(figs(dilation=TARGET - T["match_px"] - 1), T)[0] == "refuted"
    assert E.decide(figs(dilation=TARGET - T["match_px"]), T)[0] == "nuanced"
