"""Question 25: why is ReLU the default activation?

Measured on our engine:

- cost: median process CPU time of forward + backward of ReLU, sigmoid and tanh over a large float32 tensor
  (one thread, interleaved repeats);
- gradient flow: ||dL/dW|| of the first vs the last layer of a 10-layer MLP on the 8x8 digits at
  initialization, for each of the three;
- the negative side: ReLU's gradient there is exactly 0; in a trained net, the share of pre-activations
  that pass no gradient and of units that are dead (never positive on the validation set);
- sparsity and generalization: the same MLP trained on a small MNIST subset with ReLU, leaky ReLU (slope
  0.1, no exact zeros), tanh and sigmoid; the share of exactly-zero activations against validation
  accuracy. If sparsity were what makes ReLU generalize, leaky ReLU should be clearly worse.

The seed's claim is decided on ReLU against sigmoid (cost, gradient flow) and ReLU against leaky ReLU
(sparsity); tanh, the trained sigmoid and ReLU's zero-gradient side are reported beyond the seed.
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
from cvprimer.lab.plots import tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "Forward + backward cost": "前向 + 反向成本",
    "Gradient norms, 10-layer MLP at init": "初始化时 10 层 MLP 的梯度范数",
    "Same MLP, four activations": "同一个 MLP，四种激活函数",
    "leaky_relu": "Leaky ReLU",
})

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
    thresholds = {"min_cost_ratio": 1.1, "min_grad_ratio": 10.0, "min_sparsity_gain": 0.01}
    reasons = {
        "min_cost_ratio": {"en": "Timing noise: the sigmoid/ReLU CPU-time ratio (interleaved repeats, process CPU "
                                 "time) was 0.91-0.99 over 3 quick seeds and 0.91-0.96 over 3 full seeds (spread "
                                 "about 0.04); cheaper means at least 10% less time, over 2 such spreads above "
                                 "parity.",
                           "zh": "计时噪声：sigmoid/ReLU 的 CPU 时间比（交错重复、进程 CPU 时间）"
                                 "在 3 个快速模式随机种子上为 0.91-0.99，在 3 个完整模式随机种子上为 0.91-0.96"
                                 "（波动约 0.04）；“更省”要求至少少 10% 的时间，比持平高出 2 个以上波动。"},
        "min_grad_ratio": {"en": "Convention: one order of magnitude; the first-to-last gradient ratio of a "
                                 "10-layer net spans many orders (sigmoid' <= 1/4 per layer), so a 10x difference "
                                 "is a clear difference in how the gradient survives depth.",
                           "zh": "约定：一个数量级；10 层网络第一层与最后一层的梯度之比跨越多个数量级"
                                 "（每层 sigmoid' <= 1/4），相差 10 倍才算梯度穿过深度的能力明显不同。"},
        "min_sparsity_gain": {"en": "Noise floor: ReLU minus leaky-ReLU validation accuracy (same seed, same "
                                    "batches) varies by about 0.004 across quick seeds; a gain must exceed 0.01, "
                                    "over twice that spread and one validation image in 50.",
                              "zh": "噪声下限：ReLU 与 Leaky ReLU（同一随机种子、同一批次）验证准确率之差在快速模式各"
                                    "随机种子间"
                                    "波动约 0.004；提高须超过 0.01，超过这一波动的两倍。"},
    }
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "non-saturating activation (ReLU)", "zh": "非饱和激活函数（ReLU）"}
    key_figure = "grad_ratio_relu"
    answer = {
        "confirmed": {
            "en": "All three reasons held: ReLU was cheaper, kept the gradient flowing (first-to-last layer "
                  "ratio {grad_ratio_relu} against {grad_ratio_sigmoid} with sigmoid) and its sparsity came "
                  "with better accuracy.",
            "zh": "三条理由都成立：ReLU 更便宜，梯度能顺利传递（首层与末层梯度之比 {grad_ratio_relu}，"
                  "sigmoid 为 {grad_ratio_sigmoid}），其稀疏性也带来了更高的准确率。"},
        "nuanced": {
            "en": "Lead with gradient flow (first-to-last layer gradient ratio {grad_ratio_relu} with ReLU "
                  "against {grad_ratio_sigmoid} with sigmoid). Check the other two reasons before repeating "
                  "them: ReLU took {ns_per_elem_relu} ns per element against {ns_per_elem_sigmoid} ns for "
                  "sigmoid, and its zeros gave validation accuracy {val_acc_relu} against {val_acc_leaky_relu} "
                  "for leaky ReLU, which has none.",
            "zh": "回答时以梯度传递为主（首层与末层梯度之比：ReLU 为 {grad_ratio_relu}，"
                  "sigmoid 为 {grad_ratio_sigmoid}）。另外两条理由先核实再说："
                  "ReLU 每个元素耗时 {ns_per_elem_relu} ns，sigmoid 为 {ns_per_elem_sigmoid} ns；"
                  "ReLU 的零输出带来的验证准确率为 {val_acc_relu}，没有零输出的 leaky ReLU 为 "
                  "{val_acc_leaky_relu}。"},
        "refuted": {
            "en": "None of the reasons held clearly here (gradient ratio {grad_ratio_relu} with ReLU against "
                  "{grad_ratio_sigmoid} with sigmoid); check them one by one.",
            "zh": "这里没有一条理由明确成立（梯度之比 ReLU 为 {grad_ratio_relu}，"
                  "sigmoid 为 {grad_ratio_sigmoid}）；应逐条检验。"},
    }
    text = {
        "en": {
            "title": "Why is ReLU the default activation?",
            "claim": "ReLU costs less than sigmoid in both the forward and the backward pass; it has no "
                     "saturating region for positive inputs, so gradients do not vanish through depth the way "
                     "they do with sigmoid; and it outputs exact zeros for some units, a sparsity that is said to "
                     "improve generalization.",
            "method": "Time forward + backward of ReLU and sigmoid on our engine (process CPU time, interleaved "
                      "repeats, one thread, on the machine that ran the lab); compare first- to last-layer "
                      "gradient norms of a 10-layer MLP at initialization; train one MLP with ReLU and with leaky "
                      "ReLU (slope 0.1, no exact zeros) from the same seed and compare validation accuracy.",
            "beyond": "Beyond the seed: tanh in all three measurements, sigmoid trained as well, and ReLU's own "
                      "zero-gradient side (x < 0): the share of pre-activations that pass no gradient and of units "
                      "that are dead in the trained net.",
        },
        "zh": {
            "title": "为什么 ReLU 是默认的激活函数？",
            "claim": "ReLU 的前向与反向计算都比 sigmoid 省；它在正半轴没有饱和区，因此梯度不会像 sigmoid 那样"
                     "随深度消失；它还让一部分单元输出恰为零，据说这种稀疏性能提升泛化。",
            "method": "在我们的引擎上测量 ReLU 与 sigmoid 前向加反向的耗时（进程 CPU 时间、交错重复、单线程，"
                      "即运行本实验的机器）；比较 10 层 MLP 初始化时第一层与最后一层的梯度范数；"
                      "用同一随机种子分别以 ReLU 和 Leaky ReLU（斜率 0.1，没有精确的零）训练同一个 MLP，"
                      "比较验证准确率。",
            "beyond": "超出原文的部分：三项测量中都加上 tanh，也训练 sigmoid；以及 ReLU 自己的零梯度一侧"
                      "（x < 0）：训练好的网络中不传梯度的预激活比例和死亡单元比例。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "grad_ratio_{a}": {"en": "gradient norm first / last layer, {a}", "zh": "梯度范数 首层/末层（{a}）"},
        "val_acc_{a}": {"en": "val accuracy, {a}", "zh": "验证准确率（{a}）"},
        "zero_frac_{a}": {"en": "share of exact-zero activations, {a}", "zh": "恰为零的激活比例（{a}）"},
        "relu_dead_frac": {"en": "share of dead ReLU units", "zh": "死亡 ReLU 单元比例"},
    }

    def measure(self, ctx: Context) -> Result:
        times, size = self._cost(ctx)
        figs = {f"ns_per_elem_{n}": Figure(1e9 * times[n] / size, "ns", {
            "en": f"{n} forward + backward per element", "zh": f"{n} 前向加反向，每元素"}) for n in TIMED}
        norms = self._depth(ctx)
        grad_rows = []
        for n, g in norms.items():
            figs[f"grad_ratio_{n}"] = Figure(g[0] / g[-1], "first / last layer")
            grad_rows.append([n, g[0], g[-1], g[0] / g[-1]])
        data = load_data("mnist_sample", ctx.pick(400, 1500, tiny=100), ctx.pick(500, 1000, tiny=100), ctx.rng)
        epochs = ctx.pick(10, 30, tiny=1)
        rows, curves = [], {}
        for name, (res, st) in self._trained(ctx, data, epochs).items():
            figs[f"val_acc_{name}"] = Figure(res.val_acc, "accuracy")
            figs[f"zero_frac_{name}"] = Figure(st["zero_frac"], "fraction")
            if name == "relu":
                figs["relu_zero_grad_frac"] = Figure(st["nonpos_frac"], "fraction", {
                    "en": "pre-activations <= 0 (ReLU passes no gradient)", "zh": "<= 0 的预激活（ReLU 不传梯度）"})
                figs["relu_dead_frac"] = Figure(st["dead_frac"], "fraction")
            rows.append([name, st["zero_frac"], st["dead_frac"] if name == "relu" else "-", res.train_acc,
                         res.val_acc])
            curves[name] = res.curve("val_acc")
        claim = {f"ns_per_elem_{n}" for n in ("relu", "sigmoid")} | {"grad_ratio_relu", "grad_ratio_sigmoid",
                                                                     "val_acc_relu", "val_acc_leaky_relu",
                                                                     "zero_frac_relu", "zero_frac_leaky_relu"}
        beyond = {k: figs.pop(k) for k in list(figs) if k not in claim}
        return Result(figures=figs, beyond=beyond, tables=[
            Table("cost", ["activation", "ns per element (forward + backward)"],
                  [[n, 1e9 * times[n] / size] for n in TIMED],
                  {"en": f"{size:,} float32 elements, one thread.",
                   "zh": f"{size:,} 个 float32 元素，单线程。"}),
            Table("depth", ["activation", "||dL/dW|| first layer", "||dL/dW|| last layer", "ratio"], grad_rows,
                  {"en": "10-layer MLP (width 64) on the 8x8 digits at PyTorch's default initialization.",
                   "zh": "8x8 digits 上的 10 层 MLP（宽 64），PyTorch 默认初始化。"}),
            Table("trained", ["activation", "exact-zero activations", "dead units", "train acc", "val acc"], rows,
                  {"en": f"MLP 784-256-256-10, {len(data.y_train)} MNIST training images, {epochs} epochs of Adam, "
                         f"same seed for every activation.",
                   "zh": f"MLP 784-256-256-10，{len(data.y_train)} 张 MNIST 训练图像，Adam 训练 {epochs} 轮，"
                         f"所有激活函数用同一随机种子。"})],
            series={"times": times, "size": size, "norms": norms, "curves": curves})

    @staticmethod
    def _cost(ctx: Context) -> tuple[dict[str, float], int]:
        """CPU seconds of one forward + backward of each timed activation on one float32 vector (the median of
        interleaved repeats), and the vector's length."""
        x = cp.Tensor(ctx.rng.standard_normal(ctx.pick(1 << 18, 1 << 20, tiny=1 << 12)).astype(np.float32),
                      requires_grad=True)
        gy = cp.Tensor(np.ones(x.shape, np.float32))

        def step(name: str) -> Any:
            fn = getattr(F, name)

            def f() -> None:
                x.grad = None
                fn(x).backward(gy)
            return f

        times = time_interleaved({n: step(n) for n in TIMED}, repeat=ctx.pick(7, 11, tiny=2), warmup=1,
                                 clock=time.process_time)  # CPU time: robust to other processes' load
        return times, int(x.data.size)

    @staticmethod
    def _depth(ctx: Context) -> dict[str, np.ndarray]:
        """Per-layer weight-gradient norms at initialization of a 10-layer MLP (width 64) on 256 digits, one
        array (input side first) per timed activation."""
        digits = load_data("digits", 1000, 200, ctx.rng, standardize=True)
        xb, yb = digits.x_train[:256].reshape(256, -1), digits.y_train[:256]
        return {n: weight_grad_norms(DeepMLP(10, 64, act=n, rng=ctx.child_rng()), xb, yb) for n in TIMED}

    @staticmethod
    def _trained(ctx: Context, data: Any, epochs: int) -> dict[str, tuple[Any, dict[str, float]]]:
        """The same MLP trained with each activation (same seed): its fit result and its activation statistics on
        the validation images (exact zeros, non-positive pre-activations, dead units)."""
        out = {}
        for name, act in TRAINED.items():
            cp.manual_seed(ctx.seed)
            model = mlp(act)
            res = fit(model, data, epochs, np.random.default_rng(ctx.seed), optimizer=optim.Adam(
                model.parameters(), lr=1e-3))
            out[name] = res, activation_stats(model, data.x_val)
            ctx.progress.update()
        return out

    def draw(self, res: Result, ctx: Context) -> None:
        times, size, norms, curves = (res.series[k] for k in ("times", "size", "norms", "curves"))
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
                        "Middle: per-layer weight-gradient norms of a 10-layer MLP at initialization (log scale). "
                        "Right: validation accuracy per epoch of one MLP "
                        "trained with four activations.",
                        "左：ReLU、sigmoid、tanh 每个元素前向加反向的耗时。中：10 层 MLP 初始化时各层权重梯度"
                        "范数（对数坐标）。右：同一 MLP 用四种激活函数训练时"
                        "每轮的验证准确率。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tr, ts = figures["ns_per_elem_relu"], figures["ns_per_elem_sigmoid"]
        gr, gs = figures["grad_ratio_relu"], figures["grad_ratio_sigmoid"]
        ar, al = figures["val_acc_relu"], figures["val_acc_leaky_relu"]
        zr, zl = figures["zero_frac_relu"], figures["zero_frac_leaky_relu"]
        cost, grad = ts / max(tr, 1e-300), gr / max(gs, 1e-300)
        cost_ok = cost >= thresholds["min_cost_ratio"]
        grad_ok = grad >= thresholds["min_grad_ratio"]
        sparse_ok = ar - al >= thresholds["min_sparsity_gain"]
        oks = (cost_ok, grad_ok, sparse_ok)
        verdict = verdict_if(all(oks), nuanced=any(oks))
        yes = {True: "holds", False: "fails"}
        shi = {True: "成立", False: "不成立"}
        return verdict, evidence(
            en=f"Cost {yes[cost_ok]} on this machine: sigmoid takes {fmt(ts)} ns per element forward + backward, "
               f"ReLU {fmt(tr)} (sigmoid/ReLU {fmt(cost)}x, at least {fmt(thresholds['min_cost_ratio'])}x "
               f"required). Gradient flow {yes[grad_ok]}: the first-to-last layer gradient ratio of a 10-layer MLP "
               f"is {fmt(gr)} with ReLU vs {fmt(gs)} with sigmoid ({fmt(grad)}x, at least "
               f"{fmt(thresholds['min_grad_ratio'])}x required). Sparsity for generalization {yes[sparse_ok]}: "
               f"ReLU zeroes {fmt(100 * zr)}% of activations, leaky ReLU {fmt(100 * zl)}%, and validation accuracy "
               f"is {fmt(ar)} vs {fmt(al)} (a gain of at least {fmt(thresholds['min_sparsity_gain'])} required).",
            zh=f"计算开销{shi[cost_ok]}（本机）：前向加反向每元素 sigmoid {fmt(ts)} ns、ReLU {fmt(tr)} ns"
               f"（sigmoid/ReLU 为 {fmt(cost)} 倍，要求至少 {fmt(thresholds['min_cost_ratio'])} 倍）。"
               f"梯度传播{shi[grad_ok]}：10 层 MLP 第一层与最后一层梯度之比，ReLU 为 {fmt(gr)}，sigmoid 为 "
               f"{fmt(gs)}（{fmt(grad)} 倍，要求至少 {fmt(thresholds['min_grad_ratio'])} 倍）。"
               f"稀疏性带来泛化{shi[sparse_ok]}：ReLU 让 {fmt(100 * zr)}% 的激活为零，Leaky ReLU 为 {fmt(100 * zl)}%，"
               f"验证准确率分别为 {fmt(ar)} 和 {fmt(al)}（要求至少提高 {fmt(thresholds['min_sparsity_gain'])}）。")

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        zg, dead = beyond["relu_zero_grad_frac"], beyond["relu_dead_frac"]
        tt, gt = beyond["ns_per_elem_tanh"], beyond["grad_ratio_tanh"]
        at, asg = beyond["val_acc_tanh"], beyond["val_acc_sigmoid"]
        return {"en": f"On ReLU's negative side the gradient is exactly 0: in the trained ReLU net {fmt(100 * zg)}% "
                      f"of pre-activations pass no gradient and {fmt(100 * dead)}% of hidden units never fire on the "
                      f"validation set. tanh: {fmt(tt)} ns per element, first-to-last gradient ratio {fmt(gt)}, "
                      f"validation accuracy {fmt(at)}; sigmoid trained the same way reaches {fmt(asg)}.",
                "zh": f"ReLU 负半轴的梯度恰为 0：训练好的 ReLU 网络中 {fmt(100 * zg)}% 的预激活不传梯度，"
                      f"{fmt(100 * dead)}% 的隐藏单元在验证集上从不激活。tanh：每元素 {fmt(tt)} ns，"
                      f"第一层与最后一层梯度之比 {fmt(gt)}，验证准确率 {fmt(at)}；同样训练的 sigmoid 为 {fmt(asg)}。"}
