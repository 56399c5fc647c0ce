"""Question 16: what activation functions are, which exist, and does every layer have one?

Measured on our engine, for every pointwise activation in ``cvprimer.functional`` (the registry
``functional.activation.registry.ACTIVATIONS``; maxout, which is not pointwise, is described only):

- a gallery of f and of f' computed by autograd (checked against the closed-form slope the op's backward uses);
- the saturation region: the share of [-6, 6] where |f'(x)| < 0.01;
- the mean and standard deviation of f(x) for x ~ N(0, 1);
- the cost per element: median wall time of a forward pass over a large float32 tensor (one BLAS thread,
  timed interleaved).

Then the zoo: every Conv/Linear layer of the model zoo's networks is traced (shape-only, so big networks
cost nothing) and each is classified by what its output meets first after batch norm: an activation, or
something else (the network output, a residual add, a concatenation, another layer).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import models
from cvprimer.analysis.timing import time_interleaved
from cvprimer.core.function import shape_only
from cvprimer.core.tensor import Tensor
from cvprimer.functional.activation.registry import ACTIVATIONS
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.nn import Parameter

NAMES = tuple(n for n in ACTIVATIONS if n != "swish")  # swish is silu's alias
PRELU_WEIGHT = 0.25
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
    return t.grad.data


def saturation_fraction(slope: np.ndarray, tol: float = 0.01) -> float:
    """Share of the sample points whose slope magnitude is below ``tol``."""
    return float(np.mean(np.abs(slope) < tol))


def activation_op_names() -> set[str]:
    """The Function classes the registered activations run (found by calling each once)."""
    x = cp.Tensor(np.linspace(-1, 1, 4), requires_grad=True)
    return {type(activate(n, x)._node).__name__ for n in NAMES}


def bare_layers(model: Any, input_shape: tuple[int, ...], act_ops: set[str]) -> list[tuple[str, str]]:
    """For every weighted op (a multiply-accumulate op with a Parameter input: conv, linear) of one forward
    pass, ``(op name, what its output meets first)``: ``"activation"``, or for a layer without one ``"output"``,
    ``"add"``, ``"concat"``, ``"weighted layer"``, ``"pool"`` or another op's name. Batch norm, dropout and
    views are looked through. The forward runs shape-only (no arithmetic for convs and linears)."""
    model.eval()
    with shape_only():
        y = model(Tensor(np.broadcast_to(np.zeros((), np.float32), input_shape)))
    consumers: dict[int, list[Any]] = {}
    nodes: dict[int, Any] = {}
    stack = [y] if isinstance(y, Tensor) else list(y)
    while stack:  # iterative walk of the graph from the output; consumers keyed by producer node
        t = stack.pop()
        n = t._node
        if n is None or id(n) in nodes:
            continue
        nodes[id(n)] = n
        for i in n.inputs:
            if i is not None and i._node is not None:  # a Link to the producing op
                consumers.setdefault(id(i._node), []).append(n)
                stack.append(i)

    def weighted(n: Any) -> bool:
        return bool(type(n).is_gemm) and any(isinstance(i, Parameter) for i in n.inputs)

    def transparent(n: Any) -> bool:
        return bool(type(n).is_view or type(n).is_normalization or type(n).__name__ in ("DropoutFn", "CloneFn"))

    def first_meets(n: Any) -> str:
        todo, seen, found = list(consumers.get(id(n), [])), set(), []
        if not todo:
            return "output"
        while todo:
            c = todo.pop()
            if id(c) in seen:
                continue
            seen.add(id(c))
            name = type(c).__name__
            if name in act_ops:
                return "activation"
            if transparent(c):
                nxt = consumers.get(id(c), [])
                todo.extend(nxt)
                if not nxt:
                    found.append("output")
            else:
                found.append("weighted layer" if weighted(c) else "add" if name == "AddFn" else
                             "concat" if name == "ConcatFn" else "pool" if "Pool" in name else name)
        return sorted(found)[0] if found else "output"

    out = [(type(n).__name__, first_meets(n)) for n in nodes.values() if weighted(n)]
    return out


class ActivationGallery(Experiment):
    id = "q16-activations"
    questions = (16,)
    topic = "activation"
    thresholds = {"max_slope_err": 1e-6, "min_bare_share": 0.05}
    text = {
        "en": {
            "title": "Activation functions: gallery, saturation, cost, and the layers without one",
            "claim": "An activation function is the non-linear part of a network, and every layer of a neural "
                     "network has one; the common ones are sigmoid, tanh, ReLU, leaky ReLU / PReLU, ELU and "
                     "maxout.",
            "method": "Plot every pointwise activation of the library with its derivative by autograd (checked "
                      "against the closed form), measure the share of [-6, 6] where |f'| < 0.01, the mean output on "
                      "standard normal input and the forward time per element. Trace the zoo's networks and "
                      "classify each convolution and linear layer by whether an activation follows it.",
        },
        "zh": {
            "title": "激活函数：图谱、饱和区、开销，以及没有激活的层",
            "claim": "激活函数是网络中的非线性部分，神经网络的每一层都有激活函数；常见的有 sigmoid、tanh、ReLU、"
                     "Leaky ReLU / PReLU、ELU 和 Maxout。",
            "method": "画出库中每个逐元素激活函数及其由自动微分得到的导数（与解析式对照），测量 [-6, 6] 中 "
                      "|f'| < 0.01 的比例、标准正态输入下的输出均值以及每个元素的前向耗时。"
                      "再追踪模型库中的网络，按其后是否紧跟激活函数对每个卷积层和全连接层分类。",
        },
    }

    def run(self, ctx: Context) -> Result:
        xs = np.linspace(-6, 6, 1201)
        z = ctx.rng.standard_normal(ctx.pick(100_000, 1_000_000))
        big = cp.Tensor(ctx.rng.standard_normal(ctx.pick(1 << 17, 1 << 20)).astype(np.float32))
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

        times = time_interleaved({n: timer(n) for n in NAMES}, repeat=ctx.pick(5, 9), warmup=1,
                               clock=time.process_time)  # CPU time: robust to other processes' load
        for n in NAMES:
            stats[n]["ns"] = 1e9 * times[n] / big.data.size
        zoo = ZOO_QUICK if ctx.quick else ZOO_FULL
        act_ops = activation_op_names()
        zoo_rows, total, bare, with_bare = [], 0, 0, 0
        kinds: dict[str, int] = {}
        for name, (c, h) in zoo:
            layers = bare_layers(models.get_model(name), (1, c, h, h), act_ops)
            nb = [k for _, k in layers if k != "activation"]
            for k in nb:
                kinds[k] = kinds.get(k, 0) + 1
            total, bare, with_bare = total + len(layers), bare + len(nb), with_bare + (len(nb) > 0)
            zoo_rows.append([name, len(layers), len(nb), ", ".join(f"{k}: {nb.count(k)}" for k in sorted(set(nb)))])
            ctx.progress.update()
        self._plot(ctx, xs, curves, stats)
        figs: dict[str, Figure] = {
            "n_activations": Figure(len(NAMES), "functions"),
            "max_slope_err": Figure(worst, "absolute", {"en": "largest |autograd - closed-form slope|",
                                                        "zh": "自动微分与解析导数的最大差"}),
            "zoo_weighted_layers": Figure(total, "layers"),
            "zoo_bare_layers": Figure(bare, "layers", {"en": "conv/linear layers not followed by an activation",
                                                       "zh": "后面没有紧跟激活函数的卷积/全连接层"}),
            "zoo_bare_share": Figure(bare / max(total, 1), "fraction"),
            "zoo_models_with_bare": Figure(with_bare / len(zoo), "fraction"),
            "zoo_bare_before_add": Figure(kinds.get("add", 0), "layers"),
            "zoo_bare_at_output": Figure(kinds.get("output", 0), "layers"),
        }
        for n in NAMES:
            figs[f"sat_frac_{n}"] = Figure(stats[n]["sat"], "fraction of [-6, 6]")
            figs[f"mean_{n}"] = Figure(stats[n]["mean"], "")
            figs[f"ns_per_elem_{n}"] = Figure(stats[n]["ns"], "ns")
        act_rows = [[n, stats[n]["sat"], stats[n]["mean"], stats[n]["std"], stats[n]["ns"]] for n in NAMES]
        return Result(figures=figs, tables=[
            Table("activations", ["activation", "|f'| < 0.01 on [-6, 6]", "mean f(x), x~N(0,1)", "std f(x)",
                                  "ns per element"], act_rows,
                  {"en": f"Forward time over {big.data.size:,} float32 elements, one thread, median of interleaved "
                         f"repeats. Maxout (max over k linear pieces) is not pointwise and is not listed.",
                   "zh": f"对 {big.data.size:,} 个 float32 元素做前向的时间，单线程，交错重复取中位数。"
                         f"Maxout（k 个线性片段取最大）不是逐元素函数，未列入。"}),
            Table("zoo", ["network", "conv/linear layers", "without activation after", "what they meet"], zoo_rows,
                  {"en": "What each layer's output meets first (batch norm, dropout and reshapes looked through).",
                   "zh": "每层输出首先遇到的运算（跳过批归一化、dropout 和变形操作）。"})])

    @staticmethod
    def _plot(ctx: Context, xs: np.ndarray, curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
              stats: Mapping[str, Mapping[str, float]]) -> None:
        names: Sequence[str] = list(curves)
        cols = 6
        rows = -(-len(names) // cols)
        fig, axes = ctx.figure(rows, cols, size=(15, 2.5 * rows))
        for ax, n in zip(axes.ravel(), names, strict=False):
            f, g = curves[n]
            sat = np.abs(g) < 0.01
            ax.fill_between(xs, -1.5, 6.5, where=sat, color="0.85", lw=0)
            ax.plot(xs, f, label="f(x)")
            ax.plot(xs, g, ls="--", label="f'(x) (autograd)")
            ax.set_ylim(-1.5, 6.5 if n not in ("sigmoid", "tanh", "softsign", "hardsigmoid", "hardtanh") else 1.5)
            ax.set_title(f"{n}: {100 * stats[n]['sat']:.0f}% saturated")
        for ax in axes.ravel()[len(names):]:
            ax.set_axis_off()
        axes.ravel()[0].legend(fontsize=7, loc="upper left")
        ctx.save_figure(fig, "gallery", "Every pointwise activation on [-6, 6] with its derivative computed by "
                        "autograd; grey bands mark where |f'| < 0.01 (saturated, no gradient flows).",
                        "每个逐元素激活函数在 [-6, 6] 上的曲线及其自动微分导数；灰色区域表示 |f'| < 0.01"
                        "（饱和，梯度几乎无法通过）。")
        fig, ax = ctx.figure(1, 1, size=(8, 3.4))
        order = sorted(names, key=lambda n: stats[n]["ns"])
        ax.bar(range(len(order)), [stats[n]["ns"] for n in order], color="C0")
        ax.set_xticks(range(len(order)), order, rotation=45, ha="right")
        ax.set_ylabel("ns per element (forward)")
        ax.set_title("Cost per element on our engine (one thread)")
        ctx.save_figure(fig, "cost", "Forward time per element of each activation, sorted; piecewise-linear ones "
                        "are cheapest, those needing exp, log or erf cost several times more.",
                        "每种激活函数每个元素的前向耗时（已排序）；分段线性的最便宜，需要 exp、log 或 erf "
                        "的要贵好几倍。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        share, models_frac = figures["zoo_bare_share"], figures["zoo_models_with_bare"]
        bare, total = figures["zoo_bare_layers"], figures["zoo_weighted_layers"]
        add, out = figures["zoo_bare_before_add"], figures["zoo_bare_at_output"]
        err, tol = figures["max_slope_err"], thresholds["max_slope_err"]
        every_layer = share < thresholds["min_bare_share"]
        slopes_ok = err <= tol
        verdict = verdict_if(every_layer)
        concl_en = ", so nearly every layer does have one" if every_layer else ", so not every layer has an activation"
        concl_zh = "，几乎每层都有激活函数" if every_layer else "，所以并非每层都有激活函数"
        sig, relu = figures.get("sat_frac_sigmoid", float("nan")), figures.get("sat_frac_relu", float("nan"))
        met_en, met_zh = ("met", "满足") if slopes_ok else ("NOT met", "不满足")
        n_act = fmt(figures["n_activations"])
        return verdict, evidence(
            en=f"{fmt(bare)} of the zoo's {fmt(total)} convolution and linear layers ({fmt(100 * share)}%, "
               f"threshold {fmt(100 * thresholds['min_bare_share'])}%) meet no activation: {fmt(out)} produce the "
               f"network's output (logits), {fmt(add)} feed a residual add directly, the rest feed concatenations or "
               f"other layers; {fmt(100 * models_frac)}% of the networks have such layers{concl_en}. The {n_act} "
               f"activations' autograd slopes match their closed forms within {fmt(err)} (tolerance {fmt(tol)}: "
               f"{met_en}); sigmoid is saturated on {fmt(100 * sig)}% of [-6, 6], ReLU on {fmt(100 * relu)}% "
               f"(its whole negative half).",
            zh=f"模型库中 {fmt(total)} 个卷积和全连接层里有 {fmt(bare)} 个（{fmt(100 * share)}%，阈值 "
               f"{fmt(100 * thresholds['min_bare_share'])}%）后面没有激活函数：{fmt(out)} 个直接产生网络输出"
               f"（logits），{fmt(add)} 个直接接残差相加，其余接拼接或其他层；{fmt(100 * models_frac)}% 的网络"
               f"含有这样的层{concl_zh}。{n_act} 个激活函数的自动微分导数与解析式相差不超过 {fmt(err)}"
               f"（容差 {fmt(tol)}：{met_zh}）；sigmoid 在 [-6, 6] 上有 {fmt(100 * sig)}% 处于饱和，"
               f"ReLU 为 {fmt(100 * relu)}%（整个负半轴）。")
