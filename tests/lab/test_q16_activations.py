"""q16: decide exactly at its threshold for a conforming and a non-conforming zoo; every verdict reached; the
slope, saturation and zoo-tracing helpers; the real run at tiny size checked against the architectures' closed
forms and the closed-form sigmoid."""

import numpy as np
import pytest

from cvprimer import nn
from cvprimer.lab.experiments.q16_activations import (
    KINDS,
    NAMES,
    SEED_NAMED,
    activation_op_names,
    autograd_slope,
    bare_layers,
    saturation_fraction,
)
from cvprimer.lab.experiments.q16_activations import ActivationGallery as E
from labcheck import edges, reached, run_tiny

T = E.thresholds


def figs(**bare):
    f = {}
    for n in ("lenet5", "resnet20", "squeezenet1_1"):
        f[f"layers_{n}"], f[f"bare_hidden_{n}"] = 20.0, bare.get(n, 0.0)
    for k in (*KINDS, "other"):
        f["bare_before_" + k.replace(" ", "_")] = 3.0
    return f


@pytest.mark.parametrize("net", ["lenet5", "resnet20"])
def test_max_bare_hidden_edge(net):
    edges(E, lambda v: figs(**{net: v}), "max_bare_hidden", below="confirmed", at="confirmed", above="nuanced")
    others = {n: 9.0 for n in ("lenet5", "resnet20", "squeezenet1_1") if n != net}
    edges(E, lambda v: figs(**others, **{net: v}), "max_bare_hidden", below="nuanced", at="nuanced",
          above="refuted")


def test_every_verdict_reached_and_the_networks_named():
    reached(E, [figs(), figs(resnet20=9.0), figs(lenet5=1.0, resnet20=9.0, squeezenet1_1=2.0)])
    v, ev = E.decide(figs(resnet20=9.0), T)
    assert v == "nuanced" and "2 give every hidden layer an activation (lenet5, squeezenet1_1)" in ev["en"]
    assert "resnet20 9" in ev["en"] and "resnet20 9" in ev["zh"]


def test_explain_beyond_quotes_the_figures():
    b = {"n_activations": 17.0, "max_slope_err": 0.0}
    for n in NAMES:
        b[f"sat_frac_{n}"], b[f"ns_per_elem_{n}"] = 0.5, 2.0
    b["ns_per_elem_gelu"] = 9.5
    text = E.explain_beyond(b)
    assert "9.5 ns (gelu)" in text["en"] and "9.5 ns（gelu）" in text["zh"]


def test_autograd_slope_and_saturation():
    x = np.linspace(-6, 6, 1201)
    g = autograd_slope("sigmoid", x)
    s = 1 / (1 + np.exp(-x))
    assert np.allclose(g, s * (1 - s), atol=1e-12)
    assert saturation_fraction(autograd_slope("relu", x)) == pytest.approx(601 / 1201)


def test_bare_layers_classifies_a_small_net():
    acts = activation_op_names()
    assert "relu" in acts and "sigmoid" in acts

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


def test_tiny_run_against_the_architectures_and_closed_forms():
    res = run_tiny(E)
    f = res.values()
    # LeNet-5: 2 convs + 3 linears, each hidden one followed by an activation. ResNet-20: a stem, 3 stages of 3 basic
    # blocks (2 convs each, identity shortcuts) and the classifier; the second conv of every block feeds the add
    assert (f["layers_lenet5"], f["bare_hidden_lenet5"]) == (5, 0)
    assert (f["layers_resnet20"], f["bare_hidden_resnet20"], f["bare_before_add"]) == (1 + 3 * 3 * 2 + 1, 3 * 3, 9)
    assert E.decide(f, T)[0] == "nuanced"
    x = np.linspace(-6, 6, 1201)
    s = 1 / (1 + np.exp(-x))
    assert res.beyond["sat_frac_sigmoid"].value == np.mean(s * (1 - s) < 0.01)
    assert res.beyond["max_slope_err"].value < 1e-6 and all(res.beyond[f"ns_per_elem_{n}"].value > 0 for n in NAMES)
    assert set(SEED_NAMED) <= set(NAMES)
