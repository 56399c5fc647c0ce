r"""Question 43: why training starts with a learning-rate warm-up.

Measured on the digits with an 8-layer ReLU MLP (He weights, no normalization) trained by Adam at learning rates
0.02 to 0.08, with and without a linear warm-up over the first third of the run (from 2% of the rate), over several
seeds: the final validation accuracy (a run *fails* below 0.5), the largest rate at which every seed trains, and
the early loss spike (largest step loss of the first 30 steps over the first). In the first steps of the largest
rate, each update is also probed: did it lower the loss of its own mini-batch while raising the loss of held-out
data (over-fitting to the mini-batch, the seed's explanation), or did it raise its own batch's loss as well (an
overshoot: the step is simply too large)? Adam's update norm per step, and the variance of what enters the first
batch-norm layer of a BN variant (on fixed held-out images), show what warm-up changes in those steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer.functional as F
from cvprimer.analysis.timing import blas_threads
from cvprimer.core.function import no_grad
from cvprimer.core.tensor import Tensor
from cvprimer.lab._deepmlp import DeepMLP, StepLosses
from cvprimer.lab.common import fit, load_data, make_optimizer
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.optim import lr_scheduler, schedules
from cvprimer.train import Callback

LRS = (0.02, 0.04, 0.08)
STABLE_ACC, EARLY = 0.5, 30


class EarlySteps(Callback):
    """For the first ``k`` optimizer steps: the update norm ||theta_t - theta_{t-1}||, the learning rate, and the
    loss of the step's own mini-batch and of a fixed probe set before and after the step."""

    def __init__(self, k: int, probe: tuple[np.ndarray, np.ndarray]) -> None:
        self.k, self.probe = k, probe
        self.batch: tuple[np.ndarray, np.ndarray] | None = None
        self.rows: list[dict[str, float]] = []
        self._before: list[np.ndarray] | None = None
        self._handle: Any = None
        self._probing = False

    def loss_fn(self, out: Tensor, y: Tensor) -> Tensor:
        """The training loss; remembers the targets of the current batch."""
        if self.batch is not None:
            self.batch = (self.batch[0], y.data)
        return F.cross_entropy(out, y)

    def on_fit_start(self, trainer: Any) -> None:
        def grab(module: Any, inputs: Any) -> None:
            if module.training and not self._probing:
                self.batch = (inputs[0].data, np.zeros(0))
        self._handle = trainer.model.register_forward_pre_hook(grab)

    def _loss(self, model: Any, x: np.ndarray, y: np.ndarray) -> float:
        self._probing = True
        try:
            with no_grad(), np.errstate(all="ignore"):
                return float(F.cross_entropy(model(Tensor(x)), Tensor(y)).item())
        finally:
            self._probing = False

    def on_after_backward(self, trainer: Any) -> None:
        if len(self.rows) < self.k and self.batch is not None:
            m = trainer.model
            self._before = [p.data.copy() for p in m.parameters()]
            self._pre = (self._loss(m, *self.batch), self._loss(m, *self.probe))

    def on_after_step(self, trainer: Any) -> None:
        if self._before is None or self.batch is None:
            return
        m = trainer.model
        upd = float(np.sqrt(sum(float(np.sum((p.data.astype(np.float64) - b) ** 2))
                                for p, b in zip(m.parameters(), self._before, strict=True))))
        self.rows.append({"update": upd, "lr": float(trainer.optimizer.param_groups[0]["lr"]),
                          "batch_before": self._pre[0], "batch_after": self._loss(m, *self.batch),
                          "probe_before": self._pre[1], "probe_after": self._loss(m, *self.probe)})
        self._before = None

    def on_fit_end(self, trainer: Any) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


class ProbeVariance(Callback):
    """After each of the first ``k`` steps: the per-feature variance, over a fixed probe set, of what enters the
    first batch-norm layer (the first linear layer's output), so batch-sampling noise does not count."""

    def __init__(self, probe_x: np.ndarray, k: int) -> None:
        self.probe_x, self.k, self.vars = probe_x, k, []

    def on_after_step(self, trainer: Any) -> None:
        if len(self.vars) < self.k:
            with no_grad():
                z = trainer.model.inp(Tensor(self.probe_x.reshape(len(self.probe_x), -1))).data
            self.vars.append(z.astype(np.float64).var(0))


def classify_steps(rows: list[dict[str, float]]) -> tuple[float, float]:
    """(fraction of steps that raised their own batch's loss, fraction that lowered it but raised the probe's)."""
    if not rows:
        return float("nan"), float("nan")
    over = [r["batch_after"] > r["batch_before"] for r in rows]
    fit_b = [r["batch_after"] <= r["batch_before"] and r["probe_after"] > r["probe_before"] for r in rows]
    return float(np.mean(over)), float(np.mean(fit_b))


def _train(data: Any, lr: float, warm: int, seed: int, epochs: int, callbacks: list[Any], bn: bool = False,
           loss_fn: Any = None) -> tuple[Any, np.ndarray, Any]:
    model = DeepMLP(8, 64, "relu", "he", bn=bn, rng=np.random.default_rng(seed))
    opt = make_optimizer("adam", model.parameters(), lr)
    sched = lr_scheduler.ScheduleLR(opt, lambda base: schedules.warmup("linear", warm, base, 0.02)
                                    .then(schedules.constant(base))) if warm else None
    steps = StepLosses()
    with np.errstate(all="ignore"):
        f = fit(model, data, epochs, np.random.default_rng(seed), lr=lr, optimizer=opt, batch_size=32,
                scheduler=sched, scheduler_interval="step", callbacks=[steps, *callbacks], loss_fn=loss_fn)
    return f, np.asarray(steps.losses), model


class WarmUp(Experiment):
    id = "q43-warmup"
    questions = (43,)
    topic = "optimization"
    thresholds = {"min_spike_ratio": 3.0, "min_lr_ratio": 2.0}
    text = {
        "en": {
            "title": "Learning-rate warm-up: what it prevents in the first steps",
            "claim": "Training starts with a small learning rate that rises to the set value, stays there and "
                     "decays later. The warm-up slows the model's early over-fitting to mini-batches, keeps the "
                     "distribution steady, and keeps the deep layers stable.",
            "method": "An 8-layer ReLU MLP without normalization trained by Adam on the digits at learning rates "
                      "0.02, 0.04 and 0.08, with and without a linear warm-up over the first third of the run, over "
                      "several seeds: failures (final validation accuracy < 0.5), the largest rate every seed "
                      "survives, the early loss spike. In the first 30 steps at lr 0.08 each update is probed: "
                      "did it over-fit its mini-batch (own loss down, held-out loss up) or overshoot (own loss up)? "
                      "Adam's update norm per step, and in a BN variant the variance (over fixed held-out images) of "
                      "what enters the first batch norm, step by step, with and without warm-up.",
        },
        "zh": {
            "title": "学习率预热：它在最初几步防止了什么",
            "claim": "训练开始时先用很小的学习率，逐渐升到设定值，保持一段时间后再下降。预热可以减缓模型在初期对 "
                     "mini-batch 的提前过拟合，保持分布平稳，并有助于保持深层网络的稳定。",
            "method": "在 digits 上用 Adam 训练一个没有归一化层的 8 层 ReLU MLP，学习率为 0.02、0.04、0.08，"
                      "分别使用和不使用覆盖前三分之一训练的线性预热，多个随机种子：统计失败次数（最终验证准确率 "
                      "< 0.5）、所有种子都能训练的最大学习率以及初期损失尖峰。在学习率 0.08 下逐一检查前 30 "
                      "步的更新：是对本批过拟合（本批损失下降、留出数据损失上升），还是步子过大（本批损失也上升）？"
                      "并比较有无预热时这些步里 Adam 的更新范数，以及 BN 版本中进入第一层批归一化的特征"
                      "在固定留出图像上的方差逐步的变化。",
        },
    }

    def run(self, ctx: Context) -> Result:
        with blas_threads(1):  # small matrices: one BLAS thread is faster on a shared machine
            return self._measure(ctx)

    def _measure(self, ctx: Context) -> Result:
        data = load_data("digits", ctx.pick(400, 1200), 360, ctx.rng, standardize=True)
        steps_per_epoch = int(np.ceil(len(data.y_train) / 32))
        epochs = ctx.pick(3, 8)
        warm = max(1, epochs // 3) * steps_per_epoch  # a third of the run, rounded down to whole epochs
        seeds = [int(s) for s in ctx.rng.integers(2**31, size=ctx.pick(2, 5))]
        probe = (data.x_val[:200], data.y_val[:200])
        figures, rows, runs = {}, [], {}
        for lr in LRS:
            for w in (0, warm):
                accs, spikes = [], []
                for i, seed in enumerate(seeds):
                    cbs = [EarlySteps(EARLY, probe)] if (lr == LRS[-1] and i == 0) else []
                    f, losses, _ = _train(data, lr, w, seed, epochs, cbs, loss_fn=cbs[0].loss_fn if cbs else None)
                    acc = f.val_acc if np.isfinite(f.val_acc) else 0.0
                    accs.append(acc)
                    spikes.append(float(np.nanmax(np.where(np.isfinite(losses[:EARLY]), losses[:EARLY], np.inf))
                                        / losses[0]))
                    if cbs:
                        runs[w] = cbs[0].rows
                key = "warm" if w else "none"
                fail = float(np.mean(np.array(accs) < STABLE_ACC))
                rows.append([lr, "yes" if w else "no", float(np.mean(accs)), fail,
                             float(np.median(spikes))])
                figures[f"fail_rate_{key}_{lr:g}"] = Figure(fail, "fraction")
                figures[f"spike_{key}_{lr:g}"] = Figure(float(np.median(spikes)), "x first loss")
        for key in ("none", "warm"):
            ok = [lr for lr in LRS if figures[f"fail_rate_{key}_{lr:g}"].value == 0]
            figures[f"largest_stable_lr_{key}"] = Figure(max(ok) if ok else 0.0, "lr")
        figures["lr_ratio"] = Figure(figures["largest_stable_lr_warm"].value
                                     / max(figures["largest_stable_lr_none"].value, 1e-12), "x")
        top = f"{LRS[-1]:g}"
        figures["spike_ratio_top_lr"] = Figure(figures[f"spike_none_{top}"].value
                                               / figures[f"spike_warm_{top}"].value, "x")
        over, overfit = classify_steps(runs[0])
        figures["early_overshoot_frac"] = Figure(over, "fraction")
        figures["early_overfit_frac"] = Figure(overfit, "fraction")
        figures["warm_early_overshoot_frac"] = Figure(classify_steps(runs[warm])[0], "fraction")
        upd0 = np.array([r["update"] for r in runs[0]])
        upd_w = np.array([r["update"] for r in runs[warm]])
        n_par = sum(p.data.size for p in DeepMLP(8, 64).parameters())
        figures["adam_first_update_over_lr_sqrtP"] = Figure(upd0[0] / (LRS[-1] * np.sqrt(n_par)), "ratio")
        figures["adam_update_norm_ratio_first10"] = Figure(float(upd0[:10].sum() / upd_w[:10].sum()), "x")

        bn_var = {}
        for w in (0, warm):
            cb = ProbeVariance(probe[0], EARLY)
            _train(data, LRS[-1], w, seeds[0], 1, [cb], bn=True)  # the first epoch has >= 11 steps
            v = np.array(cb.vars)
            bn_var[w] = np.abs(np.diff(v, axis=0)).mean(1) / v[:-1].mean(1)  # relative change per step
        figures["bn_var_change_none"] = Figure(float(np.mean(bn_var[0][:10])), "relative per step")
        figures["bn_var_change_warm"] = Figure(float(np.mean(bn_var[warm][:10])), "relative per step")

        fig, axes = ctx.figure(1, 3, size=(13, 3.8))
        for lr in LRS:
            axes[0].plot(["none", "warm-up"],
                         [figures[f"spike_none_{lr:g}"].value, figures[f"spike_warm_{lr:g}"].value],
                         marker="o", label=f"lr {lr:g}")
        axes[0].set_yscale("log")
        axes[0].set_ylabel(f"peak loss in first {EARLY} steps / first loss")
        axes[0].set_title("Early loss spike (median over seeds)")
        axes[0].legend()
        axes[1].semilogy(np.arange(1, len(upd0) + 1), upd0, marker=".", label="no warm-up")
        axes[1].semilogy(np.arange(1, len(upd_w) + 1), upd_w, marker=".", label="warm-up")
        axes[1].axhline(LRS[-1] * np.sqrt(n_par), color="k", ls=":", lw=1, label="lr x sqrt(#params)")
        axes[1].set_xlabel("step")
        axes[1].set_ylabel("||theta_t - theta_(t-1)||")
        axes[1].set_title(f"Adam's update norm, lr {LRS[-1]:g}")
        axes[1].legend(fontsize=7)
        for w, lab in ((0, "no warm-up"), (warm, "warm-up")):
            axes[2].plot(np.arange(2, len(bn_var[w]) + 2), bn_var[w], marker=".", label=lab)
        axes[2].set_xlabel("step")
        axes[2].set_yscale("log")
        axes[2].set_ylabel("relative change of its variance per step")
        axes[2].set_title(f"What enters the first BN (BN variant), lr {LRS[-1]:g}")
        axes[2].legend()
        ctx.save_figure(fig, "warmup", "Left: peak loss in the first 30 steps relative to the first loss, with and "
                        "without warm-up, per learning rate. Middle: norm of Adam's parameter update per step at "
                        "lr 0.08. Right: per-step relative change of the variance, over fixed held-out images, of what "
                        "enters the first batch-norm layer of a BN variant at lr 0.08.",
                        "左：各学习率下有无预热时，前 30 步的最大损失与第一步损失之比。中：学习率 0.08 时 Adam "
                        "每一步参数更新的范数。右：学习率 0.08 时 BN 版本中进入第一层批归一化的特征"
                        "在固定留出图像上的方差每步的相对变化。")
        return Result(figures=figures, tables=[Table("sweep", ["lr", "warm-up", "mean val acc", "fail rate",
                                                               "median early spike"], rows, {
            "en": f"Adam, {epochs} epochs, {len(seeds)} seeds per cell; warm-up over the first {warm} steps.",
            "zh": f"Adam，{epochs} 轮，每格 {len(seeds)} 个随机种子；预热为前 {warm} 步。"})])

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        f, t = figures, thresholds
        calms = f["spike_ratio_top_lr"] >= t["min_spike_ratio"]
        extends = f["lr_ratio"] >= t["min_lr_ratio"]
        overfit_story = f["early_overfit_frac"] > f["early_overshoot_frac"]
        verdict = verdict_if(calms and extends and overfit_story, nuanced=calms or extends)
        en = (f"Without warm-up, the loss in the first steps at lr 0.08 peaks at {fmt(f['spike_none_0.08'])}x its "
              f"first value; with warm-up at {fmt(f['spike_warm_0.08'])}x ({fmt(f['spike_ratio_top_lr'])}x calmer, "
              f"threshold {fmt(t['min_spike_ratio'])}x). The largest rate every seed survives is "
              f"{fmt(f['largest_stable_lr_warm'])} with warm-up and {fmt(f['largest_stable_lr_none'])} without "
              f"({fmt(f['lr_ratio'])}x, threshold {fmt(t['min_lr_ratio'])}x). ")
        zh = (f"不预热时，学习率 0.08 下前几步的损失峰值是初始值的 {fmt(f['spike_none_0.08'])} 倍，预热后为 "
              f"{fmt(f['spike_warm_0.08'])} 倍（平稳 {fmt(f['spike_ratio_top_lr'])} 倍，阈值 "
              f"{fmt(t['min_spike_ratio'])} 倍）。所有种子都能训练的最大学习率：预热时为 "
              f"{fmt(f['largest_stable_lr_warm'])}，不预热时为 {fmt(f['largest_stable_lr_none'])}"
              f"（{fmt(f['lr_ratio'])} 倍，阈值 {fmt(t['min_lr_ratio'])} 倍）。")
        o, v, w = (fmt(100 * f["early_overshoot_frac"]), fmt(100 * f["early_overfit_frac"]),
                   fmt(100 * f["warm_early_overshoot_frac"]))
        cmp_en = ("more common than" if f["early_overshoot_frac"] > f["early_overfit_frac"] else
                  "as common as" if f["early_overshoot_frac"] == f["early_overfit_frac"] else "less common than")
        cmp_zh = ("比它所说的过拟合更常见" if f["early_overshoot_frac"] > f["early_overfit_frac"] else
                  "与它所说的过拟合一样常见" if f["early_overshoot_frac"] == f["early_overfit_frac"] else
                  "不如它所说的过拟合常见")
        en += (f"Of the first 30 updates at lr 0.08 without warm-up, {o}% overshot (raised the loss of the very batch "
               f"they were computed on) and {v}% over-fitted it (own loss down, held-out loss up): overshooting, "
               f"which the seed does not name, is {cmp_en} the over-fitting it blames; with warm-up {w}% overshoot. ")
        zh += (f"学习率 0.08、不预热时的前 30 次更新中，{o}% 步子过大（连计算它的那一批的损失都升高），{v}% "
               f"对本批过拟合（本批损失下降、留出数据损失上升）：原文没有提到的“步子过大”{cmp_zh}；"
               f"预热后步子过大的比例为 {w}%。")
        en += (f"Adam's first update moves the weights by {fmt(f['adam_first_update_over_lr_sqrtP'])} x lr x "
               f"sqrt(#params), i.e. every weight by about the full learning rate whatever its gradient, and the "
               f"first 10 updates are {fmt(f['adam_update_norm_ratio_first10'])}x larger without warm-up; in a BN "
               f"variant the variance of what enters the first BN moves by {fmt(100 * f['bn_var_change_none'])}% per "
               f"step in the first 10 steps without warm-up against {fmt(100 * f['bn_var_change_warm'])}% with it.")
        zh += (f"Adam 的第一次更新使权重移动 {fmt(f['adam_first_update_over_lr_sqrtP'])} × lr × sqrt(参数个数)，"
               f"即不论梯度大小，每个权重都移动约一个完整的学习率；不预热时前 10 次更新的总幅度是预热时的 "
               f"{fmt(f['adam_update_norm_ratio_first10'])} 倍。BN 版本中，进入第一层批归一化的特征的方差在前 10 步"
               f"每步变化 {fmt(100 * f['bn_var_change_none'])}%（不预热），"
               f"预热时为 {fmt(100 * f['bn_var_change_warm'])}%。")
        return verdict, evidence(en=en, zh=zh)
