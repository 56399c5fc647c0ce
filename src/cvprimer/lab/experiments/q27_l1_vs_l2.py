"""Question 27: L1 vs L2 regularization. Does L1 make weights sparse (exact zeros) and L2 only small?

Measured on the MNIST sample with softmax regression (one linear layer, 784 x 10 weights, so every weight
is a pixel's vote for a class) trained with plain SGD (lr 0.1) from one initialization: no penalty, L2
(``weight_decay``) and L1 by a proximal step (``l1_mode="proximal"``, soft-thresholding
``w <- sign(w) max(|w| - lr*lam, 0)``); the seed's claim is decided on these three (exact zeros, the L2 norm
against the unpenalized run's, validation accuracy). Beyond the seed: L1 by its plain subgradient
(``l1_mode="subgradient"``), near zeros (|w| < 1e-3), weight histograms and the minimum of a 2-D quadratic on an
L1 and an L2 ball.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cvprimer import nn, optim
from cvprimer.lab.common import fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr

LR, L1, L2 = 0.1, 2e-3, 2e-2  # SGD learning rate, L1 and L2 penalty strengths
CLAIM_RUNS = ("none", "l2", "l1_proximal")  # what the seed's claim is decided on; the subgradient run is beyond
RUNS = ("none", "l2", "l1_subgradient", "l1_proximal")
LABELS = {"none": "no penalty", "l2": "L2 (weight_decay)", "l1_subgradient": "L1 subgradient",
          "l1_proximal": "L1 proximal"}
LABELS_ZH = {"none": "无惩罚", "l2": "L2（权重衰减）", "l1_subgradient": "L1 次梯度", "l1_proximal": "L1 近端"}


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
    thresholds = {"min_zero_frac": 0.2, "max_l2_zero_frac": 0.01, "max_acc_drop": 0.05, "max_l2_norm_ratio": 0.98}
    reasons = {
        "min_zero_frac": {"en": "Convention for 'many weights exactly zero': at least a fifth of them (measured "
                                "46-47% with the proximal step over 3 quick seeds, spread under 1 point).",
                          "zh": "“许多权重恰为零”的约定：至少五分之一（近端步在 3 个快速模式随机种子上实测 46-47%，"
                                "波动不到 1 个百分点）。"},
        "max_l2_zero_frac": {"en": "Theory: an L2 step multiplies a weight by (1 - lr lambda) plus a data term, so "
                                   "it reaches exactly 0 only by floating-point accident; 1% leaves room for that.",
                             "zh": "理论：L2 的一步把权重乘以 (1 - lr lambda) 再加数据项，只有浮点巧合才会恰为 0；"
                                   "1% 为这种巧合留出余地。"},
        "max_acc_drop": {"en": "The sparse model must still be a model: validation accuracy within 0.05 of the "
                               "unpenalized one, over 6x the across-seed spread of that paired difference "
                               "(measured 0.008 in quick mode).",
                         "zh": "稀疏模型仍须是可用的模型：验证准确率与无惩罚时相差不超过 0.05，"
                               "是这一配对差值跨随机种子波动（快速模式实测 0.008）的 6 倍以上。"},
        "max_l2_norm_ratio": {"en": "'Small weights': the L2 run's weight norm at least 2% below the unpenalized "
                                    "run's from the same start; the across-seed spread of that ratio is 0.0002 "
                                    "(measured 0.917 in 3 quick seeds), so 2% is far above the noise.",
                              "zh": "“权重小”：从同一起点出发，L2 的权重范数比无惩罚时至少小 2%；这一比值的跨随机种子"
                                    "波动为 0.0002（3 个快速模式随机种子实测 0.917），2% 远高于噪声。"},
    }
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "L1 sparsity through the proximal (soft-threshold) step", "zh": "L1 稀疏性与近端（软阈值）更新"}
    key_figure = "zero_frac_l1_proximal"
    answer = {
        "confirmed": {
            "en": "Yes, with one condition: L1 gives exact zeros when it is applied as a proximal "
                  "(soft-threshold) step, {zero_frac_l1_proximal:pct} of the weights here, while L2 gave no "
                  "zeros and only shrank the weights.",
            "zh": "是的，但有一个条件：L1 以近端（软阈值）更新施加时才会得到精确的零，"
                  "这里有 {zero_frac_l1_proximal:pct} 的权重为零；L2 不产生零，只是把权重变小。"},
        "nuanced": {
            "en": "Half of it held: say L1 yields exact zeros only through a proximal step "
                  "({zero_frac_l1_proximal:pct} here; plain subgradient steps leave tiny non-zeros) and check "
                  "the L2 part separately.",
            "zh": "只成立一半：回答时说明 L1 只有通过近端更新才得到精确的零（这里为 {zero_frac_l1_proximal:pct}"
                  "；普通次梯度更新只会留下很小的非零值），L2 的部分要单独检查。"},
        "refuted": {
            "en": "Neither penalty behaved as claimed here (exact zeros with L1 {zero_frac_l1_proximal:pct}).",
            "zh": "这里两种惩罚都没有如说法那样表现（L1 的精确零比例 {zero_frac_l1_proximal:pct}）。"},
    }
    text = {
        "en": {
            "title": "What is regularization, and how do L1 and L2 differ?",
            "claim": "Regularization adds a complexity penalty to the loss to keep over-fitting down. The L1 "
                     "penalty drives many weights to exactly zero, giving a sparse and more interpretable model; "
                     "the L2 penalty pulls the weights towards small, spread-out values and produces no zeros.",
            "method": "Softmax regression on the MNIST sample trained with plain SGD from one initialization three "
                      "ways: no penalty, L2 weight decay, and L1 minimized by a proximal soft-thresholding step "
                      "(the standard way to optimize an L1 penalty, which can land on exactly zero). Count exact "
                      "zeros, compare the L2 norm of the weights with the unpenalized run's, and the validation "
                      "accuracy.",
            "beyond": "Beyond the seed: the same L1 penalty minimized by its plain subgradient (which jumps across "
                      "zero instead of stopping there), weight histograms and per-class weight maps, and the "
                      "minimum of a 2-D quadratic on an L1 and an L2 ball.",
        },
        "zh": {
            "title": "正则化是什么？L1 与 L2 有何不同？",
            "claim": "正则化是在损失上加一个复杂度惩罚项来抑制过拟合。L1 惩罚让许多权重恰好为零，"
                     "得到稀疏、更易解释的模型；L2 惩罚把权重拉向数值小而分散的解，不会产生零。",
            "method": "在 MNIST 样本上从同一初始化出发，用普通 SGD 训练 softmax 回归三次：无惩罚、L2 权重衰减、"
                      "用近端软阈值步最小化 L1（优化 L1 惩罚的标准方法，能恰好落在零上）。统计恰为零的权重比例，"
                      "把权重的 L2 范数与无惩罚时比较，并比较验证准确率。",
            "beyond": "超出原文的部分：同样的 L1 惩罚改用普通次梯度最小化（它会越过零而不是停在零上）、"
                      "权重直方图与各类别权重图，以及二维二次函数在 L1 球和 L2 球上的约束最优点。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "val_acc_{p}": {"en": "val accuracy, {p}", "zh": "验证准确率（{p}）"},
        "near_zero_frac_{p}": {"en": "share of near-zero weights, {p}", "zh": "接近零的权重比例（{p}）"},
        "ball_l2_min_abs_coord": {"en": "smallest |coordinate| of the L2-ball solution", "zh": "L2 球解的最小 |坐标|"},
    }
    terms = {
        "none": {"en": "no penalty", "zh": "无惩罚"},
        "l2": {"en": "L2", "zh": "L2"},
        "l1_proximal": {"en": "L1, proximal", "zh": "L1（近端）"},
        "l1_subgradient": {"en": "L1, subgradient", "zh": "L1（次梯度）"},
    }

    def measure(self, ctx: Context) -> Result:
        # raw [0, 1] pixels: an always-black border pixel then has no data gradient, as in any real model
        # with unused inputs, and only the penalty decides its weight
        data = load_data("mnist_sample", ctx.pick(600, 3000, tiny=200), ctx.pick(500, 1000, tiny=100), ctx.rng)
        epochs, lr, l1, l2 = ctx.pick(10, 30, tiny=2), LR, L1, L2
        init = nn.Linear(784, 10)
        init.weight.data[...] = 0.01 * ctx.rng.standard_normal(init.weight.shape).astype(np.float32)
        state = {k: v.copy() for k, v in init.state_dict().items()}
        figs: dict[str, Figure] = {}
        beyond: dict[str, Figure] = {}
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
            put = figs if kind in CLAIM_RUNS else beyond
            put[f"zero_frac_{kind}"] = Figure(zero, "fraction", {"en": f"exact zeros, {LABELS[kind]}",
                                                                 "zh": f"恰为零的比例（{LABELS_ZH[kind]}）"})
            beyond[f"near_zero_frac_{kind}"] = Figure(near, "fraction")
            put[f"val_acc_{kind}"] = Figure(res.val_acc, "accuracy")
            put[f"l2_norm_{kind}"] = Figure(float(np.sqrt((w * w).sum())), "", {"en": f"||W||_2, {LABELS[kind]}",
                                                                               "zh": f"||W||₂（{LABELS_ZH[kind]}）"})
            rows.append([LABELS[kind], zero, near, float(np.abs(w).sum()), float(np.sqrt((w * w).sum())),
                         res.train_acc, res.val_acc])
            ctx.progress.update()
        # the geometric picture: an elongated quadratic whose unconstrained minimum lies outside the balls
        c, h = np.array([1.8, 0.5]), np.array([[1.5, 0.3], [0.3, 1.0]])
        w1, w2 = constrained_minimum(c, h, "l1"), constrained_minimum(c, h, "l2")
        beyond["ball_l1_min_abs_coord"] = Figure(float(np.abs(w1).min()), "", {"en": "smaller |coordinate|, L1 ball",
                                                                              "zh": "L1 球上较小坐标的绝对值"})
        beyond["ball_l2_min_abs_coord"] = Figure(float(np.abs(w2).min()), "")
        cols = ["penalty", "exact zeros", "|w| < 1e-3", "L1 norm", "L2 norm", "train acc", "val acc"]
        extra = Table("subgradient", cols, [r for r, k in zip(rows, RUNS, strict=True) if k not in CLAIM_RUNS],
                      {"en": "The same L1 penalty minimized by its plain subgradient (same lambda and schedule).",
                       "zh": "同样的 L1 惩罚改用普通次梯度最小化（lambda 与训练设置相同）。"})
        table = Table("weights", cols, [r for r, k in zip(rows, RUNS, strict=True) if k in CLAIM_RUNS],
                      {"en": f"Softmax regression, {epochs} epochs of SGD (lr {lr}); L1 lambda {l1}, L2 lambda {l2}.",
                       "zh": f"softmax 回归，SGD 训练 {epochs} 轮（学习率 {lr}）；L1 的 lambda 为 {l1}，"
                             f"L2 的 lambda 为 {l2}。"})
        return Result(figures=figs, tables=[table], beyond=beyond, beyond_tables=[extra],
                      series={"weights": weights, "quadratic": (c, h), "optima": (w1, w2)})

    def draw(self, res: Result, ctx: Context) -> None:
        self._plots(ctx, res.series["weights"])
        self._geometry(ctx, *res.series["quadratic"], *res.series["optima"])

    @staticmethod
    def _plots(ctx: Context, weights: Mapping[str, np.ndarray]) -> None:
        fig, ax = ctx.figure(1, 1, size=(6.4, 3.6))
        bins = np.linspace(-0.3, 0.3, 121)
        for kind in RUNS:
            ax.hist(np.clip(weights[kind].ravel(), bins[0], bins[-1]), bins, histtype="step",
                    label=tr(LABELS[kind], LABELS_ZH[kind]))
        ax.set_yscale("log")
        ax.set_xlabel("weight value")
        ax.set_ylabel("count (log)")
        ax.set_title(tr("Weights of softmax regression after training", "训练后 softmax 回归的权重"))
        ax.legend()
        zeros = ", ".join(f"{LABELS[k]} {fmt(100 * np.mean(weights[k] == 0))}%" for k in RUNS)
        zeros_zh = "，".join(f"{LABELS_ZH[k]} {fmt(100 * np.mean(weights[k] == 0))}%" for k in RUNS)
        ctx.save_figure(fig, "histograms", "Histograms of the 7,840 weights after training with no penalty, L2, "
                        f"L1 by subgradient and L1 by proximal step; exact zeros: {zeros}.",
                        "无惩罚、L2、L1 次梯度、L1 近端步训练后 7,840 个权重的直方图；"
                        f"恰为零的比例：{zeros_zh}。")
        fig, axes = ctx.figure(1, 4, size=(11, 3.0))
        for ax, kind in zip(axes, RUNS, strict=True):
            w = weights[kind][3].reshape(28, 28)
            m = float(np.abs(w).max()) or 1.0
            ax.imshow(w, cmap="RdBu_r", vmin=-m, vmax=m)
            share = f"{100 * np.mean(weights[kind] == 0):.0f}%"
            ax.set_title(tr(f"{LABELS[kind]}\n{share} exact zeros", f"{LABELS_ZH[kind]}\n{share} 恰为零"))
            ax.set_axis_off()
        ctx.save_figure(fig, "weight_maps", "The weights of class 3 as a 28x28 image for each penalty (white is "
                        "zero); each title gives that run's share of exact zeros.",
                        "各种惩罚下类别 3 的权重排成 28x28 图像（白色为零）；每幅小图标题给出该次训练恰为零的比例。")

    @staticmethod
    def _geometry(ctx: Context, c: np.ndarray, h: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> None:
        fig, ax = ctx.figure(1, 1, size=(4.8, 4.4))
        g = np.linspace(-1.6, 2.4, 200)
        xx, yy = np.meshgrid(g, g)
        rx, ry = xx - c[0], yy - c[1]
        f = 0.5 * (h[0, 0] * rx * rx + 2 * h[0, 1] * rx * ry + h[1, 1] * ry * ry)
        ax.contour(xx, yy, f, levels=12, colors="0.6", linewidths=0.8)
        ax.plot([1, 0, -1, 0, 1], [0, 1, 0, -1, 0], label=tr("L1 ball |w|_1 <= 1", "L1 球 |w|₁ ≤ 1"))
        t = np.linspace(0, 2 * np.pi, 200)
        ax.plot(np.cos(t), np.sin(t), label=tr("L2 ball |w|_2 <= 1", "L2 球 |w|₂ ≤ 1"))
        ax.plot(*c, "k*", ms=10, label="unconstrained minimum")
        ax.plot(*w1, "o", color="C0", ms=8, label=tr(f"L1 optimum ({w1[0]:.2f}, {w1[1]:.2f})",
                                                                 f"L1 最优点 ({w1[0]:.2f}, {w1[1]:.2f})"))
        ax.plot(*w2, "s", color="C1", ms=8, label=tr(f"L2 optimum ({w2[0]:.2f}, {w2[1]:.2f})",
                                                                 f"L2 最优点 ({w2[0]:.2f}, {w2[1]:.2f})"))
        ax.set_aspect("equal")
        ax.set_xlabel("w1")
        ax.set_ylabel("w2")
        ax.set_title(tr("Constrained minimum of a quadratic", "二次函数的约束最小值"))
        ax.legend(loc="lower right", fontsize=7)
        ctx.save_figure(fig, "geometry", "Contours of a 2-D quadratic with the L1 diamond and the L2 circle; the "
                        f"constrained minimum is ({fmt(w1[0])}, {fmt(w1[1])}) on the diamond and "
                        f"({fmt(w2[0])}, {fmt(w2[1])}) on the circle.",
                        "二维二次函数的等高线与 L1 菱形、L2 圆；约束最优点在菱形上为 "
                        f"({fmt(w1[0])}, {fmt(w1[1])})，在圆上为 ({fmt(w2[0])}, {fmt(w2[1])})。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        zmin, l2max, drop = thresholds["min_zero_frac"], thresholds["max_l2_zero_frac"], thresholds["max_acc_drop"]
        rmax = thresholds["max_l2_norm_ratio"]
        zp, z2 = figures["zero_frac_l1_proximal"], figures["zero_frac_l2"]
        acc0, accp = figures["val_acc_none"], figures["val_acc_l1_proximal"]
        ratio = figures["l2_norm_l2"] / max(figures["l2_norm_none"], 1e-300)
        l1_sparse = zp >= zmin and acc0 - accp <= drop
        l2_small = z2 <= l2max and ratio <= rmax
        yes = {True: "holds", False: "fails"}
        shi = {True: "成立", False: "不成立"}
        return verdict_if(l1_sparse and l2_small, nuanced=l1_sparse or l2_small), evidence(
            en=f"L1 sparsity {yes[l1_sparse]}: with the proximal L1 step {fmt(100 * zp)}% of the weights are exactly "
               f"zero (at least {fmt(100 * zmin)}% required) at a validation accuracy of {fmt(accp)} vs {fmt(acc0)} "
               f"without penalty (a drop of at most {fmt(drop)} allowed). L2 (small weights, no zeros) "
               f"{yes[l2_small]}: {fmt(100 * z2)}% exact zeros (at most {fmt(100 * l2max)}%) and a weight norm "
               f"{fmt(ratio)} times the unpenalized run's (at most {fmt(rmax)}).",
            zh=f"L1 稀疏性{shi[l1_sparse]}：用 L1 近端步时 {fmt(100 * zp)}% 的权重恰好为零（要求至少 "
               f"{fmt(100 * zmin)}%），验证准确率 {fmt(accp)}，无惩罚时为 {fmt(acc0)}（允许下降至多 {fmt(drop)}）。"
               f"L2 权重小且无零{shi[l2_small]}：恰为零的比例 {fmt(100 * z2)}%（上限 {fmt(100 * l2max)}%），"
               f"权重范数是无惩罚时的 {fmt(ratio)} 倍（上限 {fmt(rmax)}）。")

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        zs, ns = beyond["zero_frac_l1_subgradient"], beyond["near_zero_frac_l1_subgradient"]
        b1, b2 = beyond["ball_l1_min_abs_coord"], beyond["ball_l2_min_abs_coord"]
        return {"en": f"The same L1 penalty minimized by its plain subgradient leaves {fmt(100 * zs)}% of the weights "
                      f"exactly zero and {fmt(100 * ns)}% below 1e-3 in magnitude. In 2-D the smaller coordinate of "
                      f"the constrained minimum is {fmt(b1)} on the L1 ball and {fmt(b2)} on the L2 ball.",
                "zh": f"同样的 L1 惩罚改用普通次梯度最小化时，{fmt(100 * zs)}% 的权重恰为零，{fmt(100 * ns)}% 的"
                      f"绝对值小于 1e-3。二维示例中约束最优点较小的坐标在 L1 球上为 {fmt(b1)}，"
                      f"在 L2 球上为 {fmt(b2)}。"}
