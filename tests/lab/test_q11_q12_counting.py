"""q11/q12: decide exactly at every threshold, each declared verdict reached, and the real run() recomputed
independently (closed-form counts, and PyTorch's own parameter tensors)."""

import numpy as np
import torch

from cvprimer.lab.experiments.q11_q12_counting import FlopCount, ParameterCount, kernel_share
from labcheck import edges, reached, run_tiny

P = {"formula_err_layers": 0.0, "formula_err_resnet18": 0.0, "kernel_share_resnet18": 0.999,
     "formula_err_mobilenet_v2": 0.0, "kernel_share_mobilenet_v2": 0.99}


def test_q11_edges_of_every_threshold():
    for key in ("formula_err_layers", "formula_err_resnet18"):
        # the core (single layers) failing refutes; a model's formula failing alone is nuanced
        fail = "refuted" if key == "formula_err_layers" else "nuanced"
        edges(ParameterCount, lambda v, key=key: {**P, key: v}, "exact", below="confirmed", at="confirmed",
              above=fail)
    edges(ParameterCount, lambda v: {**P, "kernel_share_mobilenet_v2": v}, "dominant_share", below="nuanced",
          at="nuanced", above="confirmed")


def test_q11_reaches_its_verdicts():
    reached(ParameterCount, [P, {**P, "kernel_share_resnet18": 0.3},
                             {**P, "formula_err_layers": 0.5},
                             {**P, "formula_err_resnet18": 1.0, "formula_err_mobilenet_v2": 1.0,
                              "kernel_share_resnet18": 0.1, "kernel_share_mobilenet_v2": 0.1}])
    v, ev = ParameterCount.decide({**P, "kernel_share_resnet18": 0.3}, ParameterCount.thresholds)
    assert "kernel weights dominate resnet18" in ev["en"] and "0.3" in ev["zh"]


def test_q11_run_recomputed_with_torch_and_closed_forms():
    res = run_tiny(ParameterCount)
    f, b = res.values(), res.beyond_values()
    assert f["formula_err_layers"] == 0.0 and f["formula_err_resnet18"] == 0.0
    # PyTorch's own layers: the formula's count is the weight tensor's size, independently of our engine
    assert torch.nn.Conv2d(64, 128, 3).weight.numel() == 3 * 3 * 64 * 128
    assert torch.nn.Linear(512, 10).weight.numel() == 512 * 10
    assert b["grouped_overcount"] == 3 * 3 * 64 * 128 / torch.nn.Conv2d(64, 128, 3, groups=4).weight.numel()
    assert b["depthwise_overcount"] == 3 * 3 * 128 * 128 / torch.nn.Conv2d(128, 128, 3, groups=128).weight.numel()
    # ResNet-18's share recomputed by hand: its 11,689,512 parameters (torchvision's count) less the batch-norm
    # pairs (2 x 4,800 channels) and the fc bias (1,000) are kernel weights
    assert np.isclose(f["kernel_share_resnet18"], (11_689_512 - 2 * 4_800 - 1_000) / 11_689_512, rtol=0, atol=1e-12)


def test_kernel_share_of_a_tiny_model():
    from cvprimer import nn

    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2))
    assert kernel_share(m) == (108 + 8) / (108 + 4 + 8 + 8 + 2)


F = {"formula_err_layers": 0.0, "formula_err_resnet18": 0.0, "time_ratio_64_over_16": 1.5,
     "time_ratio_256_over_64": 3.3}


def test_q12_edges_of_every_threshold():
    edges(FlopCount, lambda v: {**F, "formula_err_layers": v}, "exact", below="confirmed", at="confirmed",
          above="refuted")
    edges(FlopCount, lambda v: {**F, "formula_err_resnet18": v}, "exact", below="confirmed", at="confirmed",
          above="nuanced")
    for key in ("time_ratio_64_over_16", "time_ratio_256_over_64"):
        edges(FlopCount, lambda v, key=key: {**F, key: v}, "min_time_ratio", below="nuanced", at="confirmed",
              above="confirmed")


def test_q12_reaches_its_verdicts():
    reached(FlopCount, [F, {**F, "time_ratio_64_over_16": 1.0}, {**F, "formula_err_layers": 0.1},
                        {"formula_err_layers": 1.0, "formula_err_resnet18": 1.0, "time_ratio_64_over_16": 1.0,
                         "time_ratio_256_over_64": 0.9}])
    v, ev = FlopCount.decide({**F, "time_ratio_64_over_16": 1.0}, FlopCount.thresholds)
    assert v == "nuanced" and "latency 16->64 channels" in ev["en"]


def test_q12_run_recomputed_by_closed_form_and_torch():
    res = run_tiny(FlopCount)
    f, b = res.values(), res.beyond_values()
    assert f["formula_err_layers"] == 0.0 and f["formula_err_resnet18"] == 0.0
    # ResNet-18's multiply-accumulates by hand: every conv's Kh*Kw*Cin*Cout*H*W plus the fc layer
    convs = [(7, 3, 64, 112)] + [(3, 64, 64, 56)] * 4 + [(3, 64, 128, 28), (1, 64, 128, 28)] + \
        [(3, 128, 128, 28)] * 3 + [(3, 128, 256, 14), (1, 128, 256, 14)] + [(3, 256, 256, 14)] * 3 + \
        [(3, 256, 512, 7), (1, 256, 512, 7)] + [(3, 512, 512, 7)] * 3
    macs = sum(k * k * ci * co * h * h for k, ci, co, h in convs) + 512 * 1000
    assert np.isclose(b["resnet18_gmacs"], macs / 1e9, rtol=0, atol=1e-12)
    # the same count from PyTorch's conv output shapes: one layer checked against its own forward pass
    y = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False)(torch.zeros(1, 64, 56, 56))
    assert y.shape[-2:] == (56, 56)
    assert all(r > 0 for k, r in f.items() if k.startswith("time_ratio_"))
