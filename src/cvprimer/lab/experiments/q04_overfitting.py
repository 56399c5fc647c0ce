"""Questions 4 and 22: how to recognise over- and under-fitting, and whether the listed remedies counter it.

Measured on a deliberately small, partly mislabelled training set of the MNIST sample (stratified, 15% of
the training labels flipped to another class) with an MLP (784-192-192-10, Adam, lr 2e-3, batch 64) that memorises
it. Each remedy the seed lists is applied alone to the same split and the same initialization: more data (four
times, same noise rate, half the epochs), augmentation (random affine warps), a smaller model (one hidden layer of
32), dropout 0.5, L1 (``l1_decay``), L2 — the penalty on the sum of squared weights, coupled into Adam's gradient
(``weight_decay``), and in its decoupled form (AdamW), counted as helping when either form helps —, cleaning the
labels with the label-noise finder (``find_label_noise``, flagged samples dropped), early stopping
(``EarlyStopping`` on the validation loss, best weights restored) and batch normalization. A remedy helps when it
raises validation accuracy by a margin above the across-seed noise, or cuts the train/validation gap by a share
while costing no more than that margin. Beyond the seed: the trainer's diagnosis (``diagnose``), a tiny model
(784-2-10) for under-fitting, the label-noise finder's precision and recall, and what each remedy did to the first
layer's weights (norm and the share below 1e-3, the seed's "sparser").

Coupled vs decoupled L2 differ only under adaptive optimizers: for plain SGD the two coincide (adding ``lam * w`` to
the gradient and then stepping ``-lr * g`` is the decay ``w <- (1 - lr * lam) w``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from cvprimer import nn, optim
from cvprimer.data.augment import RandomAffine
from cvprimer.lab.common import Data, accuracy, fit, load_data
from cvprimer.lab.experiment import (
    CONFIRMED,
    NUANCED,
    REFUTED,
    Context,
    Experiment,
    Figure,
    Result,
    Table,
    Text,
    evidence,
    fmt,
)
from cvprimer.lab.plots import tr, tr_table
from cvprimer.train import EarlyStopping, diagnose
from cvprimer.train.noise import find_label_noise

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "train (given labels)": "训练（给定标签）",
    "Final accuracies: the gap is the distance between the bars": "最终准确率：差距即两根柱子的距离",
    "4x more data": "4 倍数据",
    "AdamW (decoupled)": "AdamW（解耦）",
    "L2 in Adam (coupled)": "Adam 中的 L2（耦合）",
    "augmentation": "数据增强",
    "baseline": "基线",
    "batch norm": "批归一化",
    "cleaned labels": "清洗后的标签",
    "dropout 0.5": "Dropout 0.5",
    "early stopping": "早停",
    "smaller model": "更小的模型",
    "tiny model (underfit)": "极小模型（欠拟合）",
})

REMEDIES = ("dropout", "l2_coupled", "l2_decoupled", "l1", "augment", "early_stop", "smaller", "more_data",
            "batch_norm", "clean_labels")
LABELS = {"baseline": "baseline", "dropout": "dropout 0.5", "l2_coupled": "L2 in Adam (coupled)",
          "l2_decoupled": "AdamW (decoupled)", "l1": "L1", "augment": "augmentation", "early_stop": "early stopping",
          "smaller": "smaller model", "more_data": "4x more data", "batch_norm": "batch norm",
          "clean_labels": "cleaned labels", "tiny": "tiny model (underfit)"}
LABELS_ZH = {"baseline": "基线", "dropout": "dropout 0.5", "l2_coupled": "Adam 中的 L2（耦合）",
             "l2_decoupled": "AdamW（解耦）", "l1": "L1", "augment": "数据增强", "early_stop": "早停",
             "smaller": "更小的模型", "more_data": "4 倍数据", "batch_norm": "批归一化", "clean_labels": "清洗标签",
             "tiny": "极小模型（欠拟合）"}
NOISE = 0.15
SEED_REMEDIES = ("more_data", "augment", "smaller", "dropout", "l1", "l2", "clean_labels", "early_stop",
                 "batch_norm")  # L2 helps when either of its two forms helps
LABELS["l2"], LABELS_ZH["l2"] = "L2 (either form)", "L2（任一形式）"


def flip_labels(y: np.ndarray, frac: float, num_classes: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``y`` with ``round(frac * len(y))`` labels moved to a uniformly drawn *other* class, and the
    indices that were flipped (sorted)."""
    y = np.array(y, copy=True)
    idx = np.sort(rng.choice(len(y), int(round(frac * len(y))), replace=False))
    y[idx] = (y[idx] + rng.integers(1, num_classes, len(idx))) % num_classes
    return y, idx


def mlp(hidden: tuple[int, ...] = (192, 192), dropout: float = 0.0, batch_norm: bool = False) -> Any:
    """A ReLU MLP on flattened 28x28 images with optional dropout / batch norm after each hidden layer."""
    layers: list[Any] = [nn.Flatten()]
    d = 784
    for h in hidden:
        layers.append(nn.Linear(d, h))
        if batch_norm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(nn.ReLU())
        if dropout:
            layers.append(nn.Dropout(dropout))
        d = h
    layers.append(nn.Linear(d, 10))
    return nn.Sequential(*layers)


def weight_stats(model: Any) -> tuple[float, float]:
    """L2 norm of the first Linear layer's weights and their share with ``|w| < 1e-3``."""
    w = next(m for m in model.modules() if isinstance(m, nn.Linear)).weight.data
    return float(np.sqrt((w.astype(np.float64) ** 2).sum())), float(np.mean(np.abs(w) < 1e-3))


def helps(gap0: float, acc0: float, gap: float, acc: float, th: Mapping[str, float]) -> bool:
    """A remedy helps when it raises validation accuracy by ``min_acc_gain``, or cuts the gap by the share
    ``min_gap_cut`` while costing no more than ``max_acc_loss`` of validation accuracy."""
    return acc - acc0 >= th["min_acc_gain"] or (gap <= (1 - th["min_gap_cut"]) * gap0
                                                 and acc0 - acc <= th["max_acc_loss"])


def remedy_helps(figures: Mapping[str, float], remedy: str, th: Mapping[str, float]) -> bool:
    """:func:`helps` for one of :data:`SEED_REMEDIES` (L2: either its coupled or its decoupled form)."""
    gap0, acc0 = figures["gap_baseline"], figures["val_acc_baseline"]
    forms = ("l2_coupled", "l2_decoupled") if remedy == "l2" else (remedy,)
    return any(helps(gap0, acc0, figures[f"gap_{r}"], figures[f"val_acc_{r}"], th) for r in forms)


@dataclass
class Setup:
    """The runs' shared inputs: the small noisy split, the 4x split, the cleaned split, the label-noise report
    and which small-split samples were flipped, the initialization seed, epochs and the training-order seed."""

    small: Data
    more: Data
    cleaned: Data
    report: Any
    noisy_small: np.ndarray
    init_seed: int
    epochs: int
    order_seed: int


def prepare(ctx: Context) -> Setup:
    """Draw the split, flip 15% of the labels, run the label-noise finder and draw the initialization seed."""
    n, epochs = ctx.pick(250, 300, tiny=200), ctx.pick(20, 60, tiny=2)
    big = load_data("mnist_sample", 4 * n, ctx.pick(500, 1000, tiny=100), ctx.rng)
    y_noisy, flipped = flip_labels(big.y_train, NOISE, 10, ctx.rng)
    small_idx = np.sort(ctx.rng.choice(4 * n, n, replace=False))
    small = Data(big.x_train[small_idx], y_noisy[small_idx], big.x_val, big.y_val)
    more = Data(big.x_train, y_noisy, big.x_val, big.y_val)
    report = find_label_noise(small.x_train, small.y_train, 10, rng=ctx.child_rng())
    keep = np.setdiff1d(np.arange(n), report.flagged)
    cleaned = Data(small.x_train[keep], small.y_train[keep], big.x_val, big.y_val)
    return Setup(small, more, cleaned, report, np.isin(small_idx, flipped), int(ctx.rng.integers(2**31)), epochs,
                 ctx.seed)


class OverfittingRemedies(Experiment):
    id = "q04-overfitting"
    questions = (4, 22)
    topic = "regularization"
    thresholds = {"min_base_gap": 0.15, "min_acc_gain": 0.04, "min_gap_cut": 0.3, "max_acc_loss": 0.04}
    reasons = {
        "min_base_gap": {
            "en": "Measured: the baseline's train/validation gap is 0.23-0.31 (quick) and 0.20-0.29 (full) over 3 "
                  "seeds; the claim is about an over-fitting model, so the remedies are judged only where the gap is "
                  "at least 0.15, below every measured one.",
            "zh": "实测：3 个随机种子下基线训练/验证差距在 quick 模式为 0.23-0.31，full 模式为 0.20-0.29；"
                  "该说法针对过拟合的模型，因此差距至少 0.15（低于所有实测值）时才评判各对策。"},
        "min_acc_gain": {
            "en": "Measured noise floor: the across-seed standard deviation of a remedy's paired accuracy change "
                  "(remedy minus baseline, same split and initialization) pools to 0.034 (quick) and 0.024 (full) "
                  "over 3 seeds; a gain counts from 0.04, above both.",
            "zh": "实测噪声下限：某对策相对基线的准确率变化（同一划分、同一初始化，成对比较）的跨随机种子标准差，"
                  "3 个随机种子合并后 quick 模式为 0.034、full 模式为 0.024；提升达到 0.04（高于两者）才算。"},
        "min_gap_cut": {
            "en": "Measured: 30% of the baseline gap is about 0.075, 1.5-2 times the gap's across-seed standard "
                  "deviation (0.040 quick, 0.049 full, 3 seeds).",
            "zh": "实测：基线差距的 30% 约为 0.075，是该差距跨随机种子标准差（3 个随机种子，quick 0.040，full 0.049）"
                  "的 1.5-2 倍。"},
        "max_acc_loss": {
            "en": "Measured noise floor: the same pooled across-seed standard deviation (0.034 quick, 0.024 full); a "
                  "loss smaller than 0.04 cannot be told from noise.",
            "zh": "实测噪声下限：同样的合并跨随机种子标准差（quick 0.034，full 0.024）；小于 0.04 的损失无法与噪声区"
                  "分。"},
    }
    reachable = (CONFIRMED, NUANCED, REFUTED)
    key_term = {"en": "the train-validation gap (bias and variance)", "zh": "训练集与验证集的差距（偏差与方差）"}
    key_figure = "gap_baseline"
    answer = {
        "confirmed": {
            "en": "Define over-fitting by the gap between training and validation accuracy ({gap_baseline} for "
                  "the baseline here) and list the remedies: every one tried here closed that gap or raised "
                  "validation accuracy.",
            "zh": "用训练准确率与验证准确率之差定义过拟合（这里基线为 {gap_baseline}），再列出对策："
                  "这里试过的每一种都缩小了差距或提高了验证准确率。"},
        "nuanced": {
            "en": "Define over-fitting by the train-validation gap ({gap_baseline} for the baseline here), but "
                  "do not present the remedies as equal: some closed it and some did not (with more data it "
                  "fell to {gap_more_data}, with batch norm it stayed at {gap_batch_norm}).",
            "zh": "用训练与验证之间的差距定义过拟合（这里基线为 {gap_baseline}），"
                  "但不要把各种对策说成同样有效：有的缩小了差距，有的没有（更多数据时降到 {gap_more_data}，"
                  "加 batch norm 时仍为 {gap_batch_norm}）。"},
        "refuted": {
            "en": "The listed remedies did not close the gap here (baseline gap {gap_baseline}), or the "
                  "baseline hardly over-fitted: say a remedy can only act on a gap that exists, and check the "
                  "gap first.",
            "zh": "这里列出的对策没有缩小差距（基线差距 {gap_baseline}），或者基线本身几乎没有过拟合："
                  "回答时要说明对策只能作用于确实存在的差距，先检查差距。"},
    }
    text = {
        "en": {
            "title": "How do you tell over-fitting, and what counters it?",
            "claim": "A model over-fits when it is far more accurate on its training data than on held-out data, and "
                     "under-fits when it is poor on both. More or augmented data, a smaller model, dropout, L1 and "
                     "L2 penalties, cleaning wrong labels, stopping once the validation loss stops falling, and "
                     "batch normalization each counter over-fitting.",
            "method": "Train an MLP (784-192-192-10, Adam) on a small stratified MNIST subset whose training labels "
                      "are 15% wrong, then retrain from the same initialization with each remedy alone (L2 both "
                      "coupled into Adam's gradient and decoupled as AdamW; it counts when either form helps). A "
                      "remedy helps when it raises validation accuracy by the margin, or shrinks the train/"
                      "validation gap by the share without costing more than the margin. The claim holds for each "
                      "remedy that helps, provided the baseline over-fits.",
            "beyond": "The library's diagnosis of each run and of a tiny model (784-2-10) that under-fits, the "
                      "label-noise finder's precision and recall, and each run's first-layer weight norm and share "
                      "of weights below 1e-3 (the seed also says L1/L2 make the network sparser).",
        },
        "zh": {
            "title": "如何判断过拟合？有哪些对策？",
            "claim": "模型在训练数据上比在留出数据上准确得多就是过拟合，两者都差就是欠拟合。增加数据或数据增强、"
                     "缩小模型、dropout、L1 与 L2 惩罚、清洗错误标签、验证损失不再下降时停止训练、以及批归一化，"
                     "都能抑制过拟合。",
            "method": "在一个小的分层 MNIST 子集（训练标签有 15% 是错的）上训练 MLP（784-192-192-10，Adam），"
                      "然后从同一初始化出发，每次只加一种对策重新训练（L2 既以耦合方式加入 Adam 的梯度，也以解耦的 "
                      "AdamW 形式，任一形式有效即算）。若某对策使验证准确率提高达到阈值，或使训练/验证差距缩小一定"
                      "比例且准确率损失不超过阈值，就算有效。在基线确实过拟合的前提下，每种有效的对策上该说法成立。",
            "beyond": "库自带的训练诊断（包括一个欠拟合的极小模型 784-2-10）、标签噪声检测器的精确率与召回率，"
                      "以及每次训练第一层权重的范数和小于 1e-3 的权重比例（原文还说 L1/L2 会使网络更稀疏）。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "val_acc_{m}": {"en": "val accuracy, {m}", "zh": "验证准确率（{m}）"},
        "train_acc_{m}": {"en": "train accuracy, {m}", "zh": "训练准确率（{m}）"},
        "gap_{m}": {"en": "train - val gap, {m}", "zh": "训练与验证的差距（{m}）"},
        "diag_overfit_{m}": {"en": "diagnosed as overfitting, {m}", "zh": "诊断为过拟合（{m}）"},
        "diag_underfit_{m}": {"en": "diagnosed as underfitting, {m}", "zh": "诊断为欠拟合（{m}）"},
        "weight_norm_{m}": {"en": "weight norm, {m}", "zh": "权重范数（{m}）"},
        "weight_small_frac_{m}": {"en": "share of near-zero weights, {m}", "zh": "接近零的权重比例（{m}）"},
        "label_noise_flagged": {"en": "training examples flagged as mislabelled", "zh": "被标记为标签错误的训练样本"},
        "label_noise_precision": {"en": "precision of the mislabel flags", "zh": "标签错误标记的精确率"},
        "label_noise_recall": {"en": "recall of the mislabel flags", "zh": "标签错误标记的召回率"},
    }
    terms = {
        "l2_coupled": {"en": "L2 in the gradient", "zh": "L2（加入梯度）"},
        "l2_decoupled": {"en": "decoupled weight decay", "zh": "解耦权重衰减"},
        "augment": {"en": "augmentation", "zh": "数据增强"},
        "early_stop": {"en": "early stopping", "zh": "早停"},
        "smaller": {"en": "smaller model", "zh": "更小的模型"},
        "more_data": {"en": "more data", "zh": "更多数据"},
        "clean_labels": {"en": "clean labels", "zh": "干净标签"},
        "tiny": {"en": "tiny model", "zh": "极小模型"},
    }

    def measure(self, ctx: Context) -> Result:
        st = prepare(ctx)
        small, more, cleaned, report, noisy_small = st.small, st.more, st.cleaned, st.report, st.noisy_small
        n, epochs, init_seed = len(small.y_train), st.epochs, st.init_seed
        hits = int(noisy_small[report.flagged].sum())

        def train(name: str) -> dict[str, Any]:
            kw: dict[str, Any] = {"dropout": 0.5} if name == "dropout" else {"batch_norm": True} \
                if name == "batch_norm" else {"hidden": (32,)} if name == "smaller" else \
                {"hidden": (2,)} if name == "tiny" else {}
            np.random.seed(init_seed)  # noqa: NPY002 - nothing else here draws from the legacy generator
            from cvprimer import manual_seed

            manual_seed(init_seed)
            model = mlp(**kw)
            params, lr = model.parameters(), 2e-3
            opt = (optim.Adam(params, lr=lr, weight_decay=1e-2) if name == "l2_coupled" else
                   optim.AdamW(params, lr=lr, weight_decay=10.0) if name == "l2_decoupled" else
                   optim.Adam(params, lr=lr, l1_decay=1e-3) if name == "l1" else optim.Adam(params, lr=lr))
            data = more if name == "more_data" else cleaned if name == "clean_labels" else small
            cbs = [EarlyStopping("val_loss", patience=5)] if name == "early_stop" else []
            tf = RandomAffine(12, translate=(0.1, 0.1), scale=(0.9, 1.1)) if name == "augment" else None
            ep = epochs if name != "more_data" else max(epochs // 2, 1)  # a comparable number of steps
            res = fit(model, data, ep, np.random.default_rng(st.order_seed), optimizer=opt, callbacks=cbs,
                      transform=tf)
            val = accuracy(model, data.x_val, data.y_val)  # early stopping restored its best weights
            findings = [f.kind for f in diagnose(res.history)]
            norm, small_w = weight_stats(model)
            ctx.progress.update()
            return {"train": res.train_acc, "val": val, "gap": res.train_acc - val, "findings": findings,
                    "norm": norm, "small_w": small_w, "hist": res.history}

        ctx.progress.set_total(len(REMEDIES) + 2)
        runs = {name: train(name) for name in ("baseline", *REMEDIES, "tiny")}
        figs: dict[str, Figure] = {}
        beyond: dict[str, Figure] = {
            "label_noise_flagged": Figure(len(report.flagged), "samples"),
            "label_noise_precision": Figure(hits / max(len(report.flagged), 1), "fraction"),
            "label_noise_recall": Figure(hits / max(int(noisy_small.sum()), 1), "fraction"),
        }
        rows = []
        for name, r in runs.items():
            into = beyond if name == "tiny" else figs
            into[f"val_acc_{name}"] = Figure(r["val"], "accuracy")
            into[f"gap_{name}"] = Figure(r["gap"], "accuracy", {"en": f"train - validation accuracy, {LABELS[name]}",
                                                                "zh": f"训练与验证准确率之差，{LABELS[name]}"})
            beyond[f"diag_overfit_{name}"] = Figure(float("overfitting" in r["findings"]), "flag")
            beyond[f"weight_norm_{name}"] = Figure(r["norm"], "")
            beyond[f"weight_small_frac_{name}"] = Figure(r["small_w"], "fraction")
            rows.append([LABELS[name], r["train"], r["val"], r["gap"], ", ".join(r["findings"]) or "-", r["norm"],
                         r["small_w"]])
        beyond["diag_underfit_tiny"] = Figure(float("underfitting" in runs["tiny"]["findings"]), "flag")
        return Result(figures=figs, beyond=beyond, tables=[Table(
            "remedies", ["run", "train acc", "val acc", "gap", "diagnosis", "|W1|_2", "|w|<1e-3"], rows,
            {"en": f"{n} training images with {int(100 * NOISE)}% wrong labels, {epochs} epochs of Adam (more data: "
                   f"{4 * n} images, half the epochs). Label-noise finder: {len(report.flagged)} flagged, "
                   f"{hits} of them truly flipped, out of {int(noisy_small.sum())} flipped.",
             "zh": f"{n} 张训练图像，其中 {int(100 * NOISE)}% 标签错误，Adam 训练 {epochs} 轮（更多数据：{4 * n} 张，"
                   f"轮数减半）。标签噪声检测器标出 {len(report.flagged)} 个，其中 {hits} 个确实被翻转"
                   f"（共翻转 {int(noisy_small.sum())} 个）。"})],
            series={"runs": runs})

    def draw(self, res: Result, ctx: Context) -> None:
        """The accuracy curves of every run, then the final train and validation accuracies side by side."""
        runs: Mapping[str, Mapping[str, Any]] = res.series["runs"]
        names = list(runs)
        fig, axes = ctx.figure(3, 4, size=(13, 8.4))
        for ax, name in zip(axes.ravel(), names, strict=True):
            h = runs[name]["hist"]
            ep = np.arange(1, len(h) + 1)
            ax.plot(ep, [r["train_acc"] for r in h], label="train")
            ax.plot(ep, [r["val_acc"] for r in h], label="validation")
            ax.set_ylim(0, 1.02)
            ax.set_title(tr(f"{LABELS[name]}: gap {runs[name]['gap']:.2f}",
                            f"{LABELS[name]}：差距 {runs[name]['gap']:.2f}"))
            ax.set_xlabel("epoch")
            ax.set_ylabel("accuracy")
        axes.ravel()[0].legend(loc="lower right")
        ctx.save_figure(fig, "curves", "Training and validation accuracy per epoch for the baseline, each remedy "
                        "alone and a tiny model; the title gives the final train minus validation gap.",
                        "基线、每种单独对策和极小模型每轮的训练与验证准确率；标题给出最终训练减验证的差距。")
        fig, ax = ctx.figure(1, 1, size=(9, 3.6))
        x = np.arange(len(names))
        ax.bar(x - 0.2, [runs[n]["train"] for n in names], 0.4, label="train (given labels)")
        ax.bar(x + 0.2, [runs[n]["val"] for n in names], 0.4, label="validation")
        ax.axhline(runs["baseline"]["val"], color="k", lw=0.8, ls="--", label="baseline validation")
        ax.set_xticks(x, [LABELS[n] for n in names], rotation=35, ha="right")
        ax.set_ylabel("accuracy")
        ax.set_ylim(0, 1.05)
        ax.set_title("Final accuracies: the gap is the distance between the bars")
        ax.legend(loc="lower left", fontsize=7)
        ctx.save_figure(fig, "gaps", "Final training and validation accuracy for each run; remedies that help "
                        "raise the validation bar above the dashed baseline line or bring the bars together.",
                        "每次训练最终的训练和验证准确率；有效的对策使验证柱高于虚线基线，或让两根柱子靠近。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        gap0, acc0 = figures["gap_baseline"], figures["val_acc_baseline"]
        overfits = gap0 >= thresholds["min_base_gap"]
        ok = [r for r in SEED_REMEDIES if remedy_helps(figures, r, thresholds)]
        bad = [r for r in SEED_REMEDIES if r not in ok]
        verdict = (REFUTED if not overfits or not ok else CONFIRMED if not bad else NUANCED)

        def one(r: str, zh: bool) -> str:
            forms = ("l2_coupled", "l2_decoupled") if r == "l2" else (r,)
            sep = "；" if zh else "; "
            parts = sep.join(f"{fmt(figures[f'val_acc_{f}'])}{'，差距 ' if zh else ', gap '}{fmt(figures[f'gap_{f}'])}"
                             for f in forms)
            return f"{(LABELS_ZH if zh else LABELS)[r]}（{parts}）" if zh else f"{LABELS[r]} ({parts})"

        def lst(names: list[str], zh: bool = False) -> str:
            return ("、" if zh else ", ").join(one(r, zh) for r in names) or ("无" if zh else "none")

        th = thresholds
        return verdict, evidence(
            en=f"The baseline reaches validation accuracy {fmt(acc0)} with a train/validation gap of {fmt(gap0)} "
               f"(it over-fits from a gap of {fmt(th['min_base_gap'])}: {'yes' if overfits else 'no'}). A remedy "
               f"helps when it adds at least {fmt(th['min_acc_gain'])} validation accuracy, or cuts the gap by "
               f"{fmt(100 * th['min_gap_cut'])}% at a cost of at most {fmt(th['max_acc_loss'])}; L2 is shown as "
               f"coupled; decoupled. {len(ok)} of {len(SEED_REMEDIES)} help (validation accuracy, gap): {lst(ok)}. "
               f"Not helping: {lst(bad)}.",
            zh=f"基线的验证准确率为 {fmt(acc0)}，训练/验证差距为 {fmt(gap0)}（差距达到 {fmt(th['min_base_gap'])} "
               f"算过拟合：{'是' if overfits else '否'}）。某对策使验证准确率至少提高 {fmt(th['min_acc_gain'])}，"
               f"或使差距缩小 {fmt(100 * th['min_gap_cut'])}% 且准确率损失不超过 {fmt(th['max_acc_loss'])}，"
               f"就算有效；L2 依次列出耦合与解耦两种形式。{len(SEED_REMEDIES)} 种对策中 {len(ok)} 种有效"
               f"（验证准确率，差距）：{lst(ok, True)}。无效：{lst(bad, True)}。")

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        b = {k: fmt(v) for k, v in beyond.items()}
        pct = {k: fmt(100 * v) for k, v in beyond.items() if k.startswith("weight_small_frac_")}
        return {
            "en": f"Share of runs the library's diagnosis flags: the baseline as over-fitting "
                  f"{b['diag_overfit_baseline']}, the tiny model (validation accuracy {b['val_acc_tiny']}, gap "
                  f"{b['gap_tiny']}) as under-fitting {b['diag_underfit_tiny']}. The label-noise finder flagged "
                  f"{b['label_noise_flagged']} samples, precision "
                  f"{b['label_noise_precision']}, recall {b['label_noise_recall']}. Share of first-layer weights "
                  f"below 1e-3: baseline {pct['weight_small_frac_baseline']}%, L1 {pct['weight_small_frac_l1']}%, L2 "
                  f"coupled into Adam {pct['weight_small_frac_l2_coupled']}%, L2 decoupled (AdamW) "
                  f"{pct['weight_small_frac_l2_decoupled']}%; first-layer weight norm: baseline "
                  f"{b['weight_norm_baseline']}, L1 {b['weight_norm_l1']}, coupled L2 {b['weight_norm_l2_coupled']}, "
                  f"AdamW {b['weight_norm_l2_decoupled']}.",
            "zh": f"库自带的诊断把基线判为过拟合的比例为 {b['diag_overfit_baseline']}，把极小模型（验证准确率 "
                  f"{b['val_acc_tiny']}，差距 {b['gap_tiny']}）判为欠拟合的比例为 {b['diag_underfit_tiny']}。"
                  f"标签噪声检测器标出 {b['label_noise_flagged']} 个样本，"
                  f"精确率 {b['label_noise_precision']}，召回率 {b['label_noise_recall']}。"
                  f"第一层权重中小于 1e-3 的比例：基线 {pct['weight_small_frac_baseline']}%，"
                  f"L1 {pct['weight_small_frac_l1']}%，耦合进 Adam 的 L2 {pct['weight_small_frac_l2_coupled']}%，"
                  f"解耦的 L2（AdamW）{pct['weight_small_frac_l2_decoupled']}%；"
                  f"第一层权重范数：基线 {b['weight_norm_baseline']}，L1 {b['weight_norm_l1']}，耦合 L2 "
                  f"{b['weight_norm_l2_coupled']}，AdamW {b['weight_norm_l2_decoupled']}。",
        }
