"""Question 23: what makes gradients vanish or explode.

Measured on the digits with :class:`cvprimer.lab._deepmlp.DeepMLP`: the weight-gradient norm of every layer at
initialization for sigmoid and ReLU, 3 and 20 layers, small (PyTorch default), Xavier/He and large weights, with
batch normalization and with residual connections; the log10 ratio of the input-side to the output-side norm, the
per-layer gain (its geometric mean per layer) and the ratio across depths. Each configuration is then trained
briefly with :class:`cvprimer.train.GradientMonitor` and diagnosed by :func:`cvprimer.train.diagnose`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cvprimer.analysis.timing import blas_threads
from cvprimer.lab._deepmlp import DeepMLP, monitored_fit, weight_grad_norms
from cvprimer.lab.common import load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

DEEP = 20
# name -> (DeepMLP keyword arguments, what the diagnosis should report: "vanishing", "exploding" or "none")
CONFIGS: dict[str, tuple[dict, str]] = {
    "sigmoid_shallow": (dict(depth=3, act="sigmoid", init="xavier"), "none"),
    "sigmoid_deep": (dict(depth=DEEP, act="sigmoid", init="xavier"), "vanishing"),
    "relu_default_deep": (dict(depth=DEEP, act="relu", init="default"), "vanishing"),
    "relu_he_deep": (dict(depth=DEEP, act="relu", init="he"), "none"),
    "sigmoid_bn_deep": (dict(depth=DEEP, act="sigmoid", init="xavier", bn=True), "none"),
    "sigmoid_residual_deep": (dict(depth=DEEP, act="sigmoid", init="xavier", residual=True), "none"),
    "sigmoid_large_deep": (dict(depth=DEEP, act="sigmoid", init="xavier", scale=4.0), "vanishing"),
    "relu_large_deep": (dict(depth=DEEP, act="relu", init="he", scale=2.0), "exploding"),
}


def _diagnosed(kinds: list[str]) -> str:
    if "exploding_gradients" in kinds or "divergence" in kinds:
        return "exploding"
    return "vanishing" if "vanishing_gradients" in kinds else "none"


class VanishingGradients(Experiment):
    id = "q23-vanishing-gradients"
    questions = (23,)
    topic = "optimization"
    thresholds = {"vanish_log10": -3.0, "healthy_log10": -2.0, "explode_log10": 3.0}
    text = {
        "en": {
            "title": "Vanishing and exploding gradients: activation, weight scale and depth",
            "claim": "Gradients vanish or explode because of the choice of activation function: with zero biases "
                     "the output is the input multiplied by the product of all weight matrices, so small weights "
                     "shrink the gradient exponentially with depth and large weights blow it up.",
            "method": "Per-layer weight-gradient norms at initialization (256 digits) for 3- and 20-layer MLPs: "
                      "sigmoid with Xavier weights, ReLU with PyTorch's default (small) and He weights, sigmoid "
                      "with batch norm, with residual connections, and both activations with weights 2-4x too "
                      "large. The log10 ratio of the first to the last layer's norm (diagnose's vanishing rule "
                      "uses 1e-3), the per-layer gain, and the ratio for depths 2 to 20. Each network is then "
                      "trained briefly with a GradientMonitor and diagnosed by cvprimer.train.diagnose.",
        },
        "zh": {
            "title": "梯度消失与梯度爆炸：激活函数、权重尺度与深度",
            "claim": "梯度消失或爆炸的原因在于激活函数的选择：偏置为零时，网络输出等于输入乘以各层权重矩阵的"
                     "连乘积，权重偏小时梯度随深度指数级缩小，偏大时则指数级增长。",
            "method": "在 256 张 digits 图像上测量初始化时每层权重梯度的范数：3 层与 20 层 MLP，"
                      "sigmoid 配 Xavier 初始化，ReLU 配 PyTorch 默认（偏小）初始化和 He 初始化，"
                      "sigmoid 加批归一化、加残差连接，以及权重放大 2～4 倍的两种激活。"
                      "报告第一层与最后一层梯度范数之比的 log10（diagnose 的梯度消失规则以 1e-3 为界）、"
                      "每层增益，以及深度 2 到 20 时的比值。随后每个网络用 GradientMonitor 短训，"
                      "并由 cvprimer.train.diagnose 给出诊断。",
        },
    }

    def run(self, ctx: Context) -> Result:
        with blas_threads(1):  # small matrices: one BLAS thread is faster on a shared machine
            return self._measure(ctx)

    def _measure(self, ctx: Context) -> Result:
        data = load_data("digits", ctx.pick(320, 1400), 360, ctx.rng, standardize=True)
        x, y = data.x_train[:256], data.y_train[:256]
        seed = int(ctx.rng.integers(2**31))
        epochs = ctx.pick(2, 10)
        norms, rows, figures = {}, [], {}
        agree = 0
        ctx.progress.set_total(len(CONFIGS))
        for name, (kw, expected) in CONFIGS.items():
            g = weight_grad_norms(DeepMLP(rng=np.random.default_rng(seed), **kw), x, y)
            norms[name] = g
            ratio = float(np.log10(g[0] / g[-1]))
            gain = float(10 ** (np.mean(np.diff(np.log10(g[1:-1])))) if len(g) > 3 else np.nan)
            run = monitored_fit(DeepMLP(rng=np.random.default_rng(seed), **kw), data, epochs,
                                np.random.default_rng(seed), lr=0.02, optimizer="momentum", batch_size=32)
            got = _diagnosed(run.kinds)
            agree += got == expected
            if name == "sigmoid_residual_deep":
                figures["residual_diverged"] = Figure(float("divergence" in run.kinds), "bool")
            figures[f"log10_ratio_{name}"] = Figure(ratio, "log10")
            figures[f"log10_max_norm_{name}"] = Figure(float(np.log10(g.max())), "log10")
            rows.append([name, kw["depth"], ratio, float(np.log10(g.max())), 1 / gain,
                         run.fit.val_acc, ", ".join(run.kinds) or "(nothing)", expected, got])
            ctx.progress.update()
        figures["diagnosis_agreement"] = Figure(agree / len(CONFIGS), "fraction")

        depths = [2, 6, 12, 20] if ctx.quick else list(range(2, 31, 2))
        sweep = {k: [] for k in ("sigmoid_deep", "relu_default_deep", "relu_he_deep", "sigmoid_bn_deep")}
        for dep in depths:
            for k in sweep:
                kw = dict(CONFIGS[k][0], depth=dep)
                g = weight_grad_norms(DeepMLP(rng=np.random.default_rng(seed), **kw), x, y)
                sweep[k].append(float(np.log10(g[0] / g[-1])))

        fig, (a1, a2) = ctx.figure(1, 2, size=(11, 4))
        colors = {}
        for name, g in norms.items():
            colors[name] = a1.semilogy(np.arange(1, len(g) + 1), g, marker=".", label=name)[0].get_color()
        a1.set_xlabel("layer (1 = input side)")
        a1.set_ylabel("||dL/dW|| at initialization")
        a1.set_title("Per-layer gradient norm")
        a1.legend(fontsize=6)
        for k, v in sweep.items():
            a2.plot(depths, v, marker="o", color=colors[k], label=k.replace("_deep", ""))
        a2.axhline(self.thresholds["vanish_log10"], color="k", ls="--", lw=1, label="diagnose's 1e-3")
        a2.set_xlabel("depth (linear layers)")
        a2.set_ylabel("log10(||g_first|| / ||g_last||)")
        a2.set_title("Gradient ratio vs depth")
        a2.legend()
        ctx.save_figure(fig, "grad_norms", "Left: weight-gradient norm per layer at initialization for eight "
                        "configurations (log scale). Right: log10 of the first-to-last layer ratio against depth for "
                        "sigmoid, ReLU with default and He weights, and sigmoid with batch norm.",
                        "左：八种配置在初始化时每层权重梯度范数（对数坐标）。右：sigmoid、默认与 He 初始化的 "
                        "ReLU、以及加批归一化的 sigmoid 网络，首层与末层梯度之比的 log10 随深度的变化。")
        cols = ["configuration", "depth", "log10 first/last", "log10 max norm", "backward gain per layer",
                "val acc (short training)", "diagnose findings", "expected", "diagnosed"]
        return Result(figures=figures, tables=[Table("configs", cols, rows, {
            "en": "Gradient norms at initialization, the backward gain per layer (geometric mean over hidden layers) "
                  "and the trainer's diagnosis after a short training run (SGD with momentum, lr 0.02, batch 32).",
            "zh": "初始化时的梯度范数、反向传播时每层的增益（隐藏层的几何平均），"
                  "以及短训（带动量 SGD，学习率 0.02，批大小 32）后训练器给出的诊断。"})])

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        van, ok, exp = thresholds["vanish_log10"], thresholds["healthy_log10"], thresholds["explode_log10"]
        f = figures
        act = f["log10_ratio_sigmoid_deep"] < van and f["log10_ratio_relu_he_deep"] > ok
        depth = f["log10_ratio_sigmoid_shallow"] > ok
        scale = (f["log10_ratio_relu_default_deep"] < van or f["log10_max_norm_relu_large_deep"] > exp)
        fixes = f["log10_ratio_sigmoid_bn_deep"] > ok and f["log10_ratio_sigmoid_residual_deep"] > ok
        big_sig = f["log10_ratio_sigmoid_large_deep"] < van
        verdict = verdict_if(act and depth and not scale, nuanced=act)
        en = (f"In 20 layers the input-side gradient is 10^{fmt(f['log10_ratio_sigmoid_deep'])} of the output side "
              f"with sigmoid but 10^{fmt(f['log10_ratio_relu_he_deep'])} with ReLU and He weights (vanishing below "
              f"10^{fmt(van)}, healthy above 10^{fmt(ok)}), and 10^{fmt(f['log10_ratio_sigmoid_shallow'])} for a "
              f"3-layer sigmoid net: activation and depth together. ")
        zh = (f"20 层网络中，sigmoid 的输入侧梯度是输出侧的 10^{fmt(f['log10_ratio_sigmoid_deep'])}，"
              f"ReLU 配 He 初始化则为 10^{fmt(f['log10_ratio_relu_he_deep'])}（低于 10^{fmt(van)} 判为消失，"
              f"高于 10^{fmt(ok)} 判为正常）；3 层 sigmoid 网络为 10^{fmt(f['log10_ratio_sigmoid_shallow'])}："
              f"激活函数与深度共同起作用。")
        if scale:
            en += (f"The activation is not the whole cause: ReLU with PyTorch's default (smaller) weights still "
                   f"vanishes to 10^{fmt(f['log10_ratio_relu_default_deep'])}, and He weights doubled explode "
                   f"(largest norm 10^{fmt(f['log10_max_norm_relu_large_deep'])}, threshold 10^{fmt(exp)}); the "
                   f"per-layer gain is activation derivative times weight scale, raised to the depth. ")
            zh += (f"激活函数并非全部原因：ReLU 配 PyTorch 默认（偏小）初始化仍消失到 "
                   f"10^{fmt(f['log10_ratio_relu_default_deep'])}，He 权重放大两倍则爆炸（最大范数 "
                   f"10^{fmt(f['log10_max_norm_relu_large_deep'])}，阈值 10^{fmt(exp)}）；"
                   f"每层增益等于激活导数乘以权重尺度，再按深度连乘。")
        if big_sig:
            en += (f"Large weights with sigmoid do not explode but saturate and vanish "
                   f"(10^{fmt(f['log10_ratio_sigmoid_large_deep'])}), contrary to the seed's 'large weights explode'. ")
            zh += (f"sigmoid 配大权重并不爆炸，而是饱和后消失（10^{fmt(f['log10_ratio_sigmoid_large_deep'])}），"
                   f"与原文“权重大则爆炸”相反。")
        en += (f"Batch norm ({fmt(f['log10_ratio_sigmoid_bn_deep'])}) and residual connections "
               f"({fmt(f['log10_ratio_sigmoid_residual_deep'])}) {'fix' if fixes else 'do not fix'} the deep sigmoid "
               f"net; diagnose named the expected problem in {fmt(100 * f['diagnosis_agreement'])}% of the runs.")
        zh += (f"批归一化（{fmt(f['log10_ratio_sigmoid_bn_deep'])}）与残差连接"
               f"（{fmt(f['log10_ratio_sigmoid_residual_deep'])}）{'修复了' if fixes else '未能修复'}深层 sigmoid "
               f"网络的问题；diagnose 在 {fmt(100 * f['diagnosis_agreement'])}% 的运行中给出了预期的诊断。")
        if f.get("residual_diverged", 0) >= 1:
            en += (f" The residual sigmoid net, despite its healthy ratio, diverged in training: each block adds a "
                   f"positive sigmoid output, so activations and gradients grow with depth (largest norm "
                   f"10^{fmt(f['log10_max_norm_sigmoid_residual_deep'])}).")
            zh += (f"残差 sigmoid 网络虽然梯度比值正常，训练中却发散了：每个残差块都加上一个为正的 sigmoid 输出，"
                   f"激活与梯度随深度增大（最大范数 10^{fmt(f['log10_max_norm_sigmoid_residual_deep'])}）。")
        return verdict, evidence(en=en, zh=zh)
