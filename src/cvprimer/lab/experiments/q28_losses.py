"""Question 28: which loss functions are common, and where does each belong?

Measured on our engine:

- classification, MSE vs cross-entropy: the gradient with respect to the logits when the network is
  confidently wrong (softmax saturated on a wrong class, logit margin m = 0 ... 12), by autograd; and the
  validation accuracy of one MLP trained on a small MNIST subset with cross-entropy, MSE on the softmax
  output, the multi-class hinge loss and the focal loss;
- regression under outliers: a line fitted by gradient descent with MSE, L1 and smooth-L1 (= Huber with
  delta 1) to points of which 10% were shifted far off; the error of the fitted slope and intercept;
- KL divergence vs cross-entropy with soft targets (distillation): the values differ by the targets'
  entropy, a constant, so the gradients are identical (checked by autograd).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn, optim
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

MARGINS = np.arange(0, 12.5, 0.5)
REG_LOSSES = ("mse", "l1", "smooth_l1")  # Huber with delta 1 equals smooth-L1 with beta 1


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
    return float(np.linalg.norm(t.grad.data))


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
    thresholds = {"min_grad_ratio": 10.0, "max_acc_deficit": 0.03, "min_robust_ratio": 3.0}
    text = {
        "en": {
            "title": "Loss functions: cross-entropy for classes, squared error for clean regression targets",
            "claim": "The common losses are the squared loss for prediction (regression), cross-entropy for "
                     "classification, the hinge loss of support vector machines and the residual loss of CART "
                     "regression trees.",
            "method": "By autograd, the logit gradient of cross-entropy, MSE on the softmax, hinge and focal loss "
                      "for a confidently wrong prediction; the validation accuracy of one MLP trained on a small "
                      "MNIST subset with each; a line fitted with MSE, L1 and smooth-L1 (Huber) to data with 10% "
                      "outliers; KL divergence against soft-target cross-entropy.",
        },
        "zh": {
            "title": "损失函数：分类用交叉熵，目标干净的回归用平方误差",
            "claim": "常见的损失函数有：平方损失（用于回归预测）、交叉熵（用于分类）、支持向量机的 hinge 损失，"
                     "以及 CART 回归树的残差损失。",
            "method": "用自动微分计算交叉熵、softmax 上的 MSE、hinge 和 focal 损失在“自信地预测错”时对 logits "
                      "的梯度；在一个小的 MNIST 子集上用每种损失训练同一个 MLP 并比较验证准确率；"
                      "在含 10% 离群点的数据上分别用 MSE、L1 和 smooth-L1（即 Huber）拟合一条直线；"
                      "比较 KL 散度与软标签交叉熵。",
        },
    }

    def run(self, ctx: Context) -> Result:
        figs: dict[str, Figure] = {}
        grads = {n: np.array([logit_grad_norm(f, m) for m in MARGINS]) for n, f in CLASS_LOSSES.items()}
        for n in CLASS_LOSSES:
            figs[f"grad_at_margin_12_{n}"] = Figure(grads[n][-1], "||dL/dz||")
        # training with each classification loss
        data = load_data("mnist_sample", ctx.pick(500, 2000), ctx.pick(500, 1000), ctx.rng)
        epochs = ctx.pick(10, 30)
        acc_rows, curves = [], {}
        for n, f in CLASS_LOSSES.items():
            cp.manual_seed(ctx.seed)
            model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
            res = fit(model, data, epochs, np.random.default_rng(ctx.seed), lr=1e-3, loss_fn=f)
            figs[f"val_acc_{n}"] = Figure(res.val_acc, "accuracy")
            acc_rows.append([n, grads[n][0], grads[n][-1], res.train_acc, res.val_acc])
            curves[n] = res.curve("val_acc")
            ctx.progress.update()
        # robust regression
        m = ctx.pick(200, 1000)
        x = ctx.rng.uniform(-3, 3, m)
        y = 2 * x + 1 + 0.3 * ctx.rng.standard_normal(m)
        out = ctx.rng.choice(m, m // 10, replace=False)
        y[out] += 20.0
        reg_rows, fits = [], {}
        for n in REG_LOSSES:
            w, b = fit_line(x, y, n, ctx.pick(200, 1000))
            err = float(np.hypot(w - 2, b - 1))
            fits[n] = (w, b)
            figs[f"line_err_{n}"] = Figure(err, "", {"en": f"distance of (slope, intercept) from (2, 1), {n}",
                                                     "zh": f"（斜率，截距）与 (2, 1) 的距离，{n}"})
            reg_rows.append([n, w, b, err])
        # KL vs soft-target cross-entropy
        z = ctx.rng.standard_normal((8, 10))
        q = np.exp(ctx.rng.standard_normal((8, 10)))
        q /= q.sum(1, keepdims=True)
        gk, vk = self._grad(lambda t: F.kl_div(F.log_softmax(t, 1), cp.tensor(q), reduction="batchmean"), z)
        gc, vc = self._grad(lambda t: -(cp.tensor(q) * F.log_softmax(t, 1)).sum() / 8, z)
        entropy = float(-(q * np.log(q)).sum() / 8)
        figs["kl_ce_grad_diff"] = Figure(float(np.abs(gk - gc).max()), "absolute")
        figs["kl_ce_value_gap_minus_entropy"] = Figure(abs((vc - vk) - entropy), "absolute")
        self._plot(ctx, grads, curves, x, y, out, fits)
        usage = [
            ["cross-entropy", "classification (softmax outputs)", "large gradient when confidently wrong"],
            ["binary cross-entropy", "multi-label, detection objectness, segmentation masks", "per-output sigmoid"],
            ["focal", "dense detection with many easy negatives (RetinaNet)", "down-weights easy examples"],
            ["hinge / multi-margin", "SVMs, margin-based classifiers", "zero loss beyond the margin"],
            ["MSE (L2)", "regression with clean, Gaussian-like noise", "outliers dominate it"],
            ["L1", "robust regression, median estimates", "constant gradient, kink at 0"],
            ["smooth-L1 / Huber", "box regression (Fast/Faster R-CNN)", "L2 near 0, L1 for large errors"],
            ["KL divergence", "distillation, VAEs, matching distributions", "= soft-target CE minus a constant"],
        ]
        return Result(figures=figs, tables=[
            Table("classification", ["loss", "||dL/dz|| at margin 0", "||dL/dz|| at margin 12", "train acc",
                                     "val acc"], acc_rows,
                  {"en": f"MLP 784-128-10, {len(data.y_train)} MNIST images, {epochs} epochs of Adam, same seed.",
                   "zh": f"MLP 784-128-10，{len(data.y_train)} 张 MNIST 图像，Adam 训练 {epochs} 轮，同一随机种子。"}),
            Table("regression", ["loss", "slope", "intercept", "error"], reg_rows,
                  {"en": f"y = 2x + 1 + noise, {m} points, {m // 10} shifted up by 20.",
                   "zh": f"y = 2x + 1 + 噪声，共 {m} 个点，其中 {m // 10} 个向上平移 20。"}),
            Table("usage", ["loss", "used for", "property"], usage,
                  {"en": "Where each loss is used.", "zh": "各损失函数的典型用途。"})])

    @staticmethod
    def _grad(fn: Callable[[cp.Tensor], cp.Tensor], z: np.ndarray) -> tuple[np.ndarray, float]:
        t = cp.Tensor(z.copy(), requires_grad=True)
        v = fn(t)
        v.backward()
        return t.grad.data, float(v.data)

    @staticmethod
    def _plot(ctx: Context, grads: Mapping[str, np.ndarray], curves: Mapping[str, np.ndarray], x: np.ndarray,
              y: np.ndarray, out: np.ndarray, fits: Mapping[str, tuple[float, float]]) -> None:
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
        axes[1].set_title("Same MLP, four classification losses")
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
        ctx.save_figure(fig, "losses", "Left: logit-gradient norm against how confidently wrong the prediction is; "
                        "cross-entropy keeps a gradient near 1.4, MSE on the softmax decays towards zero. Middle: "
                        "validation accuracy per epoch with each classification loss. Right: lines fitted with three "
                        "regression losses to data with outliers.",
                        "左：logits 梯度范数随“自信地预测错”的程度变化；交叉熵的梯度保持在约 1.4，softmax 上的 "
                        "MSE 则衰减到接近零。中：各分类损失每轮的验证准确率。右：用三种回归损失对含离群点数据"
                        "拟合的直线。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        gce, gmse = figures["grad_at_margin_12_cross_entropy"], figures["grad_at_margin_12_mse_softmax"]
        ace, amse = figures["val_acc_cross_entropy"], figures["val_acc_mse_softmax"]
        emse, esl1 = figures["line_err_mse"], figures["line_err_smooth_l1"]
        kl = figures["kl_ce_grad_diff"]
        grad_ok = gce >= thresholds["min_grad_ratio"] * gmse
        acc_ok = ace >= amse - thresholds["max_acc_deficit"]
        fragile = emse >= thresholds["min_robust_ratio"] * esl1
        ce_right = grad_ok and acc_ok
        ce_en = (": cross-entropy for classification holds (MSE can train about as well from a good start, but "
                 "it stops learning from confidently wrong examples)" if ce_right else
                 ": cross-entropy shows no clear edge here")
        ce_zh = ("：分类用交叉熵成立（MSE 从好的起点出发也能训练得差不多，但对自信地预测错的样本几乎学不到东西）"
                 if ce_right else "：这里交叉熵没有明显优势")
        verdict = CONFIRMED if ce_right and not fragile else NUANCED if ce_right else REFUTED
        return verdict, evidence(
            en=f"Confidently wrong (margin 12), cross-entropy's logit gradient is {fmt(gce)} while MSE on the "
               f"softmax gives {fmt(gmse)} ({fmt(gce / max(gmse, 1e-300))}x; {fmt(thresholds['min_grad_ratio'])}x "
               f"required), and the MLP reaches {fmt(ace)} validation accuracy with cross-entropy vs {fmt(amse)} "
               f"with MSE (at most {fmt(thresholds['max_acc_deficit'])} behind allowed){ce_en}. The squared loss "
               f"for regression is right only for clean targets: with 10% "
               f"outliers its line is {fmt(emse)} off vs {fmt(esl1)} for smooth-L1 ({fmt(emse / max(esl1, 1e-300))}x"
               f"; {fmt(thresholds['min_robust_ratio'])}x marks it fragile). KL divergence and soft-target "
               f"cross-entropy have the same gradient (max difference {fmt(kl)}). The seed's list omits focal, "
               f"smooth-L1/Huber, binary cross-entropy and KL, all in daily use.",
            zh=f"自信地预测错时（margin 12），交叉熵对 logits 的梯度为 {fmt(gce)}，softmax 上的 MSE 只有 {fmt(gmse)}"
               f"（{fmt(gce / max(gmse, 1e-300))} 倍；要求 {fmt(thresholds['min_grad_ratio'])} 倍）；MLP 用交叉熵"
               f"验证准确率 {fmt(ace)}，用 MSE 为 {fmt(amse)}（允许落后至多 {fmt(thresholds['max_acc_deficit'])}）"
               f"{ce_zh}。平方损失只适合目标干净的回归：有 10% 离群点时，它拟合的直线偏差为 "
               f"{fmt(emse)}，smooth-L1 为 {fmt(esl1)}（{fmt(emse / max(esl1, 1e-300))} 倍；"
               f"{fmt(thresholds['min_robust_ratio'])} 倍即视为不稳健）。KL 散度与软标签交叉熵的梯度相同"
               f"（最大差 {fmt(kl)}）。原答案的列表遗漏了 focal、smooth-L1/Huber、二元交叉熵和 KL，"
               f"这些都很常用。")
