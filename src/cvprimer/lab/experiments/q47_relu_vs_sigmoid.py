"""Question 47: what ReLU does better than sigmoid.

Measured on the digits with :class:`cvprimer.lab._deepmlp.DeepMLP`: the input-to-output ratio of weight-gradient
norms at initialization through 10 layers (ReLU with He and with PyTorch's default weights, sigmoid with Xavier);
epochs to 85% validation accuracy for 3- and 5-layer nets trained the same way (SGD + momentum, each activation at
its own best learning rate from a pilot); the sparsity of trained ReLU activations; the fraction of dead ReLUs
(never active on the training set) at a good and at a 3x larger learning rate; and the time of the activation's
forward + backward on a million values.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.analysis.timing import blas_threads
from cvprimer.lab._deepmlp import DeepMLP, dead_fraction, weight_grad_norms
from cvprimer.lab.common import fit, load_data, median_time, predict
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

# Learning rates: the best final validation accuracy of {0.03, 0.1, 0.3, 1} in a 6-epoch pilot on 600 digits.
LR = {"relu": 0.1, "sigmoid": 0.3}
INIT = {"relu": "he", "sigmoid": "xavier"}
TARGET = 0.85


def epochs_to(curve: np.ndarray, target: float) -> float:
    """First epoch (1-based) whose value reaches ``target``; ``len(curve) + 1`` when none does (censored)."""
    hit = np.nonzero(np.asarray(curve) >= target)[0]
    return float(hit[0] + 1) if hit.size else float(len(curve) + 1)


def act_time(fn: object, n: int = 1_000_000, repeat: int = 5) -> float:
    """Median seconds of forward + backward of an activation on ``n`` float32 values."""
    x = cp.tensor(np.random.default_rng(0).standard_normal(n).astype(np.float32), requires_grad=True)

    def go() -> None:
        x.grad = None
        fn(x).sum().backward()

    return median_time(go, repeat=repeat)


class ReluVsSigmoid(Experiment):
    id = "q47-relu-vs-sigmoid"
    questions = (47,)
    topic = "activation"
    thresholds = {"grad_gap_log10": 2.0, "min_epoch_speedup": 1.5, "min_sparsity": 0.3, "max_dead": 0.3,
                  "min_compute_speedup": 1.2, "scale_gap_log10": 1.0}
    text = {
        "en": {
            "title": "ReLU vs sigmoid: gradients through depth, speed, sparsity and dead units",
            "claim": "Sigmoid's derivative is sizeable only near zero and tends to zero in both saturated tails, so "
                     "gradients vanish; ReLU's derivative is constant for positive inputs, so they do not. ReLU's "
                     "derivative is cheaper to compute, and its zero output for negative inputs makes the network "
                     "sparse.",
            "method": "On the digits: gradient-norm ratio from the first to the last of 10 layers at initialization; "
                      "epochs to 85% validation accuracy for 3- and 5-layer MLPs (64 units, SGD with momentum, "
                      "ReLU at lr 0.1 with He weights, sigmoid at lr 0.3 with Xavier weights: each its pilot's "
                      "best); share of zero ReLU outputs after training; share of ReLUs never active on the whole "
                      "training set at lr 0.1 and 0.3; forward+backward time on 10^6 values.",
        },
        "zh": {
            "title": "ReLU 与 sigmoid：梯度随深度的变化、收敛速度、稀疏性与死亡单元",
            "claim": "sigmoid 的导数只在 0 附近较大，在两端饱和区趋于 0，因此梯度会消失；ReLU 在正半轴导数为常数，"
                     "不会出现梯度消失。ReLU 的导数计算更快，负半轴输出为 0 又使网络具有稀疏性。",
            "method": "在 digits 上测量：初始化时 10 层网络首层与末层梯度范数之比；3 层与 5 层 MLP（64 个单元，"
                      "带动量 SGD；ReLU 用学习率 0.1 与 He 初始化，sigmoid 用学习率 0.3 与 Xavier 初始化，"
                      "均为预实验中的最佳值）达到 85% 验证准确率所需的轮数；训练后 ReLU 输出为 0 的比例；"
                      "学习率 0.1 与 0.3 时在整个训练集上从未激活的 ReLU 比例；在 10^6 个数上前向加反向的耗时。",
        },
    }

    def run(self, ctx: Context) -> Result:
        with blas_threads(1):  # small matrices: one BLAS thread is faster on a shared machine
            return self._measure(ctx)

    def _measure(self, ctx: Context) -> Result:
        data = load_data("digits", ctx.pick(600, 1400), 360, ctx.rng, standardize=True)
        seed = int(ctx.rng.integers(2**31))
        x, y = data.x_train[:256], data.y_train[:256]
        fig_, rows = {}, []
        for name, act, init in (("relu", "relu", "he"), ("relu_default_init", "relu", "default"),
                                ("sigmoid", "sigmoid", "xavier")):
            g = weight_grad_norms(DeepMLP(10, 64, act, init, rng=np.random.default_rng(seed)), x, y)
            fig_[f"log10_grad_ratio_{name}"] = Figure(float(np.log10(g[0] / g[-1])), "log10")
        epochs = ctx.pick(6, 15)
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
        t_relu, t_sig = act_time(F.relu, repeat=ctx.pick(3, 9)), act_time(F.sigmoid, repeat=ctx.pick(3, 9))
        fig_["compute_speedup"] = Figure(t_sig / t_relu, "x")

        fig, (a1, a2) = ctx.figure(1, 2, size=(10.5, 3.8))
        for (depth, act), c in curves.items():
            a1.plot(np.arange(1, len(c) + 1), c, marker=".", ls="-" if act == "relu" else "--",
                    label=f"{act}, {depth} layers")
        a1.plot(np.arange(1, len(c) + 1), f_hot.curve("val_acc"), marker="x", color="0.5",
                label="relu, 5 layers, lr x3")
        a1.axhline(TARGET, color="k", lw=0.8, ls=":")
        a1.set_xlabel("epoch")
        a1.set_ylabel("validation accuracy")
        a1.set_title("Convergence")
        a1.legend(fontsize=7)
        names = list(dead_ok)  # forward order: input side first
        idx = np.arange(len(names))
        a2.bar(idx - 0.2, [dead_ok[n] for n in names], 0.4, label=f"lr {LR['relu']:g}")
        a2.bar(idx + 0.2, [dead_hot[n] for n in names], 0.4, label=f"lr {3 * LR['relu']:g}")
        a2.set_xticks(idx, [f"ReLU {i + 1}" for i in idx])
        a2.set_ylabel("fraction never active on the training set")
        a2.set_title("Dead ReLUs in the 5-layer net")
        a2.legend()
        ctx.save_figure(fig, "relu_vs_sigmoid", "Left: validation accuracy per epoch for ReLU and sigmoid MLPs of 3 "
                        "and 5 layers, and a ReLU net at three times its learning rate. Right: fraction of dead "
                        "ReLUs per layer at the normal and the tripled learning rate.",
                        "左：3 层与 5 层的 ReLU、sigmoid MLP 每轮的验证准确率，以及学习率放大三倍的 ReLU 网络。"
                        "右：正常学习率与三倍学习率下每层死亡 ReLU 的比例。")
        return Result(figures=fig_, tables=[Table("runs", ["run", "lr", f"epochs to {TARGET:.0%} val acc",
                                                           "final val acc"], rows, {
            "en": f"Epochs to target; {epochs + 1} means not reached in {epochs} epochs.",
            "zh": f"达到目标所需轮数；{epochs + 1} 表示 {epochs} 轮内未达到。"})])

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        f, t = figures, thresholds
        gap = f["log10_grad_ratio_relu"] - f["log10_grad_ratio_sigmoid"]
        speed = min(f["epoch_speedup_3"], f["epoch_speedup_5"])
        core = gap >= t["grad_gap_log10"] and speed >= t["min_epoch_speedup"] and f["relu_sparsity"] >= t[
            "min_sparsity"]
        dead_ok = f["dead_fraction_lr_x3"] < t["max_dead"]
        compute_ok = f["compute_speedup"] >= t["min_compute_speedup"]
        verdict = verdict_if(core and dead_ok and compute_ok, nuanced=core)
        cens = f["epochs_to_target_sigmoid_5"] > f["epochs_run"]
        cens_en = (f"; a lower bound: the 5-layer sigmoid net never reached it in {fmt(f['epochs_run'])} epochs"
                   if cens else "")
        cens_zh = f"；此为下界：5 层 sigmoid 网络在 {fmt(f['epochs_run'])} 轮内未达到" if cens else ""
        scale = f["log10_grad_ratio_relu"] - f["log10_grad_ratio_relu_default_init"] >= t["scale_gap_log10"]
        scale_en = (f" (at least {fmt(t['scale_gap_log10'])} decade lower: a constant derivative alone does not "
                    f"prevent vanishing, the weight scale must match)") if scale else ""
        scale_zh = (f"（低了至少 {fmt(t['scale_gap_log10'])} 个数量级：导数为常数本身并不能避免梯度消失，"
                    f"还需要权重尺度与之匹配）") if scale else ""
        en = (f"Through 10 layers the input-side gradient is 10^{fmt(f['log10_grad_ratio_sigmoid'])} of the "
              f"output side with sigmoid and 10^{fmt(f['log10_grad_ratio_relu'])} with ReLU (gap {fmt(gap)} "
              f"decades, threshold {fmt(t['grad_gap_log10'])}), and 10^{fmt(f['log10_grad_ratio_relu_default_init'])} "
              f"with ReLU and PyTorch's default (smaller) weights{scale_en}. ReLU "
              f"reaches 85% validation accuracy {fmt(f['epoch_speedup_3'])}x (3 layers) and "
              f"{fmt(f['epoch_speedup_5'])}x (5 layers) sooner (threshold {fmt(t['min_epoch_speedup'])}x{cens_en}); "
              f"{fmt(100 * f['relu_sparsity'])}% of its outputs are zero (threshold "
              f"{fmt(100 * t['min_sparsity'])}%). ")
        zh = (f"10 层网络中，sigmoid 的输入侧梯度是输出侧的 10^{fmt(f['log10_grad_ratio_sigmoid'])}，"
              f"ReLU 为 10^{fmt(f['log10_grad_ratio_relu'])}（相差 {fmt(gap)} 个数量级，阈值 "
              f"{fmt(t['grad_gap_log10'])}）；ReLU 配 PyTorch 默认（偏小）初始化时为 "
              f"10^{fmt(f['log10_grad_ratio_relu_default_init'])}{scale_zh}。"
              f"ReLU 达到 85% 验证准确率的速度是 sigmoid 的 {fmt(f['epoch_speedup_3'])} 倍（3 层）和 "
              f"{fmt(f['epoch_speedup_5'])} 倍（5 层）（阈值 {fmt(t['min_epoch_speedup'])} 倍{cens_zh}）；"
              f"{fmt(100 * f['relu_sparsity'])}% 的输出为 0（阈值 {fmt(100 * t['min_sparsity'])}%）。")
        en += (f"The price the seed leaves out: {fmt(100 * f['dead_fraction'])}% of ReLUs are dead at the good "
               f"learning rate and {fmt(100 * f['dead_fraction_lr_x3'])}% at three times it (tolerated "
               f"{fmt(100 * t['max_dead'])}%); a dead unit never recovers. ReLU's forward+backward is "
               f"{fmt(f['compute_speedup'])}x faster than sigmoid's (threshold {fmt(t['min_compute_speedup'])}x).")
        zh += (f"原文没有提到的代价：正常学习率下有 {fmt(100 * f['dead_fraction'])}% 的 ReLU 死亡，学习率放大三倍时为 "
               f"{fmt(100 * f['dead_fraction_lr_x3'])}%（容忍上限 {fmt(100 * t['max_dead'])}%），死亡单元不会再恢复。"
               f"ReLU 前向加反向比 sigmoid 快 {fmt(f['compute_speedup'])} 倍"
               f"（阈值 {fmt(t['min_compute_speedup'])} 倍）。")
        return verdict, evidence(en=en, zh=zh)
