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
from cvprimer.analysis.timing import blas_threads
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
from cvprimer.optim.landscapes import BEALE, ROSENBROCK, SADDLE, distance_to_minimum, trajectory

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


class Optimizers(Experiment):
    id = "q05-optimizers"
    questions = (5,)
    topic = "optimization"
    thresholds = {"min_gain_2d": 5.0, "max_acc_deficit": 0.02}
    text = {
        "en": {
            "title": "Optimizers beyond SGD and Adam, on test functions and on a CNN",
            "claim": "Optimizers fall into three groups: plain gradient descent (full-batch, mini-batch, "
                     "stochastic), momentum methods (momentum, Nesterov) and adaptive-learning-rate methods "
                     "(AdaGrad, RMSProp, Adam, ...); the latter two improve on plain SGD.",
            "method": "Run ten optimizers of cvprimer.optim from the customary hard starting points of the "
                      "Rosenbrock and Beale functions and from next to a saddle point, each at the learning rate "
                      "of a log grid whose path ends closest to the minimum; plot the paths over contours and "
                      "the distance to the minimum per step. Then train the same small CNN on the digits with "
                      "each optimizer at a learning rate picked in a short pilot, same seed and same batches.",
        },
        "zh": {
            "title": "SGD 和 Adam 之外的优化器：测试函数与 CNN 上的表现",
            "claim": "优化器可分三类：基本梯度下降（全批量、小批量、随机），动量法（Momentum、Nesterov），"
                     "自适应学习率方法（AdaGrad、RMSProp、Adam 等）；后两类比朴素 SGD 更好。",
            "method": "在 Rosenbrock、Beale 函数的常用困难起点以及鞍点附近，运行 cvprimer.optim 中的十种优化器，"
                      "每种都从一组对数间隔的学习率中选出终点离极小值最近的一个；在等高线上画出轨迹，"
                      "并画出每一步到极小值的距离。然后用每种优化器（学习率由一次简短预实验选定，相同种子与相同批次）"
                      "在 digits 上训练同一个小型 CNN。",
        },
    }

    def run(self, ctx: Context) -> Result:
        with blas_threads(1):  # small matrices: one BLAS thread is as fast alone and far faster on a busy CPU
            return self._run(ctx)

    def _run(self, ctx: Context) -> Result:
        steps = ctx.pick(300, 1500)
        lrs = list(np.logspace(-4, 0, ctx.pick(5, 13)))
        names = list(OPTIMIZERS)
        paths: dict[tuple[str, str], np.ndarray] = {}
        best_lr: dict[tuple[str, str], float] = {}
        for fn in FUNCS:
            for name in names:
                best_lr[fn.name, name], paths[fn.name, name] = _best_path(OPTIMIZERS[name][1], fn, lrs, steps)
        final = {k: float(distance_to_minimum(next(f for f in FUNCS if f.name == k[0]), p)[-1])
                 for k, p in paths.items()}
        self._plot_paths(ctx, names, paths)
        self._plot_distance(ctx, names, paths)

        data = load_data("digits", ctx.pick(600, 1437), 360, ctx.rng)
        epochs = ctx.pick(4, 10)
        state = ctx.rng.bit_generator.state
        acc: dict[str, float] = {}
        curves: dict[str, np.ndarray] = {}
        for name in names:
            cp.manual_seed(ctx.seed)
            model = _small_cnn()
            gen = np.random.default_rng()
            gen.bit_generator.state = state  # the same batches for every optimizer
            opt = OPTIMIZERS[name][1](OPTIMIZERS[name][2])(list(model.parameters()))
            with blas_threads(1):  # small matrices: one thread is faster and steady on a busy machine
                f = fit(model, data, epochs, gen, optimizer=opt, batch_size=32)
            acc[name], curves[name] = f.val_acc, f.curve("train_loss")
        self._plot_cnn(ctx, names, curves, acc)

        def fam(family: str, values: Mapping[str, float], pick: Callable[..., float]) -> float:
            return pick(v for n, v in values.items() if OPTIMIZERS[n][0] == family)

        figures: dict[str, Figure] = {}
        for fn in FUNCS:
            per = {n: final[fn.name, n] for n in names}
            figures[f"{fn.name}_dist_sgd"] = Figure(per["SGD"], "distance")
            figures[f"{fn.name}_dist_best_momentum"] = Figure(fam("momentum", per, min), "distance")
            figures[f"{fn.name}_dist_best_adaptive"] = Figure(fam("adaptive", per, min), "distance")
        figures["cnn_acc_sgd"] = Figure(acc["SGD"], "fraction")
        figures["cnn_acc_best_momentum"] = Figure(fam("momentum", acc, max), "fraction")
        figures["cnn_acc_best_adaptive"] = Figure(fam("adaptive", acc, max), "fraction")
        figures["cnn_acc_worst"] = Figure(min(acc.values()), "fraction")
        rows = [[n, OPTIMIZERS[n][0]] + [v for fn in FUNCS for v in (best_lr[fn.name, n], final[fn.name, n])]
                + [OPTIMIZERS[n][2], acc[n]] for n in names]
        cols = ["optimizer", "family"] + [c for fn in FUNCS for c in (f"{fn.name} lr", f"{fn.name} distance")] + [
            "CNN lr", "CNN val acc"]
        table = Table("optimizers", cols, rows, {
            "en": f"Best grid learning rate and final distance to the minimum after {steps} steps; CNN validation "
                  f"accuracy after {epochs} epochs.",
            "zh": f"网格中最佳学习率及 {steps} 步后到极小值的距离；CNN 训练 {epochs} 轮后的验证准确率。"})
        return Result(figures=figures, tables=[table])

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
        gain_min, deficit = thresholds["min_gain_2d"], thresholds["max_acc_deficit"]
        eps = 1e-12
        r_sgd = figures["rosenbrock_dist_sgd"]
        r_mom, r_ada = figures["rosenbrock_dist_best_momentum"], figures["rosenbrock_dist_best_adaptive"]
        g_mom, g_ada = (r_sgd + eps) / (r_mom + eps), (r_sgd + eps) / (r_ada + eps)
        a_sgd, a_mom, a_ada = figures["cnn_acc_sgd"], figures["cnn_acc_best_momentum"], figures["cnn_acc_best_adaptive"]
        ok_2d = g_mom >= gain_min and g_ada >= gain_min
        ok_cnn = a_mom >= a_sgd - deficit and a_ada >= a_sgd - deficit
        s_en = (f"On Rosenbrock, plain SGD at its best rate ends {fmt(r_sgd)} from the minimum, the best momentum "
                f"method {fmt(r_mom)} ({fmt(g_mom)}x closer) and the best adaptive one {fmt(r_ada)} ({fmt(g_ada)}x; "
                f"the bar is {fmt(gain_min)}x). On the CNN the validation accuracy is {fmt(a_sgd)} for SGD, "
                f"{fmt(a_mom)} for the best momentum and {fmt(a_ada)} for the best adaptive method (allowed "
                f"deficit {fmt(deficit)}); the worst optimizer reached {fmt(figures['cnn_acc_worst'])}.")
        s_zh = (f"在 Rosenbrock 上，朴素 SGD 在其最佳学习率下终点距极小值 {fmt(r_sgd)}，最佳动量法为 {fmt(r_mom)}"
                f"（近 {fmt(g_mom)} 倍），最佳自适应方法为 {fmt(r_ada)}（{fmt(g_ada)} 倍；阈值 {fmt(gain_min)} 倍）。"
                f"CNN 的验证准确率：SGD {fmt(a_sgd)}，最佳动量法 {fmt(a_mom)}，最佳自适应方法 {fmt(a_ada)}"
                f"（允许落后 {fmt(deficit)}）；最差的优化器为 {fmt(figures['cnn_acc_worst'])}。")
        if ok_2d and ok_cnn:
            return verdict_if(True), evidence(
                en=s_en + " Both families beat plain SGD on the hard valley and match or beat it on the CNN. The "
                          "three groups overlap, though: Adam, NAdam and RAdam are momentum and adaptive at once.",
                zh=s_zh + "两类方法在困难的弯曲山谷上都胜过朴素 SGD，在 CNN 上也不逊于它。"
                          "不过三类之间有交叉：Adam、NAdam、RAdam 同时属于动量法和自适应方法。")
        return verdict_if(False, nuanced=ok_2d or ok_cnn), evidence(
            en=s_en + (" The advantage shows only on the 2-D valley." if ok_2d else
                       " The advantage shows only on the CNN." if ok_cnn else " Neither family beat plain SGD."),
            zh=s_zh + ("优势只出现在二维山谷上。" if ok_2d else "优势只出现在 CNN 上。" if ok_cnn
                       else "两类方法都没有胜过朴素 SGD。"))
