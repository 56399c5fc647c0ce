"""q13: a valid page whose fixed text states no measured number; its live table recomputed independently
(closed forms and PyTorch's own layers)."""

import re

import torch

from cvprimer.lab._convnets import cost
from cvprimer.lab.experiments.q13_conv_family import C_IN, C_OUT, FAMILY, HW
from cvprimer.lab.experiments.q13_conv_family import ConvFamily as E
from labcheck import run_tiny


def test_page_declaration_is_valid_and_bilingual():
    E.check()
    assert E.kind == "page" and E.t("body", "en") and E.t("body", "zh") and E.completeness() == []


def test_body_states_no_measured_ratio():
    for lang in ("en", "zh"):
        body = E.t("body", lang)
        assert not re.search(r"\d+\s*%|about half|约为一半", body), lang


def test_grouped_member_divides_weights_by_groups():
    c = cost(FAMILY["grouped 3x3, g=4"](), (1, C_IN) + HW)
    assert c["params"] == 3 * 3 * C_IN // 4 * C_OUT + C_OUT
    assert c["macs"] == 3 * 3 * C_IN // 4 * C_OUT * HW[0] * HW[1]


def test_run_recomputed_with_torch_and_notes_built_from_it():
    res = run_tiny(E)
    f = res.values()
    sep = torch.nn.Sequential(torch.nn.Conv2d(C_IN, C_IN, 3, padding=1, groups=C_IN), torch.nn.Conv2d(C_IN, C_OUT, 1))
    std = torch.nn.Conv2d(C_IN, C_OUT, 3, padding=1)
    n_sep, n_std = (sum(p.numel() for p in m.parameters()) for m in (sep, std))
    assert f["params_depthwise_separable"] == n_sep and f["params_standard"] == n_std
    # MACs of the strided member: 9 * C_in * C_out per output pixel, over PyTorch's output size
    y = torch.nn.Conv2d(C_IN, C_OUT, 3, stride=2, padding=1)(torch.zeros(1, C_IN, *HW))
    assert f["macs_strided"] == 9 * C_IN * C_OUT * y.shape[-2] * y.shape[-1]
    assert f"{n_sep / n_std:.3g}" in res.notes["en"] and f"{n_sep / n_std:.3g}" in res.notes["zh"]
