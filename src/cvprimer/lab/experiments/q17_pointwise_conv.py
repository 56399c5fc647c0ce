"""Question 17: what a 1x1 convolution does — per-pixel channel mixing, cheap bottlenecks, and (only with an
activation after it) extra non-linearity.

Measured: a 1x1 conv equals a linear layer applied to every pixel's channel vector (max abs error on a real
photograph); the output unit of a 1x1 conv depends on all input channels at exactly one pixel (autograd);
the parameters and MACs of ResNet's bottleneck (1x1 256->64, 3x3 64->64, 1x1 64->256) against two 3x3 convs at
256 channels (analyzer); two stacked 1x1 convs without an activation collapse into one 1x1 conv (exactly),
while with a ReLU between them the best single 1x1 conv (least squares) leaves a large residual.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.lab._convnets import cost, input_support
from cvprimer.lab.common import sample_photo
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if


def bottleneck() -> nn.Sequential:
    """ResNet-50's bottleneck convs at 256 channels (no BN/bias, which do not change the comparison)."""
    return nn.Sequential(nn.Conv2d(256, 64, 1, bias=False), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1, bias=False),
                         nn.ReLU(), nn.Conv2d(64, 256, 1, bias=False))


def two_3x3() -> nn.Sequential:
    """ResNet-18/34's basic block convs, at 256 channels."""
    return nn.Sequential(nn.Conv2d(256, 256, 3, padding=1, bias=False), nn.ReLU(),
                         nn.Conv2d(256, 256, 3, padding=1, bias=False))


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
    stochastic = False
    thresholds = {"equiv_rel_tol": 1e-5, "min_saving": 5.0, "min_nonlinear_residual": 0.05}
    text = {
        "en": {
            "title": "The 1x1 convolution: channel mixing, bottlenecks, non-linearity",
            "claim": "A 1x1 convolution shrinks or widens the channel count cheaply (ResNet's bottleneck, the "
                     "pointwise step of MobileNet and ShuffleNet), mixes information across channels without "
                     "touching the spatial resolution, and, together with the activation that follows it, adds "
                     "non-linearity.",
            "method": "Compare a 1x1 conv with a linear layer applied to each pixel of a real photograph; find by "
                      "autograd which inputs one output unit depends on; count the bottleneck's and two 3x3 convs' "
                      "parameters and MACs with the analyzer at 56x56; stack two 1x1 convs with and without a ReLU "
                      "and measure how well the best single 1x1 conv (least squares) reproduces each stack.",
        },
        "zh": {
            "title": "1x1 卷积：通道混合、瓶颈结构与非线性",
            "claim": "1x1 卷积能以很少的代价减少或增加通道数（ResNet 的瓶颈结构、MobileNet 和 "
                     "ShuffleNet 中的逐点卷积），在不改变空间分辨率的前提下混合各通道的信息；"
                     "再配合其后的激活函数，还能增加网络的非线性。",
            "method": "在一张真实照片上比较 1x1 卷积与逐像素作用的全连接层；用自动求导找出一个输出单元"
                      "依赖哪些输入；用分析器在 56x56 上统计瓶颈结构与两个 3x3 卷积的参数量和乘加次数；"
                      "把两个 1x1 卷积叠起来（中间有或没有 ReLU），衡量最优的单个 1x1 卷积（最小二乘）"
                      "能在多大程度上重现它们。",
        },
    }

    def run(self, ctx: Context) -> Result:
        rng = np.random.default_rng(17)
        photo = sample_photo(1)[:, ::ctx.pick(4, 1), ::ctx.pick(4, 1)]  # (3, H, W) in [0, 1]
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

        fig, axes = ctx.figure(1, 2, size=(9.5, 3.4))
        names = ["params", "MACs"]
        axes[0].bar(np.arange(2) - 0.2, [c2["params"], c2["macs"]], 0.4, label="two 3x3 convs at 256 ch")
        axes[0].bar(np.arange(2) + 0.2, [cb["params"], cb["macs"]], 0.4, label="bottleneck 1x1-3x3-1x1")
        axes[0].set_yscale("log")
        axes[0].set_xticks(range(2), names)
        axes[0].set(title=f"56x56x256: bottleneck saves {saving_p:.1f}x", ylabel="count (log)")
        axes[0].legend()
        ys = np.moveaxis(relu_stack, 1, -1).reshape(-1, 3)[:, 0]
        xs = np.moveaxis(x64, 1, -1).reshape(-1, 3)
        a = np.hstack([xs, np.ones((len(xs), 1))])
        fit = a @ np.linalg.lstsq(a, ys, rcond=None)[0]
        sel = rng.choice(len(ys), size=min(3000, len(ys)), replace=False)
        axes[1].plot(fit[sel], ys[sel], ".", ms=2, alpha=0.4, label="1x1 -> ReLU -> 1x1")
        lo, hi = float(ys.min()), float(ys.max())
        axes[1].plot([lo, hi], [lo, hi], "k:", label="y = x (perfect fit)")
        axes[1].set(xlabel="best single 1x1 conv", ylabel="stack output (channel 0)",
                    title="with a ReLU no single 1x1 conv fits")
        axes[1].legend()
        ctx.save_figure(fig, "pointwise", "Left: parameters and MACs of two 3x3 convs at 256 channels and of "
                        "ResNet's 1x1-3x3-1x1 bottleneck (log scale). Right: output of a 1x1-ReLU-1x1 stack on a "
                        "photo's pixels against the best single 1x1 conv; the points leave the diagonal.",
                        "左：256 通道下两个 3x3 卷积与 ResNet 的 1x1-3x3-1x1 瓶颈结构的参数量和乘加次数"
                        "（对数坐标）。右：照片像素经过 1x1-ReLU-1x1 的输出与最优单个 1x1 卷积的对比，"
                        "点偏离了对角线。")
        return Result(
            figures={
                "linear_equiv_err": Figure(equiv, "relative"),
                "mixed_channel_share": Figure(mixed, "share"),
                "support_pixels": Figure(support_px, "px"),
                "bottleneck_param_saving": Figure(saving_p, "x"),
                "bottleneck_mac_saving": Figure(saving_m, "x"),
                "linear_stack_collapse_err": Figure(collapse, "relative"),
                "linear_stack_residual": Figure(res_lin, "relative"),
                "relu_stack_residual": Figure(res_relu, "relative"),
            },
            tables=[Table("bottleneck", ["block (56x56x256)", "params", "MACs"],
                          [["two 3x3 convs", c2["params"], c2["macs"]],
                           ["1x1 256->64, 3x3 64->64, 1x1 64->256", cb["params"], cb["macs"]]],
                          {"en": "Analyzer counts, no bias.", "zh": "分析器统计，不含偏置。"})],
        )

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol, min_saving, min_res = (thresholds["equiv_rel_tol"], thresholds["min_saving"],
                                    thresholds["min_nonlinear_residual"])
        eq, mix, px = figures["linear_equiv_err"], figures["mixed_channel_share"], figures["support_pixels"]
        sp, sm = figures["bottleneck_param_saving"], figures["bottleneck_mac_saving"]
        col, rl, rr = (figures["linear_stack_collapse_err"], figures["linear_stack_residual"],
                       figures["relu_stack_residual"])
        mixing = eq <= tol and mix >= 1.0 and px == 1
        saving = sp >= min_saving and sm >= min_saving
        linear_alone = col <= tol and rl <= tol
        nonlinear = rr >= min_res
        en = (f"A 1x1 conv equals a linear layer on each pixel (relative error {fmt(eq)}, tolerance {fmt(tol)}); "
              f"one output unit reads {fmt(100 * mix)}% of the input channels at {fmt(px)} pixel. The bottleneck "
              f"needs {fmt(sp)}x fewer parameters and {fmt(sm)}x fewer MACs than two 3x3 convs at 256 channels "
              f"(required >= {fmt(min_saving)}x). Two 1x1 convs without an activation collapse into one (error "
              f"{fmt(col)}; best single 1x1 leaves {fmt(rl)} residual), so the 1x1 conv itself adds no "
              f"non-linearity; with a ReLU between them the best single 1x1 conv leaves a relative residual "
              f"of {fmt(rr)} (required >= {fmt(min_res)}): the non-linearity comes from the activation.")
        zh = (f"1x1 卷积等于逐像素的全连接层（相对误差 {fmt(eq)}，容差 {fmt(tol)}）；一个输出单元读取 "
              f"{fmt(100 * mix)}% 的输入通道，但只读 {fmt(px)} 个像素。瓶颈结构的参数量比 256 通道的两个 "
              f"3x3 卷积少 {fmt(sp)} 倍，乘加次数少 {fmt(sm)} 倍（要求 >= {fmt(min_saving)} 倍）。"
              f"没有激活函数时两个 1x1 卷积合并为一个（误差 {fmt(col)}；最优单个 1x1 卷积的残差 "
              f"{fmt(rl)}），所以 1x1 卷积本身不增加非线性；中间加 ReLU 后，最优单个 1x1 卷积仍有 "
              f"{fmt(rr)} 的相对残差（要求 >= {fmt(min_res)}）：非线性来自激活函数。")
        ok = mixing and saving and linear_alone
        if ok and not nonlinear:
            en += " Here the activation added too little non-linearity to measure."
            zh += " 这里激活函数带来的非线性太小，测不出来。"
        return verdict_if(ok and nonlinear, nuanced=ok), evidence(en=en, zh=zh)
