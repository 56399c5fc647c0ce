r"""Question 37: why backpropagation, and its formulas derived by hand.

A small CNN (3x3 convolution with 3 filters -> ReLU -> 2x2 max-pool -> linear -> softmax cross-entropy) on real
8x8 digits, in float64. Its backward pass is written out layer by layer in NumPy from the chain rule (the local
gradient of each layer times the upstream gradient) and compared with our autograd, with central differences of
the hand-written forward, and with ``cp.gradcheck``; then plain gradient descent with the hand-derived gradients
(``STEPS`` steps, learning rate ``LR``) shows whether they adjust the weights so that the loss falls. Beyond the seed,
the cost argument for backpropagation: the time of one forward+backward pass against the 2P forward passes that
finite differences need for P parameters.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.lab.common import load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr, tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "Hand-derived gradients against two references": "手推梯度与两种参照的对比",
    "backprop\n(forward+backward)": "反向传播\n（前向 + 反向）",
    "finite differences\n(620 forwards)": "有限差分\n（620 次前向）",
})

PARAMS = ("W1", "b1", "W2", "b2")
STEPS, LR = 50, 0.1  # gradient descent with the hand-derived gradients


def forward(x: np.ndarray, y: np.ndarray, p: Mapping[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """The CNN's forward pass in plain NumPy; returns the mean cross-entropy and the saved intermediates."""
    n, k = x.shape[0], p["W1"].shape[-1]
    ho = x.shape[2] - k + 1
    # im2col: cols[n, h, w, i*k + j] = x[n, 0, h + i, w + j]
    cols = np.stack([x[:, 0, i:i + ho, j:j + ho] for i in range(k) for j in range(k)], axis=-1)
    z1 = np.einsum("nhwt,ct->nchw", cols, p["W1"].reshape(len(p["W1"]), -1)) + p["b1"][None, :, None, None]
    a1 = np.maximum(z1, 0.0)
    c, hp = a1.shape[1], ho // 2
    win = a1.reshape(n, c, hp, 2, hp, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, hp, hp, 4)  # 2x2 windows
    arg = win.argmax(-1)  # first maximum, as our max_pool2d
    p1 = np.take_along_axis(win, arg[..., None], -1)[..., 0]
    f = p1.reshape(n, -1)
    z2 = f @ p["W2"].T + p["b2"]
    m = z2.max(1, keepdims=True)
    logp = z2 - m - np.log(np.exp(z2 - m).sum(1, keepdims=True))
    loss = float(-logp[np.arange(n), y].mean())
    return loss, {"cols": cols, "z1": z1, "arg": arg, "f": f, "z2": z2, "logp": logp}


def backward(x: np.ndarray, y: np.ndarray, p: Mapping[str, np.ndarray], s: Mapping[str, np.ndarray]) \
        -> dict[str, np.ndarray]:
    """The chain rule, one layer at a time (``g_*`` is dL/d*); returns every parameter's and the input's gradient."""
    n = x.shape[0]
    prob = np.exp(s["logp"])
    g_z2 = prob.copy()
    g_z2[np.arange(n), y] -= 1.0
    g_z2 /= n                                           # softmax + mean cross-entropy: (p - y) / N
    g = {"W2": g_z2.T @ s["f"], "b2": g_z2.sum(0)}      # linear: dW = g^T f, db = sum over the batch
    g_f = g_z2 @ p["W2"]                                # ... and df = g W
    c, hp = s["z1"].shape[1], s["arg"].shape[2]
    g_p1 = g_f.reshape(n, c, hp, hp)                    # flatten: a reshape
    g_win = np.zeros((n, c, hp, hp, 4))
    np.put_along_axis(g_win, s["arg"][..., None], g_p1[..., None], -1)  # max-pool: route to the argmax
    g_a1 = g_win.reshape(n, c, hp, hp, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(s["z1"].shape)
    g_z1 = g_a1 * (s["z1"] > 0)                         # ReLU: pass where z > 0 (ReLU'(0) = 0)
    k = p["W1"].shape[-1]
    g["W1"] = np.einsum("nchw,nhwt->ct", g_z1, s["cols"]).reshape(p["W1"].shape)  # conv: correlate x with g
    g["b1"] = g_z1.sum((0, 2, 3))
    g_x = np.zeros_like(x)                              # conv input: scatter W back over each window
    ho = s["z1"].shape[2]
    for i in range(k):
        for j in range(k):
            g_x[:, 0, i:i + ho, j:j + ho] += np.einsum("nchw,c->nhw", g_z1, p["W1"][:, 0, i, j])
    g["x"] = g_x
    return g


def numeric(x: np.ndarray, y: np.ndarray, p: dict[str, np.ndarray], eps: float = 1e-6) -> dict[str, np.ndarray]:
    """Central differences (L(theta + eps) - L(theta - eps)) / 2 eps of the hand-written forward, per element."""
    out = {}
    for name in PARAMS:
        g = np.zeros_like(p[name])
        flat, gf = p[name].reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            hi = forward(x, y, p)[0]
            flat[i] = old - eps
            lo = forward(x, y, p)[0]
            flat[i] = old
            gf[i] = (hi - lo) / (2 * eps)
        out[name] = g
    return out


def _autograd(x: np.ndarray, y: np.ndarray, p: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    t = {k: cp.tensor(v, requires_grad=True) for k, v in p.items()}
    xt = cp.tensor(x, requires_grad=True)
    loss = _net(xt, t["W1"], t["b1"], t["W2"], t["b2"], cp.tensor(y))
    loss.backward()
    grads = {k: v.grad for k, v in t.items()} | {"x": xt.grad}
    return {k: g.data for k, g in grads.items() if g is not None}  # every one is set: all feed the loss


def _net(x: cp.Tensor, w1: cp.Tensor, b1: cp.Tensor, w2: cp.Tensor, b2: cp.Tensor, y: cp.Tensor) -> cp.Tensor:
    h = F.max_pool2d(F.relu(F.conv2d(x, w1, b1)), 2)
    return F.cross_entropy(F.linear(h.reshape(x.shape[0], -1), w2, b2), y)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


LAYERS = [  # layer, forward, local gradient (chain rule), gradient passed down
    ("softmax + CE", "L = -mean log softmax(z2)[y]", "dL/dz2 = (p - onehot(y)) / N", "g_z2"),
    ("linear", "z2 = f W2^T + b2", "dW2 = g_z2^T f; db2 = sum_n g_z2", "g_f = g_z2 W2"),
    ("flatten", "f = reshape(p1)", "identity", "g_p1 = reshape(g_f)"),
    ("max-pool 2x2", "p1 = max over each window", "1 at the (first) argmax, 0 elsewhere", "g_a1 = scatter(g_p1)"),
    ("ReLU", "a1 = max(z1, 0)", "1[z1 > 0]", "g_z1 = g_a1 * 1[z1 > 0]"),
    ("conv 3x3", "z1 = x (*) W1 + b1", "dW1 = x (*) g_z1; db1 = sum g_z1", "g_x = g_z1 full-conv rot180(W1)"),
]


class BackpropByHand(Experiment):
    id = "q37-backprop-by-hand"
    questions = (37,)
    topic = "optimization"
    stochastic = False
    thresholds = {"max_rel_err_autograd": 1e-10, "max_rel_err_numeric": 1e-6, "max_loss_ratio": 0.5}
    reasons = {
        "max_rel_err_autograd": {
            "en": "Round-off: the hand-written and the autograd gradients evaluate the same formulas in float64, so "
                  "they agree to about 1e-15; a wrong local gradient is off by a fraction of order 1.",
            "zh": "舍入误差：手写梯度与自动微分在 float64 下计算同样的公式，一致到约 1e-15；"
                  "局部梯度写错时相差 1 的量级。"},
        "max_rel_err_numeric": {
            "en": "Theory of central differences with eps 1e-6 in float64: truncation error of order eps^2 and "
                  "round-off of order 1e-16 / eps = 1e-10 of the loss, so agreement near 1e-9 is expected; 1e-6 "
                  "leaves three orders of magnitude of room and still catches any wrong formula.",
            "zh": "中心差分（eps 1e-6，float64）的理论误差：截断误差为 eps^2 量级，舍入误差约为损失的 "
                  "1e-16 / eps = 1e-10，预期一致到 1e-9 左右；1e-6 留出三个数量级的余量，仍能发现任何错误的公式。"},
        "max_loss_ratio": {
            "en": "Convention: 'minimises the loss' read as gradient descent with the hand-derived gradients at least "
                  "halving the training loss in 50 steps; a sign or factor error keeps it from falling.",
            "zh": "约定：把“使损失最小”理解为用手推梯度做 50 步梯度下降至少让训练损失减半；"
                  "符号或系数写错时损失降不下来。"},
    }
    reachable = ("confirmed", "refuted")
    key_term = {"en": "the chain rule and gradient checking", "zh": "链式法则与梯度检验"}
    key_figure = "max_rel_err_numeric"
    answer = {
        "confirmed": {
            "en": "Yes: the chain rule written by hand matched autograd and central differences (relative "
                  "error {max_rel_err_numeric}), and descending along it cut the loss to {loss_ratio} of its "
                  "start.",
            "zh": "是的：手写的链式法则与自动求导和中心差分一致（相对误差 {max_rel_err_numeric}），"
                  "沿它下降把损失降到初始的 {loss_ratio}。"},
        "refuted": {
            "en": "The hand-derived gradients or the descent failed here (relative error against central "
                  "differences {max_rel_err_numeric}); check the derivation with a gradient check.",
            "zh": "这里手推的梯度或下降过程不成立（与中心差分的相对误差 {max_rel_err_numeric}）；"
                  "应用梯度检验核对推导。"},
    }
    text = {
        "en": {
            "title": "Backpropagation written out by hand for a small CNN",
            "claim": "Backpropagation exists to adjust every connection weight so that the loss is minimised; its "
                     "formulas follow from the chain rule and can be derived by hand.",
            "method": "A 3x3 convolution (3 filters), ReLU, 2x2 max-pool, linear layer and softmax cross-entropy "
                      "on real 8x8 digits in float64 (jittered by 0.01 to break max-pool ties). The backward pass "
                      "is written in NumPy one layer at a time (table below) and compared with our autograd, with "
                      "central differences of the hand-written forward and with cp.gradcheck. Then 50 steps of plain "
                      "gradient descent (learning rate 0.1) with the hand-derived gradients on the same images show "
                      "whether they make the loss fall.",
            "beyond": "The cost argument for backpropagation: the time of one forward+backward pass against the 2P "
                      "forward passes that finite differences need for the P parameters.",
        },
        "zh": {
            "title": "手推一个小型 CNN 的反向传播",
            "claim": "反向传播的目的，是自动调整各连接的权重，使损失函数最小；它的公式由链式法则得到，"
                     "可以手工推导。",
            "method": "在真实的 8x8 digits 图像上（float64，加 0.01 的微小扰动以打破最大池化中的并列）"
                      "搭建 3x3 卷积（3 个卷积核）、ReLU、2x2 最大池化、全连接层和 softmax 交叉熵。"
                      "用 NumPy 逐层手写反向传播（见下表），与我们的自动微分、手写前向的中心差分"
                      "以及 cp.gradcheck 对比；再用手推梯度在同一批图像上做 50 步普通梯度下降（学习率 0.1），"
                      "看损失是否下降。",
            "beyond": "反向传播的计算代价：一次前向加反向的耗时，与有限差分为 P 个参数所需的 2P 次前向的耗时比较。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "loss": {"en": "loss", "zh": "损失"},
        "loss_ratio": {"en": "loss after / before the step", "zh": "更新后 / 更新前的损失"},
        "loss_diff_autograd": {"en": "loss difference, by hand vs autograd", "zh": "手算与自动求导的损失差"},
        "max_rel_err_autograd": {"en": "largest relative gradient error vs autograd",
                                 "zh": "与自动求导相比的最大相对梯度误差"},
        "max_rel_err_numeric": {"en": "largest relative gradient error vs central differences",
                                "zh": "与中心差分相比的最大相对梯度误差"},
        "gradcheck_passed": {"en": "gradient check passed", "zh": "梯度检查通过"},
        "n_params": {"en": "parameters", "zh": "参数量"},
        "speedup_vs_numeric": {"en": "speed-up of backprop over numerical gradients",
                               "zh": "反向传播相对数值梯度的加速比"},
    }

    def measure(self, ctx: Context) -> Result:
        data = load_data("digits", 200, 50, ctx.rng, standardize=True)
        n = ctx.pick(4, 16, tiny=4)
        rng = ctx.rng
        # background pixels are exactly equal, so max-pool windows hold ties where no derivative exists; a small
        # jitter (std 0.01 on standardized pixels) breaks them
        x = data.x_train[:n].astype(np.float64) + rng.normal(0, 0.01, data.x_train[:n].shape)
        y = data.y_train[:n]
        p = {"W1": rng.normal(0, 0.5, (3, 1, 3, 3)), "b1": rng.normal(0, 0.1, 3),
             "W2": rng.normal(0, 0.3, (10, 27)), "b2": rng.normal(0, 0.1, 10)}
        loss, saved = forward(x, y, p)
        hand = backward(x, y, p, saved)
        auto = _autograd(x, y, p)
        num, t_num, t_bp = self._numeric_and_timings(x, y, p)
        tens = [cp.tensor(x, requires_grad=True)] + [cp.tensor(p[k], requires_grad=True) for k in PARAMS]
        passed = cp.gradcheck(lambda xx, a, b, c, d: _net(xx, a, b, c, d, cp.tensor(y)), tens,
                              raise_exception=False)
        loss_after = self._descend(x, y, p)
        e_auto = {k: _rel(hand[k], auto[k]) for k in (*PARAMS, "x")}
        e_num = {k: _rel(hand[k], num[k]) for k in PARAMS}
        auto_loss = float(_net(cp.tensor(x), cp.tensor(p["W1"]), cp.tensor(p["b1"]), cp.tensor(p["W2"]),
                               cp.tensor(p["b2"]), cp.tensor(y)).item())
        n_par = sum(v.size for v in p.values())
        rows = [[lay, fwd, loc, down] for lay, fwd, loc, down in LAYERS]
        grads: list[list[Any]] = [[k, str(hand[k].shape), float(np.abs(hand[k]).max()), e_auto[k], e_num.get(k, np.nan)]
                 for k in (*PARAMS, "x")]
        return Result(
            figures={
                "loss": Figure(loss, "nats"),
                "loss_after_descent": Figure(loss_after, "nats", {"en": f"loss after {STEPS} gradient steps",
                                                                  "zh": f"{STEPS} 步梯度下降后的损失"}),
                "loss_ratio": Figure(loss_after / loss, "ratio"),
                "loss_diff_autograd": Figure(abs(loss - auto_loss), "nats"),
                "max_rel_err_autograd": Figure(max(e_auto.values()), "relative"),
                "max_rel_err_numeric": Figure(max(e_num.values()), "relative"),
                "gradcheck_passed": Figure(float(passed), "bool"),
            },
            beyond={
                "n_params": Figure(n_par, "parameters"),
                "speedup_vs_numeric": Figure(t_num / t_bp, "x"),
            },
            tables=[Table("chain_rule", ["layer", "forward", "local gradient", "passed down"], rows,
                          {"en": "The backward pass, from the loss down to the input: each layer multiplies the "
                                 "upstream gradient by its local gradient (N = batch size).",
                           "zh": "从损失到输入的反向传播：每一层把上游梯度乘以本层的局部梯度（N 为批大小）。"}),
                    Table("gradients", ["tensor", "shape", "max |grad|", "rel. err vs autograd",
                                        "rel. err vs central differences"], grads,
                          {"en": "Hand-derived gradients against autograd and numerical differentiation (float64).",
                           "zh": "手推梯度与自动微分、数值微分的对比（float64）。"})],
            series={"grads": grads, "seconds": (t_bp, t_num), "n_params": n_par})

    @staticmethod
    def _numeric_and_timings(x: np.ndarray, y: np.ndarray,
                             p: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float, float]:
        """The gradients by central differences, the seconds they took, and the seconds of one full gradient by
        the hand-written forward + backward (the mean of 10)."""
        t0 = time.perf_counter()
        num = numeric(x, y, {k: v.copy() for k, v in p.items()})
        t_num = time.perf_counter() - t0
        reps = 10
        t0 = time.perf_counter()
        for _ in range(reps):
            backward(x, y, p, forward(x, y, p)[1])
        return num, t_num, (time.perf_counter() - t0) / reps

    @staticmethod
    def _descend(x: np.ndarray, y: np.ndarray, p: Mapping[str, np.ndarray]) -> float:
        """The loss after ``STEPS`` steps of gradient descent (lr ``LR``) from ``p`` with the hand-derived
        gradients."""
        q = {k: v.copy() for k, v in p.items()}
        for _ in range(STEPS):
            g = backward(x, y, q, forward(x, y, q)[1])
            q = {k: v - LR * g[k] for k, v in q.items()}
        return forward(x, y, q)[0]

    def draw(self, res: Result, ctx: Context) -> None:
        grads, (t_bp, t_num), n_par = res.series["grads"], res.series["seconds"], res.series["n_params"]
        fig, (a1, a2) = ctx.figure(1, 2, size=(10, 3.6))
        idx = np.arange(len(grads))
        a1.bar(idx - 0.2, [max(r[3], 1e-18) for r in grads], 0.4, label="hand vs autograd")
        a1.bar(idx + 0.2, [max(r[4], 1e-18) if np.isfinite(r[4]) else 0 for r in grads], 0.4,
               label="hand vs central differences")
        a1.set_yscale("log")
        a1.set_xticks(idx, [r[0] for r in grads])
        a1.set_ylabel("max relative error")
        a1.set_title("Hand-derived gradients against two references")
        a1.legend(loc="center left")
        a2.bar(["backprop\n(forward+backward)", f"finite differences\n({2 * n_par} forwards)"], [t_bp, t_num],
               color=["#2ca02c", "#d62728"])
        a2.set_yscale("log")
        a2.set_ylabel("seconds per full gradient")
        a2.set_title(tr(f"Cost of all {n_par} partial derivatives", f"全部 {n_par} 个偏导数的成本"))
        ctx.save_figure(fig, "backprop", "Left: largest relative difference of the hand-derived gradients from "
                        "autograd and from central differences for each parameter and the input (log scale). Right: "
                        "time for the full gradient by backpropagation and by finite differences.",
                        "左：手推梯度与自动微分、与中心差分之间的最大相对误差（各参数与输入，对数坐标）。"
                        "右：用反向传播与用有限差分求完整梯度的耗时。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        ea, en_, r = figures["max_rel_err_autograd"], figures["max_rel_err_numeric"], figures["loss_ratio"]
        ta, tn, tr = thresholds["max_rel_err_autograd"], thresholds["max_rel_err_numeric"], thresholds["max_loss_ratio"]
        gc = figures["gradcheck_passed"] >= 1
        exact = ea <= ta and en_ <= tn and gc
        falls = r <= tr
        l0, l1 = figures["loss"], figures["loss_after_descent"]
        return verdict_if(exact and falls), evidence(
            en=f"The chain rule written out by hand gives {'the same gradients' if ea <= ta else 'other gradients'} "
               f"as autograd (largest relative error {fmt(ea)}, threshold {fmt(ta)}) and "
               f"{'agrees' if en_ <= tn else 'disagrees'} with central differences ({fmt(en_)}, threshold "
               f"{fmt(tn)}); cp.gradcheck {'passes' if gc else 'fails'}. Gradient descent with these gradients "
               f"takes the loss from {fmt(l0)} to {fmt(l1)} in {STEPS} steps (ratio {fmt(r)}, at most {fmt(tr)} "
               f"counts as minimising).",
            zh=f"按链式法则手推的梯度与自动微分{'一致' if ea <= ta else '不一致'}（最大相对误差 {fmt(ea)}，阈值 "
               f"{fmt(ta)}），与中心差分{'一致' if en_ <= tn else '不一致'}（{fmt(en_)}，阈值 {fmt(tn)}）；"
               f"cp.gradcheck {'通过' if gc else '未通过'}。用这些梯度做 {STEPS} 步梯度下降，损失从 {fmt(l0)} "
               f"降到 {fmt(l1)}（比值 {fmt(r)}，不超过 {fmt(tr)} 才算在使损失变小）。")

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        sp, n = beyond["speedup_vs_numeric"], beyond["n_params"]
        return {"en": f"Why backpropagation and not perturbation: it obtains all {fmt(n)} partial derivatives "
                      f"{fmt(sp)}x faster than finite differences, which need {fmt(2 * n)} forward passes.",
                "zh": f"为什么用反向传播而不是逐个扰动参数：它求全部 {fmt(n)} 个偏导数比有限差分快 {fmt(sp)} 倍，"
                      f"后者需要 {fmt(2 * n)} 次前向计算。"}
