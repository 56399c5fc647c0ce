"""q10: decide on both sides of every threshold; the nets and the reconstruction helper."""

import numpy as np
import pytest

from cvprimer.lab.experiments.q10_downsampling import VARIANTS, downsamplers, net, reconstruction_error
from cvprimer.lab.experiments.q10_downsampling import Downsampling as E

T = E.thresholds


def figs(strided=0.88, pool=0.875, rf_none=5.0):
    f = {"val_acc_max_pool": pool, "val_acc_avg_pool": 0.77, "val_acc_strided_extra": strided,
         "val_acc_strided_conv": strided - 0.01, "val_acc_none": 0.94, "rf_max_pool": 10.0, "rf_none": rf_none}
    for k, m in zip(("max_pool", "strided_extra", "strided_conv", "none"), (84e3, 150e3, 22e3, 315e3), strict=True):
        f[f"macs_{k}"] = m
    for k, e in (("max_pool", 0.36), ("avg_pool", 0.26), ("strided_conv_1ch", 0.3), ("strided_conv_4ch", 0.05)):
        f[f"recon_err_{k}"] = e
    return f


def test_nuanced_within_the_margin():
    v, ev = E.decide(figs(), T)
    assert v == "nuanced" and "0.875" in ev["en"] and "0.05" in ev["en"] and "0.26" in ev["zh"]


def test_confirmed_and_refuted_beyond_the_margin():
    assert E.decide(figs(strided=0.875 + T["min_acc_gain"] + 1e-9), T)[0] == "confirmed"
    assert E.decide(figs(strided=0.875 - T["min_acc_gain"] - 1e-9), T)[0] == "refuted"


def test_receptive_field_flag():
    assert "expected: yes" in E.decide(figs(), T)[1]["en"]
    assert "expected: no" in E.decide(figs(rf_none=10.0 / T["min_rf_ratio"] + 0.1), T)[1]["en"]


@pytest.mark.parametrize("kind", VARIANTS)
def test_nets_map_digits_to_ten_logits(kind):
    import cvprimer as cp

    assert net(kind)(cp.Tensor(np.zeros((2, 1, 8, 8), np.float32))).shape == (2, 10)


def test_four_channel_strided_conv_is_invertible_pooling_is_not():
    rng = np.random.default_rng(0)
    x = rng.random((300, 1, 8, 8)).astype(np.float32)
    d = downsamplers(rng)
    assert reconstruction_error(d["strided_conv_4ch"], x[:200], x[200:]) < 0.1
    assert reconstruction_error(d["avg_pool"], x[:200], x[200:]) > 0.2
    assert d["max_pool"](x).shape == (300, 1, 4, 4) and d["strided_conv_4ch"](x).shape == (300, 4, 4, 4)
