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
from cvprimer.lab.plots import tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "SGD: |g| (step / lr)": "SGD：|g|（步长 / 学习率）",
    "parameter index (W1, b1, W2, b2 flattened)": "参数序号（W1、b1、W2、b2 展平）",
    "|update| / lr": "|更新量| / 学习率",
    "First update of each of the 26 parameters": "26 个参数各自的第一次更新",
})

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
    reasons = {"tol": {
        "en": "Theory: float64 round-off. The net's values are O(1) and each figure is a few dozen float64 operations "
              "(unit round-off 1.1e-16), so an exact implementation differs by ~1e-16 (measured: at most 5.6e-17); "
              "a wrong formula (a missing bias correction, a momentum buffer in another form) differs by 1e-3 or more.",
        "zh": "理论：float64 舍入误差。网络中的数值为 O(1) 量级，每个数只经过几十次 float64 运算（单位舍入 1.1e-16），"
              "正确实现的差异约为 1e-16（实测最多 5.6e-17）；公式错误（漏掉偏差校正、动量缓存的另一种写法）"
              "会差到 1e-3 以上。"}}
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "the gradient-descent update rule", "zh": "梯度下降的更新规则"}
    key_figure = "err_sgd"
    answer = {
        "confirmed": {
            "en": "Yes: w <- w - lr dL/dw, and the optimizer's step differed from the hand formula by "
                  "{err_sgd}; momentum and Adam replace the raw gradient by running averages and matched their "
                  "formulas too.",
            "zh": "是的：w <- w - lr dL/dw，优化器的更新与手写公式相差 {err_sgd}；"
                  "动量法和 Adam 用滑动平均代替原始梯度，也与各自的公式一致。"},
        "nuanced": {
            "en": "The plain step matched its formula (difference {err_sgd}), but a variant did not; write out "
                  "the momentum and Adam updates explicitly.",
            "zh": "普通更新与公式一致（差异 {err_sgd}），但某个变体不一致；"
                  "回答时要把动量法和 Adam 的更新式完整写出。"},
        "refuted": {
            "en": "The step did not match w - lr dL/dw here (difference {err_sgd}).",
            "zh": "这里的更新与 w - lr dL/dw 不一致（差异 {err_sgd}）。"},
    }
    text = {
        "en": {
            "title": "How are a network's weights updated from its gradients?",
            "claim": "Backpropagation yields dL/dW for every layer, and gradient descent then moves each weight "
                     "against its gradient, scaled by the learning rate: w <- w - lr dL/dw; variants such as "
                     "momentum or Adam replace the raw gradient by running averages of it.",
            "method": "A two-layer net (Linear 3->4, tanh, Linear 4->2, MSE) on four samples in float64. Forward "
                      "values, loss, local gradients and updates are computed by hand and compared with autograd "
                      "and with optim.SGD (one step; does the loss fall?), and, for the variants, SGD with momentum "
                      "0.9 (buffers after two steps) and Adam (exp_avg, exp_avg_sq and the bias-corrected update "
                      "after steps 1 and 2). The plain gradient step is the claim's core; the variants are the "
                      "settings it names beside it.",
            "beyond": "The size of Adam's first bias-corrected step relative to the learning rate, for every weight.",
        },
        "zh": {
            "title": "网络的权重如何根据梯度更新？",
            "claim": "反向传播求出每一层的 dL/dW，梯度下降再让每个权重沿梯度的反方向移动，步长由学习率决定："
                     "w <- w - lr dL/dw；动量、Adam 等变体用梯度的滑动平均代替原始梯度。",
            "method": "在 float64 下用四个样本训练一个两层网络（Linear 3->4、tanh、Linear 4->2、均方误差）。"
                      "手工计算前向值、损失、局部梯度与更新量，并与自动微分和 optim.SGD（一步；损失是否下降？）对比；"
                      "变体方面对比动量 0.9 的 SGD（两步后的动量缓存）和 Adam（第 1、2 步后的 exp_avg、exp_avg_sq "
                      "及偏差校正后的更新）。普通梯度下降一步是该说法的核心，变体是它同时提到的设置。",
            "beyond": "Adam 经偏差校正的第一步相对学习率的大小（逐个权重）。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "err_grad_autograd": {"en": "hand gradient vs autograd, error", "zh": "手算梯度与自动求导的误差"},
        "err_sgd": {"en": "hand SGD step vs optim.SGD, error", "zh": "手算 SGD 步与 optim.SGD 的误差"},
        "err_momentum": {"en": "hand momentum step vs optim.SGD, error", "zh": "手算动量步与 optim.SGD 的误差"},
        "err_adam_step{n}": {"en": "hand Adam step {n} vs optim.Adam, error",
                             "zh": "手算 Adam 第 {n} 步与 optim.Adam 的误差"},
        "loss_before": {"en": "loss before the step", "zh": "更新前的损失"},
        "loss_after_sgd": {"en": "loss after the SGD step", "zh": "SGD 更新后的损失"},
        "adam_step1_min_over_lr": {"en": "smallest Adam step-1 update / lr",
                                   "zh": "Adam 第 1 步更新量 / 学习率的最小值"},
        "adam_step1_max_over_lr": {"en": "largest Adam step-1 update / lr",
                                   "zh": "Adam 第 1 步更新量 / 学习率的最大值"},
    }

    def measure(self, ctx: Context) -> Result:
        rng = ctx.rng
        x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
        p0 = {"W1": rng.normal(0, 0.6, (4, 3)), "b1": rng.normal(0, 0.1, 4), "W2": rng.normal(0, 0.6, (2, 4)),
              "b2": rng.normal(0, 0.1, 2)}
        lr, mu, betas, eps = 0.1, 0.9, (0.9, 0.999), 1e-8
        loss0, g1 = hand_grads(x, t, p0)
        auto_g, sgd_hand, sgd_opt, loss1 = self._sgd(x, t, p0, g1, lr)
        buf2, e_mom = self._momentum(x, t, p0, g1, lr, mu)
        a1, e_adam1, e_adam2 = self._adam(x, t, p0, g1, lr, betas, eps)
        step1 = np.concatenate([np.abs(a1[k] - p0[k]).ravel() for k in NAMES]) / lr

        rows = []
        for i in range(p0["W2"].shape[1]):
            rows.append([f"W2[0,{i}]", p0["W2"][0, i], g1["W2"][0, i], sgd_hand["W2"][0, i], sgd_opt["W2"][0, i],
                         buf2["W2"][0, i], a1["W2"][0, i] - p0["W2"][0, i]])
        return Result(
            figures={
                "err_grad_autograd": Figure(_diff(g1, auto_g), "absolute"),
                "err_sgd": Figure(_diff(sgd_hand, sgd_opt), "absolute"),
                "err_momentum": Figure(e_mom, "absolute"),
                "err_adam_step1": Figure(e_adam1, "absolute"),
                "err_adam_step2": Figure(e_adam2, "absolute"),
                "loss_before": Figure(loss0, "MSE"),
                "loss_after_sgd": Figure(loss1, "MSE"),
            },
            beyond={
                "adam_step1_min_over_lr": Figure(float(step1.min()), "ratio"),
                "adam_step1_max_over_lr": Figure(float(step1.max()), "ratio"),
            },
            tables=[Table("one_step", ["weight", "theta_0", "dL/dtheta (hand)", "SGD theta_1 (hand)",
                                       "SGD theta_1 (optim.SGD)", "momentum buffer after step 2",
                                       "Adam step 1 update"], rows,
                          {"en": f"One SGD step with lr = {lr} on the first row of W2, by hand and by the optimizer; "
                                 "then the momentum buffer after two steps and Adam's first update.",
                           "zh": f"学习率 {lr} 下 W2 第一行的一步 SGD，手算与优化器并列；以及两步后的动量缓存"
                                 "和 Adam 的第一次更新。"})],
            # |update| / lr of each of the 26 parameters at the first step: SGD's (= |g|) and Adam's
            series={"sgd_step": np.concatenate([np.abs(lr * g1[k]).ravel() for k in NAMES]) / lr, "adam_step": step1})

    @staticmethod
    def _sgd(x: np.ndarray, t: np.ndarray, p0: dict[str, np.ndarray], g1: dict[str, np.ndarray], lr: float
             ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray], float]:
        """One plain SGD step ``theta - lr g`` by ``optim.SGD`` and by hand: autograd's gradients, the hand and the
        optimizer's new parameters, and the loss after the hand step."""
        m = _model(p0)
        auto_g = _step(m, optim.SGD(m.parameters(), lr=lr), x, t)
        sgd_hand = {k: p0[k] - lr * g1[k] for k in NAMES}
        sgd_opt = {k: v.data for k, v in _params(m).items()}
        return auto_g, sgd_hand, sgd_opt, hand_grads(x, t, sgd_hand)[0]

    @staticmethod
    def _momentum(x: np.ndarray, t: np.ndarray, p0: dict[str, np.ndarray], g1: dict[str, np.ndarray], lr: float,
                  mu: float) -> tuple[dict[str, np.ndarray], float]:
        """Two momentum steps (``b = mu b + g``, ``theta -= lr b``) by hand and by ``optim.SGD``: the hand buffer
        after step 2 and the largest difference in parameters or buffer."""
        m = _model(p0)
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
        return buf2, e_mom

    @staticmethod
    def _adam(x: np.ndarray, t: np.ndarray, p0: dict[str, np.ndarray], g1: dict[str, np.ndarray], lr: float,
              betas: tuple[float, float], eps: float) -> tuple[dict[str, np.ndarray], float, float]:
        """Two Adam steps by hand (bias-corrected moments) and by ``optim.Adam``: the hand parameters after step 1
        and the largest difference in moments or parameters after step 1 and after step 2."""
        b1, b2 = betas
        m = _model(p0)
        opt = optim.Adam(m.parameters(), lr=lr, betas=(b1, b2), eps=eps)
        prm = _params(m)
        mh = {k: (1 - b1) * g1[k] for k in NAMES}
        vh = {k: (1 - b2) * g1[k] ** 2 for k in NAMES}
        _step(m, opt, x, t)
        a1 = {k: p0[k] - lr * (mh[k] / (1 - b1)) / (np.sqrt(vh[k] / (1 - b2)) + eps) for k in NAMES}
        e_adam1 = max(_diff(mh, {k: opt.state[v]["exp_avg"] for k, v in prm.items()}),
                      _diff(vh, {k: opt.state[v]["exp_avg_sq"] for k, v in prm.items()}),
                      _diff(a1, {k: v.data for k, v in prm.items()}))
        ga = hand_grads(x, t, a1)[1]
        mh = {k: b1 * mh[k] + (1 - b1) * ga[k] for k in NAMES}
        vh = {k: b2 * vh[k] + (1 - b2) * ga[k] ** 2 for k in NAMES}
        c1, c2 = 1 - b1 ** 2, math.sqrt(1 - b2 ** 2)
        a2 = {k: a1[k] - lr * (mh[k] / c1) / (np.sqrt(vh[k]) / c2 + eps) for k in NAMES}
        _step(m, opt, x, t)
        e_adam2 = max(_diff(mh, {k: opt.state[v]["exp_avg"] for k, v in prm.items()}),
                      _diff(vh, {k: opt.state[v]["exp_avg_sq"] for k, v in prm.items()}),
                      _diff(a2, {k: v.data for k, v in prm.items()}))
        return a1, e_adam1, e_adam2

    def draw(self, res: Result, ctx: Context) -> None:
        sgd_step, step1 = res.series["sgd_step"], res.series["adam_step"]
        fig, ax = ctx.figure(1, 1, size=(7, 3.4))
        idx = np.arange(len(step1))
        ax.bar(idx - 0.2, sgd_step, 0.4, label="SGD: |g| (step / lr)")
        ax.bar(idx + 0.2, step1, 0.4, label="Adam step 1: |m^/(sqrt(v^)+eps)|")
        ax.set_yscale("log")
        ax.set_xlabel("parameter index (W1, b1, W2, b2 flattened)")
        ax.set_ylabel("|update| / lr")
        ax.set_title("First update of each of the 26 parameters")
        ax.legend()
        lo, hi = fmt(float(step1.min()), 7), fmt(float(step1.max()), 7)
        ctx.save_figure(fig, "first_step", "Size of the first update of each parameter divided by the learning rate: "
                        f"SGD moves each weight by its gradient; Adam's bias-corrected first step moved the weights "
                        f"by {lo} to {hi} times the learning rate.",
                        "每个参数第一次更新的幅度除以学习率：SGD 按各自的梯度移动；"
                        f"Adam 经偏差校正后的第一步把各权重移动了学习率的 {lo} 到 {hi} 倍。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol = thresholds["tol"]
        core = max(figures["err_grad_autograd"], figures["err_sgd"])
        var = max(figures["err_momentum"], figures["err_adam_step1"], figures["err_adam_step2"])
        down = figures["loss_after_sgd"] < figures["loss_before"]
        core_ok, var_ok = core <= tol and down, var <= tol
        l0, l1 = fmt(figures["loss_before"]), fmt(figures["loss_after_sgd"])
        en = (f"Backpropagation by hand and autograd, and the step w - lr dL/dw by hand and by optim.SGD, differ by "
              f"at most {fmt(core)} (tolerance {fmt(tol)}); the step {'lowered' if down else 'did not lower'} the "
              f"loss ({l0} -> {l1}). The variants (momentum buffers after two steps, Adam's moments and parameters "
              f"after steps 1 and 2) differ from the hand formulas by at most {fmt(var)}.")
        zh = (f"手算反向传播与自动微分、以及手算与 optim.SGD 的 w - lr dL/dw 一步，最大差异为 {fmt(core)}"
              f"（容差 {fmt(tol)}）；这一步{'使损失下降' if down else '没有使损失下降'}（{l0} -> {l1}）。"
              f"变体（两步后的动量缓存、Adam 第 1、2 步后的矩估计与参数）与手算公式的最大差异为 {fmt(var)}。")
        return verdict_if(core_ok and var_ok, nuanced=core_ok), evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        lo, hi = fmt(beyond["adam_step1_min_over_lr"], 7), fmt(beyond["adam_step1_max_over_lr"], 7)
        return {"en": f"Adam's bias-corrected first step moved every weight by {lo} to {hi} times the learning rate, "
                      f"whatever the size of its gradient (SGD's step is proportional to the gradient).",
                "zh": f"Adam 经偏差校正的第一步把每个权重移动了学习率的 {lo} 到 {hi} 倍，与梯度大小无关"
                      f"（SGD 的步长与梯度成正比）。"}
