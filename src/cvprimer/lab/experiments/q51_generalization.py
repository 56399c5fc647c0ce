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
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table
from cvprimer.train.callbacks import EarlyStopping

BODY_EN = """\
Generalization is the gap between what a model does on its training data and on data it has never seen. The \
seed lists two families of levers: the data (collect more, rescale and transform it, engineer or reframe the \
features) and the algorithm (diagnose the model, initialize with small random weights, tune the learning rate, \
choose the activation and the topology, set batch size and epochs, regularize, change the optimizer, stop \
early). The lab measures most of them; the demo above runs six of them side by side on one over-sized MLP.

Diagnose first. A large train/validation gap means over-fitting, two low accuracies mean under-fitting; the \
learning curves and the trainer's diagnosis in q04-overfitting show both, and each remedy applied alone: \
dropout, coupled and decoupled L2, L1, augmentation, early stopping, a smaller model, more data, batch norm and \
cleaning noisy labels.

Data. More data is the most reliable lever in every experiment that varies it (q04-overfitting, \
q24-why-deep-learning). Augmentation is not free: q42-augmentation shows that on small, centred digits most \
single augmentations do not help and flips or large crops hurt, because an augmentation only pays for \
variation the test images really have and that keeps the label. When the test images do move, q52-cnn-vs-mlp \
shows that translation robustness comes from shift augmentation and global pooling rather than from \
convolution itself. With imbalanced classes, q33-class-imbalance measures what re-sampling, class weights, \
focal loss and threshold moving buy.

Regularization. q27-l1-vs-l2 compares L1 and L2 (weight histograms, exact zeros, the proximal step); \
q29-dropout measures the gap with and without dropout and the ensemble view; q48-batch-norm covers batch norm. \
Their effect is real but smaller than that of more data, and too much of any of them turns over-fitting into \
under-fitting.

Optimization and architecture. The learning rate, its warm-up and schedule, batch size and the optimizer \
change both how fast and how well a model fits (q05-optimizers, q07-tuning-tips, q30-batch-size, q43-warmup); \
initialization decides whether deep nets train at all (q19-zero-init, q20-init-depth). Capacity is only part of \
the story (depth against width at an equal budget in q08-depth-width); architectural priors matter as much: \
weight sharing and pooling (q52-cnn-vs-mlp, q36-max-vs-avg-pool) give a CNN its advantage on images at equal \
size.

Early stopping is the cheapest remedy of all: it needs only a validation split, which every other remedy needs \
anyway to be judged."""

BODY_ZH = """\
泛化能力是模型在训练数据上与在从未见过的数据上表现之间的差距。原文列出两类手段：数据方面（收集更多数据、\
对数据做缩放和变换、构造或重新定义特征）和算法方面（诊断模型、用小的随机数初始化权重、调节学习率、选择激活函数\
和网络结构、设定批大小和 epoch 数、加入正则化、更换优化器、提前停止）。实验室测量了其中大部分；上面的演示在同一\
个过大的 MLP 上并排比较了其中六种。

先诊断。训练与验证准确率差距大说明过拟合，两者都低说明欠拟合；q04-overfitting 的学习曲线和训练器的诊断展示了\
这两种情况，并逐一单独测量了 dropout、耦合与解耦的 L2、L1、数据增强、提前停止、更小的模型、更多数据、批归一化\
以及清洗噪声标签的效果。

数据。在所有改变数据量的实验中，更多数据都是最可靠的手段（q04-overfitting、q24-why-deep-learning）。数据增强\
并非白送：q42-augmentation 表明，在小而居中的数字上大多数单一增强并无帮助，翻转或大幅裁剪反而有害，因为增强只\
对测试图像中确实存在、且不改变标签的变化有用。当测试图像确实会平移时，q52-cnn-vs-mlp 表明对平移的鲁棒性来自\
平移增强和全局池化，而不是卷积本身。类别不平衡时，q33-class-imbalance 测量了重采样、类别权重、focal loss 和\
阈值移动各自的收益。

正则化。q27-l1-vs-l2 比较 L1 与 L2（权重直方图、恰为零的权重、近端步骤）；q29-dropout 测量有无 dropout 时\
的差距以及集成的观点；q48-batch-norm 讨论批归一化。它们的作用真实存在，但小于更多数据带来的提升，而且任何一种\
用得过量都会把过拟合变成欠拟合。

优化与结构。学习率及其预热和调度、批大小和优化器既影响拟合的速度也影响拟合的好坏（q05-optimizers、\
q07-tuning-tips、q30-batch-size、q43-warmup）；初始化决定深层网络能否训练起来（q19-zero-init、\
q20-init-depth）。容量只是一方面（参数量相同时深度与宽度的比较见 \
q08-depth-width），结构上的先验同样重要：权重共享和池化（q52-cnn-vs-mlp、q36-max-vs-avg-pool）使 CNN \
在参数量相同时更适合图像。

提前停止是最便宜的手段：它只需要一个验证集，而其他任何手段本来也需要验证集来评判。"""


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
    text = {
        "en": {
            "title": "Improving generalization: the measured remedies in one place",
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
            "title": "提升泛化能力：实验室测得的各种手段汇总",
            "claim": "泛化能力可以从数据入手提升（更多数据、缩放与变换、更好的特征），也可以从算法入手"
                     "（诊断、初始化、学习率、激活函数、网络结构、批大小与 epoch、正则化、优化器、提前停止）。",
            "method": "现场演示：在 150 张 scikit-learn 8x8 digits 上训练一个过大的 MLP（两层各 256 个隐藏"
                      "单元），用相同的初始权重分别不加任何手段、以及单独使用权重衰减（AdamW）、dropout 0.5、"
                      "平移增强、提前停止（在 150 张留出图像上，耐心为 3）、更小的模型（32 个隐藏单元）和四倍数据；"
                      "在另外 500 张数字上测训练准确率、验证准确率及其差距。正文给出深入测量每种手段的实验。",
            "body": BODY_ZH,
        },
    }

    def run(self, ctx: Context) -> Result:
        from cvprimer.analysis.timing import blas_threads

        full = load_data("digits", 600, 500, ctx.rng)
        small = Data(full.x_train[:150], full.y_train[:150], full.x_val, full.y_val)
        epochs = ctx.pick(24, 100)
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
        res = {}
        with blas_threads(1):
            for name, (build, data, kw) in plans.items():
                cp.manual_seed(ctx.seed)
                model = build()
                gen = np.random.default_rng()
                gen.bit_generator.state = state
                n_epochs = max(1, epochs // 4) if name == "4x data" else epochs  # the same number of steps
                fit(model, data if name == "early stopping" else lean(data), n_epochs, gen, lr=3e-3, **kw)
                tr = 100 * accuracy(model, small.x_train, small.y_train)
                va = 100 * accuracy(model, full.x_val, full.y_val)
                res[name] = [tr, va, tr - va]

        fig, ax = ctx.figure(1, 1, size=(8, 3.6))
        xs = np.arange(len(res))
        ax.bar(xs - 0.2, [r[0] for r in res.values()], 0.4, label="train accuracy (the 150 images)")
        ax.bar(xs + 0.2, [r[1] for r in res.values()], 0.4, label="validation accuracy")
        ax.set_xticks(xs, list(res), rotation=20, ha="right")
        ax.set_ylim(min(r[1] for r in res.values()) - 10, 101)
        ax.set_ylabel("accuracy (%)")
        ax.set_title("One over-sized MLP on 150 digits, one remedy at a time")
        ax.legend(fontsize=7, loc="lower right")
        ctx.save_figure(fig, "remedies", "Train and validation accuracy of an over-sized MLP on 150 digits with no "
                        "remedy and with weight decay, dropout, shift augmentation, early stopping, a smaller model "
                        "or four times more data.",
                        "过大的 MLP 在 150 张数字上的训练与验证准确率：不加手段，以及分别使用权重衰减、dropout、"
                        "平移增强、提前停止、更小的模型或四倍数据。")
        rows = [[k, f"{r[0]:.1f}", f"{r[1]:.1f}", f"{r[2]:.1f}"] for k, r in res.items()]
        slug = {k: k.replace(" ", "_").replace(".", "").replace("4x", "more") for k in res}
        figures = {f"val_acc_{slug[k]}": Figure(r[1], "%") for k, r in res.items()}
        figures.update({f"gap_{slug[k]}": Figure(r[2], "points") for k, r in res.items()})
        return Result(figures=figures, tables=[Table("remedies", ["remedy", "train acc (%)", "val acc (%)",
                                                                  "gap (points)"], rows,
                                                     {"en": "Train accuracy is on the 150 base images in every row.",
                                                      "zh": "每一行的训练准确率都在那 150 张基础图像上计算。"})])
