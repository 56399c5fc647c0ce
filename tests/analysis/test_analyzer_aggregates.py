"""Analyzer aggregates: subtotals over the module tree and totals by operator type add up to the totals."""

from __future__ import annotations

import pytest

from cvprimer.analysis import analyze
from cvprimer.analysis.roofline import MachineProfile
from cvprimer.cli import main

PROFILE = MachineProfile(1e11, 1e10)


@pytest.fixture(scope="module")
def rep():
    return analyze("resnet18", (1, 3, 64, 64), profile=PROFILE)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_subtotals_add_up_at_every_depth(rep, depth):
    groups = rep.subtotals(depth)
    assert sum(g["macs"] for g in groups) == rep.totals["macs"]
    assert sum(g["params"] for g in groups) == rep.totals["params"]["total"]
    assert sum(g["macs_pct"] for g in groups) == pytest.approx(100.0)
    assert sum(g["params_pct"] for g in groups) == pytest.approx(100.0)  # each share over its own total
    for g in groups:
        assert g["params_pct"] == pytest.approx(100.0 * g["params"] / rep.totals["params"]["total"])
    assert all(g["name"].count(".") < depth for g in groups)


def test_resnet18_stage_subtotals(rep):
    g = {x["name"]: x for x in rep.subtotals(1)}
    assert g["layer4"]["params"] == 8_393_728  # two BasicBlocks at 512 channels with the downsample branch
    assert g["layer1"]["out_shape"] == (1, 64, 16, 16)
    with pytest.raises(ValueError, match="depth must be >= 1"):
        rep.subtotals(0)


def test_totals_by_operator_type(rep):
    by = rep.by_op_type()
    assert by["conv2d"]["count"] == 20 and by["linear"]["count"] == 1
    assert sum(v["macs"] for v in by.values()) == rep.totals["macs"]
    assert sum(v["count"] for v in by.values()) == len(rep.trace.ops)
    assert list(by)[0] == "conv2d"  # largest MAC count first
    assert "MACs by operator type: conv2d x20" in rep.table()


def test_cli_depth(capsys):
    assert main(["analyze", "resnet20", "--input", "3x32x32", "--depth", "1", "--peak-gflops", "100",
                 "--bandwidth-gbs", "10"]) == 0
    out = capsys.readouterr().out
    assert "module tree to depth 1" in out and "\n  layer3 " in out and "%MACs" in out
    assert "layer3.0" not in out  # depth 2 is folded into its parent


def test_model_with_two_inputs():
    import cvprimer as cp
    from cvprimer import nn

    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.image = nn.Conv2d(3, 8, 3, padding=1)
            self.mask = nn.Conv2d(1, 8, 5, padding=2)

        def forward(self, x, m):
            return cp.relu(self.image(x) + self.mask(m))

    rep = analyze(TwoInputs(), [(3, 16, 16), (1, 16, 16)], profile=PROFILE)
    assert rep.totals["macs"] == 16 * 16 * 8 * (3 * 9 + 1 * 25)
    assert rep.totals["input_shape"] == (1, 3, 16, 16) and rep.totals["output_shape"] == (1, 8, 16, 16)
    assert rep.totals["memory"]["forward_bytes"] > 0
    with pytest.raises(ValueError, match="single-input"):
        analyze(TwoInputs(), [(3, 16, 16), (1, 16, 16)], profile=PROFILE, erf_samples=2)
