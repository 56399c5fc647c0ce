"""Question 27: L1 vs L2 regularization. Does L1 make weights sparse (exact zeros) and L2 only small?

Measured on the MNIST sample with softmax regression (one linear layer, 784 x 10 weights, so every weight
is a pixel's vote for a class) trained with SGD four ways: no penalty, L2 (``weight_decay``), L1 by its
subgradient (``l1_decay``, ``l1_mode="subgradient"``) and L1 by a proximal step (``l1_mode="proximal"``,
soft-thresholding ``w <- sign(w) max(|w| - lr*lam, 0)``). For each: exact zeros, near zeros (|w| < 1e-3),
the L1 and L2 norms, validation accuracy and the weight histogram. The geometric picture: the minimum of a
2-D quadratic on an L1 ball lands on a corner (one coordinate exactly 0), on an L2 ball it does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cvprimer import nn, optim
from cvprimer.analysis.timing import blas_threads
from cvprimer.lab.common import fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

RUNS = ("none", "l2", "l1_subgradient", "l1_proximal")
LABELS = {"none": "no penalty", "l2": "L2 (weight_decay)", "l1_subgradient": "L1 subgradient",
          "l1_proximal": "L1 proximal"}


def constrained_minimum(center: np.ndarray, hess: np.ndarray, ball: str, radius: float = 1.0,
                        n: int = 20000) -> np.ndarray:
    """Minimum of ``(w - c)^T H (w - c) / 2`` over the boundary of the L1 or L2 ball of ``radius`` (the
    unconstrained minimum ``c`` lies outside it): a dense search of the boundary, corners included exactly."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    d = np.stack([np.cos(t), np.sin(t)], 1)
    if ball == "l1":
        d = d / np.abs(d).sum(1, keepdims=True)
        d = np.concatenate([d, [[1, 0], [0, 1], [-1, 0], [0, -1]]])
    elif ball != "l2":
        raise ValueError(f"constrained_minimum: ball must be 'l1' or 'l2', got {ball!r}")
    w = radius * d
    r = w - center
    f = 0.5 * np.einsum("ni,ij,nj->n", r, hess, r)
    return w[int(np.argmin(f))]


def _optimizer(kind: str, params: Any, lr: float, l1: float, l2: float) -> Any:
    if kind == "none":
        return optim.SGD(params, lr=lr)
    if kind == "l2":
        return optim.SGD(params, lr=lr, weight_decay=l2)
    return optim.SGD(params, lr=lr, l1_decay=l1, l1_mode=kind.split("_")[1])


class L1VersusL2(Experiment):
    id = "q27-l1-vs-l2"
    questions = (27,)
    topic = "regularization"
    thresholds = {"min_zero_frac": 0.2, "max_l2_zero_frac": 0.01, "max_acc_drop": 0.05}
    text = {
        "en": {
            "title": "L1 vs L2: exact zeros need a proximal step",
            "claim": "Regularization adds a complexity penalty to the loss. The L1 penalty makes many weights "
                     "exactly zero (a sparse, interpretable model); the L2 penalty only shrinks weights towards "
                     "zero and spreads them, without zeros.",
            "method": "Softmax regression on the MNIST sample trained with SGD and no penalty, L2 weight decay, "
                      "L1 by its subgradient and L1 by a proximal soft-thresholding step (same lambda for both "
                      "L1 runs). Count exact zeros and |w| < 1e-3, norms and validation accuracy; plot weight "
                      "histograms and per-class weight maps; solve a 2-D quadratic on an L1 and an L2 ball.",
        },
        "zh": {
            "title": "L1 与 L2：要得到精确的零需要近端步",
            "claim": "正则化就是在损失上加一个复杂度惩罚项。L1 惩罚让许多权重恰好为零（稀疏、可解释）；"
                     "L2 惩罚只把权重往零收缩并使其分散，不会产生零。",
            "method": "在 MNIST 样本上用 SGD 训练 softmax 回归：无惩罚、L2 权重衰减、L1 次梯度、"
                      "L1 近端软阈值步（两种 L1 用同一个 lambda）。统计恰好为零和 |w| < 1e-3 的权重比例、"
                      "范数和验证准确率；画权重直方图和各类别的权重图；"
                      "并在 L1 球和 L2 球上求一个二维二次函数的约束最优点。",
        },
    }

    def run(self, ctx: Context) -> Result:
        with blas_threads(1):  # small matrices: one BLAS thread is faster on a shared machine
            return self._run(ctx)

    def _run(self, ctx: Context) -> Result:
        # raw [0, 1] pixels: an always-black border pixel then has no data gradient, as in any real model
        # with unused inputs, and only the penalty decides its weight
        data = load_data("mnist_sample", ctx.pick(600, 3000), ctx.pick(500, 1000), ctx.rng)
        epochs, lr, l1, l2 = ctx.pick(10, 30), 0.1, 2e-3, 2e-2
        init = nn.Linear(784, 10)
        init.weight.data[...] = 0.01 * ctx.rng.standard_normal(init.weight.shape).astype(np.float32)
        state = {k: v.copy() for k, v in init.state_dict().items()}
        figs: dict[str, Figure] = {}
        rows, weights = [], {}
        for kind in RUNS:
            lin = nn.Linear(784, 10)
            lin.load_state_dict(state)
            model = nn.Sequential(nn.Flatten(), lin)
            res = fit(model, data, epochs, np.random.default_rng(ctx.seed), optimizer=_optimizer(
                kind, model.parameters(), lr, l1, l2), batch_size=64)
            w = lin.weight.data.astype(np.float64)
            weights[kind] = w
            zero, near = float(np.mean(w == 0)), float(np.mean(np.abs(w) < 1e-3))
            figs[f"zero_frac_{kind}"] = Figure(zero, "fraction", {"en": f"exact zeros, {LABELS[kind]}",
                                                                  "zh": f"恰为零的比例，{LABELS[kind]}"})
            figs[f"near_zero_frac_{kind}"] = Figure(near, "fraction")
            figs[f"val_acc_{kind}"] = Figure(res.val_acc, "accuracy")
            rows.append([LABELS[kind], zero, near, float(np.abs(w).sum()), float(np.sqrt((w * w).sum())),
                         res.train_acc, res.val_acc])
            ctx.progress.update()
        self._plots(ctx, weights)
        # the geometric picture: an elongated quadratic whose unconstrained minimum lies outside the balls
        c, h = np.array([1.8, 0.5]), np.array([[1.5, 0.3], [0.3, 1.0]])
        w1, w2 = constrained_minimum(c, h, "l1"), constrained_minimum(c, h, "l2")
        self._geometry(ctx, c, h, w1, w2)
        figs["ball_l1_min_abs_coord"] = Figure(float(np.abs(w1).min()), "", {"en": "smaller |coordinate|, L1 ball",
                                                                              "zh": "L1 球上较小坐标的绝对值"})
        figs["ball_l2_min_abs_coord"] = Figure(float(np.abs(w2).min()), "")
        table = Table("weights", ["penalty", "exact zeros", "|w| < 1e-3", "L1 norm", "L2 norm", "train acc",
                                  "val acc"], rows,
                      {"en": f"Softmax regression, {epochs} epochs of SGD (lr {lr}); L1 lambda {l1}, L2 lambda {l2}.",
                       "zh": f"softmax 回归，SGD 训练 {epochs} 轮（学习率 {lr}）；L1 的 lambda 为 {l1}，"
                             f"L2 的 lambda 为 {l2}。"})
        return Result(figures=figs, tables=[table])

    @staticmethod
    def _plots(ctx: Context, weights: Mapping[str, np.ndarray]) -> None:
        fig, ax = ctx.figure(1, 1, size=(6.4, 3.6))
        bins = np.linspace(-0.3, 0.3, 121)
        for kind in RUNS:
            ax.hist(np.clip(weights[kind].ravel(), bins[0], bins[-1]), bins, histtype="step", label=LABELS[kind])
        ax.set_yscale("log")
        ax.set_xlabel("weight value")
        ax.set_ylabel("count (log)")
        ax.set_title("Weights of softmax regression after training")
        ax.legend()
        ctx.save_figure(fig, "histograms", "Histograms of the 7,840 weights after training with no penalty, L2, "
                        "L1 by subgradient and L1 by proximal step; only the proximal run has a tall spike at "
                        "exactly zero.",
                        "无惩罚、L2、L1 次梯度、L1 近端步训练后 7,840 个权重的直方图；"
                        "只有近端步在零处有一根高高的尖峰。")
        fig, axes = ctx.figure(1, 4, size=(11, 3.0))
        for ax, kind in zip(axes, RUNS, strict=True):
            w = weights[kind][3].reshape(28, 28)
            m = float(np.abs(w).max()) or 1.0
            ax.imshow(w, cmap="RdBu_r", vmin=-m, vmax=m)
            ax.set_title(f"{LABELS[kind]}\n{100 * np.mean(weights[kind] == 0):.0f}% exact zeros")
            ax.set_axis_off()
        ctx.save_figure(fig, "weight_maps", "The weights of class 3 as a 28x28 image for each penalty; with the "
                        "proximal L1 step the border pixels are exactly zero (white).",
                        "各种惩罚下类别 3 的权重排成 28x28 图像；"
                        "L1 近端步让边缘像素的权重恰好为零（白色）。")

    @staticmethod
    def _geometry(ctx: Context, c: np.ndarray, h: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> None:
        fig, ax = ctx.figure(1, 1, size=(4.8, 4.4))
        g = np.linspace(-1.6, 2.4, 200)
        xx, yy = np.meshgrid(g, g)
        rx, ry = xx - c[0], yy - c[1]
        f = 0.5 * (h[0, 0] * rx * rx + 2 * h[0, 1] * rx * ry + h[1, 1] * ry * ry)
        ax.contour(xx, yy, f, levels=12, colors="0.6", linewidths=0.8)
        ax.plot([1, 0, -1, 0, 1], [0, 1, 0, -1, 0], label="L1 ball |w|_1 <= 1")
        t = np.linspace(0, 2 * np.pi, 200)
        ax.plot(np.cos(t), np.sin(t), label="L2 ball |w|_2 <= 1")
        ax.plot(*c, "k*", ms=10, label="unconstrained minimum")
        ax.plot(*w1, "o", color="C0", ms=8, label=f"L1 optimum ({w1[0]:.2f}, {w1[1]:.2f})")
        ax.plot(*w2, "s", color="C1", ms=8, label=f"L2 optimum ({w2[0]:.2f}, {w2[1]:.2f})")
        ax.set_aspect("equal")
        ax.set_xlabel("w1")
        ax.set_ylabel("w2")
        ax.set_title("Constrained minimum of a quadratic")
        ax.legend(loc="lower right", fontsize=7)
        ctx.save_figure(fig, "geometry", "Contours of a 2-D quadratic with the L1 diamond and the L2 circle; the "
                        "constrained minimum sits on the diamond's corner (w2 = 0) but on the circle at a point "
                        "with both coordinates non-zero.",
                        "二维二次函数的等高线与 L1 菱形、L2 圆；在菱形上约束最优点落在顶点（w2 = 0），"
                        "在圆上则落在两个坐标都不为零的点。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        zmin, l2max, drop = thresholds["min_zero_frac"], thresholds["max_l2_zero_frac"], thresholds["max_acc_drop"]
        zp, zs, z2 = figures["zero_frac_l1_proximal"], figures["zero_frac_l1_subgradient"], figures["zero_frac_l2"]
        ns = figures["near_zero_frac_l1_subgradient"]
        b1, b2 = figures["ball_l1_min_abs_coord"], figures["ball_l2_min_abs_coord"]
        acc0, accp = figures["val_acc_none"], figures["val_acc_l1_proximal"]
        prox_sparse = zp >= zmin and acc0 - accp <= drop
        l2_dense = z2 <= l2max
        sub_sparse = zs >= zmin
        verdict = verdict_if(prox_sparse and l2_dense and sub_sparse, nuanced=prox_sparse and l2_dense)
        geo_en = (f" In 2-D the L1-ball optimum has a coordinate of {fmt(b1)} (a corner), the L2-ball optimum "
                  f"none below {fmt(b2)}.")
        geo_zh = f"二维示例中 L1 球上的最优点有一个坐标为 {fmt(b1)}（顶点），L2 球上的最优点坐标最小也有 {fmt(b2)}。"
        if sub_sparse:
            sub_en = f" L1 by its plain subgradient also gives {fmt(100 * zs)}% exact zeros."
            sub_zh = f"普通次梯度的 L1 也有 {fmt(100 * zs)}% 的权重恰为零。"
        else:
            sub_en = (f" But L1 by its plain subgradient gives {fmt(100 * zs)}% exact zeros ({fmt(100 * ns)}% merely "
                      f"below 1e-3): the promised sparsity appears only with a proximal (or thresholding) optimizer, "
                      f"not from adding the penalty to the loss.")
            sub_zh = (f"而用普通次梯度的 L1 只有 {fmt(100 * zs)}% 恰为零（{fmt(100 * ns)}% 仅是小于 1e-3）："
                      f"所说的稀疏性只有在近端（或阈值化）优化器下才会出现，光把惩罚项加到损失里并不够。")
        return verdict, evidence(
            en=f"With the proximal L1 step {fmt(100 * zp)}% of the weights are exactly zero (threshold "
               f"{fmt(100 * zmin)}%) at a validation accuracy of {fmt(accp)} vs {fmt(acc0)} without penalty "
               f"(allowed drop {fmt(drop)}); L2 leaves {fmt(100 * z2)}% zeros (at most {fmt(100 * l2max)}% "
               f"expected).{sub_en}{geo_en}",
            zh=f"用 L1 近端步时 {fmt(100 * zp)}% 的权重恰好为零（阈值 {fmt(100 * zmin)}%），验证准确率 {fmt(accp)}，"
               f"无惩罚时为 {fmt(acc0)}（允许下降 {fmt(drop)}）；L2 只有 {fmt(100 * z2)}% 为零"
               f"（上限 {fmt(100 * l2max)}%）。{sub_zh}{geo_zh}")
