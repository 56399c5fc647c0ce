"""Question 10: what downsampling is for, and is a strided convolution better than pooling?

Measured on the 8x8 digits with one small CNN (3x3 conv to 8 channels, downsample, 3x3 conv to 16,
downsample, linear classifier on the flattened map) whose two downsampling steps are, in turn: 2x2 max
pooling, 2x2 average pooling, an extra learned 3x3 stride-2 convolution, the convolutions themselves made
stride 2, and no downsampling at all (the classifier then sees a 4x larger map). For each: validation
accuracy, parameters, MACs and receptive field (analyzer) and the time of one training step.

What is lost: MNIST digits are downsampled 2x by max pooling, average pooling, stride-2 subsampling and a
random 2x2 stride-2 convolution with 1 and with 4 output channels; a linear decoder fitted by (ridge) least
squares on training digits reconstructs the 28x28 input from the 14x14 map, and the relative error on validation
digits says how much information the downsampled map still holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.analysis.timing import time_interleaved
from cvprimer.lab._convnets import cost, train_nets
from cvprimer.lab.common import load_data
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

VARIANTS = ("max_pool", "avg_pool", "strided_extra", "strided_conv", "none")
LABELS = {"max_pool": "2x2 max pool", "avg_pool": "2x2 avg pool", "strided_extra": "extra 3x3 conv, stride 2",
          "strided_conv": "conv itself stride 2", "none": "no downsampling"}


def net(kind: str) -> Any:
    """The small CNN with downsampling ``kind`` (see the module docstring)."""
    def down(c: int) -> list[Any]:
        return {"max_pool": [nn.MaxPool2d(2)], "avg_pool": [nn.AvgPool2d(2)],
                "strided_extra": [nn.Conv2d(c, c, 3, stride=2, padding=1), nn.ReLU()]}.get(kind, [])
    s = 2 if kind == "strided_conv" else 1
    side = 8 if kind == "none" else 2  # 8x8 digits: 8 -> 4 -> 2 with downsampling
    return nn.Sequential(nn.Conv2d(1, 8, 3, stride=s, padding=1), nn.ReLU(), *down(8),
                         nn.Conv2d(8, 16, 3, stride=s, padding=1), nn.ReLU(), *down(16),
                         nn.Flatten(), nn.Linear(16 * side * side, 10))


def downsamplers(rng: np.random.Generator) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Fixed 2x downsampling maps of (N, 1, 28, 28) images to (N, C, 14, 14) arrays."""
    k1 = rng.standard_normal((1, 1, 2, 2))
    k4 = rng.standard_normal((4, 1, 2, 2))

    def conv(k: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        return lambda x: F.conv2d(cp.tensor(x.astype(np.float64)), cp.tensor(k), stride=2).data

    return {
        "max_pool": lambda x: F.max_pool2d(cp.tensor(x), 2).data,
        "avg_pool": lambda x: F.avg_pool2d(cp.tensor(x), 2).data,
        "subsample": lambda x: x[:, :, ::2, ::2],
        "strided_conv_1ch": conv(k1),
        "strided_conv_4ch": conv(k4),
    }


def reconstruction_error(down: Callable[[np.ndarray], np.ndarray], x_fit: np.ndarray, x_test: np.ndarray) -> float:
    """Relative L2 error ||x - D(down(x))|| / ||x|| on ``x_test`` of the best linear decoder D (with a bias),
    fitted by ridge-regularized least squares on ``x_fit`` (ridge 1e-3 of the mean feature energy, so a
    rank-deficient map, e.g. always-black border blocks, does not blow the decoder up)."""
    def design(x: np.ndarray) -> np.ndarray:
        z = down(x).reshape(len(x), -1).astype(np.float64)
        return np.hstack([z, np.ones((len(x), 1))])

    a = design(x_fit)
    gram = a.T @ a
    lam = 1e-3 * np.trace(gram) / len(gram)
    dec = np.linalg.solve(gram + lam * np.eye(len(gram)), a.T @ x_fit.reshape(len(x_fit), -1).astype(np.float64))
    target = x_test.reshape(len(x_test), -1).astype(np.float64)
    return float(np.linalg.norm(design(x_test) @ dec - target) / np.linalg.norm(target))


class Downsampling(Experiment):
    id = "q10-downsampling"
    questions = (10,)
    topic = "architecture"
    thresholds = {"min_acc_gain": 0.03, "min_rf_ratio": 2.0}
    text = {
        "en": {
            "title": "Downsampling: pooling vs strided convolution, and what each throws away",
            "claim": "Downsampling cuts computation, curbs overfitting and widens the receptive field. Max pooling "
                     "is the usual choice because it is simple and keeps texture better; a learned stride-2 "
                     "convolution loses less information than fixed pooling and gives better results, at some "
                     "extra computation.",
            "method": "Train one small CNN on the 8x8 digits with max pooling, average pooling, an extra learned "
                      "stride-2 convolution, stride-2 convolutions in place, or no downsampling; compare accuracy, "
                      "parameters, MACs, receptive field and step time. Reconstruct MNIST digits from their 2x "
                      "downsampled maps with the best linear decoder to measure what each map loses.",
        },
        "zh": {
            "title": "下采样：池化与步长卷积，以及各自丢掉了什么",
            "claim": "下采样能减少计算量、抑制过拟合并扩大感受野。最常用的是最大池化，因为它简单且更能保留纹理；"
                     "可学习的步长为 2 的卷积比固定的池化损失更少信息、效果更好，只是计算量稍大。",
            "method": "在 8x8 digits 上训练同一个小 CNN，下采样分别用最大池化、平均池化、额外的可学习步长 2 卷积、"
                      "把原有卷积改为步长 2、或不做下采样；比较准确率、参数量、MACs、感受野和每步训练时间。"
                      "再用最优线性解码器从 2 倍下采样后的图重建 MNIST 数字，衡量每种方式丢失了多少信息。",
        },
    }

    def run(self, ctx: Context) -> Result:
        data = load_data("digits", ctx.pick(700, 1400), 397, ctx.rng, standardize=True)
        epochs = ctx.pick(6, 30)
        fits = train_nets({k: (lambda k=k: net(k)) for k in VARIANTS}, data, epochs, ctx.seed, ctx.rng, lr=3e-3)
        xb = data.x_train[:64]
        yb = data.y_train[:64]

        def step(model: Any) -> Callable[[], None]:
            def f() -> None:
                model.zero_grad()
                F.cross_entropy(model(cp.Tensor(xb)), cp.Tensor(yb)).backward()
            return f

        times = time_interleaved({k: step(net(k)) for k in VARIANTS}, repeat=ctx.pick(5, 9), warmup=1,
                               clock=time.process_time)  # CPU time: robust to other processes' load
        figs: dict[str, Figure] = {}
        rows = []
        for k in VARIANTS:
            c = cost(net(k), (1, 1, 8, 8))
            rf = c["rf"] if c["rf"] is not None else float("nan")
            figs[f"val_acc_{k}"] = Figure(fits[k].val_acc, "accuracy", {"en": f"validation accuracy, {LABELS[k]}",
                                                                       "zh": f"验证准确率，{LABELS[k]}"})
            figs[f"macs_{k}"] = Figure(c["macs"], "MACs")
            figs[f"params_{k}"] = Figure(c["params"], "")
            figs[f"step_ms_{k}"] = Figure(1e3 * times[k], "ms")
            rows.append([LABELS[k], fits[k].train_acc, fits[k].val_acc, c["params"], c["macs"], rf, 1e3 * times[k]])
        # receptive field before global pooling: last conv's field, from the analyzer's rows
        for k in ("max_pool", "none"):
            figs[f"rf_{k}"] = Figure(self._rf(net(k)), "px")
        # what is lost
        mnist = load_data("mnist_sample", ctx.pick(1000, 4000), ctx.pick(400, 1000), ctx.rng)
        x_fit, x_test = mnist.x_train, mnist.x_val
        rec = {name: reconstruction_error(d, x_fit, x_test) for name, d in downsamplers(ctx.child_rng()).items()}
        for name, e in rec.items():
            figs[f"recon_err_{name}"] = Figure(e, "relative L2")
        self._plot(ctx, fits, x_test[:4], downsamplers(ctx.child_rng()))
        return Result(figures=figs, tables=[
            Table("nets", ["downsampling", "train acc", "val acc", "params", "MACs", "output RF (px)",
                           "train step (ms, batch 64)"], rows,
                  {"en": f"{len(data.y_train)} training images, {epochs} epochs of Adam, same seed and batches.",
                   "zh": f"{len(data.y_train)} 张训练图像，Adam 训练 {epochs} 轮，相同随机种子和批次。"}),
            Table("reconstruction", ["2x downsampling of the digit", "relative error of the best linear decoder"],
                  [[k, v] for k, v in rec.items()],
                  {"en": "Lower is less information lost; a 4-channel 2x2 stride-2 convolution keeps all 4 pixels of "
                         "each block, so it can be inverted.",
                   "zh": "越低表示丢失的信息越少；4 通道的 2x2 步长 2 卷积保留了每个 2x2 块的全部 4 个像素，"
                         "因此可以被逆变换还原。"})])

    @staticmethod
    def _rf(model: Any) -> float:
        rep = cost(model, (1, 1, 8, 8))["report"]
        sizes = [r.rf_size[0] for r in rep.rows if r.rf_kind == "local" and r.rf_size]
        return float(max(sizes)) if sizes else float("nan")

    @staticmethod
    def _plot(ctx: Context, fits: Mapping[str, Any], x: np.ndarray,
              downs: Mapping[str, Callable[[np.ndarray], np.ndarray]]) -> None:
        fig, axes = ctx.figure(1, 2, size=(11, 3.4))
        for k, f in fits.items():
            c = f.curve("val_acc")
            axes[0].plot(np.arange(1, len(c) + 1), c, label=LABELS[k])
        axes[0].set_xlabel("epoch")
        axes[0].set_ylabel("validation accuracy")
        axes[0].set_title("Same CNN, five ways to downsample")
        axes[0].legend(fontsize=7)
        names = ["max_pool", "avg_pool", "subsample"]
        tiles = [np.kron(downs[n](x[:1])[0, 0], np.ones((2, 2))) for n in names]
        axes[1].imshow(np.hstack([x[0, 0]] + tiles), cmap="gray")
        axes[1].set_title("digit | max pool | avg pool | subsample (shown 2x)")
        axes[1].set_axis_off()
        ctx.save_figure(fig, "downsampling", "Left: validation accuracy per epoch for each downsampling choice. "
                        "Right: a digit and its 2x downsampled versions by max pooling, average pooling and "
                        "plain subsampling, enlarged back for display.",
                        "左：每种下采样方式每轮的验证准确率。右：一个数字及其经最大池化、平均池化和直接隔点"
                        "采样 2 倍下采样后的结果（放大显示）。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        am, aa = figures["val_acc_max_pool"], figures["val_acc_avg_pool"]
        ae, ai, an = figures["val_acc_strided_extra"], figures["val_acc_strided_conv"], figures["val_acc_none"]
        mm, me, mi, mn = (figures[f"macs_{k}"] for k in ("max_pool", "strided_extra", "strided_conv", "none"))
        rm, rn = figures["rf_max_pool"], figures["rf_none"]
        gain = thresholds["min_acc_gain"]
        best_pool = max(am, aa)
        best_strided = max(ae, ai)
        verdict = CONFIRMED if best_strided - best_pool >= gain else REFUTED if best_pool - best_strided >= gain \
            else NUANCED
        rf_ok = rm >= thresholds["min_rf_ratio"] * rn
        lm, la, l1, l4 = (figures[f"recon_err_{k}"] for k in ("max_pool", "avg_pool", "strided_conv_1ch",
                                                               "strided_conv_4ch"))
        return verdict, evidence(
            en=f"Validation accuracy: max pool {fmt(am)}, average pool {fmt(aa)}, an extra stride-2 conv {fmt(ae)} "
               f"({fmt(me / mm)}x the MACs of max pooling), stride-2 convs in place {fmt(ai)} ({fmt(mi / mm)}x), no "
               f"downsampling {fmt(an)} ({fmt(mn / mm)}x); the best strided variant is {fmt(best_strided - best_pool)} "
               f"from the best pooling (a difference of {fmt(gain)} decides). Downsampling widens the receptive "
               f"field from {fmt(rn)} to {fmt(rm)} px ({fmt(thresholds['min_rf_ratio'])}x expected: "
               f"{'yes' if rf_ok else 'no'}). What is lost: the best linear decoder recovers digits with relative "
               f"error {fmt(la)} from average pooling, {fmt(lm)} from max pooling, {fmt(l1)} from a 1-channel "
               f"stride-2 conv but {fmt(l4)} from a 4-channel one: a strided conv loses less only when it has "
               f"enough output channels.",
            zh=f"验证准确率：最大池化 {fmt(am)}，平均池化 {fmt(aa)}，额外的步长 2 卷积 {fmt(ae)}（MACs 为最大池化的 "
               f"{fmt(me / mm)} 倍），原卷积改为步长 2 {fmt(ai)}（{fmt(mi / mm)} 倍），不下采样 {fmt(an)}"
               f"（{fmt(mn / mm)} 倍）；最好的步长卷积方案比最好的池化方案高 {fmt(best_strided - best_pool)}"
               f"（以 {fmt(gain)} 为判定差值）。下采样把感受野从 {fmt(rn)} 扩大到 {fmt(rm)} 像素（预期至少 "
               f"{fmt(thresholds['min_rf_ratio'])} 倍：{'是' if rf_ok else '否'}）。信息损失：最优线性解码器从平均"
               f"池化重建数字的相对误差为 {fmt(la)}，最大池化 {fmt(lm)}，单通道步长 2 卷积 {fmt(l1)}，而 4 通道的"
               f"只有 {fmt(l4)}：步长卷积只有在输出通道足够多时才损失更少。")
