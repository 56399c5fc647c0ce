"""Question 6: receptive-field arithmetic against the exact region found by autograd, and what padding changes.

A small LeNet-like stack (5x5 conv, 2x2 pool, 5x5 conv, 2x2 pool, two 3x3 convs) is built twice, without padding
and with "same" padding. Per layer the field from the recurrence ``r_l = r_{l-1} + (k-1) d prod(strides before)``
is compared with the analyzer and with autograd (the input pixels where the gradient of one output unit is
non-zero); then for both paddings the field's size, its position (centre of unit (0, 0)) and how much of a corner
unit's field lies on real pixels rather than on padding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from cvprimer.analysis import input_region
from cvprimer.lab._convnets import cost
from cvprimer.lab._fields import Spec, conv_stack, grad_map, positive_weights_, support_of
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

HW = (64, 64)


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
    thresholds = {"tol_px": 0.5, "shift_px": 1.0}
    text = {
        "en": {
            "title": "Receptive-field arithmetic, checked pixel by pixel",
            "claim": "A unit's receptive field is the patch of the input image it is computed from; it grows with "
                     "depth, and its size follows from the kernel sizes and strides of the layers before it, "
                     "independently of padding.",
            "method": "Build a LeNet-like stack (5x5 conv, 2x2 pool, 5x5 conv, 2x2 pool, 3x3 conv, 3x3 conv) on a "
                      "64x64 input with no padding and with 'same' padding (average pooling: the same window as max "
                      "pooling, but its gradient reaches every pixel of it). Per layer, compare the recurrence "
                      "r_l = r_(l-1) + (k-1) d x (product of earlier strides) with the analyzer and with autograd "
                      "(non-zero input gradient of one unit). Then compare the two paddings: field size of an "
                      "interior unit, centre of unit (0,0)'s field, and the share of a corner unit's field that "
                      "lies on real pixels.",
        },
        "zh": {
            "title": "感受野的递推公式，逐像素验证",
            "claim": "某个单元的感受野是它在输入图像上所依赖的区域；网络越深感受野越大，其大小由前面各层的卷积核尺寸"
                     "和步长决定，与 padding 无关。",
            "method": "在 64x64 输入上搭建一个类 LeNet 的网络（5x5 卷积、2x2 池化、5x5 卷积、2x2 池化、3x3 卷积、"
                      "3x3 卷积；池化用平均池化，窗口与最大池化相同，但梯度会传到窗口内每个像素），"
                      "分别不做 padding 和做 same padding。逐层比较递推式 r_l = r_(l-1) + (k-1) d x "
                      "（之前各层步长之积）、分析器和自动求导（某单元的输入梯度不为零的区域）的结果；再比较两种 "
                      "padding：内部单元的感受野大小、单元 (0,0) 感受野的中心位置，以及角落单元的感受野中落在真实像素"
                      "上的比例。",
        },
    }

    def run(self, ctx: Context) -> Result:
        rng = np.random.default_rng(0)  # weight magnitudes only; the support does not depend on them
        depth_rows, worst = [], 0.0
        layers = specs(pad=True)
        formula = rf_recurrence(layers)
        for i, lay in enumerate(layers):
            if lay[0] != "conv":
                continue
            m = positive_weights_(conv_stack(layers[:i + 1], rng=rng), rng)
            analyzer = cost(m, (1, 1) + HW)["rf"]
            measured = support_of(grad_map(m, HW)).height
            worst = max(worst, abs(formula[i] - measured), abs(analyzer - measured))
            depth_rows.append([f"conv {len(depth_rows) + 1} ({lay[1]}x{lay[1]})", formula[i], analyzer, measured])
        figs: dict[str, Figure] = {"formula_vs_autograd": Figure(worst, "px")}
        pad_rows, maps = [], {}
        for pad in (False, True):
            m = positive_weights_(conv_stack(specs(pad), rng=rng), rng)
            rep = cost(m, (1, 1) + HW)["report"]
            rf = rep.rf.output()
            g_mid, g_corner = grad_map(m, HW), grad_map(m, HW, (0, 0))
            mid, corner = support_of(g_mid), support_of(g_corner)
            region = input_region(rf, 0, 0)
            centre = (region[0][0] + region[0][1]) / 2
            clipped = input_region(rf, 0, 0, HW)
            exact_corner = clipped == (corner.rows, corner.cols)
            tag = "pad" if pad else "nopad"
            figs[f"size_{tag}"] = Figure(mid.height, "px")
            figs[f"centre_unit0_{tag}"] = Figure(centre, "px")
            figs[f"corner_on_image_{tag}"] = Figure(corner.count / mid.count, "fraction")
            figs[f"corner_region_exact_{tag}"] = Figure(float(exact_corner), "bool")
            out_hw = rep.totals["output_shape"][-2:]
            pad_rows.append(["same" if pad else "none", f"{out_hw[0]}x{out_hw[1]}", mid.height,
                             f"{region[0][0]:g}..{region[0][1]:g}", f"{corner.rows[0]}..{corner.rows[1]}",
                             corner.count / mid.count])
            maps[tag] = (g_mid, g_corner)
        figs["size_change_by_padding"] = Figure(abs(figs["size_pad"].value - figs["size_nopad"].value), "px")
        figs["centre_shift_by_padding"] = Figure(abs(figs["centre_unit0_pad"].value -
                                                     figs["centre_unit0_nopad"].value), "px")
        self._plots(ctx, depth_rows, maps)
        return Result(figures=figs, tables=[
            Table("depth", ["layer", "recurrence", "analyzer", "autograd"], depth_rows,
                  {"en": "Field side (px) after each conv of the 'same'-padded stack (centre unit).",
                   "zh": "same padding 网络中每个卷积层之后的感受野边长（像素，中心单元）。"}),
            Table("padding", ["padding", "output", "field (interior unit)", "unit (0,0) rows, theory",
                              "unit (0,0) rows, autograd", "corner field on image"], pad_rows,
                  {"en": "Padding changes where unit (0,0)'s field sits and how much of it is image, not its size.",
                   "zh": "padding 改变的是单元 (0,0) 感受野的位置以及其中有多少是真实图像，而不是其大小。"})])

    @staticmethod
    def _plots(ctx: Context, depth_rows: list[list], maps: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        fig, ax = ctx.figure(1, 1, size=(5.5, 3.8))
        x = np.arange(1, len(depth_rows) + 1)
        ax.plot(x, [r[1] for r in depth_rows], "o-", label="recurrence", lw=3, alpha=0.5)
        ax.plot(x, [r[2] for r in depth_rows], "s--", label="analyzer")
        ax.plot(x, [r[3] for r in depth_rows], "x:", label="autograd (measured)", ms=10)
        ax.set_xticks(x, [r[0] for r in depth_rows], fontsize=8)
        ax.set_xlabel("depth (conv layers)")
        ax.set_ylabel("receptive field side (input pixels)")
        ax.set_title("The field grows with depth; three methods agree")
        ax.legend()
        ctx.save_figure(fig, "field_by_depth", "Receptive field side after each of the four convolutions: 5, 14, "
                        "24 and 32 pixels, the recurrence, the analyzer and autograd on top of each other.",
                        "四个卷积层之后的感受野边长：5、14、24、32 像素；递推式、分析器和自动求导三条线重合。")
        fig, axes = ctx.figure(1, 2, size=(9, 4.4))
        for ax, tag, title in zip(axes, ("nopad", "pad"), ("no padding", "'same' padding"), strict=True):
            g_mid, g_corner = maps[tag]
            show = np.zeros(HW)
            show[g_mid > 0] = 1.0
            show[g_corner > 0] = 2.0
            ax.imshow(show, cmap="Blues", vmin=0, vmax=2.2)
            ax.set_title(f"{title}: centre unit (light) and unit (0,0) (dark)", fontsize=9)
            ax.set_xlabel("input column")
            ax.set_ylabel("input row")
        ctx.save_figure(fig, "padding_position", "Two 64x64 inputs. Without padding the field of unit (0,0) is a "
                        "full 32x32 square at the corner; with 'same' padding it is centred near the corner and only "
                        "an 18x18 part of it lies on the image, the rest on padding. The centre units' fields are "
                        "32x32 in both.",
                        "两张 64x64 的输入。不做 padding 时，单元 (0,0) 的感受野是角落处完整的 32x32 方块；做 same "
                        "padding 时，它的中心靠近角落，只有 18x18 落在图像上，其余落在填充区。两种情况下中心单元的"
                        "感受野都是 32x32。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol, shift_min = thresholds["tol_px"], thresholds["shift_px"]
        arith = figures["formula_vs_autograd"] <= tol
        same_size = figures["size_change_by_padding"] <= tol
        moved = figures["centre_shift_by_padding"] >= shift_min
        f = {k: fmt(v) for k, v in figures.items()}
        agree_en, size_en = ("agree on every layer" if arith else "disagree",
                             "leaves the size unchanged" if same_size else "changes the size")
        agree_zh, size_zh = ("在每一层都一致" if arith else "不一致", "不改变" if same_size else "改变了")
        en = (f"The recurrence, the analyzer and autograd {agree_en} (largest gap {f['formula_vs_autograd']} px, "
              f"tolerance {fmt(tol)}), and the field grows with depth. Padding {size_en} ({f['size_nopad']} vs "
              f"{f['size_pad']} px); the centre of unit (0,0)'s field shifts by {f['centre_shift_by_padding']} px "
              f"(a shift of {fmt(shift_min)} px or more counts), and with padding only {f['corner_on_image_pad']} of "
              f"a corner unit's field lies on the image (without: {f['corner_on_image_nopad']}). The recurrence also "
              f"needs the dilation, which the claim omits.")
        zh = (f"递推式、分析器与自动求导{agree_zh}（最大差距 {f['formula_vs_autograd']} 像素，容差 {fmt(tol)}），"
              f"感受野随深度增大。padding {size_zh}大小（{f['size_nopad']} 与 {f['size_pad']} 像素）；"
              f"单元 (0,0) 感受野的中心移动了 {f['centre_shift_by_padding']} 像素（达到 {fmt(shift_min)} 像素"
              f"即算移动）；有 padding 时角落单元的感受野只有 {f['corner_on_image_pad']} 落在图像上"
              f"（无 padding 时为 {f['corner_on_image_nopad']}）。此外递推式还需要扩张率，原文没有提到。")
        return verdict_if(arith and same_size and not moved, nuanced=arith and same_size), evidence(en=en, zh=zh)
