"""Question 18: what stochastic gradient descent gains over full-batch gradient descent.

The seed's claim: one random example per update keeps every step cheap, so learning is fast even on large data,
and the model can be updated online. Measured on an MLP on the digits: the training CPU seconds (one BLAS thread)
that pure SGD (B = 1) and full-batch gradient descent need to reach a target validation accuracy, on the training
set and on the same set replicated 256 times (more data, no new information: what a big, redundant dataset looks
like to the optimizer); the decision is on the ratio full-batch time / SGD time in each setting. On the replicated
set full-batch descent has the same mean gradient, so it follows the same path in the same number of updates: that
number comes from the run on the original set, the CPU cost of one update from real full-batch updates on the
replicated set.

Beyond the seed (never passed to ``decide``): mini-batch SGD (B = 32) on both sets; the noise of the mini-batch
gradient, ``E||g_B - g||^2`` against the batch size B, with its slope on log-log axes (sampling theory says
``~ 1/B``); gradient descent started on a saddle's stable manifold, with the exact gradient and with mini-batch
gradients of a toy finite-sum objective built around the same landscape.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import nn, optim
from cvprimer.lab._gradstats import gradient_noise
from cvprimer.lab.common import Data, accuracy, fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr, tr_table
from cvprimer.optim.landscapes import SADDLE, trajectory
from cvprimer.train.callbacks import Callback

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "GD started on the saddle's stable manifold": "从鞍点稳定流形上出发的梯度下降",
    "full batch": "全批量",
    "mini-batch (B=32)": "小批量（B=32）",
    "mini-batch 8": "小批量 8",
})


def mlp() -> Any:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


class StopAt(Callback):
    """Stop at the first check where validation accuracy reaches ``target``: every ``every`` updates (on
    ``val = (x, y)``) and at each epoch's end. Counts updates and training CPU seconds (``time.process_time``;
    the checks and the validation pass are left out); ``reached = (epochs, updates, seconds)``."""

    def __init__(self, target: float, val: tuple[np.ndarray, np.ndarray] | None = None, every: int = 0,
                 steps_per_epoch: int = 1) -> None:
        self.target, self.val, self.every, self.spe = target, val, every, steps_per_epoch
        self.train_seconds, self.steps = 0.0, 0
        self.reached: tuple[float, int, float] | None = None
        self._mark = 0.0

    def _hit(self, trainer: Any) -> None:
        self.reached = (self.steps / self.spe, self.steps, self.train_seconds)
        trainer.stop_training = True

    def on_epoch_start(self, trainer: Any, epoch: int) -> None:
        self._mark = time.process_time()

    def on_batch_end(self, trainer: Any, logs: dict[str, Any]) -> None:
        self.train_seconds += time.process_time() - self._mark
        self.steps += 1
        if self.reached is None and self.val is not None and self.every and self.steps % self.every == 0:
            if accuracy(trainer.model, *self.val) >= self.target:
                self._hit(trainer)
        self._mark = time.process_time()

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> None:
        if self.reached is None and logs.get("val_acc", 0.0) >= self.target:
            self._hit(trainer)


def saddle_runs(steps: int, n: int, batch: int, sigma: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """GD on ``f(w) = mean_i [saddle(w) + a_i . w]`` with ``mean_i a_i = 0`` (so ``f`` is the saddle function)
    from ``(1.5, 0)`` on its stable manifold: exact gradient vs the gradient of ``batch`` random terms."""
    a = rng.normal(0.0, sigma, (n, 2))
    a -= a.mean(axis=0)  # the full-batch objective is exactly the saddle function
    start = (1.5, 0.0)
    runs = {"full batch": trajectory(lambda ps: optim.SGD(ps, lr=0.1), SADDLE, start, steps)}
    runs[f"mini-batch {batch}"] = trajectory(lambda ps: optim.SGD(ps, lr=0.1), SADDLE, start, steps,
                                             noise=lambda t: a[rng.choice(n, batch, replace=False)].mean(axis=0))
    return runs


REPS = 256
SETTINGS = ("small", "big")  # the training set, and the same set replicated REPS times


class BatchVsStochastic(Experiment):
    id = "q18-batch-vs-sgd"
    questions = (18,)
    topic = "optimization"
    thresholds = {"min_speedup": 1.5, "target_acc": 0.9}
    reasons = {
        "min_speedup": {
            "en": "SGD counts as faster only when full-batch descent needs at least 1.5x its CPU time: ln 1.5 = 0.41 "
                  "is about one across-seed standard deviation of ln(ratio) measured in quick mode over seeds 0-2 "
                  "(0.44 on the replicated set, 0.26 on the original), so a win smaller than the noise is not "
                  "counted.",
            "zh": "只有当全批量梯度下降所需 CPU 时间至少是 SGD 的 1.5 倍时才算 SGD 更快：ln 1.5 = 0.41，约等于快速"
                  "模式下随机种子 0-2 间 ln(比值) 的一个标准差（复制后的数据为 0.44，原始数据为 0.26），小于噪声的"
                  "优势不算数。"},
        "target_acc": {
            "en": "The accuracy both methods must reach, a convention: 0.9 on the digits is reached by this small "
                  "MLP with either method within the epoch budget, well below its plateau.",
            "zh": "两种方法都要达到的准确率（约定）：这个小 MLP 用任一方法都能在轮数预算内达到 digits 上的 0.9，"
                  "且明显低于其上限。"},
    }
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "stochastic versus full-batch gradient descent", "zh": "随机梯度下降与全批量梯度下降"}
    key_figure = "speedup_big"
    answer = {
        "confirmed": {
            "en": "Yes: cheap noisy steps reached the target sooner than full-batch descent, {speedup_big}x "
                  "sooner on the large set, and SGD can learn online.",
            "zh": "是的：廉价而带噪声的更新比全批量梯度下降更快达到目标，在大数据集上快 {speedup_big} 倍，"
                  "而且 SGD 可以在线学习。"},
        "nuanced": {
            "en": "SGD was faster in one setting only (time ratio {speedup_big} on the large set, "
                  "{speedup_small} on the small one); say its advantage depends on the data size and use "
                  "mini-batches in practice.",
            "zh": "SGD 只在一种设置下更快（大数据集上时间比 {speedup_big}，小数据集上 {speedup_small}）；"
                  "回答时说明它的优势取决于数据规模，实际中使用小批量。"},
        "refuted": {
            "en": "Single-example SGD was not faster here (speed-up {speedup_big}x on the large set); its "
                  "per-step cost advantage was eaten by the number of steps.",
            "zh": "这里逐样本 SGD 并不更快（在大数据集上加速 {speedup_big} 倍）；每步便宜的优势被步数抵消了。"},
        "nuanced:big": {
            "en": "Say SGD wins on large data only: on the large set it reached the target {speedup_big}x "
                  "sooner than full-batch descent, but on a few hundred examples full batch was faster. In "
                  "practice use mini-batches.",
            "zh": "回答时要说 SGD 只在大数据上占优：在大数据集上它比全批量梯度下降快 {speedup_big} 倍达到目标，"
                  "但在几百个样本上全批量更快。实际中使用小批量。"},
    }
    text = {
        "en": {
            "title": "What does stochastic gradient descent gain over full-batch descent?",
            "claim": "Updating on one random example at a time makes each step cheap, so training reaches a given "
                     "quality sooner than full-batch gradient descent, above all on large data, and the model can "
                     "be updated online.",
            "method": "On a 64-32-10 MLP for the digits, train with pure SGD (batch 1, lr 0.01) and full-batch "
                      "gradient descent (lr 0.5), plain SGD updates, until the target validation accuracy, counting "
                      "epochs, updates and training CPU seconds (one BLAS thread; the accuracy checks are not "
                      "counted), on the training set and on the same set replicated 256 times (more data, no new "
                      "information; full-batch descent there has the same mean gradient, so it needs the same "
                      "number of updates, each costing the CPU time measured over real full-batch updates on the "
                      "replicated set). In each setting SGD counts as faster when full-batch descent needs at least "
                      "the threshold ratio of its time. Online updating is what pure SGD does by construction (one "
                      "example per update); the epochs SGD needs say how much of one pass over the data it used.",
            "beyond": "Mini-batch SGD (batch 32, lr 0.1) on both sets; the squared error of the mini-batch "
                      "gradient against the full gradient for batch sizes 1 to 256 and its log-log slope (1/B in "
                      "theory); gradient descent from the stable manifold of a saddle with the exact gradient and "
                      "with mini-batch gradients of a finite-sum objective whose mean is that saddle function.",
        },
        "zh": {
            "title": "随机梯度下降比全批量梯度下降好在哪里？",
            "claim": "每次只用一个随机样本更新，每一步都很便宜，所以比全批量梯度下降更早达到同样的效果，"
                     "数据量大时尤其如此，而且模型可以在线更新。",
            "method": "在 digits 的 64-32-10 MLP 上，分别用纯 SGD（批大小 1，学习率 0.01）和全批量梯度下降"
                      "（学习率 0.5），都用普通 SGD 更新，训练到目标验证准确率，记录轮数、更新次数和训练 CPU 秒数"
                      "（单个 BLAS 线程；不计准确率检查），分别在训练集上和把训练集复制 256 份后（数据更多但信息不变；"
                      "全批量梯度下降在其上的平均梯度相同，所需更新次数相同，每次更新的 CPU 时间在复制后的数据上实测）"
                      "进行。在每种情形下，全批量所需时间至少是 SGD 的阈值倍数时才算 SGD 更快。在线更新是纯 SGD "
                      "按构造就具备的（每次一个样本）；SGD 所需的轮数说明它用了一遍数据中的多少。",
            "beyond": "两种数据上的小批量 SGD（批大小 32，学习率 0.1）；批大小 1 到 256 时小批量梯度相对全量梯度的"
                      "平方误差及其对数-对数斜率（理论上为 1/B）；从鞍点的稳定流形出发，分别用精确梯度和一个均值"
                      "等于该鞍点函数的有限和目标的小批量梯度做梯度下降。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "seconds_{m}_{d}": {"en": "CPU seconds, {m}, {d} data", "zh": "CPU 秒（{m}，{d}数据集）"},
        "epochs_{m}_{d}": {"en": "epochs, {m}, {d} data", "zh": "轮数（{m}，{d}数据集）"},
        "examples_{d}": {"en": "training examples, {d} data", "zh": "训练样本数（{d}数据集）"},
        "updates_full": {"en": "updates of full-batch descent", "zh": "全批量梯度下降的更新次数"},
        "noise_slope": {"en": "slope of gradient noise vs batch size (log-log)",
                        "zh": "梯度噪声对批大小的斜率（双对数）"},
        "noise_b1_over_b64": {"en": "gradient noise, batch 1 / batch 64", "zh": "梯度噪声（批大小 1 / 64）"},
        "saddle_f_{m}": {"en": "loss reached at the saddle, {m}", "zh": "鞍点处达到的损失（{m}）"},
    }
    terms = {
        "sgd1": {"en": "SGD batch 1", "zh": "批大小 1 的 SGD"},
        "full": {"en": "full batch", "zh": "全批量"},
        "minibatch": {"en": "mini-batch", "zh": "小批量"},
        "small": {"en": "small", "zh": "小"},
        "big": {"en": "big", "zh": "大"},
    }

    def measure(self, ctx: Context) -> Result:
        data = load_data("digits", ctx.pick(500, 1437, tiny=300), 360, ctx.rng, standardize=True)
        n = len(data.y_train)
        sizes, noise, slope = self._gradient_noise(ctx, data)
        target = self.thresholds["target_acc"]
        runs, reached, curves = self._time_to_target(ctx, data, target)
        reps, step_big = self._big_set_update_cost(ctx, data)
        e_full, u_full, _ = reached["full"]
        reached_big = {"sgd1": reached["sgd1"], "full": (e_full, u_full, u_full * step_big)}

        # (beyond) the saddle
        paths = saddle_runs(ctx.pick(300, 600, tiny=50), 1000, 8, 1.0, ctx.child_rng())
        f_end = {k: float(SADDLE(*p[-1])) for k, p in paths.items()}

        labels = {"sgd1": "SGD (B=1)", "full": "full batch", "mb32": "mini-batch (B=32)"}
        figures: dict[str, Figure] = {}
        for k, r in (("small", reached), ("big", reached_big)):
            (e1, _, t1), (ef, _, tf) = r["sgd1"], r["full"]
            figures[f"speedup_{k}"] = Figure(tf / t1 if np.isfinite(t1) else 0.0, "x", {
                "en": f"full-batch CPU time / SGD CPU time to the target ({k} set)",
                "zh": f"达到目标时全批量与 SGD 的 CPU 时间之比（{'原始' if k == 'small' else '复制后'}数据）"})
            figures[f"seconds_sgd1_{k}"], figures[f"seconds_full_{k}"] = Figure(t1, "CPU s"), Figure(tf, "CPU s")
            figures[f"epochs_sgd1_{k}"] = Figure(e1 / (1 if k == "small" else reps), "epochs")
            figures[f"epochs_full_{k}"] = Figure(ef, "epochs")
        figures["examples_small"], figures["examples_big"] = Figure(n, "examples"), Figure(n * reps, "examples")
        figures["updates_full"] = Figure(u_full, "updates")
        beyond = {
            "noise_slope": Figure(slope, "log-log slope"),
            "noise_b1_over_b64": Figure(noise[0] / noise[sizes.index(64)], "ratio"),
            "seconds_minibatch_small": Figure(reached["mb32"][2], "CPU s"),
            "saddle_f_full": Figure(f_end["full batch"], ""), "saddle_f_minibatch": Figure(f_end["mini-batch 8"], ""),
        }

        cols = ["run", "examples", "batch", "lr", "epochs", "updates", "train CPU seconds"]
        rows = [[labels[mt], n, runs[mt][0], runs[mt][1], *reached[mt]] for mt in ("sgd1", "full")]
        rows += [[labels[mt] + " (cost per update measured)" if mt == "full" else labels[mt], n * reps,
                  n * reps if mt == "full" else 1, runs[mt][1], reached_big[mt][0] / (1 if mt == "full" else reps),
                  *reached_big[mt][1:]] for mt in ("sgd1", "full")]
        cap = {"en": f"To {target:.0%} validation accuracy on {n} training digits and on those digits replicated "
                     f"{reps} times (inf: not reached). Plain SGD updates, one BLAS thread. On the replicated set, "
                     f"full-batch descent needs the same updates as on the original (the same mean gradient) at a "
                     f"cost per update measured over real full-batch updates on it; SGD's updates are unchanged.",
               "zh": f"在 {n} 张训练 digits 上、以及把它们复制 {reps} 份后，达到 {target:.0%} 验证准确率所需"
                     "（inf 表示未达到）。普通 SGD 更新，单个 BLAS 线程。在复制后的数据上，全批量梯度下降所需的"
                     "更新次数与原数据相同（平均梯度相同），每次更新的代价在该数据上的真实全批量更新中测得；"
                     "SGD 的更新不变。"}
        mb = [[labels["mb32"], n, 32, runs["mb32"][1], *reached["mb32"]]]
        return Result(figures=figures, tables=[Table("to_target", cols, rows, cap)], beyond=beyond,
                      beyond_tables=[Table("minibatch", cols, mb, cap)],
                      series={"sizes": sizes, "noise": noise, "slope": slope,
                              "curves": {labels[k]: c for k, c in curves.items()}, "paths": paths})

    @staticmethod
    def _gradient_noise(ctx: Context, data: Data) -> tuple[list[int], np.ndarray, float]:
        """Beyond the seed: the mini-batch gradient's mean squared error ``E||g_B - g||^2`` at initialization for
        each batch size B, and the log-log slope of that error against B after removing the finite-population
        factor (N - B)/(N - 1) (-1 for the 1/B law)."""
        n = len(data.y_train)
        cp.manual_seed(ctx.seed)
        model = mlp()
        sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        noise = gradient_noise(model, data.x_train, data.y_train, sizes, ctx.pick(8, 100, tiny=4), ctx.child_rng())
        corr = noise * (n - 1) / (n - np.array(sizes))  # remove the finite-population factor (N - B)/(N - 1)
        return sizes, noise, float(np.polyfit(np.log(sizes), np.log(corr), 1)[0])

    @staticmethod
    def _time_to_target(ctx: Context, data: Data, target: float) -> tuple[
            dict[str, tuple[int, float, int]], dict[str, tuple[float, float, float]], dict[str, np.ndarray]]:
        """Time to ``target`` validation accuracy on the training set: pure SGD, full batch, and (beyond) a
        mini-batch of 32, same initialization and batches. Returns each run's (batch, lr, max epochs), its
        (epochs, updates, train CPU seconds) at the target (inf when not reached) and its accuracy curve."""
        n = len(data.y_train)
        runs = {"sgd1": (1, 0.01, ctx.pick(4, 8, tiny=1)), "full": (n, 0.5, ctx.pick(300, 600, tiny=40)),
                "mb32": (32, 0.1, ctx.pick(20, 40, tiny=2))}
        state = ctx.rng.bit_generator.state
        reached: dict[str, tuple[float, float, float]] = {}
        curves: dict[str, np.ndarray] = {}
        for method, (b, lr, max_epochs) in runs.items():
            cp.manual_seed(ctx.seed)
            m = mlp()
            gen = np.random.default_rng()
            gen.bit_generator.state = state
            spe = -(-n // b)
            stop = StopAt(target, (data.x_val, data.y_val), every=min(spe, 10), steps_per_epoch=spe)
            f = fit(m, data, max_epochs, gen, lr=lr, optimizer="sgd", batch_size=b, callbacks=[stop])
            curves[method] = f.curve("val_acc")
            reached[method] = stop.reached or (np.inf, np.inf, np.inf)
        return runs, reached, curves

    @staticmethod
    def _big_set_update_cost(ctx: Context, data: Data) -> tuple[int, float]:
        """The replication factor of the large set and the CPU seconds of one full-batch update on it.

        The large set is the training set replicated ``reps`` times. Its full-batch gradient is the same mean, so
        full-batch descent follows the same path and needs the same number of updates; only the cost of an update
        grows. That cost is measured over a few real full-batch updates on the large set. One-example SGD draws
        from the same distribution of examples, so its updates and their cost do not change with the
        replication."""
        reps = ctx.pick(REPS, REPS, tiny=4)
        big = Data(np.tile(data.x_train, (reps, 1, 1, 1)), np.tile(data.y_train, reps), data.x_val, data.y_val)
        cp.manual_seed(ctx.seed)
        probe = StopAt(2.0, steps_per_epoch=1)  # never reached: counts CPU seconds of every update
        fit(mlp(), big, ctx.pick(2, 5, tiny=1), np.random.default_rng(ctx.seed), lr=0.5, optimizer="sgd",
            batch_size=len(big.y_train), callbacks=[probe])
        return reps, probe.train_seconds / max(probe.steps, 1)

    def draw(self, res: Result, ctx: Context) -> None:
        """Gradient noise against batch size, accuracy per epoch of each run, and the paths off the saddle."""
        sizes: list[int] = res.series["sizes"]
        noise: np.ndarray = res.series["noise"]
        slope: float = res.series["slope"]
        curves: Mapping[str, np.ndarray] = res.series["curves"]
        paths: Mapping[str, np.ndarray] = res.series["paths"]
        fig, (a1, a2, a3) = ctx.figure(1, 3, size=(14, 3.9))
        a1.loglog(sizes, noise, "o-", label=tr(f"measured (slope {slope:.2f} after N-correction)",
                                               f"实测（N 校正后斜率 {slope:.2f}）"))
        a1.loglog(sizes, noise[0] / np.array(sizes), "k:", label="1/B")
        a1.set_xlabel("batch size B")
        a1.set_ylabel("E||g_B - g||^2")
        a1.set_title("mini-batch gradient noise")
        a1.legend()
        for name, c in curves.items():
            a2.plot(np.arange(1, len(c) + 1), c, marker="." if len(c) < 50 else None, label=name)
        a2.set_xscale("log")
        a2.set_xlabel("epoch (log)")
        a2.set_ylabel("validation accuracy")
        a2.set_title("progress per pass over the data")
        a2.legend()
        xx, yy, zz = SADDLE.grid(150)
        a3.contour(xx, yy, zz, levels=20, colors="0.75", linewidths=0.6)
        for name, p in paths.items():
            a3.plot(p[:, 0], p[:, 1], lw=1.2, label=name)
        a3.plot([0], [0], "kx", ms=9, label="saddle")
        a3.plot(SADDLE.minima[:, 0], SADDLE.minima[:, 1], "k*", ms=10)
        a3.set_title("GD started on the saddle's stable manifold")
        a3.set_xlabel("x")
        a3.set_ylabel("y")
        a3.legend(fontsize=7)
        ctx.save_figure(fig, "batch_vs_sgd", "Left: mini-batch gradient error against batch size with a 1/B line. "
                        "Middle: validation accuracy per epoch for pure SGD, mini-batch and full-batch descent. "
                        "Right: paths from the stable manifold of a saddle with exact and with mini-batch gradients.",
                        "左：小批量梯度误差随批大小的变化及 1/B 参考线。中：纯 SGD、小批量与全批量梯度下降"
                        "每轮的验证准确率。右：从鞍点稳定流形出发，分别使用精确梯度与小批量梯度的轨迹。")

    @classmethod
    def takeaway_case(cls, figures: Mapping[str, float], verdict: str) -> str:
        """``big`` when SGD won on the large set only (as ``decide`` compares)."""
        need = cls.thresholds["min_speedup"]
        return "big" if figures["speedup_big"] >= need > figures["speedup_small"] else ""

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        need = thresholds["min_speedup"]
        sp = {k: figures[f"speedup_{k}"] for k in SETTINGS}
        faster = [k for k in SETTINGS if sp[k] >= need]
        n_small, n_big = fmt(figures["examples_small"]), fmt(figures["examples_big"])
        name_en = {"small": f"the training set ({n_small} examples)", "big": f"the replicated set ({n_big} examples)"}
        name_zh = {"small": f"原始训练集（{n_small} 个样本）", "big": f"复制后的数据（{n_big} 个样本）"}
        each_en = "; ".join(
            f"on {name_en[k]} pure SGD needs {fmt(figures[f'seconds_sgd1_{k}'])} CPU s "
            f"({fmt(figures[f'epochs_sgd1_{k}'])} epochs), full-batch descent {fmt(figures[f'seconds_full_{k}'])} s "
            f"({fmt(figures[f'epochs_full_{k}'])} epochs): ratio {fmt(sp[k])}" for k in SETTINGS)
        each_zh = "；".join(
            f"在{name_zh[k]}上纯 SGD 需要 {fmt(figures[f'seconds_sgd1_{k}'])} CPU 秒"
            f"（{fmt(figures[f'epochs_sgd1_{k}'])} 轮），全批量梯度下降 {fmt(figures[f'seconds_full_{k}'])} 秒"
            f"（{fmt(figures[f'epochs_full_{k}'])} 轮）："
            f"比值 {fmt(sp[k])}" for k in SETTINGS)
        en = f"To the target accuracy, {each_en} (SGD counts as faster at a ratio >= {fmt(need)})."
        zh = f"达到目标准确率：{each_zh}（比值 >= {fmt(need)} 才算 SGD 更快）。"
        slower = [k for k in SETTINGS if k not in faster]
        if faster and slower:
            en += (f" SGD is faster on {', '.join(name_en[k] for k in faster)} but not on "
                   f"{', '.join(name_en[k] for k in slower)}.")
            big = "big" if "big" in faster else "small"  # full-batch time grows in proportion to the examples
            cross = figures[f"examples_{big}"] * need / sp[big]
            en += f" Full-batch time grows with the number of examples: SGD starts to win near {fmt(cross)} examples."
            zh += (f"SGD 在{'、'.join(name_zh[k] for k in faster)}上更快，"
                   f"在{'、'.join(name_zh[k] for k in slower)}上不然。")
            zh += f"全批量的时间随样本数增长：大约从 {fmt(cross)} 个样本起 SGD 开始胜出。"
        elif faster:
            en += " SGD is faster in both settings."
            zh += "两种情形下 SGD 都更快。"
        else:
            en += " SGD is faster in neither setting."
            zh += "两种情形下 SGD 都不更快。"
        return verdict_if(not slower, nuanced=bool(faster)), evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        b = beyond
        return {"en": f"Mini-batch SGD (B=32) needs {fmt(b['seconds_minibatch_small'])} CPU s on the training "
                      f"set. The mini-batch gradient's "
                      f"error falls with slope {fmt(b['noise_slope'])} on log-log axes (1/B is -1); B=1 is "
                      f"{fmt(b['noise_b1_over_b64'])}x noisier than B=64. From the saddle's stable manifold, "
                      f"full-batch descent ends at f = {fmt(b['saddle_f_full'])} (the saddle value is 0) and "
                      f"mini-batch gradients at f = {fmt(b['saddle_f_minibatch'])} (the minimum is -0.25).",
                "zh": f"小批量 SGD（B=32）在训练集上需要 {fmt(b['seconds_minibatch_small'])} CPU 秒。"
                      f"小批量梯度误差在对数-对数坐标下以斜率 "
                      f"{fmt(b['noise_slope'])} 下降（1/B 对应 -1）；B=1 的噪声是 B=64 的 "
                      f"{fmt(b['noise_b1_over_b64'])} 倍。从鞍点的稳定流形出发，全批量梯度下降停在 "
                      f"f = {fmt(b['saddle_f_full'])}（鞍点处为 0），小批量梯度到达 f = {fmt(b['saddle_f_minibatch'])}"
                      "（极小值为 -0.25）。"}
