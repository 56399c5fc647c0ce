"""Question 47: what ReLU does better than sigmoid.

Measured on the digits with :class:`cvprimer.lab._deepmlp.DeepMLP`: the input-to-output ratio of weight-gradient
norms at initialization through 10 layers (ReLU with He and with PyTorch's default weights, sigmoid with Xavier);
epochs to 85% validation accuracy for 3- and 5-layer nets trained the same way (SGD + momentum, each activation at
its own best learning rate from a pilot); the sparsity of trained ReLU activations; the fraction of dead ReLUs
(never active on the training set) at a good and at a 3x larger learning rate; and the time of the activation's
forward + backward on a million values (interleaved medians of process CPU time). The claim's three parts (gradients
through depth, cost, sparsity) decide; the default-init net, the epochs and the dead units are reported beyond it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.analysis.timing import time_interleaved
from cvprimer.lab._deepmlp import DeepMLP, dead_fraction, weight_grad_norms
from cvprimer.lab.common import fit, load_data, predict
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr, tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "relu, 5 layers, lr x3": "ReLU，5 层，学习率 x3",
    "Convergence": "收敛",
    "fraction never active on the training set": "在训练集上从未激活的比例",
    "Dead ReLUs in the 5-layer net": "5 层网络中的死亡 ReLU",
})

# Learning rates: the best final validation accuracy of {0.03, 0.1, 0.3, 1} in a 6-epoch pilot on 600 digits.
LR = {"relu": 0.1, "sigmoid": 0.3}
INIT = {"relu": "he", "sigmoid": "xavier"}
TARGET = 0.85


def epochs_to(curve: np.ndarray, target: float) -> float:
    """First epoch (1-based) whose value reaches ``target``; ``len(curve) + 1`` when none does (censored)."""
    hit = np.nonzero(np.asarray(curve) >= target)[0]
    return float(hit[0] + 1) if hit.size else float(len(curve) + 1)


def act_times(n: int = 1_000_000, repeat: int = 5) -> dict[str, float]:
    """Median process CPU seconds of forward + backward of ReLU and of sigmoid on ``n`` float32 values, timed
    interleaved (one of each per round, so a busy spell of the machine hits both)."""
    x = cp.tensor(np.random.default_rng(0).standard_normal(n).astype(np.float32), requires_grad=True)

    def go(fn: Any) -> Callable[[], None]:
        def step() -> None:
            x.grad = None
            fn(x).sum().backward()
        return step

    return time_interleaved({"relu": go(F.relu), "sigmoid": go(F.sigmoid)}, repeat=repeat, warmup=1,
                            clock=time.process_time)


class ReluVsSigmoid(Experiment):
    id = "q47-relu-vs-sigmoid"
    questions = (47,)
    topic = "activation"
    thresholds = {"grad_gap_log10": 2.0, "min_sparsity": 0.3, "min_compute_speedup": 1.3}
    reasons = {
        "grad_gap_log10": {
            "en": "Convention: 'vanishes' means the sigmoid net's input-side gradient is at least 100x (2 decades) "
                  "smaller, relative to its output side, than the ReLU net's. Theory puts the gap near 10 x log10(4) "
                  "= 6 decades for 10 layers (sigmoid' <= 1/4); measured about 5 decades, across-seed std ~0.2.",
            "zh": "约定：“梯度消失”指 sigmoid 网络输入侧梯度（相对输出侧）比 ReLU 网络小至少 100 倍（2 个数量级）。"
                  "理论上 10 层的差距约为 10 x log10(4) = 6 个数量级（sigmoid' <= 1/4）；实测约 5 个数量级，"
                  "随机种子间标准差约 0.2。"},
        "min_sparsity": {
            "en": "Convention: 'sparse' means at least 30% of the trained ReLU outputs are exactly zero (a dense code "
                  "would have almost none); measured 0.6-0.75, across-seed std ~0.02.",
            "zh": "约定：“稀疏”指训练后至少 30% 的 ReLU 输出恰为零（稠密表示几乎没有零）；实测 0.6-0.75，"
                  "随机种子间标准差约 0.02。"},
        "min_compute_speedup": {
            "en": "Noise floor: ReLU's forward+backward counts as cheaper from 1.3x sigmoid's; the medians of "
                  "interleaved repeats gave 0.92-1.15x over 6 quick runs on the shared 2-core VM (std about 0.08), "
                  "so a real saving must clear the measured mean by about 3 std.",
            "zh": "噪声下限：ReLU 的前向加反向至少比 sigmoid 快 1.3 倍才算更便宜；在共享的双核虚拟机上，"
                  "交错重复计时的中位数在 6 次快速运行中为 0.92-1.15 倍（标准差约 0.08），"
                  "真实的节省须高出测得均值约 3 个标准差。"},
    }
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "saturation and the vanishing gradient", "zh": "饱和与梯度消失"}
    key_figure = "log10_grad_ratio_sigmoid"
    answer = {
        "confirmed": {
            "en": "Yes: through 10 layers sigmoid's gradient fell to 10^{log10_grad_ratio_sigmoid} while "
                  "ReLU's stayed near 10^{log10_grad_ratio_relu}, ReLU was cheaper, and {relu_sparsity:pct} of "
                  "its outputs were zero.",
            "zh": "是的：经过 10 层，sigmoid 的梯度降到 10^{log10_grad_ratio_sigmoid}，"
                  "ReLU 保持在 10^{log10_grad_ratio_relu} 左右；ReLU 更便宜，"
                  "且 {relu_sparsity:pct} 的输出为零。"},
        "nuanced": {
            "en": "Sigmoid's gradient does vanish through depth (10^{log10_grad_ratio_sigmoid} over 10 layers "
                  "against 10^{log10_grad_ratio_relu} with ReLU) and ReLU's outputs are sparse "
                  "({relu_sparsity:pct} zeros), but treat the cost argument as hardware-dependent: on our "
                  "engine ReLU's forward and backward ran {compute_speedup}x as fast as sigmoid's.",
            "zh": "sigmoid 的梯度确实随深度消失（10 层后为 10^{log10_grad_ratio_sigmoid}，"
                  "ReLU 为 10^{log10_grad_ratio_relu}），ReLU 的输出也是稀疏的（{relu_sparsity:pct} 为零），"
                  "但计算代价的论点取决于硬件：在我们的引擎上，ReLU 前向加反向的速度是 sigmoid 的 "
                  "{compute_speedup} 倍。"},
        "refuted": {
            "en": "The gradients did not separate as claimed here (sigmoid 10^{log10_grad_ratio_sigmoid}, ReLU "
                  "10^{log10_grad_ratio_relu} over 10 layers).",
            "zh": "这里梯度并没有像说法那样拉开差距（10 层后 sigmoid 为 10^{log10_grad_ratio_sigmoid}，"
                  "ReLU 为 10^{log10_grad_ratio_relu}）。"},
    }
    text = {
        "en": {
            "title": "In what ways does ReLU beat sigmoid?",
            "claim": "Sigmoid's derivative is sizeable only near zero and fades in both saturated tails, so "
                     "gradients vanish through the layers; ReLU's derivative is constant for positive inputs, so "
                     "they do not. ReLU's derivative is also cheaper to compute, and its zero slope for negative "
                     "inputs makes the activations sparse.",
            "method": "On the digits: the ratio of the first to the last layer's weight-gradient norm at "
                      "initialization through 10 layers (ReLU with He weights, sigmoid with Xavier weights); the "
                      "forward+backward time of each activation on 10^6 values (interleaved medians); the share "
                      "of zero ReLU outputs on the validation set after training a 5-layer MLP (64 units, SGD with "
                      "momentum, lr 0.1). The three parts are judged separately.",
            "beyond": "The same 10-layer ReLU net with PyTorch's default (smaller) weights; epochs to 85% validation "
                      "accuracy for 3- and 5-layer MLPs (ReLU at lr 0.1, sigmoid at lr 0.3: each its pilot's best); "
                      "the share of ReLUs never active on the training set at lr 0.1 and at 3x that rate.",
        },
        "zh": {
            "title": "ReLU 比 sigmoid 强在哪里？",
            "claim": "sigmoid 的导数只在 0 附近较大，在两端饱和区逐渐消失，因此梯度逐层消失；ReLU 在正半轴导数为常数，"
                     "不会消失。ReLU 的导数也更便宜，负半轴斜率为零又让激活稀疏。",
            "method": "在 digits 上测量：初始化时 10 层网络首层与末层权重梯度范数之比（ReLU 用 He 初始化，sigmoid 用 "
                      "Xavier 初始化）；两种激活在 10^6 个数上前向加反向的耗时（交错计时的中位数）；5 层 MLP（64 个"
                      "单元，带动量 SGD，学习率 0.1）训练后 ReLU 在验证集上输出为 0 的比例。三部分分别判定。",
            "beyond": "同一个 10 层 ReLU 网络改用 PyTorch 默认（偏小）初始化；3 层与 5 层 MLP 达到 85% 验证准确率"
                      "所需轮数（ReLU 学习率 0.1，sigmoid 学习率 0.3，均为预实验最佳）；学习率 0.1 与三倍学习率时"
                      "在训练集上从未激活的 ReLU 比例。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "log10_grad_ratio_{a}": {"en": "log10 gradient norm, first / last layer, {a}",
                                 "zh": "log10 梯度范数 首层/末层（{a}）"},
        "log10_grad_ratio_relu_default_init": {"en": "log10 gradient norm, first / last layer, ReLU default init",
                                               "zh": "log10 梯度范数 首层/末层（ReLU 默认初始化）"},
        "relu_sparsity": {"en": "share of zero ReLU outputs", "zh": "ReLU 输出为零的比例"},
        "compute_speedup": {"en": "compute speed-up of ReLU over sigmoid", "zh": "ReLU 相对 Sigmoid 的计算加速比"},
        "epochs_to_target_{a}_{d}": {"en": "epochs to the target accuracy, {a}, {d} layers",
                                     "zh": "达到目标准确率的轮数（{a}，{d} 层）"},
        "epoch_speedup_{d}": {"en": "epochs sigmoid / ReLU, {d} layers", "zh": "轮数之比 Sigmoid / ReLU（{d} 层）"},
        "epochs_run": {"en": "epochs run", "zh": "运行的轮数"},
        "dead_fraction": {"en": "share of dead ReLU units", "zh": "死亡 ReLU 单元比例"},
        "dead_fraction_lr_x3": {"en": "share of dead ReLU units, lr x3", "zh": "死亡 ReLU 单元比例（学习率 x3）"},
    }

    def measure(self, ctx: Context) -> Result:
        data = load_data("digits", ctx.pick(600, 1400, tiny=200), ctx.pick(360, 360, tiny=100), ctx.rng,
                         standardize=True)
        seed = int(ctx.rng.integers(2**31))
        x, y = data.x_train[:256], data.y_train[:256]
        fig_, rows = {}, []
        for name, act, init in (("relu", "relu", "he"), ("relu_default_init", "relu", "default"),
                                ("sigmoid", "sigmoid", "xavier")):
            g = weight_grad_norms(DeepMLP(10, 64, act, init, rng=np.random.default_rng(seed)), x, y)
            fig_[f"log10_grad_ratio_{name}"] = Figure(float(np.log10(g[0] / g[-1])), "log10")
        epochs = ctx.pick(6, 15, tiny=1)
        curves, models = {}, {}
        with np.errstate(all="ignore"):
            for depth in (3, 5):
                for act in ("relu", "sigmoid"):
                    m = DeepMLP(depth, 64, act, INIT[act], rng=np.random.default_rng(seed))
                    f = fit(m, data, epochs, np.random.default_rng(seed), lr=LR[act], optimizer="momentum")
                    curves[(depth, act)] = f.curve("val_acc")
                    models[(depth, act)] = m
                    e = epochs_to(curves[(depth, act)], TARGET)
                    fig_[f"epochs_to_target_{act}_{depth}"] = Figure(e, "epochs")
                    rows.append([f"{act}, {depth} layers", LR[act], e, float(curves[(depth, act)][-1])])
            hot = DeepMLP(5, 64, "relu", "he", rng=np.random.default_rng(seed))
            f_hot = fit(hot, data, epochs, np.random.default_rng(seed), lr=3 * LR["relu"], optimizer="momentum")
        rows.append(["relu, 5 layers, lr x3", 3 * LR["relu"], epochs_to(f_hot.curve("val_acc"), TARGET),
                     float(f_hot.val_acc)])
        for depth in (3, 5):
            fig_[f"epoch_speedup_{depth}"] = Figure(fig_[f"epochs_to_target_sigmoid_{depth}"].value
                                                    / fig_[f"epochs_to_target_relu_{depth}"].value, "x")
        dead_ok = dead_fraction(models[(5, "relu")], data.x_train)
        dead_hot = dead_fraction(hot, data.x_train)
        fig_["epochs_run"] = Figure(epochs, "epochs")
        fig_["dead_fraction"] = Figure(float(np.mean(list(dead_ok.values()))), "fraction")
        fig_["dead_fraction_lr_x3"] = Figure(float(np.mean(list(dead_hot.values()))), "fraction")
        zeros = []
        model = models[(5, "relu")]
        hooks = [mod.register_forward_hook(lambda m, i, o: zeros.append(float(np.mean(o.data == 0))))
                 for _, mod in model.named_modules() if type(mod).__name__ == "ReLU"]
        predict(model, data.x_val)
        for h in hooks:
            h.remove()
        fig_["relu_sparsity"] = Figure(float(np.mean(zeros)), "fraction")
        t = act_times(repeat=ctx.pick(15, 25, tiny=3), n=ctx.pick(1_000_000, 1_000_000, tiny=100_000))
        t_relu, t_sig = t["relu"], t["sigmoid"]
        fig_["compute_speedup"] = Figure(t_sig / t_relu, "x")

        claim = ("log10_grad_ratio_relu", "log10_grad_ratio_sigmoid", "relu_sparsity", "compute_speedup")
        return Result(figures={k: fig_[k] for k in claim}, beyond={k: v for k, v in fig_.items() if k not in claim},
                      beyond_tables=[Table("runs", ["run", "lr", f"epochs to {TARGET:.0%} val acc", "final val acc"],
                                           rows, {"en": f"Epochs to target; {epochs + 1} means not reached in "
                                                        f"{epochs} epochs.",
                                                  "zh": f"达到目标所需轮数；{epochs + 1} 表示 {epochs} 轮内未达到。"})],
                      series={"curves": curves, "hot_curve": f_hot.curve("val_acc"), "dead_ok": dead_ok,
                              "dead_hot": dead_hot})

    def draw(self, res: Result, ctx: Context) -> None:
        s = res.series
        dead_ok, dead_hot = s["dead_ok"], s["dead_hot"]
        fig, (a1, a2) = ctx.figure(1, 2, size=(10.5, 3.8))
        for (depth, act), c in s["curves"].items():
            a1.plot(np.arange(1, len(c) + 1), c, marker=".", ls="-" if act == "relu" else "--",
                    label=tr(f"{act}, {depth} layers", f"{act}，{depth} 层"))
        a1.plot(np.arange(1, len(c) + 1), s["hot_curve"], marker="x", color="0.5",
                label="relu, 5 layers, lr x3")
        a1.axhline(TARGET, color="k", lw=0.8, ls=":")
        a1.set_xlabel("epoch")
        a1.set_ylabel("validation accuracy")
        a1.set_title("Convergence")
        a1.legend(fontsize=7)
        names = list(dead_ok)  # forward order: input side first
        idx = np.arange(len(names))
        a2.bar(idx - 0.2, [dead_ok[n] for n in names], 0.4, label=tr(f"lr {LR['relu']:g}", f"学习率 {LR['relu']:g}"))
        a2.bar(idx + 0.2, [dead_hot[n] for n in names], 0.4, label=tr(f"lr {3 * LR['relu']:g}",
                                                                      f"学习率 {3 * LR['relu']:g}"))
        a2.set_xticks(idx, [f"ReLU {i + 1}" for i in idx])
        a2.set_ylabel("fraction never active on the training set")
        a2.set_title("Dead ReLUs in the 5-layer net")
        a2.legend()
        ctx.save_figure(fig, "relu_vs_sigmoid", "Left: validation accuracy per epoch for ReLU and sigmoid MLPs of 3 "
                        "and 5 layers, and a ReLU net at three times its learning rate. Right: fraction of dead "
                        "ReLUs per layer at the normal and the tripled learning rate.",
                        "左：3 层与 5 层的 ReLU、sigmoid MLP 每轮的验证准确率，以及学习率放大三倍的 ReLU 网络。"
                        "右：正常学习率与三倍学习率下每层死亡 ReLU 的比例。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        f, t = figures, thresholds
        gap = f["log10_grad_ratio_relu"] - f["log10_grad_ratio_sigmoid"]
        parts = {"gradient": gap >= t["grad_gap_log10"], "cost": f["compute_speedup"] >= t["min_compute_speedup"],
                 "sparsity": f["relu_sparsity"] >= t["min_sparsity"]}
        held = sum(parts.values())
        verdict = verdict_if(held == 3, nuanced=0 < held < 3)
        names_en = {"gradient": "non-vanishing gradients", "cost": "cheaper derivative", "sparsity": "sparsity"}
        names_zh = {"gradient": "梯度不消失", "cost": "导数更便宜", "sparsity": "稀疏性"}
        en = (f"Through 10 layers at initialization the input-side gradient is 10^{fmt(f['log10_grad_ratio_sigmoid'])} "
              f"of the output side with sigmoid and 10^{fmt(f['log10_grad_ratio_relu'])} with ReLU, a gap of "
              f"{fmt(gap)} decades (counts from {fmt(t['grad_gap_log10'])}). On our engine, one CPU thread, ReLU's "
              f"forward+backward ran "
              f"{fmt(f['compute_speedup'])}x faster than sigmoid's (counts from {fmt(t['min_compute_speedup'])}x). "
              f"{fmt(100 * f['relu_sparsity'])}% of the trained ReLU outputs are zero (counts from "
              f"{fmt(100 * t['min_sparsity'])}%).")
        zh = (f"初始化时 10 层网络中，sigmoid 的输入侧梯度是输出侧的 10^{fmt(f['log10_grad_ratio_sigmoid'])}，"
              f"ReLU 为 10^{fmt(f['log10_grad_ratio_relu'])}，相差 {fmt(gap)} 个数量级（至少 "
              f"{fmt(t['grad_gap_log10'])} 才算）。在我们的引擎上（单个 CPU 线程），ReLU 前向加反向比 sigmoid 快 "
              f"{fmt(f['compute_speedup'])} 倍"
              f"（至少 {fmt(t['min_compute_speedup'])} 倍才算）。训练后 {fmt(100 * f['relu_sparsity'])}% 的 ReLU "
              f"输出为 0（至少 {fmt(100 * t['min_sparsity'])}% 才算）。")
        if 0 < held < 3:
            ok = [k for k, v in parts.items() if v]
            bad = [k for k, v in parts.items() if not v]
            en += (f" Held: {', '.join(names_en[k] for k in ok)}; not measured here: "
                   f"{', '.join(names_en[k] for k in bad)}.")
            zh += (f"成立的部分：{'、'.join(names_zh[k] for k in ok)}；"
                   f"这里没有测到：{'、'.join(names_zh[k] for k in bad)}。")
        return verdict, evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        b = beyond
        cens = b["epochs_to_target_sigmoid_5"] > b["epochs_run"]
        cens_en = f" (a lower bound: not reached in {fmt(b['epochs_run'])} epochs)" if cens else ""
        cens_zh = f"（下界：{fmt(b['epochs_run'])} 轮内未达到）" if cens else ""
        return {
            "en": f"With PyTorch's default (smaller) weights the 10-layer ReLU net's ratio is "
                  f"10^{fmt(b['log10_grad_ratio_relu_default_init'])}: a constant derivative keeps gradients only "
                  f"when the weight scale matches it. ReLU nets reached 85% validation accuracy "
                  f"{fmt(b['epoch_speedup_3'])}x (3 layers) and {fmt(b['epoch_speedup_5'])}x (5 layers) sooner "
                  f"than sigmoid nets{cens_en}. {fmt(100 * b['dead_fraction'])}% of the 5-layer net's ReLUs never "
                  f"fired on the training set at lr 0.1, {fmt(100 * b['dead_fraction_lr_x3'])}% at 3x that rate.",
            "zh": f"改用 PyTorch 默认（偏小）初始化时，10 层 ReLU 网络的比值为 "
                  f"10^{fmt(b['log10_grad_ratio_relu_default_init'])}：导数为常数只有在权重尺度匹配时才能保住梯度。"
                  f"ReLU 网络达到 85% 验证准确率的速度是 sigmoid 网络的 {fmt(b['epoch_speedup_3'])} 倍（3 层）和 "
                  f"{fmt(b['epoch_speedup_5'])} 倍（5 层）{cens_zh}。学习率 0.1 时 5 层网络中有 "
                  f"{fmt(100 * b['dead_fraction'])}% 的 ReLU 在训练集上从未激活，三倍学习率时为 "
                  f"{fmt(100 * b['dead_fraction_lr_x3'])}%。"}
