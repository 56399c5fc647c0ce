"""Question 21: ways to enlarge the receptive field, compared at a matched field.

Five 16-channel stacks on a 32x32 input reach a field of about 15 pixels by different means: a deeper stack of
3x3 convolutions, one large kernel, dilation (1, 2, 4), strided convolutions and pooling. For each: the field from
the analyzer and measured by autograd (non-zero input gradient of the centre unit), parameters, MACs (analyzer)
and the output resolution. The seed lists dilation, pooling and larger kernels; depth and strides are the other two.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cvprimer.lab._convnets import cost
from cvprimer.lab._fields import Spec, conv_stack, grad_map, positive_weights_, support_of
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

C, HW, TARGET = 16, (32, 32), 15

METHODS: dict[str, tuple[bool, list[Spec]]] = {  # name -> (named by the seed, layers)
    "deeper": (False, [("conv", 3, 1, 1, 1)] * 7),
    "large_kernel": (True, [("conv", 15, 1, 7, 1)]),
    "dilation": (True, [("conv", 3, 1, d, d) for d in (1, 2, 4)]),
    "strided": (False, [("conv", 3, 2, 1, 1), ("conv", 3, 2, 1, 1), ("conv", 3, 1, 1, 1)]),
    "pooling": (True, [("conv", 3, 1, 1, 1), ("avg", 2, 2, 0, 1), ("conv", 3, 1, 1, 1), ("avg", 2, 2, 0, 1),
                       ("conv", 3, 1, 1, 1)]),
}
LABELS = {"deeper": "7 x 3x3", "large_kernel": "one 15x15", "dilation": "3x3, d=1,2,4", "strided": "3x3 s2,s2,s1",
          "pooling": "3x3 + 2x2 pool x2"}
NAMES = {"deeper": ("a deeper stack", "加深网络"), "large_kernel": ("a larger kernel", "更大的卷积核"),
         "dilation": ("dilation", "空洞卷积"), "strided": ("strided convolutions", "带步长的卷积"),
         "pooling": ("pooling", "池化")}


class GrowField(Experiment):
    id = "q21-grow-rf"
    questions = (21,)
    topic = "architecture"
    stochastic = False
    thresholds = {"match_px": 3.0}
    text = {
        "en": {
            "title": "Five ways to enlarge the receptive field, and what each costs",
            "claim": "The receptive field can be enlarged with dilated convolution, with pooling, or with larger "
                     "convolution kernels.",
            "method": "Build five 16-channel stacks on a 32x32 input that all aim at a field of about 15 pixels: "
                      "seven 3x3 layers, one 15x15 layer, three 3x3 layers with dilation 1, 2, 4, three 3x3 layers "
                      "with strides 2, 2, 1, and three 3x3 layers with 2x2 average pooling between them. Read the "
                      "field from the analyzer, measure it by autograd, and compare parameters, MACs and output "
                      "resolution.",
        },
        "zh": {
            "title": "扩大感受野的五种办法及各自的代价",
            "claim": "扩大感受野的办法有：空洞卷积、池化，以及使用更大的卷积核。",
            "method": "在 32x32 输入上搭建五个 16 通道的网络，目标感受野都约为 15 像素：七层 3x3；一层 15x15；"
                      "扩张率为 1、2、4 的三层 3x3；步长为 2、2、1 的三层 3x3；以及中间插入 2x2 平均池化的三层 3x3。"
                      "从分析器读出感受野并用自动求导实测，再比较参数量、乘加次数（MACs）和输出分辨率。",
        },
    }

    def run(self, ctx: Context) -> Result:
        rng = np.random.default_rng(0)  # weight magnitudes only; the support does not depend on them
        rows, figs = [], {}
        for name, (in_seed, layers) in METHODS.items():
            m = positive_weights_(conv_stack(layers, channels=C, rng=rng), rng)
            c = cost(m, (1, C) + HW)
            measured = support_of(grad_map(m, HW, channels=C)).height
            out = c["report"].totals["output_shape"][-2:]
            figs[f"rf_{name}"] = Figure(measured, "px")
            figs[f"params_{name}"] = Figure(c["params"], "parameters")
            figs[f"macs_{name}"] = Figure(c["macs"], "MACs")
            figs[f"gap_{name}"] = Figure(abs(c["rf"] - measured), "px")
            rows.append([LABELS[name], "yes" if in_seed else "no", c["rf"], measured, c["params"], c["macs"],
                         f"{out[0]}x{out[1]}"])
        figs["analyzer_vs_autograd"] = Figure(max(figs.pop(f"gap_{n}").value for n in METHODS), "px")
        self._plot(ctx, rows)
        return Result(figures=figs, tables=[Table(
            "methods", ["stack", "in the seed", "analyzer field", "autograd field", "parameters", "MACs", "output"],
            rows, {"en": "16 channels, 32x32 input; field side in input pixels (centre unit).",
                   "zh": "16 通道、32x32 输入；感受野边长以输入像素计（中心单元）。"})])

    @staticmethod
    def _plot(ctx: Context, rows: list[list]) -> None:
        fig, axes = ctx.figure(1, 2, size=(10, 4))
        x = np.arange(len(rows))
        colors = ["tab:blue" if r[1] == "yes" else "tab:orange" for r in rows]
        for ax, col, ylabel in ((axes[0], 4, "parameters"), (axes[1], 5, "MACs (analyzer)")):
            ax.bar(x, [r[col] for r in rows], color=colors)
            ax.set_yscale("log")
            ax.set_xticks(x, [f"{r[0]}\nfield {r[3]:g}, out {r[6]}" for r in rows], fontsize=7, rotation=20)
            ax.set_ylabel(ylabel)
        axes[0].set_title("Parameters (blue: named by the seed, orange: missing)", fontsize=9)
        axes[1].set_title("Multiply-accumulates at a 32x32 input", fontsize=9)
        ctx.save_figure(fig, "cost_at_matched_field", "Two log-scale bar charts of parameters and MACs for five "
                        "stacks with a field of 15 to 18 pixels: the 15x15 kernel costs the most parameters and "
                        "MACs, dilation keeps full resolution at few parameters, and "
                        "strided convolutions and pooling are cheapest in MACs but shrink the output.",
                        "两张对数坐标柱状图，比较感受野为 15 到 18 像素的五种网络的参数量和乘加次数：15x15 大卷积核"
                        "的参数和乘加都最多，空洞卷积以很少的参数保持全分辨率，步长卷积和池化乘加最少，"
                        "但输出变小。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol = thresholds["match_px"]
        reach = {n: figures[f"rf_{n}"] >= TARGET - tol for n in METHODS}
        seed_ok = all(reach[n] for n, (s, _) in METHODS.items() if s)
        extra = [n for n, (s, _) in METHODS.items() if not s and reach[n]]
        fields = ", ".join(f"{LABELS[n]} {fmt(figures[f'rf_{n}'])} px" for n in METHODS)
        extra_en = " and ".join(f"{NAMES[n][0]} ({LABELS[n]})" for n in extra) or "none"
        extra_zh = "和".join(f"{NAMES[n][1]}（{LABELS[n]}）" for n in extra) or "无"
        lo = min(METHODS, key=lambda n: figures[f"macs_{n}"])
        hi = max(METHODS, key=lambda n: figures[f"macs_{n}"])
        mp = {n: fmt(figures[f"params_{n}"]) for n in METHODS}
        mm = {n: fmt(figures[f"macs_{n}"]) for n in METHODS}
        en = (f"Measured fields: {fields} (target {TARGET} px, reached if within {fmt(tol)} px; the analyzer agrees "
              f"within {fmt(figures['analyzer_vs_autograd'])} px). The seed's three methods "
              f"{'all work' if seed_ok else 'do not all work'}, but its list misses methods that also reach the "
              f"target: {extra_en}. Costs differ widely: a 15x15 kernel needs {mp['large_kernel']} parameters, "
              f"dilation {mp['dilation']}, seven 3x3 layers {mp['deeper']}; MACs range from {mm[lo]} "
              f"({NAMES[lo][0]}) to {mm[hi]} ({NAMES[hi][0]}).")
        works = "都有效" if seed_ok else "并非都有效"
        fields_zh = fields.replace(" px", " 像素")
        zh = (f"实测感受野：{fields_zh}（目标 {TARGET} 像素，相差不超过 {fmt(tol)} 像素即算达到；分析器与实测相差 "
              f"{fmt(figures['analyzer_vs_autograd'])} 像素）。原文列出的三种办法{works}，"
              f"但漏掉了同样能达到目标的办法：{extra_zh}。代价差别很大：15x15 卷积核需要 {mp['large_kernel']} 个参数，"
              f"空洞卷积 {mp['dilation']} 个，七层 3x3 {mp['deeper']} 个；乘加次数从 {mm[lo]}（{NAMES[lo][1]}）"
              f"到 {mm[hi]}（{NAMES[hi][1]}）不等。")
        return verdict_if(seed_ok and not extra, nuanced=seed_ok), evidence(en=en, zh=zh)
