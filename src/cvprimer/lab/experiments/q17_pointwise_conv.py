"""Question 17: what a 1x1 convolution does — per-pixel channel mixing, cheap bottlenecks and widening, and
(with an activation after it) extra non-linearity, all at the same spatial size.

The seed's claim has four parts, each measured: (1) shrinking channels before a 3x3 conv saves parameters and
compute: the parameters and MACs of ResNet's bottleneck (1x1 256->64, 3x3 64->64, 1x1 64->256) against two 3x3
convs at 256 channels (analyzer); (2) widening channels after a depthwise conv is cheap: a 1x1 conv 32->128 against
a 3x3 conv 32->128 doing the same widening (analyzer); (3) it mixes channels without touching the spatial layout:
a 1x1 conv equals a linear layer applied to every pixel's channel vector of a real photograph, one output unit
depends on all input channels at exactly one pixel (autograd), and the output keeps the input's height and width;
(4) the non-linearity comes from the activation after it: two stacked 1x1 convs without an activation collapse
into one 1x1 conv, while with a ReLU between them the best single 1x1 conv (least squares) leaves a residual.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.lab._convnets import cost, input_support
from cvprimer.lab.common import sample_photo
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr, tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "two 3x3 convs at 256 ch": "两个 256 通道的 3x3 卷积",
    "bottleneck 1x1-3x3-1x1": "瓶颈 1x1-3x3-1x1",
    "y = x (perfect fit)": "y = x（完美拟合）",
    "best single 1x1 conv": "最佳的单个 1x1 卷积",
    "stack output (channel 0)": "堆叠输出（通道 0）",
    "params": "参数量",
})


def bottleneck() -> nn.Sequential:
    """ResNet-50's bottleneck convs at 256 channels (no BN/bias, which do not change the comparison)."""
    return nn.Sequential(nn.Conv2d(256, 64, 1, bias=False), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1, bias=False),
                         nn.ReLU(), nn.Conv2d(64, 256, 1, bias=False))


def two_3x3() -> nn.Sequential:
    """ResNet-18/34's basic block convs, at 256 channels."""
    return nn.Sequential(nn.Conv2d(256, 256, 3, padding=1, bias=False), nn.ReLU(),
                         nn.Conv2d(256, 256, 3, padding=1, bias=False))


def widen(c_in: int, c_out: int, k: int) -> nn.Conv2d:
    """The conv that widens ``c_in`` channels to ``c_out`` after a depthwise layer (MobileNet's expansion: k = 1)."""
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)


def best_linear_residual(x: np.ndarray, y: np.ndarray) -> float:
    """Relative residual ``||y - fit|| / ||y - mean(y)||`` of the best affine map per pixel (least squares)
    from channel vectors ``x`` (N, C_in, H, W) to ``y`` (N, C_out, H, W): what no 1x1 conv can explain."""
    xs = np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])
    ys = np.moveaxis(y, 1, -1).reshape(-1, y.shape[1])
    a = np.hstack([xs, np.ones((len(xs), 1))])
    coef, *_ = np.linalg.lstsq(a, ys, rcond=None)
    return float(np.linalg.norm(ys - a @ coef) / np.linalg.norm(ys - ys.mean(0)))


class PointwiseConv(Experiment):
    id = "q17-pointwise-conv"
    questions = (17,)
    topic = "architecture"
    stochastic = False  # fixed weights (seed 17) and one photograph: the same numbers every run
    thresholds = {"equiv_rel_tol": 1e-5, "min_saving": 1.0, "min_nonlinear_residual": 0.05}
    reasons = {
        "equiv_rel_tol": {
            "en": "Rounding only: a float32 sum of 3 products differs from the same sum in another order by about "
                  "1e-7 relative, the float64 collapse of two 1x1 convs by about 1e-15; 1e-5 is far above rounding "
                  "and far below any real difference.",
            "zh": "只容许舍入误差：3 个乘积的 float32 求和换个顺序，相对差约 1e-7；两个 1x1 卷积在 float64 下"
                  "合并的误差约 1e-15；1e-5 远高于舍入误差，又远低于任何真实差别。"},
        "min_saving": {
            "en": "The seed claims fewer parameters and MACs: any ratio above 1 (the alternative's count over the 1x1 "
                  "design's) supports it; the counts are exact.",
            "zh": "原文说参数量和计算量更少：只要比值（替代方案的计数除以 1x1 方案的计数）大于 1 即支持该说法；"
                  "计数是精确的。"},
        "min_nonlinear_residual": {
            "en": "Convention: a relative residual of 5% of the output's variation is a clearly visible part that "
                  "no 1x1 conv can produce; the linear stack's residual is rounding (about 1e-15).",
            "zh": "约定：相对残差达到输出变化量的 5%，就是任何单个 1x1 卷积都无法产生的明显部分；线性堆叠的残差"
                  "只是舍入误差（约 1e-15）。"},
    }
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "1x1 (pointwise) convolution and the bottleneck", "zh": "1x1（逐点）卷积与瓶颈结构"}
    key_figure = "bottleneck_param_saving"
    answer = {
        "confirmed": {
            "en": "Yes: a 1x1 convolution is a linear layer applied at every pixel, so it mixes channels "
                  "without touching space and changes their number cheaply (the bottleneck needs "
                  "{bottleneck_param_saving}x fewer parameters); the non-linearity comes from the activation "
                  "after it.",
            "zh": "是的：1x1 卷积就是在每个像素上做一次线性层，只混合通道、不改变空间，并能廉价地改变通道数（"
                  "瓶颈结构的参数少 {bottleneck_param_saving} 倍）；非线性来自它后面的激活函数。"},
        "nuanced": {
            "en": "Most of it holds (the bottleneck needs {bottleneck_param_saving}x fewer parameters), but "
                  "not every part did here; note that a 1x1 convolution is itself linear and only the "
                  "activation after it adds non-linearity.",
            "zh": "大部分成立（瓶颈结构参数少 {bottleneck_param_saving} 倍），但这里并非每一点都成立；"
                  "要指出 1x1 卷积本身是线性的，只有其后的激活才带来非线性。"},
        "refuted": {
            "en": "The description failed here (bottleneck parameter saving {bottleneck_param_saving}x); check "
                  "the channel mixing and the cost separately.",
            "zh": "这里描述不成立（瓶颈结构参数节省 {bottleneck_param_saving} 倍）；"
                  "应分别检查通道混合和计算代价。"},
    }
    text = {
        "en": {
            "title": "What is a 1x1 convolution good for?",
            "claim": "A 1x1 convolution shrinks or widens the channel count cheaply (ResNet's bottleneck, the "
                     "pointwise step of MobileNet and ShuffleNet), mixes information across channels without "
                     "touching the spatial resolution, and, together with the activation that follows it, adds "
                     "non-linearity.",
            "method": "Four parts. Count the bottleneck's and two 3x3 convs' parameters and MACs with the analyzer "
                      "at 56x56x256; count a 1x1 and a 3x3 conv widening 32 to 128 channels at 56x56. Compare a 1x1 "
                      "conv with a linear layer applied to each pixel of a real photograph, find by autograd which "
                      "inputs one output unit depends on, and compare the output's height and width with the "
                      "input's. Stack two 1x1 convs with and without a ReLU and measure how well the best single 1x1 "
                      "conv (least squares) reproduces each stack. The verdict counts the parts that hold.",
        },
        "zh": {
            "title": "1x1 卷积有什么用？",
            "claim": "1x1 卷积能以很少的代价减少或增加通道数（ResNet 的瓶颈结构、MobileNet 和 "
                     "ShuffleNet 中的逐点卷积），在不改变空间分辨率的前提下混合各通道的信息；"
                     "再配合其后的激活函数，还能增加网络的非线性。",
            "method": "分四部分。用分析器在 56x56x256 上统计瓶颈结构与两个 3x3 卷积的参数量和乘加次数；统计在 "
                      "56x56 上把 32 通道扩到 128 通道的 1x1 卷积与 3x3 卷积。在一张真实照片上比较 1x1 卷积与逐像素"
                      "作用的全连接层，用自动求导找出一个输出单元依赖哪些输入，并比较输出与输入的高宽。把两个 1x1 "
                      "卷积叠起来（中间有或没有 ReLU），衡量最优的单个 1x1 卷积（最小二乘）能在多大程度上重现它们。"
                      "结论统计成立的部分。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "linear_equiv_err": {"en": "1x1 conv vs a per-pixel linear layer, error",
                             "zh": "1x1 卷积与逐像素全连接层的误差"},
        "mixed_channel_share": {"en": "share of outputs mixing channels", "zh": "混合了通道的输出比例"},
        "support_pixels": {"en": "pixels one output reads", "zh": "一个输出读取的像素"},
        "bottleneck_param_saving": {"en": "parameter saving of the bottleneck", "zh": "瓶颈结构节省的参数倍数"},
        "bottleneck_mac_saving": {"en": "MAC saving of the bottleneck", "zh": "瓶颈结构节省的 MACs 倍数"},
        "widen_param_saving": {"en": "parameter saving when widening", "zh": "加宽时节省的参数倍数"},
        "same_size": {"en": "output keeps the input size", "zh": "输出保持输入尺寸"},
        "linear_stack_collapse_err": {"en": "two 1x1 convs vs one, error", "zh": "两个 1x1 卷积与一个的误差"},
        "linear_stack_residual": {"en": "residual of a linear 1x1 stack", "zh": "线性 1x1 堆叠的残差"},
        "relu_stack_residual": {"en": "residual of a 1x1 stack with ReLU", "zh": "带 ReLU 的 1x1 堆叠的残差"},
    }

    def measure(self, ctx: Context) -> Result:
        rng = np.random.default_rng(17)
        step = ctx.pick(4, 1, tiny=8)
        photo = sample_photo(1)[:, ::step, ::step]  # (3, H, W) in [0, 1]
        x = photo[None].astype(np.float32)
        w = rng.standard_normal((16, 3, 1, 1)).astype(np.float32)
        b = rng.standard_normal(16).astype(np.float32)
        conv = F.conv2d(cp.tensor(x), cp.tensor(w), cp.tensor(b)).data
        pix = cp.tensor(np.ascontiguousarray(np.moveaxis(x, 1, -1)))            # (1, H, W, 3)
        lin = np.moveaxis(F.linear(pix, cp.tensor(w[:, :, 0, 0]), cp.tensor(b)).data, -1, 1)
        equiv = float(np.abs(conv - lin).max() / np.abs(conv).max())

        g = input_support(lambda t: F.conv2d(t, cp.tensor(w.astype(np.float64))), x[:, :, :9, :9], (0, 5, 4, 4))
        mixed = float((g.sum((0, 2, 3)) > 0).mean())         # share of input channels it reads
        support_px = int((g.sum((0, 1)) > 0).sum())          # pixels it reads

        cb, c2 = cost(bottleneck(), (1, 256, 56, 56)), cost(two_3x3(), (1, 256, 56, 56))
        saving_p, saving_m = c2["params"] / cb["params"], c2["macs"] / cb["macs"]
        w1x1, w3x3 = cost(widen(32, 128, 1), (1, 32, 56, 56)), cost(widen(32, 128, 3), (1, 32, 56, 56))
        same_size = float(conv.shape[-2:] == x.shape[-2:])

        x64 = x.astype(np.float64)
        w1, b1 = rng.standard_normal((16, 3, 1, 1)), rng.standard_normal(16)
        w2, b2 = rng.standard_normal((3, 16, 1, 1)), rng.standard_normal(3)
        t = cp.tensor(x64)
        h = F.conv2d(t, cp.tensor(w1), cp.tensor(b1))
        lin_stack = F.conv2d(h, cp.tensor(w2), cp.tensor(b2)).data
        relu_stack = F.conv2d(F.relu(h), cp.tensor(w2), cp.tensor(b2)).data
        w12 = (w2[:, :, 0, 0] @ w1[:, :, 0, 0])[:, :, None, None]
        merged = F.conv2d(t, cp.tensor(w12), cp.tensor(w2[:, :, 0, 0] @ b1 + b2)).data
        collapse = float(np.abs(lin_stack - merged).max() / np.abs(lin_stack).max())
        res_lin, res_relu = best_linear_residual(x64, lin_stack), best_linear_residual(x64, relu_stack)

        scatter = self._scatter(rng, x64, relu_stack)
        return Result(
            figures={
                "linear_equiv_err": Figure(equiv, "relative"),
                "mixed_channel_share": Figure(mixed, "share"),
                "support_pixels": Figure(support_px, "px"),
                "bottleneck_param_saving": Figure(saving_p, "x"),
                "bottleneck_mac_saving": Figure(saving_m, "x"),
                "widen_param_saving": Figure(w3x3["params"] / w1x1["params"], "x"),
                "same_size": Figure(same_size, "bool"),
                "linear_stack_collapse_err": Figure(collapse, "relative"),
                "linear_stack_residual": Figure(res_lin, "relative"),
                "relu_stack_residual": Figure(res_relu, "relative"),
            },
            tables=[Table("bottleneck", ["block (56x56x256)", "params", "MACs"],
                          [["two 3x3 convs", c2["params"], c2["macs"]],
                           ["1x1 256->64, 3x3 64->64, 1x1 64->256", cb["params"], cb["macs"]]],
                          {"en": "Analyzer counts, no bias.", "zh": "分析器统计，不含偏置。"})],
            series={"scatter": scatter},
        )

    @staticmethod
    def _scatter(rng: np.random.Generator, x64: np.ndarray, relu_stack: np.ndarray) -> dict[str, Any]:
        """For the plot: channel 0 of the 1x1-ReLU-1x1 stack's output against the best single 1x1 conv's
        (least squares with a bias over the pixels), at up to 3000 pixels drawn from ``rng`` (the run's last
        draw), and the range of the whole output."""
        ys = np.moveaxis(relu_stack, 1, -1).reshape(-1, 3)[:, 0]
        xs = np.moveaxis(x64, 1, -1).reshape(-1, 3)
        a = np.hstack([xs, np.ones((len(xs), 1))])
        fit = a @ np.linalg.lstsq(a, ys, rcond=None)[0]
        sel = rng.choice(len(ys), size=min(3000, len(ys)), replace=False)
        return {"fit": fit[sel], "stack": ys[sel], "range": (float(ys.min()), float(ys.max()))}

    def draw(self, res: Result, ctx: Context) -> None:
        """Parameters and MACs of the bottleneck against two 3x3 convs, and the 1x1-ReLU-1x1 stack against the
        best single 1x1 conv."""
        (_, c2_params, c2_macs), (_, cb_params, cb_macs) = res.tables[0].rows
        saving_p, res_relu = res.figures["bottleneck_param_saving"].value, res.figures["relu_stack_residual"].value
        scatter = res.series["scatter"]
        fig, axes = ctx.figure(1, 2, size=(9.5, 3.4))
        names = ["params", "MACs"]
        axes[0].bar(np.arange(2) - 0.2, [c2_params, c2_macs], 0.4, label="two 3x3 convs at 256 ch")
        axes[0].bar(np.arange(2) + 0.2, [cb_params, cb_macs], 0.4, label="bottleneck 1x1-3x3-1x1")
        axes[0].set_yscale("log")
        axes[0].set_xticks(range(2), names)
        axes[0].set(title=tr(f"56x56x256: bottleneck saves {saving_p:.1f}x",
                             f"56x56x256：瓶颈结构节省 {saving_p:.1f} 倍"), ylabel="count (log)")
        axes[0].legend()
        axes[1].plot(scatter["fit"], scatter["stack"], ".", ms=2, alpha=0.4, label="1x1 -> ReLU -> 1x1")
        lo, hi = scatter["range"]
        axes[1].plot([lo, hi], [lo, hi], "k:", label="y = x (perfect fit)")
        axes[1].set(xlabel="best single 1x1 conv", ylabel="stack output (channel 0)",
                    title=tr(f"1x1-ReLU-1x1 vs best single 1x1 (residual {res_relu:.2g})",
                             f"1x1-ReLU-1x1 与最佳单个 1x1（残差 {res_relu:.2g}）"))
        axes[1].legend()
        ctx.save_figure(fig, "pointwise", "Left: parameters and MACs of two 3x3 convs at 256 channels and of "
                        f"ResNet's 1x1-3x3-1x1 bottleneck (log scale), a {saving_p:.3g}x saving. Right: output of a "
                        f"1x1-ReLU-1x1 stack on a photo's pixels against the best single 1x1 conv, relative "
                        f"residual {res_relu:.2g}.",
                        "左：256 通道下两个 3x3 卷积与 ResNet 的 1x1-3x3-1x1 瓶颈结构的参数量和乘加次数"
                        f"（对数坐标），节省 {saving_p:.3g} 倍。右：照片像素经过 1x1-ReLU-1x1 的输出与最优单个 "
                        f"1x1 卷积的对比，相对残差 {res_relu:.2g}。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol, min_saving, min_res = (thresholds["equiv_rel_tol"], thresholds["min_saving"],
                                    thresholds["min_nonlinear_residual"])
        eq, mix, px = figures["linear_equiv_err"], figures["mixed_channel_share"], figures["support_pixels"]
        sp, sm, wp = figures["bottleneck_param_saving"], figures["bottleneck_mac_saving"], figures["widen_param_saving"]
        same = figures["same_size"]
        col, rl, rr = (figures["linear_stack_collapse_err"], figures["linear_stack_residual"],
                       figures["relu_stack_residual"])
        parts = {
            "shrink": (sp > min_saving and sm > min_saving, "shrinking before a 3x3 conv", "在 3x3 卷积前降维"),
            "widen": (wp > min_saving, "cheap widening", "廉价升维"),
            "mixing": (eq <= tol and mix >= 1.0 and px == 1 and same >= 1, "channel mixing at the same size",
                       "不改变尺寸的通道混合"),
            "nonlinear": (col <= tol and rl <= tol and rr >= min_res, "non-linearity through the activation",
                          "借助激活函数的非线性"),
        }
        held = [k for k, (ok, _, _) in parts.items() if ok]
        failed = [k for k in parts if k not in held]
        en = (f"Shrinking: the bottleneck needs {fmt(sp)}x fewer parameters and {fmt(sm)}x fewer MACs than two 3x3 "
              f"convs at 256 channels; widening 32 to 128 channels, a 3x3 conv needs {fmt(wp)}x the parameters of a "
              f"1x1 conv (each must exceed {fmt(min_saving)}). Mixing: a 1x1 conv equals a linear layer on each pixel "
              f"(relative error {fmt(eq)}, tolerance {fmt(tol)}); one output unit reads {fmt(100 * mix)}% of the "
              f"input channels at {fmt(px)} pixel; output size {'equals' if same >= 1 else 'differs from'} the "
              f"input's. Non-linearity: two 1x1 convs without an activation collapse into one (error {fmt(col)}; "
              f"best single 1x1 leaves {fmt(rl)}), with a ReLU between them the best single 1x1 conv leaves a "
              f"relative residual of {fmt(rr)} (required >= {fmt(min_res)}).")
        zh = (f"降维：瓶颈结构的参数量比 256 通道的两个 3x3 卷积少 {fmt(sp)} 倍，乘加次数少 {fmt(sm)} 倍；"
              f"把 32 通道扩到 128 通道时，3x3 卷积的参数量是 1x1 卷积的 {fmt(wp)} 倍（都须大于 {fmt(min_saving)}）。"
              f"混合：1x1 卷积等于逐像素的全连接层（相对误差 {fmt(eq)}，容差 {fmt(tol)}）；一个输出单元读取 "
              f"{fmt(100 * mix)}% 的输入通道，但只读 {fmt(px)} 个像素；"
              f"输出尺寸{'与输入相同' if same >= 1 else '与输入不同'}。"
              f"非线性：没有激活函数时两个 1x1 卷积合并为一个（误差 {fmt(col)}；最优单个 1x1 卷积的残差 {fmt(rl)}），"
              f"中间加 ReLU 后最优单个 1x1 卷积仍有 {fmt(rr)} 的相对残差（要求 >= {fmt(min_res)}）。")
        if failed:
            en += (f" Holds: {', '.join(parts[k][1] for k in held) or 'none'}; does not hold: "
                   f"{', '.join(parts[k][1] for k in failed)}.")
            zh += (f"成立：{'、'.join(parts[k][2] for k in held) or '无'}；"
                   f"不成立：{'、'.join(parts[k][2] for k in failed)}。")
        else:
            en += " All four parts hold."
            zh += "四个部分都成立。"
        return verdict_if(not failed, nuanced=bool(held)), evidence(en=en, zh=zh)
