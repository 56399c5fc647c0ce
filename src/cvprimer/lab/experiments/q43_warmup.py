r"""Question 43: why training starts with a learning-rate warm-up.

The seed's claims, each measured on the digits with an 8-layer ReLU MLP (He weights, no normalization) trained by
Adam, with and without a linear warm-up over the first third of the run (from 2% of the rate):

* warm-up slows the early over-fitting to mini-batches: in the first 30 steps at lr 0.08 (every inner seed pooled)
  each update is probed — did it lower the loss of its own mini-batch while raising the loss of held-out data? The
  share of such steps with warm-up must be lower than without by a margin above the across-seed spread;
* it keeps the distribution steady: in a BN variant, the relative change per step, over the first 10 steps, of the
  variance (over fixed held-out images) of what enters the first batch-norm layer, without over with warm-up;
* it keeps the deep network stable: the early loss spike (largest step loss of the first 30 steps over the first)
  at lr 0.08, without over with warm-up.

Beyond the seed: the final accuracy over learning rates 0.02 to 0.08 (a run *fails* below 0.5), the largest rate
every inner seed survives, whether the early steps overshoot (raise their own batch's loss), and Adam's update norm.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer.functional as F
from cvprimer.core.function import no_grad
from cvprimer.core.tensor import Tensor
from cvprimer.lab._deepmlp import DeepMLP, StepLosses
from cvprimer.lab.common import fit, load_data, make_optimizer
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr, tr_table
from cvprimer.optim import lr_scheduler, schedules
from cvprimer.train import Callback

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "Early loss spike (median over seeds)": "早期损失尖峰（各随机种子的中位数）",
    "none": "不预热",
})

LRS = (0.02, 0.04, 0.08)
STABLE_ACC, EARLY = 0.5, 30
# what the seed's three claims are decided on (the rest of the sweep is reported beyond the seed)
CLAIM_FIGURES = ("early_overfit_frac", "warm_early_overfit_frac", "bn_var_change_none", "bn_var_change_warm",
                 "bn_var_ratio", "spike_none_0.08", "spike_warm_0.08", "spike_ratio_top_lr")


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
        self._batch_loss: float | None = None
        self._probe_after: float | None = None  # the probe's loss after the last step = before the next one

    def loss_fn(self, out: Tensor, y: Tensor) -> Tensor:
        """The training loss; remembers the targets of the current batch and its loss before the step (the
        training forward already computed it with the same weights: no second forward is needed)."""
        loss = F.cross_entropy(out, y)
        if self.batch is not None:
            self.batch = (self.batch[0], y.data)
            self._batch_loss = float(loss.data)
        return loss

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
            batch = self._batch_loss if self._batch_loss is not None else self._loss(m, *self.batch)
            probe = self._probe_after if self._probe_after is not None else self._loss(m, *self.probe)
            self._pre = (batch, probe)

    def on_after_step(self, trainer: Any) -> None:
        if self._before is None or self.batch is None:
            return
        m = trainer.model
        upd = float(np.sqrt(sum(float(np.sum((p.data.astype(np.float64) - b) ** 2))
                                for p, b in zip(m.parameters(), self._before, strict=True))))
        self._probe_after = self._loss(m, *self.probe)
        self.rows.append({"update": upd, "lr": float(trainer.optimizer.param_groups[0]["lr"]),
                          "batch_before": self._pre[0], "batch_after": self._loss(m, *self.batch),
                          "probe_before": self._pre[1], "probe_after": self._probe_after})
        self._before, self._batch_loss = None, None

    def on_fit_end(self, trainer: Any) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


class ProbeVariance(Callback):
    """After each of the first ``k`` steps: the per-feature variance, over a fixed probe set, of what enters the
    first batch-norm layer (the first linear layer's output), so batch-sampling noise does not count."""

    def __init__(self, probe_x: np.ndarray, k: int) -> None:
        self.probe_x, self.k = probe_x, k
        self.vars: list[np.ndarray] = []

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
    topic = "training"
    reachable = ("confirmed", "nuanced", "refuted")
    thresholds = {"min_overfit_drop": 0.1, "min_var_ratio": 1.5, "min_spike_ratio": 3.0}
    reasons = {
        "min_overfit_drop": {
            "en": "measured noise floor: the share of over-fitting steps without minus with warm-up had an across-seed "
                  "standard deviation of 0.075 in quick mode (6 seeds, 60 probed steps each) and 0.067 in full mode "
                  "(3 seeds, 150 steps each); warm-up must lower it by 0.1, above both spreads",
            "zh": "实测噪声：不预热与预热时过拟合步所占比例之差的跨随机种子标准差，在快速模式（6 个随机种子，"
                  "每个探测 60 步）为 0.075，在完整模式（3 个随机种子，每个 150 步）为 0.067；"
                  "预热必须使其降低 0.1，高于两者"},
        "min_var_ratio": {
            "en": "measured noise floor: the ratio of per-step variance changes (without / with warm-up) ranged "
                  "2.5-3.1 over 6 quick seeds (std 0.2) and 19-22 over 3 full seeds; 1.5 sits half-way between no "
                  "effect (1) and the quick values, more than two standard deviations from each",
            "zh": "实测噪声：每步方差变化之比（不预热 / 预热）在 6 个快速模式随机种子上为 2.5-3.1（标准差 0.2），在 3 "
            "个完整"
                  "模式随机种子上为 19-22；1.5 位于无效果（1）与快速模式的值之间，距两边都超过两个标准差"},
        "min_spike_ratio": {
            "en": "measured noise floor: the early-spike ratio (without / with warm-up) ranged 12-52 over 6 quick "
            "seeds "
                  "and 20-58 over 3 full seeds, while the warm-up spike alone varied by 0.18 (std, quick); a ratio of "
                  "3 asks for a calmer start far beyond that spread and stays below every measured seed",
            "zh": "实测噪声：早期损失尖峰之比（不预热 / 预热）在 6 个快速模式随机种子上为 12-52，在 3 个完整模式随机"
                  "种子上为 "
                  "20-58，而预热时的尖峰本身的标准差只有 0.18（快速模式）；比值 3 要求的平稳程度远超该波动，"
                  "且低于所有实测随机种子"},
    }
    key_term = {"en": "learning-rate warm-up", "zh": "学习率预热"}
    key_figure = "spike_ratio_top_lr"
    answer = {
        "confirmed": {
            "en": "Yes: warm-up damped the early loss spike ({spike_ratio_top_lr}x calmer), kept the "
                  "normalization statistics steady and reduced early over-fitting to single mini-batches.",
            "zh": "是的：预热抑制了早期的损失尖峰（平稳 {spike_ratio_top_lr} 倍），使归一化统计量保持稳定，"
                  "并减少了早期对单个小批量的过拟合。"},
        "nuanced": {
            "en": "Say warm-up stabilizes the first steps (the early loss spike was {spike_ratio_top_lr}x "
                  "calmer with it) and keeps normalization statistics steadier, but check the claim that it "
                  "prevents early over-fitting to mini-batches: the share of updates that over-fitted their "
                  "own batch was {early_overfit_frac:pct} without warm-up and {warm_early_overfit_frac:pct} "
                  "with it.",
            "zh": "回答时说预热能稳定最初的几步（有预热时早期损失尖峰平稳 {spike_ratio_top_lr} 倍），"
                  "并让归一化统计量更稳定；但“防止早期对小批量过拟合”这一点要核实："
                  "对自身批量过拟合的更新所占比例，无预热时为 {early_overfit_frac:pct}，"
                  "有预热时为 {warm_early_overfit_frac:pct}。"},
        "refuted": {
            "en": "Warm-up made no measurable difference here (early loss spike {spike_ratio_top_lr}x calmer); "
                  "its benefit depends on the learning rate and the model.",
            "zh": "这里预热没有带来可测的差别（早期损失尖峰平稳 {spike_ratio_top_lr} 倍）；"
                  "它的作用取决于学习率和模型。"},
    }
    text = {
        "en": {
            "title": "Learning-rate warm-up",
            "claim": "Training starts with a small learning rate that rises to the set value, stays there and "
                     "decays later. The warm-up slows the model's early over-fitting to mini-batches, keeping the "
                     "distribution steady, and keeps the deep layers stable.",
            "method": "An 8-layer ReLU MLP without normalization trained by Adam (lr 0.08, batch 32) on the digits, "
                      "with and without a linear warm-up over the first third of the run, several inner seeds. "
                      "Over-fitting to mini-batches: the share of the first 30 updates that lower their own "
                      "mini-batch's loss while raising held-out loss. Steady distribution: in a BN variant, the "
                      "per-step relative change of the variance of what enters the first batch norm (fixed held-out "
                      "images), first 10 steps. Stability: the peak loss of the first 30 steps over the first loss. "
                      "Each comparison is without against with warm-up; every seed decides on its own figures.",
            "beyond": "The same net at learning rates 0.02, 0.04 and 0.08: final validation accuracy, failures "
                      "(below 0.5), the largest rate every inner seed survives; the share of early updates that "
                      "overshoot (raise their own batch's loss); Adam's update norm per step.",
        },
        "zh": {
            "title": "学习率预热（warm-up）",
            "claim": "训练开始时先用很小的学习率，逐渐升到设定值，保持一段时间后再下降。预热可以减缓模型在初期对 "
                     "mini-batch 的提前过拟合、保持分布平稳，并有助于保持深层网络的稳定。",
            "method": "在 digits 上用 Adam（学习率 0.08，批大小 32）训练一个没有归一化层的 8 层 ReLU MLP，"
                      "分别使用和不使用覆盖前三分之一训练的线性预热，多个内部随机种子。对 mini-batch 的过拟合："
                      "前 30 次更新中使本批损失下降、留出数据损失上升的比例。分布平稳：BN 版本中进入第一层批归一化的"
                      "特征在固定留出图像上的方差，前 10 步每步的相对变化。稳定性：前 30 步的最大损失与第一步损失"
                      "之比。每项都比较不预热与预热；每个随机种子各自根据自己的数据作出判断。",
            "beyond": "同一网络在学习率 0.02、0.04、0.08 下的最终验证准确率、失败次数（低于 0.5）以及所有内部随机种子"
                      "都能训练的最大学习率；初期更新中步子过大（本批损失反而上升）的比例；Adam 每一步的更新范数。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "spike_{w}_{lr}": {"en": "early loss spike, {w}, lr {lr}", "zh": "早期损失尖峰（{w}，学习率 {lr}）"},
        "fail_rate_{w}_{lr}": {"en": "failure rate, {w}, lr {lr}", "zh": "失败率（{w}，学习率 {lr}）"},
        "spike_ratio_top_lr": {"en": "spike without / with warm-up at the top lr",
                               "zh": "最大学习率下尖峰之比（不预热 / 预热）"},
        "early_overfit_frac": {"en": "share of early steps that overfit, no warm-up",
                               "zh": "早期过拟合步的比例（不预热）"},
        "warm_early_overfit_frac": {"en": "share of early steps that overfit, warm-up",
                                    "zh": "早期过拟合步的比例（预热）"},
        "early_overshoot_frac": {"en": "share of early steps that overshoot, no warm-up",
                                 "zh": "早期越过步的比例（不预热）"},
        "warm_early_overshoot_frac": {"en": "share of early steps that overshoot, warm-up",
                                      "zh": "早期越过步的比例（预热）"},
        "bn_var_change_{w}": {"en": "batch-norm variance change per step, {w}", "zh": "批归一化方差的每步变化（{w}）"},
        "bn_var_ratio": {"en": "batch-norm variance change, without / with warm-up",
                         "zh": "批归一化方差变化之比（不预热 / 预热）"},
        "largest_stable_lr_{w}": {"en": "largest stable learning rate, {w}", "zh": "最大稳定学习率（{w}）"},
        "lr_ratio": {"en": "largest stable lr, with / without warm-up", "zh": "最大稳定学习率之比（预热 / 不预热）"},
        "probe_loss_init": {"en": "loss at initialization", "zh": "初始化时的损失"},
        "adam_first_update_over_lr_sqrtP": {"en": "Adam's first update / (lr * sqrt(P))",
                                            "zh": "Adam 第一次更新 / (lr * sqrt(P))"},
        "adam_update_norm_ratio_first10": {"en": "Adam update norm, first / tenth step",
                                           "zh": "Adam 更新范数之比（第 1 步 / 第 10 步）"},
    }
    terms = {
        "none": {"en": "no warm-up", "zh": "不预热"},
        "warm": {"en": "warm-up", "zh": "预热"},
    }

    def measure(self, ctx: Context) -> Result:
        data = load_data("digits", ctx.pick(400, 1200, tiny=400), ctx.pick(360, 360, tiny=200), ctx.rng,
                         standardize=True)
        steps_per_epoch = int(np.ceil(len(data.y_train) / 32))
        epochs = ctx.pick(3, 8, tiny=2)
        warm = max(1, epochs // 3) * steps_per_epoch  # a third of the run, rounded down to whole epochs
        seeds = [int(s) for s in ctx.rng.integers(2**31, size=ctx.pick(2, 5, tiny=1))]
        probe = (data.x_val[:200], data.y_val[:200])
        figures, rows, runs = self._sweep(data, seeds, epochs, warm, probe)
        upd0, upd_w, n_par = self._early_steps(figures, runs, warm)
        bn_var = self._bn_variance(figures, data, seeds[0], warm, probe[0])
        claim = {k: v for k, v in figures.items() if k in CLAIM_FIGURES}
        beyond = {k: v for k, v in figures.items() if k not in CLAIM_FIGURES}
        cols = ["lr", "warm-up", "mean val acc", "fail rate", "median early spike"]
        return Result(figures=claim, beyond=beyond, beyond_tables=[Table("sweep", cols, rows, {
            "en": f"Adam, {epochs} epochs, {len(seeds)} seeds per cell; warm-up over the first {warm} steps.",
            "zh": f"Adam，{epochs} 轮，每格 {len(seeds)} 个随机种子；预热为前 {warm} 步。"})],
            series={"upd_none": upd0, "upd_warm": upd_w, "n_par": n_par,
                    "bn_var_none": bn_var[0], "bn_var_warm": bn_var[warm]})

    @staticmethod
    def _sweep(data: Any, seeds: list[int], epochs: int, warm: int, probe: tuple[np.ndarray, np.ndarray]
               ) -> tuple[dict[str, Figure], list[list[Any]], dict[int, list[Any]]]:
        """Every learning rate of ``LRS`` with and without warm-up over ``seeds``: fail rates, median early spikes,
        the largest stable rate each way (figures), the sweep table's rows, and at the top rate the probed first
        steps of each seed (``runs[w]``, w = 0 or ``warm``)."""
        figures: dict[str, Figure] = {}
        rows: list[list[Any]] = []
        runs: dict[int, list[Any]] = {}
        for lr in LRS:
            for w in (0, warm):
                accs, spikes = [], []
                for seed in seeds:
                    cbs = [EarlySteps(EARLY, probe)] if lr == LRS[-1] else []
                    f, losses, _ = _train(data, lr, w, seed, epochs, cbs, loss_fn=cbs[0].loss_fn if cbs else None)
                    acc = f.val_acc if np.isfinite(f.val_acc) else 0.0
                    accs.append(acc)
                    spikes.append(float(np.nanmax(np.where(np.isfinite(losses[:EARLY]), losses[:EARLY], np.inf))
                                        / losses[0]))
                    if cbs:
                        runs.setdefault(w, []).append(cbs[0].rows)
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
        return figures, rows, runs

    @staticmethod
    def _early_steps(figures: dict[str, Figure], runs: dict[int, list[Any]], warm: int
                     ) -> tuple[np.ndarray, np.ndarray, int]:
        """The probed first steps at the top rate, classified (overshoot, over-fit) into ``figures``, with Adam's
        update norms; returns the first seed's update norms (steps,) without and with warm-up and the parameter
        count P of the MLP."""
        over, overfit = classify_steps([r for rows_ in runs[0] for r in rows_])
        over_w, overfit_w = classify_steps([r for rows_ in runs[warm] for r in rows_])
        figures["early_overshoot_frac"] = Figure(over, "fraction")
        figures["early_overfit_frac"] = Figure(overfit, "fraction")
        figures["warm_early_overshoot_frac"] = Figure(over_w, "fraction")
        figures["warm_early_overfit_frac"] = Figure(overfit_w, "fraction")
        figures["probe_loss_init"] = Figure(runs[0][0][0]["probe_before"], "nats")  # the untrained net, held-out
        upd0 = np.array([r["update"] for r in runs[0][0]])
        upd_w = np.array([r["update"] for r in runs[warm][0]])
        n_par = sum(p.data.size for p in DeepMLP(8, 64).parameters())
        figures["adam_first_update_over_lr_sqrtP"] = Figure(upd0[0] / (LRS[-1] * np.sqrt(n_par)), "ratio")
        figures["adam_update_norm_ratio_first10"] = Figure(float(upd0[:10].sum() / upd_w[:10].sum()), "x")
        return upd0, upd_w, n_par

    @staticmethod
    def _bn_variance(figures: dict[str, Figure], data: Any, seed: int, warm: int, probe_x: np.ndarray
                     ) -> dict[int, np.ndarray]:
        """The BN variant's first epoch at the top rate without and with warm-up: the relative change per step of
        the variance, over ``probe_x``, of what enters its first batch norm (``{w: (steps - 1,)}``), its mean over
        the first 10 steps and the ratio of the two into ``figures``."""
        bn_var = {}
        for w in (0, warm):
            cb = ProbeVariance(probe_x, EARLY)
            _train(data, LRS[-1], w, seed, 1, [cb], bn=True)  # the first epoch has >= 11 steps
            v = np.array(cb.vars)
            bn_var[w] = np.abs(np.diff(v, axis=0)).mean(1) / v[:-1].mean(1)  # relative change per step
        figures["bn_var_change_none"] = Figure(float(np.mean(bn_var[0][:10])), "relative per step")
        figures["bn_var_change_warm"] = Figure(float(np.mean(bn_var[warm][:10])), "relative per step")
        figures["bn_var_ratio"] = Figure(figures["bn_var_change_none"].value
                                         / figures["bn_var_change_warm"].value, "x")
        return bn_var

    def draw(self, res: Result, ctx: Context) -> None:
        s, f = res.series, {**res.figures, **res.beyond}
        upd0, upd_w = s["upd_none"], s["upd_warm"]
        fig, axes = ctx.figure(1, 3, size=(13, 3.8))
        for lr in LRS:
            axes[0].plot(["none", "warm-up"], [f[f"spike_none_{lr:g}"].value, f[f"spike_warm_{lr:g}"].value],
                         marker="o", label=tr(f"lr {lr:g}", f"学习率 {lr:g}"))
        axes[0].set_yscale("log")
        axes[0].set_ylabel(tr(f"peak loss in first {EARLY} steps / first loss", f"前 {EARLY} 步的峰值损失 / 初始损失"))
        axes[0].set_title("Early loss spike (median over seeds)")
        axes[0].legend()
        axes[1].semilogy(np.arange(1, len(upd0) + 1), upd0, marker=".", label="no warm-up")
        axes[1].semilogy(np.arange(1, len(upd_w) + 1), upd_w, marker=".", label="warm-up")
        axes[1].axhline(LRS[-1] * np.sqrt(s["n_par"]), color="k", ls=":", lw=1, label="lr x sqrt(#params)")
        axes[1].set_xlabel("step")
        axes[1].set_ylabel("||theta_t - theta_(t-1)||")
        axes[1].set_title(tr(f"Adam's update norm, lr {LRS[-1]:g}", f"Adam 的更新范数，学习率 {LRS[-1]:g}"))
        axes[1].legend(fontsize=7)
        for v, lab in ((s["bn_var_none"], "no warm-up"), (s["bn_var_warm"], "warm-up")):
            axes[2].plot(np.arange(2, len(v) + 2), v, marker=".", label=lab)
        axes[2].set_xlabel("step")
        axes[2].set_yscale("log")
        axes[2].set_ylabel("relative change of its variance per step")
        axes[2].set_title(tr(f"What enters the first BN (BN variant), lr {LRS[-1]:g}",
                             f"进入第一个批归一化层的输入（批归一化版本），学习率 {LRS[-1]:g}"))
        axes[2].legend()
        ctx.save_figure(fig, "warmup", "Left: peak loss in the first 30 steps relative to the first loss, with and "
                        "without warm-up, per learning rate. Middle: norm of Adam's parameter update per step at "
                        "lr 0.08. Right: per-step relative change of the variance, over fixed held-out images, of what "
                        "enters the first batch-norm layer of a BN variant at lr 0.08.",
                        "左：各学习率下有无预热时，前 30 步的最大损失与第一步损失之比。中：学习率 0.08 时 Adam "
                        "每一步参数更新的范数。右：学习率 0.08 时 BN 版本中进入第一层批归一化的特征"
                        "在固定留出图像上的方差每步的相对变化。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        f, t = figures, thresholds
        o0, ow = f["early_overfit_frac"], f["warm_early_overfit_frac"]
        slows = ow <= o0 - t["min_overfit_drop"]  # warm-up lowers the share by at least the margin
        steady = f["bn_var_ratio"] >= t["min_var_ratio"]
        stable = f["spike_ratio_top_lr"] >= t["min_spike_ratio"]
        held = [slows, steady, stable]
        yes = {True: ("holds", "成立"), False: ("fails", "不成立")}
        en = (f"Over-fitting to mini-batches: of the first 30 updates at lr 0.08, {fmt(100 * o0)}% lowered their "
              f"own batch's loss while raising held-out loss without warm-up and {fmt(100 * ow)}% with it (warm-up "
              f"must lower the share by {fmt(100 * t['min_overfit_drop'])} points): {yes[slows][0]}. Steady "
              f"distribution: in a BN variant the variance of what enters the first batch norm moved by "
              f"{fmt(100 * f['bn_var_change_none'])}% per step without warm-up and "
              f"{fmt(100 * f['bn_var_change_warm'])}% "
              f"with it ({fmt(f['bn_var_ratio'])}x, needed {fmt(t['min_var_ratio'])}x): {yes[steady][0]}. Stability: "
              f"the loss of the first steps peaks at {fmt(f['spike_none_0.08'])}x its first value without warm-up "
              f"and {fmt(f['spike_warm_0.08'])}x with it ({fmt(f['spike_ratio_top_lr'])}x calmer, needed "
              f"{fmt(t['min_spike_ratio'])}x): {yes[stable][0]}. {sum(held)} of the seed's 3 claims hold.")
        zh = (f"对 mini-batch 的过拟合：学习率 0.08 下前 30 次更新中，使本批损失下降、留出数据损失上升的更新"
              f"在不预热时占 {fmt(100 * o0)}%，预热时占 {fmt(100 * ow)}%（预热须使该比例至少降低 "
              f"{fmt(100 * t['min_overfit_drop'])} 个百分点）：{yes[slows][1]}。分布平稳：BN 版本中进入第一层"
              f"批归一化的特征的方差每步变化，不预热时为 "
              f"{fmt(100 * f['bn_var_change_none'])}%，预热时为 {fmt(100 * f['bn_var_change_warm'])}%"
              f"（{fmt(f['bn_var_ratio'])} 倍，要求 {fmt(t['min_var_ratio'])} 倍）：{yes[steady][1]}。稳定性：前几步的"
              f"损失峰值在不预热时是初始值的 {fmt(f['spike_none_0.08'])} 倍，预热时为 {fmt(f['spike_warm_0.08'])} 倍"
              f"（平稳 {fmt(f['spike_ratio_top_lr'])} 倍，要求 {fmt(t['min_spike_ratio'])} 倍）：{yes[stable][1]}。"
              f"原文 3 条说法中有 {sum(held)} 条成立。")
        return verdict_if(all(held), nuanced=any(held)), evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        b = beyond
        o, w = fmt(100 * b["early_overshoot_frac"]), fmt(100 * b["warm_early_overshoot_frac"])
        return {"en": f"The largest rate every inner seed survives is {fmt(b['largest_stable_lr_warm'])} with warm-up "
                      f"and {fmt(b['largest_stable_lr_none'])} without ({fmt(b['lr_ratio'])}x). Of the first 30 "
                      f"updates at lr 0.08, {o}% overshot (raised the loss of the very batch they were computed on) "
                      f"without warm-up and {w}% with it. Adam's first update moves the weights by "
                      f"{fmt(b['adam_first_update_over_lr_sqrtP'])} x lr x sqrt(#params), and the first 10 updates "
                      f"are {fmt(b['adam_update_norm_ratio_first10'])}x larger without warm-up.",
                "zh": f"所有内部随机种子都能训练的最大学习率：预热时为 {fmt(b['largest_stable_lr_warm'])}，不预热时为 "
                      f"{fmt(b['largest_stable_lr_none'])}（{fmt(b['lr_ratio'])} 倍）。学习率 0.08 下前 30 次更新中，"
                      f"步子过大（连计算它的那一批的损失都升高）的比例不预热时为 {o}%，预热时为 {w}%。Adam 的第一次"
                      f"更新使权重移动 {fmt(b['adam_first_update_over_lr_sqrtP'])} × lr × sqrt(参数个数)，不预热时前 "
                      f"10 次更新的总幅度是预热时的 {fmt(b['adam_update_norm_ratio_first10'])} 倍。"}
