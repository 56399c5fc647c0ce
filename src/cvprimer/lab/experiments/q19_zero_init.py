"""Question 19: can a network whose weights start at zero be trained?

Measured on an MLP (64-32-32-10) on the digits with ReLU, tanh and sigmoid: five initializations (the
library's default random one, all zero, zero hidden layers only, zero last layer only, one constant for every
weight), the same SGD run for each; which parameters moved, the numerical rank of every weight matrix after
training (identical units give rank 1; in exact arithmetic nothing breaks that symmetry, in floating point only
rounding can) and the validation accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import nn
from cvprimer.analysis.timing import blas_threads
from cvprimer.lab.common import fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

ACTS: dict[str, Callable[[], Any]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
SCHEMES = ("random", "all_zero", "zero_hidden", "zero_last", "constant")
CONSTANT = 0.05


def mlp(act: Callable[[], Any]) -> Any:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), act(), nn.Linear(32, 32), act(), nn.Linear(32, 10))


def linears(model: Any) -> list[Any]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def apply_scheme(model: Any, scheme: str) -> Any:
    """Initialize ``model``'s Linear layers in place: ``random`` leaves the default, ``all_zero`` zeroes every
    weight and bias, ``zero_hidden`` the hidden layers', ``zero_last`` the output layer's, ``constant`` sets
    every weight to 0.05 and every bias to 0."""
    layers = linears(model)
    chosen = {"random": [], "all_zero": layers, "zero_hidden": layers[:-1], "zero_last": layers[-1:],
              "constant": layers}[scheme]
    for lin in chosen:
        if scheme == "constant":
            nn.init.constant_(lin.weight, CONSTANT)
        else:
            nn.init.zeros_(lin.weight)
        nn.init.zeros_(lin.bias)
    return model


def numerical_rank(w: np.ndarray, rtol: float = 1e-4) -> int:
    """Singular values above ``rtol`` times the largest (0 for an all-zero matrix)."""
    s = np.linalg.svd(np.asarray(w, np.float64), compute_uv=False)
    return int((s > rtol * s[0]).sum()) if s.size and s[0] > 0 else 0


class ZeroInit(Experiment):
    id = "q19-zero-init"
    questions = (19,)
    topic = "training"
    thresholds = {"chance_margin": 0.05, "trains_gap": 0.1}
    text = {
        "en": {
            "title": "Zero initialization: what exactly stops learning",
            "claim": "A network whose weights are initialized to zero cannot be trained: every input gives the same "
                     "output, so the network cannot update.",
            "method": "Train the same 64-32-32-10 MLP on the digits with ReLU, tanh and sigmoid, starting from the "
                      "default random initialization, all-zero weights and biases, zero hidden layers only, a zero "
                      "output layer only, and one constant (0.05) for every weight. After the same SGD run, record "
                      "which parameter tensors moved, the numerical rank of each weight matrix and the validation "
                      "accuracy (chance is 0.1).",
        },
        "zh": {
            "title": "全零初始化：到底是什么阻止了学习",
            "claim": "如果把网络权重初始化为 0，网络无法训练：不同输入得到相同输出，网络无法更新。",
            "method": "在 digits 上训练同一个 64-32-32-10 的 MLP（ReLU、tanh、sigmoid 三种激活），"
                      "初始化分别为：默认随机、所有权重和偏置为零、仅隐藏层为零、仅输出层为零、"
                      "所有权重取同一常数 0.05。用同样的 SGD 训练后，记录哪些参数发生了变化、"
                      "每个权重矩阵的数值秩以及验证准确率（随机猜测为 0.1）。",
        },
    }

    def run(self, ctx: Context) -> Result:
        with blas_threads(1):  # small matrices: one BLAS thread is as fast alone and far faster on a busy CPU
            return self._run(ctx)

    def _run(self, ctx: Context) -> Result:
        data = load_data("digits", ctx.pick(500, 1437), 360, ctx.rng)
        epochs = ctx.pick(6, 30)
        state = ctx.rng.bit_generator.state
        acc: dict[tuple[str, str], float] = {}
        rows = []
        moved: dict[tuple[str, str], list[str]] = {}
        ranks: dict[tuple[str, str], list[int]] = {}
        for act_name, act in ACTS.items():
            for scheme in SCHEMES:
                cp.manual_seed(ctx.seed)
                model = apply_scheme(mlp(act), scheme)
                before = {n: p.data.copy() for n, p in model.named_parameters()}
                gen = np.random.default_rng()
                gen.bit_generator.state = state
                with blas_threads(1):  # small matrices: one thread is faster and steady on a busy machine
                    f = fit(model, data, epochs, gen, lr=1e-2, optimizer="adam", batch_size=32)
                key = (act_name, scheme)
                acc[key] = f.val_acc
                moved[key] = [n for n, p in model.named_parameters() if not np.array_equal(p.data, before[n])]
                ranks[key] = [numerical_rank(lin.weight.data) for lin in linears(model)]
                rows.append([act_name, scheme, f.val_acc, f.train_acc, ", ".join(moved[key]) or "none",
                             " / ".join(str(r) for r in ranks[key])])
        self._plot(ctx, acc)
        figures = {f"acc_{s}_{a}": Figure(acc[a, s], "fraction") for a in ACTS for s in SCHEMES}
        for a in ACTS:
            figures[f"moved_all_zero_{a}"] = Figure(len(moved[a, "all_zero"]), "tensors")
            figures[f"hidden_rank_all_zero_{a}"] = Figure(max(ranks[a, "all_zero"][:-1]), "")
            figures[f"hidden_rank_constant_{a}"] = Figure(max(ranks[a, "constant"][:-1]), "")
        table = Table("runs", ["activation", "init", "val acc", "train acc", "parameters that moved",
                               "rank of W1 / W2 / W3"], rows,
                      {"en": f"After {epochs} epochs of SGD with momentum (lr 0.1, batch 32). Full rank is 32 / 32 / "
                             "10; 'moved' means the tensor differs from its initial value.",
                       "zh": f"SGD（动量，学习率 0.1，批大小 32）训练 {epochs} 轮后的结果。满秩为 32 / 32 / 10；"
                             "“发生变化”指该参数张量与初值不同。"})
        return Result(figures=figures, tables=[table])

    @staticmethod
    def _plot(ctx: Context, acc: Mapping[tuple[str, str], float]) -> None:
        fig, ax = ctx.figure(1, 1, size=(8, 3.6))
        width = 0.26
        x = np.arange(len(SCHEMES))
        for i, a in enumerate(ACTS):
            ax.bar(x + (i - 1) * width, [acc[a, s] for s in SCHEMES], width, label=a)
        ax.axhline(0.1, color="k", ls=":", lw=1, label="chance")
        ax.set_xticks(x, [s.replace("_", " ") for s in SCHEMES])
        ax.set_ylabel("validation accuracy")
        ax.set_ylim(0, 1)
        ax.set_title("MLP 64-32-32-10 on digits, by initialization")
        ax.legend(ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.12))
        ctx.save_figure(fig, "accuracy", "Validation accuracy of the MLP for five initializations and three "
                        "activations; the dotted line is chance.",
                        "五种初始化、三种激活函数下 MLP 的验证准确率；虚线为随机猜测水平。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        margin, gap = thresholds["chance_margin"], thresholds["trains_gap"]
        chance = 0.1
        zero = {a: figures[f"acc_all_zero_{a}"] for a in ACTS}
        last = {a: figures[f"acc_zero_last_{a}"] for a in ACTS}
        base = {a: figures[f"acc_random_{a}"] for a in ACTS}
        stuck = [a for a in ACTS if zero[a] <= chance + margin]
        above = [a for a in ACTS if zero[a] > chance + margin]
        zero_trains = [a for a in ACTS if zero[a] >= base[a] - gap]
        last_trains = [a for a in ACTS if last[a] >= base[a] - gap]
        z = ", ".join(f"{a} {fmt(zero[a])}" for a in ACTS)
        lz = ", ".join(f"{a} {fmt(last[a])}" for a in ACTS)
        b = ", ".join(f"{a} {fmt(base[a])}" for a in ACTS)
        moved = ", ".join(f"{a} {fmt(figures[f'moved_all_zero_{a}'])}" for a in ACTS)
        rank = ", ".join(f"{a} {fmt(figures[f'hidden_rank_all_zero_{a}'])}" for a in ACTS)
        en = (f"All-zero init: validation accuracy {z} (stuck: <= chance + {fmt(margin)} = {fmt(chance + margin)}); "
              f"parameter tensors that moved (of 6): {moved}; largest hidden-weight rank (full: 32): {rank}. "
              f"Output layer zero only: {lz}; default random init: {b} (trains: within {fmt(gap)} of random).")
        zh = (f"全零初始化：验证准确率 {z}（“卡住”：不超过随机水平 + {fmt(margin)} = {fmt(chance + margin)}）；"
              f"发生变化的参数张量（共 6 个）：{moved}；隐藏层权重的最大秩（满秩 32）：{rank}。"
              f"仅输出层为零：{lz}；默认随机初始化：{b}（“能训练”：与随机初始化相差不超过 {fmt(gap)}）。")
        if len(stuck) == len(ACTS) and not last_trains:
            return verdict_if(True), evidence(en=en + " Zero weights stop learning in every case tried.",
                                              zh=zh + "所有情形下零权重都使学习停滞。")
        if len(zero_trains) == len(ACTS):
            return verdict_if(False), evidence(
                en=en + " Every all-zero network trained as well as a random one: the claim does not hold here.",
                zh=zh + "所有全零网络都训练得与随机初始化一样好：该说法在此不成立。")
        en += f" All-zero is stuck with {', '.join(stuck) or 'none'}"
        zh += f"全零时卡住的激活：{'、'.join(stuck) or '无'}"
        if above:
            r = max(figures[f"hidden_rank_all_zero_{a}"] for a in above)
            en += f"; with {', '.join(above)} it learns above chance"
            zh += f"；{'、'.join(above)} 能学到高于随机水平的结果"
            if r <= 1:
                en += ", but every hidden layer keeps rank <= 1 (all units identical)"
                zh += "，但每个隐藏层的秩不超过 1（所有单元相同）"
            else:
                en += (f", and its hidden weights, identical in exact arithmetic, reach rank {fmt(r)}: rounding "
                       f"differences break the symmetry slowly and Adam's normalized steps amplify them")
                zh += (f"，其隐藏层权重在精确算术下应完全相同，实际秩却达到 {fmt(r)}：舍入误差缓慢地打破了对称性，"
                       f"Adam 的归一化步长又放大了这种差异")
        if last_trains:
            en += (f"; a zero output layer alone trains with {', '.join(last_trains)}: what blocks learning is "
                   f"identical hidden units (a constant init does the same), not zeros as such")
            zh += (f"；仅输出层为零时 {'、'.join(last_trains)} 能正常训练：阻碍学习的是完全相同的隐藏单元"
                   f"（常数初始化同样如此），而不是零本身")
        return verdict_if(False, nuanced=True), evidence(en=en + ".", zh=zh + "。")
