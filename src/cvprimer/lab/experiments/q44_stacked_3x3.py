"""Question 44: why VGG stacks 3x3 convolutions — two 3x3 layers against one 5x5 layer.

Measured: the receptive field of both (analyzer, and the input region that reaches one output unit by
autograd), the parameters (``18 C^2`` vs ``25 C^2``, ratio 0.72) and MACs from the analyzer, the number of
non-linearities (2 vs 1), and the validation accuracy of two small CNNs on the MNIST sample that differ only
in that choice (widths equal, so the parameter ratio holds inside the nets too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import nn
from cvprimer.lab._convnets import cost, input_support, mnist_net, train_nets
from cvprimer.lab.common import load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

WIDTHS = (16, 16, 16)


def stacked_block(ci: int, co: int) -> list[Any]:
    """Two 3x3 convs with BN and a ReLU between them (the second ReLU comes from the net)."""
    return [nn.Conv2d(ci, co, 3, padding=1, bias=False), nn.BatchNorm2d(co), nn.ReLU(),
            nn.Conv2d(co, co, 3, padding=1, bias=False), nn.BatchNorm2d(co)]


def big_block(ci: int, co: int) -> list[Any]:
    """One 5x5 conv with BN."""
    return [nn.Conv2d(ci, co, 5, padding=2, bias=False), nn.BatchNorm2d(co)]


def _support_side(model: Any, c: int) -> int:
    """Side of the square input region that reaches the centre output unit (autograd)."""
    x = np.random.default_rng(0).standard_normal((1, c, 15, 15))
    model = model.double()
    g = input_support(model, x, (0, 0, 7, 7)).sum((0, 1)) > 0
    rows, cols = np.nonzero(g)
    return int(max(rows.max() - rows.min(), cols.max() - cols.min()) + 1)


class Stacked3x3(Experiment):
    id = "q44-stacked-3x3"
    questions = (44,)
    topic = "architecture"
    thresholds = {"param_ratio": 0.72, "min_acc_gain": 0.01}
    text = {
        "en": {
            "title": "Two 3x3 convolutions vs one 5x5",
            "claim": "Two stacked 3x3 convolutions see the same 5x5 input region as one 5x5 convolution with fewer "
                     "parameters, and their extra non-linearity makes the network more discriminative.",
            "method": "Measure the receptive field of both (analyzer and autograd), their parameters and MACs at "
                      "64 channels (analyzer), and count the activations. Then train two small CNNs on a stratified "
                      "MNIST-sample split from the same seed, identical except that each of their two middle stages "
                      "is either two 3x3 convs or one 5x5 conv, and compare validation accuracy (several seeds in "
                      "full mode).",
        },
        "zh": {
            "title": "两个 3x3 卷积与一个 5x5 卷积",
            "claim": "两个串联的 3x3 卷积与一个 5x5 卷积看到同样 5x5 的输入区域，但参数更少；"
                     "多出的一层非线性让网络的判别能力更强。",
            "method": "用分析器和自动求导测量两者的感受野，用分析器统计 64 通道下的参数量和乘加次数，"
                      "并数出激活函数个数。再从同一随机种子在 MNIST 样本的分层划分上训练两个小型 CNN，"
                      "两者只在中间两级上不同：两个 3x3 卷积或一个 5x5 卷积，比较验证集精度"
                      "（完整模式下跑多个种子）。",
        },
    }

    def run(self, ctx: Context) -> Result:
        c = 64
        s3, s5 = nn.Sequential(*stacked_block(c, c), nn.ReLU()), nn.Sequential(*big_block(c, c), nn.ReLU())
        s3.eval()
        s5.eval()
        k3, k5 = cost(s3, (1, c, 32, 32)), cost(s5, (1, c, 32, 32))
        conv_params = {n: sum(m.weight.data.size for m in s if isinstance(m, nn.Conv2d))
                       for n, s in (("3", s3), ("5", s5))}
        acts = {n: sum(isinstance(m, nn.ReLU) for m in s) for n, s in (("3", s3), ("5", s5))}
        p3, p5 = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1)), \
            nn.Conv2d(4, 4, 5, padding=2)
        cp.manual_seed(ctx.seed)
        side3, side5 = _support_side(p3, 4), _support_side(p5, 4)

        data = load_data("mnist_sample", ctx.pick(800, 3500), 1000, ctx.rng, standardize=True)
        builders = {"two 3x3": lambda: mnist_net(stacked_block, WIDTHS),
                    "one 5x5": lambda: mnist_net(big_block, WIDTHS)}
        fits = train_nets(builders, data, ctx.pick(3, 8), ctx.seed, ctx.rng, lr=1e-2)
        acc = {k: f.val_acc for k, f in fits.items()}
        net_params = {k: cost(b(), (1, 1, 28, 28))["params"] for k, b in builders.items()}

        fig, ax = ctx.figure(1, 1, size=(5.2, 3.4))
        for k, f in fits.items():
            ax.plot(range(1, len(f.history) + 1), f.curve("val_acc"), marker="o",
                    label=f"{k} ({net_params[k]:,} params)")
        ax.set(xlabel="epoch", ylabel="validation accuracy", title="MNIST sample: stacked 3x3 vs 5x5 stages")
        ax.legend()
        ctx.save_figure(fig, "accuracy", "Validation accuracy per epoch of two small CNNs on the MNIST sample whose "
                        "middle stages are two 3x3 convs or one 5x5 conv.",
                        "两个小型 CNN 在 MNIST 样本上每轮的验证精度，它们的中间两级分别是两个 3x3 卷积"
                        "或一个 5x5 卷积。")
        rows = [["two 3x3", conv_params["3"], k3["macs"], k3["rf"], side3, acts["3"]],
                ["one 5x5", conv_params["5"], k5["macs"], k5["rf"], side5, acts["5"]]]
        return Result(
            figures={
                "rf_two_3x3": Figure(k3["rf"], "px"), "rf_one_5x5": Figure(k5["rf"], "px"),
                "support_two_3x3": Figure(side3, "px"), "support_one_5x5": Figure(side5, "px"),
                "param_ratio": Figure(conv_params["3"] / conv_params["5"], "3x3/5x5"),
                "mac_ratio": Figure(k3["macs"] / k5["macs"], "3x3/5x5"),
                "acc_two_3x3": Figure(acc["two 3x3"], "accuracy"), "acc_one_5x5": Figure(acc["one 5x5"], "accuracy"),
            },
            tables=[Table("geometry", ["block (64 ch, 32x32)", "conv params", "MACs", "RF (analyzer)",
                                       "RF (autograd)", "ReLUs"], rows,
                          {"en": "Receptive field in input pixels; parameters of the conv weights.",
                           "zh": "感受野以输入像素计；参数量为卷积权重。"})],
        )

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        r3, r5 = figures["rf_two_3x3"], figures["rf_one_5x5"]
        s3, s5 = figures["support_two_3x3"], figures["support_one_5x5"]
        pr, mr, want = figures["param_ratio"], figures["mac_ratio"], thresholds["param_ratio"]
        a3, a5, gain_min = figures["acc_two_3x3"], figures["acc_one_5x5"], thresholds["min_acc_gain"]
        gain = a3 - a5
        geometry = r3 == r5 == s3 == s5 == 5 and abs(pr - want) <= 1e-9
        en = (f"Both see a {fmt(r3)}x{fmt(r3)} field (analyzer) and autograd finds input regions of {fmt(s3)} and "
              f"{fmt(s5)} pixels across; the stacked pair has {fmt(pr)}x the parameters of the 5x5 conv "
              f"(18C^2/25C^2 = {fmt(want)}) and {fmt(mr)}x its MACs, with two ReLUs instead of one. On the MNIST "
              f"sample the stacked-3x3 net reached {fmt(a3)} validation accuracy and the 5x5 net {fmt(a5)} (gain "
              f"{fmt(gain)}; a gain of at least {fmt(gain_min)} was required to credit the extra non-linearity).")
        zh = (f"两者的感受野都是 {fmt(r3)}x{fmt(r3)}（分析器），自动求导得到的输入区域宽度分别为 {fmt(s3)} 和 "
              f"{fmt(s5)} 像素；两个 3x3 的参数量是 5x5 的 {fmt(pr)} 倍（18C^2/25C^2 = {fmt(want)}），"
              f"乘加次数是 {fmt(mr)} 倍，且有两个 ReLU 而不是一个。在 MNIST 样本上，3x3 堆叠网络的验证精度为 "
              f"{fmt(a3)}，5x5 网络为 {fmt(a5)}（提升 {fmt(gain)}；至少提升 {fmt(gain_min)} 才算额外非线性带来的"
              f"好处）。")
        if geometry and gain < gain_min:
            en += (" The field and the parameter saving hold exactly; the accuracy benefit of the extra "
                   "non-linearity is not visible at this scale: the nets are equally good within the margin or "
                   "the 5x5 one is better.")
            zh += (" 感受野和参数节省完全成立；但在这个规模上看不到额外非线性带来的精度提升："
                   "两个网络在误差范围内相当，或 5x5 更好。")
        return verdict_if(geometry and gain >= gain_min, nuanced=geometry), evidence(en=en, zh=zh)
