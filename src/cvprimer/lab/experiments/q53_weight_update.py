r"""Question 53: how a deep network's weights are updated, one step written out.

A two-layer network (Linear 3->4, tanh, Linear 4->2, mean squared error) on four samples in float64. The forward
pass, the loss, the local gradients of each layer and the update are computed by hand in NumPy and set beside
what our autograd and optimizers did: plain SGD (theta <- theta - lr g), SGD with momentum (PyTorch's form:
b_1 = g_1, b_t = mu b_{t-1} + g_t, theta <- theta - lr b_t, two steps) and Adam (m_t, v_t, the bias correction
m_t / (1 - beta1^t), v_t / (1 - beta2^t); two steps). Every number must agree to float64 round-off.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn, optim
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

NAMES = ("W1", "b1", "W2", "b2")


def hand_grads(x: np.ndarray, t: np.ndarray, p: Mapping[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """Loss and gradients of mean((tanh(x W1^T + b1) W2^T + b2 - t)^2), by the chain rule."""
    z1 = x @ p["W1"].T + p["b1"]
    a = np.tanh(z1)
    out = a @ p["W2"].T + p["b2"]
    loss = float(np.mean((out - t) ** 2))
    g_out = 2 * (out - t) / out.size          # d mean(e^2) / d out
    g_a = g_out @ p["W2"]
    g_z1 = g_a * (1 - a * a)                  # tanh' = 1 - tanh^2
    return loss, {"W2": g_out.T @ a, "b2": g_out.sum(0), "W1": g_z1.T @ x, "b1": g_z1.sum(0)}


def _model(p: Mapping[str, np.ndarray]) -> nn.Sequential:
    m = nn.Sequential(nn.Linear(3, 4, dtype=cp.float64), nn.Tanh(), nn.Linear(4, 2, dtype=cp.float64))
    for lin, w, b in ((m[0], "W1", "b1"), (m[2], "W2", "b2")):
        lin.weight.data[...] = p[w]
        lin.bias.data[...] = p[b]
    return m


def _params(m: nn.Sequential) -> dict[str, Any]:
    return {"W1": m[0].weight, "b1": m[0].bias, "W2": m[2].weight, "b2": m[2].bias}


def _step(m: nn.Sequential, opt: optim.Optimizer, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    opt.zero_grad()
    F.mse_loss(m(cp.tensor(x)), cp.tensor(t)).backward()
    grads = {k: v.grad.data.copy() for k, v in _params(m).items()}
    opt.step()
    return grads


def _diff(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> float:
    return max(float(np.abs(np.asarray(a[k]) - np.asarray(b[k])).max()) for k in NAMES)


class WeightUpdate(Experiment):
    id = "q53-weight-update"
    questions = (53,)
    topic = "optimization"
    stochastic = False
    thresholds = {"tol": 1e-12}
    text = {
        "en": {
            "title": "How a network's weights are updated: one step by hand next to the optimizer",
            "claim": "A DNN's weights are updated by gradient descent: backpropagation gives dL/dW for every layer "
                     "and each weight moves against its gradient, scaled by the learning rate (with momentum or "
                     "Adam, by a running average of gradients instead of the raw one).",
            "method": "A two-layer net (Linear 3->4, tanh, Linear 4->2, MSE) on four samples in float64. Forward "
                      "values, loss, local gradients and updates are computed by hand and compared with autograd "
                      "and with optim.SGD, SGD with momentum 0.9 (buffers after two steps) and Adam (exp_avg, "
                      "exp_avg_sq and the bias-corrected update after steps 1 and 2).",
        },
        "zh": {
            "title": "网络权重如何更新：手算一步，与优化器并排对照",
            "claim": "DNN 的权重通过梯度下降更新：反向传播给出每层的 dL/dW，每个权重沿梯度的反方向移动，"
                     "步长由学习率决定（使用动量或 Adam 时，用梯度的滑动平均代替原始梯度）。",
            "method": "在 float64 下用四个样本训练一个两层网络（Linear 3->4、tanh、Linear 4->2、均方误差）。"
                      "手工计算前向值、损失、局部梯度与更新量，并与自动微分以及 optim.SGD、动量 0.9 的 SGD"
                      "（两步后的动量缓存）和 Adam（第 1、2 步后的 exp_avg、exp_avg_sq 及偏差校正后的更新）对比。",
        },
    }

    def run(self, ctx: Context) -> Result:
        rng = ctx.rng
        x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
        p0 = {"W1": rng.normal(0, 0.6, (4, 3)), "b1": rng.normal(0, 0.1, 4), "W2": rng.normal(0, 0.6, (2, 4)),
              "b2": rng.normal(0, 0.1, 2)}
        lr, mu, (b1, b2), eps = 0.1, 0.9, (0.9, 0.999), 1e-8
        loss0, g1 = hand_grads(x, t, p0)

        m = _model(p0)  # plain SGD, one step
        auto_g = _step(m, optim.SGD(m.parameters(), lr=lr), x, t)
        sgd_hand = {k: p0[k] - lr * g1[k] for k in NAMES}
        sgd_opt = {k: v.data for k, v in _params(m).items()}
        loss1 = hand_grads(x, t, sgd_hand)[0]

        m = _model(p0)  # momentum, two steps
        opt = optim.SGD(m.parameters(), lr=lr, momentum=mu)
        _step(m, opt, x, t)
        buf1 = dict(g1)
        p1 = {k: p0[k] - lr * buf1[k] for k in NAMES}
        g2 = hand_grads(x, t, p1)[1]
        _step(m, opt, x, t)
        buf2 = {k: mu * buf1[k] + g2[k] for k in NAMES}
        mom_hand = {k: p1[k] - lr * buf2[k] for k in NAMES}
        prm = _params(m)
        e_mom = max(_diff(mom_hand, {k: v.data for k, v in prm.items()}),
                    _diff(buf2, {k: opt.state[v]["momentum_buffer"] for k, v in prm.items()}))

        m = _model(p0)  # Adam, two steps
        opt = optim.Adam(m.parameters(), lr=lr, betas=(b1, b2), eps=eps)
        prm = _params(m)
        mh = {k: (1 - b1) * g1[k] for k in NAMES}
        vh = {k: (1 - b2) * g1[k] ** 2 for k in NAMES}
        _step(m, opt, x, t)
        a1 = {k: p0[k] - lr * (mh[k] / (1 - b1)) / (np.sqrt(vh[k] / (1 - b2)) + eps) for k in NAMES}
        e_adam1 = max(_diff(mh, {k: opt.state[v]["exp_avg"] for k, v in prm.items()}),
                      _diff(vh, {k: opt.state[v]["exp_avg_sq"] for k, v in prm.items()}),
                      _diff(a1, {k: v.data for k, v in prm.items()}))
        step1 = np.concatenate([np.abs(a1[k] - p0[k]).ravel() for k in NAMES]) / lr
        ga = hand_grads(x, t, a1)[1]
        mh = {k: b1 * mh[k] + (1 - b1) * ga[k] for k in NAMES}
        vh = {k: b2 * vh[k] + (1 - b2) * ga[k] ** 2 for k in NAMES}
        c1, c2 = 1 - b1 ** 2, math.sqrt(1 - b2 ** 2)
        a2 = {k: a1[k] - lr * (mh[k] / c1) / (np.sqrt(vh[k]) / c2 + eps) for k in NAMES}
        _step(m, opt, x, t)
        e_adam2 = max(_diff(mh, {k: opt.state[v]["exp_avg"] for k, v in prm.items()}),
                      _diff(vh, {k: opt.state[v]["exp_avg_sq"] for k, v in prm.items()}),
                      _diff(a2, {k: v.data for k, v in prm.items()}))

        rows = []
        for i in range(p0["W2"].shape[1]):
            rows.append([f"W2[0,{i}]", p0["W2"][0, i], g1["W2"][0, i], sgd_hand["W2"][0, i], sgd_opt["W2"][0, i],
                         buf2["W2"][0, i], a1["W2"][0, i] - p0["W2"][0, i]])
        fig, ax = ctx.figure(1, 1, size=(7, 3.4))
        sgd_step = np.concatenate([np.abs(lr * g1[k]).ravel() for k in NAMES]) / lr
        idx = np.arange(len(step1))
        ax.bar(idx - 0.2, sgd_step, 0.4, label="SGD: |g| (step / lr)")
        ax.bar(idx + 0.2, step1, 0.4, label="Adam step 1: |m^/(sqrt(v^)+eps)|")
        ax.set_yscale("log")
        ax.set_xlabel("parameter index (W1, b1, W2, b2 flattened)")
        ax.set_ylabel("|update| / lr")
        ax.set_title("First update of each of the 26 parameters")
        ax.legend()
        ctx.save_figure(fig, "first_step", "Size of the first update of each parameter divided by the learning rate: "
                        "SGD moves each weight by its gradient, Adam's bias-corrected first step moves every weight by "
                        "almost exactly the learning rate.",
                        "每个参数第一次更新的幅度除以学习率：SGD 按各自的梯度移动，"
                        "Adam 经偏差校正后的第一步几乎把每个权重都移动恰好一个学习率。")
        return Result(
            figures={
                "err_grad_autograd": Figure(_diff(g1, auto_g), "absolute"),
                "err_sgd": Figure(_diff(sgd_hand, sgd_opt), "absolute"),
                "err_momentum": Figure(e_mom, "absolute"),
                "err_adam_step1": Figure(e_adam1, "absolute"),
                "err_adam_step2": Figure(e_adam2, "absolute"),
                "loss_before": Figure(loss0, "MSE"),
                "loss_after_sgd": Figure(loss1, "MSE"),
                "adam_step1_min_over_lr": Figure(float(step1.min()), "ratio"),
                "adam_step1_max_over_lr": Figure(float(step1.max()), "ratio"),
            },
            tables=[Table("one_step", ["weight", "theta_0", "dL/dtheta (hand)", "SGD theta_1 (hand)",
                                       "SGD theta_1 (optim.SGD)", "momentum buffer after step 2",
                                       "Adam step 1 update"], rows,
                          {"en": f"One SGD step with lr = {lr} on the first row of W2, by hand and by the optimizer; "
                                 "then the momentum buffer after two steps and Adam's first update (about -lr times "
                                 "the sign of the gradient).",
                           "zh": f"学习率 {lr} 下 W2 第一行的一步 SGD，手算与优化器并列；以及两步后的动量缓存"
                                 "和 Adam 的第一次更新（约为 −lr 乘以梯度的符号）。"})])

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol = thresholds["tol"]
        errs = {k: figures[k] for k in ("err_grad_autograd", "err_sgd", "err_momentum", "err_adam_step1",
                                        "err_adam_step2")}
        worst = max(errs.values())
        down = figures["loss_after_sgd"] < figures["loss_before"]
        ok = worst <= tol and down
        lo, hi = fmt(figures["adam_step1_min_over_lr"], 7), fmt(figures["adam_step1_max_over_lr"], 7)
        return verdict_if(ok), evidence(
            en=f"The hand-computed gradients, the SGD step, the momentum buffers after two steps and Adam's "
               f"exp_avg, exp_avg_sq and parameters after steps 1 and 2 all equal the optimizers' (largest "
               f"difference {fmt(worst)}, tolerance {fmt(tol)}); the SGD step lowered the loss from "
               f"{fmt(figures['loss_before'])} to {fmt(figures['loss_after_sgd'])}. Adam's bias-corrected first step "
               f"moves every weight by {lo} to {hi} times the learning rate, whatever its gradient's size.",
            zh=f"手算的梯度、SGD 的一步、两步后的动量缓存，以及 Adam 第 1、2 步后的 exp_avg、exp_avg_sq "
               f"和参数，都与优化器的结果一致（最大差异 {fmt(worst)}，容差 {fmt(tol)}）；这一步 SGD 使损失从 "
               f"{fmt(figures['loss_before'])} 降到 {fmt(figures['loss_after_sgd'])}。Adam 经偏差校正的第一步"
               f"无论梯度大小，都把每个权重移动学习率的 {lo} 到 {hi} 倍。")
