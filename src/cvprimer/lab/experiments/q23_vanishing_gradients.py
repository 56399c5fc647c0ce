"""Question 23: what makes gradients vanish or explode.

The seed's claim: the choice of activation; and, with zero biases, the output is the product of every layer's
weights times the input, so small weights shrink it exponentially with depth and large ones blow it up. Measured on
the digits with :class:`cvprimer.lab._deepmlp.DeepMLP` (20 layers, biases at PyTorch's default): the
weight-gradient norm of every layer at initialization, the log10 ratio of the input-side to the output-side norm
(vanishing) and the log10 of the largest norm (exploding: with ReLU a uniform gain scales the backward signal and
the forward activations alike, so the ratio of weight-gradient norms stays near 1 while every norm grows), in the
settings the claim covers:
sigmoid against ReLU at a scale-keeping init (Xavier / He), small weights (ReLU with PyTorch's default init), and
large weights (He x2 with ReLU, Xavier x4 with sigmoid).

Beyond the seed (never passed to ``decide``): a 3-layer sigmoid net, sigmoid with batch normalization and with
residual connections, the ratio across depths 2 to 20 (30 in full mode), the per-layer gain, and a short training
run of every configuration diagnosed by :func:`cvprimer.train.diagnose` with a
:class:`cvprimer.train.GradientMonitor`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from cvprimer.lab._deepmlp import DeepMLP, monitored_fit, weight_grad_norms
from cvprimer.lab.common import load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "||dL/dW|| at initialization": "初始化时的 ||dL/dW||",
    "Per-layer gradient norm": "逐层梯度范数",
    "diagnose's 1e-3": "diagnose 的 1e-3",
    "Gradient ratio vs depth": "梯度比与深度",
    "relu_default": "ReLU 默认初始化",
    "relu_default_deep": "ReLU 默认初始化，深层",
    "relu_he": "ReLU He 初始化",
    "relu_he_deep": "ReLU He 初始化，深层",
    "relu_large_deep": "ReLU 大初始化，深层",
    "sigmoid_bn": "Sigmoid + 批归一化",
    "sigmoid_bn_deep": "Sigmoid + 批归一化，深层",
    "sigmoid_deep": "Sigmoid，深层",
    "sigmoid_large_deep": "Sigmoid 大初始化，深层",
    "sigmoid_residual_deep": "Sigmoid 残差，深层",
    "sigmoid_shallow": "Sigmoid，浅层",
})

DEEP = 20
# the checks of the settings the seed's claim covers: figure -> the claimed side ("vanish": ratio below vanish_log10,
# "healthy": ratio above healthy_log10, "explode": largest norm above explode_log10)
CHECKS = {"log10_ratio_sigmoid_deep": "vanish", "log10_ratio_relu_he_deep": "healthy",
          "log10_ratio_relu_default_deep": "vanish", "log10_max_norm_relu_large_deep": "explode",
          "log10_max_norm_sigmoid_large_deep": "explode"}
CLAIMED = ("sigmoid_deep", "relu_he_deep", "relu_default_deep", "relu_large_deep", "sigmoid_large_deep")
SETTINGS = {"activation": ("log10_ratio_sigmoid_deep", "log10_ratio_relu_he_deep"),
            "small weights": ("log10_ratio_relu_default_deep",),
            "large weights, ReLU": ("log10_max_norm_relu_large_deep",),
            "large weights, sigmoid": ("log10_max_norm_sigmoid_large_deep",)}
SETTINGS_ZH = {"activation": "激活函数", "small weights": "小权重", "large weights, ReLU": "大权重（ReLU）",
               "large weights, sigmoid": "大权重（sigmoid）"}
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
    topic = "training"
    thresholds = {"vanish_log10": -3.0, "healthy_log10": -2.0, "explode_log10": 3.0}
    reasons = {
        "vanish_log10": {
            "en": "Convention shared with the trainer's diagnose: the input-side gradient a thousandth of the output "
                  "side's has vanished for training purposes; the measured ratios sit several decades from it (deep "
                  "sigmoid about 1e-11, He ReLU about 1), far beyond their across-seed spread (well under a decade).",
            "zh": "与训练器 diagnose 共用的约定：输入侧梯度只有输出侧的千分之一，对训练而言已经消失；实测比值离它都有"
                  "好几个数量级（深层 sigmoid 约 1e-11，He 初始化的 ReLU 约为 1），"
                  "远超随机种子间的波动（不到一个数量级）。"},
        "healthy_log10": {
            "en": "Convention: within a factor of 100 over 20 layers counts as neither vanishing nor exploding; a "
                  "scale-keeping init (He with ReLU) keeps the ratio near 1 in theory.",
            "zh": "约定：20 层后变化在 100 倍以内既不算消失也不算爆炸；理论上保持尺度的初始化（He 配 ReLU）使比值"
                  "接近 1。"},
        "explode_log10": {
            "en": "The mirror of the vanishing rule on the absolute scale: at a healthy init the cross-entropy's "
                  "weight gradients are of order 1 (He ReLU's largest measured 10^0 to 10^1.3 over seeds 0-2), so "
                  "a norm above 1000 has "
                  "exploded; He weights doubled scale the net's output by about 2^19 (10^5.7) in theory.",
            "zh": "在绝对尺度上与消失规则对称：健康初始化时交叉熵的权重梯度量级为 1"
                  "（He 配 ReLU 在随机种子 0-2 中实测最大为 10^0 到 10^1.3），"
                  "范数超过 1000 即为爆炸；理论上 He 权重放大两倍会把网络输出放大约 2^19（10^5.7）倍。"},
    }
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "vanishing and exploding gradients (saturation)", "zh": "梯度消失与梯度爆炸（饱和）"}
    key_figure = "log10_ratio_sigmoid_deep"
    answer = {
        "confirmed": {
            "en": "Yes: through 20 sigmoid layers the gradient shrank by a factor of "
                  "10^{log10_ratio_sigmoid_deep}, ReLU with He init kept it, and the weight scale shrinks or "
                  "blows it up as the product of weights says.",
            "zh": "是的：经过 20 层 sigmoid，梯度缩小到 10^{log10_ratio_sigmoid_deep} 倍，"
                  "ReLU 配 He 初始化则保持住了；权重的尺度按权重连乘使梯度缩小或爆炸。"},
        "nuanced": {
            "en": "Blame both the activation and the weight scale: sigmoid shrank the gradient by "
                  "10^{log10_ratio_sigmoid_deep} over 20 layers while ReLU with He init kept it, but large "
                  "weights exploded only with ReLU; sigmoid units saturate instead, so their gradient vanishes.",
            "zh": "原因既在激活函数也在权重尺度：20 层 sigmoid 使梯度缩小到 10^{log10_ratio_sigmoid_deep} 倍，"
                  "ReLU 配 He 初始化则保持住了；但大权重只在 ReLU 下爆炸，sigmoid 单元会饱和，梯度反而消失。"},
        "refuted": {
            "en": "The explanation did not match the measurement (sigmoid over 20 layers: "
                  "10^{log10_ratio_sigmoid_deep}); look at both the activation's derivative and the weights' "
                  "scale.",
            "zh": "这种解释与测量不符（20 层 sigmoid：10^{log10_ratio_sigmoid_deep}）；"
                  "应同时考虑激活函数的导数和权重尺度。"},
    }
    text = {
        "en": {
            "title": "What causes vanishing and exploding gradients?",
            "claim": "Gradients vanish or explode because of the choice of activation function: with zero biases "
                     "the output is the input multiplied by the product of all weight matrices, so small weights "
                     "shrink the gradient exponentially with depth and large weights blow it up.",
            "method": "Per-layer weight-gradient norms at initialization (256 digits) for 20-layer MLPs (biases at "
                      "PyTorch's default) in each setting the claim covers: the activation (sigmoid with Xavier "
                      "weights against ReLU with He weights), small weights (ReLU with PyTorch's default init), and "
                      "large weights with each activation (He x2 with ReLU, Xavier x4 with sigmoid). Vanishing and "
                      "health are read from the log10 ratio of the first to the last layer's norm, explosion from "
                      "the log10 of the largest norm. Each setting holds when its figure is on the claimed side of "
                      "its threshold; the verdict counts the settings that hold.",
            "beyond": "A 3-layer sigmoid net, sigmoid with batch norm and with residual connections, the ratio for "
                      "depths 2 to 20, the per-layer gain, and a short training run of each network with a "
                      "GradientMonitor diagnosed by cvprimer.train.diagnose.",
        },
        "zh": {
            "title": "梯度消失和梯度爆炸是怎么产生的？",
            "claim": "梯度消失或爆炸的原因在于激活函数的选择：偏置为零时，网络输出等于输入乘以各层权重矩阵的"
                     "连乘积，权重偏小时梯度随深度指数级缩小，偏大时则指数级增长。",
            "method": "在 256 张 digits 图像上测量 20 层 MLP（偏置为 PyTorch 默认值）初始化时每层权重梯度的范数，"
                      "覆盖说法涉及的每种情形：激活函数（sigmoid 配 Xavier 对比 ReLU 配 He），小权重（ReLU 配 "
                      "PyTorch 默认初始化），以及两种激活下的大权重（ReLU 配 He x2，sigmoid 配 Xavier x4）。"
                      "消失与正常由第一层与最后一层梯度范数之比的 log10 判断，爆炸由最大梯度范数的 log10 判断。"
                      "数值落在说法所说的一侧即该情形成立；结论统计成立的情形。",
            "beyond": "3 层 sigmoid 网络、加批归一化与加残差连接的 sigmoid 网络、深度 2 到 20 时的比值、每层增益，"
                      "以及每个网络用 GradientMonitor 短训后由 cvprimer.train.diagnose 给出的诊断。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "log10_ratio_{c}": {"en": "log10 gradient norm, first / last layer, {c}",
                            "zh": "log10 梯度范数 首层/末层（{c}）"},
        "log10_max_norm_{c}": {"en": "log10 largest gradient norm, {c}", "zh": "log10 最大梯度范数（{c}）"},
        "residual_diverged": {"en": "residual net diverged", "zh": "残差网络发散"},
        "diagnosis_agreement": {"en": "share of nets the diagnosis names right", "zh": "诊断判断正确的网络比例"},
    }
    terms = {
        "sigmoid_deep": {"en": "sigmoid, deep", "zh": "Sigmoid，深层"},
        "relu_default_deep": {"en": "ReLU default init, deep", "zh": "ReLU 默认初始化，深层"},
        "relu_he_deep": {"en": "ReLU He init, deep", "zh": "ReLU He 初始化，深层"},
        "sigmoid_large_deep": {"en": "sigmoid large init, deep", "zh": "Sigmoid 大初始化，深层"},
        "relu_large_deep": {"en": "ReLU large init, deep", "zh": "ReLU 大初始化，深层"},
        "sigmoid_shallow": {"en": "sigmoid, shallow", "zh": "Sigmoid，浅层"},
        "sigmoid_bn_deep": {"en": "sigmoid + BN, deep", "zh": "Sigmoid + 批归一化，深层"},
        "sigmoid_residual_deep": {"en": "sigmoid residual, deep", "zh": "Sigmoid 残差，深层"},
    }

    def measure(self, ctx: Context) -> Result:
        data = load_data("digits", ctx.pick(320, 1400, tiny=300), 360, ctx.rng, standardize=True)
        x, y = data.x_train[:256], data.y_train[:256]
        seed = int(ctx.rng.integers(2**31))
        epochs = ctx.pick(2, 10, tiny=1)
        norms, rows = {}, []
        figures: dict[str, Figure] = {}
        beyond: dict[str, Figure] = {}
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
                beyond["residual_diverged"] = Figure(float("divergence" in run.kinds), "bool")
            for key, v in ((f"log10_ratio_{name}", ratio), (f"log10_max_norm_{name}", float(np.log10(g.max())))):
                claim = key in CHECKS or key == "log10_ratio_sigmoid_large_deep"
                (figures if claim else beyond)[key] = Figure(v, "log10")
            rows.append([name, kw["depth"], ratio, float(np.log10(g.max())), 1 / gain,
                         run.fit.val_acc, ", ".join(run.kinds) or "(nothing)", expected, got])
            ctx.progress.update()
        beyond["diagnosis_agreement"] = Figure(agree / len(CONFIGS), "fraction")

        depths = ctx.pick([2, 6, 12, 20], list(range(2, 31, 2)), tiny=[2, 20])
        sweep = self._depth_sweep(depths, x, y, seed)
        cols = ["configuration", "depth", "log10 first/last", "log10 max norm", "backward gain per layer",
                "val acc (short training)", "diagnose findings", "expected", "diagnosed"]
        cap = {"en": "Gradient norms at initialization, the backward gain per layer (geometric mean over hidden "
                     "layers) "
                     "and the trainer's diagnosis after a short training run (SGD with momentum, lr 0.02, batch 32).",
               "zh": "初始化时的梯度范数、反向传播时每层的增益（隐藏层的几何平均），"
                     "以及短训（带动量 SGD，学习率 0.02，批大小 32）后训练器给出的诊断。"}
        return Result(figures=figures, tables=[Table("configs", cols, [r for r in rows if r[0] in CLAIMED], cap)],
                      beyond=beyond, beyond_tables=[Table("other_configs", cols,
                                                          [r for r in rows if r[0] not in CLAIMED], cap)],
                      series={"norms": norms, "depths": depths, "sweep": sweep})

    @staticmethod
    def _depth_sweep(depths: Sequence[int], x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, list[float]]:
        """log10 of the first-to-last weight-gradient norm ratio at initialization for four configurations at each
        depth: ``{config: [ratio per depth]}``."""
        sweep: dict[str, list[float]] = {k: [] for k in ("sigmoid_deep", "relu_default_deep", "relu_he_deep",
                                                        "sigmoid_bn_deep")}
        for dep in depths:
            for k in sweep:
                kw = dict(CONFIGS[k][0], depth=dep)
                g = weight_grad_norms(DeepMLP(rng=np.random.default_rng(seed), **kw), x, y)
                sweep[k].append(float(np.log10(g[0] / g[-1])))
        return sweep

    def draw(self, res: Result, ctx: Context) -> None:
        norms, depths, sweep = res.series["norms"], res.series["depths"], res.series["sweep"]
        fig, (a1, a2) = ctx.figure(1, 2, size=(11, 4))
        colors = {}
        for name, g in norms.items():
            colors[name] = a1.semilogy(np.arange(1, len(g) + 1), g, marker=".", label=name)[0].get_color()
        a1.set_xlabel("layer (1 = input side)")
        a1.set_ylabel("||dL/dW|| at initialization")
        a1.set_title("Per-layer gradient norm")
        a1.legend(fontsize=6)
        for k, ratios in sweep.items():
            a2.plot(depths, ratios, marker="o", color=colors[k], label=k.replace("_deep", ""))
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

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        van, ok, exp = thresholds["vanish_log10"], thresholds["healthy_log10"], thresholds["explode_log10"]
        r = {k: figures[f"log10_ratio_{k}"] for k in ("sigmoid_deep", "relu_he_deep", "relu_default_deep",
                                                       "sigmoid_large_deep")}
        mx = {k: figures[f"log10_max_norm_{k}"] for k in ("relu_large_deep", "sigmoid_large_deep")}
        side = {"vanish": lambda v: v < van, "healthy": lambda v: v > ok, "explode": lambda v: v > exp}
        on_side = {k: side[d](figures[k]) for k, d in CHECKS.items()}
        held = [k for k, cfgs in SETTINGS.items() if all(on_side[c] for c in cfgs)]
        failed = [k for k in SETTINGS if k not in held]
        en = (f"log10 of the input-side over the output-side gradient norm in 20 layers: sigmoid (Xavier) "
              f"{fmt(r['sigmoid_deep'])}, ReLU (He) {fmt(r['relu_he_deep'])}, ReLU with small (default) weights "
              f"{fmt(r['relu_default_deep'])} (vanishing below {fmt(van)}, healthy above {fmt(ok)}). log10 of the "
              f"largest gradient norm with large weights: ReLU (He x2) {fmt(mx['relu_large_deep'])}, sigmoid "
              f"(Xavier x4) {fmt(mx['sigmoid_large_deep'])} (exploding above {fmt(exp)}).")
        zh = (f"20 层网络输入侧与输出侧梯度范数之比的 log10：sigmoid（Xavier）{fmt(r['sigmoid_deep'])}，ReLU（He）"
              f"{fmt(r['relu_he_deep'])}，小权重（默认初始化）的 ReLU {fmt(r['relu_default_deep'])}（低于 {fmt(van)} "
              f"为消失，高于 {fmt(ok)} 为正常）。大权重时最大梯度范数的 log10：ReLU（He x2）"
              f"{fmt(mx['relu_large_deep'])}，sigmoid（Xavier x4）{fmt(mx['sigmoid_large_deep'])}"
              f"（高于 {fmt(exp)} 为爆炸）。")
        if failed:
            en += (f" As claimed: {' / '.join(held) or 'none'}. Not as claimed: {' / '.join(failed)}.")
            zh += (f"与说法一致：{'、'.join(SETTINGS_ZH[k] for k in held) or '无'}；与说法不符："
                   f"{'、'.join(SETTINGS_ZH[k] for k in failed)}。")
            if "large weights, sigmoid" in failed and r["sigmoid_large_deep"] < van:
                en += (f" Large weights with sigmoid do not explode: the units saturate and the gradient vanishes "
                       f"(ratio 10^{fmt(r['sigmoid_large_deep'])}).")
                zh += f"sigmoid 配大权重并不爆炸：单元饱和，梯度反而消失（比值 10^{fmt(r['sigmoid_large_deep'])}）。"
        else:
            en += " Every setting behaves as claimed."
            zh += "每种情形都与说法一致。"
        return verdict_if(not failed, nuanced=bool(held)), evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        b = beyond
        en = (f"A 3-layer sigmoid net has a ratio of 10^{fmt(b['log10_ratio_sigmoid_shallow'])}; the deep sigmoid net "
              f"with batch norm 10^{fmt(b['log10_ratio_sigmoid_bn_deep'])} and with residual connections "
              f"10^{fmt(b['log10_ratio_sigmoid_residual_deep'])}; diagnose named the expected problem in "
              f"{fmt(100 * b['diagnosis_agreement'])}% of the short training runs.")
        zh = (f"3 层 sigmoid 网络的比值为 10^{fmt(b['log10_ratio_sigmoid_shallow'])}；深层 sigmoid 网络加批归一化为 "
              f"10^{fmt(b['log10_ratio_sigmoid_bn_deep'])}，加残差连接为 "
              f"10^{fmt(b['log10_ratio_sigmoid_residual_deep'])}；"
              f"diagnose 在 {fmt(100 * b['diagnosis_agreement'])}% 的短训中给出了预期的诊断。")
        if b.get("residual_diverged", 0) >= 1:
            en += (f" The residual sigmoid net diverged in training (largest gradient norm at initialization "
                   f"10^{fmt(b['log10_max_norm_sigmoid_residual_deep'])}).")
            zh += (f"残差 sigmoid 网络在训练中发散（初始化时最大梯度范数 "
                   f"10^{fmt(b['log10_max_norm_sigmoid_residual_deep'])}）。")
        return {"en": en, "zh": zh}
