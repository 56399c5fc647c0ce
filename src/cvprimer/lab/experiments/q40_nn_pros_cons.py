"""Question 40: the pros and cons of neural networks — a page that links measured evidence.

The seed names only strengths (depth adds non-linearity; the structure adapts to the task). Measured live, for
the weaknesses it leaves to a link: data hunger (validation accuracy vs training-set size, small CNN vs raw
pixels + softmax regression on the MNIST sample), compute (parameters and MACs of zoo models from the
analyzer), adversarial fragility (accuracy of the trained CNN under a fast-gradient-sign attack of growing size) and
interpretability (input-gradient saliency maps of a few digits).
"""

from __future__ import annotations

import numpy as np

from cvprimer import models
from cvprimer.lab._convnets import cost
from cvprimer.lab._vision import accuracy_of, data_hunger, fgsm, input_gradient, small_cnn
from cvprimer.lab.common import load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, fmt
from cvprimer.lab.plots import tr, tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "Data hunger": "对数据的需求",
    "FGSM epsilon (pixel range 0..1)": "FGSM epsilon（像素范围 0..1）",
    "accuracy under attack": "攻击下的准确率",
})


def pros_cons_notes(f: dict[str, float], sizes: tuple[int, ...]) -> dict[str, str]:
    """What this run found, in sentences computed from its figures (the body states no result)."""
    g_cnn = f["cnn_acc_large"] - f["cnn_acc_small"]
    g_lin = f["linear_acc_large"] - f["linear_acc_small"]
    more = g_cnn > g_lin
    en = (f"Data: from {sizes[0]} to {sizes[-1]} training images the CNN's validation accuracy went from "
          f"{fmt(f['cnn_acc_small'])} to {fmt(f['cnn_acc_large'])} ({fmt(g_cnn)}) and the linear model's from "
          f"{fmt(f['linear_acc_small'])} to {fmt(f['linear_acc_large'])} ({fmt(g_lin)}): in this range the CNN "
          f"gained {'more' if more else 'no more'} from extra data than the linear model. "
          f"Fragility: an FGSM step of 0.1 took the CNN from {fmt(f['clean_acc'])} to "
          f"{fmt(f['fgsm_acc_eps_0.1'])}. Compute: MobileNetV2 needs {fmt(f['mobilenet_v2_gmacs'])} GMACs per "
          f"224x224 image and has {fmt(f['mobilenet_v2_params'])} parameters; the small CNN here has "
          f"{fmt(f['small_cnn_params'])}.")
    zh = (f"数据：训练图像从 {sizes[0]} 张增加到 {sizes[-1]} 张时，CNN 的验证准确率从 {fmt(f['cnn_acc_small'])} "
          f"变为 {fmt(f['cnn_acc_large'])}（{fmt(g_cnn)}），线性模型从 {fmt(f['linear_acc_small'])} 变为 "
          f"{fmt(f['linear_acc_large'])}（{fmt(g_lin)}）：在这个范围内，CNN 从更多数据中获得的提升"
          f"{'大于' if more else '不大于'}线性模型。脆弱性：幅度 0.1 的 FGSM 扰动使 CNN 的准确率从 "
          f"{fmt(f['clean_acc'])} 变为 {fmt(f['fgsm_acc_eps_0.1'])}。算力：MobileNetV2 每张 224x224 图像需要 "
          f"{fmt(f['mobilenet_v2_gmacs'])} GMACs，参数 {fmt(f['mobilenet_v2_params'])} 个；这里的小型 CNN 有 "
          f"{fmt(f['small_cnn_params'])} 个参数。")
    return {"en": en, "zh": zh}


class NeuralNetProsCons(Experiment):
    id = "q40-nn-pros-cons"
    questions = (40,)
    topic = "beyond"
    kind = "page"
    key_term = {"en": "inductive bias and data hunger", "zh": "归纳偏置与对数据的依赖"}
    answer = {"en": "Strengths: features learned from data, one family of models for many tasks, and depth for "
                "complex functions. Weaknesses worth naming: hunger for labelled data, compute cost, fragility "
                "under small adversarial perturbations, and saliency maps that hint at rather than explain a "
                "decision.",
              "zh": "优点：特征从数据中学习，一类模型适用于多种任务，深度带来拟合复杂函数的能力。值得指出的缺点："
                "需要大量标注数据、计算成本高、在微小的对抗扰动下很脆弱，显著性图只能提示而不能解释决策。"}
    text = {
        "en": {
            "title": "Strengths and weaknesses of neural networks",
            "claim": "The seed names only strengths: the deeper the network, the more non-linear it is and the more "
                     "complex the functions it can fit; and its structure can be adapted to the task. Weaknesses "
                     "are left to a link.",
            "method": "On the MNIST sample: accuracy vs training-set size for a small CNN and for raw pixels + "
                      "softmax regression; parameters and multiply-accumulates of zoo models from our analyzer; "
                      "a fast-gradient-sign (FGSM) attack on the trained CNN, accuracy vs the attack size epsilon "
                      "(pixels in [0, 1]); saliency maps (gradient of the true class's logit with respect to the "
                      "input) of a few validation digits.",
            "body": "Strengths. The seed lists two: depth adds non-linearity, so a deeper network can represent "
                    "more complex functions, and the architecture can be shaped to the task. Commonly added: a "
                    "network learns its features from data instead of having them designed, one family of "
                    "architectures serves classification, detection, segmentation and generation, and the same "
                    "gradient machinery trains every part, so a new task often means a new loss and new data "
                    "rather than a new method.\n\n"
                    "Weaknesses (the seed leaves them to a link). Four that are commonly cited are measured below, "
                    "and the note under the figures says what this run found. Data hunger: does the network's "
                    "accuracy depend on the number of labelled images more than a linear model's does? The curve "
                    "shows both against the training-set size. Compute: parameters and multiply-accumulates per "
                    "image of a few zoo models. Fragility: a fast-gradient-sign perturbation, a small step of every "
                    "pixel along the sign of the loss gradient, against the network's accuracy. Interpretability: "
                    "saliency maps, the gradient of the true class's score with respect to each pixel, are a local "
                    "hint of which pixels matter, not an explanation of the decision.\n\n"
                    "Further weaknesses are not measured here: many hyper-parameters and training tricks, "
                    "confidence that may be poorly calibrated, and no guarantee that a model trained on one "
                    "distribution works on another.",
        },
        "zh": {
            "title": "神经网络的优缺点",
            "claim": "原文只谈优点：网络越深，非线性越强，能拟合的函数越复杂；结构也可以按任务调整。"
                     "缺点只给了一个链接。",
            "method": "在 MNIST 样本上：比较小型 CNN 与原始像素 + softmax 回归的准确率随训练集规模的变化；"
                      "用我们的分析器统计模型库中若干模型的参数量和乘加次数；"
                      "对训练好的 CNN 做快速梯度符号（FGSM）攻击，给出准确率随扰动幅度 epsilon "
                      "（像素范围 [0, 1]）的变化；画出几张验证集数字的显著图"
                      "（真实类别 logit 对输入的梯度）。",
            "body": "优点。原文列出两条：层数加深带来更多非线性，因此更深的网络能表示更复杂的函数；"
                    "结构可以按任务调整。常被补充的还有：网络从数据中学习特征而不是靠人工设计；同一类结构可以"
                    "用于分类、检测、分割和生成；所有部分都用同一套梯度机制训练，新任务往往只需要新的损失函数"
                    "和新数据，而不是新方法。\n\n"
                    "缺点（原文只给了链接）。下面测量四条常被提到的缺点，图下的说明给出本次运行的结果。"
                    "对数据的依赖：网络的准确率是否比线性模型更依赖标注图像的数量？曲线给出二者随训练集规模"
                    "的变化。算力：模型库中几个模型的参数量和每张图的乘加次数。脆弱性：快速梯度符号扰动"
                    "（每个像素沿损失梯度的符号方向移动一小步）下网络的准确率。可解释性：显著图即真实类别得分"
                    "对每个像素的梯度，只能局部地提示哪些像素重要，并不能解释决策。\n\n"
                    "还有一些缺点这里没有测量：超参数和训练技巧多，置信度可能校准不好，"
                    "在一个分布上训练的模型不保证能用于另一个分布。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "mobilenet_v2_params": {"en": "parameters, MobileNetV2", "zh": "参数量（MobileNetV2）"},
        "small_cnn_params": {"en": "parameters, small CNN", "zh": "参数量（小型 CNN）"},
        "small_cnn_macs": {"en": "MACs, small CNN", "zh": "乘加次数（小型 CNN）"},
    }

    def measure(self, ctx: Context) -> Result:
        sizes = ctx.pick((100, 600), (100, 300, 1000, 4000), tiny=(50, 100))
        curves, cnn = data_hunger(sizes, ctx.pick(400, 1000, tiny=100), ctx.pick(30, 300, tiny=3), ctx.rng, ctx.seed,
                                  methods=("cnn", "pixels"))
        val = load_data("mnist_sample", 10, ctx.pick(300, 1000, tiny=60), ctx.rng)
        eps = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
        adv_acc = [accuracy_of(cnn, fgsm(cnn, val.x_val, val.y_val, e), val.y_val) for e in eps]
        zoo = self._zoo(ctx)

        pick = [int(np.flatnonzero(val.y_val == c)[0]) for c in (0, 2, 3, 5, 7, 9)]  # one digit of six classes
        digits, labels = val.x_val[pick], val.y_val[pick]
        saliency = np.abs(input_gradient(cnn, digits, labels, logit=True))
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
            "mobilenet_v2_params": Figure(zoo["mobilenet_v2"][0], "params"),
            "small_cnn_params": Figure(zoo["small CNN (here)"][0], "params"),
            "small_cnn_macs": Figure(zoo["small CNN (here)"][1], "MACs"),
        }
        tables = [
            Table("fgsm", ["epsilon", "accuracy"], [[e, a] for e, a in zip(eps, adv_acc, strict=True)],
                  {"en": "FGSM on the CNN trained on the largest subset.",
                   "zh": "对在最大子集上训练的 CNN 做 FGSM 攻击。"}),
            Table("compute", ["model", "input", "parameters", "MACs"],
                  [[n, s, p, m] for n, (p, m, s) in zoo.items()],
                  {"en": "From the analyzer (shape-only trace).", "zh": "来自分析器（只推断形状的追踪）。"}),
        ]
        return Result(figures=figures, tables=tables, notes=pros_cons_notes({k: f.value for k, f in figures.items()},
                                                                             sizes),
                      series={"sizes": sizes, "curves": curves, "eps": eps, "adv_acc": adv_acc, "digits": digits,
                              "labels": labels, "saliency": saliency})

    def draw(self, res: Result, ctx: Context) -> None:
        s = res.series
        sizes, curves, eps, adv_acc = s["sizes"], s["curves"], s["eps"], s["adv_acc"]
        fig, axes = ctx.figure(1, 2, size=(11, 4))
        axes[0].plot(sizes, curves["cnn"], marker="o", label="small CNN")
        axes[0].plot(sizes, curves["pixels"], marker="s", label="raw pixels + linear")
        axes[0].set_xscale("log")
        axes[0].set(xlabel="training images (log scale)", ylabel="validation accuracy", title="Data hunger")
        axes[0].legend()
        axes[1].plot(eps, adv_acc, marker="o", color="C3")
        axes[1].set(xlabel="FGSM epsilon (pixel range 0..1)", ylabel="accuracy under attack",
                    title=tr(f"Adversarial fragility (CNN, {sizes[-1]} training images)",
                             f"对抗脆弱性（CNN，{sizes[-1]} 张训练图像）"), ylim=(0, 1))
        ctx.save_figure(fig, "data_and_attack", "Left: validation accuracy against training-set size for the CNN "
                        "and a linear model on pixels. Right: the CNN's accuracy under a fast-gradient-sign "
                        "attack against the attack size epsilon.",
                        "左：CNN 与像素线性模型的验证准确率随训练集规模的变化。"
                        "右：CNN 在快速梯度符号攻击下的准确率随扰动幅度 epsilon 的变化。")
        self._draw_saliency(ctx, s["digits"], s["labels"], s["saliency"])

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
    def _draw_saliency(ctx: Context, x: np.ndarray, y: np.ndarray, g: np.ndarray) -> None:
        """Digits ``x`` (N, 1, H, W) with labels ``y`` (N,) above ``g`` = |d logit_y / d x| (N, 1, H, W)."""
        fig, axes = ctx.figure(2, len(x), size=(1.7 * len(x), 3.6))
        for i in range(len(x)):
            axes[0, i].imshow(x[i, 0], cmap="gray")
            axes[0, i].set_title(tr(f"label {int(y[i])}", f"标签 {int(y[i])}"))
            axes[1, i].imshow(g[i, 0], cmap="hot")
            axes[0, i].set_axis_off()
            axes[1, i].set_axis_off()
        axes[1, 0].set_title("|d logit / d x|")
        ctx.save_figure(fig, "saliency", "Six validation digits of different classes (top) and the magnitude of "
                        "the gradient of the true class's logit with respect to each pixel (bottom): "
                        "bright pixels change the score most.",
                        "上排为六张验证集数字，下排为真实类别 logit 对每个像素梯度的绝对值："
                        "越亮的像素对得分影响越大。")
