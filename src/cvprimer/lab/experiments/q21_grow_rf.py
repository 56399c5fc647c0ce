"""Question 21: ways to enlarge the receptive field.

The seed names three: dilated kernels, pooling and bigger kernels. Each is built as a 16-channel stack on a
32x32 input and compared with the plain stack of 3x3 convolutions it modifies (the same number of convolution
layers, no dilation, no pooling, 3x3 kernels): three 3x3 layers with dilation 1, 2, 4 against three plain 3x3
layers; three 3x3 layers with 2x2 average pooling after the first two against three plain 3x3 layers; one 15x15
layer against one 3x3 layer. The field of the centre output unit is measured by autograd (the input pixels whose
gradient is non-zero, on a stack with positive weights and an input of ones) and read from the analyzer.

Beyond the seed: two further ways (a deeper stack of 3x3 layers, strided convolutions), and the parameters, MACs
and output resolution of every stack. They are shown apart and never enter the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cvprimer.lab._convnets import cost
from cvprimer.lab._fields import Spec, conv_stack, grad_map, positive_weights_, support_of
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr, tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "Parameters (blue: named by the seed, orange: added by the lab)": "参数量（蓝：原文提到的，橙：实验室补充的）",
    "Multiply-accumulates at a 32x32 input": "32x32 输入下的乘加次数",
    "MACs (analyzer)": "MACs（分析器）",
})

C, HW = 16, (32, 32)
PLAIN3: list[Spec] = [("conv", 3, 1, 1, 1)] * 3
# the seed's methods: name -> (the stack with the method, the plain stack it modifies)
SEED: dict[str, tuple[list[Spec], list[Spec]]] = {
    "dilation": ([("conv", 3, 1, d, d) for d in (1, 2, 4)], PLAIN3),
    "pooling": ([("conv", 3, 1, 1, 1), ("avg", 2, 2, 0, 1), ("conv", 3, 1, 1, 1), ("avg", 2, 2, 0, 1),
                 ("conv", 3, 1, 1, 1)], PLAIN3),
    "large_kernel": ([("conv", 15, 1, 7, 1)], [("conv", 3, 1, 1, 1)]),
}
# beyond the seed: other ways the lab adds (never decide the verdict)
EXTRA: dict[str, list[Spec]] = {
    "deeper": [("conv", 3, 1, 1, 1)] * 7,
    "strided": [("conv", 3, 2, 1, 1), ("conv", 3, 2, 1, 1), ("conv", 3, 1, 1, 1)],
}
LABELS = {"dilation": "3x3, d=1,2,4", "pooling": "3x3 + 2x2 avg pool x2", "large_kernel": "one 15x15",
          "deeper": "7 x 3x3", "strided": "3x3 s2,s2,s1"}
BASE_LABELS = {"dilation": "3 x 3x3", "pooling": "3 x 3x3", "large_kernel": "one 3x3"}
NAMES = {"deeper": ("a deeper stack", "加深网络"), "large_kernel": ("a larger kernel", "更大的卷积核"),
         "dilation": ("dilation", "空洞卷积"), "strided": ("strided convolutions", "带步长的卷积"),
         "pooling": ("pooling", "池化")}


def field_rule(specs: list[Spec]) -> int:
    """The receptive field (side, px) of a stack by the closed form ``1 + sum (d (k - 1)) * prod(strides before)``."""
    rf, jump = 1, 1
    for _, k, s, _, d in specs:
        rf += d * (k - 1) * jump
        jump *= s
    return rf


class GrowField(Experiment):
    id = "q21-grow-rf"
    questions = (21,)
    topic = "architecture"
    stochastic = False
    thresholds = {"min_gain_px": 1.0}
    reasons = {"min_gain_px": {
        "en": "The field is a whole number of input pixels and the seed claims only that it grows: any gain of "
              "one pixel or more over the plain stack counts (the measurement is exact, with no noise).",
        "zh": "感受野是整数个输入像素，原文只说它会变大：比普通堆叠大至少 1 个像素即算（该测量是精确的，没有噪声）。"}}
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "receptive field growth", "zh": "感受野的扩大"}
    key_figure = "rf_dilation"
    answer = {
        "confirmed": {
            "en": "Yes: each of the three widens the field: dilation {rf_dilation} px against "
                  "{rf_base_dilation} px for plain 3x3 layers, pooling {rf_pooling} px, one larger kernel "
                  "{rf_large_kernel} px.",
            "zh": "是的：三种方法都扩大了感受野：空洞卷积 {rf_dilation} 像素（"
                  "普通 3x3 层为 {rf_base_dilation} 像素），池化 {rf_pooling} 像素，"
                  "一个大卷积核 {rf_large_kernel} 像素。"},
        "nuanced": {
            "en": "Only some of the three widened the field here (dilation {rf_dilation} px against "
                  "{rf_base_dilation} px); say which ones and why.",
            "zh": "这里只有部分方法扩大了感受野（空洞卷积 {rf_dilation} 像素，对照 {rf_base_dilation} 像素）；"
                  "回答时说明是哪些以及原因。"},
        "refuted": {
            "en": "None of the three widened the field here (dilation {rf_dilation} px against "
                  "{rf_base_dilation} px).",
            "zh": "这里三种方法都没有扩大感受野（空洞卷积 {rf_dilation} 像素，对照 {rf_base_dilation} 像素）。"},
    }
    text = {
        "en": {
            "title": "How can the receptive field be enlarged?",
            "claim": "Dilated convolution, pooling and larger kernels each make the receptive field bigger.",
            "method": "Build each named method as a 16-channel stack on a 32x32 input and the plain stack of 3x3 "
                      "convolutions it modifies: three 3x3 layers with dilation 1, 2, 4 against three plain 3x3 "
                      "layers; three 3x3 layers with 2x2 average pooling after the first two against three plain "
                      "3x3 layers; one 15x15 layer against one 3x3 layer. Measure the field of the centre output "
                      "unit by autograd (the input pixels with a non-zero gradient) and read it from the analyzer. "
                      "A method counts when its field exceeds the plain stack's by at least the threshold.",
            "beyond": "Two further ways to enlarge the field (a deeper stack of seven 3x3 layers and strided "
                      "convolutions) and the parameters, MACs and output resolution of every stack, so the "
                      "methods can be compared at their cost.",
        },
        "zh": {
            "title": "怎样扩大感受野？",
            "claim": "空洞卷积、池化和更大的卷积核，每一种都能让感受野变大。",
            "method": "把每种方法搭成 32x32 输入上的 16 通道网络，并与它所修改的普通 3x3 卷积堆叠对比："
                      "扩张率为 1、2、4 的三层 3x3 对比三层普通 3x3；前两层后各接 2x2 平均池化的三层 3x3 "
                      "对比三层普通 3x3；一层 15x15 对比一层 3x3。用自动求导测量中心输出单元的感受野"
                      "（梯度非零的输入像素），并从分析器读出。感受野比普通堆叠至少大出阈值才算有效。",
            "beyond": "另外两种扩大感受野的办法（七层 3x3 的更深堆叠、带步长的卷积），以及每个网络的参数量、"
                      "乘加次数和输出分辨率，以便按代价比较各种办法。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "rf_{m}": {"en": "receptive field, {m}", "zh": "感受野（{m}）"},
        "params_{m}": {"en": "parameters, {m}", "zh": "参数量（{m}）"},
        "macs_{m}": {"en": "MACs, {m}", "zh": "乘加次数（{m}）"},
        "analyzer_vs_autograd": {"en": "largest analyzer - autograd field difference",
                                 "zh": "分析器与自动求导感受野的最大差"},
    }
    terms = {
        "dilation": {"en": "dilation", "zh": "空洞卷积"},
        "pooling": {"en": "pooling", "zh": "池化"},
        "large_kernel": {"en": "large kernel", "zh": "大卷积核"},
        "deeper": {"en": "more layers", "zh": "加深"},
        "strided": {"en": "strided conv", "zh": "带步幅卷积"},
    }

    def measure(self, ctx: Context) -> Result:
        rng = np.random.default_rng(0)  # weight magnitudes only; the support does not depend on them

        done: dict[str, tuple[int, dict]] = {}

        def field_and_cost(layers: list[Spec]) -> tuple[int, dict]:
            key = repr(layers)  # the two seed methods on three 3x3 layers share their plain stack
            if key not in done:
                m = positive_weights_(conv_stack(layers, channels=C, rng=rng), rng)
                done[key] = support_of(grad_map(m, HW, channels=C)).height, cost(m, (1, C) + HW)
            return done[key]

        figs: dict[str, Figure] = {}
        beyond: dict[str, Figure] = {}
        rows, brows, gap = [], [], 0.0
        stacks = {n: s for n, (s, _) in SEED.items()} | EXTRA
        for name, layers in stacks.items():
            rf, c = field_and_cost(layers)
            gap = max(gap, abs(c["rf"] - rf))
            out = c["report"].totals["output_shape"][-2:]
            if name in SEED:
                base_rf, cb = field_and_cost(SEED[name][1])
                gap = max(gap, abs(cb["rf"] - base_rf))
                figs[f"rf_{name}"] = Figure(rf, "px", {"en": f"field of {LABELS[name]}",
                                                       "zh": f"{LABELS[name]} 的感受野"})
                figs[f"rf_base_{name}"] = Figure(base_rf, "px", {"en": f"field of the plain {BASE_LABELS[name]}",
                                                                 "zh": f"普通 {BASE_LABELS[name]} 的感受野"})
                rows.append([LABELS[name], rf, BASE_LABELS[name], base_rf, rf - base_rf])
            else:
                beyond[f"rf_{name}"] = Figure(rf, "px")
            beyond[f"params_{name}"] = Figure(c["params"], "parameters")
            beyond[f"macs_{name}"] = Figure(c["macs"], "MACs")
            brows.append([LABELS[name], "yes" if name in SEED else "no", rf, c["params"], c["macs"],
                          f"{out[0]}x{out[1]}"])
        beyond["analyzer_vs_autograd"] = Figure(gap, "px")
        return Result(
            figures=figs,
            tables=[Table("seed_methods", ["stack", "field (px)", "plain stack", "its field (px)", "gain (px)"], rows,
                          {"en": "16 channels, 32x32 input; field side in input pixels of the centre unit, by "
                                 "autograd.",
                           "zh": "16 通道、32x32 输入；中心单元感受野边长（输入像素），由自动求导测得。"})],
            beyond=beyond,
            beyond_tables=[Table("cost", ["stack", "named by the seed", "field (px)", "parameters", "MACs",
                                          "output"], brows,
                                 {"en": "Every stack, the seed's and the lab's extra ones, with its cost (analyzer).",
                                  "zh": "所有网络（原文的与本实验另加的）及其代价（分析器统计）。"})])

    def draw(self, res: Result, ctx: Context) -> None:
        rows = next(t for t in res.beyond_tables if t.name == "cost").rows  # one row per stack, as measured
        fig, axes = ctx.figure(1, 2, size=(10, 4))
        x = np.arange(len(rows))
        colors = ["tab:blue" if r[1] == "yes" else "tab:orange" for r in rows]
        for ax, col, ylabel in ((axes[0], 3, "parameters"), (axes[1], 4, "MACs (analyzer)")):
            ax.bar(x, [r[col] for r in rows], color=colors)
            ax.set_yscale("log")
            ax.set_xticks(x, [tr(f"{r[0]}\nfield {r[2]:g}, out {r[5]}", f"{r[0]}\n感受野 {r[2]:g}，输出 {r[5]}")
                              for r in rows], fontsize=7, rotation=20)
            ax.set_ylabel(ylabel)
        axes[0].set_title("Parameters (blue: named by the seed, orange: added by the lab)", fontsize=9)
        axes[1].set_title("Multiply-accumulates at a 32x32 input", fontsize=9)
        fields = ", ".join(f"{r[0]} {r[2]:g} px" for r in rows)
        ctx.save_figure(fig, "cost_by_method", f"Two log-scale bar charts of the parameters and MACs of five stacks "
                        f"whose measured fields are: {fields}.",
                        f"两张对数坐标柱状图，比较五个网络的参数量和乘加次数；实测感受野：{fields}。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol = thresholds["min_gain_px"]
        gain = {n: figures[f"rf_{n}"] - figures[f"rf_base_{n}"] for n in SEED}
        grows = [n for n in SEED if gain[n] >= tol]
        fails = [n for n in SEED if n not in grows]
        each_en = "; ".join(f"{NAMES[n][0]} ({LABELS[n]}) {fmt(figures[f'rf_{n}'])} px against "
                            f"{fmt(figures[f'rf_base_{n}'])} px for the plain {BASE_LABELS[n]}" for n in SEED)
        each_zh = "；".join(f"{NAMES[n][1]}（{LABELS[n]}）{fmt(figures[f'rf_{n}'])} 像素，普通 {BASE_LABELS[n]} 为 "
                           f"{fmt(figures[f'rf_base_{n}'])} 像素" for n in SEED)
        en = f"Measured fields: {each_en} (a method counts when it gains at least {fmt(tol)} px)."
        zh = f"实测感受野：{each_zh}（比普通堆叠至少大 {fmt(tol)} 像素才算有效）。"
        if not fails:
            en += " All three methods enlarge the field."
            zh += "三种办法都扩大了感受野。"
        elif grows:
            en += (f" {', '.join(NAMES[n][0] for n in grows).capitalize()} enlarge(s) the field; "
                   f"{', '.join(NAMES[n][0] for n in fails)} do(es) not.")
            zh += f"{'、'.join(NAMES[n][1] for n in grows)}扩大了感受野；{'、'.join(NAMES[n][1] for n in fails)}没有。"
        else:
            en += " None of the three enlarges the field."
            zh += "三种办法都没有扩大感受野。"
        return verdict_if(not fails, nuanced=bool(grows)), evidence(en=en, zh=zh)
