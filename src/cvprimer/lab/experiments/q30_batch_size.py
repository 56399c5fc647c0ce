"""Question 30: how the batch size affects training.

Measured on an MLP on the digits, for batch sizes from 8 to 512, each trained for the same number of epochs with
SGD and momentum, once at one learning rate for every batch size and once with the linear scaling rule
(``lr = lr_0 * B / B_0``): final training and validation accuracy (and their gap), training CPU time, the noise
of the mini-batch gradient at the final weights, and a sharpness proxy (the loss rise under small random weight
perturbations, :mod:`cvprimer.lab._gradstats`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

import cvprimer as cp
from cvprimer import nn
from cvprimer.analysis.timing import blas_threads
from cvprimer.lab._gradstats import batch_gradient_stats, gradient_noise, sharpness
from cvprimer.lab.common import fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

SIZES = (16, 64, 256, 512)
B0, LR0 = 64, 0.04
RHO = 0.25  # relative size of the weight perturbation for the sharpness proxy


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


class BatchSize(Experiment):
    id = "q30-batch-size"
    questions = (30,)
    topic = "training"
    thresholds = {"min_noise_ratio": 10.0, "acc_drop": 0.05}
    text = {
        "en": {
            "title": "Batch size: gradient noise, speed, sharpness and generalization",
            "claim": "Within reason, a larger batch gives a more accurate descent direction and less oscillation; "
                     "a batch that is too large may exhaust memory and get stuck in local optima; a small batch is "
                     "noisier and converges with difficulty, only rarely doing better.",
            "method": "Train the same MLP on the digits with batch sizes 16, 64, 256 and 512 for the same number of "
                      "epochs (SGD, momentum 0.9), once at one learning rate (0.04) for all and once with the "
                      "linear scaling rule lr = 0.04 * B / 64. Record training and validation accuracy, training "
                      "CPU time (one BLAS thread), the mini-batch gradient noise E||g_B - g||^2 and cosine with the "
                      "full gradient for every batch size at one common point (the final weights of the B=64 run) "
                      "and a sharpness proxy: the mean training-loss rise when every weight tensor gets Gaussian "
                      "noise of 25% of its RMS.",
        },
        "zh": {
            "title": "批大小：梯度噪声、速度、尖锐度与泛化",
            "claim": "在合理范围内，batch 越大，梯度给出的方向越准，更新的抖动越小；"
                     "batch 过大可能导致内存不足并陷入局部最优；"
                     "batch 小则随机性大，难以收敛，只在极少数情况下效果更好。",
            "method": "在 digits 上用批大小 16、64、256、512 训练同一个 MLP，训练轮数相同（SGD，动量 0.9），"
                      "一次所有批大小都用同一学习率 0.04，一次按线性缩放规则 lr = 0.04 * B / 64。记录训练与验证"
                      "准确率、训练 CPU 时间（单个 BLAS 线程）、在同一点（B=64 训练结束时的权重）上各批大小的"
                      "小批量梯度噪声 E||g_B - g||^2 及其与全量梯度的余弦相似度，"
                      "以及尖锐度指标：给每个权重张量加上其均方根 25% 的高斯噪声后训练损失的平均升高。",
        },
    }

    def run(self, ctx: Context) -> Result:
        with blas_threads(1):  # small matrices: one BLAS thread is as fast alone and far faster on a busy CPU
            return self._run(ctx)

    def _run(self, ctx: Context) -> Result:
        data = load_data("digits", ctx.pick(800, 1437), 360, ctx.rng, standardize=True)
        epochs = ctx.pick(10, 40)
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
                with blas_threads(1):
                    f = fit(model, data, epochs, gen, lr=lr, optimizer="momentum", batch_size=b)
                cpu = time.process_time() - t0
                ok = np.isfinite(f.curve("train_loss")[-1])
                noise = gradient_noise(model, xs, ys, [b], ctx.pick(8, 24), ctx.child_rng())[0] if ok else np.nan
                sharp = sharpness(model, xs, ys, RHO, ctx.pick(10, 30), ctx.child_rng()) if ok else np.nan
                res[rule, b] = {"lr": lr, "train_acc": f.train_acc, "val_acc": f.val_acc,
                                "gap": f.train_acc - f.val_acc, "cpu": cpu, "noise": float(noise),
                                "sharp": float(sharp)}
                curves[rule, b] = f.curve("train_loss")
                if rule == "constant" and b == B0:
                    base = model
        # the direction each batch size would give at one and the same point (the base run's final weights)
        same = batch_gradient_stats(base, xs, ys, list(SIZES), ctx.pick(12, 40), ctx.child_rng())
        self._plot(ctx, res, curves, same)
        figures: dict[str, Figure] = {}
        for i, b in enumerate(SIZES):
            figures[f"noise_same_point_b{b}"] = Figure(same["noise"][i], "E||g_B - g||^2")
            figures[f"cosine_same_point_b{b}"] = Figure(same["cosine"][i], "cos(g_B, g)")
        for (rule, b), r in res.items():
            figures[f"val_acc_{rule}_b{b}"] = Figure(r["val_acc"], "fraction")
            figures[f"gap_{rule}_b{b}"] = Figure(r["gap"], "train - val accuracy")
            figures[f"sharpness_{rule}_b{b}"] = Figure(r["sharp"], "loss rise")
            figures[f"noise_{rule}_b{b}"] = Figure(r["noise"], "E||g_B - g||^2")
            figures[f"cpu_{rule}_b{b}"] = Figure(r["cpu"], "CPU s")
        rows = [[rule, b, r["lr"], r["train_acc"], r["val_acc"], r["gap"], r["cpu"], r["noise"], r["sharp"]]
                for (rule, b), r in res.items()]
        table = Table("runs", ["lr rule", "batch", "lr", "train acc", "val acc", "gap", "CPU s (fit + val)",
                               "grad noise", "sharpness"], rows,
                      {"en": f"{epochs} epochs on {len(data.y_train)} digits; noise (batches drawn from the training "
                             f"set) and sharpness (perturbation {RHO:.0%} of each tensor's RMS) at the final weights.",
                       "zh": f"在 {len(data.y_train)} 张 digits 上训练 {epochs} 轮；噪声（批次取自训练集）和尖锐度"
                             f"（扰动为各张量均方根的 {RHO:.0%}）在最终权重处测得。"})
        return Result(figures=figures, tables=[table])

    @staticmethod
    def _plot(ctx: Context, res: Mapping[tuple[str, int], Mapping[str, float]],
              curves: Mapping[tuple[str, int], np.ndarray], same: Mapping[str, np.ndarray]) -> None:
        fig, axes = ctx.figure(1, 3, size=(14, 3.9))
        xs = list(SIZES)
        for rule, ls in (("constant", "-"), ("scaled", "--")):
            for i, b in enumerate(SIZES):
                c = curves[rule, b]
                axes[0].semilogy(np.arange(1, len(c) + 1), c, ls=ls, color=f"C{i}",
                                 label=f"B={b}" if rule == "constant" else None)
            color = "C0" if rule == "constant" else "C1"
            axes[1].plot(xs, [res[rule, b]["val_acc"] for b in xs], "o" + ls, color=color, label=f"val, lr {rule}")
            axes[1].plot(xs, [res[rule, b]["train_acc"] for b in xs], "x" + ls, color=color, alpha=0.5,
                         label=f"train, lr {rule}")
            axes[2].plot(xs, [res[rule, b]["sharp"] for b in xs], "s" + ls, color=color, label=f"sharpness, lr {rule}")
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
        min_ratio, drop_tol = thresholds["min_noise_ratio"], thresholds["acc_drop"]
        lo, hi = SIZES[0], SIZES[-1]
        ratio = figures[f"noise_same_point_b{lo}"] / max(figures[f"noise_same_point_b{hi}"], 1e-30)
        cos_lo, cos_hi = figures[f"cosine_same_point_b{lo}"], figures[f"cosine_same_point_b{hi}"]
        best_c = max(figures[f"val_acc_constant_b{b}"] for b in SIZES)
        best_s = max(figures[f"val_acc_scaled_b{b}"] for b in SIZES)
        drop_c = best_c - figures[f"val_acc_constant_b{hi}"]
        drop_s = best_s - figures[f"val_acc_scaled_b{hi}"]
        small_drop = max(best_c, best_s) - max(figures[f"val_acc_constant_b{lo}"], figures[f"val_acc_scaled_b{lo}"])
        sh_lo, sh_hi = figures[f"sharpness_scaled_b{lo}"], figures[f"sharpness_scaled_b{hi}"]
        gap_lo, gap_hi = figures[f"gap_scaled_b{lo}"], figures[f"gap_scaled_b{hi}"]
        en = (f"At the same weights, gradient noise at B={lo} is {fmt(ratio)}x that at B={hi} (the claim needs >= "
              f"{fmt(min_ratio)}x) and the cosine with the full gradient rises from {fmt(cos_lo)} to {fmt(cos_hi)}. "
              f"At B={hi} validation accuracy falls {fmt(drop_c)} below the best batch with one learning rate and "
              f"{fmt(drop_s)} with the linear scaling rule (a drop counts from {fmt(drop_tol)}); the smallest batch "
              f"is {fmt(small_drop)} below the best. With scaled rates, sharpness is {fmt(sh_lo)} at B={lo} and "
              f"{fmt(sh_hi)} at B={hi}; the train-validation gap {fmt(gap_lo)} and {fmt(gap_hi)}.")
        zh = (f"在同一组权重处，B={lo} 的梯度噪声是 B={hi} 的 {fmt(ratio)} 倍（该说法要求 >= {fmt(min_ratio)} 倍），"
              f"与全量梯度的余弦相似度从 {fmt(cos_lo)} 升到 {fmt(cos_hi)}。"
              f"B={hi} 时，统一学习率下验证准确率比最佳批大小低 {fmt(drop_c)}，线性缩放学习率下低 {fmt(drop_s)}"
              f"（下降超过 {fmt(drop_tol)} 才算）；最小批大小比最佳低 {fmt(small_drop)}。学习率缩放时，"
              f"尖锐度在 B={lo} 为 {fmt(sh_lo)}，B={hi} 为 {fmt(sh_hi)}；"
              f"训练-验证差距为 {fmt(gap_lo)} 和 {fmt(gap_hi)}。")
        if not ratio >= min_ratio:
            return verdict_if(False), evidence(en=en + " Larger batches did not give a clearly less noisy gradient.",
                                               zh=zh + "更大的批次并没有带来明显更小的梯度噪声。")
        if drop_s >= drop_tol and small_drop >= drop_tol:
            return verdict_if(True), evidence(
                en=en + " Both ends lose accuracy even with scaled learning rates, as claimed.",
                zh=zh + "即使按比例调整学习率，两端的批大小都损失了准确率，与说法一致。")
        en += " The direction does get more accurate with B (noise ~ 1/B)."
        zh += "批越大梯度方向确实越准确（噪声约为 1/B）。"
        if drop_c >= drop_tol and drop_s < drop_tol:
            en += (" The large batch's loss at a fixed learning rate comes from taking fewer steps, not from local "
                   "optima: scaling the learning rate with B recovers it.")
            zh += "大批次在固定学习率下的损失来自更新步数更少，而不是局部最优：按 B 缩放学习率即可弥补。"
        elif drop_s >= drop_tol:
            en += (f" Scaling the learning rate with B recovers {fmt(drop_c - drop_s)} of the large batch's loss, "
                   f"but it stays {fmt(drop_s)} behind: at the largest batch the linear rule stops working.")
            zh += (f"按 B 缩放学习率挽回了大批次损失中的 {fmt(drop_c - drop_s)}，但仍落后 {fmt(drop_s)}："
                   "在最大的批次上线性缩放规则不再奏效。")
        if small_drop < drop_tol:
            en += " The small batch converged as well as any, despite its noise."
            zh += "小批次尽管噪声大，收敛得并不比其他差。"
        return verdict_if(False, nuanced=True), evidence(en=en, zh=zh)
