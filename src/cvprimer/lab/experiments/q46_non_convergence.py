"""Question 46: a model that does not converge is not necessarily a bad model; what makes training fail.

One MLP (3 layers, 64 ReLU units, He weights) that converges on the standardized digits with SGD + momentum is
trained again with one thing broken at a time: learning rate far too high or too low, raw 0..255 inputs, half
the labels randomized, the training labels shuffled (a data-pipeline bug), all weights zero, a 2-unit hidden
layer. Each run is diagnosed by :func:`cvprimer.train.diagnose` (with a GradientMonitor and per-step losses):
does a finding or its remedies name the real cause?
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cvprimer.analysis.timing import blas_threads
from cvprimer.lab._deepmlp import DeepMLP, monitored_fit
from cvprimer.lab.common import Data, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

BASE = dict(depth=3, width=64, act="relu", init="he")
LR = 0.05
# cause -> (in the seed's list?, words of a remedy that would name it)
CAUSES: dict[str, tuple[bool, str]] = {
    "lr_too_high": (True, "lower the learning rate"),
    "lr_too_low": (True, "raise the learning rate"),
    "no_input_normalization": (True, "normalis"),
    "noisy_labels": (True, "mislabelled"),
    "model_too_small": (True, "larger model"),
    "labels_shuffled_bug": (False, "label"),
    "zero_initialization": (False, "initialisation"),
}


def with_noisy_labels(d: Data, frac: float, rng: np.random.Generator) -> Data:
    """A copy of ``d`` whose training labels are replaced by uniform random classes with probability ``frac``."""
    y = d.y_train.copy()
    hit = rng.random(len(y)) < frac
    y[hit] = rng.integers(0, d.num_classes, int(hit.sum()))
    return Data(d.x_train, y, d.x_val, d.y_val)


def names_cause(remedies: list[str], words: str) -> bool:
    """Whether any remedy mentions ``words`` (case-insensitive)."""
    return any(words in r.lower() for r in remedies)


class NonConvergence(Experiment):
    id = "q46-non-convergence"
    questions = (46,)
    topic = "training"
    thresholds = {"baseline_min_acc": 0.9, "hurt_min_drop": 0.1}
    text = {
        "en": {
            "title": "Why a model does not converge, and whether the diagnosis finds the cause",
            "claim": "A model that does not converge is not necessarily useless. Causes: inaccurate labels, data "
                     "too rich for the model to fit, a learning rate too large (oscillation) or too small, a model "
                     "too simple for a complex task, inputs that were not normalized.",
            "method": "One 3-layer MLP that converges on the standardized digits (SGD, momentum 0.9, lr 0.05) is "
                      "retrained with one fault at a time: lr 3 and lr 1e-5, raw 0..255 inputs, 50% random labels, "
                      "a 2-unit hidden layer (the seed's causes), and two it omits: training labels shuffled (a "
                      "pipeline bug) and all-zero weights. A fault 'prevents convergence' when the final training "
                      "accuracy drops by 0.1 or more. Each run is diagnosed by cvprimer.train.diagnose.",
        },
        "zh": {
            "title": "模型为何不收敛，诊断能否找到原因",
            "claim": "模型不收敛并不说明模型无效。原因可能有：标注不准确；样本信息量太大，模型不足以拟合；"
                     "学习率太大会震荡、太小则不收敛；复杂任务用了过于简单的模型；数据没有归一化。",
            "method": "一个在标准化 digits 上能收敛的 3 层 MLP（SGD，动量 0.9，学习率 0.05），每次只引入一个故障"
                      "重新训练：学习率 3 与 1e-5、未归一化的 0..255 输入、50% 随机标签、隐藏层只有 2 个单元"
                      "（原文列出的原因），以及原文遗漏的两个：训练标签被打乱（数据管道的 bug）和权重全零。"
                      "最终训练准确率下降 0.1 及以上即视为“阻止收敛”。每次运行都由 "
                      "cvprimer.train.diagnose 诊断。",
        },
    }

    def run(self, ctx: Context) -> Result:
        with blas_threads(1):  # small matrices: one BLAS thread is faster on a shared machine
            return self._measure(ctx)

    def _measure(self, ctx: Context) -> Result:
        d = load_data("digits", ctx.pick(600, 1400), 360, ctx.rng, standardize=True)
        raw = load_data("digits", ctx.pick(600, 1400), 360, np.random.default_rng(ctx.seed))
        raw = Data(raw.x_train * 255, raw.y_train, raw.x_val * 255, raw.y_val)
        gen = ctx.child_rng()
        setups = {
            "baseline": ({}, d, LR),
            "lr_too_high": ({}, d, 3.0),
            "lr_too_low": ({}, d, 1e-5),
            "no_input_normalization": ({}, raw, LR),
            "noisy_labels": ({}, with_noisy_labels(d, 0.5, gen), LR),
            "model_too_small": ({"width": 2}, d, LR),
            "labels_shuffled_bug": ({}, Data(d.x_train, gen.permutation(d.y_train), d.x_val, d.y_val), LR),
            "zero_initialization": ({"scale": 0.0}, d, LR),
        }
        epochs, seed = ctx.pick(6, 20), int(ctx.rng.integers(2**31))
        figures, rows, curves = {}, [], {}
        named = 0
        for name, (kw, data, lr) in setups.items():
            run = monitored_fit(DeepMLP(rng=np.random.default_rng(seed), **dict(BASE, **kw)), data, epochs,
                                np.random.default_rng(seed), lr=lr, optimizer="momentum")
            curves[name] = run.fit.curve("train_loss")
            acc = run.fit.train_acc if np.isfinite(run.fit.train_acc) else 0.0
            figures[f"train_acc_{name}"] = Figure(acc, "fraction")
            hit = names_cause(run.remedies(), CAUSES[name][1]) if name in CAUSES else None
            named += bool(hit)
            if name == "baseline":
                figures["baseline_findings"] = Figure(len(run.findings), "findings")
            if name == "lr_too_high":
                figures["lr_too_high_diverged"] = Figure(float("divergence" in run.kinds), "bool")
                figures["lr_too_high_oscillation"] = Figure(float("oscillation" in run.kinds), "bool")
            rows.append([name, "" if name == "baseline" else ("yes" if CAUSES[name][0] else "no"), lr, acc,
                         run.fit.val_acc, ", ".join(run.kinds) or "(nothing)",
                         "" if hit is None else ("yes" if hit else "no")])
        figures["diagnosis_names_cause"] = Figure(named / len(CAUSES), "fraction")

        fig, ax = ctx.figure(1, 1, size=(7.5, 4))
        for name, c in curves.items():
            ax.semilogy(np.arange(1, len(c) + 1), np.where(np.isfinite(c), c, np.nan), marker=".", label=name,
                        lw=2.5 if name == "baseline" else 1.3)
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss (log)")
        ax.set_title("The same MLP with one fault at a time")
        ax.legend(fontsize=7, ncol=2)
        ctx.save_figure(fig, "faults", "Training loss per epoch of the same MLP, healthy and with each of seven "
                        "faults (log scale).", "同一个 MLP 在正常情况下与七种故障下每轮的训练损失（对数坐标）。")
        cols = ["run", "in the seed's list", "lr", "train acc", "val acc", "diagnose findings",
                "a remedy names the cause"]
        return Result(figures=figures, tables=[Table("faults", cols, rows, {
            "en": "Each fault alone; training accuracy is measured against the labels the model was given.",
            "zh": "每次只引入一种故障；训练准确率按模型训练时所用的标签计算。"})])

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        base, drop = figures["train_acc_baseline"], thresholds["hurt_min_drop"]
        hurt = {c: base - figures[f"train_acc_{c}"] >= drop for c in CAUSES}
        seed_hurt = [c for c, (listed, _) in CAUSES.items() if listed and hurt[c]]
        n_seed = sum(1 for listed, _ in CAUSES.values() if listed)
        omitted = [c for c, (listed, _) in CAUSES.items() if not listed and hurt[c]]
        ok = base >= thresholds["baseline_min_acc"]
        verdict = verdict_if(ok and len(seed_hurt) == n_seed and not omitted, nuanced=ok and len(seed_hurt) >= 3)
        osc = figures["lr_too_high_oscillation"] >= 1
        div = figures["lr_too_high_diverged"] >= 1
        en = (f"The healthy run reaches training accuracy {fmt(base)} (needed {fmt(thresholds['baseline_min_acc'])}), "
              f"so the model itself is fine. {len(seed_hurt)} of the seed's {n_seed} causes stop it from converging "
              f"(accuracy down by at least {fmt(drop)}: {', '.join(seed_hurt) or 'none'}); causes it omits also do: "
              f"{', '.join(omitted) or 'none'}. ")
        zh = (f"正常训练的训练准确率为 {fmt(base)}（要求 {fmt(thresholds['baseline_min_acc'])}），模型本身没有问题。"
              f"原文 {n_seed} 个原因中有 {len(seed_hurt)} 个使其不收敛（准确率下降至少 {fmt(drop)}："
              f"{', '.join(seed_hurt) or '无'}）；原文遗漏的原因同样会导致不收敛：{', '.join(omitted) or '无'}。")
        if div and not osc:
            en += "A learning rate far too high made the loss diverge rather than oscillate. "
            zh += "学习率过大时损失是发散，而不是原文所说的震荡。"
        en += (f"diagnose named the real cause among its findings' remedies for "
               f"{fmt(100 * figures['diagnosis_names_cause'])}% of the faults and raised "
               f"{fmt(figures['baseline_findings'])} findings on the healthy run: it reports symptoms (divergence, "
               f"stall, underfitting), not causes.")
        zh += (f"diagnose 的结论及建议中点出真实原因的故障占 {fmt(100 * figures['diagnosis_names_cause'])}%，"
               f"对正常训练给出 {fmt(figures['baseline_findings'])} 条结论：它报告的是症状（发散、停滞、欠拟合），"
               f"而不是原因。")
        return verdict, evidence(en=en, zh=zh)
