"""Question 33: what to do about class imbalance, and how much each remedy helps.

Measured on an imbalanced subset of the MNIST sample: seven classes keep ``M`` training images each and three
minority classes keep ``M / 10`` (a 1:10 ratio: 15 images in quick mode, 30 in full); the validation split stays
balanced. One small MLP is
trained from the same initialization with no remedy, random over-sampling, random under-sampling, SMOTE,
'balanced' class weights in the cross-entropy, focal loss (gamma 2, without and with class-weight alpha),
a class-balanced batch sampler, and, on the unremedied model, threshold moving (subtracting the log class
prior from the logits). Every run sees about the same number of training samples. The verdict rests on the
balanced accuracy of the four remedies the seed names (over-sampling, under-sampling, SMOTE, focal loss) against no
remedy; the other remedies, minority recall and macro-F1 (``cvprimer.train.metrics``) are reported beyond it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.data import (
    ArrayDataset,
    ClassBalancedSampler,
    DataLoader,
    class_weights,
    random_oversample,
    random_undersample,
    smote,
)
from cvprimer.data.loader import WeightedRandomSampler
from cvprimer.lab._shifts import lean
from cvprimer.lab.common import Data, fit, load_data, make_optimizer, predict
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr, tr_table
from cvprimer.train import Trainer
from cvprimer.train.metrics import classification_report

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "balanced accuracy": "平衡准确率",
    "balanced sampler": "均衡采样器",
    "class weights": "类别权重",
    "focal loss": "Focal 损失",
    "focal loss + alpha": "Focal 损失 + alpha",
    "macro-F1": "宏平均 F1",
    "minority recall": "少数类召回率",
    "none": "不处理",
    "over-sampling": "过采样",
    "threshold moving": "调整阈值",
    "under-sampling": "欠采样",
})

MINORITY = (2, 5, 8)
RATIO = 10
SEED_REMEDIES = ("over-sampling", "under-sampling", "SMOTE", "focal loss")
METHODS = ("none", "over-sampling", "under-sampling", "SMOTE", "class weights", "focal loss",
           "focal loss + alpha", "balanced sampler", "threshold moving")
SLUG = {"none": "none", "over-sampling": "oversample", "under-sampling": "undersample", "SMOTE": "smote",
        "class weights": "class_weights", "focal loss": "focal", "focal loss + alpha": "focal_alpha",
        "balanced sampler": "balanced_sampler", "threshold moving": "threshold"}
ZH = {"none": "不处理", "over-sampling": "过采样", "under-sampling": "欠采样", "SMOTE": "SMOTE",
      "class weights": "类别权重", "focal loss": "focal loss", "focal loss + alpha": "带 alpha 的 focal loss",
      "balanced sampler": "类别均衡采样器", "threshold moving": "阈值移动"}


def imbalance(data: Data, majority: int, minority_classes: tuple[int, ...], ratio: int,
              rng: np.random.Generator) -> Data:
    """``data`` with ``majority`` training images kept per class and ``majority // ratio`` per minority class
    (drawn at random); the validation split is left as it is (balanced)."""
    keep = []
    for c in np.unique(data.y_train):
        idx = np.flatnonzero(data.y_train == c)
        n = majority // ratio if c in minority_classes else majority
        if n > idx.size:
            raise ValueError(f"imbalance: class {c} has {idx.size} training images, {n} requested")
        keep.append(rng.choice(idx, size=n, replace=False))
    k = np.sort(np.concatenate(keep))
    return Data(data.x_train[k], data.y_train[k], data.x_val, data.y_val)


def mlp() -> Any:
    """784 -> 64 -> 10 with ReLU."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


def scores(logits: np.ndarray, y: np.ndarray, minority: tuple[int, ...]) -> dict[str, float]:
    """Minority recall (mean over ``minority``), macro-F1, balanced accuracy and accuracy, in %."""
    rep = classification_report(logits.argmax(1), y, logits.shape[1])
    recall = np.asarray(rep["per_class"]["recall"])
    return {"minority_recall": 100 * float(recall[list(minority)].mean()), "macro_f1": 100 * rep["macro_f1"],
            "balanced_acc": 100 * rep["balanced_accuracy"], "acc": 100 * rep["accuracy"]}


class ClassImbalance(Experiment):
    id = "q33-class-imbalance"
    questions = (33,)
    topic = "data"
    stochastic = True
    thresholds = {"help_pts": 1.0}
    reasons = {"help_pts": {
        "en": "Noise floor: each seed decides on its own gains, so the margin must be at least their across-seed "
              "spread; over seeds 0-2 a remedy's gain in balanced accuracy had a standard deviation of 0.35-0.95 "
              "points in both modes, except under-sampling in quick mode (2.9 points, with its smallest gain, 3.5 "
              "points, still far above the margin).",
        "zh": "噪声下限：每个随机种子各自判定，所以阈值至少要等于增益在随机种子间的波动；随机种子 0-2 中，各方法带来"
              "的均衡"
              "准确率增益在两种模式下的标准差为 0.35-0.95 个百分点，只有快速模式下的欠采样为 2.9 个百分点"
              "（其最小增益 3.5 个百分点仍远高于阈值）。"}}
    reachable = ("confirmed", "nuanced", "refuted")
    # quick mode's short training leaves the minority classes under-learned, where every remedy gains several
    # points; full training learns them anyway and only some remedies still gain the margin
    quick_provisional = True
    key_term = {"en": "re-sampling and re-weighting (balanced accuracy)", "zh": "重采样与重加权（平衡准确率）"}
    key_figure = "gain_oversample"
    answer = {
        "confirmed": {
            "en": "Yes: every remedy raised the balanced accuracy from {bal_acc_none}% (over-sampling "
                  "+{gain_oversample} points, SMOTE +{gain_smote}, focal loss +{gain_focal}); judge imbalance "
                  "remedies by balanced accuracy, not plain accuracy.",
            "zh": "是的：每种对策都把平衡准确率从 {bal_acc_none}% 提高了（过采样 +{gain_oversample} 个百分点，"
                  "SMOTE +{gain_smote}，focal loss +{gain_focal}）；评价不平衡对策要看平衡准确率，"
                  "而不是普通准确率。"},
        "nuanced": {
            "en": "Some remedies helped and some did not (over-sampling +{gain_oversample} points over "
                  "{bal_acc_none}%); say which, and judge by balanced accuracy.",
            "zh": "有的对策有效，有的无效（过采样在 {bal_acc_none}% 的基础上 +{gain_oversample} 个百分点）；"
                  "回答时说明是哪些，并以平衡准确率来评价。"},
        "refuted": {
            "en": "None of the remedies helped here (over-sampling {gain_oversample} points over "
                  "{bal_acc_none}%).",
            "zh": "这里没有一种对策有效（过采样在 {bal_acc_none}% 的基础上变化 {gain_oversample} 个百分点）。"},
    }
    text = {
        "en": {
            "title": "Remedies for class imbalance",
            "claim": "With imbalanced classes one can under-sample the large classes (at the risk of throwing away "
                     "useful images), over-sample the small ones by copying (at the risk of over-fitting), "
                     "synthesize minority samples with SMOTE (hard when a class has almost no images), or change "
                     "the loss, for instance to focal loss.",
            "method": "Make the MNIST sample imbalanced 1:10 (three minority classes), keep a balanced validation "
                      "split, and train the same MLP from the same weights with no remedy and with each remedy the "
                      "seed names: over-sampling, under-sampling, SMOTE and focal loss (gamma 2), each seeing about "
                      "the same number of samples. A remedy counts as helping when it raises the balanced accuracy "
                      "by at least the margin below.",
            "beyond": "Remedies the seed does not name (class weights, focal loss with class-weight alpha, a "
                      "class-balanced sampler, threshold moving), and the minority recall and macro-F1 of every "
                      "run.",
        },
        "zh": {
            "title": "类别不平衡的处理方法",
            "claim": "类别不平衡时，可以对大类欠采样（可能丢掉有用的图像），对小类复制样本过采样（可能过拟合），"
                     "用 SMOTE 合成少数类样本（某类几乎没有样本时很难做），或者修改损失函数，例如使用 focal loss。",
            "method": "把 MNIST 样本变成 1:10 的不平衡数据（三个少数类），验证集保持均衡；用相同的初始权重训练"
                      "同一个 MLP，分别不做处理，以及使用原文列出的每种方法：过采样、欠采样、SMOTE 和 focal loss"
                      "（gamma 2），各方法看到的样本数大致相同。某方法使均衡准确率提升至少下述阈值才算有帮助。",
            "beyond": "原文未列的方法（类别权重、带类别权重 alpha 的 focal loss、类别均衡采样器、阈值移动），"
                      "以及每次训练的少数类召回率和宏平均 F1。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "bal_acc_{m}": {"en": "balanced accuracy, {m}", "zh": "平衡准确率（{m}）"},
        "minority_recall_{m}": {"en": "minority-class recall, {m}", "zh": "少数类召回率（{m}）"},
        "macro_f1_{m}": {"en": "macro F1, {m}", "zh": "宏平均 F1（{m}）"},
        "minority_train_images": {"en": "training images of the minority class", "zh": "少数类的训练图像数"},
    }
    terms = {
        "none": {"en": "no remedy", "zh": "不处理"},
        "oversample": {"en": "oversampling", "zh": "过采样"},
        "undersample": {"en": "undersampling", "zh": "欠采样"},
        "smote": {"en": "SMOTE", "zh": "SMOTE"},
        "focal": {"en": "focal loss", "zh": "Focal 损失"},
        "class_weights": {"en": "class weights", "zh": "类别权重"},
        "focal_alpha": {"en": "focal loss with alpha", "zh": "带 alpha 的 Focal 损失"},
        "balanced_sampler": {"en": "balanced sampler", "zh": "均衡采样器"},
        "threshold": {"en": "threshold moving", "zh": "调整阈值"},
    }

    def measure(self, ctx: Context) -> Result:
        majority = ctx.pick(150, 300, tiny=50)
        base = load_data("mnist_sample", ctx.pick(3600, 3600, tiny=600), ctx.pick(1000, 1000, tiny=200), ctx.rng)
        data = imbalance(base, majority, MINORITY, RATIO, ctx.rng)
        budget = ctx.pick(6, 20, tiny=2) * len(data.y_train)  # training samples seen by every run
        models = self._train_remedies(ctx, data, budget)
        logits = {k: predict(m, data.x_val) for k, m in models.items()}
        prior = np.bincount(data.y_train, minlength=10) / len(data.y_train)
        logits["threshold moving"] = logits["none"] - np.log(prior)[None, :]
        res = {k: scores(logits[k], data.y_val, MINORITY) for k in METHODS}

        rows = [[k, f"{r['minority_recall']:.1f}", f"{r['macro_f1']:.1f}", f"{r['balanced_acc']:.1f}"]
                for k, r in res.items()]
        figures = {f"bal_acc_{SLUG[k]}": Figure(res[k]["balanced_acc"], "%") for k in ("none", *SEED_REMEDIES)}
        base_acc = res["none"]["balanced_acc"]  # gains rounded to 1e-9: a difference of percentages carries float noise
        for rem in SEED_REMEDIES:
            gain_label = {"en": f"{rem}: balanced accuracy gain", "zh": f"{ZH[rem]}：均衡准确率增益"}
            figures[f"gain_{SLUG[rem]}"] = Figure(round(res[rem]["balanced_acc"] - base_acc, 9), "points", gain_label)
        beyond = {f"bal_acc_{SLUG[k]}": Figure(r["balanced_acc"], "%") for k, r in res.items()
                  if f"bal_acc_{SLUG[k]}" not in figures}
        beyond.update({f"minority_recall_{SLUG[k]}": Figure(r["minority_recall"], "%") for k, r in res.items()})
        beyond.update({f"macro_f1_{SLUG[k]}": Figure(r["macro_f1"], "%") for k, r in res.items()})
        beyond["minority_train_images"] = Figure(majority // RATIO, "images per class")
        return Result(figures=figures, beyond=beyond, tables=[Table(
            "remedies", ["remedy", "minority recall (%)", "macro-F1 (%)", "balanced accuracy (%)"], rows,
            {"en": f"Balanced validation split; minority classes {MINORITY}, ratio 1:{RATIO}.",
             "zh": f"均衡验证集；少数类为 {MINORITY}，比例 1:{RATIO}。"})],
            series={"scores": res, "majority": majority})

    @staticmethod
    def _train_remedies(ctx: Context, data: Data, budget: int) -> dict[str, Any]:
        """The same MLP trained on the imbalanced ``data`` with no remedy and with each resampling, loss and sampler
        remedy (same initialization and batch order, about ``budget`` samples seen by each): the trained models by
        remedy."""
        w = class_weights(data.y_train, 10)
        state = ctx.child_rng().bit_generator.state

        def gen() -> np.random.Generator:
            g = np.random.default_rng()
            g.bit_generator.state = state
            return g

        def train(x: np.ndarray, y: np.ndarray, loss: Callable[..., Any] | None = None,
                  sampler: Any = None) -> Any:
            cp.manual_seed(ctx.seed)
            model = mlp()
            if sampler is None and len(y) < len(data.y_train):  # a small (under-sampled) set: draw with
                sampler = WeightedRandomSampler(np.ones(len(y)), len(data.y_train))  # replacement, same epochs
            n = len(sampler) if sampler is not None else len(y)
            epochs = max(1, round(budget / n))
            if sampler is None:
                fit(model, lean(Data(x, y, data.x_val, data.y_val)), epochs, gen(), lr=2e-3, loss_fn=loss)
            else:
                loader = DataLoader(ArrayDataset(x, y), batch_size=64, sampler=sampler, rng=gen())
                Trainer(model, loss or F.cross_entropy, make_optimizer("adam", model.parameters(), 2e-3)).fit(
                    loader, epochs=epochs)
            return model

        x, y = data.x_train, data.y_train
        split_rng = ctx.child_rng()
        return {
            "none": train(x, y),
            "over-sampling": train(*random_oversample(x, y, training=True, rng=split_rng)),
            "under-sampling": train(*random_undersample(x, y, training=True, rng=split_rng)),
            "SMOTE": train(*smote(x, y, training=True, k_neighbors=5, reduce_k=True, rng=split_rng)),
            "class weights": train(x, y, lambda o, t: F.cross_entropy(o, t, weight=w)),
            "focal loss": train(x, y, lambda o, t: F.softmax_focal_loss(o, t, gamma=2.0)),
            "focal loss + alpha": train(x, y, lambda o, t: F.softmax_focal_loss(o, t, alpha=w / w.mean(),
                                                                                 gamma=2.0)),
            "balanced sampler": train(x, y, sampler=ClassBalancedSampler(y, num_samples=len(y))),
        }

    def draw(self, res: Result, ctx: Context) -> None:
        by_remedy, majority = res.series["scores"], res.series["majority"]
        fig, ax = ctx.figure(1, 1, size=(8, 3.8))
        xs = np.arange(len(METHODS))
        for k, (key, label) in enumerate((("minority_recall", "minority recall"), ("macro_f1", "macro-F1"),
                                          ("balanced_acc", "balanced accuracy"))):
            ax.bar(xs + (k - 1) * 0.27, [by_remedy[m][key] for m in METHODS], 0.27, label=label)
        ax.set_xticks(xs, METHODS, rotation=30, ha="right")
        ax.set_ylabel("%")
        ax.set_ylim(0, 100)
        ax.set_title(tr(f"MNIST, classes {MINORITY} at 1:{RATIO} ({majority} vs {majority // RATIO} images)",
                        f"MNIST，类别 {MINORITY} 按 1:{RATIO}（{majority} 对 {majority // RATIO} 张图像）"))
        ax.legend(fontsize=7, loc="upper left", ncol=3)
        ctx.save_figure(fig, "remedies", "Minority recall, macro-F1 and balanced accuracy on a balanced validation "
                        f"split for an MLP trained on 1:{RATIO} imbalanced MNIST with each remedy.",
                        f"在 1:{RATIO} 不平衡的 MNIST 上用各种补救方法训练的 MLP，在均衡验证集上的少数类召回率、"
                        "宏平均 F1 和均衡准确率。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        h = thresholds["help_pts"]
        base = figures["bal_acc_none"]
        gains = {k: figures[f"gain_{SLUG[k]}"] for k in SEED_REMEDIES}
        helped = [k for k, g in gains.items() if g >= h]
        others = [k for k in SEED_REMEDIES if k not in helped]
        verdict = verdict_if(len(helped) == len(gains), nuanced=bool(helped))
        parts_en = "; ".join(f"{k} {'+' if g >= 0 else ''}{fmt(g)}" for k, g in gains.items())
        parts_zh = "；".join(f"{ZH[k]} {'+' if g >= 0 else ''}{fmt(g)}" for k, g in gains.items())
        en = (f"Without a remedy the balanced accuracy is {fmt(base)}%. Change in balanced accuracy (points) for the "
              f"seed's remedies: {parts_en}; {len(helped)} of {len(gains)} help by at least {fmt(h)} points"
              + (f" ({', '.join(helped)}), while {', '.join(others)} do not." if helped and others else "."))
        zh = (f"不做处理时均衡准确率为 {fmt(base)}%。原文所列方法使均衡准确率变化（百分点）：{parts_zh}；"
              f"{len(gains)} 种中有 {len(helped)} 种提升至少 {fmt(h)} 个百分点"
              + (f"（{'、'.join(ZH[k] for k in helped)}），而{'、'.join(ZH[k] for k in others)}没有。"
                 if helped and others else "。"))
        return verdict, evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        b = beyond
        extra = ("class weights", "focal loss + alpha", "balanced sampler", "threshold moving")
        best = max(extra, key=lambda k: b[f"bal_acc_{SLUG[k]}"])
        parts_en = ", ".join(f"{k} {fmt(b[f'bal_acc_{SLUG[k]}'])}%" for k in extra)
        parts_zh = "，".join(f"{ZH[k]} {fmt(b[f'bal_acc_{SLUG[k]}'])}%" for k in extra)
        mr0, mru = b["minority_recall_none"], b["minority_recall_undersample"]
        return {"en": f"Balanced accuracy of the remedies the seed does not name: {parts_en} (best: {best}). The "
                      f"minority recall is {fmt(mr0)}% without a remedy and {fmt(mru)}% with under-sampling; with "
                      f"{fmt(b['minority_train_images'])} training images per minority class.",
                "zh": f"原文未列方法的均衡准确率：{parts_zh}（最好的是{ZH[best]}）。少数类召回率不做处理时为 "
                      f"{fmt(mr0)}%，欠采样时为 {fmt(mru)}%；每个少数类有 {fmt(b['minority_train_images'])} "
                      f"张训练图像。"}
