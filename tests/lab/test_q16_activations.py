"""q16: decide on both sides of its thresholds; the slope, saturation and zoo-tracing helpers."""

import numpy as np
import pytest

from cvprimer import nn
from cvprimer.lab.experiments.q16_activations import ActivationGallery as E
from cvprimer.lab.experiments.q16_activations import (
    activation_op_names,
    autograd_slope,
    bare_layers,
    saturation_fraction,
)

T = E.thresholds


def figs(**kw):
    f = {"zoo_bare_share": 0.35, "zoo_models_with_bare": 0.83, "zoo_bare_layers": 63, "zoo_weighted_layers": 181,
         "zoo_bare_before_add": 36, "zoo_bare_at_output": 5, "max_slope_err": 0.0, "n_activations": 17,
         "sat_frac_sigmoid": 0.236, "sat_frac_relu": 0.5}
    f.update(kw)
    return f


def test_refuted_when_many_layers_lack_an_activation():
    v, ev = E.decide(figs(), T)
    assert v == "refuted" and "63 of the zoo's 181" in ev["en"] and "23.6%" in ev["en"] and "181" in ev["zh"]


def test_confirmed_below_the_share_threshold():
    v, ev = E.decide(figs(zoo_bare_share=T["min_bare_share"] / 2), T)
    assert v == "confirmed" and "nearly every layer" in ev["en"]


def test_slope_tolerance_is_reported():
    _, ev = E.decide(figs(max_slope_err=10 * T["max_slope_err"]), T)
    assert "NOT met" in ev["en"] and "不满足" in ev["zh"]


def test_autograd_slope_and_saturation():
    x = np.linspace(-6, 6, 1201)
    g = autograd_slope("sigmoid", x)
    s = 1 / (1 + np.exp(-x))
    assert np.allclose(g, s * (1 - s), atol=1e-12)
    assert saturation_fraction(autograd_slope("relu", x)) == pytest.approx(601 / 1201)


def test_bare_layers_classifies_a_small_net():
    acts = activation_op_names()
    assert "ReLUFn" in acts and "SigmoidFn" in acts

    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.bn, self.c2, self.fc = nn.Conv2d(2, 2, 3, padding=1), nn.BatchNorm2d(2), \
                nn.Conv2d(2, 2, 3, padding=1), nn.Linear(2 * 4 * 4, 3)

        def forward(self, x):
            h = self.bn(self.c1(x)).relu()
            h = (self.c2(h) + x).relu()
            return self.fc(h.reshape(x.shape[0], -1))

    kinds = [k for _, k in bare_layers(Res(), (1, 2, 4, 4), acts)]
    assert sorted(kinds) == ["activation", "add", "output"]
