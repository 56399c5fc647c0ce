"""Question 46: a model that does not converge is not necessarily a bad model; what makes training fail.

One MLP (3 layers, 64 ReLU units, He weights) that converges on the standardized digits with SGD + momentum is
trained again with one thing broken at a time: learning rate far too high or too low, raw 0..255 inputs, half
the labels randomized, the training labels shuffled (a data-pipeline bug), all weights zero, a 2-unit hidden
layer. Each run is diagnosed by :func:`cvprimer.train.diagnose` (with a GradientMonitor and per-step losses):
does a finding or its remedies name the real cause?
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cvprimer.lab._deepmlp import DeepMLP, monitored_fit
from cvprimer.lab.common import Data, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "The same MLP with one fault at a time": "同一个 MLP，每次引入一种故障",
    "baseline": "基线",
    "labels_shuffled_bug": "标签被打乱（程序错误）",
    "lr_too_high": "学习率过高",
    "lr_too_low": "学习率过低",
    "model_too_small": "模型过小",
    "no_input_normalization": "输入未归一化",
    "noisy_labels": "标签噪声",
    "zero_initialization": "零初始化",
})

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
# how the Chinese texts name each cause (no identifiers in prose)
CAUSE_ZH = {"lr_too_high": "学习率过高", "lr_too_low": "学习率过低", "no_input_normalization": "输入未归一化",
            "noisy_labels": "标签噪声", "model_too_small": "模型过小", "labels_shuffled_bug": "标签被打乱（程序错误）",
            "zero_initialization": "零初始化"}


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
    reachable = ("confirmed", "nuanced", "refuted")
    thresholds = {"baseline_min_acc": 0.9, "hurt_min_drop": 0.1}
    reasons = {
        "baseline_min_acc": {"en": "convention: 'converges' means at least 90% training accuracy on the 10 digit "
                                   "classes (chance 10%); the healthy run measured 0.965-0.993 over 3 quick seeds "
                                   "(spread 0.016)",
                             "zh": "约定：10 类数字上训练准确率至少 90% 才算收敛（随机猜为 10%）；正常训练在 3 个快速"
                                   "模式随机种子上为 0.965-0.993（标准差 0.016）"},
        "hurt_min_drop": {"en": "measured noise floor: a fault counts only if it lowers training accuracy by 0.1, "
                                "over 6 times the across-seed spread of the healthy run (0.016, quick mode, 3 seeds)",
                          "zh": "实测噪声：故障使训练准确率下降至少 0.1 才算，超过正常训练跨随机种子标准差"
                                "（0.016，快速模式 3 个随机种子）的 6 倍"},
    }
    key_term = {"en": "diagnosing non-convergence", "zh": "不收敛的诊断"}
    key_figure = "train_acc_baseline"
    answer = {
        "confirmed": {
            "en": "Yes: a model that can learn the task (training accuracy {train_acc_baseline}) failed to "
                  "converge under each listed cause; a learning rate far too high diverged rather than "
                  "oscillated. Check labels, learning rate and input scaling first.",
            "zh": "是的：一个能学会任务的模型（训练准确率 {train_acc_baseline}）在列出的每个原因下都无法收敛；"
                  "学习率过高时损失发散而不是振荡。先检查标签、学习率和输入缩放。"},
        "nuanced": {
            "en": "Some listed causes stopped a model that can learn the task (training accuracy "
                  "{train_acc_baseline}) from converging and some did not; say which ones matter.",
            "zh": "列出的原因中，有些让能学会任务的模型（训练准确率 {train_acc_baseline}）无法收敛，"
                  "有些则没有；回答时指出哪些才重要。"},
        "refuted": {
            "en": "The listed causes did not stop convergence here, or the baseline itself did not converge "
                  "(training accuracy {train_acc_baseline}).",
            "zh": "这里列出的原因并没有阻止收敛，或者基线本身就没有收敛（训练准确率 {train_acc_baseline}）。"},
    }
    text = {
        "en": {
            "title": "When a model does not converge",
            "claim": "A model that does not converge is not necessarily useless. Causes: inaccurate labels, data "
                     "too rich for the model to fit, a learning rate too large (oscillation) or too small, a model "
                     "too simple for a complex task, inputs that were not normalized.",
            "method": "One 3-layer MLP that converges on the standardized digits (SGD, momentum 0.9, lr 0.05) is "
                      "retrained with one fault at a time: lr 3 and lr 1e-5, raw 0..255 inputs, 50% random labels, "
                      "a 2-unit hidden layer (the seed's causes). A fault 'prevents convergence' when the final "
                      "training accuracy drops by 0.1 or more.",
            "beyond": "Two causes the seed omits, training labels shuffled (a pipeline bug) and all-zero weights, "
                      "measured the same way; and whether cvprimer.train.diagnose names the real cause of each "
                      "fault among its remedies.",
        },
        "zh": {
            "title": "模型不收敛的时候",
            "claim": "模型不收敛并不说明模型无效。原因可能有：标注不准确；样本信息量太大，模型不足以拟合；"
                     "学习率太大会震荡、太小则不收敛；复杂任务用了过于简单的模型；数据没有归一化。",
            "method": "一个在标准化 digits 上能收敛的 3 层 MLP（SGD，动量 0.9，学习率 0.05），每次只引入一个故障"
                      "重新训练：学习率 3 与 1e-5、未归一化的 0..255 输入、50% 随机标签、隐藏层只有 2 个单元"
                      "（原文列出的原因）。最终训练准确率下降 0.1 及以上即视为“阻止收敛”。",
            "beyond": "用同样的方法测量原文遗漏的两个原因：训练标签被打乱（数据管道的 bug）和权重全零；"
                      "并检查 cvprimer.train.diagnose 给出的建议能否点出每种故障的真实原因。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "train_acc_{f}": {"en": "train accuracy, {f}", "zh": "训练准确率（{f}）"},
        "lr_too_high_diverged": {"en": "lr too high: diverged", "zh": "学习率过高：发散"},
        "lr_too_high_oscillation": {"en": "lr too high: oscillates", "zh": "学习率过高：振荡"},
        "baseline_findings": {"en": "diagnose findings on the healthy baseline", "zh": "健康基线上的诊断发现数"},
        "diagnosis_names_cause": {"en": "share of faults whose cause the diagnosis names",
                                  "zh": "诊断指出原因的故障比例"},
    }
    terms = {
        "lr_too_high": {"en": "lr too high", "zh": "学习率过高"},
        "lr_too_low": {"en": "lr too low", "zh": "学习率过低"},
        "no_input_normalization": {"en": "inputs not normalized", "zh": "输入未归一化"},
        "noisy_labels": {"en": "noisy labels", "zh": "标签噪声"},
        "model_too_small": {"en": "model too small", "zh": "模型过小"},
        "labels_shuffled_bug": {"en": "labels shuffled (bug)", "zh": "标签被打乱（程序错误）"},
        "zero_initialization": {"en": "zero initialization", "zh": "零初始化"},
    }

    def measure(self, ctx: Context) -> Result:
        n_train, n_val = ctx.pick(600, 1400, tiny=200), ctx.pick(360, 360, tiny=100)
        d = load_data("digits", n_train, n_val, ctx.rng, standardize=True)
        raw = load_data("digits", n_train, n_val, np.random.default_rng(ctx.seed))
        raw = Data(raw.x_train * 255, raw.y_train, raw.x_val * 255, raw.y_val)
        gen = ctx.child_rng()
        setups: dict[str, tuple[dict[str, Any], Data, float]] = {
            "baseline": ({}, d, LR),
            "lr_too_high": ({}, d, 3.0),
            "lr_too_low": ({}, d, 1e-5),
            "no_input_normalization": ({}, raw, LR),
            "noisy_labels": ({}, with_noisy_labels(d, 0.5, gen), LR),
            "model_too_small": ({"width": 2}, d, LR),
            "labels_shuffled_bug": ({}, Data(d.x_train, gen.permutation(d.y_train), d.x_val, d.y_val), LR),
            "zero_initialization": ({"scale": 0.0}, d, LR),
        }
        epochs, seed = ctx.pick(6, 20, tiny=2), int(ctx.rng.integers(2**31))
        figures: dict[str, Figure] = {}
        beyond: dict[str, Figure] = {}
        rows, curves = [], {}
        named = 0
        for name, (kw, data, lr) in setups.items():
            run = monitored_fit(DeepMLP(rng=np.random.default_rng(seed), **dict(BASE, **kw)), data, epochs,
                                np.random.default_rng(seed), lr=lr, optimizer="momentum")
            curves[name] = run.fit.curve("train_loss")
            acc = run.fit.train_acc if np.isfinite(run.fit.train_acc) else 0.0
            listed = name == "baseline" or CAUSES[name][0]
            (figures if listed else beyond)[f"train_acc_{name}"] = Figure(acc, "fraction")
            hit = names_cause(run.remedies(), CAUSES[name][1]) if name in CAUSES else None
            named += bool(hit)
            if name == "baseline":
                beyond["baseline_findings"] = Figure(len(run.findings), "findings")
            if name == "lr_too_high":
                figures["lr_too_high_diverged"] = Figure(float("divergence" in run.kinds), "bool")
                figures["lr_too_high_oscillation"] = Figure(float("oscillation" in run.kinds), "bool")
            rows.append([name, "" if name == "baseline" else ("yes" if CAUSES[name][0] else "no"), lr, acc,
                         run.fit.val_acc, ", ".join(run.kinds) or "(nothing)",
                         "" if hit is None else ("yes" if hit else "no")])
        beyond["diagnosis_names_cause"] = Figure(named / len(CAUSES), "fraction")

        cols = ["run", "in the seed's list", "lr", "train acc", "val acc", "diagnose findings",
                "a remedy names the cause"]
        cap = {"en": "Each fault alone; training accuracy is measured against the labels the model was given.",
               "zh": "每次只引入一种故障；训练准确率按模型训练时所用的标签计算。"}
        return Result(figures=figures, beyond=beyond,
                      tables=[Table("faults", cols, [r for r in rows if r[1] != "no"], cap)],
                      beyond_tables=[Table("omitted_faults", cols, [r for r in rows if r[1] == "no"], cap)],
                      series={"curves": curves})

    def draw(self, res: Result, ctx: Context) -> None:
        fig, ax = ctx.figure(1, 1, size=(7.5, 4))
        for name, c in res.series["curves"].items():
            ax.semilogy(np.arange(1, len(c) + 1), np.where(np.isfinite(c), c, np.nan), marker=".", label=name,
                        lw=2.5 if name == "baseline" else 1.3)
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss (log)")
        ax.set_title("The same MLP with one fault at a time")
        ax.legend(fontsize=7, ncol=2)
        ctx.save_figure(fig, "faults", "Training loss per epoch of the same MLP, healthy and with each of seven "
                        "faults (log scale).", "同一个 MLP 在正常情况下与七种故障下每轮的训练损失（对数坐标）。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        base, drop, need = figures["train_acc_baseline"], thresholds["hurt_min_drop"], thresholds["baseline_min_acc"]
        listed = [c for c, (in_seed, _) in CAUSES.items() if in_seed]
        hurt = [c for c in listed if figures[f"train_acc_{c}"] <= base - drop]  # down by at least ``drop``
        spared = [c for c in listed if c not in hurt]
        ok = base >= need
        verdict = verdict_if(ok and not spared, nuanced=ok and bool(hurt))
        drops = ", ".join(f"{c} {fmt(base - figures[f'train_acc_{c}'])}" for c in listed)
        drops_zh = "，".join(f"{CAUSE_ZH[c]} {fmt(base - figures[f'train_acc_{c}'])}" for c in listed)
        en = (f"The healthy run reaches training accuracy {fmt(base)} (converged means at least {fmt(need)}), so "
              f"{'the model itself can learn the task' if ok else 'even the healthy model does not converge here'}. "
              f"{len(hurt)} of the seed's {len(listed)} causes stop it from converging (training accuracy down by "
              f"at least {fmt(drop)}): {', '.join(hurt) or 'none'}; "
              f"{'all of them do' if not spared else ', '.join(spared) + ' did not'}. Drops: {drops}.")
        zh = (f"正常训练的训练准确率为 {fmt(base)}（收敛要求至少 {fmt(need)}），"
              f"{'模型本身能学会这个任务' if ok else '这里连正常训练的模型都没有收敛'}。"
              f"原文 {len(listed)} 个原因中有 {len(hurt)} 个使其不收敛（训练准确率下降至少 {fmt(drop)}）："
              f"{'、'.join(CAUSE_ZH[c] for c in hurt) or '无'}；"
              f"{'没有例外' if not spared else '未造成不收敛的：' + '、'.join(CAUSE_ZH[c] for c in spared)}。"
              f"下降幅度：{drops_zh}。")
        if figures["lr_too_high_diverged"] >= 1 and figures["lr_too_high_oscillation"] < 1:
            en += " A learning rate far too high made the loss diverge rather than oscillate."
            zh += "学习率过大时损失是发散，而不是原文所说的震荡。"
        return verdict, evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        omitted = {c: beyond[f"train_acc_{c}"] for c, (in_seed, _) in CAUSES.items() if not in_seed}
        accs = ", ".join(f"{c} {fmt(a)}" for c, a in omitted.items())
        accs_zh = "，".join(f"{CAUSE_ZH[c]} {fmt(a)}" for c, a in omitted.items())
        n = fmt(100 * beyond["diagnosis_names_cause"])
        return {"en": f"Causes the seed omits, final training accuracy: {accs}. cvprimer.train.diagnose named the "
                      f"real cause among its remedies for {n}% of the faults and raised "
                      f"{fmt(beyond['baseline_findings'])} findings on the healthy run.",
                "zh": f"原文遗漏的原因下的最终训练准确率：{accs_zh}。cvprimer.train.diagnose 的建议中点出真实原因的故障"
                      f"占 {n}%，对正常训练给出 {fmt(beyond['baseline_findings'])} 条结论。"}
