"""Question 32: in multi-device (data-parallel) training, what is communicated — the mean, the max or the sum
of the gradients — and how do the copies of the parameters stay shared?

Measured in one process on a real batch of the MNIST sample split over two simulated devices (float64):
the average, the sum and the elementwise max of the per-device gradients against the gradient of the whole
batch, for a mean-reduced and a sum-reduced loss, and for a network with batch norm whose statistics are
per device (each device normalizes its own half) against one whose statistics cover the whole batch (what
synchronized batch norm computes). Then for real: two MPI processes (``mpiexec -n 2`` through
:mod:`cvprimer.distributed`) all-reduce their gradients, and the bytes one step sends are counted.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.lab.common import load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.models import get_model


def _grad(net: Any, x: np.ndarray, y: np.ndarray, reduction: str) -> np.ndarray:
    """The flattened gradient of the cross-entropy over ``(x, y)`` with respect to every parameter."""
    net.zero_grad()
    F.cross_entropy(net(cp.tensor(x)), cp.tensor(y), reduction=reduction).backward()
    return np.concatenate([p.grad.data.ravel() for p in net.parameters()])


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def _bn_net() -> Any:
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, 10))


class MultiDevice(Experiment):
    id = "q32-multi-device"
    questions = (32,)
    topic = "beyond"
    stochastic = False
    thresholds = {"exact": 1e-10, "different": 0.05}
    text = {
        "en": {
            "title": "What data-parallel training communicates",
            "claim": "The usual answer to the seed's question (it gives only links): every device holds a copy of "
                     "the parameters, computes gradients on its own slice of the batch, and the devices exchange "
                     "and average those gradients (an all-reduce), so every copy takes the same step, the step of "
                     "one large batch.",
            "method": "One real MNIST batch (32 images in quick mode, 128 in full) is split over two simulated "
                      "devices in float64. For LeNet-5 we compare the mean, the sum and the elementwise maximum of "
                      "the two devices' gradients with the gradient of the whole batch, once with a mean-reduced "
                      "and once with a sum-reduced loss; for a small network with batch norm we compare the mean "
                      "of the devices' gradients when each device normalizes with its own half's statistics, and "
                      "when the statistics cover the whole batch (what synchronized batch norm computes). Then two "
                      "real MPI processes run the same all-reduce through cvprimer.distributed, and the bytes one "
                      "step sends per process are counted (a ring all-reduce sends 2(N-1)/N of the gradient "
                      "buffer).",
        },
        "zh": {
            "title": "数据并行训练到底在设备之间传什么",
            "claim": "原文只给了参考链接，通常的答案是：每个设备保存一份参数，在自己那一份数据上算梯度，"
                     "设备之间交换这些梯度并取平均（all-reduce），于是每份参数都走同一步，"
                     "也就是用整个大批量算出的那一步。",
            "method": "取一批真实的 MNIST 样本（快速模式 32 张，完整模式 128 张），在 float64 下平分给两个模拟"
                      "设备。对 LeNet-5，把两台设备梯度的平均、求和与逐元素最大值分别与整批数据的梯度比较，"
                      "损失分别用 mean 和 sum 两种归约；对一个带 BN 的小网络，比较各设备用自己那一半数据的"
                      "统计量做归一化时的平均梯度，与用整批统计量（即同步 BN 的做法）时的平均梯度。然后用 "
                      "cvprimer.distributed 启动两个真实的 MPI 进程做同样的 all-reduce，并统计每一步每个"
                      "进程发送的字节数（环形 all-reduce 发送梯度缓冲区的 2(N-1)/N）。",
        },
    }

    def run(self, ctx: Context) -> Result:
        n = ctx.pick(32, 128)
        data = load_data("mnist_sample", n_train=n, n_val=10, rng=ctx.rng)
        m = len(data.y_train) // 2 * 2  # a stratified draw may return a few images fewer than asked
        x, y = data.x_train[:m].astype(np.float64), data.y_train[:m]
        halves = [np.arange(m)[: m // 2], np.arange(m)[m // 2:]]
        net = get_model("lenet5", input_size=28, rng=np.random.default_rng(ctx.seed)).double()
        rows, figs = [], {}
        for reduction in ("mean", "sum"):
            big = _grad(net, x, y, reduction)
            parts = [_grad(net, x[h], y[h], reduction) for h in halves]
            combos = {"mean": (parts[0] + parts[1]) / 2, "sum": parts[0] + parts[1],
                      "max": np.maximum(parts[0], parts[1])}
            for how, g in combos.items():
                err = _rel(g, big)
                figs[f"{how}_vs_big_{reduction}_loss"] = Figure(err, "relative")
                rows.append([f"{reduction}-reduced loss", f"{how} over devices", err])
        cp.manual_seed(ctx.seed)
        bn = _bn_net().double()
        bn.train()
        big = _grad(bn, x, y, "mean")
        per_device = (_grad(bn, x[halves[0]], y[halves[0]], "mean") + _grad(bn, x[halves[1]], y[halves[1]],
                                                                            "mean")) / 2
        figs["bn_per_device_vs_big"] = Figure(_rel(per_device, big), "relative")
        rows.append(["mean loss, BN per device", "mean over devices", figs["bn_per_device_vs_big"].value])
        rows.append(["mean loss, BN over the whole batch", "one large batch (synchronized BN)", 0.0])

        from cvprimer.distributed import bytes_per_step

        b = bytes_per_step(get_model("lenet5"), 2)
        figs["gradient_bytes"] = Figure(b["gradient_bytes"], "bytes")
        figs["ring_bytes_per_rank"] = Figure(b["ring_bytes_per_rank"], "bytes")
        notes = self._real_mpi(figs, rows)
        fig, ax = ctx.figure(size=(6.4, 3.4))
        labels = [f"{r[0]}\n{r[1]}" for r in rows[:-1]]
        vals = [max(r[2], 1e-17) for r in rows[:-1]]
        ax.barh(range(len(vals)), vals, color=["#2ca02c" if v < 1e-10 else "#d62728" for v in vals])
        ax.set_xscale("log")
        ax.set_yticks(range(len(vals)), labels, fontsize=6)
        ax.invert_yaxis()
        ax.set_xlabel("max relative difference from the whole-batch gradient")
        ax.set_title("what the devices should exchange")
        ctx.save_figure(fig, "combine", "Bars on a log scale: the mean of the devices' gradients matches the whole "
                        "batch for a mean loss, the sum matches for a sum loss, the max never does, and per-device "
                        "batch norm breaks the match.",
                        "对数坐标的条形图：损失取 mean 时设备梯度的平均与整批一致，损失取 sum 时求和一致，"
                        "逐元素最大值从不一致，各设备各自做 BN 时平均也不再一致。")
        return Result(figures=figs, tables=[Table("combine", ["loss", "combined as", "max relative difference"],
                                                  rows, {"en": "Against the gradient of the whole batch.",
                                                         "zh": "与整批数据梯度的差异。"})], notes=notes)

    @staticmethod
    def _real_mpi(figs: dict[str, Figure], rows: list[list[Any]]) -> Text | None:
        """Two real MPI ranks, when mpi4py and mpiexec are installed (the ``distributed`` extra)."""
        try:
            import mpi4py  # noqa: F401
        except ImportError:
            mpi4py = None
        if mpi4py is None or shutil.which("mpiexec") is None:
            return {"en": "mpi4py/mpiexec are not installed here (pip install 'cvprimer[distributed]'), so the "
                          "two-process part was skipped; the in-process figures above decide.",
                    "zh": "这里没有安装 mpi4py/mpiexec（pip install 'cvprimer[distributed]'），"
                          "因此跳过了双进程部分，结论由上面的进程内测量给出。"}
        from cvprimer.distributed import gradient_agreement

        rep = gradient_agreement(ranks=2, batch_per_rank=8)
        figs["mpi_mean_vs_big_mean_loss"] = Figure(rep["mean_loss"]["mean_over_ranks"], "relative")
        figs["mpi_sum_vs_big_mean_loss"] = Figure(rep["mean_loss"]["sum_over_ranks"], "relative")
        rows.append(["2 MPI processes, mean loss", "all-reduce mean", rep["mean_loss"]["mean_over_ranks"]])
        return None

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        exact, diff = thresholds["exact"], thresholds["different"]
        mean_ok = figures["mean_vs_big_mean_loss"] <= exact
        sum_case = figures["sum_vs_big_sum_loss"] <= exact and figures["mean_vs_big_sum_loss"] >= diff
        max_bad = figures["max_vs_big_mean_loss"] >= diff and figures["sum_vs_big_mean_loss"] >= diff
        mpi = figures.get("mpi_mean_vs_big_mean_loss")
        mpi_ok = mpi is None or mpi <= exact
        bn = figures["bn_per_device_vs_big"]
        en = (f"With a mean-reduced loss the average of the two devices' gradients equals the whole-batch gradient "
              f"(max relative difference {fmt(figures['mean_vs_big_mean_loss'])}, threshold {fmt(exact)}), while "
              f"their sum is off by {fmt(figures['sum_vs_big_mean_loss'])} and their elementwise max by "
              f"{fmt(figures['max_vs_big_mean_loss'])}. With a sum-reduced loss it is the sum that matches "
              f"({fmt(figures['sum_vs_big_sum_loss'])}) and the mean that is off "
              f"({fmt(figures['mean_vs_big_sum_loss'])}). ")
        zh = (f"损失取 mean 时，两台设备梯度的平均与整批梯度一致（最大相对差 {fmt(figures['mean_vs_big_mean_loss'])}，"
              f"阈值 {fmt(exact)}），而求和差 {fmt(figures['sum_vs_big_mean_loss'])}，逐元素最大值差 "
              f"{fmt(figures['max_vs_big_mean_loss'])}。损失取 sum 时反过来，求和一致"
              f"（{fmt(figures['sum_vs_big_sum_loss'])}），平均差 {fmt(figures['mean_vs_big_sum_loss'])}。")
        if mpi is not None:
            en += f"Two real MPI processes reproduce it ({fmt(mpi)}). "
            zh += f"两个真实的 MPI 进程得到同样的结果（{fmt(mpi)}）。"
        en += (f"With batch norm computed per device the averaged gradient differs from the large-batch one by "
               f"{fmt(bn)} (a difference of at least {fmt(diff)} counts): averaging gradients gives the large-batch "
               f"step only when the loss is a mean and batch statistics are synchronized.")
        zh += (f"若各设备各自计算 BN 统计量，平均后的梯度与大批量梯度相差 {fmt(bn)}（差异达到 {fmt(diff)} 即算不同）："
               f"只有损失是平均、BN 统计量同步时，梯度取平均才等于大批量的那一步。")
        ok = mean_ok and sum_case and max_bad and mpi_ok
        return verdict_if(ok and bn < diff, nuanced=ok), evidence(en=en, zh=zh)
