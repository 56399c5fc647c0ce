"""Question 14: depthwise-separable convolution — a per-channel k x k convolution followed by a 1x1 one.

Measured: the seed's cost formulas (standard ``k^2 C_in C_out H W`` MACs, separable ``k^2 C_in H W + C_in C_out
H W``) against the analyzer on real layers, the ratio ``1/C_out + 1/k^2``, the wall time of both layers on our
engine (one thread, interleaved medians), and the validation accuracy of two small CNNs on the MNIST sample
that differ only in their two middle convolutions (standard vs separable).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.analysis.timing import blas_threads, time_interleaved
from cvprimer.lab._convnets import cost, mnist_net, standard_block, train_nets
from cvprimer.lab.common import load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

# (C_in, C_out, k, H=W): the layers whose cost is checked
LAYERS = ((32, 64, 3, 32), (64, 128, 3, 16), (128, 128, 3, 16), (256, 256, 3, 8), (64, 64, 5, 16), (512, 512, 3, 7))


def separable_block(ci: int, co: int) -> list[object]:
    """MobileNet's block: depthwise 3x3 (one filter per channel), BN, ReLU, then pointwise 1x1 and BN."""
    return [nn.Conv2d(ci, ci, 3, padding=1, groups=ci, bias=False), nn.BatchNorm2d(ci), nn.ReLU(),
            nn.Conv2d(ci, co, 1, bias=False), nn.BatchNorm2d(co)]


def _layer_costs(ci: int, co: int, k: int, hw: int) -> dict[str, float]:
    std = nn.Conv2d(ci, co, k, padding=k // 2, bias=False)
    sep = nn.Sequential(nn.Conv2d(ci, ci, k, padding=k // 2, groups=ci, bias=False), nn.Conv2d(ci, co, 1, bias=False))
    a, b = cost(std, (1, ci, hw, hw)), cost(sep, (1, ci, hw, hw))
    return {"std_macs": a["macs"], "sep_macs": b["macs"], "std_params": a["params"], "sep_params": b["params"],
            "seed_std": k * k * ci * co * hw * hw, "seed_sep": k * k * ci * hw * hw + ci * co * hw * hw,
            "theory_ratio": 1 / co + 1 / k**2}


class SeparableConv(Experiment):
    id = "q14-separable-conv"
    questions = (14,)
    topic = "architecture"
    thresholds = {"formula_rel_tol": 1e-12, "max_acc_drop": 0.05}
    text = {
        "en": {
            "title": "Depthwise-separable convolution: cost and accuracy",
            "claim": "A depthwise-separable convolution splits a standard convolution in two: a k x k filter per "
                     "input channel (the channel count stays the same), then a 1x1 convolution that mixes the "
                     "channels and sets the output width. The multiply-accumulates drop from k^2 C_in C_out H W to "
                     "k^2 C_in H W + C_in C_out H W, a ratio of 1/C_out + 1/k^2.",
            "method": "Count parameters and MACs of six real layer shapes with the analyzer and compare with the two "
                      "formulas; time both layers on our engine (one thread, interleaved medians); train two small "
                      "CNNs on a stratified MNIST-sample split that differ only in their two middle convolutions "
                      "(standard 3x3 + BN vs MobileNet's depthwise 3x3 + BN + ReLU + pointwise 1x1 + BN) from the "
                      "same seed, and compare validation accuracy.",
        },
        "zh": {
            "title": "深度可分离卷积：计算量与精度",
            "claim": "深度可分离卷积把标准卷积拆成两步：先对每个输入通道各用一个 k x k 卷积核"
                     "（通道数不变），再用 1x1 卷积混合通道并决定输出通道数。乘加次数从 "
                     "k^2 C_in C_out H W 降到 k^2 C_in H W + C_in C_out H W，比值为 1/C_out + 1/k^2。",
            "method": "用分析器统计六种真实层形状的参数量和乘加次数，并与两个公式比较；在我们的引擎上"
                      "计时两种层（单线程、交错重复取中位数）；在 MNIST 样本的分层划分上，从同一随机种子"
                      "训练两个只有中间两层卷积不同的小型 CNN（标准 3x3 + BN，"
                      "与 MobileNet 式的深度 3x3 + BN + ReLU + 逐点 1x1 + BN），"
                      "比较验证集精度。",
        },
    }

    def run(self, ctx: Context) -> Result:
        rows, worst = [], 0.0
        for ci, co, k, hw in LAYERS:
            c = _layer_costs(ci, co, k, hw)
            err = max(abs(c["std_macs"] - c["seed_std"]) / c["seed_std"], abs(c["sep_macs"] - c["seed_sep"])
                      / c["seed_sep"])
            worst = max(worst, err)
            rows.append([f"{ci}->{co}, {k}x{k}, {hw}x{hw}", c["std_params"], c["sep_params"], c["std_macs"],
                         c["sep_macs"], c["sep_macs"] / c["std_macs"], c["theory_ratio"]])
        ref = _layer_costs(128, 128, 3, 16)
        mac_ratio = ref["sep_macs"] / ref["std_macs"]

        # wall time of a C->C layer pair (C = 64 quick, 128 full), one thread
        ci, hw, n = ctx.pick((64, 16, 8), (128, 16, 16))
        x = cp.tensor(ctx.rng.standard_normal((n, ci, hw, hw)).astype(np.float32))
        w = cp.tensor(ctx.rng.standard_normal((ci, ci, 3, 3)).astype(np.float32))
        wd = cp.tensor(ctx.rng.standard_normal((ci, 1, 3, 3)).astype(np.float32))
        wp = cp.tensor(ctx.rng.standard_normal((ci, ci, 1, 1)).astype(np.float32))
        with cp.no_grad(), blas_threads(1):
            t = time_interleaved({"standard": lambda: F.conv2d(x, w, padding=1),
                                  "separable": lambda: F.conv2d(F.conv2d(x, wd, padding=1, groups=ci), wp)},
                                 repeat=ctx.pick(7, 15), warmup=1)
        time_mac_ratio = 1 / ci + 1 / 9
        speedup, mac_speedup = t["standard"] / t["separable"], 1 / time_mac_ratio

        data = load_data("mnist_sample", ctx.pick(800, 3500), 1000, ctx.rng, standardize=True)
        builders = {"standard": lambda: mnist_net(standard_block), "separable": lambda: mnist_net(separable_block)}
        fits = train_nets(builders, data, ctx.pick(3, 8), ctx.seed, ctx.rng, lr=1e-2)
        params = {k: cost(b(), (1, 1, 28, 28))["params"] for k, b in builders.items()}
        acc = {k: f.val_acc for k, f in fits.items()}

        fig, axes = ctx.figure(1, 2, size=(9.5, 3.4))
        for name, f in fits.items():
            axes[0].plot(range(1, len(f.history) + 1), f.curve("val_acc"), marker="o",
                         label=f"{name} ({params[name]:,} params)")
        axes[0].set(xlabel="epoch", ylabel="validation accuracy", title="MNIST sample: two small CNNs")
        axes[0].legend()
        labels = [r[0] for r in rows]
        axes[1].bar(np.arange(len(rows)) - 0.2, [r[5] for r in rows], 0.4, label="analyzer: separable / standard")
        axes[1].bar(np.arange(len(rows)) + 0.2, [r[6] for r in rows], 0.4, label="1/C_out + 1/k^2")
        axes[1].set_xticks(np.arange(len(rows)), labels, rotation=30, ha="right", fontsize=7)
        axes[1].set(ylabel="MAC ratio", title="MACs of separable vs standard", ylim=(0, 1.4 * max(r[5] for r in rows)))
        axes[1].legend()
        ctx.save_figure(fig, "separable", "Left: validation accuracy per epoch of the standard and separable "
                        "CNNs. Right: MAC ratio separable/standard from the analyzer beside 1/C_out + 1/k^2 for "
                        "six layer shapes (the bars are equal).",
                        "左：标准与可分离两个 CNN 每轮的验证精度。右：六种层形状下分析器给出的可分离/标准"
                        "乘加比，与 1/C_out + 1/k^2 并列（两者相等）。")
        return Result(
            figures={
                "formula_max_rel_err": Figure(worst, "relative"),
                "mac_ratio_128": Figure(mac_ratio, "separable/standard"),
                "measured_speedup": Figure(speedup, "x"),
                "mac_speedup": Figure(mac_speedup, "x"),
                "acc_standard": Figure(acc["standard"], "accuracy"),
                "acc_separable": Figure(acc["separable"], "accuracy"),
                "params_standard": Figure(params["standard"], "params"),
                "params_separable": Figure(params["separable"], "params"),
            },
            tables=[Table("costs", ["layer", "params std", "params sep", "MACs std", "MACs sep", "MAC ratio",
                                    "1/C_out + 1/k^2"], rows,
                          {"en": "Analyzer counts (no bias); the seed's formulas give the same MACs.",
                           "zh": "分析器统计（无偏置）；种子文档的公式给出相同的乘加次数。"})],
        )

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        err, tol = figures["formula_max_rel_err"], thresholds["formula_rel_tol"]
        a_std, a_sep = figures["acc_standard"], figures["acc_separable"]
        drop, max_drop = a_std - a_sep, thresholds["max_acc_drop"]
        formula_ok, acc_ok = err <= tol, drop <= max_drop
        ps, pp = figures["params_standard"], figures["params_separable"]
        sp, msp, r = figures["measured_speedup"], figures["mac_speedup"], figures["mac_ratio_128"]
        en = (f"The analyzer agrees with both MAC formulas (largest relative difference {fmt(err)}, tolerance "
              f"{fmt(tol)}); for a 128->128 3x3 layer the separable version needs {fmt(r)} of the MACs. The separable "
              f"CNN ({fmt(pp)} vs {fmt(ps)} parameters) reached {fmt(a_sep)} validation accuracy against "
              f"{fmt(a_std)} for the standard one (drop {fmt(drop)}, allowed {fmt(max_drop)}). On our engine the "
              f"separable layer ran {fmt(sp)}x faster, while its MACs promise {fmt(msp)}x.")
        zh = (f"分析器与两个乘加公式一致（最大相对差 {fmt(err)}，容差 {fmt(tol)}）；128->128 的 3x3 层改为可分离后"
              f"只需 {fmt(r)} 的乘加。可分离 CNN（参数 {fmt(pp)}，标准版 {fmt(ps)}）验证精度 {fmt(a_sep)}，"
              f"标准版 {fmt(a_std)}（下降 {fmt(drop)}，允许 {fmt(max_drop)}）。在我们的引擎上可分离层"
              f"实际快 {fmt(sp)} 倍，而乘加比预示 {fmt(msp)} 倍。")
        if formula_ok and not acc_ok:
            en += " The cost saving is exact, but here it cost accuracy beyond the allowance."
            zh += " 计算量的节省是精确的，但这里精度损失超出了允许范围。"
        return verdict_if(formula_ok and acc_ok, nuanced=formula_ok), evidence(en=en, zh=zh)
