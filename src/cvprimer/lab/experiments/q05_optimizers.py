"""Question 5: optimizers besides SGD and Adam, sorted into three families: plain gradient descent, momentum
methods and adaptive-step methods.

The seed only classifies, so the claim is tested on what defines each family, measured on the optimizers of
:mod:`cvprimer.optim` with two probes on one 2-D parameter (learning rate 0.1): *memory* — one step with the
gradient (1, 1), then one with a zero gradient; the second step's length over the first's (0 for a method without
memory) — and *per-coordinate scaling* — one step with the gradient (1, 100); the ratio of the two coordinates'
steps (100 for a step proportional to the gradient, near 1 for a step normalized per coordinate). Beyond the seed:
the same probes on four more optimizers, the paths of all ten on three 2-D test functions of
:mod:`cvprimer.optim.landscapes` (Rosenbrock, Beale, a saddle) at their best grid learning rate, and one small CNN
trained on the digits with each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import nn, optim
from cvprimer.core.tensor import Tensor
from cvprimer.lab.common import fit, load_data
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
from cvprimer.optim.landscapes import BEALE, ROSENBROCK, SADDLE, distance_to_minimum, trajectory

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "small CNN on digits": "digits 上的小型 CNN",
    "grey: plain, blue: momentum, green: adaptive": "灰：普通，蓝：动量，绿：自适应",
    "Momentum": "动量",
    "beale": "Beale 函数",
    "rosenbrock": "Rosenbrock 函数",
})

Factory = Callable[[float], Callable[[list[Any]], Any]]

# name -> (family, lr -> params -> optimizer, CNN learning rate: the best of lr0 x {1/10, 1/3, 1, 3} around a
# customary lr0 in a 4-epoch pilot on 600 digits; every optimizer preferred the largest, so all get it)
OPTIMIZERS: dict[str, tuple[str, Factory, float]] = {
    "SGD": ("plain", lambda lr: lambda ps: optim.SGD(ps, lr=lr), 0.3),
    "Momentum": ("momentum", lambda lr: lambda ps: optim.SGD(ps, lr=lr, momentum=0.9), 0.1),
    "Nesterov": ("momentum", lambda lr: lambda ps: optim.SGD(ps, lr=lr, momentum=0.9, nesterov=True), 0.1),
    "AdaGrad": ("adaptive", lambda lr: lambda ps: optim.Adagrad(ps, lr=lr), 0.1),
    "RMSProp": ("adaptive", lambda lr: lambda ps: optim.RMSprop(ps, lr=lr), 3e-3),
    "Adadelta": ("adaptive", lambda lr: lambda ps: optim.Adadelta(ps, lr=lr), 3.0),
    "Adam": ("adaptive", lambda lr: lambda ps: optim.Adam(ps, lr=lr), 1e-2),
    "AdamW": ("adaptive", lambda lr: lambda ps: optim.AdamW(ps, lr=lr), 1e-2),
    "NAdam": ("adaptive", lambda lr: lambda ps: optim.NAdam(ps, lr=lr), 1e-2),
    "RAdam": ("adaptive", lambda lr: lambda ps: optim.RAdam(ps, lr=lr), 1e-2),
}
FUNCS = (ROSENBROCK, BEALE, SADDLE)


def _small_cnn() -> Any:
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(128, 10))


def _best_path(factory: Factory, fn: Any, lrs: list[float], steps: int) -> tuple[float, np.ndarray]:
    """The learning rate (from ``lrs``) whose path ends closest to a minimum, and that path."""
    best: tuple[float, float, np.ndarray] | None = None
    for lr in lrs:
        path = trajectory(factory(lr), fn, steps=steps)
        d = distance_to_minimum(fn, path)[-1]
        d = d if np.isfinite(d) else np.inf
        if best is None or d < best[0]:
            best = (d, lr, path)
    assert best is not None
    return best[1], best[2]


SEED_LISTED = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam")  # the optimizers the seed names
PROBE_LR = 0.1


def probe(factory: Factory, grads: list[list[float]], lr: float = PROBE_LR) -> np.ndarray:
    """The steps (one row per step) an optimizer takes on one 2-D float64 parameter from 0 when its gradient is
    set to each of ``grads`` in turn (what ``loss.backward()`` would leave in ``.grad``)."""
    p = Tensor(np.zeros(2), requires_grad=True)
    opt = factory(lr)([p])
    points = [p.data.copy()]
    for g in grads:
        p.grad = Tensor(np.asarray(g, np.float64))
        opt.step()
        points.append(p.data.copy())
    return np.diff(np.array(points), axis=0)


def signature(factory: Factory) -> tuple[float, float]:
    """(memory, scaling): the length of the step after a zero gradient over the length of the first step, and
    the ratio of the two coordinates' first steps for the gradient (1, 100)."""
    d = probe(factory, [[1.0, 1.0], [0.0, 0.0]])
    memory = float(np.linalg.norm(d[1]) / np.linalg.norm(d[0]))
    s = probe(factory, [[1.0, 100.0]])[0]
    return memory, float(abs(s[1]) / abs(s[0]))


def _family_ok(family: str, memory: float, scaling: float, th: Mapping[str, float]) -> bool:
    """What the seed's family means, as the two probes see it: plain descent keeps no memory and steps in
    proportion to the gradient; momentum methods keep memory and step in proportion; adaptive methods rescale the
    step per coordinate."""
    has_memory, adaptive = memory >= th["memory_min"], scaling < th["adaptive_max_scaling"]
    return {"plain": not has_memory and not adaptive, "momentum": has_memory and not adaptive,
            "adaptive": adaptive}[family]


class Optimizers(Experiment):
    id = "q05-optimizers"
    questions = (5,)
    topic = "optimization"
    thresholds = {"memory_min": 0.1, "adaptive_max_scaling": 10.0}
    reasons = {
        "memory_min": {
            "en": "Theory: a step without memory is exactly 0 after a zero gradient (up to rounding), heavy-ball "
                  "momentum mu continues at mu and Nesterov at mu^2 / (1 + mu); for any mu >= 0.5 in common use "
                  "both exceed 1/6, so 0.1 separates the two with room on both sides.",
            "zh": "理论：没有记忆的方法在梯度为零后一步的位移恰为 0（仅有舍入误差）；动量为 mu 的重球法继续走 "
                  "mu 倍，Nesterov 走 mu^2 / (1 + mu) 倍；常用的 mu >= 0.5 时两者都超过 1/6，取 0.1 两边都留有余地。"},
        "adaptive_max_scaling": {
            "en": "Theory: a step proportional to the gradient keeps the gradient's ratio (100 for the probe "
                  "(1, 100)); a step normalized per coordinate brings it near 1; 10 is the geometric midpoint.",
            "zh": "理论：与梯度成正比的步长保持梯度的比值（探针 (1, 100) 时为 100）；逐坐标归一化的步长使其接近 1；"
                  "10 是两者的几何中点。"},
    }
    reachable = (CONFIRMED, NUANCED, REFUTED)
    key_term = {"en": "momentum versus adaptive learning rates", "zh": "动量与自适应学习率"}
    key_figure = "memory_Adam"
    answer = {
        "confirmed": {
            "en": "The three families are a sound map: momentum methods carry a memory of past gradients and "
                  "adaptive ones rescale each coordinate's step; Adam does both (memory {memory_Adam}, a step "
                  "that does not grow with the gradient's scale).",
            "zh": "三类划分是合理的：动量类方法保留过去梯度的记忆，自适应方法按坐标调整步长；Adam 两者兼有（"
                  "记忆 {memory_Adam}，步长不随梯度尺度增大）。"},
        "nuanced": {
            "en": "The grouping mostly fits, but not every optimizer behaved like its family here; describe "
                  "each by its update rule, and note that Adam belongs to two families (momentum memory "
                  "{memory_Adam} and adaptive steps).",
            "zh": "这种分类大体成立，但这里并非每个优化器都表现得像它所属的类别；"
                  "回答时按更新公式描述每个优化器，并指出 Adam 同时属于两类（动量记忆 {memory_Adam}，"
                  "自适应步长）。"},
        "refuted": {
            "en": "The families did not match how these optimizers behaved on the test (Adam's memory "
                  "{memory_Adam}); describe optimizers by their update rules rather than by the three labels.",
            "zh": "这三类标签与测试中优化器的实际行为不符（Adam 的记忆为 {memory_Adam}）；"
                  "应该按更新公式来描述优化器，而不是套用这三个标签。"},
    }
    text = {
        "en": {
            "title": "Which optimizers exist beyond SGD and Adam?",
            "claim": "Optimizers fall into three families: plain gradient descent (full-batch, mini-batch, "
                     "stochastic), momentum methods (momentum, Nesterov) and methods with adaptive step sizes "
                     "(AdaGrad, RMSProp, Adam).",
            "method": "For each optimizer the seed names (SGD standing for the plain family, whose variants differ "
                      "only in batch size), probe its update on one 2-D parameter at learning rate 0.1: memory is "
                      "the length of the step after a zero gradient over the first step's (after a gradient of "
                      "(1, 1)); scaling is the ratio of the two coordinates' first steps for a gradient of (1, 100). "
                      "An optimizer fits the seed's family when plain descent shows no memory and proportional "
                      "steps, a momentum method memory and proportional steps, and an adaptive method a scaling "
                      "well below the gradient's ratio.",
            "beyond": "The probes on four more optimizers (Adadelta, AdamW, NAdam, RAdam); the paths of all ten on "
                      "the Rosenbrock and Beale functions and next to a saddle, each at the learning rate of a log "
                      "grid whose path ends closest to the minimum; and the same small CNN trained on the digits "
                      "with each optimizer (same seed, same batches, learning rate from a short pilot).",
        },
        "zh": {
            "title": "除了 SGD 和 Adam 还有哪些优化器？",
            "claim": "优化器可分三类：基本梯度下降（全批量、小批量、随机），动量法（Momentum、Nesterov），"
                     "以及自适应步长的方法（AdaGrad、RMSProp、Adam）。",
            "method": "对原文提到的每种优化器（以 SGD 代表基本梯度下降一类，其各变体只在批大小上不同），"
                      "在一个二维参数上以学习率 0.1 探测它的更新："
                      "记忆性是梯度先为 (1, 1)、再为零时第二步与第一步的长度之比；"
                      "缩放比是梯度为 (1, 100) 时两个坐标第一步的长度之比。基本梯度下降应无记忆且步长与梯度成正比，"
                      "动量法应有记忆且步长与梯度成正比，自适应方法的缩放比应远低于梯度之比，这样才算符合原文的分类。",
            "beyond": "对另外四种优化器（Adadelta、AdamW、NAdam、RAdam）做同样的探测；十种优化器在 Rosenbrock、Beale "
                      "函数和鞍点附近的轨迹（各取对数网格中终点离极小值最近的学习率）；以及用每种优化器在 digits "
                      "上训练同一个小型 CNN（相同随机种子、相同批次，学习率由简短预实验选定）。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "memory_{o}": {"en": "memory of past gradients, {o}", "zh": "对历史梯度的记忆（{o}）"},
        "scaling_{o}": {"en": "per-parameter step scaling, {o}", "zh": "逐参数步长缩放（{o}）"},
        "{f}_dist_{o}": {"en": "distance to the minimum, {f}, {o}", "zh": "到最小值的距离（{f}，{o}）"},
        "cnn_acc_{o}": {"en": "CNN val accuracy, {o}", "zh": "CNN 验证准确率（{o}）"},
    }
    terms = {
        "SGD": {"en": "SGD", "zh": "SGD"},
        "Momentum": {"en": "momentum", "zh": "动量"},
        "Nesterov": {"en": "Nesterov", "zh": "Nesterov"},
        "AdaGrad": {"en": "AdaGrad", "zh": "AdaGrad"},
        "RMSProp": {"en": "RMSProp", "zh": "RMSProp"},
        "Adam": {"en": "Adam", "zh": "Adam"},
        "Adadelta": {"en": "Adadelta", "zh": "Adadelta"},
        "AdamW": {"en": "AdamW", "zh": "AdamW"},
        "NAdam": {"en": "NAdam", "zh": "NAdam"},
        "RAdam": {"en": "RAdam", "zh": "RAdam"},
        "best_momentum": {"en": "best momentum method", "zh": "最佳动量类方法"},
        "best_adaptive": {"en": "best adaptive method", "zh": "最佳自适应方法"},
        "worst": {"en": "worst method", "zh": "最差方法"},
        "rosenbrock": {"en": "Rosenbrock", "zh": "Rosenbrock 函数"},
        "beale": {"en": "Beale", "zh": "Beale 函数"},
        "saddle": {"en": "saddle", "zh": "鞍点"},
    }

    def measure(self, ctx: Context) -> Result:
        steps = ctx.pick(300, 1500, tiny=20)
        lrs = list(np.logspace(-4, 0, ctx.pick(5, 13, tiny=2)))
        names = list(OPTIMIZERS)
        best_lr, paths, final = self._landscapes(names, lrs, steps)
        epochs = ctx.pick(4, 10, tiny=1)
        acc, curves = self._cnn(ctx, names, epochs)

        def fam(family: str, values: Mapping[str, float], pick: Callable[..., float]) -> float:
            return pick(v for n, v in values.items() if OPTIMIZERS[n][0] == family)

        sig = {n: signature(OPTIMIZERS[n][1]) for n in names}
        figures: dict[str, Figure] = {}
        beyond: dict[str, Figure] = {}
        for n in names:
            into = figures if n in SEED_LISTED else beyond
            into[f"memory_{n}"] = Figure(sig[n][0], "step ratio")
            into[f"scaling_{n}"] = Figure(sig[n][1], "step ratio")
        for fn in FUNCS:
            per = {n: final[fn.name, n] for n in names}
            beyond[f"{fn.name}_dist_sgd"] = Figure(per["SGD"], "distance")
            beyond[f"{fn.name}_dist_best_momentum"] = Figure(fam("momentum", per, min), "distance")
            beyond[f"{fn.name}_dist_best_adaptive"] = Figure(fam("adaptive", per, min), "distance")
        beyond["cnn_acc_sgd"] = Figure(acc["SGD"], "fraction")
        beyond["cnn_acc_best_momentum"] = Figure(fam("momentum", acc, max), "fraction")
        beyond["cnn_acc_best_adaptive"] = Figure(fam("adaptive", acc, max), "fraction")
        beyond["cnn_acc_worst"] = Figure(min(acc.values()), "fraction")
        probes = Table("probes", ["optimizer", "seed's family", "memory", "scaling"],
                       [[n, OPTIMIZERS[n][0], sig[n][0], sig[n][1]] for n in SEED_LISTED],
                       {"en": f"Probes at learning rate {PROBE_LR}: memory = second step / first step (gradient "
                              f"(1, 1) then 0); scaling = ratio of the coordinates' first steps (gradient (1, 100)).",
                        "zh": f"学习率 {PROBE_LR} 下的探测：记忆性 = 第二步 / 第一步（梯度先 (1, 1) 后为 0）；"
                              f"缩放比 = 梯度为 (1, 100) 时两个坐标第一步之比。"})
        extra = Table("probes_more", ["optimizer", "family (usual)", "memory", "scaling"],
                      [[n, OPTIMIZERS[n][0], sig[n][0], sig[n][1]] for n in names if n not in SEED_LISTED],
                      {"en": "The same probes on optimizers the seed does not name.",
                       "zh": "对原文未提到的优化器做同样的探测。"})
        rows = [[n, OPTIMIZERS[n][0]] + [v for fn in FUNCS for v in (best_lr[fn.name, n], final[fn.name, n])]
                + [OPTIMIZERS[n][2], acc[n]] for n in names]
        cols = ["optimizer", "family"] + [c for fn in FUNCS for c in (f"{fn.name} lr", f"{fn.name} distance")] + [
            "CNN lr", "CNN val acc"]
        table = Table("optimizers", cols, rows, {
            "en": f"Best grid learning rate and final distance to the minimum after {steps} steps; CNN validation "
                  f"accuracy after {epochs} epochs.",
            "zh": f"网格中最佳学习率及 {steps} 步后到极小值的距离；CNN 训练 {epochs} 轮后的验证准确率。"})
        return Result(figures=figures, tables=[probes], beyond=beyond, beyond_tables=[extra, table],
                      series={"names": names, "paths": paths, "curves": curves, "acc": acc})

    @staticmethod
    def _landscapes(names: list[str], lrs: list[float], steps: int) -> tuple[
            dict[tuple[str, str], float], dict[tuple[str, str], np.ndarray], dict[tuple[str, str], float]]:
        """Beyond the seed: each optimizer's path over each test function at its best grid rate, keyed by
        (function, optimizer): the rate, the path and the final distance to the nearest minimum."""
        paths: dict[tuple[str, str], np.ndarray] = {}
        best_lr: dict[tuple[str, str], float] = {}
        for fn in FUNCS:
            for name in names:
                best_lr[fn.name, name], paths[fn.name, name] = _best_path(OPTIMIZERS[name][1], fn, lrs, steps)
        final = {k: float(distance_to_minimum(next(f for f in FUNCS if f.name == k[0]), p)[-1])
                 for k, p in paths.items()}
        return best_lr, paths, final

    @staticmethod
    def _cnn(ctx: Context, names: list[str], epochs: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """Beyond the seed: the same small CNN trained on the digits with each optimizer (same initialization and
        batches): final validation accuracy and training loss per epoch."""
        data = load_data("digits", ctx.pick(600, 1437, tiny=60), ctx.pick(360, 360, tiny=40), ctx.rng)
        state = ctx.rng.bit_generator.state
        acc: dict[str, float] = {}
        curves: dict[str, np.ndarray] = {}
        for name in names:
            cp.manual_seed(ctx.seed)
            model = _small_cnn()
            gen = np.random.default_rng()
            gen.bit_generator.state = state  # the same batches for every optimizer
            opt = OPTIMIZERS[name][1](OPTIMIZERS[name][2])(list(model.parameters()))
            f = fit(model, data, epochs, gen, optimizer=opt, batch_size=32)
            acc[name], curves[name] = f.val_acc, f.curve("train_loss")
        return acc, curves

    def draw(self, res: Result, ctx: Context) -> None:
        """The optimizers' paths over each test function, their distance to the minimum, then the small CNN."""
        s = res.series
        self._plot_paths(ctx, s["names"], s["paths"])
        self._plot_distance(ctx, s["names"], s["paths"])
        self._plot_cnn(ctx, s["names"], s["curves"], s["acc"])

    @staticmethod
    def _plot_paths(ctx: Context, names: list[str], paths: Mapping[tuple[str, str], np.ndarray]) -> None:
        fig, axes = ctx.figure(1, 3, size=(14, 4.4))
        for ax, fn in zip(axes, FUNCS, strict=True):
            xx, yy, zz = fn.grid(200)
            levels = np.quantile(zz, np.linspace(0, 0.9, 25)) if fn is not SADDLE else 20
            ax.contour(xx, yy, zz, levels=levels, colors="0.75", linewidths=0.6)
            for name in names:
                p = paths[fn.name, name]
                p = p[np.all(np.isfinite(p), axis=1)]
                ax.plot(np.clip(p[:, 0], *fn.window[:2]), np.clip(p[:, 1], *fn.window[2:]), lw=1.1, label=name)
            ax.plot(fn.minima[:, 0], fn.minima[:, 1], "k*", ms=12)
            ax.set_xlim(*fn.window[:2])
            ax.set_ylim(*fn.window[2:])
            ax.set_title(f"{fn.name}: {fn.formula}", fontsize=8)
            ax.set_xlabel("x")
            ax.set_ylabel("y")
        axes[-1].legend(loc="lower right", ncol=2, fontsize=7)
        ctx.save_figure(fig, "trajectories", "Paths of ten optimizers over the contours of the Rosenbrock, Beale "
                        "and saddle functions; stars mark the minima.",
                        "十种优化器在 Rosenbrock、Beale 和鞍点函数等高线上的轨迹，星号为极小值。")

    @staticmethod
    def _plot_distance(ctx: Context, names: list[str], paths: Mapping[tuple[str, str], np.ndarray]) -> None:
        fig, axes = ctx.figure(1, 3, size=(14, 3.8))
        for ax, fn in zip(axes, FUNCS, strict=True):
            for name in names:
                d = distance_to_minimum(fn, paths[fn.name, name])
                ax.semilogy(np.maximum(d, 1e-12), label=name, lw=1.1,
                            ls="-" if OPTIMIZERS[name][0] != "adaptive" else "--")
            ax.set_title(fn.name)
            ax.set_xlabel("step")
            ax.set_ylabel("distance to nearest minimum")
        axes[0].legend(ncol=2, fontsize=7)
        ctx.save_figure(fig, "distance", "Distance to the nearest minimum per step for each optimizer on the three "
                        "functions (log scale; dashed lines are adaptive methods).",
                        "各优化器在三个函数上每一步到最近极小值的距离（对数坐标；虚线为自适应方法）。")

    @staticmethod
    def _plot_cnn(ctx: Context, names: list[str], curves: Mapping[str, np.ndarray], acc: Mapping[str, float]) -> None:
        fig, (a1, a2) = ctx.figure(1, 2, size=(11, 3.6))
        for name in names:
            c = curves[name]
            a1.plot(np.arange(1, len(c) + 1), c, marker="o", ms=3, label=name,
                    ls="-" if OPTIMIZERS[name][0] != "adaptive" else "--")
        a1.set_xlabel("epoch")
        a1.set_ylabel("training loss")
        a1.set_title("small CNN on digits")
        a1.legend(ncol=2, fontsize=7)
        a2.barh(names, [acc[n] for n in names], color=["#7f7f7f" if OPTIMIZERS[n][0] == "plain" else "#1f77b4"
                                                         if OPTIMIZERS[n][0] == "momentum" else "#2ca02c"
                                                         for n in names])
        a2.set_xlabel("validation accuracy")
        a2.set_xlim(0, 1)
        a2.set_title("grey: plain, blue: momentum, green: adaptive")
        ctx.save_figure(fig, "cnn", "Training loss per epoch and final validation accuracy of the same small CNN "
                        "trained on the digits with each optimizer.",
                        "用每种优化器在 digits 上训练同一个小型 CNN：每轮训练损失与最终验证准确率。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        m_min, s_max = thresholds["memory_min"], thresholds["adaptive_max_scaling"]
        fits = {n: _family_ok(OPTIMIZERS[n][0], figures[f"memory_{n}"], figures[f"scaling_{n}"], thresholds)
                for n in SEED_LISTED}
        holds = [n for n in SEED_LISTED if fits[n]]
        fails = [n for n in SEED_LISTED if not fits[n]]
        verdict = CONFIRMED if not fails else REFUTED if not holds else NUANCED
        zh_fam = {"plain": "基本梯度下降", "momentum": "动量法", "adaptive": "自适应"}
        rows_en = "; ".join(f"{n} ({OPTIMIZERS[n][0]}): memory {fmt(figures[f'memory_{n}'])}, scaling "
                            f"{fmt(figures[f'scaling_{n}'])}" for n in SEED_LISTED)
        rows_zh = "；".join(f"{n}（{zh_fam[OPTIMIZERS[n][0]]}）：记忆性 {fmt(figures[f'memory_{n}'])}，缩放比 "
                           f"{fmt(figures[f'scaling_{n}'])}" for n in SEED_LISTED)
        en = (f"{rows_en}. Memory counts from {fmt(m_min)}, adaptive scaling below {fmt(s_max)}. Fit the seed's "
              f"family: {', '.join(holds) or 'none'}; do not: {', '.join(fails) or 'none'}.")
        zh = (f"{rows_zh}。记忆性达到 {fmt(m_min)} 算有记忆，缩放比低于 {fmt(s_max)} 算自适应。符合原文分类的："
              f"{'、'.join(holds) or '无'}；不符合的：{'、'.join(fails) or '无'}。")
        return verdict, evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        b = {k: fmt(v) for k, v in beyond.items()}
        more = [n for n in OPTIMIZERS if n not in SEED_LISTED]
        p_en = "; ".join(f"{n}: memory {b[f'memory_{n}']}, scaling {b[f'scaling_{n}']}" for n in more)
        p_zh = "；".join(f"{n}：记忆性 {b[f'memory_{n}']}，缩放比 {b[f'scaling_{n}']}" for n in more)
        return {
            "en": f"Probes of optimizers the seed does not name: {p_en}. On Rosenbrock, plain SGD at its best rate "
                  f"ends {b['rosenbrock_dist_sgd']} from the minimum, the best momentum method "
                  f"{b['rosenbrock_dist_best_momentum']} and the best adaptive one {b['rosenbrock_dist_best_adaptive']}"
                  f". The small CNN reaches validation accuracy {b['cnn_acc_sgd']} with SGD, "
                  f"{b['cnn_acc_best_momentum']} with the best momentum and {b['cnn_acc_best_adaptive']} with the best "
                  f"adaptive method (worst of all ten: {b['cnn_acc_worst']}).",
            "zh": f"原文未提到的优化器的探测结果：{p_zh}。在 Rosenbrock 上，朴素 SGD 在其最佳学习率下终点距极小值 "
                  f"{b['rosenbrock_dist_sgd']}，最佳动量法为 {b['rosenbrock_dist_best_momentum']}，最佳自适应方法为 "
                  f"{b['rosenbrock_dist_best_adaptive']}。小型 CNN 的验证准确率：SGD {b['cnn_acc_sgd']}，最佳动量法 "
                  f"{b['cnn_acc_best_momentum']}，最佳自适应方法 {b['cnn_acc_best_adaptive']}（十种中最差 "
                  f"{b['cnn_acc_worst']}）。",
        }
