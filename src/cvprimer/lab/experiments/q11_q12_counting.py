"""Questions 11 and 12: counting parameters and FLOPs — the seed's formulas against real layers and models.

q11: the seed's weight formulas ``Kh*Kw*Cin*Cout`` (conv) and ``Cin*Cout`` (fully connected) against the weight
tensors of real layers and of every ungrouped convolution and linear layer of zoo models, and whether the kernel
weights make up most of each model's parameters (the seed's "dominated by the kernels"). Beyond the seed: the
same formula on grouped and depthwise convolutions (it ignores groups) and batch norm's running statistics
(buffers, not parameters).

q12: ``Kh*Kw*Cin*Cout*H*W`` (conv) and ``Cin*Cout`` (fully connected) against the analyzer's multiply-accumulates
(MACs) on three ResNet-18 convolutions and on the whole model, and the seed's "more computation, more latency on
the same platform": a ladder of 3x3 convolutions whose MACs grow 4x per step, timed on our engine (one thread,
interleaved repeats, process CPU time). Beyond the seed: floating-point operations per MAC, and two convolutions
with equal MACs but different shapes timed side by side (the seed's "not strictly proportional").
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.analysis.timing import time_interleaved
from cvprimer.lab._convnets import cost
from cvprimer.lab.experiment import (
    CONFIRMED,
    NUANCED,
    REFUTED,
    Context,
    Experiment,
    Figure,
    Result,
    Table,
    Text,
    evidence,
    fmt,
)
from cvprimer.models import get_model


def _seed_params(m: Any) -> int:
    """The seed's count: Kh*Kw*Cin*Cout for a conv, Cin*Cout for a linear layer, nothing for anything else."""
    if isinstance(m, nn.Conv2d):
        kh, kw = m.kernel_size
        return kh * kw * m.in_channels * m.out_channels
    if isinstance(m, nn.Linear):
        return m.in_features * m.out_features
    return 0


def _own(m: Any) -> int:
    return sum(p.data.size for p in m.parameters())


def _covered(m: Any) -> bool:
    """A layer the seed's weight formula speaks of: an ungrouped convolution or a fully connected layer."""
    return isinstance(m, nn.Linear) or (isinstance(m, nn.Conv2d) and m.groups == 1)


LAYERS = {  # name -> a layer whose weight tensor the seed's formula counts
    "conv 3x3 64->128, no bias": lambda: nn.Conv2d(64, 128, 3, bias=False),
    "conv 3x3 64->128, bias": lambda: nn.Conv2d(64, 128, 3),
    "conv 5x3 16->32, bias": lambda: nn.Conv2d(16, 32, (5, 3)),
    "linear 512->10, bias": lambda: nn.Linear(512, 10),
}
GROUPED = {  # beyond the seed: layers the formula does not describe
    "grouped 3x3 64->128, g=4": lambda: nn.Conv2d(64, 128, 3, groups=4, bias=False),
    "depthwise 3x3 on 128": lambda: nn.Conv2d(128, 128, 3, groups=128, bias=False),
}


def weight_formula_error(layers: list[Any]) -> float:
    """Largest relative difference between the seed's formula and the size of each layer's weight tensor."""
    return max(abs(_seed_params(m) - m.weight.data.size) / m.weight.data.size for m in layers)


def kernel_share(model: Any) -> float:
    """The share of a model's parameters held by the weights of its convolutions and linear layers."""
    w = sum(m.weight.data.size for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    return w / _own(model)


def _failing(checks: Mapping[str, bool], core: str) -> tuple[str, list[str]]:
    """confirmed when every covered setting holds, refuted when the core one or all fail, nuanced otherwise."""
    bad = [k for k, ok in checks.items() if not ok]
    if not bad:
        return CONFIRMED, bad
    return (REFUTED if core in bad or len(bad) == len(checks) else NUANCED), bad


class ParameterCount(Experiment):
    id = "q11-parameter-count"
    questions = (11,)
    topic = "cost"
    stochastic = False
    thresholds = {"exact": 0.0, "dominant_share": 0.5}
    reasons = {
        "exact": {"en": "Theory: a parameter count is an integer, so the formula either matches the weight tensor "
                        "exactly or it does not; no noise is involved (the model is built, not trained).",
                  "zh": "理论：参数量是整数，公式要么与权重张量的大小完全相等，要么不等；"
                        "不涉及噪声（模型只构建不训练）。"},
        "dominant_share": {"en": "Convention: the seed says the kernel weights mainly determine the count; 'mainly' "
                                 "is read as more than half of all parameters.",
                           "zh": "约定：原文说参数量主要由卷积核权重决定；“主要”理解为超过全部参数的一半。"},
    }
    reachable = (CONFIRMED, NUANCED, REFUTED)
    key_term = {"en": "parameter count Kh·Kw·Cin·Cout", "zh": "参数量 Kh·Kw·Cin·Cout"}
    key_figure = "kernel_share_resnet18"
    answer = {
        "confirmed": {
            "en": "Yes: a convolution has Kh x Kw x Cin x Cout weights plus Cout biases and a fully connected "
                  "layer Cin x Cout, exactly as counted, and kernel weights are {kernel_share_resnet18:pct} of "
                  "ResNet-18's parameters.",
            "zh": "是的：卷积层有 Kh·Kw·Cin·Cout 个权重外加 Cout 个偏置，全连接层有 Cin·Cout 个，"
                  "与计数完全一致；卷积核权重占 ResNet-18 参数的 {kernel_share_resnet18:pct}。"},
        "nuanced": {
            "en": "The formulas are right, but kernel weights do not dominate everywhere (ResNet-18: "
                  "{kernel_share_resnet18:pct}); count the biases and normalization parameters too.",
            "zh": "公式是对的，但卷积核权重并非处处占大头（ResNet-18：{kernel_share_resnet18:pct}）；"
                  "偏置和归一化参数也要算上。"},
        "refuted": {
            "en": "The counts did not match the layers' tensors here (kernel share of ResNet-18 "
                  "{kernel_share_resnet18:pct}); check the formula against the real weight shapes.",
            "zh": "这里计数与各层张量不符（ResNet-18 中卷积核权重占 {kernel_share_resnet18:pct}）；"
                  "应拿公式与真实权重形状核对。"},
    }
    text = {
        "en": {
            "title": "How to count a model's parameters",
            "claim": "Parameters are the learnable values of a model (kernel weights, batch norm's scale and shift, "
                     "biases), and the kernel weights make up most of them; a convolution holds Kh x Kw x Cin x Cout "
                     "weights and a fully connected layer Cin x Cout.",
            "method": "Apply the two formulas to real layers and to every ungrouped convolution and linear layer of "
                      "zoo models (ResNet-18 and MobileNet v2; VGG-16 too in full mode), comparing with the size of "
                      "each weight tensor; then measure the share of each model's parameters held by those kernel "
                      "weights.",
            "beyond": "The same formula on grouped and depthwise convolutions, which it does not describe (it "
                      "ignores groups), and batch norm's running statistics, which are buffers rather than "
                      "parameters.",
        },
        "zh": {
            "title": "如何统计模型的参数量",
            "claim": "参数是模型中可学习的数值（卷积核权重、BN 的缩放与平移、偏置），其中卷积核权重占大部分；"
                     "卷积层有 Kh x Kw x C_in x C_out 个权重，全连接层有 C_in x C_out 个。",
            "method": "把两个公式用在真实的层上，以及模型库中各模型（ResNet-18 与 MobileNet v2，完整模式再加 "
                      "VGG-16）的每个不分组卷积层和全连接层上，与各权重张量的大小比较；再测量这些卷积核权重"
                      "在各模型全部参数中所占的比例。",
            "beyond": "同一公式用在分组卷积和深度卷积上（公式没有考虑分组，并不描述它们），以及 BN 的滑动统计量"
                      "（属于缓冲区而非参数）。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "grouped_overcount": {"en": "seed formula over the exact count, grouped conv",
                              "zh": "原文公式与精确值之比（分组卷积）"},
        "depthwise_overcount": {"en": "seed formula over the exact count, depthwise conv",
                                "zh": "原文公式与精确值之比（深度卷积）"},
        "whole_model_formula_over_exact_{m}": {"en": "formula summed over layers / exact parameters, {m}",
                                               "zh": "逐层公式之和 / 精确参数量（{m}）"},
        "buffers_{m}": {"en": "buffer values (not parameters), {m}", "zh": "缓冲区数值个数（非参数，{m}）"},
    }

    def measure(self, ctx: Context) -> Result:
        rows: list[list[Any]] = []
        figs: dict[str, Figure] = {}
        beyond: dict[str, Figure] = {}
        layers = [make() for make in LAYERS.values()]
        for name, m in zip(LAYERS, layers, strict=True):
            rows.append([name, _seed_params(m), m.weight.data.size, _own(m)])
        figs["formula_err_layers"] = Figure(weight_formula_error(layers), "relative", {
            "en": "largest relative error of the formula on the single layers",
            "zh": "公式在单个层上的最大相对误差"})
        for name, make in GROUPED.items():
            m = make()
            rows.append([name, _seed_params(m), m.weight.data.size, _own(m)])
        g = GROUPED["grouped 3x3 64->128, g=4"]()
        beyond["grouped_overcount"] = Figure(_seed_params(g) / g.weight.data.size, "x")
        d = GROUPED["depthwise 3x3 on 128"]()
        beyond["depthwise_overcount"] = Figure(_seed_params(d) / d.weight.data.size, "x")
        models = ctx.pick(("resnet18", "mobilenet_v2"), ("resnet18", "vgg16", "mobilenet_v2"))
        mrows = []
        for name in models:
            m = get_model(name)
            covered = [x for x in m.modules() if _covered(x)]
            err = weight_formula_error(covered)
            share = kernel_share(m)
            whole = sum(_seed_params(x) for x in m.modules())
            exact = _own(m)
            buffers = sum(b.data.size for b in m.buffers())
            figs[f"formula_err_{name}"] = Figure(err, "relative", {
                "en": f"largest relative error of the formula on {name}'s ungrouped convs and linear layers",
                "zh": f"公式在 {name} 的不分组卷积层与全连接层上的最大相对误差"})
            figs[f"kernel_share_{name}"] = Figure(share, "fraction", {
                "en": f"share of {name}'s parameters held by kernel weights",
                "zh": f"{name} 的参数中卷积核权重所占比例"})
            beyond[f"whole_model_formula_over_exact_{name}"] = Figure(whole / exact, "x")
            beyond[f"buffers_{name}"] = Figure(buffers, "values")
            mrows.append([name, len(covered), exact, share, whole / exact, buffers])
        return Result(figures=figs, beyond=beyond, tables=[
            Table("layers", ["layer", "seed formula", "weight tensor size", "all parameters (with bias)"], rows,
                  {"en": "The seed's formula beside the size of each layer's weight tensor and its full parameter "
                         "count.", "zh": "原文公式与各层权重张量大小、全部参数量（含偏置）并列。"}),
            Table("models", ["model", "covered layers", "parameters", "kernel-weight share",
                             "formula summed over all layers / parameters", "buffer values"], mrows,
                  {"en": "Whole zoo models: the layers the formula covers, and what the formula gives when summed "
                         "over every layer (grouped ones included).",
                   "zh": "整个模型：公式适用的层，以及把公式加总到所有层（含分组卷积）时的结果。"})])

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        exact, dom = thresholds["exact"], thresholds["dominant_share"]
        models = sorted(k[len("kernel_share_"):] for k in figures if k.startswith("kernel_share_"))
        checks = {"formula on single layers": figures["formula_err_layers"] <= exact}
        for m in models:
            checks[f"formula on {m}"] = figures[f"formula_err_{m}"] <= exact
            checks[f"kernel weights dominate {m}"] = figures[f"kernel_share_{m}"] > dom
        verdict, bad = _failing(checks, "formula on single layers")
        per = "; ".join(f"{m}: formula error {fmt(figures[f'formula_err_{m}'])}, kernel weights hold "
                        f"{fmt(figures[f'kernel_share_{m}'])} of the parameters" for m in models)
        per_zh = "；".join(f"{m}：公式误差 {fmt(figures[f'formula_err_{m}'])}，卷积核权重占参数的 "
                          f"{fmt(figures[f'kernel_share_{m}'])}" for m in models)
        fails = ", ".join(bad) if bad else "none"
        return verdict, evidence(
            en=f"On single layers the formula's largest error against the weight tensor is "
               f"{fmt(figures['formula_err_layers'])} (an error above {fmt(exact)} fails). {per} (more than "
               f"{fmt(dom)} counts as 'mostly'). Settings where the claim fails: {fails}.",
            zh=f"在单个层上，公式相对权重张量的最大误差为 {fmt(figures['formula_err_layers'])}"
               f"（超过 {fmt(exact)} 即不成立）。"
               f"{per_zh}（超过 {fmt(dom)} 才算“主要”）。不成立的情形：{'、'.join(bad) if bad else '无'}。")

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        g, d = beyond.get("grouped_overcount"), beyond.get("depthwise_overcount")
        if g is None or d is None:
            return None
        return {"en": f"Applied to a grouped convolution (g = 4) the formula counts {fmt(g)}x its weights, and "
                      f"{fmt(d)}x for a depthwise one: those need Kh x Kw x Cin / g x Cout.",
                "zh": f"用在分组卷积（g = 4）上，公式给出的是实际权重数的 {fmt(g)} 倍，深度卷积为 {fmt(d)} 倍："
                      f"它们需要 Kh x Kw x C_in / g x C_out。"}


CONVS = {  # (C_in, C_out, k, H_out) of real layers of ResNet-18 at 224x224
    "resnet18 conv1 7x7 3->64 @112": (3, 64, 7, 112),
    "resnet18 layer1 3x3 64->64 @56": (64, 64, 3, 56),
    "resnet18 layer4 3x3 512->512 @7": (512, 512, 3, 7),
}
LADDER = (16, 64, 256)  # output channels of the timed 3x3 convolutions (64 in): 4x the MACs per step


class FlopCount(Experiment):
    id = "q12-flop-count"
    questions = (12,)
    topic = "cost"
    stochastic = True  # the latency ladder is timed
    thresholds = {"exact": 0.0, "min_time_ratio": 1.2}
    reasons = {
        "exact": {"en": "Theory: a count of multiply-accumulates is an integer; the formula matches the analyzer's "
                        "count exactly or not at all.",
                  "zh": "理论：乘加次数是整数；公式与分析器的计数要么完全相等，要么不等。"},
        "min_time_ratio": {"en": "Measured noise floor: a 4x step in MACs must cost at least 1.2x the time to count "
                                 "as slower; on a heavily loaded 2-core machine the quick step ratios measured "
                                 "1.9-2.8 (small step) and 3.5-5.5 (large step) over 3 repeats, and repeat-to-repeat "
                                 "jitter of the smallest layer is about 20%. (A ladder starting at 8 output channels "
                                 "was overhead-bound and its first step flipped between 0.87x and 1.5x with the "
                                 "machine's load, so the ladder starts at 16 channels of a 64-channel input.)",
                           "zh": "实测噪声下限：乘加数增加 4 倍时耗时至少达到 1.2 倍才算变慢；在负载很重的双核机器上，"
                                 "快速模式 3 次重复测得两级耗时比分别为 1.9-2.8 与 3.5-5.5，最小一层重复计时的抖动约 "
                                 "20%。（从 8 个输出通道起步的阶梯受固定开销支配，第一级的比值随机器负载在 0.87 与 "
                                 "1.5 倍之间跳动，因此阶梯改为 64 通道输入、从 16 个输出通道起步。）"},
    }
    reachable = (CONFIRMED, NUANCED, REFUTED)
    key_term = {"en": "MACs versus FLOPs (FLOPs = 2 x MACs)", "zh": "乘加次数与浮点运算次数（FLOPs = 2 x MACs）"}
    key_figure = "time_ratio_256_over_64"
    answer = {
        "confirmed": {
            "en": "Count a convolution's multiply-adds as Kh x Kw x Cin x Cout x H x W (FLOPs are twice that) "
                  "and expect latency to grow with them but not in proportion: four times the MACs took "
                  "{time_ratio_256_over_64}x the time here.",
            "zh": "卷积的乘加次数按 Kh·Kw·Cin·Cout·H·W 计算（FLOPs 是它的两倍），"
                  "延迟会随之增加但不成正比：这里乘加次数变为四倍，耗时变为 {time_ratio_256_over_64} 倍。"},
        "nuanced": {
            "en": "The formula is right, but latency did not follow the MACs everywhere (four times the MACs "
                  "took {time_ratio_256_over_64}x the time); say speed depends on memory traffic too.",
            "zh": "公式正确，但延迟并非处处随乘加次数变化（乘加次数四倍，耗时 {time_ratio_256_over_64} 倍）；"
                  "回答时要说明速度还取决于访存。"},
        "refuted": {
            "en": "The count or its link to latency failed here (four times the MACs took "
                  "{time_ratio_256_over_64}x the time); measure speed rather than infer it from MACs.",
            "zh": "这里计数或它与延迟的关系不成立（乘加次数四倍，耗时 {time_ratio_256_over_64} 倍）；"
                  "速度应当实测，而不是由乘加次数推断。"},
    }
    text = {
        "en": {
            "title": "How to count a model's FLOPs",
            "claim": "A network's compute is the number of multiply-add operations in its forward pass (called "
                     "FLOPs): a convolution needs Kh x Kw x Cin x Cout x H x W of them (its parameters times the "
                     "output's H x W), a fully connected layer Cin x Cout; on one platform more compute means more "
                     "latency, though not strictly in proportion.",
            "method": "Compare the formula with the analyzer's multiply-accumulate count on three convolutions of "
                      "ResNet-18 and on the whole model at 224x224 (convolutions plus the final fully connected "
                      "layer); time a ladder of 3x3 convolutions whose MACs grow fourfold per step on our engine "
                      "(one thread, interleaved repeats, process CPU time) and check that each step is slower.",
            "beyond": "Floating-point operations per multiply-accumulate on ResNet-18 (a multiply-add is two "
                      "floating-point operations), and two convolutions with equal MACs but different shapes timed "
                      "side by side.",
        },
        "zh": {
            "title": "如何计算模型的 FLOPs",
            "claim": "网络的计算量是前向过程中乘加运算的次数（称为 FLOPs）：卷积层需要 Kh x Kw x C_in x C_out x H x W "
                     "次（参数量乘以输出的 H x W），全连接层需要 C_in x C_out 次；在同一平台上计算量越大延迟越高，"
                     "但并不严格成正比。",
            "method": "把公式与分析器在 ResNet-18 的三个卷积以及整个模型（224x224，卷积加最后的全连接层）上的乘加"
                      "计数比较；在我们的引擎上对一组乘加数逐级增加 4 倍的 3x3 卷积计时（单线程、交错重复、"
                      "进程 CPU 时间），检查每一级是否都更慢。",
            "beyond": "ResNet-18 上每次乘加对应的浮点运算数（一次乘加是两次浮点运算），以及两个乘加数相同、"
                      "形状不同的卷积的并排计时。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "formula_err_layers": {"en": "largest formula error over single layers", "zh": "单层公式的最大误差"},
        "formula_err_resnet18": {"en": "formula error on ResNet-18", "zh": "ResNet-18 上的公式误差"},
        "resnet18_gmacs": {"en": "ResNet-18 multiply-accumulates", "zh": "ResNet-18 的乘加次数"},
        "flops_per_mac": {"en": "FLOPs per MAC", "zh": "每次 MAC 的 FLOPs"},
        "equal_mac_time_ratio": {"en": "time ratio of two layers with equal MACs", "zh": "MACs 相同的两层的耗时比"},
    }

    def measure(self, ctx: Context) -> Result:
        rows, errs = [], []
        for name, (ci, co, k, h) in CONVS.items():
            formula = k * k * ci * co * h * h
            rep = cost(nn.Conv2d(ci, co, k, stride=1, padding=k // 2, bias=False), (1, ci, h, h))
            errs.append(abs(formula - rep["macs"]) / rep["macs"])
            rows.append([name, formula, rep["macs"]])
        r18 = cost(get_model("resnet18"), (1, 3, 224, 224))
        formula_total = sum(_seed_params(m) * h * w for m, h, w in self._conv_outputs(r18["report"])) + 512 * 1000
        rows.append(["resnet18 (all conv + fc)", formula_total, r18["macs"]])
        # the latency ladder: 3x3 convolutions, C_in 64, output channels LADDER
        s = ctx.pick(28, 56, 14)
        x = cp.tensor(ctx.rng.standard_normal((1, 64, s, s)).astype(np.float32))
        ws = {c: cp.tensor(ctx.rng.standard_normal((c, 64, 3, 3)).astype(np.float32)) for c in LADDER}
        macs = {c: 9 * 64 * c * s * s for c in LADDER}
        with cp.no_grad():
            t = time_interleaved({c: functools.partial(F.conv2d, x, ws[c], padding=1) for c in LADDER},
                                 repeat=ctx.pick(5, 15, 3), warmup=1, clock=time.process_time)
        figs = {"formula_err_layers": Figure(max(errs), "relative"),
                "formula_err_resnet18": Figure(abs(formula_total - r18["macs"]) / r18["macs"], "relative")}
        for a, b in zip(LADDER, LADDER[1:], strict=False):
            figs[f"time_ratio_{b}_over_{a}"] = Figure(t[b] / t[a], "x", {
                "en": f"time of the {b}-channel 3x3 conv / the {a}-channel one ({macs[b] // macs[a]}x the MACs)",
                "zh": f"{b} 通道 3x3 卷积与 {a} 通道的耗时比（乘加数为 {macs[b] // macs[a]} 倍）"})
        # beyond: FLOPs per MAC, equal-MAC shapes
        s2 = ctx.pick(14, 56, 7)
        x64 = cp.tensor(ctx.rng.standard_normal((1, 64, s2, s2)).astype(np.float32))
        x576 = cp.tensor(ctx.rng.standard_normal((1, 576, s2, s2)).astype(np.float32))
        c3, c1 = nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.Conv2d(576, 64, 1, bias=False)
        with cp.no_grad():
            te = time_interleaved({"3x3": lambda: c3(x64), "1x1": lambda: c1(x576)}, repeat=ctx.pick(5, 15, 3),
                                  warmup=1, clock=time.process_time)
        beyond = {"resnet18_gmacs": Figure(r18["macs"] / 1e9, "GMACs"),
                  "flops_per_mac": Figure((2 * r18["macs"] + r18["flops"]) / r18["macs"], "FLOPs/MAC"),
                  "equal_mac_time_ratio": Figure(max(te.values()) / min(te.values()), "x")}
        ladder_rows = [[f"3x3 64->{c} @{s}x{s}", macs[c], 1e3 * t[c]] for c in LADDER]
        return Result(figures=figs, beyond=beyond, tables=[
            Table("macs", ["layer", "seed formula", "analyzer MACs"], rows,
                  {"en": "The seed's formula beside the analyzer's multiply-accumulate count.",
                   "zh": "原文公式与分析器的乘加计数并列。"}),
            Table("ladder", ["layer", "MACs", "time (ms)"], ladder_rows,
                  {"en": f"One thread, {len(LADDER)} layers interleaved, median process CPU time; largest over "
                         f"smallest time {fmt(t[LADDER[-1]] / t[LADDER[0]])}x for "
                         f"{fmt(macs[LADDER[-1]] / macs[LADDER[0]])}x the MACs.",
                   "zh": f"单线程，{len(LADDER)} 个层交错计时，取进程 CPU 时间中位数；最大与最小层耗时比 "
                         f"{fmt(t[LADDER[-1]] / t[LADDER[0]])} 倍，乘加数比 "
                         f"{fmt(macs[LADDER[-1]] / macs[LADDER[0]])} 倍。"})])

    @staticmethod
    def _conv_outputs(rep: Any) -> list[tuple[Any, int, int]]:
        out = []
        for call in rep.trace.calls:
            if isinstance(call.module, nn.Conv2d) and call.out_shape is not None:
                out.append((call.module, call.out_shape[-2], call.out_shape[-1]))
        return out

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        exact, tr = thresholds["exact"], thresholds["min_time_ratio"]
        steps = sorted((k for k in figures if k.startswith("time_ratio_")), key=lambda k: int(k.split("_")[2]))
        checks = {"formula on single layers": figures["formula_err_layers"] <= exact,
                  "formula on ResNet-18": figures["formula_err_resnet18"] <= exact}
        for k in steps:
            b, a = k.split("_")[2], k.split("_")[4]
            checks[f"latency {a}->{b} channels"] = figures[k] >= tr
        verdict, bad = _failing(checks, "formula on single layers")
        times_en = ", ".join(f"{k.split('_')[4]}->{k.split('_')[2]} channels {fmt(figures[k])}x" for k in steps)
        times_zh = "，".join(f"{k.split('_')[4]}->{k.split('_')[2]} 通道 {fmt(figures[k])} 倍" for k in steps)
        return verdict, evidence(
            en=f"The formula's largest error against the analyzer's multiply-accumulates is "
               f"{fmt(figures['formula_err_layers'])} on the layers and {fmt(figures['formula_err_resnet18'])} on "
               f"ResNet-18 (above {fmt(exact)} fails). Each 4x step in MACs changed the time by {times_en} "
               f"({fmt(tr)}x counts as slower). Settings where the claim fails: {', '.join(bad) or 'none'}.",
            zh=f"公式相对分析器乘加计数的最大误差：单层 {fmt(figures['formula_err_layers'])}，ResNet-18 "
               f"{fmt(figures['formula_err_resnet18'])}（超过 {fmt(exact)} 即不成立）。乘加数每增加 4 倍，耗时变化为"
               f"{times_zh}（达到 {fmt(tr)} 倍才算变慢）。不成立的情形：{'、'.join(bad) if bad else '无'}。")

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        if not {"flops_per_mac", "equal_mac_time_ratio", "resnet18_gmacs"} <= set(beyond):
            return None
        f, e, g = beyond["flops_per_mac"], beyond["equal_mac_time_ratio"], beyond["resnet18_gmacs"]
        return {"en": f"ResNet-18 needs {fmt(g)} billion multiply-accumulates and {fmt(f)} floating-point operations "
                      f"per multiply-accumulate, so the seed's 'FLOPs' counts multiply-adds, not floating-point "
                      f"operations. Two convolutions with equal MACs (3x3 64->64 and 1x1 576->64) ran {fmt(e)}x apart.",
                "zh": f"ResNet-18 需要 {fmt(g)} 十亿次乘加，每次乘加对应 {fmt(f)} 次浮点运算，所以原文的“FLOPs”数的是"
                      f"乘加次数而不是浮点运算次数。乘加数相同的两个卷积（3x3 64->64 与 1x1 576->64）耗时相差 "
                      f"{fmt(e)} 倍。"}
