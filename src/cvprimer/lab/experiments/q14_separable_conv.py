"""Question 14: depthwise-separable convolution — a per-channel k x k convolution followed by a 1x1 one.

Measured (the seed's claim): on six real layer shapes, the channel count after the depthwise step and after the
pointwise step (a forward pass of real layers), and the analyzer's multiply-accumulates of the standard layer and
of the separable pair against the seed's formulas ``k^2 C_in C_out H W`` and ``k^2 C_in H W + C_in C_out H W``.

Beyond the seed: the wall time of both layers on our engine (one thread, interleaved medians of process CPU time)
and the validation accuracy of two small CNNs on the scikit-learn 8x8 digits that differ only in their two middle
convolutions (standard 3x3 + BN vs MobileNet's depthwise 3x3 + BN + ReLU + pointwise 1x1 + BN), trained with Adam
(lr 1e-2) from the same seed on the same batches.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.analysis.timing import time_interleaved
from cvprimer.lab._convnets import cost, standard_block, train_nets
from cvprimer.lab.common import load_data
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
    "analyzer: separable / standard": "分析器：可分离 / 标准",
    "1/C_out + 1/k^2": "1/输出通道数 + 1/k²",
    "MAC ratio": "MAC 比",
    "MACs of separable vs standard": "可分离卷积与标准卷积的 MACs",
    "beyond the seed: 8x8 digits, two CNNs": "原文之外：8x8 digits 上的两个 CNN",
})

# (C_in, C_out, k, H=W): the layers whose cost is checked
LAYERS = ((32, 64, 3, 32), (64, 128, 3, 16), (128, 128, 3, 16), (256, 256, 3, 8), (64, 64, 5, 16), (512, 512, 3, 7))


def shape_key(ci: int, co: int, k: int, hw: int) -> str:
    return f"{ci}_{co}_k{k}_{hw}"


def separable_block(ci: int, co: int) -> list[object]:
    """MobileNet's block: depthwise 3x3 (one filter per channel), BN, ReLU, then pointwise 1x1 and BN."""
    return [nn.Conv2d(ci, ci, 3, padding=1, groups=ci, bias=False), nn.BatchNorm2d(ci), nn.ReLU(),
            nn.Conv2d(ci, co, 1, bias=False), nn.BatchNorm2d(co)]


def digits_net(block: Any, c: int = 8) -> Any:
    """A small CNN on 1x8x8 digits: stem 3x3 conv, two ``block`` convolutions (c -> 2c -> 2c) with pooling."""
    return nn.Sequential(nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), *block(c, 2 * c), nn.ReLU(), nn.MaxPool2d(2),
                         *block(2 * c, 2 * c), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * c * 4, 10))


def _pair(ci: int, co: int, k: int) -> tuple[Any, Any, Any]:
    std = nn.Conv2d(ci, co, k, padding=k // 2, bias=False)
    dw = nn.Conv2d(ci, ci, k, padding=k // 2, groups=ci, bias=False)
    pw = nn.Conv2d(ci, co, 1, bias=False)
    return std, dw, pw


def _layer_costs(ci: int, co: int, k: int, hw: int) -> dict[str, float]:
    std, dw, pw = _pair(ci, co, k)
    a, b = cost(std, (1, ci, hw, hw)), cost(nn.Sequential(dw, pw), (1, ci, hw, hw))
    return {"std_macs": a["macs"], "sep_macs": b["macs"], "std_params": a["params"], "sep_params": b["params"],
            "seed_std": k * k * ci * co * hw * hw, "seed_sep": k * k * ci * hw * hw + ci * co * hw * hw,
            "theory_ratio": 1 / co + 1 / k**2}


class SeparableConv(Experiment):
    id = "q14-separable-conv"
    questions = (14,)
    topic = "cost"
    thresholds = {"formula_rel_tol": 0.0}
    reasons = {
        "formula_rel_tol": {
            "en": "Theory: multiply-accumulate and channel counts are integers, so the formulas match the "
                  "analyzer and the forward pass exactly or not at all (no noise: nothing here is trained or timed).",
            "zh": "理论：乘加次数和通道数都是整数，公式与分析器、前向结果要么完全相等，要么不等"
                  "（没有噪声：这部分既不训练也不计时）。"},
    }
    reachable = (CONFIRMED, NUANCED, REFUTED)
    key_term = {"en": "depthwise-separable convolution", "zh": "深度可分离卷积"}
    key_figure = "formula_err_64_128_k3_16"
    answer = {
        "confirmed": {
            "en": "Yes: a depthwise k x k step followed by a 1x1 step costs k^2 Cin H W + Cin Cout H W "
                  "multiply-adds, about 1/Cout + 1/k^2 of a standard convolution, and the analyzer agreed with "
                  "the formula exactly (relative gap {formula_err_64_128_k3_16}).",
            "zh": "是的：先做逐通道的 k x k 卷积再做 1x1 卷积，乘加次数为 k^2 Cin H W + Cin Cout H W，"
                  "约为标准卷积的 1/Cout + 1/k^2；分析器的结果与公式完全一致（"
                  "相对误差 {formula_err_64_128_k3_16}）。"},
        "nuanced": {
            "en": "The split is right, but the cost formula missed the analyzer on some shapes (relative gap "
                  "{formula_err_64_128_k3_16} at 64 to 128 channels); quote the ratio 1/Cout + 1/k^2 as an "
                  "estimate.",
            "zh": "这种拆分是对的，但在部分形状上成本公式与分析器不一致（64 到 128 通道时相对误差 "
                  "{formula_err_64_128_k3_16}）；把 1/Cout + 1/k^2 当作估计值来说。"},
        "refuted": {
            "en": "The description failed here: the MAC formula or the channel counts disagreed with the "
                  "analyzer (relative gap {formula_err_64_128_k3_16}).",
            "zh": "这里描述不成立：乘加次数公式或通道数与分析器不一致（相对误差 {formula_err_64_128_k3_16}）。"},
    }
    text = {
        "en": {
            "title": "Depthwise-separable convolution",
            "claim": "A depthwise-separable convolution splits a standard convolution in two: a k x k filter per "
                     "input channel (the channel count stays the same), then a 1x1 convolution that mixes the "
                     "channels and may change their number. The multiply-accumulates drop from k^2 C_in C_out H W "
                     "to k^2 C_in H W + C_in C_out H W.",
            "method": "For six real layer shapes, run the depthwise and the pointwise layer forward and read their "
                      "channel counts, and count the multiply-accumulates of the standard layer and of the "
                      "separable pair with the analyzer; compare both with the seed's description and formulas.",
            "beyond": "The wall time of a standard and a separable layer on our engine (one thread, interleaved "
                      "repeats), and the validation accuracy of two small CNNs on the 8x8 digits that differ only "
                      "in their two middle convolutions (standard vs MobileNet's separable block), trained from "
                      "the same seed on the same batches.",
        },
        "zh": {
            "title": "深度可分离卷积",
            "claim": "深度可分离卷积把标准卷积拆成两步：先对每个输入通道各用一个 k x k 卷积核"
                     "（通道数不变），再用 1x1 卷积混合通道、并可改变通道数。乘加次数从 "
                     "k^2 C_in C_out H W 降到 k^2 C_in H W + C_in C_out H W。",
            "method": "对六种真实的层形状，让深度卷积层和逐点卷积层做一次前向并读出各自的通道数，"
                      "再用分析器统计标准卷积与可分离卷积对的乘加次数；把两者与原文的描述和公式比较。",
            "beyond": "在我们的引擎上标准层与可分离层的运行时间（单线程、交错重复），以及在 8x8 digits 上"
                      "从同一随机种子、用相同批次训练的两个小 CNN 的验证精度，它们只有中间两层卷积不同"
                      "（标准卷积与 MobileNet 的可分离模块）。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "measured_speedup": {"en": "measured speed-up of separable over standard",
                             "zh": "可分离卷积相对标准卷积的实测加速比"},
        "mac_speedup": {"en": "MAC ratio standard / separable", "zh": "MAC 比（标准 / 可分离）"},
        "acc_{k}": {"en": "val accuracy, {k}", "zh": "验证准确率（{k}）"},
        "params_{k}": {"en": "parameters, {k}", "zh": "参数量（{k}）"},
    }
    terms = {
        "standard": {"en": "standard conv", "zh": "标准卷积"},
        "separable": {"en": "separable conv", "zh": "可分离卷积"},
    }

    def measure(self, ctx: Context) -> Result:
        rows: list[list[Any]] = []
        figs: dict[str, Figure] = {}
        for ci, co, k, hw in LAYERS:
            c = _layer_costs(ci, co, k, hw)
            _, dw, pw = _pair(ci, co, k)
            with cp.no_grad():
                h = dw(cp.zeros(1, ci, hw, hw))
                out = pw(h)
            key = shape_key(ci, co, k, hw)
            figs[f"channel_err_{key}"] = Figure(abs(h.shape[1] - ci) + abs(out.shape[1] - co), "channels", {
                "en": f"{ci}->{co}, {k}x{k}: channels after depthwise off C_in plus after pointwise off C_out",
                "zh": f"{ci}->{co}，{k}x{k}：深度卷积后通道数与 C_in 之差加逐点卷积后与 C_out 之差"})
            figs[f"formula_err_{key}"] = Figure(
                max(abs(c["std_macs"] - c["seed_std"]) / c["seed_std"],
                    abs(c["sep_macs"] - c["seed_sep"]) / c["seed_sep"]), "relative", {
                    "en": f"{ci}->{co}, {k}x{k} at {hw}x{hw}: largest relative error of the two MAC formulas",
                    "zh": f"{ci}->{co}，{k}x{k}，{hw}x{hw}：两个乘加公式的最大相对误差"})
            rows.append([f"{ci}->{co}, {k}x{k}, {hw}x{hw}", c["std_params"], c["sep_params"], c["std_macs"],
                         c["sep_macs"], c["seed_sep"], c["sep_macs"] / c["std_macs"], c["theory_ratio"]])
        ctx.progress.update()

        ci, t = self._pair_times(ctx)
        # beyond: accuracy of two small CNNs on the digits
        data = load_data("digits", ctx.pick(700, 1437, 200), 360, ctx.rng, standardize=True)
        epochs = ctx.pick(4, 12, 1)
        builders = {"standard": lambda: digits_net(standard_block), "separable": lambda: digits_net(separable_block)}
        fits = train_nets(builders, data, epochs, ctx.seed, ctx.rng, lr=1e-2)
        params = {k: cost(b(), (1, 1, 8, 8))["params"] for k, b in builders.items()}
        acc = {k: f.val_acc for k, f in fits.items()}
        beyond = {"measured_speedup": Figure(t["standard"] / t["separable"], "x"),
                  "mac_speedup": Figure(1 / (1 / ci + 1 / 9), "x"),
                  "acc_standard": Figure(acc["standard"], "accuracy"),
                  "acc_separable": Figure(acc["separable"], "accuracy"),
                  "params_standard": Figure(params["standard"], "params"),
                  "params_separable": Figure(params["separable"], "params")}
        return Result(figures=figs, beyond=beyond, tables=[
            Table("costs", ["layer", "params std", "params sep", "MACs std", "MACs sep", "seed formula sep",
                            "MAC ratio", "1/C_out + 1/k^2"], rows,
                  {"en": "Analyzer counts (no bias) beside the seed's formula for the separable pair.",
                   "zh": "分析器统计（无偏置），与原文给出的可分离卷积公式并列。"})],
            beyond_tables=[Table("digits", ["net", "parameters", "validation accuracy"],
                                 [[k, params[k], acc[k]] for k in builders],
                                 {"en": f"{len(data.y_train)} training digits, {epochs} epochs of Adam (lr 1e-2), "
                                        "same seed and batches.",
                                  "zh": f"{len(data.y_train)} 张训练图像，Adam（学习率 1e-2）训练 {epochs} 轮，"
                                        "相同随机种子和批次。"})],
            series={"curves": {k: f.curve("val_acc") for k, f in fits.items()}, "params": params, "acc": acc})

    @staticmethod
    def _pair_times(ctx: Context) -> tuple[int, dict[str, float]]:
        """Beyond the seed: the channel count ``C`` and the CPU seconds of a standard C->C 3x3 convolution and of
        its depthwise-separable pair on a random input (median of interleaved repeats, one thread: the runner
        pins the threads; input and weights drawn from ``ctx.rng``)."""
        ci, hw, n = ctx.pick((64, 16, 4), (128, 16, 16), (16, 8, 1))
        x = cp.tensor(ctx.rng.standard_normal((n, ci, hw, hw)).astype(np.float32))
        w = cp.tensor(ctx.rng.standard_normal((ci, ci, 3, 3)).astype(np.float32))
        wd = cp.tensor(ctx.rng.standard_normal((ci, 1, 3, 3)).astype(np.float32))
        wp = cp.tensor(ctx.rng.standard_normal((ci, ci, 1, 1)).astype(np.float32))
        with cp.no_grad():
            t = time_interleaved({"standard": lambda: F.conv2d(x, w, padding=1),
                                  "separable": lambda: F.conv2d(F.conv2d(x, wd, padding=1, groups=ci), wp)},
                                 repeat=ctx.pick(5, 15, 3), warmup=1, clock=time.process_time)
        return ci, t

    def draw(self, res: Result, ctx: Context) -> None:
        """The MAC ratio of each layer shape beside its closed form, and the two digit CNNs' accuracy curves."""
        rows: Sequence[Sequence[Any]] = res.tables[0].rows
        curves: Mapping[str, np.ndarray] = res.series["curves"]
        params: Mapping[str, int] = res.series["params"]
        acc: Mapping[str, float] = res.series["acc"]
        fig, axes = ctx.figure(1, 2, size=(9.5, 3.4))
        labels = [r[0] for r in rows]
        axes[0].bar(np.arange(len(rows)) - 0.2, [r[6] for r in rows], 0.4, label="analyzer: separable / standard")
        axes[0].bar(np.arange(len(rows)) + 0.2, [r[7] for r in rows], 0.4, label="1/C_out + 1/k^2")
        axes[0].set_xticks(np.arange(len(rows)), labels, rotation=30, ha="right", fontsize=7)
        axes[0].set(ylabel="MAC ratio", title="MACs of separable vs standard", ylim=(0, 1.4 * max(r[6] for r in rows)))
        axes[0].legend()
        for name, c in curves.items():
            axes[1].plot(range(1, len(c) + 1), c, marker="o",
                         label=tr(f"{name} ({params[name]:,} params)", f"{name}（{params[name]:,} 个参数）"))
        axes[1].set(xlabel="epoch", ylabel="validation accuracy", title="beyond the seed: 8x8 digits, two CNNs")
        axes[1].legend()
        worst = max(abs(r[6] - r[7]) for r in rows)
        ctx.save_figure(fig, "separable", "Left: MAC ratio separable/standard from the analyzer beside "
                        f"1/C_out + 1/k^2 for six layer shapes (largest gap {fmt(worst)}). Right: validation "
                        f"accuracy per epoch of the standard and separable CNNs (final {fmt(acc['standard'])} and "
                        f"{fmt(acc['separable'])}).",
                        "左：六种层形状下分析器给出的可分离/标准乘加比，与 1/C_out + 1/k^2 并列（最大差 "
                        f"{fmt(worst)}）。右：标准与可分离两个 CNN 每轮的验证精度（最终 {fmt(acc['standard'])} 与 "
                        f"{fmt(acc['separable'])}）。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol = thresholds["formula_rel_tol"]
        keys = [shape_key(*s) for s in LAYERS]
        ok = {k: figures[f"formula_err_{k}"] <= tol and figures[f"channel_err_{k}"] <= tol for k in keys}
        bad = [k for k, v in ok.items() if not v]
        verdict = CONFIRMED if not bad else REFUTED if len(bad) == len(keys) else NUANCED
        worst = max(figures[f"formula_err_{k}"] for k in keys)
        chans = max(figures[f"channel_err_{k}"] for k in keys)
        held = [k for k in keys if ok[k]]
        return verdict, evidence(
            en=f"Over {len(keys)} layer shapes the largest relative gap between the seed's MAC formulas and the "
               f"analyzer is {fmt(worst)} and the largest channel-count mismatch after the depthwise or pointwise "
               f"step is {fmt(chans)} (tolerance {fmt(tol)}). The description holds for "
               f"{', '.join(held) or 'no shape'}; it fails for {', '.join(bad) or 'no shape'}.",
            zh=f"在 {len(keys)} 种层形状上，原文乘加公式与分析器的最大相对差为 {fmt(worst)}，深度或逐点步骤后"
               f"通道数的最大偏差为 {fmt(chans)}（容差 {fmt(tol)}）。描述成立的形状：{'、'.join(held) or '无'}；"
               f"不成立的形状：{'、'.join(bad) or '无'}。")

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        need = {"measured_speedup", "mac_speedup", "acc_standard", "acc_separable", "params_standard",
                "params_separable"}
        if not need <= set(beyond):
            return None
        b = beyond
        return {"en": f"On our engine the separable layer ran {fmt(b['measured_speedup'])}x faster than the standard "
                      f"one, where its MACs promise {fmt(b['mac_speedup'])}x. On the digits the separable CNN "
                      f"({fmt(b['params_separable'])} parameters) reached {fmt(b['acc_separable'])} validation "
                      f"accuracy and the standard one ({fmt(b['params_standard'])}) {fmt(b['acc_standard'])}.",
                "zh": f"在我们的引擎上，可分离层比标准层快 {fmt(b['measured_speedup'])} 倍，而乘加数预示 "
                      f"{fmt(b['mac_speedup'])} 倍。在 digits 上，可分离 CNN（{fmt(b['params_separable'])} 个参数）"
                      f"验证精度 {fmt(b['acc_separable'])}，标准 CNN（{fmt(b['params_standard'])} 个参数）"
                      f"{fmt(b['acc_standard'])}。"}
