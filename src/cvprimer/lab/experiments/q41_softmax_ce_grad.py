r"""Question 41: the gradient of softmax + cross-entropy with respect to the logits.

For logits z, p = softmax(z) and a one-hot target y, L = -sum_k y_k log p_k has dL/dz = p - y (the seed's claim,
given as an image). Measured: our autograd's gradient of ``F.cross_entropy`` against p - y on random logits
(float64, 2 to 1,000 classes, small and large scales) and at the output of a real network trained on the digits
(float32). Beyond the seed: the numerical stability of the fused form (log-softmax by log-sum-exp, as
``F.cross_entropy``) against softmax-then-log, computed naively (exp / sum exp) and with a max-shifted softmax, in
float32 as the logits grow.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.lab._deepmlp import DeepMLP
from cvprimer.lab.common import fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "logit scale (std of float32 logits)": "logit 尺度（float32 logit 的标准差）",
    "Float32 cross-entropy three ways": "三种方式计算的 float32 交叉熵",
    "p - y (by hand)": "p - y（手算）",
    "autograd dL/dz": "自动求导 dL/dz",
    "Gradient at a trained MLP's logits": "训练后 MLP 的 logit 处的梯度",
    "fused": "融合",
    "naive": "朴素",
    "softmax_then_log": "先 softmax 再取对数",
})


def p_minus_y(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """softmax(z) - onehot(y), row by row (max-shifted softmax)."""
    e = np.exp(z - z.max(1, keepdims=True))
    g = e / e.sum(1, keepdims=True)
    g[np.arange(len(y)), y] -= 1
    return g


def autograd_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d/dz of the summed ``F.cross_entropy(z, y)`` by our autograd."""
    t = cp.tensor(z, requires_grad=True)
    F.cross_entropy(t, cp.tensor(y), reduction="sum").backward()
    assert t.grad is not None  # (it requires grad and feeds the loss)
    return t.grad.data


def losses_three_ways(z: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Per-sample cross-entropy in z's dtype: naive exp/sum-exp then log, max-shifted softmax then log, fused."""
    rows = np.arange(len(y))
    with np.errstate(all="ignore"):
        e = np.exp(z)
        naive = -np.log((e / e.sum(1, keepdims=True))[rows, y])
        two = -np.log(F.softmax(cp.tensor(z), 1).data[rows, y])
    fused = F.cross_entropy(cp.tensor(z), cp.tensor(y), reduction="none").data
    return {"naive": naive, "softmax_then_log": two, "fused": fused}


def two_step_grad_nonfinite(z: np.ndarray, y: np.ndarray) -> float:
    """Fraction of non-finite gradient entries when autograd differentiates log(softmax(z)) (not fused)."""
    t = cp.tensor(z, requires_grad=True)
    onehot = np.zeros_like(z)
    onehot[np.arange(len(y)), y] = 1
    with np.errstate(all="ignore"):
        (-(cp.tensor(onehot) * cp.log(F.softmax(t, 1))).sum()).backward()
    assert t.grad is not None  # (it requires grad and feeds the loss)
    return float(np.mean(~np.isfinite(t.grad.data)))


class SoftmaxCrossEntropyGrad(Experiment):
    id = "q41-softmax-ce-grad"
    questions = (41,)
    topic = "loss"
    stochastic = False
    reachable = ("confirmed", "refuted")
    thresholds = {"tol_float64": 1e-12, "tol_float32": 1e-6}
    reasons = {
        "tol_float64": {"en": "theory: gradient entries lie in [-1, 1] and float64 rounding of a softmax is about "
                              "1e-16, so 1e-12 admits rounding but not a wrong formula (errors of order p itself)",
                        "zh": "理论：梯度各元素在 [-1, 1] 内，float64 下 softmax 的舍入误差约 1e-16；1e-12 容得下"
                              "舍入，容不下公式错误（误差与 p 同量级）"},
        "tol_float32": {"en": "theory: float32 machine epsilon is 6e-8; 1e-6 is about 16 units of rounding at "
                              "magnitude 1, far below any formula error",
                        "zh": "理论：float32 的机器精度为 6e-8；1e-6 约为量级 1 处 16 个舍入单位，远小于任何公式错误"},
    }
    key_term = {"en": "the softmax cross-entropy gradient p - y", "zh": "softmax 交叉熵的梯度 p - y"}
    key_figure = "max_err_float64"
    answer = {
        "confirmed": {
            "en": "Yes: the gradient of cross-entropy after softmax with respect to the logits is p - y "
                  "(autograd agreed to {max_err_float64} in float64), which is why frameworks fuse the two "
                  "into one stable operation.",
            "zh": "是的：softmax 之后的交叉熵对 logits 的梯度就是 p - y（"
                  "float64 下自动求导与之相差 {max_err_float64}），"
                  "这也是框架把两者合成一个数值稳定的算子的原因。"},
        "refuted": {
            "en": "Autograd's gradient did not match p - y here (largest error {max_err_float64} in float64).",
            "zh": "这里自动求导的梯度与 p - y 不一致（float64 下最大误差 {max_err_float64}）。"},
    }
    text = {
        "en": {
            "title": "The gradient of softmax + cross-entropy",
            "claim": "Differentiating softmax followed by cross-entropy with respect to the logits gives the "
                     "simple result p - y: the predicted probabilities minus the one-hot target.",
            "method": "Compare our autograd's gradient of cross_entropy with p - y on random float64 logits (2, 10 "
                      "and 1,000 classes; scales 1 and 30) and on the float32 logits of an MLP trained on the "
                      "digits (trained by Adam, lr 3e-3).",
            "beyond": "Evaluate the loss in float32 for logits of growing scale three ways: naive exp/sum-exp then "
                      "log, a max-shifted softmax then log, and the fused log-sum-exp form, and count non-finite "
                      "losses and gradients.",
        },
        "zh": {
            "title": "softmax + 交叉熵的梯度",
            "claim": "softmax 后接交叉熵，对 logits 求导的结果非常简洁：p − y，即预测概率减去 one-hot 标签。",
            "method": "在随机 float64 logits（2、10、1000 类；尺度 1 与 30）以及在 digits 上训练好的 MLP "
                      "输出的 float32 logits 上（Adam，学习率 3e-3），比较自动微分得到的 cross_entropy 梯度与 p − y。",
            "beyond": "在 float32 下随 logits 尺度增大用三种方式计算损失：朴素的 exp/求和后取 log、"
                      "先减最大值的 softmax 后取 log、以及融合的 log-sum-exp 写法，统计非有限的损失与梯度。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "max_err_float64": {"en": "largest error of p - y vs autograd, float64",
                            "zh": "p - y 与自动求导的最大误差（float64）"},
        "max_err_network_float32": {"en": "largest error of p - y in a network, float32",
                                    "zh": "网络中 p - y 的最大误差（float32）"},
        "nonfinite_{m}": {"en": "share of non-finite results, {m}", "zh": "非有限结果的比例（{m}）"},
        "largest_scale": {"en": "largest logit scale tried", "zh": "尝试的最大 logit 尺度"},
        "first_naive_failure_scale": {"en": "logit scale where the naive formula first fails",
                                      "zh": "朴素公式首次失败的 logit 尺度"},
    }
    terms = {
        "naive": {"en": "naive formula", "zh": "朴素公式"},
        "softmax_then_log": {"en": "softmax then log", "zh": "先 softmax 再取对数"},
        "fused": {"en": "fused log-softmax", "zh": "融合的 log-softmax"},
        "grad_two_step": {"en": "gradient, two steps", "zh": "梯度（分两步）"},
        "grad_fused": {"en": "gradient, fused", "zh": "梯度（融合）"},
    }

    def measure(self, ctx: Context) -> Result:
        rng = ctx.rng
        rows, err64 = [], 0.0
        for c in (2, 10, 1000):
            for scale in (1.0, 30.0):
                z = rng.normal(0, scale, (64, c))
                y = rng.integers(0, c, 64)
                e = float(np.abs(autograd_grad(z, y) - p_minus_y(z, y)).max())
                err64 = max(err64, e)
                rows.append([f"random float64, C={c}, scale {scale:g}", e])
        data = load_data("digits", ctx.pick(500, 1400, tiny=200), ctx.pick(360, 360, tiny=100), rng, standardize=True)
        cp.manual_seed(ctx.seed)
        model = DeepMLP(3, 64, "relu", "he", rng=np.random.default_rng(ctx.seed))
        f = fit(model, data, ctx.pick(3, 10, tiny=1), rng, lr=3e-3)
        model.eval()
        z32 = model(cp.tensor(data.x_val)).data
        g_auto = autograd_grad(z32, data.y_val)
        by_hand = p_minus_y(z32.astype(np.float64), data.y_val)
        err32 = float(np.abs(g_auto - by_hand).max())
        rows.append([f"MLP on digits, float32 (val acc {f.val_acc:.3f})", err32])

        scales = np.logspace(0, 4, ctx.pick(9, 17, tiny=5))
        z0 = rng.standard_normal((256, 10)).astype(np.float32)
        y0 = rng.integers(0, 10, 256)
        curves: dict[str, list[float]] = {k: [] for k in ("naive", "softmax_then_log", "fused")}
        for s in scales:
            for k, v in losses_three_ways(z0 * np.float32(s), y0).items():
                curves[k].append(float(np.mean(~np.isfinite(v))))
        big = z0 * np.float32(scales[-1])
        last = losses_three_ways(big, y0)
        grad_nf_two = two_step_grad_nonfinite(big, y0)
        grad_fused = autograd_grad(big, y0)
        return Result(
            figures={
                "max_err_float64": Figure(err64, "absolute"),
                "max_err_network_float32": Figure(err32, "absolute"),
            },
            beyond={
                "nonfinite_naive": Figure(float(np.mean(~np.isfinite(last["naive"]))), "fraction"),
                "nonfinite_softmax_then_log": Figure(float(np.mean(~np.isfinite(last["softmax_then_log"]))),
                                                     "fraction"),
                "nonfinite_fused": Figure(float(np.mean(~np.isfinite(last["fused"]))), "fraction"),
                "nonfinite_grad_two_step": Figure(grad_nf_two, "fraction"),
                "nonfinite_grad_fused": Figure(float(np.mean(~np.isfinite(grad_fused))), "fraction"),
                "largest_scale": Figure(float(scales[-1]), "std"),
                "first_naive_failure_scale": Figure(
                    float(next((s for s, v in zip(scales, curves["naive"], strict=True) if v > 0), np.nan)), "std"),
            },
            tables=[Table("grad_check", ["logits", "max |autograd - (p - y)|"], rows,
                          {"en": "Gradient of the summed cross-entropy with respect to the logits.",
                           "zh": "求和交叉熵对 logits 的梯度。"})],
            series={"scales": scales, "curves": curves, "by_hand": by_hand, "g_auto": g_auto})

    def draw(self, res: Result, ctx: Context) -> None:
        s = res.series
        fig, (a1, a2) = ctx.figure(1, 2, size=(10, 3.6))
        for k, fractions in s["curves"].items():
            a1.semilogx(s["scales"], fractions, marker="o", label=k)
        a1.set_xlabel("logit scale (std of float32 logits)")
        a1.set_ylabel("fraction of non-finite losses")
        a1.set_title("Float32 cross-entropy three ways")
        a1.legend()
        a2.scatter(s["by_hand"].ravel(), s["g_auto"].ravel(), s=3)
        a2.plot([-1, 1], [-1, 1], "k--", lw=1)
        a2.set_xlabel("p - y (by hand)")
        a2.set_ylabel("autograd dL/dz")
        a2.set_title("Gradient at a trained MLP's logits")
        ctx.save_figure(fig, "softmax_ce", "Left: share of non-finite float32 losses as the logits grow, for naive "
                        "softmax-then-log, max-shifted softmax-then-log and the fused log-sum-exp form. Right: our "
                        "autograd's gradient against p - y at a trained MLP's logits, with the diagonal as a guide.",
                        "左：随 logits 增大，朴素 softmax 后取 log、先减最大值的 softmax 后取 log 与融合的 "
                        "log-sum-exp 写法在 float32 下出现非有限损失的比例。右：训练好的 MLP 输出处，"
                        "自动微分梯度与 p − y 的对比（虚线为对角线）。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        e64, e32 = figures["max_err_float64"], figures["max_err_network_float32"]
        t64, t32 = thresholds["tol_float64"], thresholds["tol_float32"]
        ok64, ok32 = e64 <= t64, e32 <= t32
        yes = {True: ("within", "在容差内"), False: ("beyond", "超出容差")}
        return verdict_if(ok64 and ok32), evidence(
            en=f"Autograd's gradient of cross-entropy differs from p - y by at most {fmt(e64)} on random float64 "
               f"logits ({yes[ok64][0]} the tolerance {fmt(t64)}) and by {fmt(e32)} at a trained network's float32 "
               f"logits ({yes[ok32][0]} the tolerance {fmt(t32)}).",
            zh=f"交叉熵经自动微分得到的梯度与 p − y 的最大差：随机 float64 logits 上为 {fmt(e64)}"
               f"（{yes[ok64][1]}，容差 {fmt(t64)}），训练好的网络的 float32 logits 上为 {fmt(e32)}"
               f"（{yes[ok32][1]}，容差 {fmt(t32)}）。")

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        b = beyond
        s, nv, tw = b["largest_scale"], b["nonfinite_naive"], b["nonfinite_softmax_then_log"]
        pct = fmt(100 * nv), fmt(100 * tw), fmt(100 * b["nonfinite_grad_two_step"])
        fused_ok = b["nonfinite_fused"] == 0 and b["nonfinite_grad_fused"] == 0
        return {"en": f"In float32 at logit scale {fmt(s)}, {pct[0]}% of naive softmax-then-log losses and {pct[1]}% "
                      f"of max-shifted ones are inf or nan ({pct[2]}% of the two-step gradients), the first naive "
                      f"failure at scale {fmt(b['first_naive_failure_scale'])}; the fused log-sum-exp form is "
                      f"{'always finite' if fused_ok else 'not always finite'} "
                      f"({fmt(100 * b['nonfinite_fused'])}% of losses, {fmt(100 * b['nonfinite_grad_fused'])}% of "
                      f"gradient entries non-finite).",
                "zh": f"float32 下 logits 尺度为 {fmt(s)} 时，朴素 softmax 后取 log 有 {pct[0]}% 的损失为 inf 或 "
                      f"nan，先减最大值的写法有 {pct[1]}%（两步写法的梯度有 {pct[2]}% 非有限），朴素写法在尺度 "
                      f"{fmt(b['first_naive_failure_scale'])} 时开始失效；融合的 log-sum-exp 写法"
                      f"{'始终有限' if fused_ok else '并非始终有限'}（损失 {fmt(100 * b['nonfinite_fused'])}%、"
                      f"梯度元素 {fmt(100 * b['nonfinite_grad_fused'])}% 非有限）。"}
