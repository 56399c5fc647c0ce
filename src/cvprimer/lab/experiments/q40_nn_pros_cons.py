"""Question 40: the pros and cons of neural networks — a page that links measured evidence.

Measured live: data hunger (validation accuracy vs training-set size, small CNN vs raw pixels + softmax
regression on the MNIST sample), compute (parameters and MACs of zoo models from the analyzer), adversarial
fragility (accuracy of the trained CNN under a fast-gradient-sign attack of growing size) and
interpretability (input-gradient saliency maps of a few digits).
"""

from __future__ import annotations

import numpy as np

from cvprimer import models
from cvprimer.lab._convnets import cost
from cvprimer.lab._vision import accuracy_of, data_hunger, fgsm, input_gradient, small_cnn
from cvprimer.lab.common import load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table


class NeuralNetProsCons(Experiment):
    id = "q40-nn-pros-cons"
    questions = (40,)
    topic = "beyond"
    kind = "page"
    text = {
        "en": {
            "title": "Pros and cons of neural networks, with evidence",
            "claim": "Neural networks learn features automatically and reach high accuracy, but they need a lot "
                     "of data and compute, are hard to interpret and can be fooled easily.",
            "method": "On the MNIST sample: accuracy vs training-set size for a small CNN and for raw pixels + "
                      "softmax regression; parameters and multiply-accumulates of zoo models from our analyzer; "
                      "a fast-gradient-sign (FGSM) attack on the trained CNN, accuracy vs the attack size epsilon "
                      "(pixels in [0, 1]); saliency maps (gradient of the true class's logit with respect to the "
                      "input) of a few validation digits.",
            "body": "Strengths. A network learns its features from data instead of having them designed, one "
                    "architecture family serves classification, detection, segmentation and generation, and "
                    "accuracy keeps improving with more data and larger models, where classic pipelines level "
                    "off. The same gradient machinery trains every part, so a new task usually means a new "
                    "loss and new data rather than a new method.\n\n"
                    "Weaknesses, each measured below. Data hunger: a network has thousands of weights to fit, so "
                    "its accuracy depends on the number of labelled images (and training steps) far more than "
                    "a linear model's does; the curve shows both against the training-set size. Compute: even "
                    "small ImageNet models cost hundreds of millions of multiply-accumulates per image and "
                    "millions of parameters. Fragility: a perturbation of a few percent of the pixel range, "
                    "chosen along the sign of the loss gradient and barely visible, collapses the accuracy of "
                    "a network that is right on clean images. Interpretability: the model is a composition of "
                    "thousands of weights; saliency maps give a local, noisy hint of which pixels matter, not "
                    "an explanation.\n\n"
                    "Further weaknesses are not measured here: many hyper-parameters and training tricks, "
                    "poorly calibrated confidence, and no guarantee that a model trained on one distribution "
                    "works on another.",
        },
        "zh": {
            "title": "神经网络的优缺点（附测量证据）",
            "claim": "神经网络能自动学习特征并取得很高的准确率，但需要大量数据和算力，难以解释，也容易被欺骗。",
            "method": "在 MNIST 样本上：比较小型 CNN 与原始像素 + softmax 回归的准确率随训练集规模的变化；"
                      "用我们的分析器统计模型库中若干模型的参数量和乘加次数；"
                      "对训练好的 CNN 做快速梯度符号（FGSM）攻击，给出准确率随扰动幅度 epsilon "
                      "（像素范围 [0, 1]）的变化；画出几张验证集数字的显著图"
                      "（真实类别 logit 对输入的梯度）。",
            "body": "优点：网络从数据中学习特征而不是靠人工设计；同一类结构可以用于分类、检测、分割和生成；"
                    "数据和模型越大，准确率还能继续提升，而传统流程很早就饱和。"
                    "所有部分都用同一套梯度机制训练，新任务往往只需要新的损失函数和新数据，而不是新方法。\n\n"
                    "缺点，下面逐项测量。对数据的依赖：网络有成千上万个权重要拟合，"
                    "其准确率比线性模型更依赖标注图像的数量（以及训练步数）；"
                    "曲线给出了二者随训练集规模的变化。"
                    "算力：即便是小型 ImageNet 模型，每张图也要上亿次乘加，"
                    "参数以百万计。脆弱性：沿损失梯度符号方向加上只占像素范围百分之几、几乎看不出的扰动，"
                    "就能让在干净图像上表现很好的网络准确率崩溃。可解释性：模型是成千上万个权重的复合，"
                    "显著图只能局部地、带噪声地提示哪些像素重要，并不是解释。\n\n"
                    "还有一些缺点这里没有测量：超参数和训练技巧多，置信度往往校准不好，"
                    "在一个分布上训练的模型不保证能用于另一个分布。",
        },
    }

    def run(self, ctx: Context) -> Result:
        sizes = ctx.pick((100, 600), (100, 300, 1000, 4000))
        curves, cnn = data_hunger(sizes, ctx.pick(400, 1000), ctx.pick(30, 300), ctx.rng, ctx.seed,
                                  methods=("cnn", "pixels"))
        val = load_data("mnist_sample", 10, ctx.pick(300, 1000), ctx.rng)
        eps = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
        adv_acc = [accuracy_of(cnn, fgsm(cnn, val.x_val, val.y_val, e), val.y_val) for e in eps]
        zoo = self._zoo(ctx)

        fig, axes = ctx.figure(1, 2, size=(11, 4))
        axes[0].plot(sizes, curves["cnn"], marker="o", label="small CNN")
        axes[0].plot(sizes, curves["pixels"], marker="s", label="raw pixels + linear")
        axes[0].set_xscale("log")
        axes[0].set(xlabel="training images (log scale)", ylabel="validation accuracy", title="Data hunger")
        axes[0].legend()
        axes[1].plot(eps, adv_acc, marker="o", color="C3")
        axes[1].set(xlabel="FGSM epsilon (pixel range 0..1)", ylabel="accuracy under attack",
                    title=f"Adversarial fragility (CNN, {sizes[-1]} training images)", ylim=(0, 1))
        ctx.save_figure(fig, "data_and_attack", "Left: validation accuracy against training-set size for the CNN "
                        "and a linear model on pixels. Right: the CNN's accuracy under a fast-gradient-sign "
                        "attack against the attack size epsilon.",
                        "左：CNN 与像素线性模型的验证准确率随训练集规模的变化。"
                        "右：CNN 在快速梯度符号攻击下的准确率随扰动幅度 epsilon 的变化。")
        pick = [int(np.flatnonzero(val.y_val == c)[0]) for c in (0, 2, 3, 5, 7, 9)]  # one digit of six classes
        self._saliency(ctx, cnn, val.x_val[pick], val.y_val[pick])
        figures = {
            "cnn_acc_small": Figure(curves["cnn"][0], "", {"en": f"CNN, {sizes[0]} images",
                                                            "zh": f"CNN，{sizes[0]} 张图"}),
            "linear_acc_small": Figure(curves["pixels"][0], "", {"en": f"pixels + linear, {sizes[0]} images",
                                                                  "zh": f"像素 + 线性，{sizes[0]} 张图"}),
            "cnn_acc_large": Figure(curves["cnn"][-1], "", {"en": f"CNN, {sizes[-1]} images",
                                                             "zh": f"CNN，{sizes[-1]} 张图"}),
            "linear_acc_large": Figure(curves["pixels"][-1], "", {"en": f"pixels + linear, {sizes[-1]} images",
                                                                   "zh": f"像素 + 线性，{sizes[-1]} 张图"}),
            "clean_acc": Figure(adv_acc[0], "", {"en": "CNN on clean images", "zh": "CNN 在干净图像上"}),
            "fgsm_acc_eps_0.1": Figure(adv_acc[eps.index(0.1)], "", {"en": "CNN under FGSM, epsilon 0.1",
                                                                     "zh": "CNN 受 FGSM 攻击，epsilon 0.1"}),
            "mobilenet_v2_gmacs": Figure(zoo["mobilenet_v2"][1] / 1e9, "GMACs",
                                         {"en": "MobileNetV2 at 224x224", "zh": "MobileNetV2，224x224 输入"}),
        }
        tables = [
            Table("fgsm", ["epsilon", "accuracy"], [[e, a] for e, a in zip(eps, adv_acc, strict=True)],
                  {"en": "FGSM on the CNN trained on the largest subset.",
                   "zh": "对在最大子集上训练的 CNN 做 FGSM 攻击。"}),
            Table("compute", ["model", "input", "parameters", "MACs"],
                  [[n, s, p, m] for n, (p, m, s) in zoo.items()],
                  {"en": "From the analyzer (shape-only trace).", "zh": "来自分析器（只推断形状的追踪）。"}),
        ]
        return Result(figures=figures, tables=tables)

    @staticmethod
    def _zoo(ctx: Context) -> dict[str, tuple[int, int, str]]:
        names = ctx.pick(("lenet5", "squeezenet1_1", "mobilenet_v2"),
                         ("lenet5", "squeezenet1_1", "mobilenet_v2", "resnet18", "alexnet"))
        out = {}
        c = cost(small_cnn(8), (1, 1, 28, 28))
        out["small CNN (here)"] = (c["params"], c["macs"], "1x28x28")
        for n in names:
            shape = (1, 1, 32, 32) if n == "lenet5" else (1, 3, 224, 224)
            c = cost(models.get_model(n), shape)
            out[n] = (c["params"], c["macs"], "x".join(map(str, shape[1:])))
        return out

    @staticmethod
    def _saliency(ctx: Context, cnn: object, x: np.ndarray, y: np.ndarray) -> None:
        g = np.abs(input_gradient(cnn, x, y, logit=True))
        fig, axes = ctx.figure(2, len(x), size=(1.7 * len(x), 3.6))
        for i in range(len(x)):
            axes[0, i].imshow(x[i, 0], cmap="gray")
            axes[0, i].set_title(f"label {int(y[i])}")
            axes[1, i].imshow(g[i, 0], cmap="hot")
            axes[0, i].set_axis_off()
            axes[1, i].set_axis_off()
        axes[1, 0].set_title("|d logit / d x|")
        ctx.save_figure(fig, "saliency", "Six validation digits of different classes (top) and the magnitude of "
                        "the gradient of the true class's logit with respect to each pixel (bottom): "
                        "bright pixels change the score most.",
                        "上排为六张验证集数字，下排为真实类别 logit 对每个像素梯度的绝对值："
                        "越亮的像素对得分影响越大。")
