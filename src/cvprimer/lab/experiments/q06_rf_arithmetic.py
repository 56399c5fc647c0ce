"""Question 6: the receptive field — what it is, how it grows with depth, how it is computed from the kernel sizes
and strides, and whether padding changes it.

A small LeNet-like stack (5x5 conv, 2x2 pool, 5x5 conv, 2x2 pool, two 3x3 convs) is built twice, without padding
and with "same" padding. After every convolution the field of the centre output unit is measured exactly by
autograd (the input pixels where its gradient is non-zero) and compared with the field computed from the earlier
kernel sizes and strides, ``r_l = r_(l-1) + (k_l - 1) x (product of the strides before l)``. Beyond the seed: the
analyzer's field, and what padding does change — where unit (0, 0)'s field sits and how much of a corner unit's
field lies on real pixels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cvprimer.analysis import input_region
from cvprimer.lab._convnets import cost
from cvprimer.lab._fields import Spec, conv_stack, grad_map, positive_weights_, support_of
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
    "autograd, no padding": "自动求导，无填充",
    "autograd, same padding": "自动求导，same 填充",
    "Receptive field after each convolution": "每层卷积后的感受野",
    "conv 1 (5x5)": "卷积 1（5x5）",
    "conv 2 (5x5)": "卷积 2（5x5）",
    "conv 3 (3x3)": "卷积 3（3x3）",
    "conv 4 (3x3)": "卷积 4（3x3）",
})

HW = (64, 64)
N_CONV = 4


def specs(pad: bool) -> list[Spec]:
    """The LeNet-like stack; average pooling (same geometry as max pooling, but its gradient reaches the whole
    window, so autograd shows the full field)."""
    p = 1 if pad else 0
    return [("conv", 5, 1, 2 * p, 1), ("avg", 2, 2, 0, 1), ("conv", 5, 1, 2 * p, 1), ("avg", 2, 2, 0, 1),
            ("conv", 3, 1, p, 1), ("conv", 3, 1, p, 1)]


def rf_recurrence(layers: Sequence[Spec]) -> list[int]:
    """Field after each layer: ``r_l = r_{l-1} + (k_l - 1) d_l prod_{m<l} s_m`` (padding never appears)."""
    r, jump, out = 1, 1, []
    for _, k, s, _, d in layers:
        r += (k - 1) * d * jump
        jump *= s
        out.append(r)
    return out


class FieldArithmetic(Experiment):
    id = "q06-rf-arithmetic"
    questions = (6,)
    topic = "architecture"
    stochastic = False
    thresholds = {"tol_px": 0.5}
    reasons = {
        "tol_px": {"en": "Theory: a receptive field is a whole number of pixels, so any real difference (between "
                         "formula and measurement, between paddings, or from one layer to the next) is at least "
                         "1 px; half a pixel separates equal from different.",
                   "zh": "理论：感受野是整数个像素，公式与实测之间、两种 padding 之间或相邻两层之间的真正差别至少 "
                         "1 像素；取半个像素区分相等与不等。"},
    }
    reachable = (CONFIRMED, NUANCED, REFUTED)
    key_term = {"en": "receptive field recursion", "zh": "感受野递推公式"}
    key_figure = "rf_pad_L4"
    answer = {
        "confirmed": {
            "en": "Yes: the field grows with depth and depends only on kernel sizes and strides (each layer "
                  "adds its kernel size minus one, times the product of the earlier strides); padding changes "
                  "nothing, {rf_pad_L4} px after four convolutions with or without it.",
            "zh": "是的：感受野随深度增大，只由卷积核大小和步长决定（每层增加其核大小减一，"
                  "再乘以前面各层步长之积）；填充不影响它，四层卷积后有无填充都是 {rf_pad_L4} 像素。"},
        "nuanced": {
            "en": "Partly: the field grows with depth, but the formula or the padding-free rule disagreed with "
                  "the measurement at some layer ({rf_pad_L4} px with padding after four convolutions).",
            "zh": "部分成立：感受野随深度增大，但在某些层上公式或“与填充无关”的规律与测量不一致（"
                  "四层卷积后有填充时为 {rf_pad_L4} 像素）。"},
        "refuted": {
            "en": "The rule failed here: the measured fields did not follow kernels and strides alone "
                  "({rf_pad_L4} px with padding after four convolutions).",
            "zh": "这里规律不成立：测得的感受野并非只由卷积核和步长决定（四层卷积后有填充时为 {rf_pad_L4} 像素"
                  "）。"},
    }
    text = {
        "en": {
            "title": "What is a receptive field, and how is it computed?",
            "claim": "A unit's receptive field is the region of the input image it depends on; it widens as the "
                     "network gets deeper, and its size is set by the kernel sizes and strides of the layers before "
                     "it, not by padding.",
            "method": "Build a LeNet-like stack (5x5 conv, 2x2 pool, 5x5 conv, 2x2 pool, 3x3 conv, 3x3 conv) on a "
                      "64x64 input twice, with no padding and with 'same' padding (average pooling: the same window "
                      "as max pooling, but its gradient reaches every pixel of it). After each convolution, measure "
                      "by autograd the field of the centre output unit (non-zero input gradient) in both stacks and "
                      "compute r_l = r_(l-1) + (k-1) x (product of earlier strides) from the kernel sizes and "
                      "strides. The claim holds at a layer when the field is wider than at the previous convolution, "
                      "matches the formula, and is the same with and without padding.",
            "beyond": "The analyzer's field beside autograd's; what padding does move: the centre of unit (0,0)'s "
                      "field and the share of a corner unit's field that lies on real pixels.",
        },
        "zh": {
            "title": "什么是感受野？如何计算？",
            "claim": "单元的感受野是它在输入图像上所依赖的区域；网络越深感受野越大，其大小由前面各层的卷积核尺寸"
                     "和步长决定，与 padding 无关。",
            "method": "在 64x64 输入上把一个类 LeNet 的网络（5x5 卷积、2x2 池化、5x5 卷积、2x2 池化、3x3 卷积、"
                      "3x3 卷积；池化用平均池化，窗口与最大池化相同，但梯度会传到窗口内每个像素）搭两遍："
                      "不做 padding 和做 same padding。在每个卷积层之后，用自动求导测量两种网络中中心输出单元的"
                      "感受野（输入梯度不为零的区域），并按卷积核尺寸和步长计算 r_l = r_(l-1) + (k-1) x "
                      "（之前各层步长之积）。某一层上，感受野比上一个卷积层更大、与公式一致、且有无 padding "
                      "都相同，才算该说法在此成立。",
            "beyond": "分析器与自动求导的对照；padding 真正改变的东西：单元 (0,0) 感受野的中心位置，以及角落单元的"
                      "感受野中落在真实像素上的比例。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "rf_formula_L{n}": {"en": "receptive field by the formula, {n} layers", "zh": "公式算出的感受野（{n} 层）"},
        "rf_nopad_L{n}": {"en": "measured receptive field without padding, {n} layers",
                          "zh": "实测感受野（无填充，{n} 层）"},
        "rf_pad_L{n}": {"en": "measured receptive field with same padding, {n} layers",
                        "zh": "实测感受野（same 填充，{n} 层）"},
        "analyzer_vs_autograd": {"en": "largest analyzer - autograd field difference",
                                 "zh": "分析器与自动求导感受野的最大差"},
        "centre_unit0_{p}": {"en": "field of the centre unit, {p}", "zh": "中心单元的感受野（{p}）"},
        "corner_on_image_{p}": {"en": "share of the corner unit's field on the image, {p}",
                                "zh": "角落单元感受野落在图像内的比例（{p}）"},
        "corner_rows_{p}": {"en": "image rows the corner unit sees, {p}", "zh": "角落单元看到的图像行数（{p}）"},
        "centre_shift_by_padding": {"en": "shift of the field centre by padding", "zh": "填充造成的感受野中心偏移"},
    }
    terms = {
        "nopad": {"en": "no padding", "zh": "无填充"},
        "pad": {"en": "same padding", "zh": "same 填充"},
    }

    def measure(self, ctx: Context) -> Result:
        rng = np.random.default_rng(0)  # weight magnitudes only; the support does not depend on them
        figs: dict[str, Figure] = {}
        beyond: dict[str, Figure] = {}
        depth_rows, worst = [], 0.0
        formula = rf_recurrence(specs(pad=True))
        convs = [i for i, lay in enumerate(specs(pad=True)) if lay[0] == "conv"]
        for n, i in enumerate(convs, start=1):
            row = [f"conv {n} ({specs(True)[i][1]}x{specs(True)[i][1]})", formula[i]]
            figs[f"rf_formula_L{n}"] = Figure(formula[i], "px")
            for pad in (False, True):
                layers = specs(pad)[:i + 1]
                m = positive_weights_(conv_stack(layers, rng=rng), rng)
                measured = support_of(grad_map(m, HW)).height
                figs[f"rf_{'pad' if pad else 'nopad'}_L{n}"] = Figure(measured, "px")
                if pad:
                    analyzer = cost(m, (1, 1) + HW)["rf"]
                    worst = max(worst, abs(analyzer - measured))
                    row.append(analyzer)
                row.append(measured)
            depth_rows.append([row[0], row[1], row[3], row[2], row[4]])
        beyond["analyzer_vs_autograd"] = Figure(worst, "px")
        pad_rows, maps = [], {}
        for pad in (False, True):
            m = positive_weights_(conv_stack(specs(pad), rng=rng), rng)
            rep = cost(m, (1, 1) + HW)["report"]
            rf = rep.rf.output()
            g_mid, g_corner = grad_map(m, HW), grad_map(m, HW, (0, 0))
            mid, corner = support_of(g_mid), support_of(g_corner)
            region = input_region(rf, 0, 0)
            assert region is not None  # a stack of convolutions has a local field
            centre = (region[0][0] + region[0][1]) / 2
            tag = "pad" if pad else "nopad"
            beyond[f"centre_unit0_{tag}"] = Figure(centre, "px")
            beyond[f"corner_on_image_{tag}"] = Figure(corner.count / mid.count, "fraction")
            beyond[f"corner_rows_{tag}"] = Figure(corner.height, "px")
            out_hw = rep.totals["output_shape"][-2:]
            pad_rows.append(["same" if pad else "none", f"{out_hw[0]}x{out_hw[1]}", mid.height,
                             f"{region[0][0]:g}..{region[0][1]:g}", f"{corner.rows[0]}..{corner.rows[1]}",
                             corner.count / mid.count])
            maps[tag] = (g_mid, g_corner)
        beyond["centre_shift_by_padding"] = Figure(abs(beyond["centre_unit0_pad"].value -
                                                       beyond["centre_unit0_nopad"].value), "px")
        return Result(figures=figs, beyond=beyond, tables=[
            Table("depth", ["layer", "formula (kernels, strides)", "autograd, no padding", "analyzer, same padding",
                            "autograd, same padding"], depth_rows,
                  {"en": f"Field side (px) of the centre unit after each convolution, {HW[0]}x{HW[1]} input.",
                   "zh": f"{HW[0]}x{HW[1]} 输入上，每个卷积层之后中心单元的感受野边长（像素）。"})],
            beyond_tables=[
                Table("padding", ["padding", "output", "field (centre unit)", "unit (0,0) rows, theory",
                                  "unit (0,0) rows, autograd", "corner field on image"], pad_rows,
                      {"en": "Where unit (0,0)'s field sits and how much of a corner unit's field is image, for both "
                             "paddings (whole stack).",
                       "zh": "两种 padding 下（整个网络）单元 (0,0) 感受野的位置，"
                             "以及角落单元的感受野中真实图像的比例。"})],
            series={"depth_rows": depth_rows, "maps": maps})

    def draw(self, res: Result, ctx: Context) -> None:
        """The field side by depth, then where the centre unit's and unit (0,0)'s fields lie for both paddings."""
        depth_rows: list[list] = res.series["depth_rows"]
        maps: dict[str, tuple[np.ndarray, np.ndarray]] = res.series["maps"]
        fig, ax = ctx.figure(1, 1, size=(5.5, 3.8))
        x = np.arange(1, len(depth_rows) + 1)
        ax.plot(x, [r[1] for r in depth_rows], "o-", label="formula", lw=3, alpha=0.5)
        ax.plot(x, [r[2] for r in depth_rows], "s--", label="autograd, no padding")
        ax.plot(x, [r[4] for r in depth_rows], "x:", label="autograd, same padding", ms=10)
        ax.set_xticks(x, [r[0] for r in depth_rows], fontsize=8)
        ax.set_xlabel("depth (conv layers)")
        ax.set_ylabel("receptive field side (input pixels)")
        ax.set_title("Receptive field after each convolution")
        ax.legend()
        sides = ", ".join(f"{r[0]}: formula {r[1]}, measured {r[2]} / {r[4]}" for r in depth_rows)
        sides_zh = "，".join(f"{r[0]}：公式 {r[1]}，实测 {r[2]} / {r[4]}" for r in depth_rows)
        ctx.save_figure(fig, "field_by_depth", f"Receptive field side after each convolution (no padding / same "
                        f"padding): {sides}.", f"每个卷积层之后的感受野边长（无 padding / same padding）：{sides_zh}。")
        fig, axes = ctx.figure(1, 2, size=(9, 4.4))
        alt_en, alt_zh = [], []
        for ax, tag, title in zip(axes, ("nopad", "pad"), ("no padding", "'same' padding"), strict=True):
            g_mid, g_corner = maps[tag]
            show = np.zeros(HW)
            show[g_mid > 0] = 1.0
            show[g_corner > 0] = 2.0
            ax.imshow(show, cmap="Blues", vmin=0, vmax=2.2)
            ax.set_title(tr(f"{title}: centre unit (light) and unit (0,0) (dark)",
                            f"{title}：中心单元（浅色）与单元 (0,0)（深色）"), fontsize=9)
            ax.set_xlabel("input column")
            ax.set_ylabel("input row")
            mid, corner = support_of(g_mid), support_of(g_corner)
            alt_en.append(f"{title}: the centre unit's field is {mid.height}x{mid.width}, unit (0,0)'s covers "
                          f"{corner.height}x{corner.width} image pixels")
            alt_zh.append(f"{title}：中心单元的感受野为 {mid.height}x{mid.width}，单元 (0,0) 的感受野覆盖 "
                          f"{corner.height}x{corner.width} 个图像像素")
        ctx.save_figure(fig, "padding_position", f"Two {HW[0]}x{HW[1]} inputs. " + "; ".join(alt_en) + ".",
                        f"两张 {HW[0]}x{HW[1]} 的输入。" + "；".join(alt_zh) + "。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol = thresholds["tol_px"]
        holds: list[Any] = []
        fails: list[Any] = []
        notes_en, notes_zh = [], []
        prev = 1.0  # a single pixel before the first layer
        for n in range(1, N_CONV + 1):
            r, a, b = (figures[f"rf_{k}_L{n}"] for k in ("formula", "nopad", "pad"))
            grows = min(a, b) - prev > tol
            formula_ok = abs(a - r) <= tol and abs(b - r) <= tol
            pad_free = abs(a - b) <= tol
            (holds if grows and formula_ok and pad_free else fails).append(n)
            why_en = [w for w, ok in (("does not widen", grows), ("differs from the formula", formula_ok),
                                      ("depends on padding", pad_free)) if not ok]
            why_zh = [w for w, ok in (("没有变大", grows), ("与公式不符", formula_ok), ("随 padding 改变", pad_free))
                      if not ok]
            notes_en.append(f"conv {n}: formula {fmt(r)}, measured {fmt(a)} / {fmt(b)} px"
                            + (f" ({', '.join(why_en)})" if why_en else ""))
            notes_zh.append(f"第 {n} 个卷积：公式 {fmt(r)}，实测 {fmt(a)} / {fmt(b)} 像素"
                            + (f"（{'、'.join(why_zh)}）" if why_zh else ""))
            prev = min(a, b)
        verdict = CONFIRMED if not fails else REFUTED if not holds else NUANCED
        en = (f"Field of the centre unit after each convolution, without / with padding (equal means within "
              f"{fmt(tol)} px): {'; '.join(notes_en)}. The claim holds at conv {', '.join(map(str, holds)) or 'none'}"
              f" and fails at conv {', '.join(map(str, fails)) or 'none'}.")
        zh = (f"每个卷积层之后中心单元的感受野，无 / 有 padding（相差不超过 {fmt(tol)} 像素算相等）："
              f"{'；'.join(notes_zh)}。该说法在第 {'、'.join(map(str, holds)) or '无'} 个卷积处成立，"
              f"在第 {'、'.join(map(str, fails)) or '无'} 个卷积处不成立。")
        return verdict, evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        b = {k: fmt(v) for k, v in beyond.items()}
        return {
            "en": f"The analyzer and autograd differ by at most {b['analyzer_vs_autograd']} px. Padding moves the "
                  f"centre of unit (0,0)'s field by {b['centre_shift_by_padding']} px, and with padding "
                  f"{b['corner_on_image_pad']} of a corner unit's field lies on the image (without padding: "
                  f"{b['corner_on_image_nopad']}). The formula also needs each layer's dilation, which the seed "
                  f"does not mention (all dilations here are 1).",
            "zh": f"分析器与自动求导最多相差 {b['analyzer_vs_autograd']} 像素。padding 使单元 (0,0) 感受野的中心移动 "
                  f"{b['centre_shift_by_padding']} 像素；有 padding 时角落单元的感受野有 {b['corner_on_image_pad']} "
                  f"落在图像上（无 padding 时为 {b['corner_on_image_nopad']}）。此外公式还需要各层的扩张率，"
                  f"原文没有提到（这里扩张率都是 1）。",
        }
