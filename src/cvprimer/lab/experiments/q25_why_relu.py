"""Question 25: why is ReLU the default activation?

Measured on our engine:

- cost: median time of forward + backward of ReLU, sigmoid and tanh over a large float32 tensor (one
  thread, interleaved repeats);
- gradient flow: ||dL/dW|| of the first vs the last layer of a 10-layer MLP on the 8x8 digits at
  initialization, for each of the three;
- the negative side: ReLU's gradient there is exactly 0; in a trained net, the share of pre-activations
  that pass no gradient and of units that are dead (never positive on the validation set);
- sparsity and generalization: the same MLP trained on a small MNIST subset with ReLU, leaky ReLU (slope
  0.1, no exact zeros), tanh and sigmoid; the share of exactly-zero activations against validation
  accuracy. If sparsity were what makes ReLU generalize, leaky ReLU should be clearly worse.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn, optim
from cvprimer.analysis.timing import time_interleaved
from cvprimer.lab._deepmlp import DeepMLP, weight_grad_norms
from cvprimer.lab.common import fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

TRAINED = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.1), "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
TIMED = ("relu", "sigmoid", "tanh")


def mlp(act: Any) -> Any:
    """784-256-256-10 MLP with the activation module factory ``act``."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), act(), nn.Linear(256, 256), act(), nn.Linear(256, 10))


def activation_stats(model: Any, x: np.ndarray) -> dict[str, float]:
    """On ``x`` (eval mode): the share of hidden activations exactly 0, of pre-activations <= 0 (where ReLU
    passes no gradient) and of hidden units never positive (dead)."""
    model.eval()
    zeros, nonpos, dead, n = 0.0, 0.0, 0.0, 0
    with cp.no_grad():
        h = cp.Tensor(x)
        layers = list(model)
        for i, layer in enumerate(layers):
            out = layer(h)
            if i + 1 < len(layers) and isinstance(layer, nn.Linear):
                z = out.data
                a = layers[i + 1](out).data
                zeros += float(np.mean(a == 0))
                nonpos += float(np.mean(z <= 0))
                dead += float(np.mean((z <= 0).all(axis=0)))
                n += 1
            h = out
    return {"zero_frac": zeros / n, "nonpos_frac": nonpos / n, "dead_frac": dead / n}


class WhyReLU(Experiment):
    id = "q25-why-relu"
    questions = (25,)
    topic = "activation"
    thresholds = {"min_cost_ratio": 1.5, "min_grad_ratio": 10.0, "min_sparsity_gain": 0.01}
    text = {
        "en": {
            "title": "Why ReLU: cheap, non-saturating for x > 0, and sparse (which is not why it generalizes)",
            "claim": "ReLU is used because it is cheaper than sigmoid in the forward and the backward pass, because "
                     "it has no saturation region so gradients do not vanish, and because it sets some neurons' "
                     "outputs to zero; this sparsity reduces the dependence between parameters and improves "
                     "generalization.",
            "method": "Time forward + backward of ReLU, sigmoid and tanh on our engine; compare first- and last-layer "
                      "gradient norms of a 10-layer MLP at initialization; count zero-gradient pre-activations and "
                      "dead units in a trained ReLU net; train one MLP with ReLU, leaky ReLU (no exact zeros), tanh "
                      "and sigmoid and compare activation sparsity with validation accuracy.",
        },
        "zh": {
            "title": "为什么用 ReLU：便宜、正半轴不饱和、稀疏（但稀疏并不是它泛化好的原因）",
            "claim": "之所以常用 ReLU，是因为它在前向和反向传播中比 sigmoid 计算量小；它没有饱和区，"
                     "因而不会梯度消失；它会让一部分神经元输出为零，这种稀疏性减少了参数之间的相互依赖，"
                     "提升了泛化能力。",
            "method": "在我们的引擎上测量 ReLU、sigmoid、tanh 前向加反向的耗时；比较 10 层 MLP 初始化时第一层与"
                      "最后一层的梯度范数；统计训练好的 ReLU 网络中梯度为零的预激活和死亡单元；"
                      "用 ReLU、Leaky ReLU（没有精确的零）、tanh 和 sigmoid 训练同一个 MLP，"
                      "比较激活稀疏度与验证准确率。",
        },
    }

    def run(self, ctx: Context) -> Result:
        figs: dict[str, Figure] = {}
        # 1. cost of forward + backward
        x = cp.Tensor(ctx.rng.standard_normal(ctx.pick(1 << 18, 1 << 20)).astype(np.float32), requires_grad=True)
        gy = cp.Tensor(np.ones(x.shape, np.float32))

        def step(name: str) -> Any:
            fn = getattr(F, name)

            def f() -> None:
                x.grad = None
                fn(x).backward(gy)
            return f

        times = time_interleaved({n: step(n) for n in TIMED}, repeat=ctx.pick(7, 11), warmup=1,
                               clock=time.process_time)  # CPU time: robust to other processes' load
        for n in TIMED:
            figs[f"ns_per_elem_{n}"] = Figure(1e9 * times[n] / x.data.size, "ns", {
                "en": f"{n} forward + backward per element", "zh": f"{n} 前向加反向，每元素"})
        # 2. gradient flow through depth at initialization
        digits = load_data("digits", 1000, 200, ctx.rng, standardize=True)
        xb, yb = digits.x_train[:256].reshape(256, -1), digits.y_train[:256]
        grad_rows, norms = [], {}
        for n in TIMED:
            g = weight_grad_norms(DeepMLP(10, 64, act=n, rng=ctx.child_rng()), xb, yb)
            norms[n] = g
            figs[f"grad_ratio_{n}"] = Figure(g[0] / g[-1], "first / last layer")
            grad_rows.append([n, g[0], g[-1], g[0] / g[-1]])
        # 3. trained nets: sparsity, zero-gradient share, dead units, accuracy
        data = load_data("mnist_sample", ctx.pick(400, 1500), ctx.pick(500, 1000), ctx.rng)
        epochs = ctx.pick(10, 30)
        rows, curves = [], {}
        for name, act in TRAINED.items():
            cp.manual_seed(ctx.seed)
            model = mlp(act)
            res = fit(model, data, epochs, np.random.default_rng(ctx.seed), optimizer=optim.Adam(
                model.parameters(), lr=1e-3))
            st = activation_stats(model, data.x_val)
            figs[f"val_acc_{name}"] = Figure(res.val_acc, "accuracy")
            figs[f"zero_frac_{name}"] = Figure(st["zero_frac"], "fraction")
            if name == "relu":
                figs["relu_zero_grad_frac"] = Figure(st["nonpos_frac"], "fraction", {
                    "en": "pre-activations <= 0 (ReLU passes no gradient)", "zh": "<= 0 的预激活（ReLU 不传梯度）"})
                figs["relu_dead_frac"] = Figure(st["dead_frac"], "fraction")
            rows.append([name, st["zero_frac"], st["dead_frac"] if name == "relu" else "-", res.train_acc,
                         res.val_acc])
            curves[name] = res.curve("val_acc")
            ctx.progress.update()
        self._plot(ctx, times, x.data.size, norms, curves)
        return Result(figures=figs, tables=[
            Table("cost", ["activation", "ns per element (forward + backward)"],
                  [[n, 1e9 * times[n] / x.data.size] for n in TIMED],
                  {"en": f"{x.data.size:,} float32 elements, one thread.",
                   "zh": f"{x.data.size:,} 个 float32 元素，单线程。"}),
            Table("depth", ["activation", "||dL/dW|| first layer", "||dL/dW|| last layer", "ratio"], grad_rows,
                  {"en": "10-layer MLP (width 64) on the 8x8 digits at PyTorch's default initialization.",
                   "zh": "8x8 digits 上的 10 层 MLP（宽 64），PyTorch 默认初始化。"}),
            Table("trained", ["activation", "exact-zero activations", "dead units", "train acc", "val acc"], rows,
                  {"en": f"MLP 784-256-256-10, {len(data.y_train)} MNIST training images, {epochs} epochs of Adam, "
                         f"same seed for every activation.",
                   "zh": f"MLP 784-256-256-10，{len(data.y_train)} 张 MNIST 训练图像，Adam 训练 {epochs} 轮，"
                         f"所有激活函数用同一随机种子。"})])

    @staticmethod
    def _plot(ctx: Context, times: Mapping[str, float], size: int, norms: Mapping[str, np.ndarray],
              curves: Mapping[str, np.ndarray]) -> None:
        fig, axes = ctx.figure(1, 3, size=(12.5, 3.4))
        axes[0].bar(list(times), [1e9 * times[n] / size for n in times], color=["C0", "C1", "C2"])
        axes[0].set_ylabel("ns per element")
        axes[0].set_title("Forward + backward cost")
        for n, g in norms.items():
            axes[1].semilogy(np.arange(1, len(g) + 1), g, "o-", label=n)
        axes[1].set_xlabel("layer (input side first)")
        axes[1].set_ylabel("||dL/dW||")
        axes[1].set_title("Gradient norms, 10-layer MLP at init")
        axes[1].legend()
        for n, c in curves.items():
            axes[2].plot(np.arange(1, len(c) + 1), c, label=n)
        axes[2].set_xlabel("epoch")
        axes[2].set_ylabel("validation accuracy")
        axes[2].set_title("Same MLP, four activations")
        axes[2].legend(fontsize=7)
        ctx.save_figure(fig, "relu", "Left: forward plus backward time per element of ReLU, sigmoid and tanh. "
                        "Middle: per-layer weight-gradient norms of a 10-layer MLP at initialization (log scale); "
                        "sigmoid's shrink towards the input. Right: validation accuracy per epoch of one MLP "
                        "trained with four activations.",
                        "左：ReLU、sigmoid、tanh 每个元素前向加反向的耗时。中：10 层 MLP 初始化时各层权重梯度"
                        "范数（对数坐标），sigmoid 的梯度向输入端逐层缩小。右：同一 MLP 用四种激活函数训练时"
                        "每轮的验证准确率。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tr, ts, tt = (figures[f"ns_per_elem_{n}"] for n in TIMED)
        gr, gs = figures["grad_ratio_relu"], figures["grad_ratio_sigmoid"]
        ar, al = figures["val_acc_relu"], figures["val_acc_leaky_relu"]
        zr, zl = figures["zero_frac_relu"], figures["zero_frac_leaky_relu"]
        zg, dead = figures["relu_zero_grad_frac"], figures["relu_dead_frac"]
        cost_ok = ts / tr >= thresholds["min_cost_ratio"]
        grad_ok = gr / gs >= thresholds["min_grad_ratio"]
        sparse_ok = ar - al >= thresholds["min_sparsity_gain"]
        verdict = verdict_if(cost_ok and grad_ok and sparse_ok, nuanced=cost_ok or grad_ok)
        yes = {True: "yes", False: "no"}
        shi = {True: "是", False: "否"}
        return verdict, evidence(
            en=f"Cost: sigmoid takes {fmt(ts)} ns per element forward + backward, tanh {fmt(tt)}, ReLU {fmt(tr)} "
               f"(sigmoid/ReLU {fmt(ts / tr)}x, at least {fmt(thresholds['min_cost_ratio'])}x required: "
               f"{yes[cost_ok]}). Gradient flow: the first-to-last layer gradient ratio of a 10-layer MLP is "
               f"{fmt(gr)} with ReLU vs {fmt(gs)} with sigmoid ({fmt(gr / gs)}x, at least "
               f"{fmt(thresholds['min_grad_ratio'])}x required: {yes[grad_ok]}). But ReLU does saturate for x < 0: "
               f"in the trained net {fmt(100 * zg)}% of pre-activations pass no gradient and {fmt(100 * dead)}% of "
               f"units are dead. Sparsity: ReLU zeroes {fmt(100 * zr)}% of activations, leaky ReLU {fmt(100 * zl)}%, "
               f"yet validation accuracy is {fmt(ar)} vs {fmt(al)} (a gain of {fmt(thresholds['min_sparsity_gain'])}"
               f" would support the sparsity claim: {yes[sparse_ok]}).",
            zh=f"开销：前向加反向每元素 sigmoid {fmt(ts)} ns、tanh {fmt(tt)} ns、ReLU {fmt(tr)} ns（sigmoid/ReLU 为 "
               f"{fmt(ts / tr)} 倍，要求至少 {fmt(thresholds['min_cost_ratio'])} 倍：{shi[cost_ok]}）。梯度传播："
               f"10 层 MLP 第一层与最后一层梯度之比，ReLU 为 {fmt(gr)}，sigmoid 为 {fmt(gs)}（{fmt(gr / gs)} 倍，"
               f"要求至少 {fmt(thresholds['min_grad_ratio'])} 倍：{shi[grad_ok]}）。但 ReLU 在 x < 0 时同样饱和："
               f"训练好的网络中 {fmt(100 * zg)}% 的预激活不传梯度，{fmt(100 * dead)}% 的单元已死亡。"
               f"稀疏性：ReLU 让 {fmt(100 * zr)}% 的激活为零，Leaky ReLU 为 {fmt(100 * zl)}%，而验证准确率分别为 "
               f"{fmt(ar)} 和 {fmt(al)}（提高 {fmt(thresholds['min_sparsity_gain'])} 才算支持稀疏性的说法："
               f"{shi[sparse_ok]}）。")
