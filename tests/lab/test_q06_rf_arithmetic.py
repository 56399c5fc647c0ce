"""q06: decide on both sides of its thresholds; the recurrence on known stacks."""

from cvprimer.lab.experiments.q06_rf_arithmetic import FieldArithmetic as E
from cvprimer.lab.experiments.q06_rf_arithmetic import rf_recurrence, specs

T = E.thresholds


def figs(**kw):
    f = {"formula_vs_autograd": 0.0, "size_nopad": 32, "size_pad": 32, "size_change_by_padding": 0.0,
         "centre_shift_by_padding": 14.0, "corner_on_image_pad": 0.316, "corner_on_image_nopad": 1.0}
    f.update(kw)
    return f


def test_nuanced_when_size_fixed_but_position_moves():
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "14 px" in ev["en"] and "0.316" in ev["en"] and "0.316" in ev["zh"]


def test_confirmed_when_padding_does_not_move_the_field():
    assert E.decide(figs(centre_shift_by_padding=T["shift_px"] / 2), T)[0] == "confirmed"


def test_refuted_when_size_depends_on_padding_or_arithmetic_fails():
    assert E.decide(figs(size_change_by_padding=2 * T["tol_px"]), T)[0] == "refuted"
    v, ev = E.decide(figs(formula_vs_autograd=2 * T["tol_px"]), T)
    assert v == "refuted" and "disagree" in ev["en"]


def test_recurrence_ignores_padding_and_uses_dilation():
    assert rf_recurrence(specs(True)) == rf_recurrence(specs(False)) == [5, 6, 14, 16, 24, 32]
    assert rf_recurrence([("conv", 3, 1, 0, 1), ("conv", 3, 1, 0, 2), ("conv", 3, 1, 0, 4)]) == [3, 7, 15]
