"""Question 8: depth and width of a network; at the same parameter budget, which buys more?

Measured on the MNIST sample with ReLU MLPs of 1 to 4 hidden layers whose common width is solved so that
every net has the same number of parameters, at two budgets (the larger one is, at a fixed depth, simply a
wider net). Each is trained from the same seed on the same batches; the validation accuracy is the
measure. The seed's aside that channel counts "should be multiples of 8" for the GPU is timed on our CPU
engine: the time per multiply-accumulate of a 3x3 convolution with 56 ... 72 output channels
(multiples of 8, other even and odd counts).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.analysis.timing import time_interleaved
from cvprimer.lab.common import fit, load_data
from cvprimer.lab.experiment import (
    CONFIRMED,
    NUANCED,
    REFUTED,
    Context,
    Experiment,
    Figure,
    Result,
    Table,
    Text,
    evidence,
    fmt,
)

DEPTHS = (1, 2, 3, 4)
BUDGETS = (25_000, 100_000)
CHANNELS = (56, 60, 62, 63, 64, 65, 66, 68, 72)


def mlp_params(depth: int, width: int, d_in: int = 784, d_out: int = 10) -> int:
    """Parameters (weights and biases) of an MLP with ``depth`` hidden layers of ``width`` units."""
    return (d_in + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * d_out


def width_for(budget: int, depth: int) -> int:
    """The width whose MLP (``depth`` hidden layers) has the parameter count closest to ``budget``."""
    ws = np.arange(1, 2000)
    return int(ws[np.argmin([abs(mlp_params(depth, int(w)) - budget) for w in ws])])


def mlp(depth: int, width: int) -> Any:
    layers: list[Any] = [nn.Flatten()]
    d = 784
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, 10))


class DepthVersusWidth(Experiment):
    id = "q08-depth-width"
    questions = (8,)
    topic = "architecture"
    thresholds = {"min_acc_gain": 0.01, "max_mult8_speedup": 1.3}
    text = {
        "en": {
            "title": "Depth vs width at an equal parameter budget",
            "claim": "Depth (the number of layers, or of blocks) sets a network's expressive power; width (the "
                     "largest number of channels) sets how much a layer can learn. More channels work better but "
                     "cost more computation, and channel counts are chosen as multiples of 8 to suit GPU "
                     "parallelism.",
            "method": "Train ReLU MLPs with 1-4 hidden layers on the MNIST sample, with the width solved so that "
                      "all have the same number of parameters, at two budgets; compare validation accuracy along "
                      "depth (equal budget) and along width (equal depth). Time a 3x3 convolution with 56-72 "
                      "output channels on our engine to see whether multiples of 8 are special on a CPU.",
        },
        "zh": {
            "title": "相同参数量下的深度与宽度",
            "claim": "深度（层数或模块数）决定网络的表达能力；宽度（最大通道数）决定一层能学到多少信息。"
                     "通道越多效果越好但计算量越大，并且通道数取 8 的倍数以利于 GPU 并行计算。",
            "method": "在 MNIST 样本上训练 1 到 4 个隐藏层的 ReLU MLP，宽度按相同参数量求出，共两个参数预算；"
                      "比较相同参数量下不同深度、以及相同深度下不同宽度的验证准确率。"
                      "再在我们的引擎上对 56 到 72 个输出通道的 3x3 卷积计时，看 8 的倍数在 CPU 上是否特殊。",
        },
    }

    def run(self, ctx: Context) -> Result:
        data = load_data("mnist_sample", ctx.pick(1000, 3500), ctx.pick(500, 1000), ctx.rng)
        epochs = ctx.pick(8, 25)
        state = ctx.rng.bit_generator.state
        acc: dict[tuple[int, int], float] = {}
        rows = []
        figs: dict[str, Figure] = {}
        for b in BUDGETS:
            for d in DEPTHS:
                w = width_for(b, d)
                cp.manual_seed(ctx.seed)
                model = mlp(d, w)
                gen = np.random.default_rng()
                gen.bit_generator.state = state
                res = fit(model, data, epochs, gen, lr=1e-3)
                n = sum(p.data.size for p in model.parameters())
                acc[(b, d)] = res.val_acc
                figs[f"val_acc_b{b // 1000}k_d{d}"] = Figure(res.val_acc, "accuracy", {
                    "en": f"validation accuracy, {b:,} parameters, {d} hidden layers",
                    "zh": f"验证准确率，{b:,} 个参数，{d} 个隐藏层"})
                rows.append([f"{b:,}", d, w, n, res.train_acc, res.val_acc])
                ctx.progress.update()
        x = cp.Tensor(ctx.rng.standard_normal((4, 64, 16, 16)).astype(np.float32))
        kernels = {c: cp.Tensor(ctx.rng.standard_normal((c, 64, 3, 3)).astype(np.float32)) for c in CHANNELS}

        def conv(c: int) -> Any:
            def f() -> None:
                with cp.no_grad():
                    F.conv2d(x, kernels[c], padding=1)
            return f

        times = time_interleaved({c: conv(c) for c in CHANNELS}, repeat=ctx.pick(11, 21), warmup=1,
                               clock=time.process_time)  # CPU time: robust to other processes' load
        per_mac = {c: times[c] / (4 * 16 * 16 * 64 * 9 * c) for c in CHANNELS}
        even = np.mean([per_mac[c] for c in CHANNELS if c % 2 == 0 and c % 8])
        mult8 = np.mean([per_mac[c] for c in CHANNELS if c % 8 == 0])
        odd = np.mean([per_mac[c] for c in CHANNELS if c % 2])
        figs["mult8_speedup"] = Figure(even / mult8, "x", {
            "en": "time per MAC of even, non-multiple-of-8 channel counts / that of multiples of 8",
            "zh": "偶数但非 8 的倍数的通道数每次乘加的时间与 8 的倍数之比"})
        figs["odd_slowdown"] = Figure(odd / even, "x", {"en": "time per MAC of odd / even channel counts",
                                                        "zh": "奇数与偶数通道数每次乘加的时间之比"})
        for c in CHANNELS:
            figs[f"ps_per_mac_c{c}"] = Figure(1e12 * per_mac[c], "ps")
        self._plot(ctx, acc, per_mac)
        return Result(figures=figs, tables=[
            Table("nets", ["budget", "hidden layers", "width", "parameters", "train acc", "val acc"], rows,
                  {"en": f"{len(data.y_train)} MNIST training images, {epochs} epochs of Adam, same seed and batches.",
                   "zh": f"{len(data.y_train)} 张 MNIST 训练图像，Adam 训练 {epochs} 轮，相同随机种子和批次。"}),
            Table("channels", ["output channels", "ps per MAC"], [[c, 1e12 * per_mac[c]] for c in CHANNELS],
                  {"en": "3x3 convolution of a (4, 64, 16, 16) input, one thread, median of interleaved repeats.",
                   "zh": "对 (4, 64, 16, 16) 输入做 3x3 卷积，单线程，交错重复取中位数。"})])

    @staticmethod
    def _plot(ctx: Context, acc: Mapping[tuple[int, int], float], per_mac: Mapping[int, float]) -> None:
        fig, axes = ctx.figure(1, 2, size=(10, 3.4))
        for b in BUDGETS:
            axes[0].plot(DEPTHS, [acc[(b, d)] for d in DEPTHS], "o-", label=f"{b:,} parameters")
        axes[0].set_xticks(DEPTHS)
        axes[0].set_xlabel("hidden layers (width shrinks to keep the budget)")
        axes[0].set_ylabel("validation accuracy")
        axes[0].set_title("Depth at equal parameter budgets")
        axes[0].legend()
        axes[1].bar([str(c) for c in per_mac], [1e12 * v for v in per_mac.values()],
                    color=["C1" if c % 8 == 0 else "C0" for c in per_mac])
        axes[1].set_xlabel("output channels (red: multiple of 8)")
        axes[1].set_ylabel("ps per multiply-accumulate")
        axes[1].set_title("3x3 conv cost per MAC on our CPU engine")
        ctx.save_figure(fig, "depth_width", "Left: validation accuracy of MLPs with 1 to 4 hidden layers at two "
                        "fixed parameter budgets. Right: time per multiply-accumulate of a 3x3 convolution with 56 "
                        "to 72 output channels (red: multiples of 8).",
                        "左：两个固定参数预算下 1 到 4 个隐藏层 MLP 的验证准确率。右：输出通道为 56 到 72 的 3x3 "
                        "卷积每次乘加的耗时（红色为 8 的倍数）。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        g = thresholds["min_acc_gain"]
        small, big = (f"b{b // 1000}k" for b in BUDGETS)
        deep = float(np.mean([figures[f"val_acc_{k}_d{DEPTHS[-1]}"] - figures[f"val_acc_{k}_d1"]
                              for k in (small, big)]))
        best = {k: max(DEPTHS, key=lambda d, k=k: figures[f"val_acc_{k}_d{d}"]) for k in (small, big)}
        wide = float(np.mean([figures[f"val_acc_{big}_d{d}"] - figures[f"val_acc_{small}_d{d}"] for d in DEPTHS]))
        sp, odd = figures["mult8_speedup"], figures["odd_slowdown"]
        verdict = CONFIRMED if deep >= g and wide >= g else REFUTED if deep <= -g and wide < g else NUANCED
        concl_en = (" Deeper is better at a fixed budget here." if deep >= g else
                     " Depth is not a free gain at a fixed budget: the narrower, deeper nets do worse." if deep <= -g
                     else " Depth makes no clear difference at a fixed budget.")
        concl_zh = ("在这里固定预算下越深越好。" if deep >= g else
                    "在固定预算下加深并不是白来的收益：更窄更深的网络更差。" if deep <= -g else
                    "在固定预算下深度没有明显影响。")
        m8_en = "no" if sp <= thresholds["max_mult8_speedup"] else "a"
        m8_zh = "没有" if sp <= thresholds["max_mult8_speedup"] else "有"
        return verdict, evidence(
            en=f"At an equal parameter budget, 4 hidden layers vs 1 changes validation accuracy by {fmt(deep)} on "
               f"average (a change of {fmt(g)} counts); the best depth is {best[small]} at {BUDGETS[0]:,} and "
               f"{best[big]} at {BUDGETS[1]:,} parameters. Widening at a fixed depth ({BUDGETS[0]:,} -> "
               f"{BUDGETS[1]:,} parameters) changes it by {fmt(wide)}.{concl_en} On our CPU engine a 3x3 "
               f"convolution whose channel count is a multiple of 8 is {fmt(sp)}x cheaper per MAC than with other "
               f"even counts ({fmt(thresholds['max_mult8_speedup'])}x would count): {m8_en} multiple-of-8 effect "
               f"here (that rule is about GPU kernels and tensor cores); odd counts cost {fmt(odd)}x the even ones.",
            zh=f"相同参数量下，4 个隐藏层相对 1 个隐藏层使验证准确率平均变化 {fmt(deep)}（变化达到 {fmt(g)} 才算数）；"
               f"最佳深度在 {BUDGETS[0]:,} 个参数时为 {best[small]}，在 {BUDGETS[1]:,} 个参数时为 {best[big]}。"
               f"固定深度加宽（{BUDGETS[0]:,} -> {BUDGETS[1]:,} 个参数）使准确率变化 {fmt(wide)}。"
               f"{concl_zh}在我们的 CPU 引擎上，通道数为 8 的倍数的 3x3 卷积"
               f"每次乘加比其他偶数通道便宜 {fmt(sp)} 倍（{fmt(thresholds['max_mult8_speedup'])} 倍才算）："
               f"这里{m8_zh} 8 的倍数效应（这条规则针对的是 GPU 内核和张量核心），奇数通道的开销是偶数通道的 "
               f"{fmt(odd)} 倍。")
