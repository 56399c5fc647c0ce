"""Question 20: why initialize carefully, and how: signal and gradient scale through a 20-layer network.

The seed's claim: initialization keeps the layers' outputs from exploding or vanishing; otherwise the gradients do
too and the network converges slowly or not at all; the methods are Xavier, Kaiming and random initialization.
Measured on a 20-layer MLP (width 64) on the digits with tanh and with ReLU, for the seed's schemes from
:mod:`cvprimer.nn.init` (small random normal N(0, 0.01^2), Xavier/Glorot, Kaiming/He): the standard deviation of
every layer's activations and of every weight gradient at initialization, then a short training run. The claim
holds for an activation when the small random init makes activations and gradients vanish and fails to train
while a named scheme (Xavier or Kaiming) keeps the scale and trains.

Beyond the seed (never passed to ``decide``): two schemes the seed does not name, orthogonal and an LSUV-like one
(orthogonal, then each layer rescaled in turn so its output has unit variance on a batch): their activation and
gradient ratios at initialization.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.lab.common import Data, fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr, tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "small_normal": "小方差正态",
    "kaiming": "Kaiming",
    "xavier": "Xavier",
    "orthogonal": "正交",
    "lsuv": "LSUV",
})

DEPTH, WIDTH = 20, 64
ACTS: dict[str, Callable[[], Any]] = {"tanh": nn.Tanh, "relu": nn.ReLU}
SCHEMES = ("small_normal", "xavier", "kaiming", "orthogonal", "lsuv")
SEED_SCHEMES = ("small_normal", "xavier", "kaiming")  # what the seed names (random, Xavier, Kaiming); trained
NAMED = ("xavier", "kaiming")  # the seed's scale-keeping schemes


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
    grads = [float(g.data.std()) for m in model.modules()
             if isinstance(m, nn.Linear) and (g := m.weight.grad) is not None]  # every layer has one here
    model.zero_grad()
    return np.array(acts), np.array(grads)


CHANCE = 0.1


class InitAcrossDepth(Experiment):
    id = "q20-init-depth"
    questions = (20,)
    topic = "training"
    thresholds = {"vanish_ratio": 1e-3, "healthy_ratio": 0.1, "chance_margin": 0.1, "trains_acc": 0.5}
    reasons = {
        "vanish_ratio": {
            "en": "Convention (the trainer's diagnose uses the same 1e-3 rule): a signal shrunk a thousandfold over "
                  "19 layers has vanished for practical purposes; N(0, 0.01^2) shrinks it by about 0.08 per layer in "
                  "theory, to about 1e-20, while the scale-keeping schemes stay within a factor of a few. The "
                  "gradients are compared with Kaiming's by the same rule.",
            "zh": "约定（训练器的 diagnose 用同样的 1e-3 规则）：经过 19 层缩小一千倍的信号实际上已经消失；理论上 "
                  "N(0, 0.01^2) 每层约缩小到 0.08 倍，总共约 1e-20，而保持尺度的方案只相差几倍。梯度按同一规则与 "
                  "Kaiming 的比较。"},
        "healthy_ratio": {
            "en": "Convention: a scale kept within a factor of 10 (up or down) over 19 layers counts as neither "
                  "exploding nor vanishing; Kaiming with ReLU and Xavier with tanh keep it near 1 in theory.",
            "zh": "约定：19 层后尺度变化在 10 倍以内（变大或变小）既不算爆炸也不算消失；理论上 Kaiming 配 ReLU、"
                  "Xavier 配 tanh 都保持在 1 附近。"},
        "chance_margin": {
            "en": "Noise floor: a network stuck at one class scores that class's share of the 360 validation digits, "
                  "0.1 +- 0.016 (binomial sd); 0.1 above chance is more than five such sds.",
            "zh": "噪声下限：卡在某一类的网络得分等于该类在 360 张验证 digits 中的占比，0.1 +- 0.016"
                  "（二项分布标准差）；高出随机水平 0.1 超过五个标准差。"},
        "trains_acc": {
            "en": "Convention for 'converges' in this short run: 0.5 is five times chance, far above the 0.1 where a "
                  "vanished net stays, and below what Kaiming reaches with either activation in quick mode over "
                  "seeds 0-2 (lowest measured 0.78, spread about 0.04), so seed noise does not move a "
                  "trainable net across it.",
            "zh": "在这次短训中“收敛”的约定：0.5 是随机水平的五倍，远高于信号消失的网络停留的 0.1，又低于快速模式"
                  "下随机种子 0-2 中 Kaiming 在两种激活下达到的准确率（实测最低 0.78，随机种子间相差约 0.04），"
                  "所以随机种子噪声不会让可训练的网络越过它。"},
    }
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "Xavier and Kaiming (He) initialization", "zh": "Xavier 与 Kaiming（He）初始化"}
    key_figure = "acc_kaiming_relu"
    answer = {
        "confirmed": {
            "en": "Yes: small N(0, 0.01^2) weights let activations and gradients vanish through depth and "
                  "training stalled at chance, while Kaiming init with ReLU reached {acc_kaiming_relu} "
                  "accuracy. Match the scheme to the activation: Xavier for tanh, Kaiming for ReLU.",
            "zh": "是的：N(0, 0.01^2) 的小权重让激活和梯度随深度消失，训练停在随机水平，"
                  "而 ReLU 配 Kaiming 初始化达到 {acc_kaiming_relu} 的准确率。初始化要与激活函数匹配："
                  "tanh 用 Xavier，ReLU 用 Kaiming。"},
        "nuanced": {
            "en": "Mostly: a named scheme kept the scale and trained (Kaiming with ReLU {acc_kaiming_relu}), "
                  "but not every case behaved as the claim says; match the scheme to the activation.",
            "zh": "大体成立：有名字的初始化方法保持了尺度并能训练（ReLU 配 Kaiming 为 {acc_kaiming_relu}），"
                  "但并非每种情况都如说法所述；初始化要与激活函数匹配。"},
        "refuted": {
            "en": "The link did not show here: the initializations did not separate into vanishing and healthy "
                  "runs as claimed (Kaiming with ReLU {acc_kaiming_relu}).",
            "zh": "这里看不到这种联系：各初始化并没有像说法那样分成消失和正常两类（"
                  "ReLU 配 Kaiming 为 {acc_kaiming_relu}）。"},
    }
    text = {
        "en": {
            "title": "Why does initialization matter, and which schemes exist?",
            "claim": "Weights are initialized so that the layers' outputs neither explode nor vanish in the forward "
                     "pass; otherwise the gradients explode or vanish too and the network converges slowly or not "
                     "at all. Methods: Xavier, Kaiming and random initialization.",
            "method": "Build a 20-layer MLP (width 64) for the digits with tanh and with ReLU; initialize it with "
                      "small random normal N(0, 0.01^2), Xavier and Kaiming (with the activation's gain). Measure "
                      "the ratio of the last to the first hidden layer's activation std, the ratio of the first to "
                      "the last weight-gradient std, and the median weight-gradient std relative to Kaiming's on a "
                      "batch of 256 standardized digits, computed in float64, then "
                      "train each net briefly with Adam (lr 1e-3, batch 32). For each activation the claim holds "
                      "when the small random init vanishes (activations and gradients) and stays near chance while "
                      "Xavier or Kaiming keeps the activation ratio in the healthy band and trains.",
            "beyond": "Two schemes the seed does not name, orthogonal (with the activation's gain) and an LSUV-like "
                      "one (orthogonal, then each layer scaled to unit output variance on a batch): their "
                      "activation and gradient ratios at initialization.",
        },
        "zh": {
            "title": "为什么初始化很重要？有哪些初始化方法？",
            "claim": "初始化权重是为了让前向传播时各层输出既不爆炸也不消失；否则梯度也会爆炸或消失，"
                     "网络收敛很慢甚至不收敛。方法有 Xavier、Kaiming 和随机初始化。",
            "method": "为 digits 搭建 20 层、宽 64 的 MLP，激活函数分别为 tanh 与 ReLU；依次用小方差随机正态 "
                      "N(0, 0.01^2)、Xavier 和 Kaiming（带激活函数增益）初始化。在 256 张标准化的 digits 上以 "
                      "float64 测量最后与第一隐藏层激活标准差之比、第一与最后一层权重梯度标准差之比，以及权重梯度标准差"
                      "中位数相对 Kaiming 的比值，再用 Adam"
                      "（学习率 1e-3，批大小 32）简短训练每个网络。对每种激活函数，若小方差随机初始化使激活和梯度"
                      "都消失且准确率停在随机水平附近，而 Xavier 或 Kaiming 使激活比值保持在健康区间并能训练，"
                      "则说法成立。",
            "beyond": "原文没有提到的两种方案：正交初始化（带激活函数增益）和类 LSUV 方法（先正交，再逐层缩放使"
                      "该层输出在一个批次上方差为 1）：它们在初始化时的激活与梯度比值。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "act_ratio_{i}_{a}": {"en": "activation std, last / first layer, {i}, {a}",
                              "zh": "激活标准差 末层/首层（{i}，{a}）"},
        "grad_ratio_{i}_{a}": {"en": "gradient std, first / last layer, {i}, {a}",
                               "zh": "梯度标准差 首层/末层（{i}，{a}）"},
        "acc_{i}_{a}": {"en": "val accuracy, {i}, {a}", "zh": "验证准确率（{i}，{a}）"},
    }
    terms = {
        "small_normal": {"en": "small normal", "zh": "小方差正态"},
        "xavier": {"en": "Xavier", "zh": "Xavier"},
        "kaiming": {"en": "Kaiming", "zh": "Kaiming"},
        "orthogonal": {"en": "orthogonal", "zh": "正交"},
        "lsuv": {"en": "LSUV", "zh": "LSUV"},
    }

    def measure(self, ctx: Context) -> Result:
        d32 = load_data("digits", ctx.pick(500, 1437, tiny=200), 360, ctx.rng, standardize=True)
        # float64 throughout: the vanishing signals reach 1e-30 and below, which float32 stores as subnormals
        # (or flushes to 0), and subnormal arithmetic is two orders of magnitude slower
        data = Data(d32.x_train.astype(np.float64), d32.y_train, d32.x_val.astype(np.float64), d32.y_val)
        probe = ctx.rng.choice(len(data.x_train), min(256, len(data.x_train)), replace=False)
        xb, yb = data.x_train[probe], data.y_train[probe]
        epochs = ctx.pick(6, 20, tiny=1)
        state = ctx.rng.bit_generator.state
        stats: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        acc: dict[tuple[str, str], float] = {}
        for act_name, act in ACTS.items():
            for scheme in SCHEMES:
                cp.manual_seed(ctx.seed)
                model = init_model(deep_mlp(act).double(), scheme, act_name, xb, ctx.child_rng())
                stats[act_name, scheme] = layer_stats(model, xb, yb)
                if scheme not in SEED_SCHEMES:
                    continue  # beyond the seed: the scale at initialization only
                gen = np.random.default_rng()
                gen.bit_generator.state = state
                f = fit(model, data, epochs, gen, lr=1e-3, optimizer="adam", batch_size=32)
                acc[act_name, scheme] = f.val_acc if np.isfinite(f.val_acc) else 0.0
        figures: dict[str, Figure] = {}
        beyond: dict[str, Figure] = {}
        rows, brows = [], []
        for (a, s), (st_a, st_g) in stats.items():
            ar = st_a[-1] / st_a[0]
            gr = st_g[0] / st_g[-1] if st_g[-1] > 0 else float("nan")
            if s == "small_normal":  # absolute gradient scale against Kaiming's: the layers' ratio alone hides it
                figures[f"grad_rel_small_normal_{a}"] = Figure(
                    float(np.median(st_g) / np.median(stats[a, "kaiming"][1])), "median grad std / Kaiming's", {
                        "en": f"{a}: weight-gradient scale with N(0, 0.01^2) relative to Kaiming",
                        "zh": f"{a}：N(0, 0.01^2) 下权重梯度尺度相对 Kaiming 的比值"})
            if s in SEED_SCHEMES:
                figures[f"act_ratio_{s}_{a}"] = Figure(ar, "last/first std")
                figures[f"grad_ratio_{s}_{a}"] = Figure(gr, "first/last std")
                figures[f"acc_{s}_{a}"] = Figure(acc[a, s], "fraction")
                rows.append([a, s, float(st_a[0]), float(st_a[-1]), float(ar), float(st_g[0]), float(st_g[-1]),
                             float(gr), acc[a, s]])
            else:
                beyond[f"act_ratio_{s}_{a}"] = Figure(ar, "last/first std")
                beyond[f"grad_ratio_{s}_{a}"] = Figure(gr, "first/last std")
                brows.append([a, s, float(st_a[0]), float(st_a[-1]), float(ar), float(st_g[0]), float(st_g[-1]),
                              float(gr)])
        cols = ["activation", "init", "act std layer 1", "act std layer 19", "ratio", "grad std W1", "grad std W20",
                "grad ratio W1/W20"]
        table = Table("layers", [*cols, "val acc"], rows,
                      {"en": f"At initialization on {len(yb)} digits (float64); accuracy after {epochs} epochs of Adam "
                             "(lr 1e-3, batch 32).",
                       "zh": f"初始化时在 {len(yb)} 张 digits 上测得（float64）；准确率为 Adam"
                             f"（学习率 1e-3，批大小 32）训练 {epochs} 轮后的结果。"})
        btable = Table("other_schemes", cols, brows, {"en": "Schemes the seed does not name, at initialization.",
                                                      "zh": "原文未提到的方案，初始化时的数值。"})
        return Result(figures=figures, tables=[table], beyond=beyond, beyond_tables=[btable],
                      series={"stats": stats})

    def draw(self, res: Result, ctx: Context) -> None:
        stats: Mapping[tuple[str, str], tuple[np.ndarray, np.ndarray]] = res.series["stats"]
        fig, axes = ctx.figure(2, 2, size=(10, 7))
        for j, a in enumerate(ACTS):
            for s in SCHEMES:
                st_a, st_g = stats[a, s]
                # an exact 0 cannot sit on a log axis: such points are left out
                axes[0, j].semilogy(np.arange(1, len(st_a) + 1), np.where(st_a > 0, st_a, np.nan), marker=".", label=s)
                axes[1, j].semilogy(np.arange(1, len(st_g) + 1), np.where(st_g > 0, st_g, np.nan), marker=".", label=s)
            axes[0, j].set_title(tr(f"{a}: activation std by layer", f"{a}：逐层激活标准差"))
            axes[1, j].set_title(tr(f"{a}: weight-gradient std by layer", f"{a}：逐层权重梯度标准差"))
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
        stuck, good = CHANCE + thresholds["chance_margin"], thresholds["trains_acc"]
        f = figures
        held, notes_en, notes_zh = [], [], []
        for a in ACTS:
            ar, gr, acc = (f[f"act_ratio_small_normal_{a}"], f[f"grad_rel_small_normal_{a}"],
                           f[f"acc_small_normal_{a}"])
            bad_fails = ar < vanish and gr < vanish and acc <= stuck
            kept = [s for s in NAMED
                    if healthy <= f[f"act_ratio_{s}_{a}"] <= 1 / healthy and f[f"acc_{s}_{a}"] >= good]
            if bad_fails and kept:
                held.append(a)
            named = ", ".join(f"{s} ratio {fmt(f[f'act_ratio_{s}_{a}'])} / accuracy {fmt(f[f'acc_{s}_{a}'])}"
                              for s in NAMED)
            named_zh = "，".join(f"{s} 比值 {fmt(f[f'act_ratio_{s}_{a}'])} / 准确率 {fmt(f[f'acc_{s}_{a}'])}"
                                 for s in NAMED)
            notes_en.append(f"{a}: N(0, 0.01^2) activation ratio {fmt(ar)}, gradients {fmt(gr)} of Kaiming's, "
                            f"accuracy {fmt(acc)}; {named}")
            notes_zh.append(f"{a}：N(0, 0.01^2) 激活比值 {fmt(ar)}，梯度为 Kaiming 的 {fmt(gr)}，准确率 {fmt(acc)}；"
                            f"{named_zh}")
        en = (f"{'; '.join(notes_en)} (vanished: activation ratio and gradients < {fmt(vanish)}; "
              f"failed: accuracy <= {fmt(stuck)}; "
              f"healthy: ratio in {fmt(healthy)}..{fmt(1 / healthy)}; trains: >= {fmt(good)}).")
        zh = (f"{'；'.join(notes_zh)}（“消失”：激活比值和梯度都 < {fmt(vanish)}；“失败”：准确率 <= {fmt(stuck)}；"
              f"“健康”：比值在 {fmt(healthy)}..{fmt(1 / healthy)}；“能训练”：>= {fmt(good)}）。")
        missed = [a for a in ACTS if a not in held]
        if not missed:
            en += (" With both activations the small init vanishes and fails while a named scheme keeps the scale "
                   "and trains.")
            zh += "两种激活函数下，小方差初始化都使信号消失且训练失败，而原文列出的方案能保持尺度并正常训练。"
        elif held:
            en += f" The claim holds with {', '.join(held)} but not with {', '.join(missed)}."
            zh += f"说法对 {'、'.join(held)} 成立，对 {'、'.join(missed)} 不成立。"
        else:
            en += " The claimed effect shows with neither activation."
            zh += "两种激活函数下都没有出现所说的效应。"
        return verdict_if(not missed, nuanced=bool(held)), evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        parts = [(f"{s}/{a}", beyond[f"act_ratio_{s}_{a}"], beyond[f"grad_ratio_{s}_{a}"])
                 for s in ("orthogonal", "lsuv") for a in ACTS]
        en = "; ".join(f"{k} activation ratio {fmt(r)}, gradient ratio {fmt(g)}" for k, r, g in parts)
        zh = "；".join(f"{k} 激活比值 {fmt(r)}，梯度比值 {fmt(g)}" for k, r, g in parts)
        return {"en": f"Schemes the seed does not name, at initialization: {en}.",
                "zh": f"原文未提到的方案，初始化时：{zh}。"}
