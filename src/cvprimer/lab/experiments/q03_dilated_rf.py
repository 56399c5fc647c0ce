"""Question 3: dilated convolution — the receptive field of one layer, the feature-map size, and (beyond the seed)
stacks of dilated layers and their gridding.

For single 3x3 layers with dilation d = 1, 2, 3 (d = 1 is the ordinary kernel) the receptive field is measured
exactly by autograd (the box of input pixels whose gradient of the centre output unit is non-zero) and compared
with the fields the seed quotes; the output size with ``padding = d`` is checked against the input size. Beyond the
seed: the analyzer's field (``cvprimer.analysis``) beside autograd's, and three-layer stacks (d = 1,2,4, 2,2,2 and
1,1,1) with the share of their field's square that is really read (holes, the "gridding" of repeating one dilation).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import cvprimer as cp
from cvprimer.lab._convnets import cost
from cvprimer.lab._fields import conv_stack, grad_map, positive_weights_, support_of
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
from cvprimer.lab.plots import tr, tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "Input pixels the centre unit depends on (log |gradient|, blank = 0), central 17x17 crop":
        "中心单元依赖的输入像素（log |梯度|，空白 = 0），中央 17x17 区域",
})

SEED_SINGLE = {1: 3, 2: 5, 3: 8}  # the fields the seed quotes for one 3x3 layer with d = 1, 2, 3
STACKS = {"d=1,2,4": (1, 2, 4), "d=2,2,2": (2, 2, 2), "d=1,1,1": (1, 1, 1)}
HW = (33, 33)


class DilatedField(Experiment):
    id = "q03-dilated-rf"
    questions = (3,)
    topic = "architecture"
    stochastic = False
    thresholds = {"tol_px": 0.5}
    reasons = {
        "tol_px": {"en": "Theory: a receptive field is a whole number of pixels, so any real disagreement is at "
                         "least 1 px; half a pixel separates equal from different.",
                   "zh": "理论：感受野是整数个像素，真正的差别至少 1 像素；取半个像素区分相等与不等。"},
    }
    reachable = (CONFIRMED, NUANCED, REFUTED)
    key_term = {"en": "hybrid dilated convolution (the gridding effect)", "zh": "混合空洞卷积（网格效应）"}
    key_figure = "rf_single_d3"
    answer = {
        "confirmed": {
            "en": "A 3x3 kernel with dilation d covers 2d + 1 pixels per side ({rf_single_d3} px at d = 3) "
                  "while the map keeps its size, so dilation widens the field without any downsampling.",
            "zh": "膨胀率为 d 的 3x3 卷积核每边覆盖 2d + 1 个像素（d = 3 时为 {rf_single_d3} 像素），"
                  "特征图尺寸不变，所以空洞卷积无需下采样就能扩大感受野。"},
        "nuanced": {
            "en": "Dilation does widen the field while the map keeps its size, but one dilated 3x3 layer sees "
                  "2d + 1 pixels, so some quoted sizes are off: measured {rf_single_d1}, {rf_single_d2} and "
                  "{rf_single_d3} px for d = 1, 2, 3. The often quoted 3, 7 and 15 are fields of stacked "
                  "layers with d = 1, 2, 4, and mixing rates (1, 2, 5) avoids the holes left by repeating one "
                  "rate.",
            "zh": "空洞卷积确实在特征图尺寸不变的情况下扩大了感受野，但单个 3x3 空洞卷积层看到的是 2d + 1 个像"
                  "素，所以部分引用的数值不对：d = 1、2、3 时测得 {rf_single_d1}、{rf_single_d2}、"
                  "{rf_single_d3} 像素。常见的 3、7、15 是 d = 1、2、4 逐层堆叠后的感受野，交替使用不同膨胀率（"
                  "1、2、5）可以避免重复同一膨胀率留下的空洞。"},
        "refuted": {
            "en": "The quoted fields do not hold: one dilated 3x3 layer measured {rf_single_d3} px at d = 3 "
                  "(the rule is 2d + 1 per side), or the map did not keep its size.",
            "zh": "所给的感受野数值不成立：单个 3x3 空洞卷积层在 d = 3 时测得 {rf_single_d3} 像素（"
                  "规律是每边 2d + 1），或者特征图尺寸发生了变化。"},
    }
    text = {
        "en": {
            "title": "What does a dilated convolution achieve?",
            "claim": "Spacing a kernel's taps apart (dilation) widens the receptive field while the feature map "
                     "keeps its size, so it can stand in for a downsample-then-upsample path; the seed gives fields "
                     "of 3, 5 and 8 pixels for a 3x3 kernel with dilation 1, 2 and 3, the ordinary kernel being the "
                     "dilation-1 case.",
            "method": "Build single 3x3 convolutions with dilation 1, 2 and 3 (padding = dilation; dilation 1 is the "
                      "ordinary kernel) on a 33x33 input with positive weights and an input of ones, and measure by "
                      "autograd the box of input pixels where the gradient of the centre output unit is non-zero, "
                      "and the output size. Each quoted field is compared with the measured one; the claim holds "
                      "for a dilation when the output keeps the input size, the field is wider than at the next "
                      "smaller dilation, and the quoted value matches.",
            "beyond": "The analyzer's field beside autograd's, and three-layer stacks with dilations 1,2,4, 2,2,2 and "
                      "1,1,1: the field they reach and the share of its square they really read (gridding).",
        },
        "zh": {
            "title": "空洞卷积有什么作用？",
            "claim": "把卷积核的采样点拉开（扩张/空洞）能在特征图尺寸不变的情况下扩大感受野，因而可以代替先下采样"
                     "再上采样的做法；原文给出 3x3 卷积核在扩张率 1、2、3 时的感受野为 3、5、8 像素，"
                     "普通卷积就是扩张率为 1 的特例。",
            "method": "在 33x33 的输入上构造扩张率为 1、2、3 的单层 3x3 卷积（padding 等于扩张率；扩张率 1 即普通"
                      "卷积），权重取正、输入全为 1，用自动求导测量中心输出单元的梯度不为零的输入像素方框，"
                      "并记录输出尺寸。逐个把原文给出的感受野与实测值比较：某个扩张率下，输出保持输入尺寸、"
                      "感受野大于上一个较小扩张率的感受野、且原文数值与实测一致，才算该说法在此成立。",
            "beyond": "分析器给出的感受野与自动求导的对照；以及扩张率为 1,2,4、2,2,2 和 1,1,1 的三层堆叠："
                      "它们达到的感受野，以及方框中真正被读取的像素比例（网格效应）。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "rf_single_d{d}": {"en": "receptive field of one 3x3 conv, dilation {d}",
                           "zh": "单个 3x3 卷积的感受野（空洞率 {d}）"},
        "same_size_d{d}": {"en": "output keeps the input size, dilation {d}", "zh": "输出保持输入尺寸（空洞率 {d}）"},
        "pixels_read_d{d}": {"en": "pixels read by one output, dilation {d}", "zh": "一个输出读取的像素（空洞率 {d}）"},
        "rf_stack_{r}": {"en": "receptive field of the stack with dilations {r}", "zh": "空洞率 {r} 堆叠的感受野"},
        "fill_stack_{r}": {"en": "share of the field actually read, dilations {r}",
                           "zh": "感受野中真正被读取的比例（空洞率 {r}）"},
        "analyzer_vs_autograd": {"en": "largest analyzer - autograd field difference",
                                 "zh": "分析器与自动求导感受野的最大差"},
    }

    def measure(self, ctx: Context) -> Result:
        rng = np.random.default_rng(0)  # weights only set magnitudes; the support does not depend on them
        rows, figs, beyond, maps = [], {}, {}, {}
        worst_gap = 0.0
        for d in (1, 2, 3):
            m = positive_weights_(conv_stack([("conv", 3, 1, d, d)], rng=rng), rng)
            c = cost(m, (1, 1) + HW)
            g = grad_map(m, HW)
            s = support_of(g)
            out_hw = tuple(m(cp.tensor(np.ones((1, 1) + HW))).shape[-2:])
            worst_gap = max(worst_gap, abs(c["rf"] - s.height))
            figs[f"rf_single_d{d}"] = Figure(s.height, "px")
            figs[f"same_size_d{d}"] = Figure(float(out_hw == HW), "bool")
            beyond[f"pixels_read_d{d}"] = Figure(s.count, "px")
            rows.append([f"3x3, d={d}", SEED_SINGLE[d], c["rf"], s.height, s.count, s.fill, f"{out_hw[0]}x{out_hw[1]}"])
            maps[f"single 3x3, d={d}"] = g
        brows = []
        for name, ds in STACKS.items():
            m = positive_weights_(conv_stack([("conv", 3, 1, d, d) for d in ds], rng=rng), rng)
            c = cost(m, (1, 1) + HW)
            g = grad_map(m, HW)
            s = support_of(g)
            worst_gap = max(worst_gap, abs(c["rf"] - s.height))
            key = name.replace("d=", "").replace(",", "")
            beyond[f"rf_stack_{key}"] = Figure(s.height, "px")
            beyond[f"fill_stack_{key}"] = Figure(s.fill, "fraction")
            brows.append([f"stack {name}", c["rf"], s.height, s.count, s.fill])
            maps[f"stack {name}"] = g
        beyond["analyzer_vs_autograd"] = Figure(worst_gap, "px")
        side = f"{HW[0]}x{HW[1]}"
        return Result(
            figures=figs, beyond=beyond,
            tables=[Table("fields", ["layer", "seed's field", "analyzer field", "autograd field", "pixels read",
                                     "fill", "output size"], rows,
                          {"en": f"Field side in pixels of the centre unit on a {side} input; fill = pixels read / "
                                 f"side^2.",
                           "zh": f"{side} 输入上中心单元的感受野边长（像素）；"
                                 f"fill = 实际读取的像素数 / 边长的平方。"})],
            beyond_tables=[Table("stacks", ["layers", "analyzer field", "autograd field", "pixels read", "fill"],
                                 brows, {"en": f"Three-layer dilated stacks on a {side} input (padding = dilation).",
                                         "zh": f"{side} 输入上的三层空洞卷积堆叠（padding 等于扩张率）。"})],
            series={"maps": maps})

    def draw(self, res: Result, ctx: Context) -> None:
        """The six gradient maps (three single layers, three stacks), log scale, central crop."""
        maps: dict[str, np.ndarray] = res.series["maps"]
        fig, axes = ctx.figure(2, 3, size=(10, 6.6))
        parts_en, parts_zh = [], []
        for ax, (name, g) in zip(np.ravel(axes), maps.items(), strict=True):
            s = support_of(g)
            crop = g[8:25, 8:25]
            im = ax.imshow(np.where(crop > 0, np.log10(crop + 1e-300), np.nan), cmap="viridis")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03).set_label(tr("log10 |gradient|", "log10 |梯度|"))
            ax.set_title(tr(f"{name}: field {s.height}, fill {s.fill:.2f}",
                            f"{name}：感受野 {s.height}，覆盖率 {s.fill:.2f}"), fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            parts_en.append(f"{name}: {s.count} pixels read over a {s.height}-pixel field")
            parts_zh.append(f"{name}：在 {s.height} 像素宽的范围内读取 {s.count} 个像素")
        fig.suptitle(tr("Input pixels the centre unit depends on (log |gradient|, blank = 0), central 17x17 crop",
                        "中心单元依赖的输入像素（log |梯度|，空白 = 0），中央 17x17 区域"))
        ctx.save_figure(fig, "dilated_fields", "Six gradient maps (" + "; ".join(parts_en) + ").",
                        "六张梯度图（" + "；".join(parts_zh) + "）。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol = thresholds["tol_px"]
        got = {d: figures[f"rf_single_d{d}"] for d in (1, 2, 3)}
        kept = {d: figures[f"same_size_d{d}"] >= 1 for d in (1, 2, 3)}
        grows = {1: True, 2: got[2] - got[1] > tol, 3: got[3] - got[2] > tol}
        quoted = {d: abs(got[d] - SEED_SINGLE[d]) <= tol for d in (1, 2, 3)}
        mechanism = all(kept.values()) and all(grows.values())
        holds = [d for d in (1, 2, 3) if kept[d] and grows[d] and quoted[d]]
        fails = [d for d in (1, 2, 3) if d not in holds]
        verdict = (REFUTED if not mechanism or not holds else CONFIRMED if not fails else NUANCED)
        fields = ", ".join(fmt(got[d]) for d in (1, 2, 3))
        off_en = "; ".join(f"d={d}: measured {fmt(got[d])} px, the seed says {SEED_SINGLE[d]}"
                           for d in (1, 2, 3) if not quoted[d]) or "none"
        off_zh = "；".join(f"d={d}：实测 {fmt(got[d])} 像素，原文为 {SEED_SINGLE[d]}"
                          for d in (1, 2, 3) if not quoted[d]) or "无"
        n_kept, n_grow = sum(kept.values()), sum(grows[d] for d in (2, 3))
        en = (f"Measured by autograd, one 3x3 layer sees {fields} pixels for d = 1, 2, 3; the output keeps the input "
              f"size for {n_kept} of 3 dilations and the field widens (by more than {fmt(tol)} px) at {n_grow} of 2 "
              f"steps of d. Quoted fields off by more than {fmt(tol)} px: {off_en}. The claim holds for d = "
              f"{', '.join(map(str, holds)) or 'none'} and fails for d = {', '.join(map(str, fails)) or 'none'}.")
        zh = (f"自动求导实测：单层 3x3 卷积在 d = 1、2、3 时分别看到 {fields} 个像素；3 个扩张率中有 {n_kept} 个"
              f"输出保持输入尺寸，d 每增大一级感受野变宽（超过 {fmt(tol)} 像素）的有 {n_grow}/2 次。"
              f"与原文相差超过 {fmt(tol)} 像素的：{off_zh}。"
              f"该说法在 d = {'、'.join(map(str, holds)) or '无'} 时成立，"
              f"在 d = {'、'.join(map(str, fails)) or '无'} 时不成立。")
        return verdict, evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        b = {k: fmt(v) for k, v in beyond.items()}
        return {
            "en": f"The analyzer and autograd differ by at most {b['analyzer_vs_autograd']} px. Stacking three "
                  f"dilated layers: d = 1,2,4 reaches {b['rf_stack_124']} px and reads {b['fill_stack_124']} of that "
                  f"square; d = 2,2,2 reaches {b['rf_stack_222']} px and reads {b['fill_stack_222']} of it; d = 1,1,1 "
                  f"reaches {b['rf_stack_111']} px and reads {b['fill_stack_111']}. One layer reads "
                  f"{b['pixels_read_d1']}, {b['pixels_read_d2']} and {b['pixels_read_d3']} pixels at d = 1, 2, 3.",
            "zh": f"分析器与自动求导最多相差 {b['analyzer_vs_autograd']} 像素。三层空洞卷积堆叠：d = 1,2,4 达到 "
                  f"{b['rf_stack_124']} 像素，读取方框的 {b['fill_stack_124']}；d = 2,2,2 达到 {b['rf_stack_222']} "
                  f"像素，读取 {b['fill_stack_222']}；d = 1,1,1 达到 {b['rf_stack_111']} 像素，读取 "
                  f"{b['fill_stack_111']}。单层在 d = 1、2、3 时分别读取 {b['pixels_read_d1']}、{b['pixels_read_d2']}、"
                  f"{b['pixels_read_d3']} 个像素。",
        }
