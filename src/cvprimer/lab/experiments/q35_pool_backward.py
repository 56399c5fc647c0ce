"""Question 35: how pooling layers pass gradients back, and whether "the sum of the gradients is kept".

Measured with autograd on our own ``F.max_pool2d`` / ``F.avg_pool2d``: where each window's gradient lands
(max pooling: one element, the first maximum when several tie; average pooling: spread over the window),
how often windows tie on a real MNIST feature map (ReLU zeros in the background), and the ratio
``sum(input gradient) / sum(output gradient)`` for non-overlapping, overlapping, strided, padded and
ceil-mode windows, on a 28x28 and a 7x7 map.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.lab.common import load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

# name -> (op, kwargs); kwargs are F.max_pool2d / F.avg_pool2d options
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "max k2 s2": ("max", {"kernel_size": 2, "stride": 2}),
    "avg k2 s2": ("avg", {"kernel_size": 2, "stride": 2}),
    "max k3 s2 (overlap)": ("max", {"kernel_size": 3, "stride": 2}),
    "avg k3 s2 (overlap)": ("avg", {"kernel_size": 3, "stride": 2}),
    "max k2 s3 (gaps)": ("max", {"kernel_size": 2, "stride": 3}),
    "avg k2 s3 (gaps)": ("avg", {"kernel_size": 2, "stride": 3}),
    "max k3 s1 p1": ("max", {"kernel_size": 3, "stride": 1, "padding": 1}),
    "avg k3 s1 p1, count_include_pad": ("avg", {"kernel_size": 3, "stride": 1, "padding": 1}),
    "avg k3 s1 p1, exclude pad": ("avg", {"kernel_size": 3, "stride": 1, "padding": 1, "count_include_pad": False}),
    "avg k2 s2 ceil_mode": ("avg", {"kernel_size": 2, "stride": 2, "ceil_mode": True}),
    "avg k3 s2 p1 ceil, include pad": ("avg", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    "max k3 s2 p1 ceil": ("max", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
}
LOSSY = ("avg k3 s1 p1, count_include_pad", "avg k3 s2 p1 ceil, include pad")


def pool(op: str, x: Any, **kw: Any) -> Any:
    """``F.max_pool2d`` or ``F.avg_pool2d`` by name."""
    return (F.max_pool2d if op == "max" else F.avg_pool2d)(x, **kw)


def input_gradient(fn: Callable[[Any], Any], x: np.ndarray,
                   upstream: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """``(gradient that fn sends back to x, sum of the upstream gradient)`` in float64, for an upstream
    gradient ``upstream`` (default all ones)."""
    xt = cp.tensor(np.asarray(x, np.float64), requires_grad=True)
    y = fn(xt)
    up = np.ones(y.shape) if upstream is None else np.asarray(upstream, np.float64)
    y.backward(cp.tensor(up))
    return xt.grad.numpy(), float(up.sum())


def sum_ratio(op: str, kw: Mapping[str, Any], size: int) -> tuple[float, float, float]:
    """``(sum(gx) / sum(gy), share of inputs that receive no gradient, max/min non-zero received)`` for
    an all-ones upstream gradient through one pooling on a ``size x size`` map."""
    x = np.random.default_rng(0).standard_normal((1, 1, size, size))
    gx, total = input_gradient(lambda t: pool(op, t, **kw), x)
    nz = gx[gx != 0]
    return float(gx.sum() / total), float((gx == 0).mean()), float(nz.max() / nz.min()) if nz.size else np.nan


def tie_stats(fmap: np.ndarray) -> tuple[float, float]:
    """On a (N, C, H, W) map with even H, W: the share of 2x2 windows whose maximum is tied, and the share of
    such a window's gradient that max pooling sends to its first (top-left, row-major) element."""
    n, c, h, w = fmap.shape
    win = fmap.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    tied = (win == win.max(-1, keepdims=True)).sum(-1) > 1
    gx, _ = input_gradient(lambda t: F.max_pool2d(t, 2), fmap)
    gwin = gx.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    first = np.argmax(win == win.max(-1, keepdims=True), axis=-1)  # index of the first maximum
    got = np.take_along_axis(gwin, first[..., None], -1)[..., 0]
    share = float(got[tied].sum() / max(tied.sum(), 1))
    return float(tied.mean()), share


class PoolingBackward(Experiment):
    id = "q35-pool-backward"
    questions = (35,)
    topic = "architecture"
    stochastic = False
    thresholds = {"conserve_tol": 1e-9}
    text = {
        "en": {
            "title": "How pooling passes gradients back, and when their sum is not conserved",
            "claim": "A pooling layer has no weights and only forwards the error: max pooling sends each "
                     "window's gradient to the position of the maximum, average pooling spreads it evenly over "
                     "the window, and the total of the gradients stays the same.",
            "method": "Backpropagate an all-ones gradient through our max_pool2d and avg_pool2d with 12 window "
                      "settings (non-overlapping, overlapping k>s, gaps k<s, padding with and without "
                      "count_include_pad, ceil_mode) on 28x28 and 7x7 maps and compare the summed input "
                      "gradient with the summed output gradient. On a real MNIST feature map (ReLU of a "
                      "bias-free 3x3 convolution) count the 2x2 windows whose maximum is tied and where their "
                      "gradient goes.",
        },
        "zh": {
            "title": "池化层如何回传梯度，梯度之和何时不守恒",
            "claim": "池化层没有权重，只负责把误差传回上一层：最大池化把每个窗口的梯度交给最大值所在位置，"
                     "平均池化把梯度均分给窗口内每个元素，并且梯度的总和保持不变。",
            "method": "在 28x28 与 7x7 的特征图上，让全 1 的梯度分别经过我们的 max_pool2d 和 avg_pool2d，"
                      "共 12 种窗口设置（不重叠、重叠 k>s、留空 k<s、带填充且 count_include_pad 开或关、"
                      "ceil_mode），比较输入梯度之和与输出梯度之和；再在真实的 MNIST 特征图（无偏置 3x3 "
                      "卷积后接 ReLU）上统计 2x2 窗口中最大值并列的比例，以及这些窗口的梯度流向何处。",
        },
    }

    def run(self, ctx: Context) -> Result:
        rows, ratios = [], {}
        for name, (op, kw) in CONFIGS.items():
            r28, dead28, spread28 = sum_ratio(op, kw, 28)
            r7, dead7, _ = sum_ratio(op, kw, 7)
            ratios[name] = (r28, r7)
            rows.append([name, round(r28, 6), round(r7, 6), round(100 * dead28, 2), round(spread28, 4)])
        conserving = [n for n in CONFIGS if n not in LOSSY]
        worst_ok = max(max(abs(ratios[n][0] - 1), abs(ratios[n][1] - 1)) for n in conserving)

        data = load_data("mnist_sample", n_train=ctx.pick(200, 1000), n_val=10, rng=ctx.rng)
        w = np.random.default_rng(ctx.seed).standard_normal((8, 1, 3, 3)) / 3.0
        fmap = F.relu(F.conv2d(cp.tensor(data.x_train.astype(np.float64)), cp.tensor(w), padding=1)).numpy()
        tie_frac, first_share = tie_stats(fmap)

        self._plot(ctx, fmap)
        return Result(
            figures={
                "worst_error_conserving_configs": Figure(worst_ok, "relative",
                                                         {"en": "largest |ratio - 1| over the 10 conserving "
                                                                "settings", "zh": "10 种守恒设置中 |比值-1| 的最大值"}),
                "sum_ratio_avg_include_pad_28": Figure(ratios[LOSSY[0]][0], "ratio"),
                "sum_ratio_avg_include_pad_7": Figure(ratios[LOSSY[0]][1], "ratio"),
                "sum_ratio_avg_exclude_pad_7": Figure(ratios["avg k3 s1 p1, exclude pad"][1], "ratio"),
                "sum_ratio_avg_ceil_include_pad_7": Figure(ratios[LOSSY[1]][1], "ratio"),
                "avg_overlap_spread": Figure(rows[3][4], "max/min",
                                             {"en": "avg k3 s2: largest / smallest gradient an input receives",
                                              "zh": "avg k3 s2：输入所得梯度的最大值与最小值之比"}),
                "gap_inputs_without_gradient": Figure(rows[5][3], "%", {"en": "avg k2 s3: inputs never in a window",
                                                                          "zh": "avg k2 s3：不在任何窗口内的输入"}),
                "tied_window_share": Figure(100 * tie_frac, "%"),
                "tied_gradient_to_first": Figure(100 * first_share, "%"),
            },
            tables=[Table("sum_ratio", ["setting", "sum ratio 28x28", "sum ratio 7x7", "inputs with no gradient "
                                        "(28x28, %)", "max/min received (28x28)"], rows,
                          {"en": "sum(input gradient) / sum(output gradient) for an all-ones upstream gradient.",
                           "zh": "上游梯度全为 1 时，输入梯度之和与输出梯度之和的比值。"})],
        )

    def _plot(self, ctx: Context, fmap: np.ndarray) -> None:
        x6 = np.random.default_rng(1).standard_normal((1, 1, 6, 6))
        x6[0, 0, :2, :2] = 0.0  # a tied window
        panels = [("max k2 s2 (top-left window tied)", "max", {"kernel_size": 2}),
                  ("avg k2 s2", "avg", {"kernel_size": 2}),
                  ("avg k3 s2 (overlapping)", "avg", {"kernel_size": 3, "stride": 2}),
                  ("max k2 s3 (gaps)", "max", {"kernel_size": 2, "stride": 3}),
                  ("avg k3 s1 p1, count_include_pad", "avg", {"kernel_size": 3, "stride": 1, "padding": 1}),
                  ("avg k3 s1 p1, exclude pad", "avg", {"kernel_size": 3, "stride": 1, "padding": 1,
                                                        "count_include_pad": False})]
        fig, axes = ctx.figure(2, 3, size=(11, 7))
        for ax, (title, op, kw) in zip(axes.ravel(), panels, strict=True):
            gx, total = input_gradient(lambda t, op=op, kw=kw: pool(op, t, **kw), x6)
            g = gx[0, 0]
            ax.imshow(g, cmap="Blues", vmin=0, vmax=max(1.0, g.max()))
            for (i, j), v in np.ndenumerate(g):
                ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=7)
            ax.set_title(f"{title}\nsum in {fmt(g.sum())} / out {fmt(total)}")
            ax.set_xticks([])
            ax.set_yticks([])
        ctx.save_figure(fig, "routing", "Input gradients of a 6x6 map for an all-ones upstream gradient under six "
                        "pooling settings, each cell labelled with its value and each panel with the summed input "
                        "and output gradients.",
                        "6x6 特征图在上游梯度全为 1 时、六种池化设置下的输入梯度；每格标出数值，"
                        "每个子图标出输入与输出梯度之和。")
        fig, ax = ctx.figure(1, 2, size=(10, 3.6))
        ax[0].imshow(fmap[0, 0], cmap="gray")
        ax[0].set_title("ReLU(conv3x3(MNIST)), one channel")
        ax[0].set_axis_off()
        n, c, h, w = fmap.shape
        win = fmap.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
        tied = ((fmap.reshape(n, c, h // 2, 2, w // 2, 2) == win[:, :, :, None, :, None]).sum(axis=(3, 5)) > 1)
        ax[1].imshow(tied[0, 0], cmap="Reds")
        ax[1].set_title(f"tied 2x2 windows (red): {100 * tied.mean():.0f}% over all maps")
        ax[1].set_axis_off()
        ctx.save_figure(fig, "ties", "One channel of a ReLU feature map of an MNIST digit and, in red, its 2x2 "
                        "pooling windows whose maximum is tied (mostly the all-zero background).",
                        "一张 MNIST 数字的 ReLU 特征图的一个通道，以及最大值并列的 2x2 池化窗口（红色，"
                        "大多是全零背景）。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol = thresholds["conserve_tol"]
        ok = figures["worst_error_conserving_configs"] <= tol
        r28, r7 = figures["sum_ratio_avg_include_pad_28"], figures["sum_ratio_avg_include_pad_7"]
        rc = figures["sum_ratio_avg_ceil_include_pad_7"]
        lossy = max(abs(r28 - 1), abs(r7 - 1), abs(rc - 1)) > tol
        ties, first = figures["tied_window_share"], figures["tied_gradient_to_first"]
        verdict = verdict_if(ok and not lossy, nuanced=ok)
        worst = figures["worst_error_conserving_configs"]
        en = (f"The gradient sum is conserved to within {fmt(tol)} (worst {fmt(worst)}) "
              f"for max pooling in every setting and for average pooling without padding, with overlapping "
              f"windows, with gaps and in ceil_mode; but average pooling with zero padding and count_include_pad "
              f"(the default) returns only {fmt(r28)} of it on a 28x28 map, {fmt(r7)} on a 7x7 map and {fmt(rc)} "
              f"with ceil_mode, since the padded cells take their share. 'Evenly' is per window: with overlap an "
              f"input receives up to {fmt(figures['avg_overlap_spread'])}x what another does, and with gaps "
              f"{fmt(figures['gap_inputs_without_gradient'])}% of the inputs receive nothing. On a real MNIST ReLU "
              f"map {fmt(ties)}% of the 2x2 windows tie, and {fmt(first)}% of their gradient goes to the first "
              f"maximum, none to the others.")
        zh = (f"最大池化在所有设置下、平均池化在无填充、窗口重叠、留空和 ceil_mode 时，梯度之和都在 {fmt(tol)} "
              f"以内守恒（最大偏差 {fmt(figures['worst_error_conserving_configs'])}）；但带零填充且 "
              f"count_include_pad（默认）的平均池化在 28x28 图上只传回 {fmt(r28)}，在 7x7 图上只传回 "
              f"{fmt(r7)}，ceil_mode 下为 {fmt(rc)}，因为填充格分走了份额。“均分”只在单个窗口内成立："
              f"窗口重叠时某些输入得到的梯度是其他输入的 {fmt(figures['avg_overlap_spread'])} 倍，留空时 "
              f"{fmt(figures['gap_inputs_without_gradient'])}% 的输入得不到梯度。在真实的 MNIST ReLU 特征图上 "
              f"{fmt(ties)}% 的 2x2 窗口最大值并列，其梯度有 {fmt(first)}% 交给第一个最大值，其余位置为零。")
        return verdict, evidence(en=en, zh=zh)
