"""The analyzer's tables (issue 26): FLOPs = 2 x MACs on every conv row of resnet18 (the column read 0: it
printed the non-GEMM FLOPs alone), the torchinfo-style module tree of --depth, input and kernel columns, and
names never cut."""

from __future__ import annotations

import re

import pytest

from cvprimer import models, nn
from cvprimer.analysis import analyze
from cvprimer.analysis.roofline import MachineProfile
from cvprimer.cli import main

P = MachineProfile(1e11, 1e10)
GIVEN = ["--peak-gflops", "100", "--bandwidth-gbs", "10"]  # nothing measured, nothing cached


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _conv_closed_form(conv, in_shape):
    """(MACs, H_out, W_out) of a Conv2d from its own attributes: H_out = floor((H + 2p - d(k-1) - 1)/s) + 1,
    MACs = N C_out H_out W_out (C_in / g) k_h k_w."""
    n, c_in, h, w = in_shape
    (kh, kw), (sh, sw) = _pair(conv.kernel_size), _pair(conv.stride)
    (ph, pw), (dh, dw) = _pair(conv.padding), _pair(conv.dilation)
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return n * conv.out_channels * ho * wo * (c_in // conv.groups) * kh * kw, ho, wo


def test_resnet18_conv_rows_have_flops_twice_their_macs():
    m = models.get_model("resnet18")
    mods = dict(m.named_modules())
    rep = analyze(m, (1, 3, 224, 224), profile=P)
    convs = [r for r in rep.rows if r.type == "Conv2d"]
    assert len(convs) == 20
    for r in convs:
        conv = mods[r.name]
        assert conv.bias is None  # resnet18's convs: no bias, so no other FLOPs
        macs, ho, wo = _conv_closed_form(conv, r.in_shape)
        assert r.out_shape == (1, conv.out_channels, ho, wo)
        assert r.macs == macs and r.flops == 0
        assert r.total_flops == 2 * macs, r.name
    assert sum(r.total_flops for r in rep.rows) == 2 * rep.totals["macs"] + rep.totals["flops"]


def test_resnet18_cli_table_flops_column(capsys):
    m = models.get_model("resnet18")
    mods = dict(m.named_modules())
    assert main(["analyze", "resnet18", *GIVEN]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = re.split(r"\s{2,}", lines[0].strip())
    assert header[:9] == ["layer", "type", "input", "output", "kernel", "params", "MACs", "%MACs", "FLOPs"]
    rows = [re.split(r"\s{2,}", ln.strip()) for ln in lines if "  Conv2d  " in ln]
    assert len(rows) == 20
    for cells in rows:
        conv = mods[cells[0]]
        in_shape = tuple(int(v) for v in cells[2].split("x"))
        macs, _, _ = _conv_closed_form(conv, in_shape)
        assert int(cells[6].replace(",", "")) == macs
        assert int(cells[8].replace(",", "")) == 2 * macs, cells
        k, s, p = _pair(conv.kernel_size)[0], _pair(conv.stride)[0], _pair(conv.padding)[0]
        assert cells[4] == f"{k}x{k}/s{s}/p{p}/d1/g1"


class Named(nn.Module):
    def __init__(self):
        super().__init__()
        self.a_feature_extractor_with_a_very_long_name = nn.Sequential(
            nn.Conv2d(4, 8, 3, padding=2, dilation=2, groups=4),
            nn.MaxPool2d(3, stride=2, padding=1),
            nn.Conv2d(8, 8, (3, 1), padding=(1, 0)),
            nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1))
        self.head = nn.Linear(4 * 16 * 16, 3)

    def forward(self, x):
        return self.head(self.a_feature_extractor_with_a_very_long_name(x).flatten(1))


def test_kernel_column_and_long_names_in_the_flat_table():
    rep = analyze(Named(), (2, 4, 16, 16), profile=P)
    kern = {r.name.rsplit(".", 1)[-1]: r.kernel for r in rep.rows}
    assert kern["0"] == "3x3/s1/p2/d2/g4"
    assert kern["1"] == "3x3/s2/p1/d1"  # pooling: no groups
    assert kern["2"] == "3x1/s1/p1x0/d1/g1"
    assert kern["3"] == "T:4x4/s2/p1/d1/g1"
    assert kern["head"] == ""
    ins = {r.name.rsplit(".", 1)[-1]: r.in_shape for r in rep.rows}
    assert ins["1"] == (2, 8, 16, 16) and ins["3"] == (2, 8, 8, 8) and ins["head"] == (2, 1024)
    text = rep.table()
    lines = text.splitlines()
    long = "a_feature_extractor_with_a_very_long_name.0"
    assert any(ln.startswith(long + "  ") for ln in lines)  # never cut at 28 characters
    width = len(lines[1])
    assert set(lines[1]) == {"-"} and len(lines[0]) <= width
    body = lines[2:2 + len(rep.rows)]
    assert all(len(ln) <= width for ln in body)
    col = lines[0].index("type")  # every row's type starts under the header: widths follow the content
    assert all(ln[col:].split()[0] in {r.type for r in rep.rows} for ln in body)


def test_tree_rows_sum_their_subtrees():
    m = models.get_model("resnet18")
    rep = analyze(m, (1, 3, 64, 64), profile=P)
    tree = rep.tree(2)
    root = tree[0]
    assert root["name"] == "(model)" and root["depth"] == 0 and root["type"] == "ResNet"
    assert root["params"] == rep.totals["params"]["total"] and root["macs"] == rep.totals["macs"]
    assert root["total_flops"] == 2 * rep.totals["macs"] + rep.totals["flops"]
    assert root["in_shape"] == (1, 3, 64, 64) and root["out_shape"] == (1, 1000)
    top = [t for t in tree if t["depth"] == 1]
    assert [t["name"] for t in top] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
                                        "avgpool", "fc"]
    assert sum(t["params"] for t in top) == root["params"]
    assert sum(t["macs"] for t in top) == root["macs"]
    layer2 = next(t for t in tree if t["name"] == "layer2")
    kids = [t for t in tree if t["name"].startswith("layer2.")]
    assert [t["name"] for t in kids] == ["layer2.0", "layer2.1"] and all(t["depth"] == 2 for t in kids)
    assert layer2["params"] == sum(t["params"] for t in kids)
    assert layer2["macs"] == sum(t["macs"] for t in kids) == sum(r.macs for r in rep.rows
                                                                 if r.name.startswith("layer2."))
    assert layer2["in_shape"] == (1, 64, 16, 16) and layer2["out_shape"] == (1, 128, 8, 8)
    assert max(t["depth"] for t in rep.tree(3)) == 3 and [t["depth"] for t in rep.tree(0)] == [0]
    with pytest.raises(ValueError, match="depth must be >= 0"):
        rep.tree(-1)


def test_cli_tree_is_indented_with_input_and_kernel_columns(capsys):
    assert main(["analyze", "resnet18", "--input", "3x64x64", "--depth", "3", *GIVEN]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("module tree to depth 3")
    assert re.split(r"\s{2,}", out[1].strip()) == ["module", "type", "input", "output", "kernel", "params",
                                                   "MACs", "%MACs", "FLOPs"]
    by_name = {ln.split()[0]: ln for ln in out[3:] if ln.strip() and not ln.startswith("-")}
    assert by_name["layer1"].startswith("  layer1 ") and by_name["layer1.0"].startswith("    layer1.0 ")
    assert by_name["layer1.0.conv1"].startswith("      layer1.0.conv1 ")
    cells = re.split(r"\s{2,}", by_name["layer2.0.downsample"].strip())
    assert cells[:4] == ["layer2.0.downsample", "Sequential", "1x64x16x16", "1x128x8x8"]
    conv = re.split(r"\s{2,}", by_name["layer2.0.conv1"].strip())
    assert conv[4] == "3x3/s2/p1/d1/g1" and int(conv[8].replace(",", "")) == 2 * int(conv[6].replace(",", ""))
    assert "layer2.0.downsample.0" not in by_name  # depth 4: folded into depth 3
