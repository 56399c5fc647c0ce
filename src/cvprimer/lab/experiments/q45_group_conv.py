"""Question 45: group convolution — the channels split into g groups, each convolved on its own, the outputs
stacked.

The seed's claim (the definition) is measured two ways: ``conv2d(groups=g)`` against g separate convolutions on
channel slices, concatenated (largest relative error, float64), and which input groups each output group depends
on (autograd through two stacked group convs: a dependency between different groups would contradict "each group
is convolved on its own"). Beyond the seed: parameters and MACs against g from the analyzer, the wall time against
g on our engine (one thread, interleaved medians), and the reach of a channel shuffle (ShuffleNet) between two
group convs.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.analysis.timing import time_interleaved
from cvprimer.lab._convnets import cost
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "parameters (analyzer)": "参数量（分析器）",
    "MACs (analyzer)": "MACs（分析器）",
    "groups g (64 channels, 3x3)": "分组数 g（64 通道，3x3）",
    "cost vs measured time": "成本与实测时间",
    "group conv -> group conv": "分组卷积 -> 分组卷积",
    "group conv -> shuffle -> group conv": "分组卷积 -> 通道重排 -> 分组卷积",
})


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
        assert x.grad is not None  # (it requires grad and feeds the loss)
        gx = np.abs(x.grad.data[0, :, 0, 0]).reshape(g, per).sum(1)
        dep[j] = gx > 0
    return dep


class GroupConv(Experiment):
    id = "q45-group-conv"
    questions = (45,)
    topic = "cost"
    stochastic = False
    reachable = ("confirmed", "refuted")
    thresholds = {"exact_tol": 1e-10, "max_cross_dependencies": 0.0}
    reasons = {
        "exact_tol": {"en": "theory: both sides sum the same float64 products in a different order, so they differ "
                            "by rounding only (about 1e-15 relative); 1e-10 leaves room for that and nothing else",
                      "zh": "理论：两边在 float64 下以不同顺序累加同样的乘积，只差舍入误差（相对约 1e-15）；"
                            "1e-10 只容得下舍入误差"},
        "max_cross_dependencies": {"en": "definition: a group convolved on its own cannot depend on another group's "
                                         "channels, so one cross-group dependency contradicts the claim",
                                   "zh": "定义：各组单独卷积，就不可能依赖其他组的通道，出现一处跨组依赖即与说法矛盾"},
    }
    key_term = {"en": "grouped convolution", "zh": "分组卷积"}
    key_figure = "split_concat_err"
    answer = {
        "confirmed": {
            "en": "Yes: a convolution with g groups is exactly g separate convolutions on channel slices, "
                  "concatenated (difference {split_concat_err}), so channels never mix across groups and the "
                  "parameters and MACs drop by g.",
            "zh": "是的：分成 g 组的卷积恰好等于在各通道切片上分别做 g 次卷积再拼接（差异 {split_concat_err}）"
                  "，因此通道不会跨组混合，参数量和乘加次数都除以 g。"},
        "refuted": {
            "en": "The grouped layer did not equal separate convolutions on channel slices here (difference "
                  "{split_concat_err}).",
            "zh": "这里分组卷积不等于在通道切片上分别卷积（差异 {split_concat_err}）。"},
    }
    text = {
        "en": {
            "title": "Group convolution",
            "claim": "A group convolution divides the input channels into g groups, convolves each group with its "
                     "own filters (each seeing C_in/g channels) and stacks the g outputs along the channel axis as "
                     "the layer's output.",
            "method": "Compare conv2d(groups=g) with g separate convolutions on channel slices, concatenated "
                      "(float64, g = 2, 4, 8); find by autograd which input groups each output group depends on, "
                      "for two stacked group convs.",
            "beyond": "Parameters and MACs for g = 1 ... 64 at 64 channels from the analyzer; the layer's time on "
                      "our engine for each g (one thread, interleaved medians); the reach of a channel shuffle "
                      "between two group convs.",
        },
        "zh": {
            "title": "分组卷积",
            "claim": "分组卷积把输入通道分成 g 组，每组用自己的卷积核单独卷积（每个卷积核只看 C_in/g 个通道），"
                     "再把 g 组输出沿通道轴拼起来作为该层的输出。",
            "method": "把 conv2d(groups=g) 与按通道切片分别卷积再拼接的结果比较（float64，g = 2、4、8）；"
                      "用自动求导找出两个串联分组卷积的每个输出组依赖哪些输入组。",
            "beyond": "用分析器统计 64 通道下 g = 1 到 64 的参数量和乘加次数；在我们的引擎上对每个 g 计时"
                      "（单线程、交错重复取中位数）；两个分组卷积之间加入通道重排后各输出组能覆盖的输入组。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "split_concat_err": {"en": "grouped conv vs split + convs + concat, error",
                             "zh": "分组卷积与拆分、分别卷积、拼接的误差"},
        "cross_group_dependencies": {"en": "outputs depending on another group", "zh": "依赖其他组的输出数"},
        "cost_div_g_err": {"en": "cost / g formula, error", "zh": "成本除以 g 公式的误差"},
        "time_speedup_g{g}": {"en": "measured speed-up, g = {g}", "zh": "实测加速比（g = {g}）"},
        "shuffle_reach": {"en": "share of groups reached after a channel shuffle", "zh": "通道重排后可达的组比例"},
    }

    def measure(self, ctx: Context) -> Result:
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

        n, hw = ctx.pick((8, 24), (16, 32), tiny=(2, 8))
        xt = cp.tensor(ctx.rng.standard_normal((n, c, hw, hw)).astype(np.float32))
        ws = {g: cp.tensor(ctx.rng.standard_normal((c, c // g, 3, 3)).astype(np.float32)) for g in gs}
        with cp.no_grad():
            med = time_interleaved({str(g): functools.partial(F.conv2d, xt, ws[g], padding=1, groups=g) for g in gs},
                                   repeat=ctx.pick(5, 11, tiny=1), warmup=1)
        t = {g: med[str(g)] for g in gs}
        speed = {g: t[1] / t[g] for g in gs}

        g = 4
        plain, shuffled = group_dependency(16, g, False, rng), group_dependency(16, g, True, rng)
        cross = float(plain[~np.eye(g, dtype=bool)].sum())
        reach = float(shuffled.mean())

        rows = [[g, costs[g]["params"], costs[g]["macs"], 1e3 * t[g], speed[g]] for g in gs]
        return Result(
            figures={
                "split_concat_err": Figure(split_err, "relative"),
                "cross_group_dependencies": Figure(cross, "count"),
            },
            beyond={
                "cost_div_g_err": Figure(div_err, "relative"),
                "time_speedup_g8": Figure(speed[8], "x"),
                "time_speedup_g64": Figure(speed[64], "x"),
                "shuffle_reach": Figure(reach, "share"),
            },
            beyond_tables=[Table("groups", ["g", "params", "MACs", "time (ms)", "speedup vs g=1"], rows,
                          {"en": f"64 -> 64 channels, 3x3; time on a {n}x64x{hw}x{hw} batch, one thread.",
                           "zh": f"64 -> 64 通道，3x3；时间在 {n}x64x{hw}x{hw} 的批次上单线程测得。"})],
            # per g (gs), relative to g = 1: parameters, MACs, measured time; the group dependencies (g, g) at g = 4
            series={"gs": gs, "params": [costs[g]["params"] / costs[1]["params"] for g in gs],
                    "macs": [costs[g]["macs"] / costs[1]["macs"] for g in gs], "time": [t[g] / t[1] for g in gs],
                    "plain": plain, "shuffled": shuffled},
        )

    def draw(self, res: Result, ctx: Context) -> None:
        s = res.series
        gs = s["gs"]
        fig, axes = ctx.figure(1, 3, size=(12, 3.5))
        ax = axes[0]
        ax.loglog(gs, s["params"], "o-", label="parameters (analyzer)")
        ax.loglog(gs, s["macs"], "x--", label="MACs (analyzer)")
        ax.loglog(gs, s["time"], "s-", label="measured time")
        ax.loglog(gs, [1 / g for g in gs], "k:", label="1/g")
        ax.set_xscale("log", base=2)
        ax.set(xlabel="groups g (64 channels, 3x3)", ylabel="relative to g = 1", title="cost vs measured time")
        ax.legend(fontsize=7)
        for ax, m, title in ((axes[1], s["plain"], "group conv -> group conv"),
                             (axes[2], s["shuffled"], "group conv -> shuffle -> group conv")):
            g = len(m)
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

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol = thresholds["exact_tol"]
        se = figures["split_concat_err"]
        cross = figures["cross_group_dependencies"]
        split_ok, alone = se <= tol, cross <= thresholds["max_cross_dependencies"]
        en = (f"conv2d(groups=g) and g separate convolutions on channel slices, concatenated, differ by {fmt(se)} "
              f"(relative; tolerance {fmt(tol)}): {'the same layer' if split_ok else 'not the same layer'}. "
              f"Autograd finds {fmt(cross)} dependencies of an output group on another group's input channels "
              f"(allowed: {fmt(thresholds['max_cross_dependencies'])}): "
              f"{'each group is convolved on its own' if alone else 'the groups are not convolved on their own'}.")
        zh = (f"conv2d(groups=g) 与按通道切片分别卷积再拼接的结果相差 {fmt(se)}（相对误差，容差 {fmt(tol)}）："
              f"{'是同一个层' if split_ok else '不是同一个层'}。自动求导发现输出组依赖其他组输入通道的情况有 "
              f"{fmt(cross)} 处（允许 {fmt(thresholds['max_cross_dependencies'])} 处）："
              f"{'各组确实单独卷积' if alone else '各组并非单独卷积'}。")
        return verdict_if(split_ok and alone), evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        de, s8, s64, reach = (beyond["cost_div_g_err"], beyond["time_speedup_g8"], beyond["time_speedup_g64"],
                              beyond["shuffle_reach"])
        exact = de <= 1e-12
        less = s8 < 8 and s64 < 64  # did the measured time fall less than the MAC count in both cases?
        return {"en": f"Parameters and MACs {'fall as' if exact else 'do not fall exactly as'} 1/g (largest relative "
                      f"deviation {fmt(de)}). On our engine g = 8 ran {fmt(s8)}x faster than g = 1 (MACs: 8x fewer) "
                      f"and g = 64 (depthwise) {fmt(s64)}x (MACs: 64x fewer), so the time fell "
                      f"{'less than' if less else 'not always less than'} the MAC count. A channel shuffle between "
                      f"two group convs lets each output group reach {fmt(100 * reach)}% of the input groups.",
                "zh": f"参数量和乘加次数{'按' if exact else '并不严格按'} 1/g 下降（最大相对偏差 {fmt(de)}）。"
                      f"在我们的引擎上 g = 8 比 g = 1 快 {fmt(s8)} 倍（乘加少 8 倍），g = 64（深度卷积）快 "
                      f"{fmt(s64)} 倍（乘加少 64 倍），因此时间的下降{'小于' if less else '并不总是小于'}乘加次数。"
                      f"两个分组卷积之间加入通道重排后，每个输出组能覆盖 {fmt(100 * reach)}% 的输入组。"}
