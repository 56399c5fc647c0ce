"""Question 18: what stochastic gradient descent gains over full-batch gradient descent.

Measured on an MLP on the digits: (1) the noise of the mini-batch gradient, ``E||g_B - g||^2`` against the
batch size B, with its slope on log-log axes (sampling theory says ``~ 1/B``); (2) epochs, updates and training
seconds to a target validation accuracy for pure SGD (B = 1), mini-batch (B = 32) and full-batch gradient
descent; (3) a saddle point: gradient descent started on the saddle's stable manifold, with the exact gradient
and with mini-batch gradients of a toy finite-sum objective built around the same landscape.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import nn, optim
from cvprimer.analysis.timing import blas_threads
from cvprimer.lab._gradstats import gradient_noise
from cvprimer.lab.common import Data, accuracy, fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.optim.landscapes import SADDLE, trajectory
from cvprimer.train.callbacks import Callback


def mlp() -> Any:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


class StopAt(Callback):
    """Stop at the first check where validation accuracy reaches ``target``: every ``every`` updates (on
    ``val = (x, y)``) and at each epoch's end. Counts updates and training CPU seconds (``time.process_time``;
    the checks and the validation pass are left out); ``reached = (epochs, updates, seconds)``."""

    def __init__(self, target: float, val: tuple[np.ndarray, np.ndarray] | None = None, every: int = 0,
                 steps_per_epoch: int = 1) -> None:
        self.target, self.val, self.every, self.spe = target, val, every, steps_per_epoch
        self.train_seconds, self.steps, self.reached = 0.0, 0, None
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


class BatchVsStochastic(Experiment):
    id = "q18-batch-vs-sgd"
    questions = (18,)
    topic = "optimization"
    thresholds = {"slope_tol": 0.25, "target_acc": 0.9}
    text = {
        "en": {
            "title": "Full-batch, stochastic and mini-batch gradient descent",
            "claim": "Stochastic gradient descent beats full-batch gradient descent because each update uses one "
                     "random example: the gradient is cheap to compute, so learning is fast, and the model can be "
                     "updated online.",
            "method": "On an MLP for the digits: measure the squared error of the mini-batch gradient against the "
                      "full gradient for batch sizes 1 to 256 (and its log-log slope); train with pure SGD (B=1), "
                      "mini-batch SGD (B=32) and full-batch GD, each at a learning rate suited to it, until a "
                      "target validation accuracy, counting epochs, updates and training CPU seconds (one BLAS "
                      "thread), also on the training set replicated 16 times (more data, no new information); run "
                      "gradient descent from the stable manifold of a saddle with the exact gradient and with "
                      "mini-batch gradients of a finite-sum objective whose mean is that saddle function.",
        },
        "zh": {
            "title": "全批量、随机与小批量梯度下降",
            "claim": "随机梯度下降优于全局梯度下降，因为每次只用一个随机样本更新：梯度计算快，学习快，"
                     "而且可以在线更新。",
            "method": "在 digits 的 MLP 上：测量批大小从 1 到 256 时小批量梯度相对全量梯度的平方误差"
                      "（及其对数-对数斜率）；分别用纯 SGD（B=1）、小批量 SGD（B=32）和全批量梯度下降"
                      "（各自使用合适的学习率）训练到目标验证准确率，记录轮数、更新次数和训练 CPU 秒数"
                      "（单个 BLAS 线程），并在把训练集复制 16 份（数据更多但信息不变）后重复；"
                      "在一个鞍点的稳定流形上起步，分别用精确梯度和一个均值等于该鞍点函数的有限和目标的"
                      "小批量梯度做梯度下降。",
        },
    }

    def run(self, ctx: Context) -> Result:
        with blas_threads(1):  # small matrices: one BLAS thread is as fast alone and far faster on a busy CPU
            return self._run(ctx)

    def _run(self, ctx: Context) -> Result:
        data = load_data("digits", ctx.pick(500, 1437), 360, ctx.rng, standardize=True)
        n = len(data.y_train)
        # (1) gradient noise at initialization
        cp.manual_seed(ctx.seed)
        model = mlp()
        sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        noise = gradient_noise(model, data.x_train, data.y_train, sizes, ctx.pick(24, 100), ctx.child_rng())
        corr = noise * (n - 1) / (n - np.array(sizes))  # remove the finite-population factor (N - B)/(N - 1)
        slope = float(np.polyfit(np.log(sizes), np.log(corr), 1)[0])

        # (2) time to target, on the training set and on the same set replicated R times (more data, no more
        # information: what a big, redundant dataset looks like to the optimizer)
        target, reps = self.thresholds["target_acc"], 16
        big = Data(np.tile(data.x_train, (reps, 1, 1, 1)), np.tile(data.y_train, reps), data.x_val, data.y_val)
        runs = {"SGD (B=1)": (data, 1, 0.01, ctx.pick(4, 8)),
                "mini-batch (B=32)": (data, 32, 0.1, ctx.pick(20, 40)),
                "full batch": (data, n, 0.5, ctx.pick(300, 600)),
                f"mini-batch (B=32), data x{reps}": (big, 32, 0.1, ctx.pick(20, 40)),
                f"full batch, data x{reps}": (big, n * reps, 0.5, ctx.pick(300, 600))}
        state = ctx.rng.bit_generator.state
        reached: dict[str, tuple[float, float, float]] = {}
        curves: dict[str, np.ndarray] = {}
        for name, (d, b, lr, max_epochs) in runs.items():
            cp.manual_seed(ctx.seed)
            m = mlp()
            gen = np.random.default_rng()
            gen.bit_generator.state = state
            spe = -(-len(d.y_train) // b)
            stop = StopAt(target, (data.x_val, data.y_val), every=min(spe, 10), steps_per_epoch=spe)
            with blas_threads(1):  # CPU time of one thread: comparable across batch sizes on a busy machine
                f = fit(m, d, max_epochs, gen, lr=lr, optimizer="sgd", batch_size=b, callbacks=[stop])
            curves[name] = f.curve("val_acc")
            reached[name] = stop.reached or (np.inf, np.inf, np.inf)

        # (3) the saddle
        paths = saddle_runs(ctx.pick(300, 600), 1000, 8, 1.0, ctx.child_rng())
        f_end = {k: float(SADDLE(*p[-1])) for k, p in paths.items()}

        self._plot(ctx, sizes, noise, slope, {k: c for k, c in curves.items() if "x" not in k}, paths)
        (e1, _, t1), (e32, _, t32), (ef, _, tf), (_, _, t32_big), (ef_big, _, tf_big) = (reached[k] for k in runs)
        figures = {
            "noise_slope": Figure(slope, "log-log slope"),
            "noise_b1_over_b64": Figure(noise[0] / noise[sizes.index(64)], "ratio"),
            "epochs_sgd1": Figure(e1, "epochs"), "epochs_minibatch": Figure(e32, "epochs"),
            "epochs_full": Figure(ef, "epochs"),
            "seconds_sgd1": Figure(t1, "CPU s"), "seconds_minibatch": Figure(t32, "CPU s"),
            "seconds_full": Figure(tf, "CPU s"),
            "seconds_minibatch_big": Figure(t32_big, "CPU s"), "seconds_full_big": Figure(tf_big, "CPU s"),
            "saddle_f_full": Figure(f_end["full batch"], ""), "saddle_f_minibatch": Figure(f_end["mini-batch 8"], ""),
        }
        rows = [[k, runs[k][1], runs[k][2], *reached[k]] for k in runs]
        table = Table("to_target", ["run", "batch", "lr", "epochs", "updates", "train CPU seconds"], rows,
                      {"en": f"To {target:.0%} validation accuracy on {n} training digits, and on those digits "
                             f"replicated {reps} times (inf: not reached). One BLAS thread.",
                       "zh": f"在 {n} 张训练 digits 上、以及把它们复制 {reps} 份后，达到 {target:.0%} 验证准确率"
                             "所需（inf 表示未达到）。单个 BLAS 线程。"})
        return Result(figures=figures, tables=[table])

    @staticmethod
    def _plot(ctx: Context, sizes: list[int], noise: np.ndarray, slope: float, curves: Mapping[str, np.ndarray],
              paths: Mapping[str, np.ndarray]) -> None:
        fig, (a1, a2, a3) = ctx.figure(1, 3, size=(14, 3.9))
        a1.loglog(sizes, noise, "o-", label=f"measured (slope {slope:.2f} after N-correction)")
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

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol = thresholds["slope_tol"]
        slope = figures["noise_slope"]
        e1, e32, ef = figures["epochs_sgd1"], figures["epochs_minibatch"], figures["epochs_full"]
        t1, t32, tf = figures["seconds_sgd1"], figures["seconds_minibatch"], figures["seconds_full"]
        t32b, tfb = figures["seconds_minibatch_big"], figures["seconds_full_big"]
        s_full, s_mb = figures["saddle_f_full"], figures["saddle_f_minibatch"]
        en = (f"Gradient noise falls with slope {fmt(slope)} on log-log axes (1/B is -1, tolerance {fmt(tol)}); "
              f"B=1 is {fmt(figures['noise_b1_over_b64'])}x noisier than B=64. To the target accuracy: pure SGD "
              f"{fmt(e1)} epochs / {fmt(t1)} CPU s, mini-batch {fmt(e32)} epochs / {fmt(t32)} s, full batch "
              f"{fmt(ef)} epochs / {fmt(tf)} s; on the data replicated 16 times, mini-batch {fmt(t32b)} s and full "
              f"batch {fmt(tfb)} s. From the saddle's stable manifold, full-batch GD ends at f = {fmt(s_full)} (the "
              f"saddle value is 0), mini-batch gradients at f = {fmt(s_mb)} (the minimum is -0.25).")
        zh = (f"梯度噪声在对数-对数坐标下以斜率 {fmt(slope)} 下降（1/B 对应 -1，容差 {fmt(tol)}）；B=1 的噪声是 "
              f"B=64 的 {fmt(figures['noise_b1_over_b64'])} 倍。达到目标准确率：纯 SGD {fmt(e1)} 轮 / {fmt(t1)} "
              f"CPU 秒，小批量 {fmt(e32)} 轮 / {fmt(t32)} 秒，全批量 {fmt(ef)} 轮 / {fmt(tf)} 秒；数据复制 16 份后，"
              f"小批量 {fmt(t32b)} 秒，全批量 {fmt(tfb)} 秒。从鞍点的稳定流形出发，全批量梯度下降停在 "
              f"f = {fmt(s_full)}（鞍点处为 0），小批量梯度到达 f = {fmt(s_mb)}（极小值为 -0.25）。")
        if t1 <= min(t32, tf) and t1 <= tfb:
            return verdict_if(True), evidence(en=en + " Pure SGD reaches the target in the least time.",
                                              zh=zh + "纯 SGD 用时最短。")
        if t32b < tfb or e1 < ef:
            en += (" Per pass over the data, stochastic updates make much more progress, and once the data are "
                   "large and redundant the mini-batch method wins on time, as claimed" if t32b < tfb else
                   " Per pass over the data, stochastic updates make much more progress")
            zh += ("按每遍数据计，随机更新的进展大得多；数据量大且冗余时，小批量方法在时间上胜出，这与说法一致"
                   if t32b < tfb else "按每遍数据计，随机更新的进展大得多")
            if t1 > min(t32, tf):
                en += ("; but one example per update is the slowest in CPU time: each tiny update pays a fixed "
                       "overhead and uses no vectorized arithmetic, so in practice SGD means mini-batches")
                zh += "；但每次只用一个样本在 CPU 时间上最慢：每次微小的更新都有固定开销且无法利用向量化，"
                zh += "所以实践中的 SGD 指小批量"
            if tf < t32:
                en += "; on the small original set, full-batch GD was the fastest of all"
                zh += "；在原始的小数据集上，全批量梯度下降反而最快"
            if abs(slope + 1) <= tol and s_mb < s_full - 0.1:
                en += ". The gradient noise, the price of cheap updates, also carries SGD off the saddle"
                zh += "。梯度噪声（廉价更新的代价）还能帮助 SGD 离开鞍点"
            return verdict_if(False, nuanced=True), evidence(en=en + ".", zh=zh + "。")
        return verdict_if(False), evidence(en=en + " Full-batch GD was at least as fast in every case here.",
                                           zh=zh + "此处全批量梯度下降在所有情形下都不更慢。")
