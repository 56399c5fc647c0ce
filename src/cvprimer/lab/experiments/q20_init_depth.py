"""Question 20: why initialize carefully, and how: signal and gradient scale through a 20-layer network.

Measured on a 20-layer MLP (width 64) on the digits with tanh and with ReLU, for five initializations of
:mod:`cvprimer.nn.init` (small normal N(0, 0.01^2), Xavier/Glorot, Kaiming/He, orthogonal, and an LSUV-like
scheme: orthogonal, then each layer rescaled in turn so its output has unit variance on a batch): the standard
deviation of every layer's activations and of every weight gradient at initialization, then a short training run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.analysis.timing import blas_threads
from cvprimer.lab.common import Data, fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

DEPTH, WIDTH = 20, 64
ACTS: dict[str, Callable[[], Any]] = {"tanh": nn.Tanh, "relu": nn.ReLU}
SCHEMES = ("small_normal", "xavier", "kaiming", "orthogonal", "lsuv")


def deep_mlp(act: Callable[[], Any], depth: int = DEPTH, width: int = WIDTH) -> Any:
    """``depth`` Linear layers: 64 -> width (x depth-1, each followed by ``act``) -> 10."""
    layers: list[Any] = [nn.Flatten()]
    for i in range(depth - 1):
        layers += [nn.Linear(64 if i == 0 else width, width), act()]
    return nn.Sequential(*layers, nn.Linear(width, 10))


def init_model(model: Any, scheme: str, act: str, x: np.ndarray, rng: np.random.Generator) -> Any:
    """Initialize every Linear of ``model`` with ``scheme`` (biases zero); ``lsuv`` needs a batch ``x``."""
    init = nn.init
    gain = init.calculate_gain(act)
    lins = [m for m in model.modules() if isinstance(m, nn.Linear)]
    for lin in lins:
        w = lin.weight
        if scheme == "small_normal":
            init.normal_(w, 0.0, 0.01, rng=rng)
        elif scheme == "xavier":
            init.xavier_normal_(w, rng=rng)
        elif scheme == "kaiming":
            init.kaiming_normal_(w, nonlinearity=act, rng=rng)
        elif scheme in ("orthogonal", "lsuv"):
            init.orthogonal_(w, gain=gain if scheme == "orthogonal" else 1.0, rng=rng)
        else:
            raise ValueError(f"init_model: unknown scheme {scheme!r}")
        init.zeros_(lin.bias)
    if scheme == "lsuv":  # Mishkin & Matas 2015 (arXiv:1511.06422): unit output variance, layer by layer
        for lin in lins:
            for _ in range(3):
                out: list[np.ndarray] = []
                handle = lin.register_forward_hook(lambda m, i, o, out=out: out.append(o.data))
                with cp.no_grad():
                    model(cp.tensor(x))
                handle.remove()
                lin.weight.data /= lin.weight.data.dtype.type(out[0].std() + 1e-8)
    return model


def layer_stats(model: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Std of each hidden activation (after the nonlinearity) and of each Linear weight's gradient of the
    cross-entropy on the batch ``(x, y)``."""
    acts: list[float] = []
    handles = [m.register_forward_hook(lambda m, i, o: acts.append(float(o.data.std())))
               for m in model.modules() if isinstance(m, (nn.Tanh, nn.ReLU))]
    model.zero_grad()
    F.cross_entropy(model(cp.tensor(x)), cp.tensor(y)).backward()
    for h in handles:
        h.remove()
    grads = [float(m.weight.grad.data.std()) for m in model.modules() if isinstance(m, nn.Linear)]
    model.zero_grad()
    return np.array(acts), np.array(grads)


class InitAcrossDepth(Experiment):
    id = "q20-init-depth"
    questions = (20,)
    topic = "training"
    thresholds = {"vanish_ratio": 1e-3, "healthy_ratio": 0.1, "chance_margin": 0.1, "trains_acc": 0.6}
    text = {
        "en": {
            "title": "Initialization across depth: activation and gradient scale in 20 layers",
            "claim": "Weights are initialized so that activations neither explode nor vanish in the forward pass; "
                     "otherwise the gradients explode or vanish too and the network converges slowly or not at "
                     "all. Methods: Xavier, Kaiming and random initialization.",
            "method": "Build a 20-layer MLP (width 64) for the digits with tanh and with ReLU; initialize it with "
                      "small normal N(0, 0.01^2), Xavier, Kaiming (with the activation's gain), orthogonal (with "
                      "the gain) and an LSUV-like scheme (orthogonal, then each layer scaled to unit output "
                      "variance on a batch). Measure every layer's activation std and weight-gradient std on a "
                      "batch of 256 standardized digits, then train each net briefly with Adam (lr 1e-3).",
        },
        "zh": {
            "title": "不同深度下的初始化：20 层网络中的激活与梯度尺度",
            "claim": "初始化权重是为了让前向传播时激活值既不爆炸也不消失；否则梯度也会爆炸或消失，"
                     "网络收敛很慢甚至不收敛。方法有 Xavier、Kaiming 和随机初始化。",
            "method": "为 digits 搭建 20 层、宽 64 的 MLP，激活函数分别为 tanh 与 ReLU；依次用小方差正态 "
                      "N(0, 0.01^2)、Xavier、Kaiming（带激活函数增益）、正交（带增益）和类 LSUV 方法"
                      "（先正交，再逐层缩放使该层输出在一个批次上方差为 1）初始化。在 256 张标准化的 digits "
                      "上测量每层激活值和权重梯度的标准差，再用 Adam（学习率 1e-3）简短训练每个网络。",
        },
    }

    def run(self, ctx: Context) -> Result:
        with blas_threads(1):  # small matrices: one BLAS thread is as fast alone and far faster on a busy CPU
            return self._run(ctx)

    def _run(self, ctx: Context) -> Result:
        d32 = load_data("digits", ctx.pick(500, 1437), 360, ctx.rng, standardize=True)
        # float64 throughout: the vanishing signals reach 1e-30 and below, which float32 stores as subnormals
        # (or flushes to 0), and subnormal arithmetic is two orders of magnitude slower
        data = Data(d32.x_train.astype(np.float64), d32.y_train, d32.x_val.astype(np.float64), d32.y_val)
        probe = ctx.rng.choice(len(data.x_train), 256, replace=False)
        xb, yb = data.x_train[probe], data.y_train[probe]
        epochs = ctx.pick(4, 20)
        state = ctx.rng.bit_generator.state
        stats: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        acc: dict[tuple[str, str], float] = {}
        for act_name, act in ACTS.items():
            for scheme in SCHEMES:
                cp.manual_seed(ctx.seed)
                model = init_model(deep_mlp(act).double(), scheme, act_name, xb, ctx.child_rng())
                stats[act_name, scheme] = layer_stats(model, xb, yb)
                gen = np.random.default_rng()
                gen.bit_generator.state = state
                with blas_threads(1):  # small matrices: one thread is faster and steady on a busy machine
                    f = fit(model, data, epochs, gen, lr=1e-3, optimizer="adam", batch_size=32)
                acc[act_name, scheme] = f.val_acc if np.isfinite(f.val_acc) else 0.0
        self._plot(ctx, stats)
        figures: dict[str, Figure] = {}
        rows = []
        for (a, s), (st_a, st_g) in stats.items():
            ar = st_a[-1] / st_a[0]
            gr = st_g[0] / st_g[-1] if st_g[-1] > 0 else float("nan")
            figures[f"act_ratio_{s}_{a}"] = Figure(ar, "last/first std")
            figures[f"grad_ratio_{s}_{a}"] = Figure(gr, "first/last std")
            figures[f"acc_{s}_{a}"] = Figure(acc[a, s], "fraction")
            rows.append([a, s, float(st_a[0]), float(st_a[-1]), float(ar), float(st_g[0]), float(st_g[-1]),
                         acc[a, s]])
        table = Table("layers", ["activation", "init", "act std layer 1", "act std layer 19", "ratio",
                                 "grad std W1", "grad std W20", "val acc"], rows,
                      {"en": f"At initialization on 256 digits; accuracy after {epochs} epochs of Adam (lr 1e-3, "
                             "batch 32).",
                       "zh": f"初始化时在 256 张 digits 上测得；准确率为 Adam（学习率 1e-3，批大小 32）"
                             f"训练 {epochs} 轮后的结果。"})
        return Result(figures=figures, tables=[table])

    @staticmethod
    def _plot(ctx: Context, stats: Mapping[tuple[str, str], tuple[np.ndarray, np.ndarray]]) -> None:
        fig, axes = ctx.figure(2, 2, size=(10, 7))
        for j, a in enumerate(ACTS):
            for s in SCHEMES:
                st_a, st_g = stats[a, s]
                # an exact 0 cannot sit on a log axis: such points are left out
                axes[0, j].semilogy(np.arange(1, len(st_a) + 1), np.where(st_a > 0, st_a, np.nan), marker=".", label=s)
                axes[1, j].semilogy(np.arange(1, len(st_g) + 1), np.where(st_g > 0, st_g, np.nan), marker=".", label=s)
            axes[0, j].set_title(f"{a}: activation std by layer")
            axes[1, j].set_title(f"{a}: weight-gradient std by layer")
            axes[0, j].set_xlabel("hidden layer")
            axes[1, j].set_xlabel("linear layer")
            axes[0, j].set_ylabel("std")
            axes[1, j].set_ylabel("std")
        axes[0, 0].legend(fontsize=7)
        ctx.save_figure(fig, "layer_std", "Standard deviation of activations (top) and of weight gradients (bottom) "
                        "layer by layer in a 20-layer MLP for five initializations, tanh left and ReLU right "
                        "(log scale), computed in float64.",
                        "20 层 MLP 在五种初始化下逐层的激活值标准差（上）与权重梯度标准差（下），"
                        "左为 tanh，右为 ReLU（对数坐标），以 float64 计算。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        vanish, healthy = thresholds["vanish_ratio"], thresholds["healthy_ratio"]
        margin, good = thresholds["chance_margin"], thresholds["trains_acc"]
        small = {a: figures[f"act_ratio_small_normal_{a}"] for a in ACTS}
        small_acc = {a: figures[f"acc_small_normal_{a}"] for a in ACTS}
        # the scale-preserving schemes: Kaiming and LSUV (Xavier is only meant for tanh-like units)
        keep = {(s, a): figures[f"act_ratio_{s}_{a}"] for s in ("kaiming", "lsuv") for a in ACTS}
        sound = ("kaiming", "orthogonal", "lsuv")
        best = {a: max(figures[f"acc_{s}_{a}"] for s in sound) for a in ACTS}
        xr = figures["act_ratio_xavier_relu"]
        vanished = all(v < vanish for v in small.values())
        small_fails = all(v <= 0.1 + margin for v in small_acc.values())
        kept = all(healthy <= v <= 1 / healthy for v in keep.values())
        trained = all(v >= good for v in best.values())
        en = (f"Last/first hidden-layer activation std with N(0, 0.01^2): tanh {fmt(small['tanh'])}, relu "
              f"{fmt(small['relu'])} (vanished: < {fmt(vanish)}); validation accuracy tanh {fmt(small_acc['tanh'])}, "
              f"relu {fmt(small_acc['relu'])} (failed: <= {fmt(0.1 + margin)}). Kaiming and LSUV keep the ratio at "
              + ", ".join(f"{s}/{a} {fmt(v)}" for (s, a), v in keep.items())
              + f" (healthy: {fmt(healthy)}..{fmt(1 / healthy)}); the best of Kaiming, orthogonal and LSUV reaches "
              + ", ".join(f"{a} {fmt(v)}" for a, v in best.items())
              + f" (trains: >= {fmt(good)}). Xavier with ReLU shrinks the ratio to {fmt(xr)} and reaches "
              + f"{fmt(figures['acc_xavier_relu'])}.")
        zh = (f"N(0, 0.01^2) 初始化时最后与第一隐藏层激活标准差之比：tanh {fmt(small['tanh'])}，relu "
              f"{fmt(small['relu'])}（“消失”：< {fmt(vanish)}）；验证准确率 tanh {fmt(small_acc['tanh'])}，relu "
              f"{fmt(small_acc['relu'])}（“失败”：<= {fmt(0.1 + margin)}）。Kaiming 与 LSUV 的比值为 "
              + "，".join(f"{s}/{a} {fmt(v)}" for (s, a), v in keep.items())
              + f"（“健康”：{fmt(healthy)}..{fmt(1 / healthy)}）；Kaiming、正交、LSUV 中最好的准确率为 "
              + "，".join(f"{a} {fmt(v)}" for a, v in best.items())
              + f"（“能训练”：>= {fmt(good)}）。Xavier 配 ReLU 时比值缩小到 {fmt(xr)}，"
              + f"准确率为 {fmt(figures['acc_xavier_relu'])}。")
        if vanished and small_fails and kept and trained:
            return verdict_if(True), evidence(
                en=en + " The claim holds; note that 'random initialization' is not a method by itself: the same "
                        "normal distribution trains or fails depending only on its scale.",
                zh=zh + "该说法成立；但“随机初始化”本身不是一种方法：同样的正态分布，"
                        "能否训练只取决于它的尺度。")
        part = vanished or kept
        return verdict_if(False, nuanced=part), evidence(
            en=en + (" Only part of the claim holds in this measurement." if part else
                     " The measurement does not show the claimed effect."),
            zh=zh + ("本次测量只支持该说法的一部分。" if part else "本次测量没有显示出所说的效应。"))
