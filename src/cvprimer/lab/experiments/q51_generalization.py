"""Question 51: how to make a network generalize better — a page that ties the lab's measured remedies
together, with a small live demo.

The demo trains one over-sized MLP on 150 of scikit-learn's digits and measures the train/validation gap with
each remedy alone: weight decay (AdamW), dropout, shift augmentation, early stopping on a held-out split, a
smaller model, and four times more data (for a quarter of the epochs: the same number of steps). The body
points to the experiments that measure each remedy in depth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import nn
from cvprimer.data.augment import RandomCrop
from cvprimer.lab._shifts import lean
from cvprimer.lab.common import Data, accuracy, fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, fmt
from cvprimer.lab.plots import tr_table
from cvprimer.train.callbacks import EarlyStopping

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "train accuracy (the 150 images)": "训练准确率（150 张图像）",
    "accuracy (%)": "准确率（%）",
    "One over-sized MLP on 150 digits, one remedy at a time": "150 张 digits 上一个过大的 MLP，每次一种补救",
    "4x data": "4 倍数据",
    "dropout 0.5": "Dropout 0.5",
    "early stopping": "早停",
    "none": "无正则化",
    "shift augmentation": "平移增强",
    "smaller model": "更小的模型",
})

BODY_EN = """\
Generalization is the gap between what a model does on its training data and on data it has never seen. The \
seed lists two families of levers: the data (collect more, rescale and transform it, engineer or reframe the \
features) and the algorithm (diagnose the model, initialize with small random weights, tune the learning rate, \
choose the activation and the topology, set batch size and epochs, regularize, change the optimizer, stop \
early). This page does not judge them; the demo above runs six of them side by side on one over-sized MLP, and \
the experiments named below measure them one by one, each with its own verdict.

Diagnose first. A large train/validation gap points to over-fitting, two low accuracies to under-fitting; \
q04-overfitting shows learning curves and the trainer's diagnosis, and applies remedies one at a time: dropout, \
coupled and decoupled L2, L1, augmentation, early stopping, a smaller model, more data, batch norm and cleaning \
noisy labels.

Data. q04-overfitting and q24-why-deep-learning vary the amount of data; q42-augmentation tries single \
augmentations on the digits (an augmentation can only pay for variation the test images have and that keeps the \
label); q52-cnn-vs-mlp measures recognition of shifted digits with and without shift augmentation; \
q33-class-imbalance compares re-sampling, class weights, focal loss and threshold moving.

Regularization. q27-l1-vs-l2 compares L1 and L2 (weight histograms, exact zeros, the proximal step); \
q29-dropout measures the train/validation gap with and without dropout; q48-batch-norm measures what batch norm \
does to gradients and convergence. Any regularizer applied too strongly trades over-fitting for under-fitting.

Optimization and architecture. The learning rate, its warm-up and schedule, batch size and the optimizer are \
measured in q05-optimizers, q07-tuning-tips, q30-batch-size and q43-warmup; initialization in q19-zero-init and \
q20-init-depth; depth against width at an equal budget in q08-depth-width; weight sharing and pooling in \
q52-cnn-vs-mlp and q36-max-vs-avg-pool.

Early stopping needs only a validation split, which every other remedy needs anyway to be judged."""

BODY_ZH = """\
泛化能力是模型在训练数据上与在从未见过的数据上表现之间的差距。原文列出两类手段：数据方面（收集更多数据、\
对数据做缩放和变换、构造或重新定义特征）和算法方面（诊断模型、用小的随机数初始化权重、调节学习率、选择激活函数\
和网络结构、设定批大小和 epoch 数、加入正则化、更换优化器、提前停止）。本页不对它们下结论；上面的演示在同一个过大\
的 MLP 上并排运行其中六种，下面提到的实验逐一测量它们，各有自己的结论。

先诊断。训练与验证准确率差距大提示过拟合，两者都低提示欠拟合；q04-overfitting 展示学习曲线和训练器的诊断，\
并逐一单独施加 dropout、耦合与解耦的 L2、L1、数据增强、提前停止、更小的模型、更多数据、批归一化以及清洗噪声标签。

数据。q04-overfitting 和 q24-why-deep-learning 改变数据量；q42-augmentation 在 digits 上尝试单一的数据增强\
（增强只能为测试图像中确实存在、且不改变标签的变化买单）；q52-cnn-vs-mlp 测量使用与不使用平移增强时对平移后\
数字的识别；q33-class-imbalance 比较重采样、类别权重、focal loss 和阈值移动。

正则化。q27-l1-vs-l2 比较 L1 与 L2（权重直方图、恰为零的权重、近端步骤）；q29-dropout 测量有无 dropout 时训练\
与验证的差距；q48-batch-norm 测量批归一化对梯度和收敛的作用。任何正则化用得过强都会把过拟合变成欠拟合。

优化与结构。学习率及其预热和调度、批大小和优化器在 q05-optimizers、q07-tuning-tips、q30-batch-size 和 \
q43-warmup 中测量；初始化在 q19-zero-init 和 q20-init-depth 中；参数量相同时深度与宽度的比较在 \
q08-depth-width 中；权重共享和池化在 q52-cnn-vs-mlp 和 q36-max-vs-avg-pool 中。

提前停止只需要一个验证集，而其他任何手段本来也需要验证集来评判。"""


def big_mlp(dropout: float = 0.0, hidden: int = 256) -> Any:
    """64 -> hidden -> hidden -> 10 with ReLU (and dropout after each hidden layer when ``dropout`` > 0)."""
    drop: Callable[[], list[Any]] = (lambda: [nn.Dropout(dropout)]) if dropout else (lambda: [])
    return nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), *drop(), nn.Linear(hidden, hidden),
                         nn.ReLU(), *drop(), nn.Linear(hidden, 10))


class Generalization(Experiment):
    id = "q51-generalization"
    questions = (51,)
    topic = "regularization"
    kind = "page"
    key_term = {"en": "diagnosing the generalization gap", "zh": "泛化差距的诊断"}
    answer = {"en": "Diagnose before acting: a large train-validation gap means over-fitting, two low scores mean "
                "under-fitting. Then pull one lever at a time, on the data (more of it, augmentation, better "
                "features) or on the training (regularization, early stopping, learning rate, batch size, "
                "architecture), and measure each.",
              "zh": "先诊断再动手：训练与验证差距大说明过拟合，两者都低说明欠拟合。然后一次只动一个因素，"
                "要么在数据上（更多数据、数据增强、更好的特征），要么在训练上（正则化、早停、学习率、批量大小、"
                "网络结构），并逐一测量。"}
    text = {
        "en": {
            "title": "How can you make a network generalize better?",
            "claim": "Generalization improves through the data (more of it, rescaled and transformed, better "
                     "features) and through the algorithm (diagnosis, initialization, learning rate, activation, "
                     "topology, batch size and epochs, regularization, optimizer, early stopping).",
            "method": "Live demo: an over-sized MLP (two hidden layers of 256) on 150 of scikit-learn's 8x8 digits, "
                      "trained from the same weights with no remedy and with each remedy alone: weight decay "
                      "(AdamW), dropout 0.5, shift augmentation, early stopping (patience 3 on 150 held-out images), a "
                      "smaller model (32 hidden units) and four times more data; train accuracy, validation "
                      "accuracy and their gap on 500 other digits. The body links the experiments that measure "
                      "each remedy in depth.",
            "body": BODY_EN,
        },
        "zh": {
            "title": "怎样让网络泛化得更好？",
            "claim": "泛化能力可以从数据入手提升（更多数据、缩放与变换、更好的特征），也可以从算法入手"
                     "（诊断、初始化、学习率、激活函数、网络结构、批大小与 epoch、正则化、优化器、提前停止）。",
            "method": "现场演示：在 150 张 scikit-learn 8x8 digits 上训练一个过大的 MLP（两层各 256 个隐藏"
                      "单元），用相同的初始权重分别不加任何手段、以及单独使用权重衰减（AdamW）、dropout 0.5、"
                      "平移增强、提前停止（在 150 张留出图像上，耐心为 3）、更小的模型（32 个隐藏单元）和四倍数据；"
                      "在另外 500 张数字上测训练准确率、验证准确率及其差距。正文给出深入测量每种手段的实验。",
            "body": BODY_ZH,
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "val_acc_{m}": {"en": "val accuracy, {m}", "zh": "验证准确率（{m}）"},
        "gap_{m}": {"en": "train - val gap, {m}", "zh": "训练与验证的差距（{m}）"},
    }
    terms = {
        "none": {"en": "no regularization", "zh": "无正则化"},
        "weight_decay": {"en": "weight decay", "zh": "权重衰减"},
        "dropout_05": {"en": "dropout 0.5", "zh": "Dropout 0.5"},
        "shift_augmentation": {"en": "shift augmentation", "zh": "平移增强"},
        "early_stopping": {"en": "early stopping", "zh": "早停"},
        "smaller_model": {"en": "smaller model", "zh": "更小的模型"},
        "more_data": {"en": "more data", "zh": "更多数据"},
    }

    def measure(self, ctx: Context) -> Result:
        full = load_data("digits", 600, 500, ctx.rng)
        small = Data(full.x_train[:150], full.y_train[:150], full.x_val, full.y_val)
        epochs = ctx.pick(24, 100, tiny=2)
        state = ctx.child_rng().bit_generator.state

        held_out = Data(small.x_train, small.y_train, full.x_train[450:], full.y_train[450:])
        plans: dict[str, tuple[Callable[[], Any], Data, dict[str, Any]]] = {
            "none": (big_mlp, small, {}),
            "weight decay": (big_mlp, small, {"optimizer": "adamw", "weight_decay": 0.1}),
            "dropout 0.5": (lambda: big_mlp(0.5), small, {}),
            "shift augmentation": (big_mlp, small, {"transform": RandomCrop(8, padding=1)}),
            "early stopping": (big_mlp, held_out, {"callbacks": [EarlyStopping(patience=3)]}),
            "smaller model": (lambda: big_mlp(hidden=32), small, {}),
            "4x data": (big_mlp, full, {}),
        }
        scores: dict[str, list[float]] = {}
        for name, (build, data, kw) in plans.items():
            cp.manual_seed(ctx.seed)
            model = build()
            gen = np.random.default_rng()
            gen.bit_generator.state = state
            n_epochs = max(1, epochs // 4) if name == "4x data" else epochs  # the same number of steps
            fit(model, data if name == "early stopping" else lean(data), n_epochs, gen, lr=3e-3, **kw)
            tr = 100 * accuracy(model, small.x_train, small.y_train)
            va = 100 * accuracy(model, full.x_val, full.y_val)
            scores[name] = [tr, va, tr - va]
        rows = [[k, f"{r[0]:.1f}", f"{r[1]:.1f}", f"{r[2]:.1f}"] for k, r in scores.items()]
        slug = {k: k.replace(" ", "_").replace(".", "").replace("4x", "more") for k in scores}
        figures = {f"val_acc_{slug[k]}": Figure(r[1], "%") for k, r in scores.items()}
        figures.update({f"gap_{slug[k]}": Figure(r[2], "points") for k, r in scores.items()})
        base = scores["none"]
        best = max((k for k in scores if k != "none"), key=lambda k: scores[k][1])
        narrow = min((k for k in scores if k != "none"), key=lambda k: scores[k][2])
        notes = {"en": f"In this run, with no remedy the MLP scores {fmt(base[0])}% on its 150 training images and "
                       f"{fmt(base[1])}% on validation (gap {fmt(base[2])} points). The highest validation accuracy "
                       f"came with {best} ({fmt(scores[best][1])}%), the narrowest gap with {narrow} "
                       f"({fmt(scores[narrow][2])} points). One run of a small demo, not a verdict.",
                 "zh": f"本次运行中，不加任何手段时 MLP 在 150 张训练图像上为 {fmt(base[0])}%，验证集上为 "
                       f"{fmt(base[1])}%（差距 {fmt(base[2])} 个百分点）。验证准确率最高的是 {best}"
                       f"（{fmt(scores[best][1])}%），差距最小的是 {narrow}（{fmt(scores[narrow][2])} 个百分点）。"
                       f"这只是一次小演示，不是结论。"}
        return Result(figures=figures, notes=notes, tables=[Table("remedies", ["remedy", "train acc (%)", "val acc (%)",
                                                                  "gap (points)"], rows,
                                                     {"en": "Train accuracy is on the 150 base images in every row.",
                                                      "zh": "每一行的训练准确率都在那 150 张基础图像上计算。"})],
                      series={"scores": scores})

    def draw(self, res: Result, ctx: Context) -> None:
        scores = res.series["scores"]  # remedy -> [train acc, val acc, gap] (%)
        fig, ax = ctx.figure(1, 1, size=(8, 3.6))
        xs = np.arange(len(scores))
        ax.bar(xs - 0.2, [r[0] for r in scores.values()], 0.4, label="train accuracy (the 150 images)")
        ax.bar(xs + 0.2, [r[1] for r in scores.values()], 0.4, label="validation accuracy")
        ax.set_xticks(xs, list(scores), rotation=20, ha="right")
        ax.set_ylim(min(r[1] for r in scores.values()) - 10, 101)
        ax.set_ylabel("accuracy (%)")
        ax.set_title("One over-sized MLP on 150 digits, one remedy at a time")
        ax.legend(fontsize=7, loc="lower right")
        ctx.save_figure(fig, "remedies", "Train and validation accuracy of an over-sized MLP on 150 digits with no "
                        "remedy and with weight decay, dropout, shift augmentation, early stopping, a smaller model "
                        "or four times more data.",
                        "过大的 MLP 在 150 张数字上的训练与验证准确率：不加手段，以及分别使用权重衰减、dropout、"
                        "平移增强、提前停止、更小的模型或四倍数据。")
