"""Question 8: what depth and width of a network are, and what each buys.

Measured on the MNIST sample with ReLU MLPs trained by Adam (lr 1e-3) from the same seed on the same batches.
Width (the seed's "more channels work better"): one hidden layer of 8, 32 or 128 units, compared by validation
accuracy. Depth (the seed's "depth sets the expressive power"): 1, 2 or 4 hidden layers of 32 units, compared by
how well they fit the training set (final training cross-entropy).

Beyond the seed: the training time per epoch of each width (the seed's "more computation"), and the seed's aside
that channel counts are multiples of 8 to suit GPUs, timed on our CPU engine (not the GPU the seed speaks of):
the time per multiply-accumulate of a 3x3 convolution with 56 ... 72 output channels.
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
from cvprimer.lab.plots import tr, tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "Width": "宽度",
    "Depth": "深度",
    "output channels (orange: multiple of 8)": "输出通道数（橙色：8 的倍数）",
    "beyond the seed: 3x3 conv on our CPU": "原文之外：我们 CPU 上的 3x3 卷积",
})

WIDTHS = (8, 32, 128)  # one hidden layer
DEPTHS = (1, 2, 4)  # hidden layers of DEPTH_WIDTH units
DEPTH_WIDTH = 32
CHANNELS = (56, 60, 62, 63, 64, 65, 66, 68, 72)


def mlp_params(depth: int, width: int, d_in: int = 784, d_out: int = 10) -> int:
    """Parameters (weights and biases) of an MLP with ``depth`` hidden layers of ``width`` units."""
    return (d_in + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * d_out


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
    thresholds = {"min_acc_gain": 0.01, "max_loss_ratio": 0.9}
    reasons = {
        "min_acc_gain": {
            "en": "Measured noise floor: the validation-accuracy gain of 32 over 8 units measured 0.022-0.028 in full "
                  "mode (3 seeds, standard deviation 0.003) and 0.026-0.40 in quick mode; a gain counts from 0.01, "
                  "above the full-mode spread and below every measured gain.",
            "zh": "实测噪声下限：32 个单元相对 8 个单元的验证准确率提升，完整模式为 0.022-0.028（3 个随机种子，"
                  "标准差 0.003），快速模式为 0.026-0.40；提升达到 0.01 才算，高于完整模式的离散度，"
                  "低于所有实测提升。"},
        "max_loss_ratio": {
            "en": "Measured noise floor: in full mode the deeper nets' training loss was 0.59-0.85 of the 1-layer "
                  "net's (3 seeds, standard deviation about 0.1); a deeper net counts as fitting better when its "
                  "loss is at most 0.9 of the shallow one's, a 10% margin over a tie.",
            "zh": "实测噪声下限：完整模式下更深网络的训练损失为单层网络的 0.59-0.85 倍（3 个随机种子，标准差约 0.1）；"
                  "更深的网络损失不超过浅层的 0.9 倍才算拟合更好，即比持平多 10% 的余量。"},
    }
    reachable = (CONFIRMED, NUANCED, REFUTED)
    quick_provisional = True  # quick mode's 8 epochs leave the deeper nets under-trained (their fit lags in 3/3 seeds)
    key_term = {"en": "network capacity (depth and width)", "zh": "网络容量（深度与宽度）"}
    key_figure = "val_acc_w128"
    answer = {
        "confirmed": {
            "en": "Both held: a wider layer learned more (validation accuracy {val_acc_w128} at 128 units "
                  "against {val_acc_w8} at 8) and a deeper net fitted the training data better.",
            "zh": "两点都成立：更宽的层学到更多（128 个单元时验证准确率 {val_acc_w128}，"
                  "8 个单元时 {val_acc_w8}），更深的网络对训练数据拟合得更好。"},
        "nuanced": {
            "en": "Only some steps of width and depth helped (validation accuracy {val_acc_w128} at 128 units "
                  "against {val_acc_w8} at 8; training loss {train_loss_d4} at 4 layers against "
                  "{train_loss_d1} at 1); say capacity grows with both only as far as the data and the "
                  "optimizer can use it.",
            "zh": "宽度和深度只有部分增加起了作用（验证准确率：128 个单元 {val_acc_w128}，"
                  "8 个单元 {val_acc_w8}；训练损失：4 层 {train_loss_d4}，1 层 {train_loss_d1}）；"
                  "回答时说明只有在数据和优化器能利用的范围内，容量才随两者增长。"},
        "refuted": {
            "en": "Neither held here: width did not raise accuracy by the margin ({val_acc_w128} at 128 units, "
                  "{val_acc_w8} at 8) and depth did not lower the training loss.",
            "zh": "这里两点都不成立：宽度没有把准确率提高到足够幅度（128 个单元 {val_acc_w128}，"
                  "8 个单元 {val_acc_w8}），加深也没有降低训练损失。"},
        "nuanced:width": {
            "en": "Width helped (validation accuracy {val_acc_w128} at 128 units against {val_acc_w8} at 8), "
                  "but depth alone did not fit better on this small task; say depth adds capacity only where "
                  "the optimizer can use it (residual connections, normalization).",
            "zh": "宽度有帮助（128 个单元时验证准确率 {val_acc_w128}，8 个单元时 {val_acc_w8}），"
                  "但在这个小任务上单纯加深并没有拟合得更好；回答时要说明深度只有在优化器能利用时（残差连接、"
                  "归一化）才增加容量。"},
        "nuanced:depth": {
            "en": "Depth helped the fit (training loss {train_loss_d4} with 4 hidden layers against "
                  "{train_loss_d1} with 1), but widening did not raise validation accuracy by the margin "
                  "({val_acc_w128} at 128 units against {val_acc_w8} at 8); say extra width pays only while "
                  "the data can use it.",
            "zh": "加深改善了拟合（4 个隐藏层时训练损失 {train_loss_d4}，1 层时 {train_loss_d1}），"
                  "但加宽没有把验证准确率提高到足够幅度（128 个单元 {val_acc_w128}，8 个单元 {val_acc_w8}）；"
                  "回答时说明只有数据能利用时加宽才有回报。"},
    }
    text = {
        "en": {
            "title": "What are a network's depth and width?",
            "claim": "Depth is the number of layers (or of stacked blocks) and sets a network's expressive power; "
                     "width is the largest channel count and sets how much a layer can learn. More channels work "
                     "better but cost much more computation, and channel counts are chosen as multiples of 8 to "
                     "suit GPU parallelism.",
            "method": "On the MNIST sample, train MLPs with one hidden layer of 8, 32 or 128 units and compare "
                      "validation accuracy (width); train MLPs with 1, 2 or 4 hidden layers of 32 units and compare "
                      "how well they fit the training set (depth). All from the same seed on the same batches.",
            "beyond": "The training time per epoch of each width, and the time per multiply-accumulate of a 3x3 "
                      "convolution with 56 to 72 output channels on our CPU engine (the multiple-of-8 rule is about "
                      "GPUs, which this lab does not measure).",
        },
        "zh": {
            "title": "网络的深度和宽度指什么？",
            "claim": "深度是层数（或堆叠的模块数），决定网络的表达能力；宽度是最大的通道数，决定一层能学到多少信息。"
                     "通道越多效果越好，但计算量也大得多；通道数取 8 的倍数以利于 GPU 并行计算。",
            "method": "在 MNIST 样本上训练一个隐藏层、8/32/128 个单元的 MLP，比较验证准确率（宽度）；"
                      "训练 1/2/4 个隐藏层、每层 32 个单元的 MLP，比较它们对训练集的拟合程度（深度）。"
                      "全部使用相同的随机种子和批次。",
            "beyond": "各宽度每轮训练的耗时，以及在我们的 CPU 引擎上输出通道为 56 到 72 的 3x3 卷积每次乘加的耗时"
                      "（8 的倍数这条规则针对 GPU，本实验室不测 GPU）。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "epoch_s_w{w}": {"en": "seconds per epoch, width {w}", "zh": "每轮秒数（宽度 {w}）"},
    }

    def measure(self, ctx: Context) -> Result:
        from cvprimer.lab._gradstats import loss_on

        data = load_data("mnist_sample", ctx.pick(1000, 3500, 200), ctx.pick(500, 1000, 100), ctx.rng)
        epochs = ctx.pick(8, 25, 1)
        state = ctx.rng.bit_generator.state
        nets = sorted({(1, w) for w in WIDTHS} | {(d, DEPTH_WIDTH) for d in DEPTHS})
        res: dict[tuple[int, int], Any] = {}
        loss: dict[tuple[int, int], float] = {}
        rows = []
        for d, w in nets:
            cp.manual_seed(ctx.seed)
            model = mlp(d, w)
            gen = np.random.default_rng()
            gen.bit_generator.state = state
            res[(d, w)] = fit(model, data, epochs, gen, lr=1e-3)
            loss[(d, w)] = loss_on(model, data.x_train, data.y_train)
            n = sum(p.data.size for p in model.parameters())
            rows.append([d, w, n, res[(d, w)].train_acc, loss[(d, w)], res[(d, w)].val_acc,
                         res[(d, w)].seconds / epochs])
            ctx.progress.update()
        figs: dict[str, Figure] = {}
        for w in WIDTHS:
            figs[f"val_acc_w{w}"] = Figure(res[(1, w)].val_acc, "accuracy", {
                "en": f"validation accuracy, 1 hidden layer of {w} units", "zh": f"验证准确率，1 个 {w} 单元的隐藏层"})
        for d in DEPTHS:
            figs[f"train_loss_d{d}"] = Figure(loss[(d, DEPTH_WIDTH)], "cross-entropy", {
                "en": f"final training loss, {d} hidden layers of {DEPTH_WIDTH} units",
                "zh": f"最终训练损失，{d} 个 {DEPTH_WIDTH} 单元的隐藏层"})
        beyond: dict[str, Figure] = {}
        for w in WIDTHS:
            beyond[f"epoch_s_w{w}"] = Figure(res[(1, w)].seconds / epochs, "s")
        per_mac = self._time_per_mac(ctx)
        even = np.mean([per_mac[c] for c in CHANNELS if c % 2 == 0 and c % 8])
        mult8 = np.mean([per_mac[c] for c in CHANNELS if c % 8 == 0])
        odd = np.mean([per_mac[c] for c in CHANNELS if c % 2])
        beyond["mult8_speedup"] = Figure(float(even / mult8), "x", {
            "en": "time per MAC of even, non-multiple-of-8 channel counts / that of multiples of 8",
            "zh": "偶数但非 8 的倍数的通道数每次乘加的时间与 8 的倍数之比"})
        beyond["odd_slowdown"] = Figure(float(odd / even), "x", {"en": "time per MAC of odd / even channel counts",
                                                          "zh": "奇数与偶数通道数每次乘加的时间之比"})
        return Result(figures=figs, beyond=beyond, tables=[
            Table("nets", ["hidden layers", "width", "parameters", "train acc", "train loss", "val acc",
                           "s per epoch"], rows,
                  {"en": f"{len(data.y_train)} MNIST training images, {epochs} epochs of Adam (lr 1e-3), same seed "
                         "and batches.",
                   "zh": f"{len(data.y_train)} 张 MNIST 训练图像，Adam（学习率 1e-3）训练 {epochs} 轮，"
                         "相同随机种子和批次。"})],
            beyond_tables=[
                Table("channels", ["output channels", "ps per MAC"], [[c, 1e12 * per_mac[c]] for c in CHANNELS],
                      {"en": "3x3 convolution of a (4, 64, 16, 16) input on our CPU engine, one thread, median of "
                             "interleaved repeats of process CPU time.",
                       "zh": "在我们的 CPU 引擎上对 (4, 64, 16, 16) 输入做 3x3 卷积，单线程，交错重复取进程 CPU "
                             "时间的中位数。"})],
            series={"val_acc": {w: res[(1, w)].val_acc for w in WIDTHS}, "loss": loss, "per_mac": per_mac})

    @staticmethod
    def _time_per_mac(ctx: Context) -> dict[int, float]:
        """CPU seconds per multiply-accumulate of a 3x3 convolution of a (4, 64, 16, 16) input, for each output
        channel count of ``CHANNELS`` (median of interleaved repeats; the input and kernels drawn from
        ``ctx.rng``)."""
        x = cp.Tensor(ctx.rng.standard_normal((4, 64, 16, 16)).astype(np.float32))
        kernels = {c: cp.Tensor(ctx.rng.standard_normal((c, 64, 3, 3)).astype(np.float32)) for c in CHANNELS}

        def conv(c: int) -> Any:
            def f() -> None:
                with cp.no_grad():
                    F.conv2d(x, kernels[c], padding=1)
            return f

        times = time_interleaved({c: conv(c) for c in CHANNELS}, repeat=ctx.pick(7, 21, 2), warmup=1,
                                 clock=time.process_time)  # CPU time: robust to other processes' load
        return {c: times[c] / (4 * 16 * 16 * 64 * 9 * c) for c in CHANNELS}

    def draw(self, res: Result, ctx: Context) -> None:
        """Validation accuracy by width, training loss by depth, and the conv's time per MAC by channel count."""
        val_acc: Mapping[int, float] = res.series["val_acc"]
        loss: Mapping[tuple[int, int], float] = res.series["loss"]
        per_mac: Mapping[int, float] = res.series["per_mac"]
        fig, axes = ctx.figure(1, 3, size=(13, 3.4))
        axes[0].plot(WIDTHS, [val_acc[w] for w in WIDTHS], "o-")
        axes[0].set_xscale("log", base=2)
        axes[0].set(xlabel="units in the hidden layer", ylabel="validation accuracy", title="Width")
        axes[1].plot(DEPTHS, [loss[(d, DEPTH_WIDTH)] for d in DEPTHS], "o-")
        axes[1].set_xticks(DEPTHS)
        axes[1].set(xlabel=tr(f"hidden layers of {DEPTH_WIDTH} units",
                              f"隐藏层数（每层 {DEPTH_WIDTH} 个单元）"), ylabel="final training loss", title="Depth")
        axes[2].bar([str(c) for c in per_mac], [1e12 * v for v in per_mac.values()],
                    color=["C1" if c % 8 == 0 else "C0" for c in per_mac])
        axes[2].set(xlabel="output channels (orange: multiple of 8)", ylabel="ps per multiply-accumulate",
                    title="beyond the seed: 3x3 conv on our CPU")
        va = ", ".join(f"{w} units {fmt(val_acc[w])}" for w in WIDTHS)
        tl = ", ".join(f"{d} layers {fmt(loss[(d, DEPTH_WIDTH)])}" for d in DEPTHS)
        ctx.save_figure(fig, "depth_width", f"Left: validation accuracy by width ({va}). Middle: final training "
                        f"loss by depth ({tl}). Right: time per multiply-accumulate of a 3x3 convolution with 56 to "
                        "72 output channels (orange: multiples of 8).",
                        f"左：不同宽度的验证准确率（{va}）。中：不同深度的最终训练损失（{tl}）。"
                        "右：输出通道为 56 到 72 的 3x3 卷积每次乘加的耗时（橙色为 8 的倍数）。")

    @classmethod
    def takeaway_case(cls, figures: Mapping[str, float], verdict: str) -> str:
        """Which half of a nuanced verdict held: ``width`` or ``depth`` (the comparisons of ``decide``)."""
        g, r = cls.thresholds["min_acc_gain"], cls.thresholds["max_loss_ratio"]
        width = all(figures[f"val_acc_w{w}"] - figures[f"val_acc_w{WIDTHS[0]}"] >= g for w in WIDTHS[1:])
        depth = all(figures[f"train_loss_d{d}"] / figures[f"train_loss_d{DEPTHS[0]}"] <= r for d in DEPTHS[1:])
        return "width" if width and not depth else "depth" if depth and not width else ""

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        g, r = thresholds["min_acc_gain"], thresholds["max_loss_ratio"]
        narrow, shallow = WIDTHS[0], DEPTHS[0]
        gains = {w: figures[f"val_acc_w{w}"] - figures[f"val_acc_w{narrow}"] for w in WIDTHS[1:]}
        ratios = {d: figures[f"train_loss_d{d}"] / figures[f"train_loss_d{shallow}"] for d in DEPTHS[1:]}
        checks = {**{f"width {w} vs {narrow}": gains[w] >= g for w in WIDTHS[1:]},
                  **{f"depth {d} vs {shallow}": ratios[d] <= r for d in DEPTHS[1:]}}
        bad = [k for k, ok in checks.items() if not ok]
        verdict = CONFIRMED if not bad else REFUTED if len(bad) == len(checks) else NUANCED
        held = [k for k, ok in checks.items() if ok]
        ge = ", ".join(f"{w} units {fmt(gains[w])}" for w in WIDTHS[1:])
        re_ = ", ".join(f"{d} layers {fmt(ratios[d])}x" for d in DEPTHS[1:])
        return verdict, evidence(
            en=f"Validation accuracy gained over {narrow} units: {ge} (a gain of {fmt(g)} counts). Training loss "
               f"relative to {shallow} hidden layer: {re_} (at most {fmt(r)}x counts as fitting better). Holds: "
               f"{', '.join(held) or 'nothing'}. Fails: {', '.join(bad) or 'nothing'}.",
            zh=f"相对 {narrow} 个单元的验证准确率提升：{ge.replace('units', '个单元')}（提升 {fmt(g)} 才算）。"
               f"相对 {shallow} 个隐藏层的训练损失：{re_.replace('layers', '层')}（不超过 {fmt(r)} 倍才算拟合更好）。"
               f"成立：{'、'.join(held) or '无'}。不成立：{'、'.join(bad) or '无'}。")

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        need = {"mult8_speedup", "odd_slowdown"} | {f"epoch_s_w{w}" for w in WIDTHS}
        if not need <= set(beyond):
            return None
        t = [beyond[f"epoch_s_w{w}"] for w in WIDTHS]
        sp, odd = beyond["mult8_speedup"], beyond["odd_slowdown"]
        return {"en": f"An epoch took {', '.join(fmt(v) for v in t)} s at {', '.join(map(str, WIDTHS))} units. On "
                      f"our CPU engine a 3x3 convolution whose channel count is a multiple of 8 costs "
                      f"{fmt(1 / sp)}x the time per MAC of other even counts, and odd counts {fmt(odd)}x the even "
                      f"ones; the seed's rule is about GPU kernels, which this does not test.",
                "zh": f"{', '.join(map(str, WIDTHS))} 个单元时每轮训练分别耗时 {', '.join(fmt(v) for v in t)} 秒。"
                      f"在我们的 CPU 引擎上，通道数为 8 的倍数的 3x3 卷积每次乘加的耗时是其他偶数通道的 "
                      f"{fmt(1 / sp)} 倍，奇数通道是偶数通道的 {fmt(odd)} 倍；原文这条规则针对 GPU 内核，"
                      f"这里并未检验。"}
