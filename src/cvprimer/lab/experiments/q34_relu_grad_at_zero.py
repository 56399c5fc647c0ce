"""Question 34: ReLU is not differentiable at 0, so why does training work, and does the chosen slope matter?

Measured on the MNIST sample with a small CNN whose ReLUs count the pre-activations that are *exactly* 0
during training: with bias-free convolutions, with zero-initialized biases and with the default (random)
bias initialization, plus a fully connected layer with a zero bias and a ReLU applied to a ReLU's output.
Each net is then trained three times from the same initialization and the same batches with the slope at 0
set to 0, 0.5 and 1 (``nn.ReLU(grad_at_zero=...)``), and the final weights and accuracies are compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import nn
from cvprimer.core.tensor import Tensor
from cvprimer.lab.common import fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr, tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "ReLU inputs exactly 0 (%)": "恰为 0 的 ReLU 输入（%）",
    "Exact zeros at the ReLU inputs during training": "训练中 ReLU 输入恰为零的情况",
    "Same weights and batches, three slopes at 0": "相同权重和批次，零点处三种斜率",
    "bias-free conv": "无偏置卷积",
    "bias-free conv, conv1": "无偏置卷积，conv1",
    "bias-free conv, conv2": "无偏置卷积，conv2",
    "default bias init\n(no exact zero: one run)": "默认偏置初始化\n（没有恰为零的输入：只跑一次）",
    "default bias init, conv1": "默认偏置初始化，conv1",
    "default bias init, conv2": "默认偏置初始化，conv2",
    "zero-initialized bias": "零初始化偏置",
    "zero-initialized bias, conv1": "零初始化偏置，conv1",
    "zero-initialized bias, conv2": "零初始化偏置，conv2",
})

SLOPES = (0.0, 0.5, 1.0)
BIASES = ("none", "zero", "default")


class CountingReLU(nn.ReLU):
    """``nn.ReLU`` that records, for every training forward, the share of its inputs that are exactly 0."""

    def __init__(self, grad_at_zero: float = 0.0) -> None:
        super().__init__(grad_at_zero=grad_at_zero)
        self.fractions: list[float] = []

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            self.fractions.append(float(np.count_nonzero(x.data == 0) / x.data.size))
        return super().forward(x)


def small_cnn(bias: str, grad_at_zero: float, seed: int, widths: tuple[int, int] = (8, 16)) -> Any:
    """conv3x3-ReLU-maxpool twice and a linear classifier for 1x28x28 inputs. ``bias``: ``"none"``
    (bias-free convolutions), ``"zero"`` (biases initialized to 0) or ``"default"`` (the usual uniform init).
    The same ``seed`` gives the same weights whatever ``grad_at_zero`` is."""
    c1, c2 = widths
    cp.manual_seed(seed)
    has_bias = bias != "none"
    model = nn.Sequential(nn.Conv2d(1, c1, 3, padding=1, bias=has_bias), CountingReLU(grad_at_zero), nn.MaxPool2d(2),
                          nn.Conv2d(c1, c2, 3, padding=1, bias=has_bias), CountingReLU(grad_at_zero),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(c2 * 49, 10))
    if bias == "zero":
        for layer in (model[0], model[3]):
            layer.bias.data[...] = 0.0
    return model


def max_weight_difference(a: Any, b: Any) -> float:
    """Largest absolute difference between corresponding parameters of two models of one architecture."""
    return max(float(np.abs(p.data - q.data).max()) for p, q in zip(a.parameters(), b.parameters(), strict=True))


class ReLUGradAtZero(Experiment):
    id = "q34-relu-grad-at-zero"
    questions = (34,)
    topic = "activation"
    stochastic = True
    thresholds = {"rare_pct": 1.0, "matter_pts": 2.0}
    reasons = {
        "rare_pct": {"en": "Convention: 'very rare' read as under 1 in 100 ReLU inputs; the measured shares sit far "
                           "from it on both sides (0% with the default bias init, about 68% and 38% with bias-free "
                           "convolutions in quick mode, seeds 0-2).",
                     "zh": "约定：把“极少”理解为少于百分之一的 ReLU 输入；实测比例离它两边都很远（快速模式随机种"
                           "子 0-2："
                           "默认偏置初始化为 0%，卷积无偏置时约 68% 和 38%）。"},
        "matter_pts": {"en": "Noise floor: the range over three batch orders (measured in the same run) is subtracted "
                             "first; the excess of the slope range over it varied by about 0.7 points (sd) across "
                             "seeds 0-2 in quick mode, so 2 points is about three standard deviations.",
                       "zh": "噪声下限：先减去同一次运行中三种批次顺序下的准确率极差；快速模式随机种子 0-2 中斜率极差"
                             "超出"
                             "它的部分标准差约 0.7 个百分点，2 个百分点约为三倍标准差。"},
    }
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "the subgradient of ReLU at zero", "zh": "ReLU 在零点的次梯度"}
    key_figure = "max_zero_pct"
    answer = {
        "confirmed": {
            "en": "Yes: exact zeros at ReLU inputs were rare (at most {max_zero_pct}%) and the slope chosen at "
                  "0 did not change the result; frameworks take 0.",
            "zh": "是的：ReLU 输入恰为零的情况很少（最多 {max_zero_pct}%），零点处取哪个斜率不影响结果；"
                  "框架取 0。"},
        "nuanced": {
            "en": "Any value in [0, 1] is a valid subgradient and the choice barely moved the result, but "
                  "exact zeros are not always rare: with bias-free convolutions up to {max_zero_pct}% of the "
                  "ReLU inputs were exactly 0. Say the choice is harmless in practice, not that zeros never "
                  "occur.",
            "zh": "[0, 1] 中的任何值都是合法的次梯度，而且取哪个几乎不影响结果；但恰为零的输入并不总是罕见："
                  "无偏置卷积时多达 {max_zero_pct}% 的 ReLU 输入恰为 0。回答时说这种选择在实践中无害，"
                  "而不是说零从不出现。"},
        "refuted": {
            "en": "Exact zeros were common (up to {max_zero_pct}%) and the slope chosen at 0 changed the "
                  "result; the choice matters for such networks.",
            "zh": "恰为零的输入很常见（最多 {max_zero_pct}%），零点斜率的选择也改变了结果；"
                  "对这类网络来说这个选择是有影响的。"},
    }
    text = {
        "en": {
            "title": "ReLU at exactly 0: how often it happens and which slope to use",
            "claim": "ReLU has no derivative at 0, but any value in its subdifferential [0, 1] can be used "
                     "there; since a pre-activation is almost never exactly 0, the choice does not matter and "
                     "frameworks simply take 0.",
            "method": "Train a small CNN (two 3x3 convolutions with ReLU and max pooling) on the MNIST sample "
                      "and count, in every training batch, the ReLU inputs that are exactly 0: with bias-free "
                      "convolutions, with biases initialized to 0 and with the default bias initialization. "
                      "Train each variant three times from the same weights and batches with the slope at 0 set "
                      "to 0, 0.5 and 1 (our nn.ReLU(grad_at_zero=...)) and compare weights and validation "
                      "accuracy. Also count exact zeros entering a fully connected ReLU layer with a zero bias.",
            "beyond": "Exact zeros entering a ReLU applied to another ReLU's output, a case the seed does not "
                      "discuss.",
        },
        "zh": {
            "title": "ReLU 恰在 0 点：多常出现，斜率取多少",
            "claim": "ReLU 在 0 处不可导，但可以取次微分 [0, 1] 中的任意值；由于激活前的值几乎不会恰好为 0，"
                     "取哪个值无关紧要，框架一般直接取 0。",
            "method": "在 MNIST 样本上训练一个小型 CNN（两层 3x3 卷积，各接 ReLU 和最大池化），统计每个训练批次"
                      "中 ReLU 输入恰好为 0 的比例，分三种情况：卷积无偏置、偏置初始化为 0、默认偏置初始化。"
                      "每种情况用相同的初始权重和相同的批次各训练三次，0 点斜率分别设为 0、0.5 和 1（我们的 "
                      "nn.ReLU(grad_at_zero=...)），比较权重和验证准确率。另外统计偏置为 0 的全连接 ReLU 层"
                      "输入中恰好为 0 的比例。",
            "beyond": "“ReLU 接 ReLU”时输入中恰好为 0 的比例，这是原文没有讨论的情形。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "zero_pct_conv1_no_bias": {"en": "ReLU inputs exactly 0, conv1 without bias",
                                   "zh": "恰为 0 的 ReLU 输入（conv1，无偏置）"},
        "zero_pct_conv2_no_bias": {"en": "ReLU inputs exactly 0, conv2 without bias",
                                   "zh": "恰为 0 的 ReLU 输入（conv2，无偏置）"},
        "zero_pct_conv1_zero_bias_first_step": {"en": "ReLU inputs exactly 0, conv1 with zero bias, first step",
                                                "zh": "恰为 0 的 ReLU 输入（conv1，零偏置，第一步）"},
        "zero_pct_zero_bias_after_first_epoch": {"en": "ReLU inputs exactly 0, zero bias, after the first epoch",
                                                 "zh": "恰为 0 的 ReLU 输入（零偏置，第一轮之后）"},
        "zero_pct_default_bias": {"en": "ReLU inputs exactly 0, default bias", "zh": "恰为 0 的 ReLU 输入（默认偏置）"},
        "zero_pct_fc_zero_bias": {"en": "ReLU inputs exactly 0, linear layer with zero bias",
                                  "zh": "恰为 0 的 ReLU 输入（全连接层，零偏置）"},
        "zero_pct_relu_after_relu": {"en": "ReLU inputs exactly 0, ReLU after ReLU",
                                     "zh": "恰为 0 的 ReLU 输入（ReLU 之后再接 ReLU）"},
        "weight_diff_{b}": {"en": "largest weight difference, slope 0 vs 1 at zero, {b}",
                            "zh": "零点斜率取 0 与 1 的最大权重差（{b}）"},
        "val_acc_slope0": {"en": "val accuracy with slope 0 at zero", "zh": "零点斜率取 0 的验证准确率"},
    }
    terms = {
        "no_bias": {"en": "no bias", "zh": "无偏置"},
        "zero_bias": {"en": "zero bias", "zh": "零偏置"},
    }

    def measure(self, ctx: Context) -> Result:
        data = load_data("mnist_sample", ctx.pick(240, 3000, tiny=120), ctx.pick(240, 1000, tiny=60), ctx.rng)
        epochs = ctx.pick(2, 5, tiny=2)
        models, accs, noise = self._slope_runs(ctx, data, epochs)
        ref = {b: models[b, 0.0] for b in BIASES}
        steps_per_epoch = len(ref["none"][1].fractions) // epochs
        pct = {b: (100 * np.asarray(ref[b][1].fractions), 100 * np.asarray(ref[b][4].fractions)) for b in BIASES}
        ran = [b for b in BIASES if (b, SLOPES[-1]) in models]
        wdiff = {b: max(max_weight_difference(models[b, 0.0], models[b, g]) for g in SLOPES[1:]) for b in ran}
        spread = {b: 100 * (max(accs[b, g] for g in SLOPES) - min(accs[b, g] for g in SLOPES)) for b in ran}

        fc_pct, relu_of_relu = self._other_zeros(ctx, data.x_train[:200], ref["default"])

        rows = [[b, f"{pct[b][0][0]:.1f}", f"{pct[b][0][steps_per_epoch:].mean():.2f}",
                 f"{pct[b][1][0]:.1f}", f"{pct[b][1][steps_per_epoch:].mean():.2f}",
                 *[f"{100 * accs[b, g]:.1f}" if (b, g) in accs else "not run (no exact zero)" for g in SLOPES],
                 f"{wdiff[b]:.3g}" if b in wdiff else "not run (no exact zero)"] for b in BIASES]
        all_pct = {b: max(pct[b][0].mean(), pct[b][1].mean()) for b in BIASES}
        return Result(
            figures={
                "zero_pct_conv1_no_bias": Figure(pct["none"][0].mean(), "%"),
                "zero_pct_conv2_no_bias": Figure(pct["none"][1].mean(), "%"),
                "zero_pct_conv1_zero_bias_first_step": Figure(pct["zero"][0][0], "%"),
                "zero_pct_zero_bias_after_first_epoch": Figure(max(pct["zero"][0][steps_per_epoch:].mean(),
                                                                   pct["zero"][1][steps_per_epoch:].mean()), "%"),
                "zero_pct_default_bias": Figure(all_pct["default"], "%"),
                "zero_pct_fc_zero_bias": Figure(fc_pct, "%"),
                "max_zero_pct": Figure(max(all_pct.values()), "%",
                                       {"en": "largest mean share of exact zeros at a ReLU input",
                                        "zh": "ReLU 输入恰为 0 的平均比例的最大值"}),
                "weight_diff_no_bias": Figure(wdiff["none"], "abs"),
                "weight_diff_zero_bias": Figure(wdiff["zero"], "abs"),
                "acc_spread_pts": Figure(max(spread.values()), "points",
                                         {"en": "largest accuracy range over the slopes 0, 0.5, 1",
                                          "zh": "斜率取 0、0.5、1 时准确率的最大极差"}),
                "reshuffle_spread_pts": Figure(noise, "points",
                                               {"en": "accuracy range over three batch orders at slope 0",
                                                "zh": "斜率为 0 时三种批次顺序下准确率的极差"}),
                "slope_excess_pts": Figure(round(max(spread.values()) - noise, 9), "points",  # float noise off
                                           {"en": "slope range minus batch-order range",
                                            "zh": "斜率极差减去批次顺序极差"}),
                "val_acc_slope0": Figure(100 * accs["none", 0.0], "%"),
            },
            beyond={"zero_pct_relu_after_relu": Figure(relu_of_relu, "%")},
            tables=[Table("zeros", ["conv biases", "conv1 zeros, step 1 (%)", "conv1 zeros, later (%)",
                                    "conv2 zeros, step 1 (%)", "conv2 zeros, later (%)", "val acc slope 0 (%)",
                                    "val acc slope 0.5 (%)", "val acc slope 1 (%)", "max |dW| vs slope 0"], rows,
                          {"en": "Exact zeros at the ReLU inputs (first training batch, then the mean after the "
                                 "first epoch) and the result of training with each slope at 0.",
                           "zh": "ReLU 输入恰为 0 的比例（第一个训练批次，以及第一个 epoch 之后的平均值），"
                                 "以及 0 点取不同斜率时的训练结果。"})],
            series={"pct": pct, "accs": accs, "steps_per_epoch": steps_per_epoch},
        )

    @staticmethod
    def _slope_runs(ctx: Context, data: Any, epochs: int) -> tuple[dict[tuple[str, float], Any],
                                                                   dict[tuple[str, float], float], float]:
        """The small CNN trained from the same weights and batches for each conv-bias setting and each slope of
        ReLU at 0 (the default-bias runs stop after slope 0 when they met no exact zero): the trained models and
        validation accuracies by ``(bias, slope)``, and the noise floor: the accuracy range (points) of the
        zero-bias net at slope 0 over three batch orders."""
        shuffles = [ctx.child_rng().bit_generator.state for _ in range(3)]
        models: dict[tuple[str, float], Any] = {}
        accs: dict[tuple[str, float], float] = {}

        def train(bias: str, g: float, shuffle: int) -> tuple[Any, float]:
            model = small_cnn(bias, g, ctx.seed)
            gen = np.random.default_rng()
            gen.bit_generator.state = shuffles[shuffle]
            return model, fit(model, data, epochs, gen, lr=1e-2).val_acc

        for bias in BIASES:
            for g in SLOPES:
                if g and bias == "default" and not any(any(models[bias, 0.0][i].fractions) for i in (1, 4)):
                    break  # no exact zero met at slope 0: the slope never enters, the other runs are identical
                models[bias, g], accs[bias, g] = train(bias, g, 0)
        # the noise floor: the same zero-bias net at slope 0 with two other batch orders
        reshuffled = [accs["zero", 0.0]] + [train("zero", 0.0, k)[1] for k in (1, 2)]
        noise = 100 * (max(reshuffled) - min(reshuffled))
        return models, accs, noise

    @staticmethod
    def _other_zeros(ctx: Context, x: np.ndarray, trained: Any) -> tuple[float, float]:
        """Exact zeros (%) elsewhere: at the pre-activations of a fully connected 784-64 layer with zero bias on
        ``x``, and at the output of the first conv + ReLU of ``trained`` (what a second ReLU would receive)."""
        cp.manual_seed(ctx.seed)
        fc = nn.Linear(784, 64)
        fc.bias.data[...] = 0.0
        fc_pre = fc(cp.tensor(x.reshape(len(x), -1))).data
        h = trained[1](trained[0](cp.tensor(x))).data  # a ReLU's output, as the input of another ReLU
        return 100 * float(np.mean(fc_pre == 0)), 100 * float(np.mean(h == 0))

    def draw(self, res: Result, ctx: Context) -> None:
        pct, accs, steps_per_epoch = res.series["pct"], res.series["accs"], res.series["steps_per_epoch"]
        fig, ax = ctx.figure(1, 2, size=(11, 3.8))
        labels = {"none": "bias-free conv", "zero": "zero-initialized bias", "default": "default bias init"}
        ticks = [labels["none"], labels["zero"],
                 labels["default"] + ("" if ("default", SLOPES[-1]) in accs else "\n(no exact zero: one run)")]
        for b, style in zip(BIASES, ("-", "--", ":"), strict=True):
            for layer, color in ((0, "C0"), (1, "C1")):
                ax[0].plot(np.arange(1, len(pct[b][layer]) + 1), pct[b][layer], style, color=color,
                           label=f"{labels[b]}, conv{layer + 1}")
        ax[0].axvline(steps_per_epoch + 0.5, color="gray", lw=0.8)
        ax[0].set_xlabel("training step")
        ax[0].set_ylabel("ReLU inputs exactly 0 (%)")
        ax[0].set_title("Exact zeros at the ReLU inputs during training")
        ax[0].legend(fontsize=7, loc="center right")
        width = 0.25
        for k, g in enumerate(SLOPES):
            ax[1].bar(np.arange(3) + (k - 1) * width, [100 * accs.get((b, g), np.nan) for b in BIASES],
                      width, label=tr(f"slope at 0 = {g}", f"零点斜率 = {g}"))
        ax[1].set_xticks(np.arange(3), ticks)
        lo = min(100 * v for v in accs.values())
        ax[1].set_ylim(max(0.0, lo - 10), 100)
        ax[1].set_ylabel("validation accuracy (%)")
        ax[1].set_title("Same weights and batches, three slopes at 0")
        ax[1].legend(fontsize=7)
        ctx.save_figure(fig, "zeros", "Left: share of ReLU inputs that are exactly zero at every training step for "
                        "two conv layers with bias-free, zero-initialized and default biases. Right: validation "
                        "accuracy of each variant trained with the slope at zero set to 0, 0.5 and 1.",
                        "左：三种偏置设置下两层卷积的 ReLU 输入在每个训练步恰为 0 的比例。右：各设置在 0 点斜率"
                        "取 0、0.5、1 时的验证准确率。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        rare_pct, matter = thresholds["rare_pct"], thresholds["matter_pts"]
        zmax, spread, noise = figures["max_zero_pct"], figures["acc_spread_pts"], figures["reshuffle_spread_pts"]
        rare, matters = zmax < rare_pct, figures["slope_excess_pts"] >= matter
        verdict = verdict_if(rare and not matters, nuanced=not matters)
        n1, n2 = figures["zero_pct_conv1_no_bias"], figures["zero_pct_conv2_no_bias"]
        z0, zl = figures["zero_pct_conv1_zero_bias_first_step"], figures["zero_pct_zero_bias_after_first_epoch"]
        dflt, fc = figures["zero_pct_default_bias"], figures["zero_pct_fc_zero_bias"]
        wn, wz = figures["weight_diff_no_bias"], figures["weight_diff_zero_bias"]
        settings = {"bias-free convolutions": max(n1, n2), "zero-initialized conv biases": max(z0, zl),
                    "the default bias init": dflt, "a fully connected layer with zero bias": fc}
        zh_names = {"bias-free convolutions": "卷积无偏置", "zero-initialized conv biases": "卷积偏置初始化为 0",
                    "the default bias init": "默认偏置初始化",
                    "a fully connected layer with zero bias": "偏置为 0 的全连接层"}
        common = [k for k, v in settings.items() if v >= rare_pct]
        few = [k for k, v in settings.items() if v < rare_pct]
        def join(names: list[str]) -> str:
            return " and with ".join(names) if names else "none of the settings"

        where_en = f"rare with {join(few)}, but common with {join(common)}" if common else "rare in every setting"
        where_zh = (f"在{'、'.join(zh_names[k] for k in few) or '任何设置下都不'}时罕见，在"
                    f"{'、'.join(zh_names[k] for k in common)}时常见" if common else "在所有设置下都罕见")
        en = (f"Exact zeros at the ReLU inputs are {where_en} (threshold {fmt(rare_pct)}%): with bias-free "
              f"convolutions {fmt(n1)}% of the first and {fmt(n2)}% of the second layer's inputs are exactly 0 "
              f"throughout training; a zero-initialized bias gives {fmt(z0)}% at the first step and {fmt(zl)}% after "
              f"the first epoch; the default bias init gives {fmt(dflt)}% and a fully connected layer with zero bias "
              f"{fmt(fc)}%. The slope chosen at 0 {'does' if matters else 'does not'} change the result: the accuracy "
              f"range over slopes 0, 0.5 and 1 is {fmt(spread)} points against {fmt(noise)} points over three batch "
              f"orders (it counts when it exceeds them by {fmt(matter)} points or more). The largest weight "
              f"difference between slopes is {fmt(wn)} with bias-free and {fmt(wz)} with zero-initialized "
              f"convolutions.")
        zh = (f"ReLU 输入恰为 0 的情况{where_zh}（阈值 {fmt(rare_pct)}%）：卷积无偏置时，第一层和第二层的输入"
              f"在整个训练中分别有 {fmt(n1)}% 和 {fmt(n2)}% 恰为 0；偏置初始化为 0 时第一步为 {fmt(z0)}%，"
              f"第一个 epoch 之后为 {fmt(zl)}%；默认偏置初始化为 {fmt(dflt)}%，偏置为 0 的全连接层为 {fmt(fc)}%。"
              f"0 点斜率的取值{'会' if matters else '不会'}改变结果：斜率取 0、0.5、1 时准确率的极差为 "
              f"{fmt(spread)} 个百分点，三种批次顺序下为 {fmt(noise)} 个百分点（超出 {fmt(matter)} 个百分点以上"
              f"才算有影响）。不同斜率之间权重的最大差异：卷积无偏置时为 {fmt(wn)}，偏置初始化为 0 时为 {fmt(wz)}。")
        return verdict, evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        rr = beyond["zero_pct_relu_after_relu"]
        return {"en": f"A ReLU fed by another ReLU's output (default bias init) sees {fmt(rr)}% exact zeros.",
                "zh": f"以另一个 ReLU 的输出为输入的 ReLU（默认偏置初始化）有 {fmt(rr)}% 的输入恰为 0。"}
