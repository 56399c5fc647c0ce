"""Question 26: a convolutional layer against a fully connected one.

Measured on MNIST-sample feature maps: a fully connected layer on a C x H x W map is a convolution whose kernel
covers the whole map (same outputs, same parameters), and a 1x1 convolution is a fully connected layer applied
at every position; a convolution's output moves with its input (translation equivariance) while a fully
connected layer's output does not.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.lab.common import load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if


class FcVersusConv(Experiment):
    id = "q26-fc-vs-conv"
    questions = (26,)
    topic = "architecture"
    thresholds = {"exact": 1e-10, "moved": 0.1}
    text = {
        "en": {
            "title": "A fully connected layer is a convolution with a kernel as large as its input",
            "claim": "A convolution connects each output to a local window, so it extracts local features; a fully "
                     "connected layer connects to everything; and a fully connected layer is the special case of a "
                     "convolution whose window is the whole input.",
            "method": "On 8 MNIST digits passed through a random 3x3 convolution (8 channels, 26x26 maps, float64): "
                      "apply a random fully connected layer to the flattened maps and the same weights reshaped as "
                      "a 26x26 convolution kernel, and compare outputs and parameter counts; compare a 1x1 "
                      "convolution with a fully connected layer applied at every pixel; then shift the digit by 2 "
                      "pixels and measure how the convolution's and the fully connected layer's outputs change.",
        },
        "zh": {
            "title": "全连接层就是卷积核和输入一样大的卷积",
            "claim": "卷积让每个输出只连接一个局部窗口，所以提取局部特征；全连接层连接全部输入；"
                     "全连接层是窗口覆盖整个输入时卷积的特例。",
            "method": "把 8 张 MNIST 数字经过一个随机的 3x3 卷积（8 个通道、26x26 特征图，float64）："
                      "对展平后的特征图做一个随机全连接层，再把同样的权重变形成 26x26 的卷积核做卷积，比较输出和"
                      "参数量；比较 1x1 卷积与在每个像素上做同一个全连接层；最后把数字平移 2 个像素，测量卷积与全连接"
                      "层的输出分别如何变化。",
        },
    }

    def run(self, ctx: Context) -> Result:
        data = load_data("mnist_sample", n_train=ctx.pick(20, 100), n_val=10, rng=ctx.rng)
        x = cp.tensor(data.x_train[:8].astype(np.float64))
        k0 = cp.tensor(ctx.rng.standard_normal((8, 1, 3, 3)) / 3)
        fmap = F.relu(F.conv2d(x, k0))  # (8, 8, 26, 26): real features of real digits
        n, c, h, w = fmap.shape
        wfc = ctx.rng.standard_normal((10, c * h * w)) / np.sqrt(c * h * w)
        bfc = ctx.rng.standard_normal(10)
        fc = F.linear(fmap.reshape(n, -1), cp.tensor(wfc), cp.tensor(bfc)).data
        conv = F.conv2d(fmap, cp.tensor(wfc.reshape(10, c, h, w)), cp.tensor(bfc)).data.reshape(n, 10)
        fc_err = float(np.abs(fc - conv).max() / np.abs(fc).max())
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

        fig, axes = ctx.figure(1, 3, size=(10, 3.2))
        axes[0].imshow(fmap.data[0, 0], cmap="gray")
        axes[0].set_title("feature map (channel 0)")
        axes[1].imshow(fmap_s[0, 0], cmap="gray")
        axes[1].set_title("same map, digit shifted 2 px")
        axes[2].bar(range(10), fc[0], width=0.4, label="original")
        axes[2].bar(np.arange(10) + 0.4, fc_s[0], width=0.4, label="shifted")
        axes[2].set_title("fully connected outputs")
        axes[2].legend()
        for ax in axes[:2]:
            ax.set_axis_off()
        ctx.save_figure(fig, "shift", "A convolution's feature map simply moves with the shifted digit, while the "
                        "ten outputs of a fully connected layer on that map change.",
                        "平移数字后，卷积的特征图只是跟着移动，而在其上的全连接层的 10 个输出都变了。")
        params_fc = sum(p.data.size for p in nn.Linear(c * h * w, 10).parameters())
        params_conv = sum(p.data.size for p in nn.Conv2d(c, 10, (h, w)).parameters())
        return Result(
            figures={"fc_as_conv_error": Figure(fc_err, "relative"),
                     "pointwise_as_fc_error": Figure(pw_err, "relative"),
                     "params_fc": Figure(params_fc, "parameters"), "params_conv": Figure(params_conv, "parameters"),
                     "conv_shift_error": Figure(equi_err, "relative"),
                     "fc_shift_change": Figure(fc_change, "relative")},
            tables=[Table("equivalence", ["comparison", "max relative difference"],
                          [["FC on flattened map vs 26x26 conv", fc_err], ["1x1 conv vs per-pixel FC", pw_err],
                           ["conv of shifted digit vs shifted conv output", equi_err],
                           ["FC output, shifted vs original digit", fc_change]])])

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        ex, mv = thresholds["exact"], thresholds["moved"]
        same = (figures["fc_as_conv_error"] <= ex and figures["pointwise_as_fc_error"] <= ex
                and figures["params_fc"] == figures["params_conv"])
        local = figures["conv_shift_error"] <= ex and figures["fc_shift_change"] >= mv
        en = (f"A fully connected layer equals a convolution with a kernel as large as the map (max relative "
              f"difference {fmt(figures['fc_as_conv_error'])}, threshold {fmt(ex)}) with the same "
              f"{fmt(figures['params_fc'])} parameters, and a 1x1 convolution equals a per-pixel fully connected "
              f"layer ({fmt(figures['pointwise_as_fc_error'])}). Shifting the digit shifts the convolution's output "
              f"exactly ({fmt(figures['conv_shift_error'])}) but changes the fully connected outputs by "
              f"{fmt(figures['fc_shift_change'])} (at least {fmt(mv)} counts as a change): the locality and weight "
              f"sharing that the special case gives up are what make convolutions translation-equivariant.")
        zh = (f"全连接层等于卷积核与特征图一样大的卷积（最大相对差 {fmt(figures['fc_as_conv_error'])}，"
              f"阈值 {fmt(ex)}），"
              f"参数量同为 {fmt(figures['params_fc'])}；1x1 卷积等于在每个像素上做全连接"
              f"（{fmt(figures['pointwise_as_fc_error'])}）。平移数字时，卷积输出恰好跟着平移"
              f"（{fmt(figures['conv_shift_error'])}），而全连接输出变化了 {fmt(figures['fc_shift_change'])}"
              f"（达到 {fmt(mv)} 算作变化）：这个特例放弃的局部连接与权重共享，正是卷积具有平移等变性的原因。")
        return verdict_if(same and local, nuanced=same), evidence(en=en, zh=zh)
