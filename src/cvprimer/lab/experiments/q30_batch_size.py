"""Question 30: how the batch size affects training.

Measured on an MLP on the digits, for batch sizes from 16 to 512, each trained for the same number of epochs with
SGD and momentum, once at one learning rate for every batch size and once with the linear scaling rule
(``lr = lr_0 * B / B_0``): final training and validation accuracy (and their gap), training CPU time, the noise
of the mini-batch gradient at the final weights, and a sharpness proxy (the loss rise under small random weight
perturbations, :mod:`cvprimer.lab._gradstats`). The seed's claim is decided on the direction (the cosine of
batch gradients with the full gradient at one common point) and on the accuracy at both ends of the range;
the noise against sampling theory, gap, sharpness and CPU time are reported beyond the seed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import nn
from cvprimer.lab._gradstats import batch_gradient_stats, gradient_noise, sharpness
from cvprimer.lab.common import fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr, tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "grad noise E||g_B - g||^2 (same point)": "梯度噪声 E||g_B - g||²（同一点）",
    "training loss (solid: same lr, dashed: scaled lr)": "训练损失（实线：相同学习率，虚线：缩放学习率）",
})

SIZES = (16, 64, 256, 512)
B0, LR0 = 64, 0.04
RHO = 0.25  # relative size of the weight perturbation for the sharpness proxy


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


class BatchSize(Experiment):
    id = "q30-batch-size"
    questions = (30,)
    topic = "optimization"
    thresholds = {"min_cos_gain": 0.2, "acc_drop": 0.05}
    reasons = {
        "min_cos_gain": {"en": "Noise floor: the cosine of the B=512 batch gradient with the full gradient minus "
                               "that of B=16 (same weights) is 0.66-0.81 over 3 quick seeds (spread about 0.07) "
                               "and 0.26-0.54 over 3 full seeds; a gain must reach 0.2, about 3 quick spreads, to "
                               "count as a more accurate direction.",
                         "zh": "噪声下限：同一组权重处，B=512 的批梯度与全量梯度的余弦减去 B=16 的余弦，在 3 个快速"
                               "模式随机种子上为 0.66-0.81（波动约 0.07），在 3 个完整模式随机种子上为 0.26-0.54；至"
                               "少提高 0.2"
                               "（约 3 个快速模式波动）才算方向更准。"},
        "acc_drop": {"en": "Noise floor: validation accuracy of one batch size varies by about 0.02 across quick "
                           "seeds (B=512 with the scaled rate: 0.92-0.96); a drop must reach 0.05, about 2.5 "
                           "spreads, to count as worse.",
                     "zh": "噪声下限：同一批大小的验证准确率在快速模式各随机种子间波动约 0.02（B=512、缩放学习率时为 "
                           "0.92-0.96）；下降至少 0.05（约 2.5 个波动）才算变差。"},
    }
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "gradient noise and the linear scaling rule", "zh": "梯度噪声与线性缩放规则"}
    key_figure = "cosine_same_point_b512"
    answer = {
        "confirmed": {
            "en": "Yes: a larger batch gave a truer direction (cosine to the full gradient "
                  "{cosine_same_point_b16} at B=16, {cosine_same_point_b512} at B=512), and both extremes of "
                  "batch size did worse.",
            "zh": "是的：更大的批量给出更准确的方向（与全梯度的余弦：B=16 时 {cosine_same_point_b16}，"
                  "B=512 时 {cosine_same_point_b512}），批量过大或过小都更差。"},
        "nuanced": {
            "en": "Only part of the picture held: the cosine between a batch gradient and the full gradient "
                  "was {cosine_same_point_b16} at B=16 and {cosine_same_point_b512} at B=512, and with the "
                  "learning rate scaled to the batch the validation accuracy was {val_acc_scaled_b16} at B=16 "
                  "and {val_acc_scaled_b512} at B=512. Scale the rate with the batch size and check both ends "
                  "before calling one worse.",
            "zh": "只有部分说法成立：批量梯度与全梯度的余弦在 B=16 时为 {cosine_same_point_b16}，"
                  "B=512 时为 {cosine_same_point_b512}；学习率随批量缩放时，"
                  "验证准确率在 B=16 时为 {val_acc_scaled_b16}，B=512 时为 {val_acc_scaled_b512}。"
                  "学习率应随批量大小缩放，说某一端更差之前先核实。"},
        "refuted": {
            "en": "A larger batch did not give a clearly truer direction here (cosine {cosine_same_point_b16} "
                  "at B=16, {cosine_same_point_b512} at B=512).",
            "zh": "这里更大的批量并没有给出明显更准确的方向（余弦：B=16 时 {cosine_same_point_b16}，"
                  "B=512 时 {cosine_same_point_b512}）。"},
    }
    text = {
        "en": {
            "title": "How does the mini-batch size affect training?",
            "claim": "Within a sensible range, a larger batch gives a more accurate descent direction with less "
                     "oscillation; a very large batch can run out of memory and get stuck in a poor optimum; a "
                     "small batch is noisier, converges with more difficulty and only rarely does better.",
            "method": "Train the same MLP on the digits with batch sizes 16, 64, 256 and 512 for the same number of "
                      "epochs (SGD, momentum 0.9), once at one learning rate (0.04) for all and once with the "
                      "linear scaling rule lr = 0.04 * B / 64. Direction: at one common point (the final weights of "
                      "the B=64 run) the mean cosine between mini-batch gradients of each size and the full "
                      "gradient. Too large: the largest batch's validation accuracy against the best batch size's, "
                      "with the scaled rate (so fewer steps alone cannot explain a loss). Too small: the smallest "
                      "batch's best validation accuracy against the best batch size's. Memory is not measured.",
            "beyond": "Beyond the seed: the mini-batch gradient noise E||g_B - g||^2 against sampling theory "
                      "(1/B with a finite-population factor), the train-validation gap, a sharpness proxy (the "
                      "mean training-loss rise when every weight tensor gets Gaussian noise of 25% of its RMS) and "
                      "the training CPU time of each run.",
        },
        "zh": {
            "title": "批大小（batch size）如何影响训练？",
            "claim": "在合理范围内，batch 越大，下降方向越准、震荡越小；batch 过大可能耗尽内存并停在较差的最优点；"
                     "batch 小则噪声大、更难收敛，只在少数情况下效果更好。",
            "method": "在 digits 上用批大小 16、64、256、512 训练同一个 MLP，训练轮数相同（SGD，动量 0.9），"
                      "一次所有批大小都用同一学习率 0.04，一次按线性缩放规则 lr = 0.04 * B / 64。方向：在同一点"
                      "（B=64 训练结束时的权重）上各批大小的小批量梯度与全量梯度的平均余弦。过大：缩放学习率时最大"
                      "批次的验证准确率与最佳批大小比较（这样损失不能只归因于步数更少）。过小：最小批次的最好验证"
                      "准确率与最佳批大小比较。内存没有测量。",
            "beyond": "超出原文的部分：小批量梯度噪声 E||g_B - g||^2 与抽样理论（1/B 乘有限总体修正）的比较、"
                      "训练-验证差距、尖锐度指标（给每个权重张量加上其均方根 25% 的高斯噪声后训练损失的平均升高）"
                      "以及每次训练的 CPU 时间。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "cosine_same_point_b{b}": {"en": "cosine of batch and full gradient, batch {b}",
                                   "zh": "小批量与全量梯度的余弦（批大小 {b}）"},
        "noise_same_point_b{b}": {"en": "gradient noise at one point, batch {b}",
                                  "zh": "同一点的梯度噪声（批大小 {b}）"},
        "val_acc_{r}_b{b}": {"en": "val accuracy, {r} lr, batch {b}", "zh": "验证准确率（{r}学习率，批大小 {b}）"},
        "gap_{r}_b{b}": {"en": "train - val gap, {r} lr, batch {b}", "zh": "训练与验证的差距（{r}学习率，批大小 {b}）"},
        "sharpness_{r}_b{b}": {"en": "sharpness (loss rise), {r} lr, batch {b}",
                               "zh": "尖锐度（损失上升，{r}学习率，批大小 {b}）"},
        "noise_{r}_b{b}": {"en": "gradient noise, {r} lr, batch {b}", "zh": "梯度噪声（{r}学习率，批大小 {b}）"},
        "cpu_{r}_b{b}": {"en": "CPU seconds, {r} lr, batch {b}", "zh": "CPU 秒（{r}学习率，批大小 {b}）"},
    }
    terms = {
        "constant": {"en": "constant", "zh": "恒定"},
        "scaled": {"en": "scaled", "zh": "按比例缩放"},
    }

    def measure(self, ctx: Context) -> Result:
        data = load_data("digits", ctx.pick(800, 1437, tiny=600), ctx.pick(360, 360, tiny=100), ctx.rng,
                         standardize=True)
        epochs = ctx.pick(10, 40, tiny=1)
        xs, ys = data.x_train, data.y_train  # noise of the batches the optimizer actually drew
        res, curves, base = self._runs(ctx, data, epochs)
        # the direction each batch size would give at one and the same point (the base run's final weights)
        same = batch_gradient_stats(base, xs, ys, list(SIZES), ctx.pick(12, 40, tiny=3), ctx.child_rng())
        figures: dict[str, Figure] = {}
        beyond: dict[str, Figure] = {}
        n = len(ys)
        for i, b in enumerate(SIZES):
            beyond[f"noise_same_point_b{b}"] = Figure(same["noise"][i], "E||g_B - g||^2")
            figures[f"cosine_same_point_b{b}"] = Figure(same["cosine"][i], "cos(g_B, g)")
        lo, hi = SIZES[0], SIZES[-1]
        beyond["noise_ratio_measured"] = Figure(same["noise"][0] / max(same["noise"][-1], 1e-30), "", {
            "en": f"E||g_B - g||^2 at B={lo} over B={hi}", "zh": f"B={lo} 与 B={hi} 的梯度噪声之比"})
        beyond["noise_ratio_theory"] = Figure((n - lo) / lo / ((n - hi) / hi), "", {
            "en": "the same ratio from sampling theory, (N - B)/B", "zh": "抽样理论给出的同一比值 (N - B)/B"})
        for (rule, b), r in res.items():
            figures[f"val_acc_{rule}_b{b}"] = Figure(r["val_acc"], "fraction")
            beyond[f"gap_{rule}_b{b}"] = Figure(r["gap"], "train - val accuracy")
            beyond[f"sharpness_{rule}_b{b}"] = Figure(r["sharp"], "loss rise")
            beyond[f"noise_{rule}_b{b}"] = Figure(r["noise"], "E||g_B - g||^2")
            beyond[f"cpu_{rule}_b{b}"] = Figure(r["cpu"], "CPU s")
        rows = [[rule, b, r["lr"], r["train_acc"], r["val_acc"], r["gap"], r["cpu"], r["noise"], r["sharp"]]
                for (rule, b), r in res.items()]
        table = Table("runs", ["lr rule", "batch", "lr", "train acc", "val acc", "gap", "CPU s (fit + val)",
                               "grad noise", "sharpness"], rows,
                      {"en": f"{epochs} epochs on {len(data.y_train)} digits; noise (batches drawn from the training "
                             f"set) and sharpness (perturbation {RHO:.0%} of each tensor's RMS) at the final weights.",
                       "zh": f"在 {len(data.y_train)} 张 digits 上训练 {epochs} 轮；噪声（批次取自训练集）和尖锐度"
                             f"（扰动为各张量均方根的 {RHO:.0%}）在最终权重处测得。"})
        return Result(figures=figures, tables=[table], beyond=beyond,
                      series={"runs": res, "curves": curves, "same": same})

    @staticmethod
    def _runs(ctx: Context, data: Any, epochs: int) -> tuple[dict[tuple[str, int], dict[str, float]],
                                                             dict[tuple[str, int], np.ndarray], Any]:
        """One momentum-SGD run per (lr rule, batch size), all from the same weights and the same batch order:
        its lr, accuracies, gap, CPU seconds, and gradient noise and sharpness at its final weights, keyed
        ``(rule, batch)``; the training-loss curves under the same keys; and the trained base-batch model."""
        state = ctx.rng.bit_generator.state
        xs, ys = data.x_train, data.y_train  # noise of the batches the optimizer actually drew
        res: dict[tuple[str, int], dict[str, float]] = {}
        curves: dict[tuple[str, int], np.ndarray] = {}
        for rule in ("constant", "scaled"):
            for b in SIZES:
                lr = LR0 * b / B0 if rule == "scaled" else LR0
                if rule == "scaled" and b == B0:  # the same run as the constant rule's
                    res[rule, b], curves[rule, b] = res["constant", b], curves["constant", b]
                    continue
                cp.manual_seed(ctx.seed)
                model = mlp()
                gen = np.random.default_rng()
                gen.bit_generator.state = state
                t0 = time.process_time()
                f = fit(model, data, epochs, gen, lr=lr, optimizer="momentum", batch_size=b)
                cpu = time.process_time() - t0
                ok = np.isfinite(f.curve("train_loss")[-1])
                draws = ctx.pick(8, 24, tiny=2)
                noise = gradient_noise(model, xs, ys, [b], draws, ctx.child_rng())[0] if ok else np.nan
                sharp = sharpness(model, xs, ys, RHO, ctx.pick(10, 30, tiny=2), ctx.child_rng()) if ok else np.nan
                res[rule, b] = {"lr": lr, "train_acc": f.train_acc, "val_acc": f.val_acc,
                                "gap": f.train_acc - f.val_acc, "cpu": cpu, "noise": float(noise),
                                "sharp": float(sharp)}
                curves[rule, b] = f.curve("train_loss")
                if rule == "constant" and b == B0:
                    base = model
        return res, curves, base

    def draw(self, res: Result, ctx: Context) -> None:
        runs, curves, same = res.series["runs"], res.series["curves"], res.series["same"]
        fig, axes = ctx.figure(1, 3, size=(14, 3.9))
        xs = list(SIZES)
        for rule, ls in (("constant", "-"), ("scaled", "--")):
            for i, b in enumerate(SIZES):
                c = curves[rule, b]
                axes[0].semilogy(np.arange(1, len(c) + 1), c, ls=ls, color=f"C{i}",
                                 label=f"B={b}" if rule == "constant" else None)
            color = "C0" if rule == "constant" else "C1"
            rule_zh = "恒定" if rule == "constant" else "按比例缩放"
            axes[1].plot(xs, [runs[rule, b]["val_acc"] for b in xs], "o" + ls, color=color,
                         label=tr(f"val, lr {rule}", f"验证，学习率{rule_zh}"))
            axes[1].plot(xs, [runs[rule, b]["train_acc"] for b in xs], "x" + ls, color=color, alpha=0.5,
                         label=tr(f"train, lr {rule}", f"训练，学习率{rule_zh}"))
            axes[2].plot(xs, [runs[rule, b]["sharp"] for b in xs], "s" + ls, color=color,
                         label=tr(f"sharpness, lr {rule}", f"尖锐度，学习率{rule_zh}"))
        axes[2].plot(xs, same["noise"], "o-", color="C2", label="grad noise E||g_B - g||^2 (same point)")
        axes[2].plot(xs, same["noise"][0] * xs[0] / np.array(xs), ":", color="C2", label="1/B")
        for ax in axes[1:]:
            ax.set_xscale("log")
            ax.set_xticks(xs, [str(b) for b in xs])
            ax.minorticks_off()
            ax.set_xlabel("batch size")
        axes[2].set_yscale("log")
        axes[0].set_title("training loss (solid: same lr, dashed: scaled lr)")
        axes[0].set_xlabel("epoch")
        axes[0].set_ylabel("training loss")
        axes[0].legend()
        axes[1].set_title("final accuracy")
        axes[1].set_ylabel("accuracy")
        axes[1].legend(fontsize=7)
        axes[2].set_title("gradient noise and sharpness")
        axes[2].legend(fontsize=7)
        ctx.save_figure(fig, "batch_size", "Training loss per epoch, final accuracy and sharpness against batch size, "
                        "with one learning rate for all (solid) and with the linear scaling rule (dashed), and the "
                        "gradient noise of each batch size at one common point with a 1/B line.",
                        "不同批大小下的每轮训练损失、最终准确率与尖锐度（实线为统一学习率，虚线为线性缩放规则），"
                        "以及同一点上各批大小的梯度噪声与 1/B 参考线。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        min_gain, drop_tol = thresholds["min_cos_gain"], thresholds["acc_drop"]
        lo, hi = SIZES[0], SIZES[-1]
        cos_lo, cos_hi = figures[f"cosine_same_point_b{lo}"], figures[f"cosine_same_point_b{hi}"]
        best_c = max(figures[f"val_acc_constant_b{b}"] for b in SIZES)
        best_s = max(figures[f"val_acc_scaled_b{b}"] for b in SIZES)
        drop_c = best_c - figures[f"val_acc_constant_b{hi}"]
        drop_s = best_s - figures[f"val_acc_scaled_b{hi}"]
        small_drop = max(best_c, best_s) - max(figures[f"val_acc_constant_b{lo}"], figures[f"val_acc_scaled_b{lo}"])
        direction_ok = cos_hi - cos_lo >= min_gain
        large_ok = drop_s >= drop_tol
        small_ok = small_drop >= drop_tol
        oks = (direction_ok, large_ok, small_ok)
        yes = {True: "holds", False: "fails"}
        shi = {True: "成立", False: "不成立"}
        en = (f"More accurate direction with a larger batch {yes[direction_ok]}: at the same weights the cosine "
              f"between a batch gradient and the full gradient is {fmt(cos_lo)} at B={lo} and {fmt(cos_hi)} at "
              f"B={hi} (a gain of at least {fmt(min_gain)} required). Worse when too large {yes[large_ok]}: at "
              f"B={hi} validation accuracy is {fmt(drop_s)} below the best batch size with the scaled learning rate "
              f"({fmt(drop_c)} with one learning rate for all; a drop counts from {fmt(drop_tol)}). Worse when "
              f"small {yes[small_ok]}: the best run at B={lo} is {fmt(small_drop)} below the best batch size.")
        zh = (f"批越大方向越准{shi[direction_ok]}：在同一组权重处，批梯度与全量梯度的余弦在 B={lo} 为 {fmt(cos_lo)}，"
              f"在 B={hi} 为 {fmt(cos_hi)}（要求至少提高 {fmt(min_gain)}）。过大变差{shi[large_ok]}：B={hi} 时，"
              f"缩放学习率下验证准确率比最佳批大小低 {fmt(drop_s)}（统一学习率下低 {fmt(drop_c)}；下降达到 "
              f"{fmt(drop_tol)} 才算）。过小变差{shi[small_ok]}：B={lo} 的最好结果比最佳批大小低 {fmt(small_drop)}。")
        return verdict_if(all(oks), nuanced=any(oks)), evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        lo, hi = SIZES[0], SIZES[-1]
        m, t = beyond["noise_ratio_measured"], beyond["noise_ratio_theory"]
        sh_lo, sh_hi = beyond[f"sharpness_scaled_b{lo}"], beyond[f"sharpness_scaled_b{hi}"]
        gap_lo, gap_hi = beyond[f"gap_scaled_b{lo}"], beyond[f"gap_scaled_b{hi}"]
        return {"en": f"At the same weights the gradient noise at B={lo} is {fmt(m)}x that at B={hi}; sampling "
                      f"theory ((N - B)/B) predicts {fmt(t)}x. With scaled learning rates, sharpness is {fmt(sh_lo)} "
                      f"at B={lo} and {fmt(sh_hi)} at B={hi}; the train-validation gap {fmt(gap_lo)} and "
                      f"{fmt(gap_hi)}.",
                "zh": f"在同一组权重处，B={lo} 的梯度噪声是 B={hi} 的 {fmt(m)} 倍；抽样理论（(N - B)/B）预测 "
                      f"{fmt(t)} 倍。学习率缩放时，尖锐度在 B={lo} 为 {fmt(sh_lo)}，B={hi} 为 {fmt(sh_hi)}；"
                      f"训练-验证差距为 {fmt(gap_lo)} 和 {fmt(gap_hi)}。"}
