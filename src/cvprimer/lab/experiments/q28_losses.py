"""Question 28: which loss functions are common, and where does each belong?

The seed lists four pairings; each is measured on its own task with our engine:

- squared error for regression: a line fitted by gradient descent on the mean squared error to clean noisy
  points; the distance of (slope, intercept) from the truth;
- cross-entropy for classification: one MLP trained on a small MNIST subset with cross-entropy and with MSE on
  the softmax output (the alternative a beginner would try); validation accuracy;
- hinge loss for SVMs: a linear classifier (one ``nn.Linear``) trained with the multi-class hinge loss against
  the same linear model trained with cross-entropy (logistic regression); validation accuracy;
- the residual loss of CART regression trees: the split of a regression stump chosen by the sum of squared
  residuals on a noisy step function; the distance of the split from the true step.

Beyond the seed: the logit gradient of each classification loss (focal included) when confidently wrong, a
line fitted with MSE, L1 and smooth-L1 to data with outliers, and KL divergence against soft-target
cross-entropy (same gradient, checked by autograd).
"""


from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn, optim
from cvprimer.lab.common import fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "margin of the wrong class's logit": "错误类别 logit 的间隔",
    "Gradient when confidently wrong": "自信地错了时的梯度",
    "Classification losses": "分类损失",
    "Line fit with 10% outliers (truth 2x + 1)": "含 10% 离群点的直线拟合（真值 2x + 1）",
    "cross_entropy": "交叉熵",
    "focal": "Focal 损失",
    "hinge": "合页损失",
    "linear, cross_entropy": "线性模型，交叉熵",
    "linear, hinge": "线性模型，合页损失",
    "mlp, cross_entropy": "MLP，交叉熵",
    "mlp, mse_softmax": "MLP，softmax 上的均方误差",
    "mse_softmax": "softmax 上的均方误差",
})

MARGINS = np.arange(0, 12.5, 0.5)
REG_LOSSES = ("mse", "l1", "smooth_l1")
STEP = 0.5  # where the noisy step function of the CART check jumps  # Huber with delta 1 equals smooth-L1 with beta 1


def one_hot(y: np.ndarray, n: int, dtype: Any = np.float32) -> np.ndarray:
    """``(len(y), n)`` one-hot rows."""
    out = np.zeros((len(y), n), dtype)
    out[np.arange(len(y)), y] = 1
    return out


def mse_on_softmax(z: cp.Tensor, y: Any) -> cp.Tensor:
    """Mean squared error between the softmax of ``z`` and the one-hot targets (summed over classes)."""
    yy = np.asarray(y.data if isinstance(y, cp.Tensor) else y)
    return F.mse_loss(F.softmax(z, dim=1), cp.tensor(one_hot(yy, z.shape[1], z.dtype))) * z.shape[1]


CLASS_LOSSES: dict[str, Callable[[cp.Tensor, Any], cp.Tensor]] = {
    "cross_entropy": F.cross_entropy,
    "mse_softmax": mse_on_softmax,
    "hinge": F.multi_margin_loss,
    "focal": F.softmax_focal_loss,
}


def logit_grad_norm(loss: Callable[[cp.Tensor, Any], cp.Tensor], margin: float, classes: int = 10) -> float:
    """||dL/dz|| for one example whose logit of a wrong class exceeds all others by ``margin`` (true class 0)."""
    z = np.zeros((1, classes))
    z[0, 1] = margin
    t = cp.Tensor(z, requires_grad=True)
    loss(t, np.array([0])).backward()
    assert t.grad is not None  # (it requires grad and feeds the loss)
    return float(np.linalg.norm(t.grad.data))


def best_split(x: np.ndarray, y: np.ndarray) -> float:
    """CART's regression split of one feature: the threshold (midpoint between neighbours) that minimizes the
    sum of squared residuals of the two leaves' means."""
    order = np.argsort(x)
    xs, ys = x[order], y[order]
    n = len(ys)
    c1, c2 = np.cumsum(ys), np.cumsum(ys * ys)
    k = np.arange(1, n)  # left leaf holds the first k points
    sse_left = c2[k - 1] - c1[k - 1] ** 2 / k
    sse_right = (c2[-1] - c2[k - 1]) - (c1[-1] - c1[k - 1]) ** 2 / (n - k)
    i = int(np.argmin(sse_left + sse_right))
    return float((xs[i] + xs[i + 1]) / 2)


def fit_line(x: np.ndarray, y: np.ndarray, loss: str, steps: int, lr: float = 0.1) -> tuple[float, float]:
    """Slope and intercept fitted by full-batch Adam on ``loss`` (``mse``, ``l1``, ``smooth_l1``, ``huber``)."""
    w = cp.Tensor(np.zeros(1), requires_grad=True)
    b = cp.Tensor(np.zeros(1), requires_grad=True)
    xt, yt = cp.tensor(x), cp.tensor(y)
    fn = {"mse": F.mse_loss, "l1": F.l1_loss, "smooth_l1": F.smooth_l1_loss, "huber": F.huber_loss}[loss]
    opt = optim.Adam([w, b], lr=lr)
    for i in range(steps):
        if i == steps // 2:
            opt.param_groups[0]["lr"] = lr / 10
        opt.zero_grad()
        fn(xt * w + b, yt).backward()
        opt.step()
    return float(w.data[0]), float(b.data[0])


class LossFunctions(Experiment):
    id = "q28-losses"
    questions = (28,)
    topic = "loss"
    thresholds = {"max_line_err": 0.1, "max_acc_deficit": 0.03, "max_split_err": 0.2}
    reasons = {
        "max_line_err": {"en": "Theory: least squares on 200 points with noise sd 0.3 has a standard error near "
                               "0.02 for slope and intercept; 0.1, about 4 standard errors, separates a fit that "
                               "recovers the line from one that does not.",
                         "zh": "理论：200 个点、噪声标准差 0.3 的最小二乘，斜率和截距的标准误约 0.02；0.1 约为 4 个"
                               "标准误，用来区分拟合是否找回了这条直线。"},
        "max_acc_deficit": {"en": "Noise floor: paired validation-accuracy differences between losses on the same "
                                  "net, seed and batches vary by about 0.01 across quick seeds; a loss 'suits' the "
                                  "task when it is at most 0.03 (3 spreads) behind the alternative.",
                            "zh": "噪声下限：同一网络、随机种子和批次下不同损失的验证准确率配对差，在快速模式各随机种"
                                  "子间"
                                  "波动约 0.01；落后不超过 0.03（3 个波动）就算“适合”该任务。"},
        "max_split_err": {"en": "Sampling: 200 points on [-3, 3] are about 0.03 apart and the step is 2 noise sds "
                                "high; a split within 0.2 of the true step (about 7 point gaps) has found it.",
                          "zh": "抽样：[-3, 3] 上 200 个点的间距约 0.03，台阶高度是噪声标准差的 2 倍以上；"
                                "分裂点离真实台阶不超过 0.2（约 7 个点距）就算找到了它。"},
    }
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "matching the loss to the task", "zh": "损失函数与任务的匹配"}
    key_figure = "split_err"
    answer = {
        "confirmed": {
            "en": "Yes: squared loss fitted the regression line, cross-entropy trained the classifier, hinge "
                  "loss trained the linear SVM as well, and CART's squared-residual split found the true step "
                  "({split_err} away).",
            "zh": "是的：平方损失拟合出了回归直线，交叉熵训练好了分类器，合页损失同样训练好了线性 SVM，"
                  "CART 的平方残差划分找到了真实的阶跃点（相差 {split_err}）。"},
        "nuanced": {
            "en": "Most pairings held, not all (the CART split landed {split_err} from the true step); say "
                  "which loss suits which task and why.",
            "zh": "大部分搭配成立，但不是全部（CART 的划分点离真实阶跃 {split_err}）；"
                  "回答时说明哪种损失适合哪种任务以及原因。"},
        "refuted": {
            "en": "The pairings failed here (the CART split landed {split_err} from the true step).",
            "zh": "这里这些搭配不成立（CART 的划分点离真实阶跃 {split_err}）。"},
    }
    text = {
        "en": {
            "title": "Which standard loss functions are there, and where is each used?",
            "claim": "The common losses pair with tasks: the squared loss for regression, cross-entropy for "
                     "classification, the hinge loss for support vector machines and the squared-residual loss "
                     "with which CART grows regression trees.",
            "method": "Each pairing on its own task: a line fitted by Adam on the squared loss to clean noisy "
                      "points; one MLP trained on a small MNIST subset with cross-entropy and with MSE on the "
                      "softmax; a linear classifier trained with the multi-class hinge loss and with cross-entropy; "
                      "the split of a regression stump chosen by the sum of squared residuals on a noisy step.",
            "beyond": "Beyond the seed: losses it does not list (focal, smooth-L1/Huber, KL divergence), the logit "
                      "gradient of each classification loss when the prediction is confidently wrong, a line "
                      "fitted with MSE, L1 and smooth-L1 to data with outliers, and KL divergence against "
                      "soft-target cross-entropy.",
        },
        "zh": {
            "title": "常见的损失函数有哪些？各用在哪里？",
            "claim": "常见损失与任务一一对应：回归用平方损失，分类用交叉熵，支持向量机用 hinge 损失，"
                     "CART 回归树按残差平方和生长。",
            "method": "每种搭配在各自的任务上测量：用 Adam 按平方损失对干净的带噪点拟合一条直线；在一个小的 MNIST "
                      "子集上用交叉熵和 softmax 上的 MSE 分别训练同一个 MLP；用多类 hinge 损失和交叉熵分别训练同一个"
                      "线性分类器；在带噪声的台阶函数上按残差平方和选出回归树桩的分裂点。",
            "beyond": "超出原文的部分：原文没有列出的损失（focal、smooth-L1/Huber、KL 散度）、各分类损失在“自信地"
                      "预测错”时对 logits 的梯度、用 MSE、L1 和 smooth-L1 对含离群点数据拟合直线，以及 KL 散度与"
                      "软标签交叉熵的比较。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "val_acc_{m}_{l}": {"en": "val accuracy, {m}, {l}", "zh": "验证准确率（{m}，{l}）"},
        "grad_at_margin_12_{l}": {"en": "||dL/dz|| at margin 12, {l}", "zh": "间隔为 12 时的 ||dL/dz||（{l}）"},
        "kl_ce_grad_diff": {"en": "KL vs cross-entropy, gradient difference", "zh": "KL 与交叉熵的梯度差"},
        "kl_ce_value_gap_minus_entropy": {"en": "KL vs cross-entropy, value gap minus entropy",
                                          "zh": "KL 与交叉熵的值差减去熵"},
    }
    terms = {
        "linear": {"en": "linear model", "zh": "线性模型"},
        "cross_entropy": {"en": "cross-entropy", "zh": "交叉熵"},
        "mse_softmax": {"en": "MSE on softmax", "zh": "softmax 上的均方误差"},
        "hinge": {"en": "hinge", "zh": "合页损失"},
        "focal": {"en": "focal", "zh": "Focal 损失"},
    }

    def measure(self, ctx: Context) -> Result:
        figs: dict[str, Figure] = {}
        beyond: dict[str, Figure] = {}
        grads = {n: np.array([logit_grad_norm(f, m) for m in MARGINS]) for n, f in CLASS_LOSSES.items()}
        for n in CLASS_LOSSES:
            beyond[f"grad_at_margin_12_{n}"] = Figure(grads[n][-1], "||dL/dz||")
        # 1. squared loss for regression: a clean line
        m = ctx.pick(200, 1000, tiny=100)
        steps = ctx.pick(200, 1000)
        x = ctx.rng.uniform(-3, 3, m)
        y_clean = 2 * x + 1 + 0.3 * ctx.rng.standard_normal(m)
        w, b = fit_line(x, y_clean, "mse", steps)
        figs["line_err_mse_clean"] = Figure(float(np.hypot(w - 2, b - 1)), "", {
            "en": "distance of the MSE fit's (slope, intercept) from (2, 1), clean data",
            "zh": "MSE 拟合的（斜率，截距）与 (2, 1) 的距离，干净数据"})
        # 2. cross-entropy for classification (MLP) and 3. hinge for a linear classifier (SVM)
        data = load_data("mnist_sample", ctx.pick(500, 2000, tiny=100), ctx.pick(500, 1000, tiny=100), ctx.rng)
        epochs = ctx.pick(10, 30, tiny=1)
        acc_rows, curves = [], {}
        for (arch, n), res in self._classifiers(ctx, data, epochs).items():
            figs[f"val_acc_{arch}_{n}"] = Figure(res.val_acc, "accuracy")
            acc_rows.append([arch, n, res.train_acc, res.val_acc])
            curves[f"{arch}, {n}"] = res.curve("val_acc")
        # 4. CART's squared-residual split on a noisy step
        xs = ctx.rng.uniform(-3, 3, m)
        ys = np.where(xs > STEP, 1.0, -1.0) + 0.3 * ctx.rng.standard_normal(m)
        split = best_split(xs, ys)
        figs["split_err"] = Figure(abs(split - STEP), "", {"en": "distance of the stump's split from the true step",
                                                          "zh": "树桩分裂点与真实台阶的距离"})
        # beyond: regression under outliers
        y = y_clean.copy()
        out = ctx.rng.choice(m, m // 10, replace=False)
        y[out] += 20.0
        reg_rows, fits = [], {}
        for n in REG_LOSSES:
            w, b = fit_line(x, y, n, steps)
            err = float(np.hypot(w - 2, b - 1))
            fits[n] = (w, b)
            beyond[f"line_err_{n}"] = Figure(err, "", {"en": f"distance of (slope, intercept) from (2, 1), {n}",
                                                       "zh": f"（斜率，截距）与 (2, 1) 的距离，{n}"})
            reg_rows.append([n, w, b, err])
        # beyond: KL vs soft-target cross-entropy
        grad_diff, gap_minus_entropy = self._kl_vs_cross_entropy(ctx.rng)
        beyond["kl_ce_grad_diff"] = Figure(grad_diff, "absolute")
        beyond["kl_ce_value_gap_minus_entropy"] = Figure(gap_minus_entropy, "absolute")
        return Result(figures=figs, beyond=beyond, tables=[
            Table("classification", ["model", "loss", "train acc", "val acc"], acc_rows,
                  {"en": f"MLP 784-128-10 and linear 784-10, {len(data.y_train)} MNIST images, {epochs} epochs of "
                         f"Adam (lr 1e-3), same seed.",
                   "zh": f"MLP 784-128-10 与线性 784-10，{len(data.y_train)} 张 MNIST 图像，Adam 训练 {epochs} 轮"
                         f"（学习率 1e-3），同一随机种子。"}),
        ], beyond_tables=[
            Table("gradients", ["loss", "||dL/dz|| at margin 0", "||dL/dz|| at margin 12"],
                  [[n, g[0], g[-1]] for n, g in grads.items()],
                  {"en": "Logit gradient for one example whose wrong class's logit leads by the margin.",
                   "zh": "某个错误类别的 logit 领先给定 margin 时，单个样本对 logits 的梯度。"}),
            Table("regression", ["loss", "slope", "intercept", "error"], reg_rows,
                  {"en": f"y = 2x + 1 + noise, {m} points, {m // 10} shifted up by 20.",
                   "zh": f"y = 2x + 1 + 噪声，共 {m} 个点，其中 {m // 10} 个向上平移 20。"})],
            series={"grads": grads, "curves": curves, "x": x, "y": y, "outliers": out, "fits": fits})

    @staticmethod
    def _classifiers(ctx: Context, data: Any, epochs: int) -> dict[tuple[str, str], Any]:
        """An MLP 784-128-10 trained with cross-entropy and with MSE on the softmax, a linear 784-10 classifier
        with cross-entropy and with the multi-class hinge (Adam, lr 1e-3, the same seed each): the fit results
        by ``(architecture, loss)``."""
        out = {}
        for arch, n in (("mlp", "cross_entropy"), ("mlp", "mse_softmax"), ("linear", "cross_entropy"),
                        ("linear", "hinge")):
            cp.manual_seed(ctx.seed)
            hidden = [nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)] if arch == "mlp" else [nn.Linear(784, 10)]
            model = nn.Sequential(nn.Flatten(), *hidden)
            out[arch, n] = fit(model, data, epochs, np.random.default_rng(ctx.seed), lr=1e-3, loss_fn=CLASS_LOSSES[n])
            ctx.progress.update()
        return out

    @classmethod
    def _kl_vs_cross_entropy(cls, rng: np.random.Generator) -> tuple[float, float]:
        """KL(q || softmax(z)) against the soft-target cross-entropy H(q, softmax(z)) on random (8, 10) logits
        and targets: the largest difference of their logit gradients (0 in theory) and
        ``|(H - KL) - H(q)|`` (0 in theory: the two differ by the targets' entropy alone)."""
        z = rng.standard_normal((8, 10))
        q = np.exp(rng.standard_normal((8, 10)))
        q /= q.sum(1, keepdims=True)
        gk, vk = cls._grad(lambda t: F.kl_div(F.log_softmax(t, 1), cp.tensor(q), reduction="batchmean"), z)
        gc, vc = cls._grad(lambda t: -(cp.tensor(q) * F.log_softmax(t, 1)).sum() / 8, z)
        entropy = float(-(q * np.log(q)).sum() / 8)
        return float(np.abs(gk - gc).max()), abs((vc - vk) - entropy)

    @staticmethod
    def _grad(fn: Callable[[cp.Tensor], cp.Tensor], z: np.ndarray) -> tuple[np.ndarray, float]:
        t = cp.Tensor(z.copy(), requires_grad=True)
        v = fn(t)
        v.backward()
        assert t.grad is not None  # (it requires grad and feeds the loss)
        return t.grad.data, float(v.data)

    def draw(self, res: Result, ctx: Context) -> None:
        grads, curves, x, y, out, fits = (res.series[k] for k in ("grads", "curves", "x", "y", "outliers", "fits"))
        fig, axes = ctx.figure(1, 3, size=(13, 3.6))
        for n, g in grads.items():
            axes[0].semilogy(MARGINS, np.maximum(g, 1e-12), label=n)
        axes[0].set_xlabel("margin of the wrong class's logit")
        axes[0].set_ylabel("||dL/dz||")
        axes[0].set_title("Gradient when confidently wrong")
        axes[0].legend(fontsize=7)
        for n, c in curves.items():
            axes[1].plot(np.arange(1, len(c) + 1), c, label=n)
        axes[1].set_xlabel("epoch")
        axes[1].set_ylabel("validation accuracy")
        axes[1].set_title("Classification losses")
        axes[1].legend(fontsize=7)
        inl = np.setdiff1d(np.arange(len(x)), out)
        axes[2].plot(x[inl], y[inl], ".", ms=3, color="0.5", label="data")
        axes[2].plot(x[out], y[out], "x", ms=4, color="k", label="outliers")
        xs = np.array([-3, 3])
        for n, (w, b) in fits.items():
            axes[2].plot(xs, w * xs + b, label=f"{n}: {w:.2f}x + {b:.2f}")
        axes[2].set_xlabel("x")
        axes[2].set_ylabel("y")
        axes[2].set_title("Line fit with 10% outliers (truth 2x + 1)")
        axes[2].legend(fontsize=7, loc="lower right")
        gn = {n: fmt(v[-1]) for n, v in grads.items()}
        ctx.save_figure(fig, "losses", "Left: logit-gradient norm against how confidently wrong the prediction is "
                        f"(at margin 12: cross-entropy {gn['cross_entropy']}, MSE on the softmax {gn['mse_softmax']}). "
                        "Middle: validation accuracy per epoch with each classification loss. Right: lines fitted "
                        "with three regression losses to data with outliers.",
                        "左：logits 梯度范数随“自信地预测错”的程度变化（margin 12 时交叉熵为 "
                        f"{gn['cross_entropy']}，softmax 上的 MSE 为 {gn['mse_softmax']}）。中：各分类损失每轮的验证"
                        "准确率。右：用三种回归损失对含离群点数据拟合的直线。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        le, sp = figures["line_err_mse_clean"], figures["split_err"]
        ace, amse = figures["val_acc_mlp_cross_entropy"], figures["val_acc_mlp_mse_softmax"]
        alce, alh = figures["val_acc_linear_cross_entropy"], figures["val_acc_linear_hinge"]
        d = thresholds["max_acc_deficit"]
        oks = {"mse": le <= thresholds["max_line_err"], "ce": amse - ace <= d, "hinge": alce - alh <= d,
               "cart": sp <= thresholds["max_split_err"]}
        yes = {True: "holds", False: "fails"}
        shi = {True: "成立", False: "不成立"}
        return verdict_if(all(oks.values()), nuanced=any(oks.values())), evidence(
            en=f"Squared loss for regression {yes[oks['mse']]}: the fitted line is {fmt(le)} from the true one (at "
               f"most {fmt(thresholds['max_line_err'])}). Cross-entropy for classification {yes[oks['ce']]}: the "
               f"MLP reaches {fmt(ace)} validation accuracy with it vs {fmt(amse)} with MSE on the softmax (at most "
               f"{fmt(d)} behind). Hinge loss for an SVM {yes[oks['hinge']]}: the linear classifier reaches "
               f"{fmt(alh)} with it vs {fmt(alce)} with cross-entropy (at most {fmt(d)} behind). CART's "
               f"squared-residual split {yes[oks['cart']]}: it lands {fmt(sp)} from the true step (at most "
               f"{fmt(thresholds['max_split_err'])}).",
            zh=f"回归用平方损失{shi[oks['mse']]}：拟合直线与真实直线相距 {fmt(le)}（上限 "
               f"{fmt(thresholds['max_line_err'])}）。分类用交叉熵{shi[oks['ce']]}：MLP 用它的验证准确率为 "
               f"{fmt(ace)}，用 softmax 上的 MSE 为 {fmt(amse)}（最多落后 {fmt(d)}）。SVM 用 hinge 损失"
               f"{shi[oks['hinge']]}：线性分类器用它为 {fmt(alh)}，用交叉熵为 {fmt(alce)}（最多落后 {fmt(d)}）。"
               f"CART 按残差平方和分裂{shi[oks['cart']]}：分裂点离真实台阶 {fmt(sp)}（上限 "
               f"{fmt(thresholds['max_split_err'])}）。")

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        gce, gmse = beyond["grad_at_margin_12_cross_entropy"], beyond["grad_at_margin_12_mse_softmax"]
        emse, el1, esl1 = beyond["line_err_mse"], beyond["line_err_l1"], beyond["line_err_smooth_l1"]
        kl = beyond["kl_ce_grad_diff"]
        return {"en": f"Confidently wrong (margin 12), the logit gradient is {fmt(gce)} for cross-entropy and "
                      f"{fmt(gmse)} for MSE on the softmax. With 10% outliers the fitted line is {fmt(emse)} off "
                      f"with MSE, {fmt(el1)} with L1 and {fmt(esl1)} with smooth-L1. KL divergence and soft-target "
                      f"cross-entropy differ in gradient by at most {fmt(kl)}.",
                "zh": f"自信地预测错时（margin 12），交叉熵对 logits 的梯度为 {fmt(gce)}，softmax 上的 MSE 为 "
                      f"{fmt(gmse)}。有 10% 离群点时，拟合直线的偏差用 MSE 为 {fmt(emse)}，用 L1 为 {fmt(el1)}，"
                      f"用 smooth-L1 为 {fmt(esl1)}。KL 散度与软标签交叉熵的梯度最大相差 {fmt(kl)}。"}
