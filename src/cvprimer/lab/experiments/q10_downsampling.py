"""Question 10: what downsampling is for, and pooling vs a learned stride-2 convolution.

Measured on the 8x8 digits with one small CNN (3x3 conv to 8 channels, downsample, 3x3 conv to 16,
downsample, linear classifier on the flattened map) whose two downsampling steps are, in turn: 2x2 max
pooling, 2x2 average pooling, an extra learned 3x3 stride-2 convolution in place of each pool, the convolutions
themselves made stride 2, and no downsampling at all (the classifier then sees a 4x larger map). All are trained
with Adam (lr 3e-3) from the same seed on the same batches. The seed's claim is tested on max pooling, the learned
stride-2 convolution that replaces it, and no downsampling: MACs and receptive field (analyzer), the gap between
training and validation accuracy, and validation accuracy.

Beyond the seed: average pooling and stride-2 convolutions in place, the time of one training step, and what is
lost: MNIST digits downsampled 2x by max pooling, average pooling, stride-2 subsampling and a random 2x2 stride-2
convolution with 1 and with 4 output channels; a linear decoder fitted by (ridge) least squares on training
digits reconstructs the 28x28 input from the 14x14 map, and the relative error on validation digits says how much
information the downsampled map still holds.
"""

from __future__ import annotations

import functools
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
from cvprimer.lab.plots import tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "Same CNN, five ways to downsample": "同一个 CNN，五种下采样方式",
    "digit | max pool | avg pool | subsample (shown 2x)": "数字 | 最大池化 | 平均池化 | 隔点采样（放大 2 倍显示）",
    "2x2 avg pool": "2x2 平均池化",
    "2x2 max pool": "2x2 最大池化",
    "conv itself stride 2": "卷积自身步幅 2",
    "learned 3x3 conv, stride 2": "学习的 3x3 卷积，步幅 2",
    "no downsampling": "不下采样",
})

VARIANTS = ("max_pool", "avg_pool", "strided_extra", "strided_conv", "none")
LABELS = {"max_pool": "2x2 max pool", "avg_pool": "2x2 avg pool", "strided_extra": "learned 3x3 conv, stride 2",
          "strided_conv": "conv itself stride 2", "none": "no downsampling"}
LABELS_ZH = {"max_pool": "2x2 最大池化", "avg_pool": "2x2 平均池化", "strided_extra": "可学习的 3x3 步长 2 卷积",
             "strided_conv": "原卷积改为步长 2", "none": "不下采样"}
CLAIMED = ("max_pool", "strided_extra", "none")  # the settings the seed's claim covers


def net(kind: str) -> Any:
    """The small CNN with downsampling ``kind`` (see the module docstring)."""
    def down(c: int) -> list[Any]:
        layers: dict[str, list[Any]] = {"max_pool": [nn.MaxPool2d(2)], "avg_pool": [nn.AvgPool2d(2)],
                                         "strided_extra": [nn.Conv2d(c, c, 3, stride=2, padding=1), nn.ReLU()]}
        return layers.get(kind, [])
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


#: the downsamplings shown beside the digit in the plot
SHOWN = ("max_pool", "avg_pool", "subsample")


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
    topic = "sampling"
    thresholds = {"min_acc_gain": 0.03, "gap_margin": 0.02}
    reasons = {
        "min_acc_gain": {"en": "Measured noise floor: the learned stride-2 convolution minus max pooling in validation "
                               "accuracy measured +0.012, 0.000, +0.010 over 3 quick seeds and -0.018, -0.002 in full "
                               "mode (across-seed standard deviation about 0.01); 0.03 is about three of them.",
                         "zh": "实测噪声下限：可学习步长 2 卷积与最大池化的验证准确率之差，快速模式 3 个随机种子为 "
                               "+0.012、0.000、+0.010，完整模式为 -0.018、-0.002（随机种子间标准差约 0.01）；"
                               "0.03 约为其三倍。"},
        "gap_margin": {"en": "Measured noise floor: the train-validation gap without downsampling minus the gap with "
                             "max pooling measured 0.018, 0.030, 0.008 over 3 quick seeds (standard deviation "
                             "0.011); 0.02 is about two of them.",
                       "zh": "实测噪声下限：不下采样时训练与验证准确率之差减去最大池化时的差，快速模式 3 个随机种子为 "
                             "0.018、0.030、0.008（标准差 0.011）；0.02 约为其两倍。"},
    }
    reachable = (CONFIRMED, NUANCED, REFUTED)
    key_term = {"en": "strided convolution versus pooling", "zh": "带步长的卷积与池化"}
    key_figure = "val_acc_strided_extra"
    answer = {
        "confirmed": {
            "en": "Yes: downsampling cut the MACs, widened the field and narrowed the train-validation gap, "
                  "and the learned stride-2 convolution beat max pooling ({val_acc_strided_extra} against "
                  "{val_acc_max_pool}) at extra cost.",
            "zh": "是的：下采样减少了乘加次数，扩大了感受野，也缩小了训练与验证的差距；"
                  "可学习的步长为 2 的卷积比最大池化更准（{val_acc_strided_extra} 对 {val_acc_max_pool}），"
                  "但代价更高。"},
        "nuanced": {
            "en": "The learned stride-2 convolution did beat max pooling ({val_acc_strided_extra} against "
                  "{val_acc_max_pool}), but not every listed benefit of downsampling showed (train-validation "
                  "gap {gap_max_pool} with pooling against {gap_none} without); name the benefits you can "
                  "defend.",
            "zh": "可学习的步长为 2 的卷积确实胜过最大池化（{val_acc_strided_extra} 对 {val_acc_max_pool}），"
                  "但下采样所列的好处并未全部出现（训练与验证之差：池化时 {gap_max_pool}，"
                  "不下采样时 {gap_none}）；回答时只说站得住的好处。"},
        "refuted": {
            "en": "Few of the claimed benefits appeared here: the learned stride-2 convolution reached "
                  "{val_acc_strided_extra} against {val_acc_max_pool} for max pooling, and the savings or the "
                  "wider field did not show.",
            "zh": "这里几乎看不到所说的好处：可学习的步长为 2 的卷积为 {val_acc_strided_extra}，"
                  "最大池化为 {val_acc_max_pool}，计算节省或感受野扩大也没有出现。"},
        "nuanced:no_gain": {
            "en": "Downsampling cuts MACs and widens the receptive field, but do not claim that a learned "
                  "stride-2 convolution is more accurate than pooling: {val_acc_strided_extra} against "
                  "{val_acc_max_pool} for max pooling here (train-validation gap {gap_max_pool} with pooling, "
                  "{gap_none} without).",
            "zh": "下采样减少乘加次数并扩大感受野，但不要说可学习的步长为 2 的卷积比池化更准："
                  "这里为 {val_acc_strided_extra}，最大池化为 {val_acc_max_pool}（训练与验证之差："
                  "池化时 {gap_max_pool}，不下采样时 {gap_none}）。"},
    }
    text = {
        "en": {
            "title": "Why downsample, and how?",
            "claim": "Downsampling cuts computation, curbs overfitting and widens the receptive field. It is done "
                     "by stride-2 pooling (max pooling being the usual choice) or by a learned stride-2 "
                     "convolution, which replaces the fixed pooling to give better results at some extra "
                     "computation.",
            "method": "Train one small CNN on the 8x8 digits with 2x2 max pooling, with a learned 3x3 stride-2 "
                      "convolution in place of each pool, and with no downsampling, from the same seed on the same "
                      "batches; compare MACs and receptive field (analyzer), the gap between training and validation "
                      "accuracy, and validation accuracy.",
            "beyond": "Average pooling and stride-2 convolutions in place, the time of one training step, and how "
                      "much of an MNIST digit the best linear decoder recovers from each 2x downsampled map.",
        },
        "zh": {
            "title": "为什么要下采样？怎么做？",
            "claim": "下采样能减少计算量、抑制过拟合并扩大感受野。做法是步长为 2 的池化（通常用最大池化），"
                     "或可学习的步长为 2 的卷积，用它替代固定的池化效果更好，只是计算量稍大。",
            "method": "在 8x8 digits 上从同一随机种子、用相同批次训练同一个小 CNN：用 2x2 最大池化、"
                      "用可学习的 3x3 步长 2 卷积替代每个池化、以及不做下采样；比较乘加次数和感受野（分析器）、"
                      "训练与验证准确率之差，以及验证准确率。",
            "beyond": "平均池化与把原卷积改为步长 2、每步训练时间，以及最优线性解码器能从每种 2 倍下采样结果中"
                      "恢复多少 MNIST 数字。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "macs_{m}": {"en": "MACs, {m}", "zh": "乘加次数（{m}）"},
        "rf_{m}": {"en": "receptive field, {m}", "zh": "感受野（{m}）"},
        "params_{m}": {"en": "parameters, {m}", "zh": "参数量（{m}）"},
        "step_ms_{m}": {"en": "train step time, {m}", "zh": "训练一步的时间（{m}）"},
        "recon_err_{m}": {"en": "reconstruction error of the best linear decoder, {m}",
                          "zh": "最佳线性解码器的重建误差（{m}）"},
    }
    terms = {
        "strided_extra": {"en": "extra strided conv", "zh": "额外的带步幅卷积"},
        "none": {"en": "no downsampling", "zh": "不下采样"},
        "strided_conv": {"en": "strided conv", "zh": "带步幅卷积"},
        "subsample": {"en": "subsampling", "zh": "隔点采样"},
        "strided_conv_1ch": {"en": "strided conv, 1 channel", "zh": "带步幅卷积（1 通道）"},
        "strided_conv_4ch": {"en": "strided conv, 4 channels", "zh": "带步幅卷积（4 通道）"},
    }

    def measure(self, ctx: Context) -> Result:
        data = load_data("digits", ctx.pick(700, 1400, 200), ctx.pick(397, 397, 100), ctx.rng, standardize=True)
        epochs = ctx.pick(6, 30, 1)
        fits = train_nets({k: functools.partial(net, k) for k in VARIANTS}, data, epochs, ctx.seed, ctx.rng, lr=3e-3)
        times = self._step_times(ctx, data.x_train[:64], data.y_train[:64])
        figs: dict[str, Figure] = {}
        beyond: dict[str, Figure] = {}
        rows = []
        for k in VARIANTS:
            c = cost(net(k), (1, 1, 8, 8))
            rf = c["rf"] if c["rf"] is not None else float("nan")
            into = figs if k in CLAIMED else beyond
            into[f"val_acc_{k}"] = Figure(fits[k].val_acc, "accuracy", {"en": f"validation accuracy, {LABELS[k]}",
                                                                       "zh": f"验证准确率，{LABELS_ZH[k]}"})
            into[f"macs_{k}"] = Figure(c["macs"], "MACs")
            beyond[f"params_{k}"] = Figure(c["params"], "")
            beyond[f"step_ms_{k}"] = Figure(1e3 * times[k], "ms")
            rows.append([LABELS[k], fits[k].train_acc, fits[k].val_acc, c["params"], c["macs"], rf, 1e3 * times[k]])
        for k in ("max_pool", "none"):
            figs[f"gap_{k}"] = Figure(fits[k].train_acc - fits[k].val_acc, "accuracy", {
                "en": f"training minus validation accuracy, {LABELS[k]}",
                "zh": f"训练准确率减验证准确率，{LABELS_ZH[k]}"})
        # receptive field before the classifier: last conv's field, from the analyzer's rows
        for k in ("max_pool", "none"):
            figs[f"rf_{k}"] = Figure(self._rf(net(k)), "px")
        # beyond: what is lost
        mnist = load_data("mnist_sample", ctx.pick(1000, 4000, 200), ctx.pick(400, 1000, 100), ctx.rng)
        x_fit, x_test = mnist.x_train, mnist.x_val
        rec = {name: reconstruction_error(d, x_fit, x_test) for name, d in downsamplers(ctx.child_rng()).items()}
        for name, e in rec.items():
            beyond[f"recon_err_{name}"] = Figure(e, "relative L2")
        inv = min(rec, key=rec.__getitem__)
        downs = downsamplers(ctx.child_rng())  # a fresh set for the picture (one more draw of the run's rng)
        shown = {n: downs[n](x_test[:1]) for n in SHOWN}
        return Result(figures=figs, beyond=beyond, tables=[
            Table("nets", ["downsampling", "train acc", "val acc", "params", "MACs", "output RF (px)",
                           "train step (ms, batch 64)"], rows,
                  {"en": f"{len(data.y_train)} training images, {epochs} epochs of Adam (lr 3e-3), same seed and "
                         "batches.",
                   "zh": f"{len(data.y_train)} 张训练图像，Adam（学习率 3e-3）训练 {epochs} 轮，相同随机种子和批次。"}),
        ], beyond_tables=[
            Table("reconstruction", ["2x downsampling of the digit", "relative error of the best linear decoder"],
                  [[k, v] for k, v in rec.items()],
                  {"en": f"Lower is less information lost; the lowest error here: {inv} ({fmt(rec[inv])}).",
                   "zh": f"越低表示丢失的信息越少；这里误差最低的是 {inv}（{fmt(rec[inv])}）。"})],
            series={"curves": {k: f.curve("val_acc") for k, f in fits.items()}, "digit": x_test[:1], "shown": shown})

    @staticmethod
    def _step_times(ctx: Context, xb: np.ndarray, yb: np.ndarray) -> dict[str, float]:
        """CPU seconds of one training step (forward, loss, backward) of each variant on the batch ``xb, yb``
        (median of interleaved repeats)."""
        def step(model: Any) -> Callable[[], None]:
            def f() -> None:
                model.zero_grad()
                F.cross_entropy(model(cp.Tensor(xb)), cp.Tensor(yb)).backward()
            return f

        return time_interleaved({k: step(net(k)) for k in VARIANTS}, repeat=ctx.pick(5, 9, 2), warmup=1,
                                clock=time.process_time)  # CPU time: robust to other processes' load

    @staticmethod
    def _rf(model: Any) -> float:
        rep = cost(model, (1, 1, 8, 8))["report"]
        sizes = [r.rf_size[0] for r in rep.rows if r.rf_kind == "local" and r.rf_size]
        return float(max(sizes)) if sizes else float("nan")

    def draw(self, res: Result, ctx: Context) -> None:
        """Validation accuracy per epoch of each variant, and one digit beside its 2x downsampled versions."""
        curves: Mapping[str, np.ndarray] = res.series["curves"]
        x: np.ndarray = res.series["digit"]
        shown: Mapping[str, np.ndarray] = res.series["shown"]
        fig, axes = ctx.figure(1, 2, size=(11, 3.4))
        for k, c in curves.items():
            axes[0].plot(np.arange(1, len(c) + 1), c, label=LABELS[k])
        axes[0].set_xlabel("epoch")
        axes[0].set_ylabel("validation accuracy")
        axes[0].set_title("Same CNN, five ways to downsample")
        axes[0].legend(fontsize=7)
        tiles = [np.kron(shown[n][0, 0], np.ones((2, 2))) for n in SHOWN]
        axes[1].imshow(np.hstack([x[0, 0]] + tiles), cmap="gray")
        axes[1].set_title("digit | max pool | avg pool | subsample (shown 2x)")
        axes[1].set_axis_off()
        ctx.save_figure(fig, "downsampling", "Left: validation accuracy per epoch for each downsampling choice. "
                        "Right: a digit and its 2x downsampled versions by max pooling, average pooling and "
                        "plain subsampling, enlarged back for display.",
                        "左：每种下采样方式每轮的验证准确率。右：一个数字及其经最大池化、平均池化和直接隔点"
                        "采样 2 倍下采样后的结果（放大显示）。")

    @classmethod
    def takeaway_case(cls, figures: Mapping[str, float], verdict: str) -> str:
        """``no_gain`` when the learned stride-2 conv did not beat max pooling by the margin (as ``decide``)."""
        gain = figures["val_acc_strided_extra"] - figures["val_acc_max_pool"]
        return "no_gain" if gain < cls.thresholds["min_acc_gain"] else ""

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        gain, gm = thresholds["min_acc_gain"], thresholds["gap_margin"]
        am, ae = figures["val_acc_max_pool"], figures["val_acc_strided_extra"]
        mm, me, mn = (figures[f"macs_{k}"] for k in ("max_pool", "strided_extra", "none"))
        rm, rn = figures["rf_max_pool"], figures["rf_none"]
        gp, gn = figures["gap_max_pool"], figures["gap_none"]
        checks = {"fewer MACs": mm < mn, "less overfitting": gn - gp >= gm, "wider receptive field": rm > rn,
                  "learned stride-2 conv more accurate": ae - am >= gain, "learned stride-2 conv costs more": me > mm}
        zh_names = {"fewer MACs": "乘加更少", "less overfitting": "过拟合更轻", "wider receptive field": "感受野更大",
                    "learned stride-2 conv more accurate": "可学习步长 2 卷积更准确",
                    "learned stride-2 conv costs more": "可学习步长 2 卷积计算更多"}
        bad = [k for k, ok in checks.items() if not ok]
        verdict = CONFIRMED if not bad else REFUTED if len(bad) == len(checks) else NUANCED
        held = [k for k, ok in checks.items() if ok]
        return verdict, evidence(
            en=f"Max pooling needs {fmt(mm / mn)}x the MACs of no downsampling and widens the receptive field from "
               f"{fmt(rn)} to {fmt(rm)} px; its train-validation gap is {fmt(gp)} against {fmt(gn)} without "
               f"downsampling (a reduction of {fmt(gm)} counts). The learned stride-2 convolution reaches "
               f"{fmt(ae)} validation accuracy against {fmt(am)} for max pooling (a gain of {fmt(gain)} counts) "
               f"at {fmt(me / mm)}x its MACs. Holds: {', '.join(held) or 'nothing'}. Fails: "
               f"{', '.join(bad) or 'nothing'}.",
            zh=f"最大池化的乘加次数是不下采样的 {fmt(mm / mn)} 倍，感受野从 {fmt(rn)} 扩大到 {fmt(rm)} 像素；"
               f"其训练与验证准确率之差为 {fmt(gp)}，不下采样时为 {fmt(gn)}（减少 {fmt(gm)} 才算）。"
               f"可学习步长 2 卷积的验证准确率为 {fmt(ae)}，最大池化为 {fmt(am)}（提高 {fmt(gain)} 才算），"
               f"乘加次数为最大池化的 {fmt(me / mm)} 倍。成立：{'、'.join(zh_names[k] for k in held) or '无'}。"
               f"不成立：{'、'.join(zh_names[k] for k in bad) or '无'}。")

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        need = {f"recon_err_{k}" for k in ("max_pool", "avg_pool", "subsample", "strided_conv_1ch",
                                           "strided_conv_4ch")} | {"val_acc_avg_pool", "val_acc_strided_conv"}
        if not need <= set(beyond):
            return None
        b = beyond
        lm, la, l1, l4 = (b[f"recon_err_{k}"] for k in ("max_pool", "avg_pool", "strided_conv_1ch",
                                                         "strided_conv_4ch"))
        best_pool = min(lm, la)
        if l4 < best_pool and l1 >= best_pool:
            tail_en = "a strided convolution lost less than pooling only with 4 output channels"
            tail_zh = "步长卷积只有在 4 个输出通道时才比池化损失更少"
        elif l1 < best_pool:
            tail_en = "even a 1-channel strided convolution lost less than pooling"
            tail_zh = "即使单通道的步长卷积也比池化损失更少"
        else:
            tail_en = "no strided convolution lost less than pooling"
            tail_zh = "没有哪种步长卷积比池化损失更少"
        return {"en": f"Average pooling reached {fmt(b['val_acc_avg_pool'])} validation accuracy and stride-2 "
                      f"convolutions in place {fmt(b['val_acc_strided_conv'])}. The best linear decoder recovers "
                      f"digits with relative error {fmt(la)} from average pooling, {fmt(lm)} from max pooling, "
                      f"{fmt(l1)} from a 1-channel stride-2 convolution and {fmt(l4)} from a 4-channel one: "
                      f"{tail_en}.",
                "zh": f"平均池化的验证准确率为 {fmt(b['val_acc_avg_pool'])}，原卷积改为步长 2 为 "
                      f"{fmt(b['val_acc_strided_conv'])}。最优线性解码器从平均池化重建数字的相对误差为 {fmt(la)}，"
                      f"最大池化 {fmt(lm)}，单通道步长 2 卷积 {fmt(l1)}，4 通道的 {fmt(l4)}：{tail_zh}。"}
