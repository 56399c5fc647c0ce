"""Question 16: what activation functions are, which exist, and does every layer have one?

The seed's claim: the activation function supplies the non-linearity of every layer. Measured on the model zoo:
every Conv/Linear layer of each network is traced (shape-only, so big networks cost nothing) and classified by
what its output meets first after batch norm: an activation, or something else (a residual add, a concatenation,
another layer, attention). The layer that produces the network's output (the logits, whose softmax lives in the
loss) is counted apart. A network follows the claim when none of its other layers lacks an activation.

Beyond the seed (never passed to ``decide``), for every pointwise activation in ``cvprimer.functional`` (the
registry ``functional.activation.registry.ACTIVATIONS``; maxout, which is not pointwise, is described only):
the largest difference between f' by autograd and the closed-form slope the op's backward uses; the saturation
region (the share of [-6, 6] where |f'(x)| < 0.01); the mean and standard deviation of f(x) for x ~ N(0, 1); the
CPU time per element of a forward pass over a float32 tensor (one thread, interleaved repeats); a gallery of the
activations the seed names.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import models
from cvprimer.analysis.timing import time_interleaved
from cvprimer.core import graph
from cvprimer.core.function import shape_only
from cvprimer.core.tensor import Tensor
from cvprimer.functional.activation.registry import ACTIVATIONS
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr, tr_table
from cvprimer.nn import Parameter

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "cost, every activation": "每种激活函数的成本",
    "f'(x) (autograd)": "f'(x)（自动求导）",
    "leaky_relu": "Leaky ReLU",
})

NAMES = tuple(n for n in ACTIVATIONS if n != "swish")  # swish is silu's alias
PRELU_WEIGHT = 0.25
SEED_NAMED = ("sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu")  # the pointwise ones the seed lists
# how the Chinese texts name a network or activation whose identifier has an underscore (no identifiers in prose)
SHOWN = {"mobilenet_v2": "MobileNetV2", "squeezenet1_1": "SqueezeNet 1.1", "shufflenet_v2_x0_5": "ShuffleNetV2 x0.5",
         "vit_tiny": "ViT-Tiny", "leaky_relu": "Leaky ReLU"}


def _shown(name: str) -> str:
    return SHOWN.get(name, name)
# (zoo name, (C, H) of its reference input); the full run adds the heavier ones
ZOO_QUICK = (("lenet5", (1, 32)), ("resnet20", (3, 32)), ("mobilenet_v2", (3, 224)), ("squeezenet1_1", (3, 224)),
             ("shufflenet_v2_x0_5", (3, 224)), ("vit_tiny", (3, 32)))
ZOO_FULL = ZOO_QUICK + (("resnet18", (3, 224)), ("se_resnet18", (3, 224)), ("densenet121", (3, 224)),
                        ("googlenet", (3, 224)), ("alexnet", (3, 224)))  # VGG: 130M parameters to build


def activate(name: str, x: Tensor) -> Tensor:
    """Apply activation ``name`` with its default options (prelu with a fixed slope of 0.25)."""
    f = ACTIVATIONS[name][0]
    return f(x, cp.tensor(np.array([PRELU_WEIGHT], x.data.dtype))) if name == "prelu" else f(x)


def autograd_slope(name: str, x: np.ndarray) -> np.ndarray:
    """f'(x) by autograd: the gradient of sum(f(x)) with respect to x."""
    t = cp.Tensor(np.array(x, np.float64), requires_grad=True)
    activate(name, t).sum().backward()
    assert t.grad is not None  # (it requires grad and feeds the loss)
    return t.grad.data


def saturation_fraction(slope: np.ndarray, tol: float = 0.01) -> float:
    """Share of the sample points whose slope magnitude is below ``tol``."""
    return float(np.mean(np.abs(slope) < tol))


def activation_op_names() -> set[str]:
    """The op names the registered activations run (found by calling each once and walking its graph)."""
    x = cp.Tensor(np.linspace(-1, 1, 4), requires_grad=True)
    return {graph.walk(activate(n, x))[-1].op for n in NAMES}


def bare_layers(model: Any, input_shape: tuple[int, ...], act_ops: set[str]) -> list[tuple[str, str]]:
    """For every weighted op (a multiply-accumulate op with a Parameter input: conv, linear) of one forward
    pass, ``(op name, what its output meets first)``: ``"activation"``, or for a layer without one ``"output"``,
    ``"add"``, ``"concat"``, ``"weighted layer"``, ``"pool"`` or another op's name. Batch norm, dropout and
    views are looked through. The forward runs shape-only (no arithmetic for convs and linears); the graph is
    read through the public walk :func:`cvprimer.core.graph.walk`."""
    model.eval()
    with shape_only():
        y = model(Tensor(np.broadcast_to(np.zeros((), np.float32), input_shape)))
    nodes = graph.walk(y)
    readers = graph.consumers(nodes)

    def weighted(n: graph.OpNode) -> bool:
        return n.gemm and any(isinstance(i, graph.Leaf) and isinstance(i.tensor, Parameter) for i in n.inputs)

    def transparent(n: graph.OpNode) -> bool:
        return n.view or n.normalization or n.op in ("dropout", "clone")

    def first_meets(n: graph.OpNode) -> str:
        todo, seen, found = list(readers[id(n)]), set(), []
        if not todo:
            return "output"
        while todo:
            c = todo.pop()
            if id(c) in seen:
                continue
            seen.add(id(c))
            if c.op in act_ops:
                return "activation"
            if transparent(c):
                nxt = readers[id(c)]
                todo.extend(nxt)
                if not nxt:
                    found.append("output")
            else:
                found.append("weighted layer" if weighted(c) else "add" if c.op == "add" else
                             "concat" if c.op == "concat" else "pool" if "pool" in c.op else c.op)
        return sorted(found)[0] if found else "output"

    return [(n.op, first_meets(n)) for n in nodes if weighted(n)]


KINDS = ("add", "concat", "weighted layer")  # what a layer without an activation meets; anything else: "other"


class ActivationGallery(Experiment):
    id = "q16-activations"
    questions = (16,)
    topic = "activation"
    stochastic = False  # the decided figures are structural counts; the timings beyond them are noisy but unused
    thresholds = {"max_bare_hidden": 0.0}
    reasons = {"max_bare_hidden": {
        "en": "The seed says every layer has an activation, so a single hidden conv/linear layer without one already "
              "breaks it in that network (the output layer is exempt: its softmax is applied in the loss); the "
              "count is exact, with no noise.",
        "zh": "原文说每一层都有激活函数，所以只要有一个隐藏的卷积/全连接层没有激活，该网络就不符合（输出层除外："
              "它的 softmax 在损失函数里）；该计数是精确的，没有噪声。"}}
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "activation placement (linear bottleneck, pre-activation)",
                "zh": "激活函数的位置（线性瓶颈、预激活）"}
    key_figure = "bare_hidden_resnet20"
    answer = {
        "confirmed": {
            "en": "Yes: the activation is what makes a layer non-linear, and in every network measured each "
                  "hidden layer had one (ResNet-20: {bare_hidden_resnet20} layers without).",
            "zh": "是的：激活函数让层变成非线性，而在测量的每个网络里每个隐藏层都有激活（"
                  "ResNet-20 中没有激活的层为 {bare_hidden_resnet20} 个）。"},
        "nuanced": {
            "en": "Activations are what make a network non-linear, but not every layer has one: "
                  "{bare_hidden_resnet20} hidden layers of ResNet-20 feed an addition before any activation, "
                  "and MobileNetV2 keeps its projections linear on purpose.",
            "zh": "激活函数让网络具有非线性，但并非每层都有：ResNet-20 有 {bare_hidden_resnet20} 个隐藏层先进入"
                  "相加再经过激活，MobileNetV2 的投影层则刻意保持线性。"},
        "refuted": {
            "en": "Most networks measured leave hidden layers without their own activation (ResNet-20: "
                  "{bare_hidden_resnet20}); say non-linearity is needed between layers, not after each one.",
            "zh": "测量的网络大多有隐藏层没有自己的激活（ResNet-20：{bare_hidden_resnet20} 个）；"
                  "回答时应说层与层之间需要非线性，而不是每层之后都要。"},
    }
    text = {
        "en": {
            "title": "What is an activation function, and which ones are common?",
            "claim": "The activation function is what makes each layer of a network non-linear, and every layer "
                     "has one; the usual choices are sigmoid, tanh, ReLU, leaky ReLU / PReLU, ELU and maxout.",
            "method": "Trace the networks of the model zoo and classify each convolution and linear layer by what "
                      "its output meets first (batch norm, dropout and reshapes looked through): an activation, "
                      "or something else. The layer producing the network's output is counted apart. A network "
                      "follows the claim when no other layer lacks an activation; the verdict is over the networks "
                      "traced.",
            "beyond": "For every pointwise activation of the library: its derivative by autograd checked against "
                      "the closed form, the share of [-6, 6] where |f'| < 0.01, the mean and spread of its output "
                      "on standard normal input, and the forward CPU time per element; a gallery of the ones the "
                      "seed names.",
        },
        "zh": {
            "title": "激活函数是什么？常见的有哪些？",
            "claim": "激活函数让网络的每一层成为非线性的，而且每一层都有一个；常用的有 sigmoid、tanh、ReLU、"
                     "Leaky ReLU / PReLU、ELU 和 Maxout。",
            "method": "追踪模型库中的网络，按每个卷积层和全连接层的输出首先遇到什么（跳过批归一化、dropout 和"
                      "变形操作）来分类：激活函数，或其他运算。产生网络输出的层单独计数。若除此之外没有层缺少"
                      "激活函数，则该网络符合说法；结论针对所追踪的全部网络。",
            "beyond": "对库中每个逐元素激活函数：自动微分导数与解析式的对照、[-6, 6] 中 |f'| < 0.01 的比例、"
                      "标准正态输入下输出的均值和标准差、每个元素的前向 CPU 时间；以及原文列出的几种激活函数的图谱。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "layers_{n}": {"en": "conv/linear layers, {n}", "zh": "卷积/全连接层数（{n}）"},
        "bare_before_{w}": {"en": "layers without activation before {w}", "zh": "其后接{w}、没有激活的层"},
        "n_activations": {"en": "activation functions compared", "zh": "比较的激活函数个数"},
        "sat_frac_{a}": {"en": "saturated share of [-6, 6], {a}", "zh": "[-6, 6] 上的饱和比例（{a}）"},
        "mean_{a}": {"en": "mean output for N(0,1) input, {a}", "zh": "N(0,1) 输入下的输出均值（{a}）"},
        "ns_per_elem_{a}": {"en": "nanoseconds per element, {a}", "zh": "每元素纳秒（{a}）"},
    }
    terms = {
        "resnet20": {"en": "ResNet-20", "zh": "ResNet-20"},
        "squeezenet1_1": {"en": "SqueezeNet 1.1", "zh": "SqueezeNet 1.1"},
        "shufflenet_v2_x0_5": {"en": "ShuffleNetV2 x0.5", "zh": "ShuffleNetV2 x0.5"},
        "vit_tiny": {"en": "ViT-Tiny", "zh": "ViT-Tiny"},
        "add": {"en": "an add", "zh": "相加"},
        "concat": {"en": "a concat", "zh": "拼接"},
        "weighted_layer": {"en": "a weighted layer", "zh": "带权重的层"},
        "other": {"en": "other operations", "zh": "其他运算"},
        "relu6": {"en": "ReLU6", "zh": "ReLU6"},
        "prelu": {"en": "PReLU", "zh": "PReLU"},
        "elu": {"en": "ELU", "zh": "ELU"},
        "selu": {"en": "SELU", "zh": "SELU"},
        "celu": {"en": "CELU", "zh": "CELU"},
        "gelu": {"en": "GELU", "zh": "GELU"},
        "silu": {"en": "SiLU", "zh": "SiLU"},
        "mish": {"en": "Mish", "zh": "Mish"},
        "softplus": {"en": "Softplus", "zh": "Softplus"},
        "softsign": {"en": "Softsign", "zh": "Softsign"},
        "hardtanh": {"en": "Hardtanh", "zh": "Hardtanh"},
        "hardsigmoid": {"en": "Hardsigmoid", "zh": "Hardsigmoid"},
        "hardswish": {"en": "Hardswish", "zh": "Hardswish"},
        "logsigmoid": {"en": "LogSigmoid", "zh": "LogSigmoid"},
        "tanhshrink": {"en": "Tanhshrink", "zh": "Tanhshrink"},
        "softshrink": {"en": "Softshrink", "zh": "Softshrink"},
        "hardshrink": {"en": "Hardshrink", "zh": "Hardshrink"},
        "rrelu": {"en": "RReLU", "zh": "RReLU"},
        "threshold": {"en": "Threshold", "zh": "Threshold"},
    }

    def measure(self, ctx: Context) -> Result:
        zoo: tuple[tuple[str, tuple[int, int]], ...] = ZOO_QUICK if ctx.quick else ZOO_FULL
        zoo = zoo[:2] if ctx.tiny else zoo
        act_ops = activation_op_names()
        zoo_rows = []
        figs: dict[str, Figure] = {}
        kinds = dict.fromkeys((*KINDS, "other"), 0)
        for name, (c, h) in zoo:
            layers = bare_layers(models.get_model(name), (1, c, h, h), act_ops)
            nb = [k for _, k in layers if k not in ("activation", "output")]
            for k in nb:
                kinds[k if k in KINDS else "other"] += 1
            figs[f"layers_{name}"] = Figure(len(layers), "layers")
            figs[f"bare_hidden_{name}"] = Figure(len(nb), "layers", {
                "en": f"{name}: hidden conv/linear layers not followed by an activation",
                "zh": f"{_shown(name)}：后面没有紧跟激活函数的隐藏卷积/全连接层"})
            zoo_rows.append([name, len(layers), len(nb), ", ".join(f"{k}: {nb.count(k)}" for k in sorted(set(nb)))])
            ctx.progress.update()
        for k, v in kinds.items():
            figs[f"bare_before_{k.replace(' ', '_')}"] = Figure(v, "layers")
        beyond, act_rows, n_elem, gallery = self._gallery(ctx)
        return Result(
            figures=figs,
            tables=[Table("zoo", ["network", "conv/linear layers", "hidden ones without activation after",
                                  "what they meet"], zoo_rows,
                          {"en": "What each hidden layer's output meets first (batch norm, dropout and reshapes "
                                 "looked through); the layer producing the network's output is not counted.",
                           "zh": "每个隐藏层的输出首先遇到的运算（跳过批归一化、dropout 和变形操作）；"
                                 "产生网络输出的层不计入。"})],
            beyond=beyond,
            beyond_tables=[Table("activations", ["activation", "|f'| < 0.01 on [-6, 6]", "mean f(x), x~N(0,1)",
                                                 "std f(x)", "ns per element"], act_rows,
                                 {"en": f"Forward CPU time over {n_elem:,} float32 elements, one thread, median of "
                                        f"interleaved repeats. Maxout (max over k linear pieces) is not pointwise "
                                        f"and is not listed.",
                                  "zh": f"对 {n_elem:,} 个 float32 元素做前向的 CPU 时间，单线程，交错重复取中位数。"
                                        f"Maxout（k 个线性片段取最大）不是逐元素函数，未列入。"})],
            series=gallery)

    def _gallery(self, ctx: Context) -> tuple[dict[str, Figure], list[list], int, dict[str, Any]]:
        """Beyond the seed: slope check, saturation, output statistics and cost of every pointwise activation;
        with the curves and statistics the gallery plot draws."""
        xs = np.linspace(-6, 6, 1201)
        z = ctx.rng.standard_normal(ctx.pick(100_000, 1_000_000, tiny=1000))
        big = cp.Tensor(ctx.rng.standard_normal(ctx.pick(1 << 16, 1 << 20, tiny=1 << 10)).astype(np.float32))
        stats: dict[str, dict[str, float]] = {}
        curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        worst = 0.0
        for name in NAMES:
            with cp.no_grad():
                fx = activate(name, cp.Tensor(xs)).data
                fz = activate(name, cp.Tensor(z)).data
            g = autograd_slope(name, xs)
            ref = ACTIVATIONS[name][1](xs, weight=np.array([PRELU_WEIGHT])) if name == "prelu" else \
                ACTIVATIONS[name][1](xs)
            worst = max(worst, float(np.abs(g - ref).max()))
            curves[name] = (fx, g)
            stats[name] = {"sat": saturation_fraction(g), "mean": float(fz.mean()), "std": float(fz.std())}

        def timer(n: str) -> Any:
            def f() -> None:
                with cp.no_grad():
                    activate(n, big)
            return f

        times = time_interleaved({n: timer(n) for n in NAMES}, repeat=ctx.pick(5, 9, tiny=1), warmup=1,
                                 clock=time.process_time)  # CPU time: robust to other processes' load
        for n in NAMES:
            stats[n]["ns"] = 1e9 * times[n] / big.data.size
        beyond: dict[str, Figure] = {
            "n_activations": Figure(len(NAMES), "functions"),
            "max_slope_err": Figure(worst, "absolute", {"en": "largest |autograd - closed-form slope|",
                                                        "zh": "自动微分与解析导数的最大差"}),
        }
        for n in NAMES:
            beyond[f"sat_frac_{n}"] = Figure(stats[n]["sat"], "fraction of [-6, 6]")
            beyond[f"mean_{n}"] = Figure(stats[n]["mean"], "")
            beyond[f"ns_per_elem_{n}"] = Figure(stats[n]["ns"], "ns")
        rows = [[n, stats[n]["sat"], stats[n]["mean"], stats[n]["std"], stats[n]["ns"]] for n in NAMES]
        return beyond, rows, int(big.data.size), {"xs": xs, "curves": curves, "stats": stats}

    def draw(self, res: Result, ctx: Context) -> None:
        """The seed's activations and their slopes on [-6, 6], and the forward cost of every activation."""
        xs: np.ndarray = res.series["xs"]
        curves: Mapping[str, tuple[np.ndarray, np.ndarray]] = res.series["curves"]
        stats: Mapping[str, Mapping[str, float]] = res.series["stats"]
        names: Sequence[str] = [n for n in SEED_NAMED if n in curves]
        fig, axes = ctx.figure(2, 4, size=(13, 5.2))
        for ax, n in zip(axes.ravel(), names, strict=False):
            f, g = curves[n]
            ax.plot(xs, f, label="f(x)")
            ax.plot(xs, g, ls="--", label="f'(x) (autograd)")
            ax.set_ylim(-1.5, 6.5 if n not in ("sigmoid", "tanh") else 1.5)
            ax.set_title(tr(f"{n}: {100 * stats[n]['sat']:.0f}% saturated", f"{n}：{100 * stats[n]['sat']:.0f}% 饱和"))
        axes.ravel()[0].legend(fontsize=7, loc="upper left")
        cost = axes.ravel()[len(names)]
        order = sorted(curves, key=lambda n: stats[n]["ns"])
        cost.barh(range(len(order)), [stats[n]["ns"] for n in order], color="C0")
        cost.set_yticks(range(len(order)), order, fontsize=6)
        cost.set_xlabel("ns per element (forward, CPU)")
        cost.set_title("cost, every activation")
        for ax in axes.ravel()[len(names) + 1:]:
            ax.set_axis_off()
        sat = ", ".join(f"{n} {100 * stats[n]['sat']:.0f}%" for n in names)
        sat_zh = "，".join(f"{_shown(n)} {100 * stats[n]['sat']:.0f}%" for n in names)
        cheap, dear = order[0], order[-1]
        ctx.save_figure(fig, "gallery", f"The activations the seed names on [-6, 6] with their derivatives computed "
                        f"by autograd; share of [-6, 6] where |f'| < 0.01: {sat}. Last panel: forward CPU time per "
                        f"element of every activation, from {cheap} ({stats[cheap]['ns']:.2g} ns) to {dear} "
                        f"({stats[dear]['ns']:.2g} ns).",
                        f"原文列出的激活函数在 [-6, 6] 上的曲线及其自动微分导数；|f'| < 0.01 的比例：{sat_zh}。"
                        f"最后一格：每种激活函数每个元素的前向 CPU 时间，从 {_shown(cheap)}"
                        f"（{stats[cheap]['ns']:.2g} ns）"
                        f"到 {_shown(dear)}（{stats[dear]['ns']:.2g} ns）。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        cap = thresholds["max_bare_hidden"]
        nets = [k[len("bare_hidden_"):] for k in figures if k.startswith("bare_hidden_")]
        bare = {n: figures[f"bare_hidden_{n}"] for n in nets}
        ok = [n for n in nets if bare[n] <= cap]
        bad = [n for n in nets if n not in ok]
        total = sum(figures[f"layers_{n}"] for n in nets)
        met = {k: fmt(figures["bare_before_" + k.replace(" ", "_")]) for k in (*KINDS, "other")}
        kinds = ", ".join(f"{v} {k}" for k, v in met.items())
        kinds_zh = "，".join(f"{z} {met[k]} 个" for k, z in
                            zip(met, ("接残差相加", "接拼接", "接另一层", "接其他运算"), strict=True))
        lacking = ", ".join(f"{n} {fmt(bare[n])}" for n in bad)
        lacking_zh = "，".join(f"{_shown(n)} {fmt(bare[n])}" for n in bad)
        en = (f"Of {fmt(len(nets))} networks ({fmt(total)} conv/linear layers), {fmt(len(ok))} give every hidden "
              f"layer an activation ({', '.join(ok) or 'none'}); ")
        zh = (f"{fmt(len(nets))} 个网络（共 {fmt(total)} 个卷积/全连接层）中，{fmt(len(ok))} 个让每个隐藏层都接激活"
              f"函数（{'、'.join(map(_shown, ok)) or '无'}）；")
        if bad:
            en += (f"in the others hidden layers feed something else first ({lacking}; allowed: {fmt(cap)}); "
                   f"those layers meet: {kinds}.")
            zh += (f"其余网络中有隐藏层首先接别的运算（{lacking_zh}；允许 {fmt(cap)} 个）；"
                   f"这些层：{kinds_zh}。")
        else:
            en += "no hidden layer lacks one."
            zh += "没有隐藏层缺少激活函数。"
        return verdict_if(not bad, nuanced=bool(ok)), evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        b = beyond
        sat = ", ".join(f"{n} {fmt(100 * b[f'sat_frac_{n}'])}%" for n in SEED_NAMED if f"sat_frac_{n}" in b)
        sat_zh = "，".join(f"{_shown(n)} {fmt(100 * b[f'sat_frac_{n}'])}%" for n in SEED_NAMED if f"sat_frac_{n}" in b)
        ns = {n: b[f"ns_per_elem_{n}"] for n in NAMES if f"ns_per_elem_{n}" in b}
        lo, hi = min(ns, key=ns.__getitem__), max(ns, key=ns.__getitem__)
        return {"en": f"The {fmt(b['n_activations'])} pointwise activations' autograd slopes match their closed forms "
                      f"within {fmt(b['max_slope_err'])}. Share of [-6, 6] where |f'| < 0.01: {sat}. Forward CPU time "
                      f"per element ranges from {fmt(ns[lo])} ns ({lo}) to {fmt(ns[hi])} ns ({hi}).",
                "zh": f"{fmt(b['n_activations'])} 个逐元素激活函数的自动微分导数与解析式相差不超过 "
                      f"{fmt(b['max_slope_err'])}。[-6, 6] 中 |f'| < 0.01 的比例：{sat_zh}。"
                      f"每个元素的前向 CPU 时间从 {fmt(ns[lo])} ns（{_shown(lo)}）"
                      f"到 {fmt(ns[hi])} ns（{_shown(hi)}）。"}
