"""Question 7: tips for tuning a neural network (a page, with live pieces).

Live pieces on an MLP for the digits: the learning-rate range test (:func:`cvprimer.optim.lr_range_test`), its
suggestion used with a linear warm-up followed by cosine decay (:mod:`cvprimer.optim.schedules` driven by
:class:`cvprimer.optim.lr_scheduler.ScheduleLR`) against a constant rate, and a small sweep of batch size against
weight decay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn, optim
from cvprimer.data import ArrayDataset, DataLoader
from cvprimer.lab.common import Data, fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, fmt
from cvprimer.lab.plots import tr, tr_table
from cvprimer.optim import lr_scheduler, schedules
from cvprimer.train.callbacks import Callback

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "schedules used (same peak rate)": "使用的学习率调度（峰值相同）",
})

BATCHES = (16, 64, 256)
DECAYS = (0.0, 1e-3, 1e-2)

BODY_EN = """\
Change one thing at a time and keep a baseline. Before tuning anything, make the model overfit a handful of \
examples: if it cannot drive the training loss to nearly zero on 20 images, the problem is a bug (labels, loss, \
data pipeline), not a hyper-parameter.

Normalize the inputs (see questions 1 and 2) and use an initialization matched to the activation (question 20). \
These two remove most of the "the loss does not move" cases before any tuning starts.

The learning rate matters more than anything else. Rather than guessing, run a range test: train for a few \
hundred steps while the rate grows exponentially and watch the loss. The useful rates are where the loss falls \
fastest, a little below where it blows up. The plot on this page is that test on a real model, and the notes \
below say how its suggested rate then trained.

Let the rate change during training: a short linear warm-up keeps the first updates (when the weights and the \
optimizer statistics are still far from sensible) from blowing up, and a cosine or step decay at the end lets \
the model settle into a minimum instead of rattling around it.

Batch size and learning rate move together: a bigger batch gives a less noisy gradient, so it tolerates (and \
needs) a larger rate; when you change one, scale the other, roughly linearly, and check. Weight decay is the \
next knob: with SGD it is an L2 penalty; with Adam prefer the decoupled form (AdamW). The sweep below tries the \
combinations on a small problem.

Search rates, decays and similar scale parameters on a log scale, and prefer random search over a grid when \
several parameters interact. Watch the training and validation curves together: a gap that opens means \
regularize (more data, augmentation, decay, dropout, early stopping), two high curves mean a bigger model or \
longer training. Repeat the final comparison with a few seeds: differences smaller than the seed-to-seed spread \
are not differences."""

BODY_ZH = """\
每次只改一处，并保留一个基线。调参之前先让模型在少量样本上过拟合：如果在 20 张图片上都不能把训练损失\
降到接近零，问题在于 bug（标签、损失函数、数据管道），而不是超参数。

先对输入做归一化（见第 1、2 题），并使用与激活函数匹配的初始化（第 20 题）。这两步在调参之前就能消除\
大部分“损失不动”的情况。

学习率比其他任何超参数都重要。与其猜测，不如做一次学习率范围测试：训练几百步，让学习率按指数增长，\
同时观察损失。有用的学习率位于损失下降最快的地方，略低于损失开始爆炸的位置。本页的图就是在一个\
真实模型上做的这个测试，下面的说明给出按它的建议值训练的结果。

让学习率在训练中变化：短暂的线性预热可以避免最初几步（权重和优化器统计量都还不合理时）发散，\
结尾处的余弦或阶梯衰减则让模型稳稳落入极小值，而不是在其附近来回震荡。

批大小与学习率要一起调：批越大，梯度噪声越小，能承受（也需要）更大的学习率；改变其中一个时，\
按大致线性的比例调整另一个，并加以验证。其次是权重衰减：SGD 中它等价于 L2 惩罚；用 Adam 时应优先\
使用解耦形式（AdamW）。下面的扫描在一个小问题上尝试了二者的各种组合。

学习率、衰减系数这类尺度参数应在对数尺度上搜索；多个参数相互影响时，随机搜索优于网格搜索。\
同时观察训练曲线和验证曲线：二者差距拉大说明需要正则化（更多数据、数据增强、权重衰减、dropout、\
早停），两条曲线都高则需要更大的模型或更长的训练。最后的比较要用几个随机种子重复：小于随机种子间\
波动的差异不算差异。"""


def mlp() -> Any:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


class LrLog(Callback):
    """Record the first param group's learning rate after every optimizer step."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_after_step(self, trainer: Any) -> None:
        self.lrs.append(float(trainer.optimizer.param_groups[0]["lr"]))


class TuningTips(Experiment):
    id = "q07-tuning-tips"
    questions = (7,)
    topic = "optimization"
    kind = "page"
    key_term = {"en": "learning-rate range test", "zh": "学习率范围测试"}
    answer = {"en": "Change one thing at a time and first make the model overfit a tiny batch, which rules out "
                "bugs. Then tune the learning rate with a range test, add warm-up and decay, move the rate "
                "with the batch size, and search at random rather than on a grid.",
              "zh": "每次只改一处，先让模型在极小的批量上过拟合，以排除程序错误。然后用范围测试调学习率，"
                "加上预热和衰减，让学习率随批量大小变化，用随机搜索而不是网格搜索。"}
    text = {
        "en": {
            "title": "Tuning a network: a short practical guide",
            "claim": "The seed answers this question only with two links to lists of tuning tips.",
            "method": "On an MLP for the digits: a learning-rate range test (SGD with momentum, 1e-5 to 10 over "
                      "120 steps); its suggested rate used with 10% linear warm-up and cosine decay against the "
                      "same rate held constant; and a sweep of batch size (16, 64, 256, learning rate scaled with "
                      "it) against weight decay (0, 1e-3, 1e-2).",
            "body": BODY_EN,
        },
        "zh": {
            "title": "神经网络调参：简明实用指南",
            "claim": "原文对这个问题只给出了两个调参技巧合集的链接。",
            "method": "在 digits 的 MLP 上：做一次学习率范围测试（带动量的 SGD，120 步内从 1e-5 增到 10）；"
                      "用测得的建议学习率配合 10% 的线性预热和余弦衰减训练，并与恒定学习率对比；"
                      "再扫描批大小（16、64、256，学习率随之缩放）与权重衰减（0、1e-3、1e-2）的组合。",
            "body": BODY_ZH,
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "suggested_lr": {"en": "learning rate suggested by the range test", "zh": "学习率范围测试建议的学习率"},
        "range_test_diverged": {"en": "range test reached divergence", "zh": "范围测试到达发散"},
        "range_test_last_lr": {"en": "last learning rate of the range test", "zh": "范围测试的最后学习率"},
        "val_acc_constant": {"en": "val accuracy, constant learning rate", "zh": "验证准确率（恒定学习率）"},
        "val_acc_warmup_cosine": {"en": "val accuracy, warm-up + cosine", "zh": "验证准确率（预热 + 余弦）"},
        "schedule_steps": {"en": "steps of the schedule", "zh": "调度总步数"},
        "schedule_warmup_steps": {"en": "warm-up steps", "zh": "预热步数"},
        "schedule_lr_first": {"en": "learning rate at the first step", "zh": "第一步的学习率"},
        "schedule_lr_warmup_end": {"en": "learning rate at the end of warm-up", "zh": "预热结束时的学习率"},
        "schedule_lr_mid_decay": {"en": "learning rate halfway through the decay", "zh": "衰减一半时的学习率"},
        "sweep_{b}_val_acc": {"en": "{b} val accuracy of the sweep", "zh": "搜索中{b}的验证准确率"},
        "sweep_{b}_batch": {"en": "batch size of the {b} run", "zh": "{b}运行的批大小"},
        "sweep_{b}_decay": {"en": "weight decay of the {b} run", "zh": "{b}运行的权重衰减"},
    }
    terms = {
        "best": {"en": "best", "zh": "最佳"},
        "worst": {"en": "worst", "zh": "最差"},
    }

    def measure(self, ctx: Context) -> Result:
        data = load_data("digits", ctx.pick(800, 1437, tiny=100), ctx.pick(360, 360, tiny=60), ctx.rng,
                         standardize=True)
        epochs = ctx.pick(4, 15, tiny=1)
        state = ctx.rng.bit_generator.state

        def gen() -> np.random.Generator:  # the same batches for every run
            g = np.random.default_rng()
            g.bit_generator.state = state
            return g

        rt = self._range_test(ctx.seed, data, gen())
        lr = float(rt.suggested_lr or 0.1)
        steps = epochs * -(-len(data.y_train) // 32)
        runs, lr_logs = self._schedules(ctx.seed, data, epochs, steps, lr, gen)
        grid = self._sweep(ctx.seed, data, epochs, gen)
        best = max(grid, key=lambda k: grid[k].val_acc)
        worst = min(grid, key=lambda k: grid[k].val_acc)
        lrs = lr_logs["warm-up + cosine"]
        warm = max(1, steps // 10)
        figures = {
            "suggested_lr": Figure(lr, "lr"),
            "range_test_diverged": Figure(float(bool(rt.diverged)), "flag"),
            "range_test_last_lr": Figure(rt.lrs[-1], "lr"),
            "val_acc_constant": Figure(runs["constant"].val_acc, "fraction"),
            "val_acc_warmup_cosine": Figure(runs["warm-up + cosine"].val_acc, "fraction"),
            "schedule_steps": Figure(len(lrs), "steps"),
            "schedule_warmup_steps": Figure(warm, "steps"),
            "schedule_lr_first": Figure(lrs[0], "lr"),
            "schedule_lr_warmup_end": Figure(lrs[warm - 1], "lr"),
            "schedule_lr_mid_decay": Figure(lrs[(warm + len(lrs)) // 2 - 1], "lr"),
            "sweep_best_val_acc": Figure(grid[best].val_acc, "fraction"),
            "sweep_best_batch": Figure(best[0], "samples"),
            "sweep_best_decay": Figure(best[1], ""),
            "sweep_worst_val_acc": Figure(min(f.val_acc for f in grid.values()), "fraction"),
            "sweep_worst_batch": Figure(worst[0], "samples"),
            "sweep_worst_decay": Figure(worst[1], ""),
        }
        notes = self.notes({k: f.value for k, f in figures.items()}, epochs)
        rows = [[b, wd, 0.05 * b / 64, f.train_acc, f.val_acc, f.train_acc - f.val_acc] for (b, wd), f in grid.items()]
        table = Table("sweep", ["batch", "weight decay", "lr", "train acc", "val acc", "gap"], rows,
                      {"en": f"SGD with momentum, {epochs} epochs, lr = 0.05 * B / 64.",
                       "zh": f"带动量的 SGD，训练 {epochs} 轮，lr = 0.05 * B / 64。"})
        return Result(figures=figures, tables=[table], notes=notes, series={
            "range_test": {"lrs": rt.lrs, "losses": rt.losses, "smoothed": rt.smoothed}, "lr": lr,
            "lr_logs": lr_logs, "run_acc": {k: f.val_acc for k, f in runs.items()},
            "grid_acc": {k: f.val_acc for k, f in grid.items()}})

    @staticmethod
    def _range_test(seed: int, data: Data, gen: np.random.Generator) -> Any:
        """1. The learning-rate range test of the MLP under SGD with momentum (1e-5 to 10 over 120 steps)."""
        cp.manual_seed(seed)
        model = mlp()
        opt = optim.SGD(model.parameters(), lr=1e-5, momentum=0.9)
        loader = DataLoader(ArrayDataset(data.x_train, data.y_train), batch_size=32, shuffle=True, rng=gen)
        batches = ((cp.tensor(x), cp.tensor(y)) for x, y in loader)
        return optim.lr_range_test(model, F.cross_entropy, opt, _repeat(loader, batches), start_lr=1e-5,
                                   end_lr=10.0, num_steps=120)

    @staticmethod
    def _schedules(seed: int, data: Data, epochs: int, steps: int, lr: float,
                   gen: Callable[[], np.random.Generator]) -> tuple[dict[str, Any], dict[str, list[float]]]:
        """2. A constant rate against linear warm-up (a tenth of the ``steps``) then cosine decay, both peaking at
        ``lr``: each run's fit and the rate it used at every step."""
        runs: dict[str, Any] = {}
        lr_logs: dict[str, list[float]] = {}
        for name in ("constant", "warm-up + cosine"):
            cp.manual_seed(seed)
            model = mlp()
            opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
            warm = max(1, steps // 10)
            def warm_cosine(base: float, w: int = warm) -> Any:
                return schedules.warmup("linear", w, base).then(schedules.cosine(base, steps - w))

            sched = lr_scheduler.ScheduleLR(opt, warm_cosine) if name != "constant" else None
            log = LrLog()
            runs[name] = fit(model, data, epochs, gen(), optimizer=opt, batch_size=32, scheduler=sched,
                             scheduler_interval="step", callbacks=[log])
            lr_logs[name] = log.lrs
        return runs, lr_logs

    @staticmethod
    def _sweep(seed: int, data: Data, epochs: int,
               gen: Callable[[], np.random.Generator]) -> dict[tuple[int, float], Any]:
        """3. Batch size x weight decay under SGD with momentum, lr = 0.05 * B / 64: each pair's fit."""
        grid: dict[tuple[int, float], Any] = {}
        for b in BATCHES:
            for wd in DECAYS:
                cp.manual_seed(seed)
                grid[b, wd] = fit(mlp(), data, epochs, gen(), lr=0.05 * b / 64, optimizer="momentum",
                                  batch_size=b, weight_decay=wd)
        return grid

    @staticmethod
    def notes(f: Mapping[str, float], epochs: int) -> dict[str, str]:
        """What this run measured, in sentences built from its figures."""
        div, last = f["range_test_diverged"] >= 0.5, f["range_test_last_lr"]
        div_en = (f"it stopped at {fmt(last)}, where the loss blew up" if div else
                  f"the loss never blew up up to {fmt(last)}")
        div_zh = f"在 {fmt(last)} 处损失爆炸而停止" if div else f"直到 {fmt(last)} 损失都没有爆炸"
        return {
            "en": f"The range test suggested a learning rate of {fmt(f['suggested_lr'])} ({div_en}). At that rate, "
                  f"{epochs} epochs of SGD with momentum reached validation accuracy {fmt(f['val_acc_constant'])} "
                  f"with the rate held constant and {fmt(f['val_acc_warmup_cosine'])} with "
                  f"{fmt(f['schedule_warmup_steps'])} warm-up steps and cosine decay over "
                  f"{fmt(f['schedule_steps'])} steps. In the sweep, batch "
                  f"{fmt(f['sweep_best_batch'])} with weight decay {fmt(f['sweep_best_decay'])} did best "
                  f"({fmt(f['sweep_best_val_acc'])}) and batch {fmt(f['sweep_worst_batch'])} with weight decay "
                  f"{fmt(f['sweep_worst_decay'])} worst ({fmt(f['sweep_worst_val_acc'])}); from one seed, so a "
                  f"difference within the seed-to-seed spread means nothing.",
            "zh": f"学习率范围测试建议的学习率为 {fmt(f['suggested_lr'])}（{div_zh}）。按此学习率用带动量的 SGD 训练 "
                  f"{epochs} 轮：恒定学习率的验证准确率为 {fmt(f['val_acc_constant'])}，"
                  f"{fmt(f['schedule_warmup_steps'])} 步预热加 {fmt(f['schedule_steps'])} 步余弦衰减为 "
                  f"{fmt(f['val_acc_warmup_cosine'])}。扫描中，批大小 {fmt(f['sweep_best_batch'])}、权重衰减 "
                  f"{fmt(f['sweep_best_decay'])} 最好（{fmt(f['sweep_best_val_acc'])}），批大小 "
                  f"{fmt(f['sweep_worst_batch'])}、权重衰减 {fmt(f['sweep_worst_decay'])} 最差"
                  f"（{fmt(f['sweep_worst_val_acc'])}）；这只是一个随机种子，小于随机种子间波动的差异没有意义。",
        }

    def draw(self, res: Result, ctx: Context) -> None:
        """The range test with its suggested rate, the two schedules, and the batch x weight decay grid."""
        rt: Mapping[str, Any] = res.series["range_test"]
        lr: float = res.series["lr"]
        lr_logs: Mapping[str, list[float]] = res.series["lr_logs"]
        run_acc: Mapping[str, float] = res.series["run_acc"]
        grid_acc: Mapping[tuple[int, float], float] = res.series["grid_acc"]
        fig, axes = ctx.figure(1, 3, size=(14, 3.9))
        axes[0].semilogx(rt["lrs"], rt["losses"], color="0.7", lw=1, label="loss per step")
        axes[0].semilogx(rt["lrs"], rt["smoothed"], color="C0", label="smoothed")
        axes[0].axvline(lr, color="C1", ls="--", label=tr(f"suggested {lr:.2g}", f"建议值 {lr:.2g}"))
        axes[0].set_ylim(0, 2 * max(rt["smoothed"][0], 1e-3))
        axes[0].set_title("learning-rate range test")
        axes[0].set_xlabel("learning rate")
        axes[0].set_ylabel("training loss")
        axes[0].legend(fontsize=7)
        for name, lrs in lr_logs.items():
            acc = run_acc[name]
            axes[1].plot(np.arange(1, len(lrs) + 1), lrs, label=tr(f"{name} (val acc {acc:.3f})",
                                                                   f"{name}（验证准确率 {acc:.3f}）"))
        axes[1].set_title("schedules used (same peak rate)")
        axes[1].set_xlabel("step")
        axes[1].set_ylabel("learning rate")
        axes[1].legend(fontsize=7)
        grid = np.array([[grid_acc[b, wd] for wd in DECAYS] for b in BATCHES])
        im = axes[2].imshow(grid, cmap="viridis", aspect="auto")
        for i in range(len(BATCHES)):
            for j in range(len(DECAYS)):
                light = grid[i, j] > (grid.min() + grid.max()) / 2  # dark text on the light end of viridis
                axes[2].text(j, i, f"{grid[i, j]:.3f}", ha="center", va="center", color="k" if light else "w",
                             fontsize=8)
        axes[2].set_xticks(range(len(DECAYS)), [str(w) for w in DECAYS])
        axes[2].set_yticks(range(len(BATCHES)), [str(b) for b in BATCHES])
        axes[2].set_xlabel("weight decay")
        axes[2].set_ylabel("batch size")
        axes[2].set_title("validation accuracy")
        axes[2].grid(False)
        fig.colorbar(im, ax=axes[2])
        ctx.save_figure(fig, "tuning", "Left: loss against learning rate in a range test with the suggested rate. "
                        "Middle: a constant rate and warm-up plus cosine decay at that rate. Right: validation "
                        "accuracy for batch size against weight decay.",
                        "左：学习率范围测试中损失随学习率的变化及建议值。中：该学习率下的恒定学习率与预热加余弦"
                        "衰减。右：批大小与权重衰减组合的验证准确率。")


def _repeat(loader: Any, first: Any) -> Any:
    """Batches as Tensors, epoch after epoch (the range test needs more steps than one epoch has)."""
    yield from first
    while True:
        for x, y in loader:
            yield cp.tensor(x), cp.tensor(y)
