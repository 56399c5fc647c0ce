"""Question 13: the classic kinds of convolution — a page with a live table.

Every member of the family is built as a real layer of our engine and analysed on the same 16-channel 32x32 input
by ``cvprimer.analysis``: output shape, parameters (bias included), multiply-accumulates and receptive field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cvprimer import nn
from cvprimer.lab._convnets import cost
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, fmt
from cvprimer.lab.plots import tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "MACs / standard": "MACs / 标准卷积",
    "relative to the standard 3x3 (log)": "相对标准 3x3 卷积（对数）",
    "Cost of each kind of convolution on a 16-channel 32x32 input": "各类卷积在 16 通道 32x32 输入上的成本",
    "asymmetric 3x1 + 1x3": "非对称 3x1 + 1x3",
    "depthwise 3x3 (g=16)": "深度 3x3（g=16）",
    "depthwise-separable": "深度可分离",
    "dilated 3x3, d=2": "空洞 3x3，d=2",
    "grouped 3x3, g=4": "分组 3x3，g=4",
    "pointwise 1x1": "逐点 1x1",
    "standard 3x3": "标准 3x3",
    "strided 3x3, s=2": "带步幅 3x3，s=2",
    "transposed 3x3, s=2": "转置 3x3，s=2",
    "valid 3x3 (no padding)": "valid 3x3（无填充）",
})

C_IN, C_OUT, HW = 16, 32, (32, 32)

FAMILY: dict[str, Callable[[], Any]] = {  # name -> a layer on a (1, 16, 32, 32) input
    "standard 3x3": lambda: nn.Conv2d(C_IN, C_OUT, 3, padding=1),
    "valid 3x3 (no padding)": lambda: nn.Conv2d(C_IN, C_OUT, 3),
    "strided 3x3, s=2": lambda: nn.Conv2d(C_IN, C_OUT, 3, stride=2, padding=1),
    "dilated 3x3, d=2": lambda: nn.Conv2d(C_IN, C_OUT, 3, padding=2, dilation=2),
    "grouped 3x3, g=4": lambda: nn.Conv2d(C_IN, C_OUT, 3, padding=1, groups=4),
    "depthwise 3x3 (g=16)": lambda: nn.Conv2d(C_IN, C_IN, 3, padding=1, groups=C_IN),
    "pointwise 1x1": lambda: nn.Conv2d(C_IN, C_OUT, 1),
    "depthwise-separable": lambda: nn.Sequential(nn.Conv2d(C_IN, C_IN, 3, padding=1, groups=C_IN),
                                                 nn.Conv2d(C_IN, C_OUT, 1)),
    "asymmetric 3x1 + 1x3": lambda: nn.Sequential(nn.Conv2d(C_IN, C_IN, (3, 1), padding=(1, 0)),
                                                  nn.Conv2d(C_IN, C_OUT, (1, 3), padding=(0, 1))),
    "transposed 3x3, s=2": lambda: nn.ConvTranspose2d(C_IN, C_OUT, 3, stride=2, padding=1, output_padding=1),
}

BODY_EN = """\
A convolution slides a small kernel over the image and, at each position, takes a weighted sum over a window of \
every input channel. The classic variants change one of four things: the window's spacing, how far it moves, which \
channels it mixes, or whether it shrinks or enlarges the map.

Padding decides the border: without it ("valid") a 3x3 kernel loses one pixel on each side; with one pixel of zeros \
("same") the map keeps its size. A stride of 2 moves the kernel two pixels at a time, halving each side of the map, so \
the MACs shrink with the number of output positions while the parameters stay. Dilation spreads the taps \
apart: a 3x3 kernel with d = 2 sees a 5x5 \
window with the same nine weights (question 3).

Grouped convolution splits the channels into g groups that never mix, dividing parameters and MACs by g (question \
45); depthwise convolution is the extreme g = C, one filter per channel. A pointwise (1x1) convolution mixes \
channels at each pixel and nothing else (question 17). A depthwise convolution followed by a pointwise one is the \
depthwise-separable convolution of MobileNet and Xception (question 14); its cost relative to the standard \
layer is measured in the table.

An asymmetric pair (3x1 then 1x3, as in Inception v3) covers the same 3x3 window with 6 instead of 9 taps per \
channel pair (its measured cost is in the table). A transposed \
convolution runs the data flow of a strided convolution backwards: it enlarges the map (learned upsampling, \
question 9), and each output pixel depends on at most 2x2 input pixels.

The table below is computed live by the analyzer on one 16-channel 32x32 input, with biases counted."""

BODY_ZH = """\
卷积是让一个小卷积核在图像上滑动，在每个位置对所有输入通道的一个窗口做加权求和。经典的变体只是改变了四件事之一：\
窗口内采样点的间距、每次移动的距离、混合哪些通道，或者是缩小还是放大特征图。

padding 决定边界的处理：不填充（valid）时 3x3 卷积核会让每边少一个像素；填充一圈零（same）时特征图尺寸不变。\
步长为 2 时卷积核每次移动两个像素，特征图每边减半，乘加次数随输出位置数减少，而参数量不变。空洞卷积把采样点拉开：\
扩张率为 2 的 3x3 卷积核用同样的九个权重看到 5x5 的窗口（见第 3 题）。

分组卷积把通道分成 g 组，组与组之间不混合，参数量和乘加次数都除以 g（见第 45 题）；深度卷积是 g 等于通道数的极端情况，\
每个通道一个滤波器。逐点（1x1）卷积只在每个像素上混合通道（见第 17 题）。深度卷积后接逐点卷积就是 MobileNet 和 \
Xception 使用的深度可分离卷积（见第 14 题），它相对标准卷积的代价由表中实测给出。

非对称卷积对（先 3x1 再 1x3，见 Inception v3）用每对通道 6 个而不是 9 个权重覆盖同样的 3x3 窗口\
（实测代价见表）。转置卷积把带步长卷积的数据流反过来走：它放大特征图（可学习的上采样，见第 9 题），\
每个输出像素最多依赖 2x2 个输入像素。

下表由分析器在同一个 16 通道、32x32 的输入上实时计算，参数量包含偏置。"""


class ConvFamily(Experiment):
    id = "q13-conv-family"
    questions = (13,)
    topic = "architecture"
    kind = "page"
    stochastic = False
    key_term = {"en": "depthwise-separable, grouped, dilated and transposed convolution",
                "zh": "深度可分离、分组、空洞与转置卷积"}
    answer = {"en": "Name each variant by what it changes: stride and padding set the output size, dilation "
                "spreads the taps, groups and depthwise layers limit which channels mix, 1x1 layers mix only "
                "channels. Factorized kernels (separable, asymmetric) cut the cost, and a transposed "
                "convolution enlarges the map.",
              "zh": "按改变了什么来介绍每种变体：步长和填充决定输出尺寸，空洞卷积拉开采样点，"
                "分组卷积和逐通道卷积限制哪些通道混合，1x1 卷积只混合通道。分解卷积核（可分离、非对称）"
                "降低计算量，转置卷积放大特征图。"}
    text = {
        "en": {
            "title": "The convolution family side by side",
            "claim": "Which classic kinds of convolution are there?",
            "method": "Build each kind of convolution as a real layer (16 input channels, 32 output channels where "
                      "the kind allows) and analyse it on the same 32x32 input: output shape, parameters, "
                      "multiply-accumulates and receptive field.",
            "body": BODY_EN,
        },
        "zh": {
            "title": "卷积家族一览",
            "claim": "经典的卷积类型有哪些？",
            "method": "把每种卷积都构造成真实的层（输入 16 通道，允许时输出 32 通道），在同一个 32x32 的输入上分析："
                      "输出形状、参数量、乘加次数和感受野。",
            "body": BODY_ZH,
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "params_{k}": {"en": "parameters, {k} conv", "zh": "参数量（{k}）"},
        "macs_{k}": {"en": "MACs, {k} conv", "zh": "乘加次数（{k}）"},
    }
    terms = {
        "standard": {"en": "standard", "zh": "标准卷积"},
        "valid": {"en": "valid (no padding)", "zh": "valid 卷积（无填充）"},
        "strided": {"en": "strided", "zh": "带步幅卷积"},
        "dilated": {"en": "dilated", "zh": "空洞卷积"},
        "grouped": {"en": "grouped", "zh": "分组卷积"},
        "depthwise": {"en": "depthwise", "zh": "深度卷积"},
        "pointwise": {"en": "pointwise", "zh": "逐点卷积"},
        "depthwise_separable": {"en": "depthwise separable", "zh": "深度可分离卷积"},
        "asymmetric": {"en": "asymmetric", "zh": "非对称卷积"},
        "transposed": {"en": "transposed", "zh": "转置卷积"},
    }

    def measure(self, ctx: Context) -> Result:
        rows, figs = [], {}
        base: dict[str, Any] = {}
        for name, make in FAMILY.items():
            c = cost(make(), (1, C_IN) + HW)
            out = c["report"].totals["output_shape"]
            rf = c["report"].totals["output_rf"].get("rf_size")
            base = base or c
            rows.append([name, "x".join(map(str, out[1:])), c["params"], c["macs"],
                         "-" if rf is None else f"{rf[0]:g}x{rf[1]:g}", c["params"] / base["params"],
                         c["macs"] / base["macs"]])
            key = name.split(" ")[0].replace("-", "_")
            figs[f"params_{key}"] = Figure(c["params"], "parameters")
            figs[f"macs_{key}"] = Figure(c["macs"], "MACs")
        r = {row[0]: (row[5], row[6]) for row in rows}
        sep, asym = r["depthwise-separable"], r["asymmetric 3x1 + 1x3"]
        stri, grp = r["strided 3x3, s=2"], r["grouped 3x3, g=4"]
        notes = {"en": f"Measured on this input: the depthwise-separable pair needs {fmt(sep[0])}x the standard "
                       f"layer's parameters and {fmt(sep[1])}x its MACs; the asymmetric 3x1 + 1x3 pair "
                       f"{fmt(asym[0])}x and {fmt(asym[1])}x; stride 2 keeps {fmt(stri[0])}x the parameters at "
                       f"{fmt(stri[1])}x the MACs; four groups give {fmt(grp[0])}x and {fmt(grp[1])}x.",
                 "zh": f"在这个输入上实测：深度可分离卷积对的参数量为标准卷积的 {fmt(sep[0])} 倍，乘加为 "
                       f"{fmt(sep[1])} 倍；非对称 3x1 + 1x3 卷积对为 {fmt(asym[0])} 倍和 {fmt(asym[1])} 倍；"
                       f"步长 2 时参数量为 {fmt(stri[0])} 倍，乘加为 {fmt(stri[1])} 倍；分为四组时为 "
                       f"{fmt(grp[0])} 倍和 {fmt(grp[1])} 倍。"}
        return Result(figures=figs, notes=notes, tables=[Table(
            "family", ["kind", "output (C x H x W)", "parameters", "MACs", "receptive field", "params / standard",
                       "MACs / standard"], rows,
            {"en": "Analyzer on a (1, 16, 32, 32) input; biases included; field in input pixels.",
             "zh": "分析器在 (1, 16, 32, 32) 输入上的结果；参数量含偏置；感受野以输入像素计。"})],
            series={"rows": rows})

    def draw(self, res: Result, ctx: Context) -> None:
        """Parameters and MACs of each kind relative to the standard 3x3 convolution, as bars."""
        rows: list[list[Any]] = res.series["rows"]
        fig, ax = ctx.figure(1, 1, size=(9, 4))
        x = np.arange(len(rows))
        ax.bar(x - 0.2, [r[5] for r in rows], 0.4, label="parameters / standard")
        ax.bar(x + 0.2, [r[6] for r in rows], 0.4, label="MACs / standard")
        ax.set_yscale("log")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_xticks(x, [r[0] for r in rows], rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("relative to the standard 3x3 (log)")
        ax.set_title("Cost of each kind of convolution on a 16-channel 32x32 input")
        ax.legend(fontsize=8)
        r = {row[0]: (row[5], row[6]) for row in rows}
        parts_en = ", ".join(f"{k} {fmt(p)}x / {fmt(m)}x" for k, (p, m) in r.items() if k != "standard 3x3")
        parts_zh = "，".join(f"{k} {fmt(p)} 倍 / {fmt(m)} 倍" for k, (p, m) in r.items() if k != "standard 3x3")
        ctx.save_figure(fig, "family_cost", "Bars of parameters and MACs relative to a standard 3x3 convolution "
                        f"(parameters / MACs): {parts_en}.",
                        f"各种卷积相对于标准 3x3 卷积的参数量与乘加次数柱状图（参数量 / 乘加）：{parts_zh}。")
