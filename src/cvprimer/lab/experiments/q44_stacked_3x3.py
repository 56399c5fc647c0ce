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
from cvprimer.lab.plots import tr, tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "MNIST sample: stacked 3x3 vs 5x5 stages": "MNIST 样本：堆叠 3x3 与 5x5 阶段",
})

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
    reachable = ("confirmed", "nuanced", "refuted")
    thresholds = {"max_param_ratio": 1.0, "min_acc_gain": 0.05}
    reasons = {
        "max_param_ratio": {"en": "the seed's word 'fewer': the stacked pair must have strictly fewer conv weights "
                                  "than the 5x5 conv (ratio below 1; theory gives 18/25 = 0.72)",
                            "zh": "原文的“更少”：两个 3x3 的卷积权重必须严格少于一个 5x5（比值小于 1；理论值 "
                                  "18/25 = 0.72）"},
        "min_acc_gain": {"en": "measured noise floor: the per-seed accuracy gain (3x3 minus 5x5) had an across-seed "
                               "standard deviation of 0.035 in quick mode and 0.003 in full mode (3 seeds each); a "
                               "gain counts only from 0.05, above the larger spread, so one lucky seed cannot credit "
                               "the non-linearity",
                         "zh": "实测噪声：每个随机种子的精度提升（3x3 减 5x5）的跨随机种子标准差在快速模式为 0.035、"
                               "完整模式为 "
                               "0.003（各 3 个随机种子）；提升至少 0.05（高于较大的标准差）才算数，单个幸运随机种子不"
                               "能把功劳"
                               "记给额外的非线性"},
    }
    key_term = {"en": "stacked 3x3 convolutions (VGG)", "zh": "堆叠 3x3 卷积（VGG）"}
    key_figure = "param_ratio"
    answer = {
        "confirmed": {
            "en": "Yes: two 3x3 convolutions see the same 5x5 field with {param_ratio}x the weights of one "
                  "5x5, and the extra non-linearity raised accuracy ({acc_two_3x3} against {acc_one_5x5}).",
            "zh": "是的：两个 3x3 卷积看到与一个 5x5 相同的感受野，权重只有其 {param_ratio} 倍，"
                  "额外的非线性也提高了准确率（{acc_two_3x3} 对 {acc_one_5x5}）。"},
        "nuanced": {
            "en": "Only part of the claim held: the stacked pair saw {rf_two_3x3} px against {rf_one_5x5} px "
                  "for the 5x5, with {param_ratio}x its weights, and reached {acc_two_3x3} against "
                  "{acc_one_5x5}. State the field, the parameters and the accuracy separately.",
            "zh": "说法只部分成立：两个 3x3 的感受野为 {rf_two_3x3} 像素，5x5 为 {rf_one_5x5} 像素，"
                  "权重是其 {param_ratio} 倍，准确率 {acc_two_3x3} 对 {acc_one_5x5}。回答时分别说明感受野、"
                  "参数量和准确率。"},
        "refuted": {
            "en": "The stack did not match the claim here (weight ratio {param_ratio}x, accuracy {acc_two_3x3} "
                  "against {acc_one_5x5}).",
            "zh": "这里堆叠结构与说法不符（权重之比 {param_ratio} 倍，准确率 {acc_two_3x3} 对 {acc_one_5x5}）。"},
        "nuanced:no_gain": {
            "en": "Two 3x3 convolutions cover the same 5x5 field with {param_ratio}x the weights, but the "
                  "extra non-linearity did not make this small net more accurate ({acc_two_3x3} against "
                  "{acc_one_5x5}); quote the saving, not a guaranteed gain.",
            "zh": "两个 3x3 卷积以 {param_ratio} 倍的权重覆盖相同的 5x5 感受野，"
                  "但额外的非线性并没有让这个小网络更准确（{acc_two_3x3} 对 {acc_one_5x5}）；回答时讲参数节省，"
                  "而不是保证精度提升。"},
    }
    text = {
        "en": {
            "title": "Two 3x3 convolutions vs one 5x5",
            "claim": "Two stacked 3x3 convolutions see the same 5x5 input region as one 5x5 convolution with fewer "
                     "parameters, and their extra non-linearity makes the network more discriminative.",
            "method": "Measure the receptive field of both (analyzer and autograd), their parameters and MACs at "
                      "64 channels (analyzer), and count the activations. Then train two small CNNs on a stratified "
                      "MNIST-sample split from the same seed on the same batches (Adam, lr 1e-2), identical except "
                      "that each of their two middle stages is either two 3x3 convs or one 5x5 conv, and compare "
                      "validation accuracy; every seed decides on its own pair of nets.",
            "beyond": "The ratio of multiply-accumulates of the two blocks at 64 channels on a 32x32 map.",
        },
        "zh": {
            "title": "两个 3x3 卷积与一个 5x5 卷积",
            "claim": "两个串联的 3x3 卷积与一个 5x5 卷积看到同样 5x5 的输入区域，但参数更少；"
                     "多出的一层非线性让网络的判别能力更强。",
            "method": "用分析器和自动求导测量两者的感受野，用分析器统计 64 通道下的参数量和乘加次数，"
                      "并数出激活函数个数。再从同一随机种子在 MNIST 样本的分层划分上训练两个小型 CNN，"
                      "两者使用相同的批次（Adam，学习率 1e-2），只在中间两级上不同：两个 3x3 卷积或一个 5x5 卷积，"
                      "比较验证集精度；每个随机种子各自根据自己的一对网络作出判断。",
            "beyond": "两种模块在 64 通道、32x32 特征图上的乘加次数之比。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "rf_{k}": {"en": "receptive field, {k}", "zh": "感受野（{k}）"},
        "support_{k}": {"en": "pixels read, {k}", "zh": "读取的像素（{k}）"},
        "acc_{k}": {"en": "val accuracy, {k}", "zh": "验证准确率（{k}）"},
        "param_ratio": {"en": "parameters, two 3x3 / one 5x5", "zh": "参数量（两个 3x3 / 一个 5x5）"},
        "mac_ratio": {"en": "MACs, two 3x3 / one 5x5", "zh": "乘加次数（两个 3x3 / 一个 5x5）"},
    }
    terms = {
        "two_3x3": {"en": "two 3x3 convs", "zh": "两个 3x3 卷积"},
        "one_5x5": {"en": "one 5x5 conv", "zh": "一个 5x5 卷积"},
    }

    def measure(self, ctx: Context) -> Result:
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

        data = load_data("mnist_sample", ctx.pick(800, 3500, tiny=100), ctx.pick(1000, 1000, tiny=100), ctx.rng,
                         standardize=True)
        builders = {"two 3x3": lambda: mnist_net(stacked_block, WIDTHS),
                    "one 5x5": lambda: mnist_net(big_block, WIDTHS)}
        fits = train_nets(builders, data, ctx.pick(3, 8, tiny=1), ctx.seed, ctx.rng, lr=1e-2)
        acc = {k: f.val_acc for k, f in fits.items()}
        net_params = {k: cost(b(), (1, 1, 28, 28))["params"] for k, b in builders.items()}

        rows = [["two 3x3", conv_params["3"], k3["macs"], k3["rf"], side3, acts["3"]],
                ["one 5x5", conv_params["5"], k5["macs"], k5["rf"], side5, acts["5"]]]
        return Result(
            figures={
                "rf_two_3x3": Figure(k3["rf"], "px"), "rf_one_5x5": Figure(k5["rf"], "px"),
                "support_two_3x3": Figure(side3, "px"), "support_one_5x5": Figure(side5, "px"),
                "param_ratio": Figure(conv_params["3"] / conv_params["5"], "3x3/5x5"),
                "acc_two_3x3": Figure(acc["two 3x3"], "accuracy"), "acc_one_5x5": Figure(acc["one 5x5"], "accuracy"),
            },
            beyond={"mac_ratio": Figure(k3["macs"] / k5["macs"], "3x3/5x5")},
            tables=[Table("geometry", ["block (64 ch, 32x32)", "conv params", "MACs", "RF (analyzer)",
                                       "RF (autograd)", "ReLUs"], rows,
                          {"en": "Receptive field in input pixels; parameters of the conv weights.",
                           "zh": "感受野以输入像素计；参数量为卷积权重。"})],
            series={"curves": {k: f.curve("val_acc") for k, f in fits.items()}, "net_params": net_params},
        )

    def draw(self, res: Result, ctx: Context) -> None:
        net_params = res.series["net_params"]
        fig, ax = ctx.figure(1, 1, size=(5.2, 3.4))
        for k, curve in res.series["curves"].items():
            ax.plot(range(1, len(curve) + 1), curve, marker="o",
                    label=tr(f"{k} ({net_params[k]:,} params)", f"{k}（{net_params[k]:,} 个参数）"))
        ax.set(xlabel="epoch", ylabel="validation accuracy", title="MNIST sample: stacked 3x3 vs 5x5 stages")
        ax.legend()
        ctx.save_figure(fig, "accuracy", "Validation accuracy per epoch of two small CNNs on the MNIST sample whose "
                        "middle stages are two 3x3 convs or one 5x5 conv.",
                        "两个小型 CNN 在 MNIST 样本上每轮的验证精度，它们的中间两级分别是两个 3x3 卷积"
                        "或一个 5x5 卷积。")

    @classmethod
    def takeaway_case(cls, figures: Mapping[str, float], verdict: str) -> str:
        """``no_gain`` when only 'more discriminative' failed (the comparisons of ``decide``)."""
        f = figures
        same = f["rf_two_3x3"] == f["rf_one_5x5"] == f["support_two_3x3"] == f["support_one_5x5"]
        fewer = f["param_ratio"] < cls.thresholds["max_param_ratio"]
        better = f["acc_two_3x3"] - f["acc_one_5x5"] >= cls.thresholds["min_acc_gain"]
        return "no_gain" if same and fewer and not better else ""

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        r3, r5 = figures["rf_two_3x3"], figures["rf_one_5x5"]
        s3, s5 = figures["support_two_3x3"], figures["support_one_5x5"]
        pr, top = figures["param_ratio"], thresholds["max_param_ratio"]
        a3, a5, gain_min = figures["acc_two_3x3"], figures["acc_one_5x5"], thresholds["min_acc_gain"]
        gain = a3 - a5
        same = r3 == r5 and s3 == s5 and r3 == s3  # analyzer and autograd agree, both blocks alike
        fewer = pr < top
        better = gain >= gain_min
        held = [same, fewer, better]
        yes = {True: ("holds", "成立"), False: ("fails", "不成立")}
        en = (f"Receptive field: the analyzer gives {fmt(r3)} px for two 3x3 and {fmt(r5)} px for one 5x5, autograd "
              f"finds input regions {fmt(s3)} and {fmt(s5)} px across, so 'the same field' {yes[same][0]}. "
              f"Parameters: the stacked pair has {fmt(pr)}x the conv weights of the 5x5 (fewer means below "
              f"{fmt(top)}), so 'fewer parameters' {yes[fewer][0]}. Discrimination: the stacked-3x3 net reached "
              f"{fmt(a3)} validation accuracy and the 5x5 net {fmt(a5)} (gain {fmt(gain)}; at least {fmt(gain_min)}, "
              f"above the across-seed spread, is needed), so 'more discriminative' {yes[better][0]}. "
              f"{sum(held)} of the seed's 3 claims hold.")
        zh = (f"感受野：分析器给出两个 3x3 为 {fmt(r3)} 像素、一个 5x5 为 {fmt(r5)} 像素，自动求导得到的输入区域宽度为 "
              f"{fmt(s3)} 和 {fmt(s5)} 像素，因此“感受野相同”{yes[same][1]}。参数：两个 3x3 的卷积权重是 5x5 的 "
              f"{fmt(pr)} 倍（“更少”指小于 {fmt(top)}），因此“参数更少”{yes[fewer][1]}。判别能力：3x3 堆叠网络的"
              f"验证精度为 {fmt(a3)}，5x5 网络为 {fmt(a5)}（提升 {fmt(gain)}；需至少 {fmt(gain_min)}，高于跨随机种子"
              f"波动），因此“判别能力更强”{yes[better][1]}。原文 3 条说法中有 {sum(held)} 条成立。")
        return verdict_if(all(held), nuanced=any(held)), evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        m = fmt(beyond["mac_ratio"])
        return {"en": f"At 64 channels on a 32x32 map the stacked pair needs {m}x the multiply-accumulates of the "
                      f"5x5 conv.",
                "zh": f"在 64 通道、32x32 特征图上，两个 3x3 的乘加次数是一个 5x5 的 {m} 倍。"}
