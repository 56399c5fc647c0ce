"""The report: conventions, parameter breakdown, uncounted ops, memory, roofline, files, CLI, errors."""

import csv
import json

import numpy as np
import pytest
from analysis_nets import BN, FC, Conv, Lambda, ReLU, cifar_resnet

import cvprimer.functional as F
from cvprimer import nn
from cvprimer.analysis import TraceError, analyze, measure_machine
from cvprimer.analysis.cli import parse_shape
from cvprimer.analysis.roofline import MachineProfile
from cvprimer.cli import main
from cvprimer.core.function import Function

P = MachineProfile(1e11, 1e10, "fixed")  # ridge: 10 FLOPs per byte


def chain():
    return nn.Sequential(Conv(2, 4, 3, p=1), ReLU(), Conv(4, 4, 3, p=1), Lambda(lambda self, x: x.flatten(1)))


def test_conventions_keep_macs_and_flops_apart():
    m = nn.Sequential(Conv(3, 8, 3, p=1), BN(8), ReLU())
    t = {c: analyze(m, (1, 3, 8, 8), convention=c, profile=P).totals for c in ("torchvision", "macs", "flops")}
    macs = 8 * 64 * 27
    assert t["torchvision"]["macs"] == macs == t["torchvision"]["headline"] == t["macs"]["headline"]
    # batch norm (eval: a multiply-add per element = 2 FLOPs) and relu (1 FLOP) are FLOPs, not MACs
    assert t["flops"]["flops"] == 2 * 512 + 512
    assert t["flops"]["headline"] == 2 * macs + 3 * 512
    with pytest.raises(ValueError, match="convention"):
        analyze(m, (1, 3, 8, 8), convention="gflops", profile=P)


def test_parameter_breakdown_shared_and_frozen():
    conv = Conv(3, 4, 3, p=1, bias=True)
    other = Conv(3, 4, 3, p=1, bias=True)
    other.weight = conv.weight  # a shared parameter (question 11): counted once
    bn = BN(4)
    bn.weight.requires_grad_(False)
    m = Lambda(lambda self, x: self.bn(self.conv(x) + self.other(x) + self.conv(x)), conv=conv, other=other, bn=bn)
    rep = analyze(m, (1, 3, 6, 6), profile=P)
    p = rep.totals["params"]
    assert p["weights"] == 4 * 3 * 9 and p["biases"] == 8 and p["norm_affine"] == 8
    assert p["total"] == 108 + 8 + 8 and p["frozen"] == 4 and p["trainable"] == p["total"] - 4
    assert p["buffers"] == 8
    assert sum(r.params for r in rep.rows) == p["total"]  # each parameter credited to one row
    conv_rows = [r for r in rep.rows if r.name == "conv"]
    assert len(conv_rows) == 2 and [r.params for r in conv_rows] == [112, 0]  # the module ran twice


class SquareFn(Function):
    """x^2 with no cost formula: the analyzer must say so."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return 2 * x * gy


def test_op_without_cost_is_reported_uncounted():
    m = nn.Sequential(Conv(1, 2, 3), Lambda(lambda self, x: SquareFn.apply(x)))
    rep = analyze(m, (1, 1, 5, 5), profile=P)
    assert rep.totals["uncounted"] == {"square": 1}
    assert rep.rows[-1].uncounted == ["square"]
    assert "UNCOUNTED ops" in rep.table() and "square x1" in rep.table()


def test_activation_memory_and_backward_estimate_by_hand():
    rep = analyze(chain(), (1, 2, 8, 8), profile=P)
    mem = rep.totals["memory"]
    x, y = 2 * 64 * 4, 4 * 64 * 4  # bytes of the input and of each 4-channel map
    assert mem["forward_bytes"] == 3 * y  # conv, relu, conv; flatten is a view
    assert mem["peak_inference_bytes"] == 2 * y  # relu's input and output alive together
    assert mem["kept_for_backward_bytes"] == x + y  # conv1 keeps x, relu keeps y2 = conv2's input
    m1, m2 = 4 * 64 * 18, 4 * 64 * 36
    # conv1 needs no input gradient (the model input), conv2 needs both: 1x + 2x
    assert rep.totals["macs"] == m1 + m2 and rep.totals["bwd_macs"] == m1 + 2 * m2
    assert rep.rows[0].act_bytes == y and rep.rows[0].working_set == x + 4 * 2 * 9 * 4 + y


def test_depthwise_convolution_is_memory_bound():
    # question 54: same feature map, depthwise 3x3 vs standard 3x3 convolution
    dw = analyze(Conv(128, 128, 3, p=1, g=128), (1, 128, 28, 28), profile=P).rows[0]
    std = analyze(Conv(128, 128, 3, p=1), (1, 128, 28, 28), profile=P).rows[0]
    assert dw.intensity < P.ridge <= std.intensity
    assert (dw.bound, std.bound) == ("memory", "compute")
    # 128x fewer MACs, but far less than 128x faster on the roofline
    assert std.macs == 128 * dw.macs and std.time_s / dw.time_s < 128 / 4


def test_measure_machine_gives_a_sane_profile():
    pf = measure_machine(n=128, copy_mb=4, repeats=2, refresh=True)
    assert 1e7 < pf.peak_flops < 1e15 and 1e7 < pf.bandwidth < 1e13 and pf.ridge > 0


def test_table_csv_json_and_plots(tmp_path):
    rep = analyze(cifar_resnet(8), (1, 3, 32, 32), profile=P)
    text = rep.table()
    assert "parameters:" in text and "MACs (conv + matmul)" in text and "ridge" in text
    rep.to_csv(tmp_path / "r.csv")
    rows = list(csv.DictReader((tmp_path / "r.csv").read_text().splitlines()))
    assert len(rows) == len(rep.rows) and int(rows[0]["macs"]) == rep.rows[0].macs
    assert rows[0]["out_shape"] == "x".join(map(str, rep.rows[0].out_shape))
    rep.to_json(tmp_path / "r.json")
    d = json.loads((tmp_path / "r.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert d["totals"]["macs"] == rep.totals["macs"] and len(d["rows"]) == len(rep.rows)
    views = analyze(chain(), (1, 2, 8, 8), profile=P)  # its last row (flatten) moves no bytes
    assert views.rows[-1].intensity == float("inf")
    views.to_json(tmp_path / "v.json")
    d = json.loads((tmp_path / "v.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert d["rows"][-1]["intensity"] is None
    pytest.importorskip("matplotlib")
    rep.plot_costs(tmp_path / "c.png")
    rep.plot_roofline(tmp_path / "r.png")
    for f in ("c.png", "r.png"):
        assert (tmp_path / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_receptive_field_columns():
    rep = analyze(chain(), (1, 2, 8, 8), profile=P)
    assert [r.rf_size for r in rep.rows[:3]] == [(3, 3), (3, 3), (5, 5)]
    assert rep.rows[2].rf_eff_padding == (2, 2) and rep.rows[2].rf_start == (0, 0)
    assert rep.rows[3].rf_kind == "global"  # flattened


def test_input_too_small_names_the_layer():
    m = nn.Sequential(Conv(1, 1, 3), Conv(1, 1, 3), Conv(1, 1, 3))
    with pytest.raises(TraceError, match=r"layer '2' \(Conv\).*\(1, 1, 1, 1\)"):
        analyze(m, (1, 1, 5, 5), profile=P)
    assert isinstance(TraceError("x"), ValueError)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown model 'no_such_net'; known models: .*resnet18"):
        analyze("no_such_net", (3, 32, 32), profile=P)
    with pytest.raises(TypeError, match="expected a Module or a model name"):
        analyze(42, (3, 32, 32), profile=P)
    with pytest.raises(ValueError, match="input_shape"):
        analyze(chain(), (1, 2, 0, 8), profile=P)
    assert parse_shape("3x224x224") == (1, 3, 224, 224) and parse_shape("8x3x32x32") == (8, 3, 32, 32)


def test_model_state_is_untouched():
    m = nn.Sequential(Conv(1, 2, 3), BN(2))
    m.train()
    before = {k: v.copy() for k, v in m.state_dict().items()}
    analyze(m, (2, 1, 6, 6), profile=P)
    assert m.training and all(np.array_equal(before[k], v) for k, v in m.state_dict().items())


def test_cli_analyze(tmp_path, capsys, monkeypatch):
    import cvprimer.analysis.roofline as rl

    monkeypatch.setattr(rl, "_CACHED", P)  # no micro-benchmark in the test
    rc = main(["analyze", "resnet20", "--input", "3x32x32", "--convention", "flops",
               "--csv", str(tmp_path / "a.csv"), "--json", str(tmp_path / "a.json")])
    out = capsys.readouterr().out
    n = analyze(cifar_resnet(20), (1, 3, 32, 32), profile=P).totals["params"]["total"]
    assert rc == 0 and "GFLOPs (2 x MACs + other FLOPs)" in out and f"parameters: {n:,} " in out
    assert (tmp_path / "a.csv").exists() and json.loads((tmp_path / "a.json").read_text())["convention"] == "flops"
    assert main(["analyze", "no_such_net"]) == 2
    assert "known models" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["analyze", "resnet20", "--input", "3by32"])


def test_fc_after_flatten_is_counted():
    rep = analyze(nn.Sequential(Conv(3, 4, 3), FC(4 * 4 * 4, 10)), (2, 3, 6, 6), profile=P)
    assert rep.totals["macs"] == 2 * (4 * 16 * 27 + 64 * 10)
    # an attention block's matmuls are MACs too; its softmax is FLOPs
    att = analyze(Lambda(lambda self, x: F.softmax(x @ x.transpose(2, 3), dim=-1)), (1, 1, 4, 8), profile=P).totals
    assert att["macs"] == 4 * 4 * 8 and att["flops"] == 5 * 16
