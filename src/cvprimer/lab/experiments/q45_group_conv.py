"""Question 45: group convolution — the channels split into g groups, each convolved on its own, the outputs
stacked.

Measured: that ``conv2d(groups=g)`` equals g separate convolutions on channel slices concatenated (max abs
error); parameters and MACs against g from the analyzer (divided by g exactly); the wall time against g on our
engine (one thread, interleaved medians), which falls far less than g; that output group j depends only on
input group j (autograd), and that a channel shuffle (ShuffleNet) between two group convs lets every output
group see every input group.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.analysis.timing import blas_threads, time_interleaved
from cvprimer.lab._convnets import cost
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if


def group_dependency(c: int, g: int, shuffle: bool, rng: np.random.Generator) -> np.ndarray:
    """``(g, g)`` matrix: entry (j, i) is 1 when output group j of group-conv [-> shuffle] -> group-conv
    depends on input group i (autograd on a 1x1-pixel input, float64). After a shuffle every output group
    reaches every input group only when each group holds at least g channels (``c // g >= g``)."""
    w1, w2 = (cp.tensor(rng.standard_normal((c, c // g, 1, 1))) for _ in range(2))
    dep = np.zeros((g, g))
    per = c // g
    for j in range(g):
        x = cp.tensor(rng.standard_normal((1, c, 1, 1)), requires_grad=True)
        h = F.conv2d(x, w1, groups=g)
        if shuffle:
            h = F.channel_shuffle(h, g)
        y = F.conv2d(h, w2, groups=g)
        y[:, j * per:(j + 1) * per].sum().backward()
        gx = np.abs(x.grad.data[0, :, 0, 0]).reshape(g, per).sum(1)
        dep[j] = gx > 0
    return dep


class GroupConv(Experiment):
    id = "q45-group-conv"
    questions = (45,)
    topic = "architecture"
    stochastic = False
    thresholds = {"exact_tol": 1e-10}
    text = {
        "en": {
            "title": "Group convolution",
            "claim": "A group convolution divides the input channels into g groups, convolves each group with its "
                     "own filters (each seeing C_in/g channels) and stacks the g outputs along the channel axis as "
                     "the layer's output.",
            "method": "Compare conv2d(groups=g) with g separate convolutions on channel slices, concatenated; count "
                      "parameters and MACs for g = 1 ... 64 at 64 channels with the analyzer; time the layer on our "
                      "engine for each g (one thread, interleaved medians); find by autograd which input groups "
                      "each output group depends on, for two stacked group convs with and without a channel "
                      "shuffle between them.",
        },
        "zh": {
            "title": "分组卷积",
            "claim": "分组卷积把输入通道分成 g 组，每组用自己的卷积核单独卷积（每个卷积核只看 C_in/g 个通道），"
                     "再把 g 组输出沿通道轴拼起来作为该层的输出。",
            "method": "把 conv2d(groups=g) 与按通道切片分别卷积再拼接的结果比较；用分析器统计 64 通道下 "
                      "g = 1 到 64 的参数量和乘加次数；在我们的引擎上对每个 g 计时（单线程、交错重复取中位数）；"
                      "用自动求导找出两个串联分组卷积（中间有或没有通道重排）的每个输出组依赖哪些输入组。",
        },
    }

    def run(self, ctx: Context) -> Result:
        rng = np.random.default_rng(45)
        c = 64
        gs = (1, 2, 4, 8, 16, 32, 64)
        # split-and-concatenate equivalence (float64)
        x = rng.standard_normal((2, c, 9, 9))
        split_err = 0.0
        for g in (2, 4, 8):
            w = rng.standard_normal((32, c // g, 3, 3))
            whole = F.conv2d(cp.tensor(x), cp.tensor(w), padding=1, groups=g).data
            pi, po = c // g, 32 // g
            parts = [F.conv2d(cp.tensor(x[:, i * pi:(i + 1) * pi]), cp.tensor(w[i * po:(i + 1) * po]), padding=1).data
                     for i in range(g)]
            split_err = max(split_err, float(np.abs(whole - np.concatenate(parts, 1)).max() / np.abs(whole).max()))

        costs = {g: cost(nn.Conv2d(c, c, 3, padding=1, groups=g, bias=False), (1, c, 32, 32)) for g in gs}
        div_err = max(max(abs(costs[1]["params"] / costs[g]["params"] - g) / g,
                          abs(costs[1]["macs"] / costs[g]["macs"] - g) / g) for g in gs)

        n, hw = ctx.pick((8, 24), (16, 32))
        xt = cp.tensor(ctx.rng.standard_normal((n, c, hw, hw)).astype(np.float32))
        ws = {g: cp.tensor(ctx.rng.standard_normal((c, c // g, 3, 3)).astype(np.float32)) for g in gs}
        with cp.no_grad(), blas_threads(1):
            med = time_interleaved({str(g): (lambda g=g: F.conv2d(xt, ws[g], padding=1, groups=g)) for g in gs},
                                   repeat=ctx.pick(5, 11), warmup=1)
        t = {g: med[str(g)] for g in gs}
        speed = {g: t[1] / t[g] for g in gs}

        g = 4
        plain, shuffled = group_dependency(16, g, False, rng), group_dependency(16, g, True, rng)
        cross = float(plain[~np.eye(g, dtype=bool)].sum())
        reach = float(shuffled.mean())

        fig, axes = ctx.figure(1, 3, size=(12, 3.5))
        ax = axes[0]
        ax.loglog(gs, [costs[g]["params"] / costs[1]["params"] for g in gs], "o-", label="parameters (analyzer)")
        ax.loglog(gs, [costs[g]["macs"] / costs[1]["macs"] for g in gs], "x--", label="MACs (analyzer)")
        ax.loglog(gs, [t[g] / t[1] for g in gs], "s-", label="measured time")
        ax.loglog(gs, [1 / g for g in gs], "k:", label="1/g")
        ax.set_xscale("log", base=2)
        ax.set(xlabel="groups g (64 channels, 3x3)", ylabel="relative to g = 1", title="cost vs measured time")
        ax.legend(fontsize=7)
        for ax, m, title in ((axes[1], plain, "group conv -> group conv"),
                             (axes[2], shuffled, "group conv -> shuffle -> group conv")):
            ax.imshow(m, cmap="Greys", vmin=0, vmax=1)
            ax.set(xlabel="input group", ylabel="output group", title=title)
            ax.set_xticks(range(g))
            ax.set_yticks(range(g))
            ax.grid(False)
        ctx.save_figure(fig, "groups", "Left: parameters, MACs and measured time of a 64-channel 3x3 conv against "
                        "the number of groups, relative to g = 1, beside 1/g. Middle and right: which input groups "
                        "(columns) each output group (rows) depends on, without and with a channel shuffle (black "
                        "= depends).",
                        "左：64 通道 3x3 卷积的参数量、乘加次数和实测时间随分组数的变化（相对 g = 1），"
                        "并与 1/g 对照。中、右：每个输出组（行）依赖哪些输入组（列），"
                        "分别为没有和有通道重排（黑色表示依赖）。")
        rows = [[g, costs[g]["params"], costs[g]["macs"], 1e3 * t[g], speed[g]] for g in gs]
        return Result(
            figures={
                "split_concat_err": Figure(split_err, "relative"),
                "cost_div_g_err": Figure(div_err, "relative"),
                "time_speedup_g8": Figure(speed[8], "x"),
                "time_speedup_g64": Figure(speed[64], "x"),
                "cross_group_dependencies": Figure(cross, "count"),
                "shuffle_reach": Figure(reach, "share"),
            },
            tables=[Table("groups", ["g", "params", "MACs", "time (ms)", "speedup vs g=1"], rows,
                          {"en": f"64 -> 64 channels, 3x3; time on a {n}x64x{hw}x{hw} batch, one thread.",
                           "zh": f"64 -> 64 通道，3x3；时间在 {n}x64x{hw}x{hw} 的批次上单线程测得。"})],
        )

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol = thresholds["exact_tol"]
        se, de = figures["split_concat_err"], figures["cost_div_g_err"]
        s8, s64 = figures["time_speedup_g8"], figures["time_speedup_g64"]
        cross, reach = figures["cross_group_dependencies"], figures["shuffle_reach"]
        ok = se <= tol and de <= tol and cross == 0
        en = (f"conv2d(groups=g) equals g separate convolutions on channel slices, concatenated (relative error "
              f"{fmt(se)}, tolerance {fmt(tol)}); parameters and MACs are divided by g exactly (largest deviation "
              f"{fmt(de)}). Autograd finds {fmt(cross)} dependencies between different groups, so groups never "
              f"exchange information; a channel shuffle between two group convs lets each output group reach "
              f"{fmt(100 * reach)}% of the input groups. Time is not divided by g: g = 8 ran {fmt(s8)}x faster "
              f"than g = 1 (MACs: 8x) and g = 64 (depthwise) {fmt(s64)}x (MACs: 64x).")
        zh = (f"conv2d(groups=g) 等于按通道切片分别卷积再拼接（相对误差 {fmt(se)}，容差 {fmt(tol)}）；"
              f"参数量和乘加次数恰好除以 g（最大偏差 {fmt(de)}）。自动求导发现不同组之间的依赖有 {fmt(cross)} 处，"
              f"即各组之间不交换信息；两个分组卷积之间加入通道重排后，每个输出组能覆盖 {fmt(100 * reach)}% "
              f"的输入组。时间并不按 g 缩减：g = 8 比 g = 1 快 {fmt(s8)} 倍（乘加为 8 倍），"
              f"g = 64（深度卷积）快 {fmt(s64)} 倍（乘加为 64 倍）。")
        return verdict_if(ok), evidence(en=en, zh=zh)
