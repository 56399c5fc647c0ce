"""Questions 11 and 12: counting parameters and FLOPs — the seed's formulas against the analyzer.

q11: ``Kh*Kw*Cin*Cout`` (conv) and ``Cin*Cout`` (fully connected) against the exact parameter count of real
layers (bias, groups, batch norm's affine pair; running statistics are buffers, not parameters) and of zoo
models. q12: ``Kh*Kw*Cin*Cout*H*W`` against the analyzer's multiply-accumulates (MACs) and floating-point
operations (FLOPs = 2 x MACs plus the other additions), and whether equal MACs mean equal time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import nn
from cvprimer.analysis.timing import time_interleaved
from cvprimer.lab._convnets import cost
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
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


LAYERS = {  # name -> a layer the seed's formula should count
    "conv 3x3 64->128, no bias": lambda: nn.Conv2d(64, 128, 3, bias=False),
    "conv 3x3 64->128, bias": lambda: nn.Conv2d(64, 128, 3),
    "conv 3x3 64->128, groups=4": lambda: nn.Conv2d(64, 128, 3, groups=4, bias=False),
    "depthwise 3x3 on 128": lambda: nn.Conv2d(128, 128, 3, groups=128, bias=False),
    "linear 512->10, bias": lambda: nn.Linear(512, 10),
    "batch norm on 128": lambda: nn.BatchNorm2d(128),
}


class ParameterCount(Experiment):
    id = "q11-parameter-count"
    questions = (11,)
    topic = "cost"
    stochastic = False
    thresholds = {"exact": 0.0, "material": 0.01}
    text = {
        "en": {
            "title": "Counting parameters: where Kh x Kw x Cin x Cout is right and where it is not",
            "claim": "A model's parameters are its learnable values (kernels, batch norm's scale and shift, biases); a "
                     "convolution has Kh x Kw x Cin x Cout of them and a fully connected layer Cin x Cout.",
            "method": "Apply the two formulas to real layers (with and without bias, grouped, depthwise, batch norm) "
                      "and to whole zoo models (ResNet-18, VGG-16, MobileNet v2), and compare with the exact count "
                      "of their parameter tensors; also count batch norm's running statistics, which are buffers.",
        },
        "zh": {
            "title": "参数量怎么数：Kh x Kw x C_in x C_out 何时对、何时不对",
            "claim": "模型的参数是可学习的数值（卷积核、BN 的缩放与平移、偏置）；卷积层有 Kh x Kw x C_in x C_out 个，"
                     "全连接层有 C_in x C_out 个。",
            "method": "把两个公式用在真实的层上（有无偏置、分组、深度卷积、BN），以及整个模型上（ResNet-18、VGG-16、"
                      "MobileNet v2），与参数张量的精确计数比较；同时统计 BN 的滑动统计量，它们属于缓冲区而非参数。",
        },
    }

    def run(self, ctx: Context) -> Result:
        rows, figs = [], {}
        for name, make in LAYERS.items():
            layer = make()
            formula, exact = _seed_params(layer), _own(layer)
            err = abs(formula - exact) / exact
            rows.append([name, formula, exact, err])
            figs[name.split(",")[0].replace(" ", "_").replace(">", "").replace("-", "_") + "_" +
                 name.split(",")[-1].strip().replace(" ", "_").replace("=", "")] = Figure(err, "relative")
        models = ("resnet18", "mobilenet_v2") if ctx.quick else ("resnet18", "vgg16", "mobilenet_v2")
        for name in models:
            m = get_model(name)
            formula = sum(_seed_params(x) for x in m.modules())
            exact = _own(m)
            buffers = sum(b.data.size for b in m.buffers())
            rows.append([f"model {name}", formula, exact, abs(formula - exact) / exact])
            figs[f"model_{name}"] = Figure(abs(formula - exact) / exact, "relative")
            figs[f"buffers_{name}"] = Figure(buffers, "values")
        keys = list(figs)
        figs = {"plain_conv": figs[keys[0]], "conv_bias": figs[keys[1]], "grouped_conv": figs[keys[2]],
                "depthwise_conv": figs[keys[3]], "linear_bias": figs[keys[4]], "batch_norm": figs[keys[5]],
                **{k: v for k, v in figs.items() if k.startswith(("model_", "buffers_"))}}
        return Result(figures=figs, tables=[Table("counts", ["layer or model", "seed formula", "exact", "rel. error"],
                                                  rows, {"en": "Parameters by the seed's formula and exactly.",
                                                         "zh": "按原文公式与精确计数的参数量。"})])

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        exact, material = thresholds["exact"], thresholds["material"]
        plain = figures["plain_conv"] <= exact
        misses = {k: figures[k] for k in ("conv_bias", "grouped_conv", "depthwise_conv", "batch_norm")
                  if figures[k] > exact}
        worst_model = max((v, k[6:]) for k, v in figures.items() if k.startswith("model_"))
        en = (f"The formula is exact for a bias-free, ungrouped convolution (error {fmt(figures['plain_conv'])}); it "
              f"misses the bias ({fmt(figures['conv_bias'])}), overcounts a grouped conv by a factor g "
              f"({fmt(figures['grouped_conv'])} too many with g = 4, {fmt(figures['depthwise_conv'])} for a depthwise "
              f"one, which needs Kh x Kw x Cin / g x Cout) and gives 0 for batch norm (error "
              f"{fmt(figures['batch_norm'])}). On whole models the largest error is {fmt(worst_model[0])} "
              f"({worst_model[1]}); an error above {fmt(material)} matters.")
        zh = (f"对无偏置、不分组的卷积，公式完全正确（误差 {fmt(figures['plain_conv'])}）；它漏掉了偏置"
              f"（{fmt(figures['conv_bias'])}），对分组卷积多算了 g 倍（g = 4 时多 {fmt(figures['grouped_conv'])}，"
              f"深度卷积多 {fmt(figures['depthwise_conv'])}，正确的是 Kh x Kw x Cin / g x Cout），"
              f"对 BN 给出 0（误差 {fmt(figures['batch_norm'])}）。在整个模型上最大误差为 {fmt(worst_model[0])}"
              f"（{worst_model[1]}）；误差超过 {fmt(material)} 才算显著。")
        return verdict_if(plain and not misses, nuanced=plain), evidence(en=en, zh=zh)


CONVS = {  # (C_in, C_out, k, H_out) of real layers of ResNet-18 at 224x224
    "resnet18 conv1 7x7 3->64 @112": (3, 64, 7, 112),
    "resnet18 layer1 3x3 64->64 @56": (64, 64, 3, 56),
    "resnet18 layer4 3x3 512->512 @7": (512, 512, 3, 7),
}


class FlopCount(Experiment):
    id = "q12-flop-count"
    questions = (12,)
    topic = "cost"
    stochastic = False
    thresholds = {"exact": 0.0, "flops_per_mac": 2.0, "time_ratio": 1.5}
    text = {
        "en": {
            "title": "FLOPs: the seed's formula counts multiply-accumulates",
            "claim": "A network's compute is the number of multiply-add operations of its forward pass, called FLOPs; "
                     "a convolution needs Kh x Kw x Cin x Cout x H x W of them (params x H x W), a fully connected "
                     "layer Cin x Cout; more compute means more latency, though not strictly in proportion.",
            "method": "Compare the formula with the analyzer's MACs and FLOPs on three convolutions of ResNet-18 "
                      "and on the whole model at 224x224, then time two convolutions with the same MACs but different "
                      "shapes (3x3 64->64 and 1x1 576->64 on 56x56, or a 28x28 version in quick mode) on our engine.",
        },
        "zh": {
            "title": "FLOPs：原文的公式数的是乘加次数",
            "claim": "网络的计算量是前向中乘加运算的次数，称为 FLOPs；卷积需要 Kh x Kw x C_in x C_out x H x W 次"
                     "（参数量 x H x W），全连接需要 C_in x C_out 次；计算量越大延迟越高，但并不严格成正比。",
            "method": "把公式与分析器在 ResNet-18 的三个卷积以及整个模型（224x224）上得到的 MACs 和 FLOPs 比较；"
                      "再在我们的引擎上对两个乘加次数相同、形状不同的卷积计时（56x56 上的 3x3 64->64 与 "
                      "1x1 576->64，快速模式用 28x28）。",
        },
    }

    def run(self, ctx: Context) -> Result:
        rows, errs = [], []
        for name, (ci, co, k, h) in CONVS.items():
            formula = k * k * ci * co * h * h
            rep = cost(nn.Conv2d(ci, co, k, stride=1, padding=k // 2, bias=False), (1, ci, h, h))
            errs.append(abs(formula - rep["macs"]) / rep["macs"])
            rows.append([name, formula, rep["macs"], 2 * rep["macs"] + rep["flops"]])
        r18 = cost(get_model("resnet18"), (1, 3, 224, 224))
        formula_total = sum(_seed_params(m) * h * h for m, h in self._conv_outputs(r18["report"]))
        fc = 512 * 1000
        rows.append(["resnet18 (all conv + fc)", formula_total + fc, r18["macs"], 2 * r18["macs"] + r18["flops"]])
        s = ctx.pick(28, 56)
        x = cp.tensor(ctx.rng.standard_normal((1, 64, s, s)).astype(np.float32))
        x9 = cp.tensor(ctx.rng.standard_normal((1, 576, s, s)).astype(np.float32))
        c3, c1 = nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.Conv2d(576, 64, 1, bias=False)
        macs3, macs1 = cost(c3, (1, 64, s, s))["macs"], cost(c1, (1, 576, s, s))["macs"]
        with cp.no_grad():
            t = time_interleaved({"3x3": lambda: c3(x), "1x1": lambda: c1(x9)}, repeat=ctx.pick(5, 15), warmup=1)
        ratio = max(t["3x3"], t["1x1"]) / min(t["3x3"], t["1x1"])
        rows.append([f"3x3 64->64 @{s} vs 1x1 576->64 @{s}", macs3, macs1, f"time ratio {ratio:.2f}"])
        return Result(
            figures={"conv_formula_vs_macs": Figure(max(errs), "relative"),
                     "resnet18_formula_vs_macs": Figure(abs(formula_total + fc - r18["macs"]) / r18["macs"],
                                                        "relative"),
                     "resnet18_gmacs": Figure(r18["macs"] / 1e9, "GMACs"),
                     "flops_per_mac": Figure((2 * r18["macs"] + r18["flops"]) / r18["macs"], "FLOPs/MAC"),
                     "equal_mac_time_ratio": Figure(ratio, "x"),
                     "equal_mac_check": Figure(abs(macs3 - macs1) / macs3, "relative")},
            tables=[Table("macs", ["layer", "seed formula", "analyzer MACs", "analyzer FLOPs"], rows,
                          {"en": "FLOPs = 2 x MACs + other operations (bias, BN, ReLU, pooling, adds).",
                           "zh": "FLOPs = 2 x MACs + 其他运算（偏置、BN、ReLU、池化、相加）。"})])

    @staticmethod
    def _conv_outputs(rep: Any) -> list[tuple[Any, int]]:
        out = []
        for call in rep.trace.calls:
            if isinstance(call.module, nn.Conv2d) and call.out_shape is not None:
                out.append((call.module, call.out_shape[-1]))
        return out

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        formula_ok = max(figures["conv_formula_vs_macs"], figures["resnet18_formula_vs_macs"]) <= thresholds["exact"]
        fpm, tr = figures["flops_per_mac"], figures["equal_mac_time_ratio"]
        en = (f"The formula reproduces the analyzer's multiply-accumulate count exactly (largest error "
              f"{fmt(figures['conv_formula_vs_macs'])} on the layers, {fmt(figures['resnet18_formula_vs_macs'])} on "
              f"ResNet-18, {fmt(figures['resnet18_gmacs'])} GMACs: torchvision's '1.8 GFLOPS' is this MAC count). "
              f"But a MAC is two floating-point operations: ResNet-18 has {fmt(fpm)} FLOPs per MAC (2 for the "
              f"multiply-add alone), so calling the count 'FLOPs' understates them about {fmt(fpm)}x. "
              f"Two convolutions with equal MACs ran {fmt(tr)}x apart: "
              + ("latency is not set by MACs alone" if tr >= thresholds["time_ratio"] else
                 "close this time, so the timing neither adds to nor takes from the seed's caveat")
              + f" (a ratio of {fmt(thresholds['time_ratio'])} counts).")
        zh = (f"该公式与分析器的乘加次数完全一致（各层最大误差 {fmt(figures['conv_formula_vs_macs'])}，ResNet-18 上 "
              f"{fmt(figures['resnet18_formula_vs_macs'])}，共 {fmt(figures['resnet18_gmacs'])} GMACs："
              f"torchvision 的“1.8 GFLOPS”就是这个乘加数）。但一次乘加是两次浮点运算：ResNet-18 每个 MAC 对应 "
              f"{fmt(fpm)} 个 FLOPs（仅乘加就是 2），所以把这个数叫作 FLOPs 约少算了 {fmt(fpm)} 倍。"
              f"乘加次数相同的两个卷积，运行时间相差 {fmt(tr)} 倍："
              + ("延迟不只由乘加数决定" if tr >= thresholds["time_ratio"]
                 else "这次相差不大，计时既不支持也不否定原文的保留说法")
              + f"（达到 {fmt(thresholds['time_ratio'])} 倍才算）。")
        return verdict_if(False, nuanced=formula_ok and fpm >= thresholds["flops_per_mac"]), evidence(en=en, zh=zh)
