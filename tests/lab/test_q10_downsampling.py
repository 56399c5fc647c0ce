"""q10: decide exactly at every threshold, each verdict reached, the run recomputed by closed form and PyTorch;
the nets and the reconstruction helper."""

import numpy as np
import pytest

from cvprimer.lab.experiments.q10_downsampling import VARIANTS, downsamplers, net, reconstruction_error
from cvprimer.lab.experiments.q10_downsampling import Downsampling as E
from labcheck import edges, reached, run_tiny

T = E.thresholds
BASE = {"val_acc_max_pool": 0.0, "val_acc_strided_extra": 0.05, "val_acc_none": 0.94, "gap_max_pool": 0.0,
        "gap_none": 0.05, "rf_max_pool": 10.0, "rf_none": 5.0, "macs_max_pool": 84e3, "macs_strided_extra": 150e3,
        "macs_none": 315e3}


def test_edges_of_every_threshold():
    edges(E, lambda v: {**BASE, "val_acc_strided_extra": v}, "min_acc_gain", below="nuanced", at="confirmed",
          above="confirmed")
    edges(E, lambda v: {**BASE, "gap_none": v}, "gap_margin", below="nuanced", at="confirmed", above="confirmed")


def test_reaches_its_verdicts_and_names_the_boundary():
    none = {**BASE, "val_acc_strided_extra": -0.1, "gap_none": -0.1, "rf_max_pool": 5.0,
            "macs_max_pool": 400e3, "macs_strided_extra": 84e3}
    reached(E, [BASE, {**BASE, "val_acc_strided_extra": 0.01}, none])
    v, ev = E.decide({**BASE, "val_acc_strided_extra": 0.01}, T)
    assert v == "nuanced" and "Fails: learned stride-2 conv more accurate." in ev["en"] and "更准确" in ev["zh"]
    for key, val in (("macs_none", 84e3), ("rf_none", 10.0), ("macs_strided_extra", 84e3)):
        assert E.decide({**BASE, key: val}, T)[0] == "nuanced", key


def test_beyond_sentence_follows_the_figures():
    b = {"recon_err_max_pool": 0.36, "recon_err_avg_pool": 0.26, "recon_err_subsample": 0.4,
         "recon_err_strided_conv_1ch": 0.3, "recon_err_strided_conv_4ch": 0.05, "val_acc_avg_pool": 0.8,
         "val_acc_strided_conv": 0.85}
    assert "only with 4 output channels" in E.explain_beyond(b)["en"]
    assert "no strided convolution" in E.explain_beyond({**b, "recon_err_strided_conv_4ch": 0.5})["en"]
    assert "even a 1-channel" in E.explain_beyond({**b, "recon_err_strided_conv_1ch": 0.1})["en"]


def test_run_recomputed_independently():
    import torch

    res = run_tiny(E)
    f = res.values()
    # MACs by closed form on 8x8 digits: conv 1->8 at 8x8, (max pool), conv 8->16 at 4x4, linear 16*2*2 -> 10;
    # without downsampling both convs run at 8x8 and the linear sees 16*8*8
    assert f["macs_max_pool"] == 9 * 8 * 64 + 9 * 8 * 16 * 16 + 64 * 10
    assert f["macs_none"] == 9 * 8 * 64 + 9 * 8 * 16 * 64 + 1024 * 10
    # receptive field by the recurrence r += (k - 1) * jump, jump *= stride
    assert f["rf_none"] == 1 + 2 + 2 and f["rf_max_pool"] == 1 + 2 + 1 + 2 * 2 + 1 * 2  # conv, pool, conv, pool
    # the same two nets' output size in PyTorch
    t = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.MaxPool2d(2),
                            torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.MaxPool2d(2))
    assert t(torch.zeros(1, 1, 8, 8)).shape == (1, 16, 2, 2)
    assert -1.0 <= f["gap_none"] <= 1.0 and 0.0 <= f["val_acc_strided_extra"] <= 1.0


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
