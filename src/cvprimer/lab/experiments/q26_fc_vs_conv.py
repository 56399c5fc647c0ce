"""Question 26: a convolutional layer against a fully connected one.

Measured on MNIST-sample feature maps, for the seed's claim: how many input positions one output of a 3x3
convolution and one output of a fully connected layer depend on (by autograd), and whether a fully connected
layer on a C x H x W map equals a convolution whose kernel covers the whole map (outputs and parameter counts).
Beyond the seed: a 1x1 convolution against a per-position fully connected layer, and what a shift of the input
does to either layer's output.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.lab.common import load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "same map, digit shifted 2 px": "同一特征图，数字平移 2 像素",
    "fully connected outputs": "全连接层输出",
})


class FcVersusConv(Experiment):
    id = "q26-fc-vs-conv"
    questions = (26,)
    topic = "architecture"
    thresholds = {"exact": 1e-10, "max_local_frac": 0.25, "min_global_frac": 1.0}
    reasons = {
        "exact": {"en": "Float64 rounding: a sum of about 5,000 products in a different order differs by ~1e-15 "
                        "relative (measured 2.5e-16); any real mismatch of weights or layout is of order 1, so 1e-10 "
                        "separates the two with orders of magnitude to spare.",
                  "zh": "float64 舍入：约 5000 个乘积换一种顺序求和，相对差约 1e-15（实测 2.5e-16）；"
                        "权重或排布真有不同时差异是 1 的量级，1e-10 两边都留有几个数量级的余地。"},
        "max_local_frac": {"en": "Convention: an output that depends on at most a quarter of the input positions is "
                                 "local (a 3x3 window on a 26x26 map is 9/676 by theory).",
                           "zh": "约定：一个输出最多依赖四分之一的输入位置就算局部"
                                 "（理论上 26x26 特征图上的 3x3 窗口占 9/676）。"},
        "min_global_frac": {"en": "Theory: a dense weight matrix with no zero entry makes every output depend on "
                                  "every input position, a share of exactly 1.",
                            "zh": "理论：没有零元素的稠密权重矩阵让每个输出依赖全部输入位置，比例恰为 1。"},
    }
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "local connectivity and weight sharing", "zh": "局部连接与权值共享"}
    key_figure = "conv_dependence_frac"
    answer = {
        "confirmed": {
            "en": "Yes: one output of a 3x3 convolution depends on {conv_dependence_frac:pct} of the input "
                  "positions, a fully connected output on all of them, and a fully connected layer is exactly "
                  "a convolution whose kernel covers the whole map.",
            "zh": "是的：3x3 卷积的一个输出只依赖 {conv_dependence_frac:pct} 的输入位置，"
                  "全连接的输出依赖全部位置；全连接层恰好就是卷积核覆盖整张特征图的卷积。"},
        "nuanced": {
            "en": "Locality or the special case held, not both (a conv output depends on "
                  "{conv_dependence_frac:pct} of the input); state each part separately.",
            "zh": "局部性和“特例”两点只有一点成立（卷积输出依赖 {conv_dependence_frac:pct} 的输入）；"
                  "回答时分开说明。"},
        "refuted": {
            "en": "Neither part held here (a conv output depends on {conv_dependence_frac:pct} of the input).",
            "zh": "这里两点都不成立（卷积输出依赖 {conv_dependence_frac:pct} 的输入）。"},
    }
    text = {
        "en": {
            "title": "How does a convolutional layer differ from a fully connected one?",
            "claim": "A convolutional layer connects each output to a local window of its input, so it picks up "
                     "local information, while a fully connected layer connects each output to the whole input; "
                     "and a fully connected layer is the special case of a convolution whose window covers the "
                     "whole input.",
            "method": "On 8 MNIST digits passed through a random 3x3 convolution (8 channels, 26x26 maps, float64): "
                      "by autograd, count the input positions that one output of a random 3x3 convolution and one "
                      "output of a random fully connected layer depend on (non-zero gradient); apply the fully "
                      "connected layer to the flattened maps and the same weights reshaped as a 26x26 convolution "
                      "kernel, and compare outputs and parameter counts.",
            "beyond": "Beyond the seed: a 1x1 convolution against a fully connected layer applied at every pixel, "
                      "and what a 2-pixel shift of the digit does to the convolution's and to the fully connected "
                      "layer's outputs (translation equivariance).",
        },
        "zh": {
            "title": "卷积层与全连接层有何区别？",
            "claim": "卷积层的每个输出只连接输入的一个局部窗口，因而获取局部信息；全连接层的每个输出连接全部输入；"
                     "并且全连接层是窗口覆盖整个输入时卷积的特例。",
            "method": "把 8 张 MNIST 数字经过一个随机的 3x3 卷积（8 个通道、26x26 特征图，float64）："
                      "用自动微分统计一个随机 3x3 卷积的一个输出和一个随机全连接层的一个输出各依赖多少个输入位置"
                      "（梯度非零）；对展平后的特征图做全连接层，再把同样的权重变形成 26x26 的卷积核做卷积，"
                      "比较输出和参数量。",
            "beyond": "超出原文的部分：比较 1x1 卷积与在每个像素上做同一个全连接层；把数字平移 2 个像素，"
                      "看卷积与全连接层的输出分别如何变化（平移等变性）。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "fc_as_conv_error": {"en": "fully connected layer as a conv, error", "zh": "全连接层写成卷积的误差"},
        "params_fc": {"en": "parameters, fully connected", "zh": "参数量（全连接）"},
        "params_conv": {"en": "parameters, conv", "zh": "参数量（卷积）"},
        "pointwise_as_fc_error": {"en": "1x1 conv as a per-pixel linear layer, error",
                                  "zh": "1x1 卷积写成逐像素全连接的误差"},
        "conv_shift_error": {"en": "conv: shifted input vs shifted output, error",
                             "zh": "卷积：平移输入与平移输出的误差"},
        "fc_shift_change": {"en": "fully connected: change of output under a shift",
                            "zh": "全连接：输入平移后输出的变化"},
    }

    def measure(self, ctx: Context) -> Result:
        data = load_data("mnist_sample", n_train=ctx.pick(20, 100, tiny=10), n_val=10, rng=ctx.rng)
        x = cp.tensor(data.x_train[:8].astype(np.float64))
        k0 = cp.tensor(ctx.rng.standard_normal((8, 1, 3, 3)) / 3)
        fmap = F.relu(F.conv2d(x, k0))  # (8, 8, 26, 26): real features of real digits
        n, c, h, w = fmap.shape
        wfc = ctx.rng.standard_normal((10, c * h * w)) / np.sqrt(c * h * w)
        bfc = ctx.rng.standard_normal(10)
        fc = F.linear(fmap.reshape(n, -1), cp.tensor(wfc), cp.tensor(bfc)).data
        conv = F.conv2d(fmap, cp.tensor(wfc.reshape(10, c, h, w)), cp.tensor(bfc)).data.reshape(n, 10)
        fc_err = float(np.abs(fc - conv).max() / np.abs(fc).max())
        conv_frac, fc_frac = self.dependence(fmap.data, ctx.rng.standard_normal((10, c, 3, 3)), wfc)
        w1 = ctx.rng.standard_normal((16, c))
        pw = F.conv2d(fmap, cp.tensor(w1.reshape(16, c, 1, 1))).data
        per_pixel = F.linear(fmap.permute(0, 2, 3, 1), cp.tensor(w1)).permute(0, 3, 1, 2).data
        pw_err = float(np.abs(pw - per_pixel).max() / np.abs(pw).max())

        shifted = cp.tensor(np.roll(data.x_train[:8].astype(np.float64), (2, 2), axis=(2, 3)))
        fmap_s = F.relu(F.conv2d(shifted, k0)).data
        moved = np.roll(fmap.data, (2, 2), axis=(2, 3))
        inner = (slice(None), slice(None), slice(4, -4), slice(4, -4))  # away from the wrapped border
        equi_err = float(np.abs(fmap_s[inner] - moved[inner]).max() / np.abs(moved[inner]).max())
        fc_s = F.linear(cp.tensor(fmap_s.reshape(n, -1)), cp.tensor(wfc), cp.tensor(bfc)).data
        fc_change = float(np.linalg.norm(fc_s - fc) / np.linalg.norm(fc))

        params_fc = sum(p.data.size for p in nn.Linear(c * h * w, 10).parameters())
        params_conv = sum(p.data.size for p in nn.Conv2d(c, 10, (h, w)).parameters())
        return Result(
            figures={"conv_dependence_frac": Figure(conv_frac, "fraction", {
                         "en": "share of input positions one 3x3-conv output depends on",
                         "zh": "3x3 卷积一个输出所依赖的输入位置比例"}),
                     "fc_dependence_frac": Figure(fc_frac, "fraction", {
                         "en": "share of input positions one fully connected output depends on",
                         "zh": "全连接层一个输出所依赖的输入位置比例"}),
                     "fc_as_conv_error": Figure(fc_err, "relative"),
                     "params_fc": Figure(params_fc, "parameters"), "params_conv": Figure(params_conv, "parameters")},
            tables=[Table("equivalence", ["comparison", "value"],
                          [["input positions one 3x3-conv output depends on (share)", conv_frac],
                           ["input positions one FC output depends on (share)", fc_frac],
                           ["FC on flattened map vs 26x26 conv (max relative difference)", fc_err],
                           ["parameters: FC / 26x26 conv", f"{params_fc} / {params_conv}"]])],
            beyond={"pointwise_as_fc_error": Figure(pw_err, "relative"),
                    "conv_shift_error": Figure(equi_err, "relative"),
                    "fc_shift_change": Figure(fc_change, "relative")},
            beyond_tables=[Table("shift", ["comparison", "max relative difference"],
                                 [["1x1 conv vs per-pixel FC", pw_err],
                                  ["conv of shifted digit vs shifted conv output", equi_err],
                                  ["FC output, shifted vs original digit", fc_change]])],
            series={"map": fmap.data[0, 0], "map_shifted": fmap_s[0, 0], "fc": fc[0], "fc_shifted": fc_s[0]})

    def draw(self, res: Result, ctx: Context) -> None:
        fmap, fmap_s, fc, fc_s = (res.series[k] for k in ("map", "map_shifted", "fc", "fc_shifted"))
        fig, axes = ctx.figure(1, 3, size=(10, 3.2))
        axes[0].imshow(fmap, cmap="gray")
        axes[0].set_title("feature map (channel 0)")
        axes[1].imshow(fmap_s, cmap="gray")
        axes[1].set_title("same map, digit shifted 2 px")
        axes[2].bar(range(10), fc, width=0.4, label="original")
        axes[2].bar(np.arange(10) + 0.4, fc_s, width=0.4, label="shifted")
        axes[2].set_title("fully connected outputs")
        axes[2].legend()
        for ax in axes[:2]:
            ax.set_axis_off()
        ctx.save_figure(fig, "shift", "Channel 0 of the feature map of a digit and of the same digit shifted by 2 "
                        "pixels, and the ten outputs of a fully connected layer on each map.",
                        "一个数字及其平移 2 个像素后的特征图（第 0 通道），以及在两张特征图上全连接层的 10 个输出。")

    @staticmethod
    def dependence(fmap: np.ndarray, kernel: np.ndarray, wfc: np.ndarray) -> tuple[float, float]:
        """By autograd: the share of the (h, w) input positions with a non-zero gradient for one output of a
        3x3 convolution with ``kernel`` (the centre pixel, all its channels summed) and for one output of the
        fully connected layer ``wfc`` on the flattened map."""
        n, c, h, w = fmap.shape
        x = cp.Tensor(fmap[:1].copy(), requires_grad=True)
        F.conv2d(x, cp.tensor(kernel))[0, :, (h - 2) // 2, (w - 2) // 2].sum().backward()
        assert x.grad is not None  # (it requires grad and feeds the loss)
        conv = float(np.mean(np.any(x.grad.data[0] != 0, axis=0)))
        x = cp.Tensor(fmap[:1].copy(), requires_grad=True)
        F.linear(x.reshape(1, -1), cp.tensor(wfc))[0, 0].backward()
        assert x.grad is not None
        fc = float(np.mean(np.any(x.grad.data[0] != 0, axis=0)))
        return conv, fc

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        pw, eq, ch = beyond["pointwise_as_fc_error"], beyond["conv_shift_error"], beyond["fc_shift_change"]
        return {"en": f"A 1x1 convolution and a fully connected layer applied at every pixel differ by {fmt(pw)} "
                      f"(max relative difference). Shifting the digit by 2 pixels and shifting the convolution's "
                      f"output differ by {fmt(eq)} away from the border; the fully connected outputs change by "
                      f"{fmt(ch)} (relative norm).",
                "zh": f"1x1 卷积与在每个像素上做全连接的最大相对差为 {fmt(pw)}。把数字平移 2 个像素与把卷积输出"
                      f"平移 2 个像素，在远离边界处相差 {fmt(eq)}；全连接层的输出变化了 {fmt(ch)}（相对范数）。"}

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        ex, lo, hi = thresholds["exact"], thresholds["max_local_frac"], thresholds["min_global_frac"]
        cf, ff, err = figures["conv_dependence_frac"], figures["fc_dependence_frac"], figures["fc_as_conv_error"]
        pf, pc = figures["params_fc"], figures["params_conv"]
        local = cf <= lo and ff >= hi
        same = err <= ex and pf == pc
        yes = {True: "holds", False: "fails"}
        shi = {True: "成立", False: "不成立"}
        en = (f"Locality {yes[local]}: one output of the 3x3 convolution depends on {fmt(cf)} of the input "
              f"positions (local means at most {fmt(lo)}), one fully connected output on {fmt(ff)} (global means "
              f"at least {fmt(hi)}). The special case {yes[same]}: the fully connected layer and the convolution "
              f"whose kernel covers the whole map differ by {fmt(err)} (max relative difference, at most {fmt(ex)} "
              f"counts as equal) and have {fmt(pf)} and {fmt(pc)} parameters.")
        zh = (f"局部性{shi[local]}：3x3 卷积的一个输出依赖 {fmt(cf)} 的输入位置（不超过 {fmt(lo)} 算局部），"
              f"全连接层的一个输出依赖 {fmt(ff)}（至少 {fmt(hi)} 算全局）。特例关系{shi[same]}：全连接层与卷积核"
              f"覆盖整张特征图的卷积最大相对差为 {fmt(err)}（不超过 {fmt(ex)} 算相等），参数量分别为 {fmt(pf)} "
              f"和 {fmt(pc)}。")
        return verdict_if(local and same, nuanced=local or same), evidence(en=en, zh=zh)
