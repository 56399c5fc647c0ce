"""Question 39: the lineage of CNN classifiers, from LeNet-5 to the Vision Transformer (a page).

A live table from our model zoo: for each landmark network its year and key idea (our words), and, measured
by the analyzer on the zoo's model, its weighted depth (module calls that do multiply-accumulates, all
branches counted), parameters, MACs and theoretical receptive field at its reference input size, plus the
images per second of our engine's forward pass (a few models at 64x64 in quick mode, all of them at their
reference size in full mode).
"""

from __future__ import annotations

import numpy as np

import cvprimer as cp
from cvprimer import models, nn
from cvprimer.analysis.report import Report
from cvprimer.analysis.timing import time_interleaved
from cvprimer.lab._convnets import cost
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, fmt
from cvprimer.lab.plots import tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "MACs per image": "每张图的 MACs",
    "cost of each generation (analyzer)": "各代网络的成本（分析器）",
    "MACs per image at the timed size": "计时尺寸下每张图的 MACs",
    "measured forward throughput (64x64 inputs)": "实测前向吞吐量（64x64 输入）",
})

# zoo name, label, year, key idea (en, zh), reference input (C, H), heavy to build (skipped in quick mode)
LINEAGE = (
    ("lenet5", "LeNet-5", 1998, "conv + subsampling stacks trained end to end by backprop (digits)",
     "卷积与下采样交替堆叠、用反向传播端到端训练（手写数字）", (1, 32), False),
    ("alexnet", "AlexNet", 2012, "ReLU, dropout, data augmentation and GPUs make a deep CNN win ImageNet",
     "ReLU、Dropout、数据增强和 GPU 让深层 CNN 赢下 ImageNet", (3, 224), True),
    ("vgg16", "VGG-16", 2014, "depth from uniform stacks of 3x3 convs",
     "用统一的 3x3 卷积堆叠出深度", (3, 224), True),
    ("googlenet", "GoogLeNet", 2014, "Inception: parallel 1x1/3x3/5x5 branches concatenated, 1x1 reductions",
     "Inception：1x1/3x3/5x5 并行分支拼接，用 1x1 卷积降维", (3, 224), False),
    ("resnet18", "ResNet-18", 2015, "residual (identity) shortcuts make very deep nets trainable",
     "残差（恒等）捷径让很深的网络可以训练", (3, 224), False),
    ("resnet50", "ResNet-50", 2015, "1x1-3x3-1x1 bottleneck residual blocks",
     "1x1-3x3-1x1 瓶颈残差块", (3, 224), False),
    ("squeezenet1_0", "SqueezeNet", 2016, "fire modules: squeeze with 1x1, expand with 1x1 and 3x3",
     "Fire 模块：先用 1x1 压缩，再用 1x1 和 3x3 扩展", (3, 224), False),
    ("densenet121", "DenseNet-121", 2016, "every layer receives the concatenation of all earlier maps",
     "每一层都接收前面所有特征图的拼接", (3, 224), False),
    ("mobilenet_v1", "MobileNet v1", 2017, "depthwise-separable convs for mobile budgets",
     "为移动端设计的深度可分离卷积", (3, 224), False),
    ("mobilenet_v2", "MobileNet v2", 2018, "inverted residuals with linear bottlenecks",
     "倒残差结构与线性瓶颈", (3, 224), False),
    ("shufflenet_v2_x1_0", "ShuffleNet v2", 2018, "channel split + shuffle; designed for measured speed",
     "通道拆分与重排；以实测速度为设计目标", (3, 224), False),
    ("vit_b_16", "ViT-B/16", 2020, "no convolutions past the patch embedding: self-attention over 16x16 patches",
     "除切块嵌入外不再卷积：对 16x16 图块做自注意力", (3, 224), True),
)


def weighted_depth(rep: Report) -> int:
    """Module calls that do multiply-accumulates (convs, linears, attention), all branches counted."""
    return sum(1 for r in rep.rows if r.macs > 0 and r.name != "(model)")


def receptive_field(rep: Report) -> float:
    """Largest local receptive field (input pixels along H) of any layer before the global mixing."""
    sizes = [r.rf_size[0] for r in rep.rows if r.rf_kind == "local" and r.rf_size]
    return float(max(sizes)) if sizes else float("nan")


def lineage_notes(pts: list[tuple[str, int, float, float, float, float]]) -> dict[str, str]:
    """Sentences computed from this run's (label, year, params, MACs, images/s, MACs at the timed size)."""
    by_p = sorted(pts, key=lambda p: p[2])
    by_m = sorted(pts, key=lambda p: p[3])
    big_p, small_p = by_p[-1], by_p[0]
    en = (f"Parameters: most in {big_p[0]} ({fmt(big_p[2])}), fewest in {small_p[0]} ({fmt(small_p[2])}), a factor "
          f"of {fmt(big_p[2] / small_p[2])}. MACs per image: most in {by_m[-1][0]} ({fmt(by_m[-1][3])}), fewest in "
          f"{by_m[0][0]} ({fmt(by_m[0][3])}).")
    zh = (f"参数量：{big_p[0]} 最多（{fmt(big_p[2])}），{small_p[0]} 最少（{fmt(small_p[2])}），相差 "
          f"{fmt(big_p[2] / small_p[2])} 倍。每张图的乘加次数：{by_m[-1][0]} 最多（{fmt(by_m[-1][3])}），"
          f"{by_m[0][0]} 最少（{fmt(by_m[0][3])}）。")
    timed = [p for p in pts if np.isfinite(p[4])]
    if len(timed) >= 2:
        fast = max(timed, key=lambda p: p[4])
        slow = min(timed, key=lambda p: p[4])
        # MACs per second: how far the engine's throughput is from following the MAC count
        rate = {p[0]: p[4] * p[5] for p in timed}
        hi, lo = max(rate, key=rate.__getitem__), min(rate, key=rate.__getitem__)
        en += (f" Timed on our engine, {fast[0]} ran fastest ({fmt(fast[4])} images/s) and {slow[0]} slowest "
               f"({fmt(slow[4])}); MACs per second range from {fmt(rate[lo])} ({lo}) to {fmt(rate[hi])} ({hi}), so "
               f"the MAC count {'predicts' if rate[hi] <= 2 * rate[lo] else 'does not predict'} the measured time "
               f"within a factor of 2.")
        zh += (f" 在我们的引擎上，{fast[0]} 最快（每秒 {fmt(fast[4])} 张图），{slow[0]} 最慢（{fmt(slow[4])}）；"
               f"每秒乘加次数从 {fmt(rate[lo])}（{lo}）到 {fmt(rate[hi])}（{hi}），因此乘加次数"
               f"{'能' if rate[hi] <= 2 * rate[lo] else '不能'}在 2 倍以内预测实测时间。")
    return {"en": en, "zh": zh}


class CnnLineage(Experiment):
    id = "q39-cnn-lineage"
    questions = (39,)
    topic = "architecture"
    kind = "page"
    stochastic = False
    key_term = {"en": "from LeNet to the Vision Transformer", "zh": "从 LeNet 到 Vision Transformer"}
    answer = {"en": "Tell it as one idea per generation: LeNet-5's shared filters and pooling, AlexNet's ReLU, "
                "dropout and GPUs, VGG's 3x3 stacks, GoogLeNet's parallel branches with 1x1 reductions, "
                "ResNet's shortcuts. Then the efficiency families (MobileNet, ShuffleNet) and finally "
                "self-attention over patches in ViT.",
              "zh": "按“每一代一个新想法”来讲：LeNet-5 的共享卷积核与池化，AlexNet 的 ReLU、dropout 与 GPU，"
                "VGG 的 3x3 堆叠，GoogLeNet 的并行分支与 1x1 降维，ResNet 的捷径连接。之后是高效网络家族（"
                "MobileNet、ShuffleNet），最后是 ViT 在图像块上的自注意力。"}
    text = {
        "en": {
            "title": "The lineage of CNN classifiers",
            "claim": "The seed answers with reading links only. The usual account: image classifiers evolved from "
                     "LeNet-5 through AlexNet, VGG, GoogLeNet and ResNet to DenseNet, the mobile families "
                     "(SqueezeNet, MobileNet, ShuffleNet) and the Vision Transformer, each generation adding one "
                     "idea.",
            "method": "Build each landmark network from our model zoo, analyze it at its reference input size "
                      "(parameters, MACs, weighted depth, receptive field) and time its forward pass on our engine "
                      "(quick mode: a few models at 64x64; full mode: all of them at the reference size).",
            "body": "LeNet-5 set the template in 1998: convolutions that share weights across the image, pooling "
                    "that trades resolution for invariance, and a classifier on top, all trained by "
                    "backpropagation. AlexNet (2012) scaled it up with ReLU, dropout, augmentation and GPUs, and "
                    "won ImageNet by a wide margin.\n\n"
                    "The next steps asked how to spend depth. VGG used only 3x3 convolutions (q44 compares two 3x3 "
                    "with one 5x5); GoogLeNet ran several kernel sizes side by side and used 1x1 "
                    "convolutions to keep them affordable (q17). ResNet added identity shortcuts so that gradients "
                    "reach early layers and 50 to 150 layers train (q15 compares addition with DenseNet's "
                    "concatenation).\n\n"
                    "From 2016 the question became cost: SqueezeNet squeezed channels with 1x1 layers, MobileNet "
                    "replaced standard convolutions by depthwise-separable ones (q14), and ShuffleNet v2 grouped "
                    "and shuffled channels (q45) while judging designs by measured speed rather than MACs (q54 "
                    "compares the two). The Vision Transformer (2020) keeps only a patch-embedding "
                    "convolution and lets self-attention relate every patch to every other.\n\n"
                    "The table reads the cost of each network off our analyzer and times its forward pass on our "
                    "engine; the note under it compares the generations with the numbers of this run.",
        },
        "zh": {
            "title": "CNN 分类网络的演变",
            "claim": "原文只给了阅读链接。通常的说法是：图像分类网络从 LeNet-5 出发，经过 AlexNet、VGG、"
                     "GoogLeNet、ResNet，到 DenseNet、"
                     "轻量级网络（SqueezeNet、MobileNet、ShuffleNet）以及 Vision Transformer，"
                     "每一代都带来一个新想法。",
            "method": "从我们的模型库构建每个代表性网络，在其参考输入尺寸上用分析器统计参数量、乘加次数、"
                      "带权层数和感受野，并在我们的引擎上测量前向推理速度（快速模式：少数模型、64x64；"
                      "完整模式：全部模型、参考尺寸）。",
            "body": "1998 年的 LeNet-5 定下了基本模板：在整幅图上共享权重的卷积、以分辨率换取不变性的池化，"
                    "以及最后的分类器，全部用反向传播训练。2012 年的 AlexNet 借助 ReLU、Dropout、"
                    "数据增强和 GPU 把它放大，并以明显优势赢得 ImageNet。\n\n"
                    "随后的工作关心怎样使用深度。VGG 只用 3x3 卷积（q44 比较两个 3x3 与一个 5x5 "
                    "卷积）；GoogLeNet 让多种尺寸的卷积核并行，并用 1x1 卷积控制开销（q17）。"
                    "ResNet 加入恒等捷径，让梯度能传到前面的层，使 50 到 150 层的网络可以训练"
                    "（q15 比较了相加与 DenseNet 的拼接）。\n\n"
                    "2016 年以后，重点转向开销：SqueezeNet 用 1x1 层压缩通道，MobileNet 用深度可分离卷积"
                    "替换标准卷积（q14），ShuffleNet v2 对通道分组并重排（q45），并以实测速度而非乘加次数"
                    "评价设计（q54 比较了两者）。Vision Transformer（2020）只保留切块嵌入的卷积，"
                    "让自注意力把每个图块与其他所有图块联系起来。\n\n"
                    "表中的开销由我们的分析器读出，前向速度在我们的引擎上实测；表下的说明用本次运行的数据"
                    "比较各代网络。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "params_{m}": {"en": "parameters, {m}", "zh": "参数量（{m}）"},
        "macs_{m}": {"en": "MACs, {m}", "zh": "乘加次数（{m}）"},
    }
    terms = {
        "googlenet": {"en": "GoogLeNet", "zh": "GoogLeNet"},
        "squeezenet": {"en": "SqueezeNet", "zh": "SqueezeNet"},
        "densenet121": {"en": "DenseNet-121", "zh": "DenseNet-121"},
        "shufflenet_v2": {"en": "ShuffleNetV2", "zh": "ShuffleNetV2"},
    }

    def measure(self, ctx: Context) -> Result:
        entries = [e for e in LINEAGE if not (ctx.quick and e[6])]
        entries = ctx.pick(entries, entries, tiny=[e for e in entries if e[0] in ("lenet5", "resnet18")])
        timed_names = {"lenet5", "resnet18", "shufflenet_v2_x1_0"} if ctx.quick else None
        ctx.progress.set_total(len(entries))
        rows, figs, pts = [], {}, []
        for name, label, year, idea_en, idea_zh, (cin, size), _ in entries:
            model = models.get_model(name)
            model.eval()
            c = cost(model, (1, cin, size, size))
            rep = c["report"]
            depth, rf = weighted_depth(rep), receptive_field(rep)
            rf_txt = "global (attention)" if name.startswith("vit") else f"{rf:g}"
            ips, m_timed = float("nan"), float("nan")
            if timed_names is None or name in timed_names:
                s = size if timed_names is None or cin == 1 else 64
                n = 1
                x = cp.tensor(ctx.rng.standard_normal((n, cin, s, s)).astype(np.float32))

                def fwd(model: nn.Module = model, x: cp.Tensor = x) -> None:
                    with cp.no_grad():
                        model(x)

                ips = n / time_interleaved({"f": fwd}, repeat=ctx.pick(3, 3), warmup=1)["f"]
                m_timed = c["macs"] if s == size else cost(model, (1, cin, s, s))["macs"]
                ips_txt = f"{ips:.1f} @ {s}x{s}"
            else:
                ips_txt = "full mode"
            rows.append([label, year, {"en": idea_en, "zh": idea_zh}, depth, c["params"], c["macs"], rf_txt, ips_txt])
            key = name.replace("_x1_0", "").replace("1_0", "")
            figs[f"params_{key}"] = Figure(c["params"], "params")
            figs[f"macs_{key}"] = Figure(c["macs"], "MACs")
            pts.append((label, year, c["params"], c["macs"], ips, m_timed))
            del model
            ctx.progress.update()

        return Result(figures=figs, notes=lineage_notes(pts), tables=[Table(
            "lineage", ["network", "year", {"en": "key idea", "zh": "核心思想"}, "weighted layers", "params", "MACs",
                        "receptive field (px)", "images/s (forward)"], rows,
            {"en": "Analyzer counts at the reference input (LeNet-5: 1x32x32; others 3x224x224); weighted layers "
                   "count every conv, linear and attention call, all branches. AlexNet, VGG-16 and ViT-B/16 take "
                   "long to build and appear in full mode only.",
             "zh": "分析器在参考输入下的统计（LeNet-5：1x32x32；其余 3x224x224）；带权层数计入所有分支中的"
                   "卷积、全连接和注意力调用。AlexNet、VGG-16 和 ViT-B/16 构建较慢，只在完整模式中出现。"})],
            series={"pts": pts})

    def draw(self, res: Result, ctx: Context) -> None:
        pts = res.series["pts"]  # (label, year, params, MACs, images/s, MACs at the timed size) per network
        fig, axes = ctx.figure(1, 2, size=(11, 4))
        ax = axes[0]
        for i, (label, year, p, m, _, _) in enumerate(pts):
            ax.loglog(m, p, "o", color=f"C{i % 10}")
            ax.annotate(f"{label} ({year})", (m, p), fontsize=7, xytext=(4, 3), textcoords="offset points")
        ax.set(xlabel="MACs per image", ylabel="parameters", title="cost of each generation (analyzer)")
        ax = axes[1]
        timed = [(label, m, ips) for label, _, _, _, ips, m in pts if np.isfinite(ips)]
        for i, (label, m, ips) in enumerate(timed):
            ax.loglog(m, ips, "s", color=f"C{i % 10}")
            ax.annotate(label, (m, ips), fontsize=7, xytext=(4, 3), textcoords="offset points")
        ax.set(xlabel="MACs per image at the timed size", ylabel="images / second (our engine)",
               title="measured forward throughput" + (" (64x64 inputs)" if ctx.quick else ""))
        ctx.save_figure(fig, "lineage", "Left: parameters against MACs per image for each landmark network, "
                        "labelled with its year. Right: forward images per second of our engine against MACs.",
                        "左：各代表性网络每张图的乘加次数与参数量，标注年份。右：我们的引擎前向推理"
                        "每秒处理的图像数与乘加次数的关系。")

