"""Question 32: in multi-device (data-parallel) training, what is communicated — the mean, the max or the sum
of the gradients — and how do the copies of the parameters stay shared?

Measured in one process on a real batch of the MNIST sample split over two simulated devices (float64):
the average, the sum and the elementwise max of the per-device gradients against the gradient of the whole
batch for a mean-reduced loss (what the verdict rests on); then for real: two MPI processes (``mpiexec -n 2``
through :mod:`cvprimer.distributed`) all-reduce their gradients. Beyond the seed: the same with a sum-reduced loss,
a network with batch norm whose statistics are per device (each device normalizes its own half) against one whose
statistics cover the whole batch (synchronized batch norm, computed by normalizing the whole batch and
back-propagating each device's half of the loss), and the bytes one step sends.
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
from cvprimer.lab.plots import tr_table
from cvprimer.models import get_model

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "max relative difference from the whole-batch gradient": "与整批梯度的最大相对差",
    "what the devices should exchange": "设备之间应当交换什么",
    "2 MPI processes, mean loss\nall-reduce mean": "2 个 MPI 进程，损失取均值\nall-reduce 取均值",
    "2 MPI processes, mean loss\nall-reduce sum": "2 个 MPI 进程，损失取均值\nall-reduce 求和",
    "mean loss, BN over the whole batch (synchronized)\nmean over devices":
        "损失取均值，整批批归一化（同步）\n各设备取均值",
    "mean loss, BN per device\nmean over devices": "损失取均值，各设备单独批归一化\n各设备取均值",
    "mean-reduced loss\nmax over devices": "损失取均值\n各设备取最大值",
    "mean-reduced loss\nmean over devices": "损失取均值\n各设备取均值",
    "mean-reduced loss\nsum over devices": "损失取均值\n各设备求和",
    "sum-reduced loss\nmax over devices": "损失求和\n各设备取最大值",
    "sum-reduced loss\nmean over devices": "损失求和\n各设备取均值",
    "sum-reduced loss\nsum over devices": "损失求和\n各设备求和",
})


def _grad(net: Any, x: np.ndarray, y: np.ndarray, reduction: str) -> np.ndarray:
    """The flattened gradient of the cross-entropy over ``(x, y)`` with respect to every parameter."""
    net.zero_grad()
    F.cross_entropy(net(cp.tensor(x)), cp.tensor(y), reduction=reduction).backward()
    return np.concatenate([p.grad.data.ravel() for p in net.parameters()])


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def _grad_half_of_whole(net: Any, x: np.ndarray, y: np.ndarray, half: np.ndarray) -> np.ndarray:
    """One device's gradient under synchronized batch norm: the whole batch is normalized together (statistics
    over every device), and only this device's images enter its (mean-reduced) loss."""
    net.zero_grad()
    per = F.cross_entropy(net(cp.tensor(x)), cp.tensor(y), reduction="none")
    mask = np.zeros(len(y))
    mask[half] = 1.0 / len(half)
    (per * cp.tensor(mask)).sum().backward()
    return np.concatenate([p.grad.data.ravel() for p in net.parameters()])


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
    reasons = {
        "exact": {"en": "Round-off: float64 gradients of at most 128 images agree to about 1e-15 of their largest "
                        "entry when two computations are the same sum in another order; 1e-10 leaves five orders "
                        "of magnitude.",
                  "zh": "舍入误差：至多 128 张图像的 float64 梯度，若只是求和顺序不同，一致到最大分量的约 1e-15；"
                        "1e-10 留出五个数量级的余量。"},
        "different": {"en": "Theory: with a mean-reduced loss the sum over two devices is exactly twice the "
                            "whole-batch gradient (relative difference 1) and the elementwise max differs wherever "
                            "the devices' gradients differ; 0.05 is far above round-off and far below both.",
                      "zh": "理论：损失取 mean 时，两台设备梯度之和恰为整批梯度的两倍（相对差 1），逐元素最大值在"
                            "两台设备梯度不同的地方都有差异；0.05 远高于舍入误差，又远低于这两者。"},
    }
    reachable = ("confirmed", "refuted")
    key_term = {"en": "data parallelism with an all-reduce of the mean", "zh": "数据并行与求平均的 all-reduce"}
    key_figure = "sum_vs_big_mean_loss"
    answer = {
        "confirmed": {
            "en": "Yes: each device computes gradients on its slice and an all-reduce averages them; the "
                  "average equals the whole-batch gradient exactly, whereas the sum would be off by "
                  "{sum_vs_big_mean_loss} (relative) with a mean-reduced loss.",
            "zh": "是的：每个设备在自己那份数据上算梯度，再用 all-reduce 求平均；"
                  "平均值与整个批量的梯度完全相等，而在按均值归约的损失下求和会有 {sum_vs_big_mean_loss} 的相对"
                  "偏差。"},
        "refuted": {
            "en": "The averaged gradients did not reproduce the whole-batch step here (the sum is off by "
                  "{sum_vs_big_mean_loss}); check how the loss is reduced before the all-reduce.",
            "zh": "这里平均后的梯度没有重现整个批量的更新（求和偏差 {sum_vs_big_mean_loss}）；"
                  "应检查 all-reduce 之前损失是如何归约的。"},
    }
    text = {
        "en": {
            "title": "What data-parallel training communicates",
            "claim": "The usual answer to the seed's question (it gives only links): every device holds a copy of "
                     "the parameters, computes gradients on its own slice of the batch, and the devices exchange "
                     "and average those gradients (an all-reduce, the average rather than the sum or the maximum), "
                     "so every copy takes the same step, the step of the whole batch.",
            "method": "One real MNIST batch (32 images in quick mode, 128 in full) is split over two simulated "
                      "devices in float64. For LeNet-5 with the usual mean-reduced cross-entropy we compare the "
                      "mean, the sum and the elementwise maximum of the two devices' gradients with the gradient "
                      "of the whole batch. Then two real MPI processes run the same all-reduce through "
                      "cvprimer.distributed, when mpi4py and mpiexec are installed.",
            "beyond": "The same comparison with a sum-reduced loss; a small network with batch norm, with the "
                      "statistics computed per device and over the whole batch (synchronized batch norm); and the "
                      "bytes one step sends per process (a ring all-reduce sends 2(N-1)/N of the gradient buffer).",
        },
        "zh": {
            "title": "数据并行训练到底在设备之间传什么",
            "claim": "原文只给了参考链接，通常的答案是：每个设备保存一份参数，在自己那一份数据上算梯度，"
                     "设备之间交换这些梯度并取平均（all-reduce，取平均而不是求和或取最大值），"
                     "于是每份参数都走同一步，也就是用整批数据算出的那一步。",
            "method": "取一批真实的 MNIST 样本（快速模式 32 张，完整模式 128 张），在 float64 下平分给两个模拟"
                      "设备。对使用常规 mean 归约交叉熵的 LeNet-5，把两台设备梯度的平均、求和与逐元素最大值"
                      "分别与整批数据的梯度比较。若装有 mpi4py 和 mpiexec，再用 cvprimer.distributed 启动两个"
                      "真实的 MPI 进程做同样的 all-reduce。",
            "beyond": "损失取 sum 归约时的同样比较；一个带 BN 的小网络，统计量分别按设备计算和按整批计算"
                      "（同步 BN）；以及每一步每个进程发送的字节数（环形 all-reduce 发送梯度缓冲区的 2(N-1)/N）。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "{c}_vs_big_{r}_loss": {"en": "{c} of per-device gradients vs one big batch, {r} loss",
                                "zh": "各设备梯度取{c}与一个大批量的差（损失取{r}）"},
        "bn_per_device_vs_big": {"en": "per-device batch norm vs one big batch",
                                 "zh": "各设备单独批归一化与大批量的差"},
        "bn_synced_vs_big": {"en": "synchronized batch norm vs one big batch", "zh": "同步批归一化与大批量的差"},
        "gradient_bytes": {"en": "gradient size", "zh": "梯度大小"},
        "ring_bytes_per_rank": {"en": "bytes each rank sends in a ring all-reduce",
                                "zh": "环形 all-reduce 中每个进程发送的字节"},
    }
    terms = {
        "mean": {"en": "mean", "zh": "均值"},
        "sum": {"en": "sum", "zh": "求和"},
        "max": {"en": "max", "zh": "最大值"},
        "mpi_mean": {"en": "MPI-style mean", "zh": "MPI 式均值"},
    }

    def measure(self, ctx: Context) -> Result:
        n = ctx.pick(32, 128, tiny=16)
        data = load_data("mnist_sample", n_train=n, n_val=10, rng=ctx.rng)
        m = len(data.y_train) // 2 * 2  # a stratified draw may return a few images fewer than asked
        x, y = data.x_train[:m].astype(np.float64), data.y_train[:m]
        halves = [np.arange(m)[: m // 2], np.arange(m)[m // 2:]]
        net = get_model("lenet5", input_size=28, rng=np.random.default_rng(ctx.seed)).double()
        rows: list[list[Any]] = []
        figs: dict[str, Figure] = {}
        beyond: dict[str, Figure] = {}
        for reduction in ("mean", "sum"):
            big = _grad(net, x, y, reduction)
            parts = [_grad(net, x[h], y[h], reduction) for h in halves]
            combos = {"mean": (parts[0] + parts[1]) / 2, "sum": parts[0] + parts[1],
                      "max": np.maximum(parts[0], parts[1])}
            for how, g in combos.items():
                err = _rel(g, big)
                (figs if reduction == "mean" else beyond)[f"{how}_vs_big_{reduction}_loss"] = Figure(err, "relative")
                rows.append([f"{reduction}-reduced loss", f"{how} over devices", err])
        cp.manual_seed(ctx.seed)
        bn = _bn_net().double()
        bn.train()
        big = _grad(bn, x, y, "mean")
        per_device = (_grad(bn, x[halves[0]], y[halves[0]], "mean") + _grad(bn, x[halves[1]], y[halves[1]],
                                                                            "mean")) / 2
        synced = (_grad_half_of_whole(bn, x, y, halves[0]) + _grad_half_of_whole(bn, x, y, halves[1])) / 2
        beyond["bn_per_device_vs_big"] = Figure(_rel(per_device, big), "relative")
        beyond["bn_synced_vs_big"] = Figure(_rel(synced, big), "relative")
        rows.append(["mean loss, BN per device", "mean over devices", beyond["bn_per_device_vs_big"].value])
        rows.append(["mean loss, BN over the whole batch (synchronized)", "mean over devices",
                     beyond["bn_synced_vs_big"].value])

        from cvprimer.distributed import bytes_per_step

        b = bytes_per_step(get_model("lenet5"), 2)
        beyond["gradient_bytes"] = Figure(b["gradient_bytes"], "bytes")
        beyond["ring_bytes_per_rank"] = Figure(b["ring_bytes_per_rank"], "bytes")
        notes = self._real_mpi(figs, rows) if not ctx.tiny else None
        claim_rows = [r for r in rows if r[0] in ("mean-reduced loss", "2 MPI processes, mean loss")]
        other_rows = [r for r in rows if r not in claim_rows]
        return Result(figures=figs, beyond=beyond,
                      tables=[Table("combine", ["loss", "combined as", "max relative difference"], claim_rows,
                                    {"en": "Against the gradient of the whole batch.",
                                     "zh": "与整批数据梯度的差异。"})],
                      beyond_tables=[Table("combine_beyond", ["loss", "combined as", "max relative difference"],
                                           other_rows, {"en": "Against the gradient of the whole batch: a sum-reduced "
                                                              "loss and batch norm.",
                                                        "zh": "与整批数据梯度的差异：sum 归约的损失与 BN。"})],
                      notes=notes, series={"rows": rows})

    def draw(self, res: Result, ctx: Context) -> None:
        rows = res.series["rows"]  # every way of combining, in the order measured
        fig, ax = ctx.figure(size=(6.4, 3.4))
        labels = [f"{r[0]}\n{r[1]}" for r in rows]
        vals = [max(r[2], 1e-17) for r in rows]
        tol = self.thresholds["exact"]
        ax.barh(range(len(vals)), vals, color=["#2ca02c" if v <= tol else "#d62728" for v in vals])
        ax.set_xscale("log")
        ax.set_yticks(range(len(vals)), labels, fontsize=6)
        ax.invert_yaxis()
        ax.set_xlabel("max relative difference from the whole-batch gradient")
        ax.set_title("what the devices should exchange")
        match = [f"{r[0]}: {r[1]}" for r in rows if r[2] <= tol]
        ctx.save_figure(fig, "combine", "Bars on a log scale: the largest relative difference of each way of "
                        f"combining the devices' gradients from the whole-batch gradient; green (within {fmt(tol)}): "
                        f"{'; '.join(match) or 'none'}.",
                        "对数坐标的条形图：各种合并设备梯度的方式与整批梯度的最大相对差；绿色（在 "
                        f"{fmt(tol)} 以内）：{'；'.join(match) or '无'}。")

    @staticmethod
    def _real_mpi(figs: dict[str, Figure], rows: list[list[Any]]) -> Text | None:
        """Two real MPI ranks, when mpi4py and mpiexec are installed (the ``distributed`` extra)."""
        try:
            import mpi4py  # noqa: F401
            have_mpi4py = True
        except ImportError:
            have_mpi4py = False
        if not have_mpi4py or shutil.which("mpiexec") is None:
            return {"en": "mpi4py/mpiexec are not installed here (pip install 'cvprimer[distributed]'), so the "
                          "two-process part was skipped; the in-process figures above decide.",
                    "zh": "这里没有安装 mpi4py/mpiexec（pip install 'cvprimer[distributed]'），"
                          "因此跳过了双进程部分，结论由上面的进程内测量给出。"}
        from cvprimer.lab._q32_worker import gradient_agreement

        rep = gradient_agreement(ranks=2, batch_per_rank=8)
        figs["mpi_mean_vs_big_mean_loss"] = Figure(rep["mean_loss"]["mean_over_ranks"], "relative")
        rows.append(["2 MPI processes, mean loss", "all-reduce mean", rep["mean_loss"]["mean_over_ranks"]])
        rows.append(["2 MPI processes, mean loss", "all-reduce sum", rep["mean_loss"]["sum_over_ranks"]])
        return None

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        exact, diff = thresholds["exact"], thresholds["different"]
        mean, tot, mx = (figures["mean_vs_big_mean_loss"], figures["sum_vs_big_mean_loss"],
                         figures["max_vs_big_mean_loss"])
        mpi = figures.get("mpi_mean_vs_big_mean_loss")
        mean_ok, others_off = mean <= exact, tot >= diff and mx >= diff
        mpi_ok = mpi is None or mpi <= exact
        en = (f"With the usual mean-reduced loss the average of the two devices' gradients "
              f"{'equals' if mean_ok else 'does not equal'} the whole-batch gradient (max relative difference "
              f"{fmt(mean)}, within {fmt(exact)} counts as equal), while their sum is off by {fmt(tot)} and their "
              f"elementwise max by {fmt(mx)} (a difference of at least {fmt(diff)} counts as different). ")
        zh = (f"损失取常规的 mean 归约时，两台设备梯度的平均与整批梯度{'一致' if mean_ok else '不一致'}"
              f"（最大相对差 {fmt(mean)}，{fmt(exact)} 以内算一致），而求和差 {fmt(tot)}，逐元素最大值差 "
              f"{fmt(mx)}（差异达到 {fmt(diff)} 才算不同）。")
        if mpi is None:
            en += "The two-process run was not available; the in-process figures decide."
            zh += "双进程运行不可用，由进程内的测量给出结论。"
        else:
            en += f"Two real MPI processes {'reproduce' if mpi_ok else 'do not reproduce'} it ({fmt(mpi)})."
            zh += f"两个真实的 MPI 进程{'得到同样的结果' if mpi_ok else '没有得到同样的结果'}（{fmt(mpi)}）。"
        return verdict_if(mean_ok and others_off and mpi_ok), evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        b = beyond
        return {"en": f"With a sum-reduced loss the sum over devices is off by {fmt(b['sum_vs_big_sum_loss'])} and "
                      f"the mean by {fmt(b['mean_vs_big_sum_loss'])}. With batch norm computed per device the "
                      f"averaged gradient differs from the whole-batch one by {fmt(b['bn_per_device_vs_big'])}; with "
                      f"statistics over the whole batch (synchronized batch norm) by {fmt(b['bn_synced_vs_big'])}. "
                      f"One step's gradient buffer holds {fmt(b['gradient_bytes'])} bytes; a ring all-reduce over "
                      f"two processes sends {fmt(b['ring_bytes_per_rank'])} bytes per process.",
                "zh": f"损失取 sum 归约时，设备梯度求和差 {fmt(b['sum_vs_big_sum_loss'])}，平均差 "
                      f"{fmt(b['mean_vs_big_sum_loss'])}。各设备各自计算 BN 统计量时，平均后的梯度与整批梯度相差 "
                      f"{fmt(b['bn_per_device_vs_big'])}；统计量按整批计算（同步 BN）时相差 "
                      f"{fmt(b['bn_synced_vs_big'])}。一步的梯度缓冲区为 {fmt(b['gradient_bytes'])} 字节；两个进程"
                      f"的环形 all-reduce 每个进程发送 {fmt(b['ring_bytes_per_rank'])} 字节。"}
