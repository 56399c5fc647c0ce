"""Question 29: why does dropout reduce overfitting?

Measured on the MNIST sample with two MLPs (784-256-256-10, Adam) trained from the same initialization
and the same batches, without and with dropout (p = 0.5 after each hidden layer):

- the train/validation gap of each;
- the ensemble view: at test time, Monte-Carlo averaging of the softmax over T random dropout masks
  (T = 1 ... 64) against the weight-scaling rule (one pass with every unit kept; with inverted dropout the
  scaling was already done during training), in accuracy and validation loss;
- co-adaptation proxies on the second hidden layer: the mean |correlation| between units' activations on
  validation images, and how much accuracy survives when a random half of its units is removed at test
  time (the kept half rescaled by 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import nn, optim
from cvprimer.lab.common import fit, load_data, predict
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

T_VALUES = (1, 2, 4, 8, 16, 32, 64)


def mlp(p: float) -> Any:
    """784-256-256-10 ReLU MLP; dropout ``p`` after each hidden layer (``p = 0``: an Identity in its place, so
    both nets have the same layer indices)."""
    drop = (lambda: nn.Dropout(p)) if p else nn.Identity
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), drop(), nn.Linear(256, 256), nn.ReLU(),
                         drop(), nn.Linear(256, 10))


def hidden2(model: Any, x: np.ndarray) -> np.ndarray:
    """Activations after the second hidden ReLU (eval mode, no gradients)."""
    model.eval()
    with cp.no_grad():
        h = cp.Tensor(x)
        for layer in list(model)[:6]:
            h = layer(h)
    return h.data


def head(model: Any, h: np.ndarray) -> np.ndarray:
    """Logits from second-hidden-layer activations ``h``."""
    with cp.no_grad():
        return model[7](cp.Tensor(h)).data


def mean_abs_corr(h: np.ndarray) -> float:
    """Mean |Pearson correlation| over pairs of units that are not constant on ``h`` (rows are samples)."""
    h = h[:, h.std(0) > 1e-8].astype(np.float64)
    if h.shape[1] < 2:
        return float("nan")
    c = np.corrcoef(h, rowvar=False)
    iu = np.triu_indices(c.shape[0], 1)
    return float(np.abs(c[iu]).mean())


def log_loss(prob: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.clip(prob[np.arange(len(y)), y], 1e-12, None)).mean())


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


class DropoutWhy(Experiment):
    id = "q29-dropout"
    questions = (29,)
    topic = "regularization"
    thresholds = {"min_gap_cut": 0.3, "min_loss_gap_cut": 0.2, "min_robust_gain": 0.01, "max_mc_diff": 0.01}
    text = {
        "en": {
            "title": "Dropout: a smaller gap, an implicit ensemble, and co-adaptation",
            "claim": "Dropout fights overfitting because it stops the parameters from leaning too heavily on the "
                     "training data and breaks up complicated co-adaptations between neurons, so the network "
                     "generalizes better.",
            "method": "Train the same MLP on a small MNIST subset with and without dropout (p = 0.5) from one "
                      "initialization. Compare train/validation gaps; compare Monte-Carlo averaging over T dropout "
                      "masks with the single weight-scaled pass; measure co-adaptation on the second hidden layer "
                      "as the mean |correlation| between units and as accuracy after removing half the units.",
        },
        "zh": {
            "title": "Dropout：更小的差距、隐式集成与共适应",
            "claim": "Dropout 能抑制过拟合，是因为它让参数不过度依赖训练数据，"
                     "并拆散神经元之间彼此依赖、共同适应的关系，"
                     "从而提高泛化能力。",
            "method": "在一个小的 MNIST 子集上，从同一初始化出发分别训练带与不带 dropout（p = 0.5）的同一个 MLP。"
                      "比较训练/验证差距；比较对 T 个随机掩码做蒙特卡洛平均与只做一次权重缩放前向的结果；"
                      "在第二个隐藏层上用单元间平均 |相关系数| 以及去掉一半单元后的准确率来衡量共适应。",
        },
    }

    def run(self, ctx: Context) -> Result:
        data = load_data("mnist_sample", ctx.pick(400, 1000), ctx.pick(500, 1000), ctx.rng)
        epochs = ctx.pick(20, 50)
        init = mlp(0.0).state_dict()
        runs: dict[str, Any] = {}
        for name, p in (("plain", 0.0), ("dropout", 0.5)):
            model = mlp(p)
            model.load_state_dict(init)
            res = fit(model, data, epochs, np.random.default_rng(ctx.seed), optimizer=optim.Adam(
                model.parameters(), lr=1e-3))
            runs[name] = (model, res)
        xv, yv = data.x_val, data.y_val
        model = runs["dropout"][0]
        ws = softmax(predict(model, xv))
        # Monte-Carlo dropout: train mode (masks drawn) without gradients; one forward per mask
        model.train()
        samples = []
        with cp.no_grad():
            for _ in range(max(T_VALUES)):
                samples.append(softmax(model(cp.Tensor(xv)).data))
        model.eval()
        cum = np.cumsum(np.stack(samples), 0)
        mc_acc = {t: float((cum[t - 1].argmax(1) == yv).mean()) for t in T_VALUES}
        mc_loss = {t: log_loss(cum[t - 1] / t, yv) for t in T_VALUES}
        ws_acc, ws_loss = float((ws.argmax(1) == yv).mean()), log_loss(ws, yv)
        figs: dict[str, Figure] = {}
        rows = []
        rng = ctx.child_rng()
        for name, (m, res) in runs.items():
            h = hidden2(m, xv)
            corr = mean_abs_corr(h)
            accs = []
            for _ in range(5):
                keep = rng.permutation(h.shape[1]) < h.shape[1] // 2
                accs.append(float((head(m, h * keep * 2.0).argmax(1) == yv).mean()))
            full = float((head(m, h).argmax(1) == yv).mean())
            half = float(np.mean(accs))
            figs[f"train_acc_{name}"] = Figure(res.train_acc, "accuracy")
            figs[f"val_acc_{name}"] = Figure(res.val_acc, "accuracy")
            figs[f"gap_{name}"] = Figure(res.train_acc - res.val_acc, "accuracy")
            loss_gap = log_loss(softmax(predict(m, xv)), yv) - log_loss(softmax(predict(m, data.x_train)), data.y_train)
            figs[f"loss_gap_{name}"] = Figure(loss_gap, "nats", {"en": f"validation - training loss, {name}",
                                                                  "zh": f"验证损失减训练损失，{name}"})
            figs[f"corr_{name}"] = Figure(corr, "mean |r|", {"en": f"mean |correlation| of hidden units, {name}",
                                                             "zh": f"隐藏单元间平均 |相关系数|，{name}"})
            figs[f"half_units_acc_{name}"] = Figure(half, "accuracy")
            figs[f"dead_frac_{name}"] = Figure(float(np.mean(h.max(0) <= 0)), "fraction")
            rows.append([name, res.train_acc, res.val_acc, res.train_acc - res.val_acc, loss_gap, corr, full, half])
            ctx.progress.update()
        tmax = max(T_VALUES)
        figs["val_acc_weight_scaling"] = Figure(ws_acc, "accuracy")
        figs["val_acc_mc_1"] = Figure(mc_acc[1], "accuracy")
        figs[f"val_acc_mc_{tmax}"] = Figure(mc_acc[tmax], "accuracy")
        figs["val_loss_weight_scaling"] = Figure(ws_loss, "nats")
        figs[f"val_loss_mc_{tmax}"] = Figure(mc_loss[tmax], "nats")
        self._plot(ctx, runs, mc_acc, mc_loss, ws_acc, ws_loss)
        return Result(figures=figs, tables=[
            Table("nets", ["net", "train acc", "val acc", "gap", "loss gap", "mean |r| hidden 2", "val acc",
                           "val acc, half the units"], rows,
                  {"en": f"{len(data.y_train)} training images, {epochs} epochs of Adam from the same "
                         f"initialization.",
                   "zh": f"{len(data.y_train)} 张训练图像，从同一初始化出发用 Adam 训练 {epochs} 轮。"}),
            Table("test_time", ["rule", "passes", "val acc", "val loss"],
                  [["weight scaling", 1, ws_acc, ws_loss]] + [["Monte-Carlo", t, mc_acc[t], mc_loss[t]]
                                                                for t in T_VALUES])])

    @staticmethod
    def _plot(ctx: Context, runs: Mapping[str, Any], mc_acc: Mapping[int, float], mc_loss: Mapping[int, float],
              ws_acc: float, ws_loss: float) -> None:
        fig, axes = ctx.figure(1, 3, size=(12.5, 3.4))
        for name, (_, res) in runs.items():
            ep = np.arange(1, len(res.history) + 1)
            line, = axes[0].plot(ep, res.curve("train_acc"), label=f"{name}: train")
            axes[0].plot(ep, res.curve("val_acc"), ls="--", color=line.get_color(), label=f"{name}: validation")
        axes[0].set_xlabel("epoch")
        axes[0].set_ylabel("accuracy")
        axes[0].set_title("Learning curves")
        axes[0].legend(fontsize=7)
        ts = list(mc_acc)
        for ax, mc, ws, what in ((axes[1], mc_acc, ws_acc, "accuracy"), (axes[2], mc_loss, ws_loss, "loss (nats)")):
            ax.plot(ts, [mc[t] for t in ts], "o-", label="Monte-Carlo average of T masks")
            ax.axhline(ws, color="C1", ls="--", label="weight scaling (1 pass)")
            ax.set_xscale("log", base=2)
            ax.set_xlabel("T (forward passes)")
            ax.set_ylabel(f"validation {what}")
            ax.legend(fontsize=7)
        axes[1].set_title("Dropout net as an ensemble")
        axes[2].set_title("Validation loss of the ensemble")
        ctx.save_figure(fig, "dropout", "Left: training and validation accuracy per epoch with and without dropout. "
                        "Middle and right: validation accuracy and loss of Monte-Carlo dropout averaging over T "
                        "masks, approaching the single weight-scaled pass as T grows.",
                        "左：带与不带 dropout 时每轮的训练和验证准确率。中、右：对 T 个掩码做蒙特卡洛平均的"
                        "验证准确率和损失，随 T 增大逐渐接近只做一次权重缩放前向的结果。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        g0, g1 = figures["gap_plain"], figures["gap_dropout"]
        l0, l1 = figures["loss_gap_plain"], figures["loss_gap_dropout"]
        a0, a1 = figures["val_acc_plain"], figures["val_acc_dropout"]
        c0, c1 = figures["corr_plain"], figures["corr_dropout"]
        h0, h1 = figures["half_units_acc_plain"], figures["half_units_acc_dropout"]
        ws, mc = figures["val_acc_weight_scaling"], figures["val_acc_mc_64"]
        acc_gap_ok = g1 <= (1 - thresholds["min_gap_cut"]) * g0
        loss_gap_ok = l1 <= (1 - thresholds["min_loss_gap_cut"]) * l0
        robust_ok = h1 - h0 >= thresholds["min_robust_gain"]
        ens_ok = abs(mc - ws) <= thresholds["max_mc_diff"]
        verdict = verdict_if(acc_gap_ok and loss_gap_ok and robust_ok, nuanced=acc_gap_ok or loss_gap_ok or robust_ok)
        rel = (c1 - c0) / max(c0, 1e-12)
        move_en, move_zh = (("barely moves", "几乎不变") if abs(rel) < 0.1 else ("falls", "下降") if rel < 0
                            else ("rises", "上升"))
        yes = {True: "yes", False: "no"}
        shi = {True: "是", False: "否"}
        gc, lc, rg = (fmt(100 * thresholds["min_gap_cut"]), fmt(100 * thresholds["min_loss_gap_cut"]),
                      fmt(thresholds["min_robust_gain"]))
        return verdict, evidence(
            en=f"Dropout changes the train/validation accuracy gap from {fmt(g0)} to {fmt(g1)} ({gc}% cut required: "
               f"{yes[acc_gap_ok]}) and the loss gap from {fmt(l0)} to {fmt(l1)} nats ({lc}% cut required: "
               f"{yes[loss_gap_ok]}); validation accuracy {fmt(a0)} -> {fmt(a1)}. Averaging 64 random masks gives "
               f"{fmt(mc)} vs {fmt(ws)} for the single weight-scaled pass (within {fmt(thresholds['max_mc_diff'])}: "
               f"{yes[ens_ok]}): the net behaves as an ensemble of thinned nets. Co-adaptation: with half the hidden "
               f"units removed the dropout net keeps {fmt(h1)} accuracy vs {fmt(h0)} (a gain of {rg} required: "
               f"{yes[robust_ok]}), while the mean |correlation| between units {move_en} ({fmt(c0)} -> {fmt(c1)}): "
               f"units stop depending on particular partners by becoming redundant, not independent.",
            zh=f"Dropout 把训练/验证准确率差距从 {fmt(g0)} 变为 {fmt(g1)}（要求降低 {gc}%：{shi[acc_gap_ok]}），"
               f"损失差距从 {fmt(l0)} 变为 {fmt(l1)} nats（要求降低 {lc}%：{shi[loss_gap_ok]}）；验证准确率 "
               f"{fmt(a0)} -> {fmt(a1)}。对 64 个随机掩码取平均得到 {fmt(mc)}，只做一次权重缩放前向为 {fmt(ws)}"
               f"（相差不超过 {fmt(thresholds['max_mc_diff'])}：{shi[ens_ok]}）："
               f"网络的行为相当于许多“变瘦”子网络的集成。"
               f"共适应：去掉一半隐藏单元后，dropout 网络仍有 {fmt(h1)} 的准确率，对照网络为 {fmt(h0)}"
               f"（要求提高 {rg}：{shi[robust_ok]}），而单元间平均 |相关系数| {move_zh}（{fmt(c0)} -> {fmt(c1)}）："
               f"单元不再依赖特定搭档，靠的是变得冗余，而不是变得独立。")
