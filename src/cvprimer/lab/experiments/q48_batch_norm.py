"""Question 48: what batch normalization does.

Measured on the digits with a 6-layer ReLU MLP (He weights, plain SGD), with and without BatchNorm1d after each
hidden linear layer: a learning-rate sweep (the largest rate that still trains, and the steps until the training
loss falls below 0.5 at each net's best rate); per-layer pre-activation statistics at initialization and after training;
the difference between train-mode (batch statistics) and eval-mode (running statistics) outputs; and the trained
net's accuracy when it normalizes with the statistics of batches of 2, 8 and 64 samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cvprimer.analysis.timing import blas_threads
from cvprimer.core.function import no_grad
from cvprimer.core.tensor import Tensor
from cvprimer.lab._deepmlp import DeepMLP, StepLosses
from cvprimer.lab.common import accuracy, fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

DEPTH, WIDTH, LOSS_TARGET, STABLE_ACC = 6, 64, 0.5, 0.5


def largest_stable(lrs: list[float], final_acc: list[float], min_acc: float = STABLE_ACC) -> float:
    """The largest learning rate whose run ended with accuracy >= ``min_acc`` (0 when none did)."""
    ok = [lr for lr, a in zip(lrs, final_acc, strict=True) if np.isfinite(a) and a >= min_acc]
    return max(ok) if ok else 0.0


def preact_stats(model: DeepMLP, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each hidden linear layer's output (before BN and ReLU) on ``x``."""
    out: list[np.ndarray] = []
    handles = [lin.register_forward_hook(lambda m, i, o: out.append(o.data.copy())) for lin in model.linears()[:-1]]
    was = model.training
    model.eval()
    try:
        with no_grad(), np.errstate(all="ignore"):
            model(Tensor(x))
    finally:
        model.train(was)
        for h in handles:
            h.remove()
    return np.array([o.mean() for o in out]), np.array([o.std() for o in out])


def steps_to(losses: np.ndarray, target: float, window: int = 5) -> float:
    """First step (1-based) at which the running mean of the last ``window`` step losses is below ``target``;
    ``len(losses) + 1`` when it never is (censored)."""
    if len(losses) >= window:
        run = np.convolve(losses, np.ones(window) / window, mode="valid")
        hit = np.nonzero(run < target)[0]
        if hit.size:
            return float(hit[0] + window)
    return float(len(losses) + 1)


class BatchNormEffects(Experiment):
    id = "q48-batch-norm"
    questions = (48,)
    topic = "training"
    thresholds = {"min_step_speedup": 1.5, "min_lr_ratio": 3.0, "small_batch_gap": 0.2}
    text = {
        "en": {
            "title": "Batch normalization: faster, tolerates larger learning rates, depends on the batch",
            "claim": "As a network deepens, the distribution of each activation's input drifts toward the "
                     "saturated ends of the activation, so the lower layers' gradients vanish. Batch normalization "
                     "pulls the drifting distributions back to a standard one, so inputs stay where the activation "
                     "is sensitive: gradients grow, learning converges faster and vanishing gradients are avoided.",
            "method": "A 6-layer ReLU MLP (64 units, He weights) with and without BatchNorm1d after each hidden "
                      "linear layer, plain SGD on the digits. Learning rates 0.1 to 3: the largest that ends "
                      "with validation accuracy >= 0.5, and the steps until the training loss falls below 0.5 at "
                      "each net's best rate. Pre-activation "
                      "std per layer before and after training; train-mode vs eval-mode outputs, and the trained "
                      "BN net's accuracy when it normalizes with the statistics of batches of 2, 8 and 64.",
        },
        "zh": {
            "title": "批归一化：收敛更快、容忍更大的学习率，但依赖批大小",
            "claim": "网络加深时，激活函数输入的分布逐渐向取值区间的饱和端偏移，导致低层梯度消失。"
                     "批归一化把偏移的分布拉回标准分布，使输入落在激活函数敏感的区域，梯度变大，"
                     "收敛加快，并避免梯度消失。",
            "method": "6 层 ReLU MLP（64 个单元，He 初始化），在每个隐藏线性层后加或不加 BatchNorm1d，"
                      "在 digits 上用普通 SGD 训练。学习率从 0.1 到 3：记录最终验证准确率不低于 0.5 的最大学习率，"
                      "以及各自最佳学习率下训练损失降到 0.5 所需的步数。另测每层预激活的标准差（训练前后）、"
                      "训练模式与推理模式输出的差异，以及训练好的 BN 网络用 2、8、64 个样本的批统计量"
                      "归一化时的准确率。",
        },
    }

    def run(self, ctx: Context) -> Result:
        with blas_threads(1):  # small matrices: one BLAS thread is faster on a shared machine
            return self._measure(ctx)

    def _measure(self, ctx: Context) -> Result:
        data = load_data("digits", ctx.pick(400, 1400), 360, ctx.rng, standardize=True)
        seed = int(ctx.rng.integers(2**31))
        lrs = [0.1, 0.3, 1.0, 3.0]
        epochs = ctx.pick(4, 10)
        figures, rows, curves, best = {}, [], {}, {}
        stats: dict[str, Any] = {}
        for bn in (False, True):
            key = "bn" if bn else "plain"
            accs = []
            for lr in lrs:
                if accs and accs[-1] < STABLE_ACC:  # a smaller rate already failed: larger ones are not run
                    accs.append(float("nan"))
                    rows.append([key, lr, "not run (a smaller rate failed)", ""])
                    continue
                m = DeepMLP(DEPTH, WIDTH, "relu", "he", bn=bn, rng=np.random.default_rng(seed))
                if lr == lrs[0]:
                    stats[f"{key}_init"] = preact_stats(m, data.x_val)
                steps = StepLosses()
                with np.errstate(all="ignore"):
                    f = fit(m, data, epochs, np.random.default_rng(seed), lr=lr, optimizer="sgd", batch_size=32,
                            callbacks=[steps])
                c = f.curve("val_acc")
                to_loss = steps_to(np.asarray(steps.losses), LOSS_TARGET)
                accs.append(float(c[-1]))
                curves[(key, lr)] = c
                rows.append([key, lr, float(c[-1]), to_loss])
                if lr == lrs[0]:
                    stats[f"{key}_trained"] = preact_stats(m, data.x_val)
                if key not in best or c[-1] > best[key][1][-1]:
                    best[key] = (lr, c, m, to_loss)
            figures[f"largest_stable_lr_{key}"] = Figure(largest_stable(lrs, accs), "lr")
            figures[f"best_lr_{key}"] = Figure(best[key][0], "lr")
            figures[f"steps_to_target_{key}"] = Figure(best[key][3], "steps")
        figures["steps_run"] = Figure(len(steps.losses), "steps")
        figures["step_speedup"] = Figure(figures["steps_to_target_plain"].value
                                         / figures["steps_to_target_bn"].value, "x")
        figures["lr_ratio"] = Figure(figures["largest_stable_lr_bn"].value
                                     / max(figures["largest_stable_lr_plain"].value, 1e-12), "x")

        model = best["bn"][2]  # train mode (batch statistics) vs eval mode (running statistics)
        xb = Tensor(data.x_val)
        with no_grad():
            out_train = model.train()(xb).data
            out_eval = model.eval()(xb).data
        model.train()
        figures["train_eval_rel_diff"] = Figure(float(np.abs(out_train - out_eval).max() / np.abs(out_eval).max()),
                                                "relative")
        figures["val_acc_train_mode"] = Figure(float((out_train.argmax(1) == data.y_val).mean()), "fraction")
        figures["val_acc_eval_mode"] = Figure(accuracy(model, data.x_val, data.y_val), "fraction")

        # train mode on validation batches of size B: the output depends on which samples share the batch
        order = np.random.default_rng(seed).permutation(len(data.y_val))
        xv, yv = data.x_val[order], data.y_val[order]
        mode_rows = []
        with no_grad():
            for bs in (2, 8, 64):
                n = len(yv) // bs * bs
                pred = np.concatenate([model.train()(Tensor(xv[i:i + bs])).data.argmax(1) for i in range(0, n, bs)])
                mode_rows.append([f"train mode, B={bs}", float((pred == yv[:n]).mean())])
        model.train()
        figures["train_mode_acc_batch_2"] = Figure(mode_rows[0][1], "fraction")
        mode_rows.append(["eval mode (running statistics)", figures["val_acc_eval_mode"].value])

        figures["train_mode_acc_batch_8"] = Figure(mode_rows[1][1], "fraction")
        figures["bn_gain_batch_32"] = Figure(float(curves[("bn", lrs[0])][-1] - curves[("plain", lrs[0])][-1]),
                                             "accuracy")

        fig, axes = ctx.figure(1, 3, size=(13, 3.8))
        for (key, lr), c in curves.items():
            if lr in (0.1, 1.0, 3.0):
                axes[0].plot(np.arange(1, len(c) + 1), c, marker=".", ls="-" if key == "bn" else "--",
                             label=f"{'BN' if key == 'bn' else 'no BN'}, lr {lr:g}")
        axes[0].set_xlabel("epoch")
        axes[0].set_ylabel("validation accuracy")
        axes[0].set_title("Training with and without BN")
        axes[0].legend(fontsize=7)
        layers = np.arange(1, DEPTH)
        for k, st in stats.items():
            lab = {"plain_init": "init (same weights for both)", "plain_trained": "no BN, trained",
                   "bn_trained": "BN, trained"}.get(k)
            if lab:
                axes[1].plot(layers, st[1], marker="o", ls="-" if k.startswith("bn") else "--", label=lab)
        axes[1].set_xlabel("hidden linear layer")
        axes[1].set_ylabel("std of pre-activation (before BN)")
        axes[1].set_title("Pre-activation spread per layer (lr 0.1)")
        axes[1].legend(fontsize=7)
        names = [r[0] for r in mode_rows]
        axes[2].barh(np.arange(len(names)), [r[1] for r in mode_rows], color="#9467bd")
        axes[2].set_yticks(np.arange(len(names)), names)
        axes[2].set_xlabel("validation accuracy of the trained BN net")
        axes[2].set_title("Same weights, statistics from the batch")
        ctx.save_figure(fig, "batch_norm", "Left: validation accuracy per epoch with and without batch norm at "
                        "learning rates 0.1, 1 and 3. Middle: standard deviation of each hidden layer's "
                        "pre-activation before and after training. Right: the trained batch-norm net's validation "
                        "accuracy when normalizing with the statistics of batches of 2, 8 and 64, and in eval mode.",
                        "左：学习率 0.1、1、3 时，有无批归一化每轮的验证准确率。中：训练前后各隐藏层预激活的标准差。"
                        "右：训练好的批归一化网络分别用 2、8、64 个样本的批统计量归一化时，"
                        "以及在推理模式下的验证准确率。")
        return Result(figures=figures, tables=[
            Table("lr_sweep", ["net", "lr", "final val acc", f"steps to loss {LOSS_TARGET}"], rows,
                  {"en": f"Learning-rate sweep ({epochs} epochs, batch 32); {len(steps.losses) + 1} steps = never "
                         f"reached (running mean of 5 step losses).",
                   "zh": f"学习率扫描（{epochs} 轮，批大小 32）；{len(steps.losses) + 1} 步表示未达到"
                         f"（5 步损失的滑动平均）。"}),
            Table("modes", ["normalization statistics", "val acc"], mode_rows,
                  {"en": "The trained BN net evaluated with batch statistics of different batch sizes.",
                   "zh": "训练好的 BN 网络在不同批大小的批统计量下的表现。"})])

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        f, t = figures, thresholds
        fast = f["step_speedup"] >= t["min_step_speedup"]
        tolerant = f["lr_ratio"] >= t["min_lr_ratio"]
        tiny_drop = f["val_acc_eval_mode"] - f["train_mode_acc_batch_2"]
        tiny_hurts = tiny_drop >= t["small_batch_gap"]
        verdict = verdict_if(fast and tolerant and not tiny_hurts, nuanced=fast or tolerant)
        low = " at least" if f["steps_to_target_plain"] > f["steps_run"] else ""
        low_zh = "至少" if low else ""
        en = (f"With batch norm the training loss falls below {fmt(LOSS_TARGET)}{low} {fmt(f['step_speedup'])}x "
              f"sooner (each net at its best learning rate; threshold {fmt(t['min_step_speedup'])}x) and the net "
              f"still trains at learning rate {fmt(f['largest_stable_lr_bn'])} against "
              f"{fmt(f['largest_stable_lr_plain'])} without ({fmt(f['lr_ratio'])}x, threshold "
              f"{fmt(t['min_lr_ratio'])}x). ")
        zh = (f"加入批归一化后，训练损失降到 {fmt(LOSS_TARGET)} 以下的速度{low_zh}快 {fmt(f['step_speedup'])} 倍"
              f"（各自取最佳学习率；阈值 {fmt(t['min_step_speedup'])} 倍），可训练的最大学习率为 "
              f"{fmt(f['largest_stable_lr_bn'])}，不加时为 {fmt(f['largest_stable_lr_plain'])}"
              f"（{fmt(f['lr_ratio'])} 倍，阈值 {fmt(t['min_lr_ratio'])} 倍）。")
        d32 = f["bn_gain_batch_32"]
        en += (f"At lr 0.1 and batch 32, BN {'gains' if d32 >= 0 else 'costs'} {fmt(100 * abs(d32))} points of "
               f"validation accuracy. What the seed leaves out: BN makes a sample's output depend on the rest of its "
               f"batch. Train and eval mode outputs differ by {fmt(100 * f['train_eval_rel_diff'])}% of the output "
               f"scale, and the trained net normalized with the statistics of 2 samples scores "
               f"{fmt(100 * f['train_mode_acc_batch_2'])}% (8 samples: {fmt(100 * f['train_mode_acc_batch_8'])}%) "
               f"against {fmt(100 * f['val_acc_eval_mode'])}% in eval mode, a drop of {fmt(100 * tiny_drop)} points "
               f"(harm threshold {fmt(100 * t['small_batch_gap'])}): such noisy statistics are what training with "
               f"tiny batches uses. The seed's mechanism (undoing 'internal covariate shift' so activations leave "
               f"saturation) is debated: Santurkar et al. 2018 (arXiv:1805.11604) attribute the gains to a smoother "
               f"loss landscape, and these ReLU nets, which cannot saturate, gain all the same.")
        zh += (f"学习率 0.1、批大小 32 时，BN 使验证准确率{'上升' if d32 >= 0 else '下降'} {fmt(100 * abs(d32))} "
               f"个百分点。原文没有提到的是：BN 使样本的输出依赖于同一批中的其他样本。训练模式与推理模式的输出"
               f"相差输出尺度的 {fmt(100 * f['train_eval_rel_diff'])}%；训练好的网络用 2 个样本的批统计量归一化时"
               f"准确率为 {fmt(100 * f['train_mode_acc_batch_2'])}%"
               f"（8 个样本：{fmt(100 * f['train_mode_acc_batch_8'])}%），"
               f"推理模式为 {fmt(100 * f['val_acc_eval_mode'])}%，下降 {fmt(100 * tiny_drop)} 个百分点"
               f"（损害阈值 {fmt(100 * t['small_batch_gap'])}）：用极小批训练时用的正是这样嘈杂的统计量。"
               f"原文给出的机理（消除“内部协变量偏移”、让激活离开饱和区）仍有争议：Santurkar 等（2018，"
               f"arXiv:1805.11604）认为收益来自更平滑的损失曲面，而这里不会饱和的 ReLU 网络同样受益。")
        return verdict, evidence(en=en, zh=zh)
