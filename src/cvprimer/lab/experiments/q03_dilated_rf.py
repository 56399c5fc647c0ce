"""Question 3: dilated convolution — receptive field of one layer and of stacks, size kept, gridding.

For single 3x3 layers with dilation d = 1, 2, 3 and for stacks (d = 1, 2, 4 and d = 2, 2, 2) the receptive field
is computed by the analyzer (``cvprimer.analysis``) and measured exactly by autograd (the input pixels whose
gradient of one output unit is non-zero); also the fraction of the field's square that is really read (holes,
the "gridding" of repeating one dilation) and whether ``padding = d`` keeps the feature-map size.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import cvprimer as cp
from cvprimer.lab._convnets import cost
from cvprimer.lab._fields import conv_stack, grad_map, positive_weights_, support_of
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

SEED_SINGLE = {1: 3, 2: 5, 3: 8}  # the seed's single-layer fields for d = 1, 2, 3
STACKS = {"d=1,2,4": (1, 2, 4), "d=2,2,2": (2, 2, 2), "d=1,1,1": (1, 1, 1)}


class DilatedField(Experiment):
    id = "q03-dilated-rf"
    questions = (3,)
    topic = "architecture"
    stochastic = False
    thresholds = {"tol_px": 0.5, "dense_fill": 0.99}
    text = {
        "en": {
            "title": "Dilated convolution: how large is the field, really?",
            "claim": "Spreading a kernel's taps apart (dilation) enlarges the receptive field while the feature map "
                     "keeps its size, so it can stand in for down- and upsampling; a 3x3 kernel sees 3 pixels with "
                     "dilation 1, 5 with dilation 2 and 8 with dilation 3.",
            "method": "Build single 3x3 convolutions with dilation 1, 2, 3 (padding = dilation) and three-layer "
                      "stacks with dilations 1,2,4, 2,2,2 and 1,1,1 on a 33x33 input. For each, read the field from "
                      "the analyzer and measure it by autograd: the box of input pixels where the gradient of the "
                      "centre output unit is non-zero, and which share of that box is actually read.",
        },
        "zh": {
            "title": "空洞卷积：感受野到底有多大？",
            "claim": "把卷积核的采样点拉开（空洞/扩张）能扩大感受野，同时特征图尺寸不变，因此可以代替下采样和上采样；"
                     "3x3 卷积核在扩张率 1、2、3 时的感受野分别是 3、5、8。",
            "method": "在 33x33 的输入上构造扩张率为 1、2、3 的单层 3x3 卷积（padding 等于扩张率），以及扩张率为 "
                      "1,2,4、2,2,2 和 1,1,1 的三层堆叠。对每一种，从分析器读出感受野，并用自动求导实测："
                      "中心输出单元的梯度不为零的输入像素所构成的方框，以及方框中真正被读取的像素比例。",
        },
    }

    def run(self, ctx: Context) -> Result:
        hw = (33, 33)
        rng = np.random.default_rng(0)  # weights only set magnitudes; the support does not depend on them
        rows, figs, maps = [], {}, {}
        worst_gap = 0.0
        for d in (1, 2, 3):
            m = positive_weights_(conv_stack([("conv", 3, 1, d, d)], rng=rng), rng)
            c = cost(m, (1, 1) + hw)
            g = grad_map(m, hw)
            s = support_of(g)
            out_hw = tuple(m(cp.tensor(np.ones((1, 1) + hw))).shape[-2:])
            worst_gap = max(worst_gap, abs(c["rf"] - s.height))
            figs[f"rf_single_d{d}"] = Figure(s.height, "px")
            figs[f"same_size_d{d}"] = Figure(float(out_hw == hw), "bool")
            rows.append([f"3x3, d={d}", SEED_SINGLE[d], c["rf"], s.height, s.count, s.fill, f"{out_hw[0]}x{out_hw[1]}"])
            maps[f"single 3x3, d={d}"] = g
        for name, ds in STACKS.items():
            m = positive_weights_(conv_stack([("conv", 3, 1, d, d) for d in ds], rng=rng), rng)
            c = cost(m, (1, 1) + hw)
            g = grad_map(m, hw)
            s = support_of(g)
            worst_gap = max(worst_gap, abs(c["rf"] - s.height))
            key = name.replace("d=", "").replace(",", "")
            figs[f"rf_stack_{key}"] = Figure(s.height, "px")
            figs[f"fill_stack_{key}"] = Figure(s.fill, "fraction")
            rows.append([f"stack {name}", "-", c["rf"], s.height, s.count, s.fill, f"{hw[0]}x{hw[1]}"])
            maps[f"stack {name}"] = g
        figs["analyzer_vs_autograd"] = Figure(worst_gap, "px")
        self._plot(ctx, maps)
        return Result(figures=figs, tables=[Table(
            "fields", ["layers", "seed", "analyzer field", "autograd field", "pixels read", "fill", "output size"],
            rows, {"en": "Field side in pixels for the centre unit of a 33x33 input; fill = pixels read / side^2.",
                   "zh": "33x33 输入上中心单元的感受野边长（像素）；fill = 实际读取的像素数 / 边长的平方。"})])

    @staticmethod
    def _plot(ctx: Context, maps: dict[str, np.ndarray]) -> None:
        fig, axes = ctx.figure(2, 3, size=(10, 6.6))
        for ax, (name, g) in zip(np.ravel(axes), maps.items(), strict=True):
            s = support_of(g)
            crop = g[8:25, 8:25]
            ax.imshow(np.where(crop > 0, np.log10(crop + 1e-300), np.nan), cmap="viridis")
            ax.set_title(f"{name}: field {s.height}, fill {s.fill:.2f}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle("Input pixels the centre unit depends on (log |gradient|, blank = 0), central 17x17 crop")
        ctx.save_figure(fig, "dilated_fields",
                        "Six gradient maps: single 3x3 layers with dilation 1, 2, 3 read 9 pixels spread over 3, 5, "
                        "7 pixels; the stack 1,2,4 fills a 15x15 square; the stack 2,2,2 reaches 13 pixels but reads "
                        "only a checkerboard of them (gridding); 1,1,1 fills 7x7.",
                        "六张梯度图：扩张率 1、2、3 的单层 3x3 卷积都只读取 9 个像素，分布在 3、5、7 像素宽的范围内；"
                        "1,2,4 的堆叠填满 15x15 的方框；2,2,2 的堆叠覆盖 13 像素，但只读取其中棋盘状的一部分"
                        "（网格效应）；1,1,1 填满 7x7。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol, dense = thresholds["tol_px"], thresholds["dense_fill"]
        got = {d: figures[f"rf_single_d{d}"] for d in (1, 2, 3)}
        right = [d for d in (1, 2, 3) if abs(got[d] - SEED_SINGLE[d]) <= tol]
        wrong = [d for d in (1, 2, 3) if d not in right]
        size_kept = all(figures[f"same_size_d{d}"] >= 1 for d in (1, 2, 3))
        fill_124, fill_222 = figures["fill_stack_124"], figures["fill_stack_222"]
        gridding = fill_222 < dense <= fill_124
        wrong_en = ", ".join(f"d={d}: {fmt(got[d])} px, not {SEED_SINGLE[d]}" for d in wrong) or "none"
        wrong_zh = "，".join(f"d={d} 时为 {fmt(got[d])} 像素而非 {SEED_SINGLE[d]}" for d in wrong) or "无"
        en = (f"Measured by autograd, one 3x3 layer sees {fmt(got[1])}, {fmt(got[2])} and {fmt(got[3])} pixels for "
              f"d = 1, 2, 3 (d(k-1)+1; the analyzer agrees within {fmt(figures['analyzer_vs_autograd'])} px); "
              f"seed values off by more than {fmt(tol)} px: {wrong_en}. The output keeps the input size with padding "
              f"= d ({'yes' if size_kept else 'no'}). The seed's larger fields come from stacking: d = 1,2,4 reaches "
              f"{fmt(figures['rf_stack_124'])} px with fill {fmt(fill_124)}, while repeating d = 2,2,2 reaches "
              f"{fmt(figures['rf_stack_222'])} px but reads only {fmt(fill_222)} of that square (gridding; dense "
              f"means fill >= {fmt(dense)}: {'shown' if gridding else 'not shown'}).")
        zh = (f"自动求导实测：单层 3x3 卷积在 d = 1、2、3 时分别看到 {fmt(got[1])}、{fmt(got[2])}、{fmt(got[3])} 个像素"
              f"（即 d(k-1)+1；分析器与之相差 {fmt(figures['analyzer_vs_autograd'])} 像素）；与原文相差超过 "
              f"{fmt(tol)} 像素的：{wrong_zh}。padding = d 时输出尺寸与输入相同（{'是' if size_kept else '否'}）。"
              f"原文更大的感受野来自堆叠：d = 1,2,4 达到 {fmt(figures['rf_stack_124'])} 像素，填充率 {fmt(fill_124)}；"
              f"重复 d = 2,2,2 达到 {fmt(figures['rf_stack_222'])} 像素，却只读取该方框的 {fmt(fill_222)}"
              f"（网格效应；填充率 >= {fmt(dense)} 算稠密：{'出现' if gridding else '未出现'}）。")
        ok_rest = size_kept and figures["analyzer_vs_autograd"] <= tol
        return verdict_if(not wrong and ok_rest, nuanced=ok_rest and len(right) >= 2), evidence(en=en, zh=zh)
