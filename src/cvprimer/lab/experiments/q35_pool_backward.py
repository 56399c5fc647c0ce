"""Question 35: how pooling layers pass gradients back, and whether "the sum of the gradients is kept".

Measured with autograd on our own ``F.max_pool2d`` / ``F.avg_pool2d``: where each window's gradient lands
(max pooling: one element, the first maximum when several tie; average pooling: spread over the window),
how often windows tie on a real MNIST feature map , and the ratio
``sum(input gradient) / sum(output gradient)`` for non-overlapping, overlapping, strided, padded and
ceil-mode windows, on a 28x28 and a 7x7 map. Every padded average pooling names ``count_include_pad``
explicitly, so the verdict does not depend on the engine's default; whether average pooling shares each window's
gradient equally is checked with a random upstream gradient.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.lab.common import load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr, tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "ReLU(conv3x3(MNIST)), one channel": "ReLU(conv3x3(MNIST))，一个通道",
})

# name -> (op, kwargs); kwargs are F.max_pool2d / F.avg_pool2d options
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "max k2 s2": ("max", {"kernel_size": 2, "stride": 2}),
    "avg k2 s2": ("avg", {"kernel_size": 2, "stride": 2, "count_include_pad": True}),
    "max k3 s2 (overlap)": ("max", {"kernel_size": 3, "stride": 2}),
    "avg k3 s2 (overlap)": ("avg", {"kernel_size": 3, "stride": 2, "count_include_pad": True}),
    "max k2 s3 (gaps)": ("max", {"kernel_size": 2, "stride": 3}),
    "avg k2 s3 (gaps)": ("avg", {"kernel_size": 2, "stride": 3, "count_include_pad": True}),
    "max k3 s1 p1": ("max", {"kernel_size": 3, "stride": 1, "padding": 1}),
    "avg k3 s1 p1, count_include_pad": ("avg", {"kernel_size": 3, "stride": 1, "padding": 1,
                                                "count_include_pad": True}),
    "avg k3 s1 p1, exclude pad": ("avg", {"kernel_size": 3, "stride": 1, "padding": 1, "count_include_pad": False}),
    "avg k2 s2 ceil_mode": ("avg", {"kernel_size": 2, "stride": 2, "ceil_mode": True, "count_include_pad": True}),
    "avg k3 s2 p1 ceil, include pad": ("avg", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
                                               "count_include_pad": True}),
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
    assert xt.grad is not None  # (it requires grad and feeds the loss)
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


def tied_windows(fmap: np.ndarray) -> np.ndarray:
    """On a (N, C, H, W) map with even H, W: which 2x2 pooling windows have a tied maximum, (N, C, H/2, W/2)."""
    n, c, h, w = fmap.shape
    win = fmap.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
    return (fmap.reshape(n, c, h // 2, 2, w // 2, 2) == win[:, :, :, None, :, None]).sum(axis=(3, 5)) > 1


def split_error(size: int = 28) -> float:
    """Average pooling k2 s2 with a random upstream gradient ``g``: the largest ``|dx - g / 4|`` over every input,
    relative to ``max |g| / 4`` (0 when each window's gradient is shared equally among its four inputs)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 1, size, size))
    up = rng.standard_normal((1, 1, size // 2, size // 2))
    gx, _ = input_gradient(lambda t: F.avg_pool2d(t, 2, 2, count_include_pad=True), x, up)
    want = np.repeat(np.repeat(up, 2, axis=2), 2, axis=3) / 4
    return float(np.abs(gx - want).max() / (np.abs(up).max() / 4))


class PoolingBackward(Experiment):
    id = "q35-pool-backward"
    questions = (35,)
    topic = "sampling"
    stochastic = False
    thresholds = {"conserve_tol": 1e-9}
    reasons = {"conserve_tol": {
        "en": "Round-off: the gradients are float64 sums of at most 784 terms (relative error near 1e-13), while "
              "the smallest loss a padded window can cause here is 1 - (82/84)^2 = 0.047 (3x3 windows with one "
              "padded row and column on a 28x28 map); 1e-9 sits between the two by orders of magnitude.",
        "zh": "舍入误差：梯度是至多 784 项的 float64 求和（相对误差约 1e-13），而这里填充窗口造成的最小损失为 "
              "1 - (82/84)^2 = 0.047（28x28 图上 3x3 窗口、一行一列填充）；1e-9 与两者都相差好几个数量级。"}}
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "gradient routing through pooling", "zh": "池化层的梯度传递"}
    key_figure = "sum_err_include_pad"
    answer = {
        "confirmed": {
            "en": "Yes: max pooling sends each window's gradient to its maximum and average pooling splits it "
                  "equally, so the gradient sum is kept in every setting (largest deviation with padding "
                  "counted {sum_err_include_pad}).",
            "zh": "是的：最大池化把每个窗口的梯度交给最大值，平均池化把它平均分配，"
                  "所以在所有设置下梯度之和都不变（计入填充时的最大偏差 {sum_err_include_pad}）。"},
        "nuanced": {
            "en": "Pooling only routes gradients: max sends each window's gradient to its maximum and average "
                  "splits it equally, so the sum is kept, except when zero padding counts in the divisor; then "
                  "the padded cells take a share and the sum is off by {sum_err_include_pad:pct}.",
            "zh": "池化层只负责传递梯度：最大池化把梯度交给最大值，平均池化平均分配，所以梯度之和不变；"
                  "但当零填充计入除数时，填充位置会分走一部分，梯度之和偏差 {sum_err_include_pad:pct}。"},
        "refuted": {
            "en": "The gradient sum was not kept here (deviation {sum_err_include_pad:pct} with padding "
                  "counted), or average pooling did not share equally.",
            "zh": "这里梯度之和没有保持（计入填充时偏差 {sum_err_include_pad:pct}），或者平均池化没有平均分配。"},
    }
    text = {
        "en": {
            "title": "How a pooling layer passes gradients back",
            "claim": "A pooling layer has no weights, so its backward pass only hands the error to the layer below, "
                     "keeping the total of the gradients unchanged; average pooling shares each window's gradient "
                     "equally among the window's positions.",
            "method": "Backpropagate an all-ones gradient through our max_pool2d and avg_pool2d with 12 window "
                      "settings (non-overlapping, overlapping k>s, gaps k<s, zero padding with count_include_pad "
                      "set to True and to False, ceil_mode; count_include_pad is always given explicitly) on 28x28 "
                      "and 7x7 maps and compare the summed input gradient with the summed output gradient; send a "
                      "random gradient through a 2x2 average pooling and compare each input's share with a quarter "
                      "of its window's gradient.",
            "beyond": "Where max pooling sends the gradient, including windows whose maximum is tied on a real "
                      "MNIST feature map (ReLU of a bias-free 3x3 convolution), and how evenly the inputs are "
                      "served when windows overlap or leave gaps.",
        },
        "zh": {
            "title": "池化层如何回传梯度",
            "claim": "池化层没有权重，反向传播时只把误差交给上一层，梯度的总和保持不变；平均池化把每个窗口的梯度"
                     "平均分给窗口中的各个位置。",
            "method": "在 28x28 与 7x7 的特征图上，让全 1 的梯度分别经过我们的 max_pool2d 和 avg_pool2d，"
                      "共 12 种窗口设置（不重叠、重叠 k>s、留空 k<s、零填充且 count_include_pad 分别为 True 和 "
                      "False、ceil_mode；count_include_pad 总是显式给出），比较输入梯度之和与输出梯度之和；"
                      "再让随机梯度经过 2x2 平均池化，比较每个输入分到的梯度与所在窗口梯度的四分之一。",
            "beyond": "最大池化把梯度送往何处（包括在真实 MNIST 特征图——无偏置 3x3 卷积后接 ReLU——上最大值"
                      "并列的窗口），以及窗口重叠或留空时各输入分到的梯度是否均匀。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "sum_ratio_{m}_{n}": {"en": "gradient sum passed down / received, {m}, {n}x{n}",
                              "zh": "向下传递 / 收到的梯度总和（{m}，{n}x{n}）"},
        "tied_window_share": {"en": "share of max-pool windows with a tie", "zh": "最大池化窗口中出现并列的比例"},
        "tied_gradient_to_first": {"en": "tied windows whose gradient goes to the first maximum",
                                   "zh": "并列窗口中梯度给第一个最大值的比例"},
    }
    terms = {
        "avg_include_pad": {"en": "average pooling, padding counted", "zh": "平均池化，计入填充"},
        "avg_exclude_pad": {"en": "average pooling, padding not counted", "zh": "平均池化，不计填充"},
        "avg_ceil_include_pad": {"en": "average pooling, ceil mode, padding counted",
                                 "zh": "平均池化，向上取整，计入填充"},
    }

    def measure(self, ctx: Context) -> Result:
        rows: list[list[Any]] = []
        ratios = {}
        for name, (op, kw) in CONFIGS.items():
            r28, dead28, spread28 = sum_ratio(op, kw, 28)
            r7, dead7, _ = sum_ratio(op, kw, 7)
            ratios[name] = (r28, r7)
            rows.append([name, round(r28, 6), round(r7, 6), round(100 * dead28, 2), round(spread28, 4)])
        conserving = [n for n in CONFIGS if n not in LOSSY]
        worst_ok = max(max(abs(ratios[n][0] - 1), abs(ratios[n][1] - 1)) for n in conserving)
        lossy = max(abs(r - 1) for n in LOSSY for r in ratios[n])

        data = load_data("mnist_sample", n_train=ctx.pick(200, 1000, tiny=20), n_val=10, rng=ctx.rng)
        w = np.random.default_rng(ctx.seed).standard_normal((8, 1, 3, 3)) / 3.0
        fmap = F.relu(F.conv2d(cp.tensor(data.x_train.astype(np.float64)), cp.tensor(w), padding=1)).numpy()
        tie_frac, first_share = tie_stats(fmap)
        tied = tied_windows(fmap)
        routing = self._routing()
        return Result(
            figures={
                "worst_error_conserving_configs": Figure(worst_ok, "relative",
                                                         {"en": "largest |ratio - 1| over the 10 settings without "
                                                                "padded cells in the divisor",
                                                          "zh": "除数不含填充格的 10 种设置中 |比值-1| 的最大值"}),
                "sum_err_include_pad": Figure(lossy, "relative",
                                              {"en": "largest |ratio - 1| with padded cells in the divisor",
                                               "zh": "除数计入填充格时 |比值-1| 的最大值"}),
                "avg_split_error": Figure(split_error(), "relative",
                                          {"en": "avg k2 s2: largest deviation from an equal share",
                                           "zh": "avg k2 s2：与均分的最大偏差"}),
                "sum_ratio_avg_include_pad_28": Figure(ratios[LOSSY[0]][0], "ratio"),
                "sum_ratio_avg_include_pad_7": Figure(ratios[LOSSY[0]][1], "ratio"),
                "sum_ratio_avg_exclude_pad_7": Figure(ratios["avg k3 s1 p1, exclude pad"][1], "ratio"),
                "sum_ratio_avg_ceil_include_pad_7": Figure(ratios[LOSSY[1]][1], "ratio"),
            },
            beyond={
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
            series={"routing": routing, "map": fmap[0, 0], "tied": tied[0, 0],
                    "tied_pct": 100 * tied.mean()},
        )

    @staticmethod
    def _routing() -> list[tuple[str, np.ndarray, float]]:
        """The input gradient of one 6x6 map (a tied top-left window) for an all-ones upstream gradient under six
        pooling settings: ``(setting, gradient (6, 6), summed output gradient)`` each."""
        x6 = np.random.default_rng(1).standard_normal((1, 1, 6, 6))
        x6[0, 0, :2, :2] = 0.0  # a tied window
        panels = [("max k2 s2 (top-left window tied)", "max", {"kernel_size": 2}),
                  ("avg k2 s2", "avg", {"kernel_size": 2}),
                  ("avg k3 s2 (overlapping)", "avg", {"kernel_size": 3, "stride": 2}),
                  ("max k2 s3 (gaps)", "max", {"kernel_size": 2, "stride": 3}),
                  ("avg k3 s1 p1, count_include_pad", "avg", {"kernel_size": 3, "stride": 1, "padding": 1,
                                                              "count_include_pad": True}),
                  ("avg k3 s1 p1, exclude pad", "avg", {"kernel_size": 3, "stride": 1, "padding": 1,
                                                        "count_include_pad": False})]
        out = []
        for title, op, kw in panels:
            gx, total = input_gradient(functools.partial(pool, op, **kw), x6)
            out.append((title, gx[0, 0], total))
        return out

    def draw(self, res: Result, ctx: Context) -> None:
        fig, axes = ctx.figure(2, 3, size=(11, 7))
        for ax, (title, g, total) in zip(axes.ravel(), res.series["routing"], strict=True):
            ax.imshow(g, cmap="Blues", vmin=0, vmax=max(1.0, g.max()))
            for (i, j), v in np.ndenumerate(g):
                ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=7)
            ax.set_title(tr(f"{title}\nsum in {fmt(g.sum())} / out {fmt(total)}",
                            f"{title}\n输入总和 {fmt(g.sum())} / 输出 {fmt(total)}"))
            ax.set_xticks([])
            ax.set_yticks([])
        ctx.save_figure(fig, "routing", "Input gradients of a 6x6 map for an all-ones upstream gradient under six "
                        "pooling settings, each cell labelled with its value and each panel with the summed input "
                        "and output gradients.",
                        "6x6 特征图在上游梯度全为 1 时、六种池化设置下的输入梯度；每格标出数值，"
                        "每个子图标出输入与输出梯度之和。")
        fig, ax = ctx.figure(1, 2, size=(10, 3.6))
        ax[0].imshow(res.series["map"], cmap="gray")
        ax[0].set_title("ReLU(conv3x3(MNIST)), one channel")
        ax[0].set_axis_off()
        ax[1].imshow(res.series["tied"], cmap="Reds")
        pct = res.series["tied_pct"]
        ax[1].set_title(tr(f"tied 2x2 windows (red): {pct:.0f}% over all maps",
                           f"并列的 2x2 窗口（红色）：占全部特征图的 {pct:.0f}%"))
        ax[1].set_axis_off()
        ctx.save_figure(fig, "ties", "One channel of a ReLU feature map of an MNIST digit and, in red, its 2x2 "
                        "pooling windows whose maximum is tied.",
                        "一张 MNIST 数字的 ReLU 特征图的一个通道，以及最大值并列的 2x2 池化窗口（红色）。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol = thresholds["conserve_tol"]
        worst, split, lossy = (figures["worst_error_conserving_configs"], figures["avg_split_error"],
                               figures["sum_err_include_pad"])
        plain_ok, split_ok, pad_ok = worst <= tol, split <= tol, lossy <= tol
        r28, r7 = figures["sum_ratio_avg_include_pad_28"], figures["sum_ratio_avg_include_pad_7"]
        rc = figures["sum_ratio_avg_ceil_include_pad_7"]
        verdict = verdict_if(plain_ok and split_ok and pad_ok, nuanced=plain_ok and split_ok)
        en = (f"Without padded cells in the divisor (max pooling in every setting; average pooling without padding, "
              f"with overlapping windows, with gaps, in ceil_mode and with count_include_pad=False) the gradient sum "
              f"is {'conserved' if plain_ok else 'not conserved'}: worst |ratio - 1| {fmt(worst)} (tolerance "
              f"{fmt(tol)}). A 2x2 average pooling shares each window's gradient "
              f"{'equally' if split_ok else 'unequally'} (largest deviation {fmt(split)}). With zero padding counted "
              f"in the divisor (count_include_pad=True) the sum is "
              f"{'also conserved' if pad_ok else 'not conserved'}: worst |ratio - 1| {fmt(lossy)}; the ratio is "
              f"{fmt(r28)} on a 28x28 map, {fmt(r7)} on a 7x7 map and {fmt(rc)} with ceil_mode"
              f"{', since the padded cells take their share' if not pad_ok else ''}.")
        zh = (f"除数中不计填充格时（最大池化的所有设置；平均池化无填充、窗口重叠、留空、ceil_mode 以及 "
              f"count_include_pad=False），梯度之和{'守恒' if plain_ok else '不守恒'}：|比值-1| 最大为 "
              f"{fmt(worst)}（容差 {fmt(tol)}）。2x2 平均池化把每个窗口的梯度{'均分' if split_ok else '没有均分'}"
              f"给各位置（最大偏差 {fmt(split)}）。零填充计入除数时（count_include_pad=True），梯度之和"
              f"{'同样守恒' if pad_ok else '不守恒'}：|比值-1| 最大为 {fmt(lossy)}；28x28 图上比值为 {fmt(r28)}，"
              f"7x7 图上为 {fmt(r7)}，ceil_mode 下为 {fmt(rc)}{'，因为填充格分走了份额' if not pad_ok else ''}。")
        return verdict, evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        ties, first = beyond["tied_window_share"], beyond["tied_gradient_to_first"]
        spread, gaps = beyond["avg_overlap_spread"], beyond["gap_inputs_without_gradient"]
        return {"en": f"'Equally' holds per window: with overlapping windows (avg k3 s2) an input receives up to "
                      f"{fmt(spread)}x what another does, and with gaps (avg k2 s3) {fmt(gaps)}% of the "
                      f"inputs receive nothing. On a real MNIST ReLU map {fmt(ties)}% of the 2x2 windows have a tied "
                      f"maximum, and max pooling sends {fmt(first)}% of their gradient to the first maximum.",
                "zh": f"“均分”只在单个窗口内成立：窗口重叠（avg k3 s2）时某些输入得到的梯度是其他输入的 "
                      f"{fmt(spread)} 倍，留空（avg k2 s3）时 {fmt(gaps)}% 的输入得不到梯度。在真实的 "
                      f"MNIST ReLU 特征图上 {fmt(ties)}% 的 2x2 窗口最大值并列，最大池化把这些窗口梯度的 "
                      f"{fmt(first)}% 交给第一个最大值。"}
