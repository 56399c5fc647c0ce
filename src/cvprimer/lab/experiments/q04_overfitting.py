"""Questions 4 and 22: how to recognise over- and under-fitting, and which remedies work.

Measured on a deliberately small, partly mislabelled training set of the MNIST sample (stratified, 15% of
the training labels flipped to another class) with an MLP (784-192-192-10, Adam) that memorises it. Each
remedy is applied alone to the same split and the same initialization: dropout, L2 coupled into Adam's
gradient (``weight_decay``), decoupled L2 (AdamW), L1 (``l1_decay``), augmentation (random affine warps),
early stopping (``EarlyStopping``, best weights restored), a smaller model, four times more data (same
noise rate), batch normalization and cleaning the labels with the label-noise finder
(``find_label_noise``, flagged samples dropped). For each: the learning curves, the final train/validation
gap, the trainer's diagnosis (``diagnose``) and what the remedy did to the first layer's weights (norm and
the share below 1e-3). A tiny model (784-2-10) shows the opposite case, under-fitting.

Coupled vs decoupled L2 is compared under Adam only: for plain SGD the two coincide (adding ``lam * w`` to
the gradient and then stepping ``-lr * g`` is the decay ``w <- (1 - lr * lam) w``), so they cannot differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cvprimer import nn, optim
from cvprimer.analysis.timing import blas_threads
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
from cvprimer.train import EarlyStopping, diagnose
from cvprimer.train.noise import find_label_noise

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


class OverfittingRemedies(Experiment):
    id = "q04-overfitting"
    questions = (4, 22)
    topic = "regularization"
    thresholds = {"min_base_gap": 0.15, "min_acc_gain": 0.01, "min_gap_cut": 0.3, "max_acc_loss": 0.01,
                  "min_helped_frac": 1.0}
    text = {
        "en": {
            "title": "Over- and under-fitting, and ten remedies measured one at a time",
            "claim": "A model overfits when it is much more accurate on the training set than on held-out data, "
                     "and underfits when it is poor on both. More data or augmentation, a smaller model, dropout, "
                     "L1/L2 penalties (which make the weights sparse), cleaning wrong labels, stopping when the "
                     "validation loss stops falling and batch normalization all prevent overfitting.",
            "method": "Train an MLP (784-192-192-10, Adam) on a small stratified MNIST subset whose training labels "
                      "are 15% wrong, then retrain from the same initialization with each remedy alone. Record "
                      "learning curves, the final train/validation gap, the library's diagnosis of the run, and "
                      "the first layer's weight norm and share of near-zero weights. A remedy counts as helping "
                      "when it raises validation accuracy or shrinks the gap without costing accuracy. (Coupled and "
                      "decoupled L2 are compared under Adam; under plain SGD they are the same update.)",
        },
        "zh": {
            "title": "过拟合与欠拟合，以及逐一测量的十种对策",
            "claim": "模型在训练集上比在留出数据上准确得多就是过拟合，两者都差就是欠拟合。增加数据或数据增强、"
                     "缩小模型、dropout、L1/L2 惩罚（让权重变稀疏）、清洗错误标签、验证损失不再下降时停止训练、"
                     "以及批归一化，都能防止过拟合。",
            "method": "在一个小的分层 MNIST 子集（训练标签有 15% 是错的）上训练 MLP（784-192-192-10，Adam），"
                      "然后从同一初始化出发，每次只加一种对策重新训练。记录学习曲线、最终的训练/验证差距、"
                      "库自带的训练诊断，以及第一层权重的范数和接近零的比例。"
                      "若某对策提高了验证准确率，或在不损失准确率的前提下缩小了差距，就算有效。"
                      "（耦合与解耦的 L2 在 Adam 下比较；对普通 SGD 两者是同一个更新。）",
        },
    }

    def run(self, ctx: Context) -> Result:
        with blas_threads(1):  # small matrices: one BLAS thread is faster on a shared machine
            return self._run(ctx)

    def _run(self, ctx: Context) -> Result:
        n, epochs = ctx.pick(250, 300), ctx.pick(20, 60)
        big = load_data("mnist_sample", 4 * n, ctx.pick(500, 1000), ctx.rng)
        y_noisy, flipped = flip_labels(big.y_train, NOISE, 10, ctx.rng)
        small_idx = np.sort(ctx.rng.choice(4 * n, n, replace=False))
        small = Data(big.x_train[small_idx], y_noisy[small_idx], big.x_val, big.y_val)
        more = Data(big.x_train, y_noisy, big.x_val, big.y_val)
        noisy_small = np.isin(small_idx, flipped)
        report = find_label_noise(small.x_train, small.y_train, 10, rng=ctx.child_rng())
        keep = np.setdiff1d(np.arange(n), report.flagged)
        cleaned = Data(small.x_train[keep], small.y_train[keep], big.x_val, big.y_val)
        hits = int(noisy_small[report.flagged].sum())
        init_seed = int(ctx.rng.integers(2**31))

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
            res = fit(model, data, ep, np.random.default_rng(ctx.seed), optimizer=opt, callbacks=cbs, transform=tf)
            val = accuracy(model, data.x_val, data.y_val)  # early stopping restored its best weights
            findings = [f.kind for f in diagnose(res.history)]
            norm, small_w = weight_stats(model)
            ctx.progress.update()
            return {"train": res.train_acc, "val": val, "gap": res.train_acc - val, "findings": findings,
                    "norm": norm, "small_w": small_w, "hist": res.history}

        ctx.progress.set_total(len(REMEDIES) + 2)
        runs = {name: train(name) for name in ("baseline", *REMEDIES, "tiny")}
        figs: dict[str, Figure] = {
            "label_noise_flagged": Figure(len(report.flagged), "samples"),
            "label_noise_precision": Figure(hits / max(len(report.flagged), 1), "fraction"),
            "label_noise_recall": Figure(hits / max(int(noisy_small.sum()), 1), "fraction"),
        }
        rows = []
        for name, r in runs.items():
            figs[f"val_acc_{name}"] = Figure(r["val"], "accuracy")
            figs[f"gap_{name}"] = Figure(r["gap"], "accuracy", {"en": f"train - validation accuracy, {LABELS[name]}",
                                                                "zh": f"训练与验证准确率之差，{LABELS[name]}"})
            figs[f"diag_overfit_{name}"] = Figure(float("overfitting" in r["findings"]), "flag")
            figs[f"weight_norm_{name}"] = Figure(r["norm"], "")
            figs[f"weight_small_frac_{name}"] = Figure(r["small_w"], "fraction")
            rows.append([LABELS[name], r["train"], r["val"], r["gap"], ", ".join(r["findings"]) or "-", r["norm"],
                         r["small_w"]])
        figs["diag_underfit_tiny"] = Figure(float("underfitting" in runs["tiny"]["findings"]), "flag")
        self._plots(ctx, runs)
        return Result(figures=figs, tables=[Table(
            "remedies", ["run", "train acc", "val acc", "gap", "diagnosis", "|W1|_2", "|w|<1e-3"], rows,
            {"en": f"{n} training images with {int(100 * NOISE)}% wrong labels, {epochs} epochs of Adam (more data: "
                   f"{4 * n} images, half the epochs). Label-noise finder: {len(report.flagged)} flagged, "
                   f"{hits} of them truly flipped, out of {int(noisy_small.sum())} flipped.",
             "zh": f"{n} 张训练图像，其中 {int(100 * NOISE)}% 标签错误，Adam 训练 {epochs} 轮（更多数据：{4 * n} 张，"
                   f"轮数减半）。标签噪声检测器标出 {len(report.flagged)} 个，其中 {hits} 个确实被翻转"
                   f"（共翻转 {int(noisy_small.sum())} 个）。"})])

    @staticmethod
    def _plots(ctx: Context, runs: Mapping[str, Mapping[str, Any]]) -> None:
        names = list(runs)
        fig, axes = ctx.figure(3, 4, size=(13, 8.4))
        for ax, name in zip(axes.ravel(), names, strict=True):
            h = runs[name]["hist"]
            ep = np.arange(1, len(h) + 1)
            ax.plot(ep, [r["train_acc"] for r in h], label="train")
            ax.plot(ep, [r["val_acc"] for r in h], label="validation")
            ax.set_ylim(0, 1.02)
            ax.set_title(f"{LABELS[name]}: gap {runs[name]['gap']:.2f}")
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
        ok = [r for r in REMEDIES if helps(gap0, acc0, figures[f"gap_{r}"], figures[f"val_acc_{r}"], thresholds)]
        bad = [r for r in REMEDIES if r not in ok]
        frac = len(ok) / len(REMEDIES)
        overfits = gap0 >= thresholds["min_base_gap"]
        verdict = (CONFIRMED if overfits and frac >= thresholds["min_helped_frac"] else
                   NUANCED if overfits and frac >= 0.5 else REFUTED)

        def lst(names: list[str], zh: bool = False) -> str:
            if zh:
                return "、".join(f"{LABELS_ZH[r]}（{fmt(figures[f'val_acc_{r}'])}，差距 {fmt(figures[f'gap_{r}'])}）"
                                for r in names) or "无"
            return ", ".join(f"{LABELS[r]} ({fmt(figures[f'val_acc_{r}'])}, gap {fmt(figures[f'gap_{r}'])})"
                             for r in names) or "none"

        n2, n0 = figures["weight_norm_l2_decoupled"], figures["weight_norm_baseline"]
        s0, s2, s1 = (figures[f"weight_small_frac_{k}"] for k in ("baseline", "l2_decoupled", "l1"))
        return verdict, evidence(
            en=f"The baseline reaches a train/validation gap of {fmt(gap0)} (overfitting needs >= "
               f"{fmt(thresholds['min_base_gap'])}) at validation accuracy {fmt(acc0)}; the diagnosis flags "
               f"overfitting: {'yes' if figures['diag_overfit_baseline'] else 'no'}; the tiny model is diagnosed "
               f"underfitting: {'yes' if figures['diag_underfit_tiny'] else 'no'}. {len(ok)} of {len(REMEDIES)} "
               f"remedies help (>= {fmt(thresholds['min_acc_gain'])} validation accuracy, or the gap cut by "
               f"{fmt(100 * thresholds['min_gap_cut'])}% at no more than {fmt(thresholds['max_acc_loss'])} cost; "
               f"{fmt(100 * thresholds['min_helped_frac'])}% needed to confirm): {lst(ok)}. Not helping: "
               f"{lst(bad)}. L2 shrinks the first layer's weight norm ({fmt(n0)} -> {fmt(n2)} with AdamW) but does "
               f"not make it sparse ({fmt(100 * s2)}% of weights below 1e-3 vs {fmt(100 * s0)}%); L1 does "
               f"({fmt(100 * s1)}%).",
            zh=f"基线的训练/验证差距为 {fmt(gap0)}（过拟合要求 >= {fmt(thresholds['min_base_gap'])}），验证准确率 "
               f"{fmt(acc0)}；诊断{'报告' if figures['diag_overfit_baseline'] else '未报告'}过拟合；极小模型"
               f"{'被' if figures['diag_underfit_tiny'] else '未被'}诊断为欠拟合。{len(REMEDIES)} 种对策中有 "
               f"{len(ok)} 种有效（验证准确率提高 >= {fmt(thresholds['min_acc_gain'])}，或差距缩小 "
               f"{fmt(100 * thresholds['min_gap_cut'])}% 且准确率损失不超过 {fmt(thresholds['max_acc_loss'])}；"
               f"确认需要 {fmt(100 * thresholds['min_helped_frac'])}%）：{lst(ok, True)}。无效：{lst(bad, True)}。"
               f"L2 使第一层权重范数变小（AdamW：{fmt(n0)} -> {fmt(n2)}），但并不使其稀疏（小于 1e-3 的权重占 "
               f"{fmt(100 * s2)}%，基线为 {fmt(100 * s0)}%）；L1 才会（{fmt(100 * s1)}%）。")
