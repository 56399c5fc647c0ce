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
from cvprimer.lab.plots import tr, tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "Learning curves": "学习曲线",
    "Dropout net as an ensemble": "把 Dropout 网络看作集成",
    "Validation loss of the ensemble": "集成的验证损失",
    "Monte-Carlo average of T masks": "T 个掩码的蒙特卡洛平均",
    "T (forward passes)": "T（前向次数）",
    "validation loss (nats)": "验证损失（奈特）",
})

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
    thresholds = {"max_gap_ratio": 0.7, "max_loss_gap_ratio": 0.8, "min_robust_gain": 0.01}
    reasons = {
        "max_gap_ratio": {"en": "Convention: a regularizer 'reduces over-fitting' when it cuts the "
                                "train/validation accuracy gap by at least 30% (dropout's gap at most 0.7 of the "
                                "plain net's); the paired ratio varies by about 0.005 across quick seeds "
                                "(measured 0.89-0.90), far below that margin.",
                          "zh": "约定：正则化把训练/验证准确率差距至少缩小 30%（dropout 的差距不超过对照的 0.7）"
                                "才算“减轻过拟合”；配对比值在快速模式各随机种子间波动约 0.005（实测 0.89-0.90），"
                                "远小于这一余量。"},
        "max_loss_gap_ratio": {"en": "Convention: at least a 20% cut of the validation-minus-training loss gap "
                                     "(a ratio of at most 0.8); the measured cut is 23-30% over 3 quick seeds "
                                     "(spread about 0.035).",
                               "zh": "约定：验证损失减训练损失的差距至少缩小 20%（比值不超过 0.8）；3 个快速模式随机"
                                     "种子"
                                     "实测缩小 23-30%（波动约 0.035）。"},
        "min_robust_gain": {"en": "Noise floor: the accuracy kept with half the hidden units removed, dropout "
                                  "minus plain, is 0.019-0.037 over 3 quick seeds (spread about 0.009); a gain must "
                                  "exceed 0.01, about one such spread above zero.",
                            "zh": "噪声下限：去掉一半隐藏单元后保留的准确率，dropout 减对照在 3 个快速模式随机种子上为 "
                                  "0.019-0.037（波动约 0.009）；提高须超过 0.01，约为零以上一个波动。"},
    }
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "co-adaptation (dropout as an implicit ensemble)", "zh": "共适应（dropout 作为隐式集成）"}
    key_figure = "half_units_acc_dropout"
    answer = {
        "confirmed": {
            "en": "Yes: dropout narrowed the train-validation gap and made units independent of each other; "
                  "with half the units removed the dropout net kept {half_units_acc_dropout} accuracy against "
                  "{half_units_acc_plain}.",
            "zh": "是的：dropout 缩小了训练与验证的差距，并让单元彼此独立；去掉一半单元后，"
                  "dropout 网络仍有 {half_units_acc_dropout} 的准确率，普通网络为 {half_units_acc_plain}。"},
        "nuanced": {
            "en": "Dropout's effects were mixed here: with half the hidden units removed the dropout net kept "
                  "{half_units_acc_dropout} accuracy against {half_units_acc_plain} for the plain one, and the "
                  "train-validation accuracy gap went from {gap_plain} to {gap_dropout}. Say dropout "
                  "regularizes and discourages co-adaptation, not that it always closes the gap.",
            "zh": "dropout 的效果这里有好有坏：去掉一半隐藏单元后，dropout 网络仍有 {half_units_acc_dropout} 的"
                  "准确率，普通网络为 {half_units_acc_plain}；训练与验证的准确率差距从 {gap_plain} 变为 "
                  "{gap_dropout}。回答时说 dropout 起正则化作用、抑制共适应，而不是说它总能缩小差距。"},
        "refuted": {
            "en": "Dropout neither closed the gap nor made units more robust here (half the units removed: "
                  "{half_units_acc_dropout} against {half_units_acc_plain}).",
            "zh": "这里 dropout 既没有缩小差距，也没有让单元更稳健（去掉一半单元后："
                  "{half_units_acc_dropout} 对 {half_units_acc_plain}）。"},
    }
    text = {
        "en": {
            "title": "Why does dropout reduce over-fitting?",
            "claim": "Dropout curbs over-fitting because it keeps the parameters from leaning too heavily on the "
                     "training data and breaks up co-adaptation between neurons, so that what the network learns "
                     "generalizes better.",
            "method": "Train the same MLP (784-256-256-10, Adam, lr 1e-3) on a small MNIST subset with and without "
                      "dropout (p = 0.5 after each hidden layer) from one initialization and the same batches. "
                      "Over-fitting: the train/validation gaps in accuracy and in loss. Co-adaptation: the "
                      "validation accuracy left when a random half of the second hidden layer's units is removed "
                      "at test time (the kept half rescaled by 2).",
            "beyond": "Beyond the seed: the dropout net as an ensemble (Monte-Carlo averaging over T random masks "
                      "against the single weight-scaled pass) and the mean |correlation| between hidden units.",
        },
        "zh": {
            "title": "dropout 为什么能减轻过拟合？",
            "claim": "Dropout 能抑制过拟合，是因为它让参数不至于过度依赖训练数据，并打破神经元之间的共适应，"
                     "使网络学到的东西泛化得更好。",
            "method": "在一个小的 MNIST 子集上，从同一初始化、用同样的批次，分别训练带与不带 dropout"
                      "（每个隐藏层后 p = 0.5）的同一个 MLP（784-256-256-10，Adam，学习率 1e-3）。过拟合：训练/验证"
                      "在准确率和损失上的差距。共适应：测试时随机去掉第二隐藏层一半单元（保留的一半乘以 2）后剩下的"
                      "验证准确率。",
            "beyond": "超出原文的部分：把 dropout 网络看作集成（对 T 个随机掩码做蒙特卡洛平均，与只做一次权重缩放"
                      "前向比较），以及隐藏单元之间的平均 |相关系数|。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "train_acc_{m}": {"en": "train accuracy, {m}", "zh": "训练准确率（{m}）"},
        "val_acc_{m}": {"en": "val accuracy, {m}", "zh": "验证准确率（{m}）"},
        "gap_{m}": {"en": "train - val gap, {m}", "zh": "训练与验证的差距（{m}）"},
        "half_units_acc_{m}": {"en": "val accuracy with half the units, {m}",
                               "zh": "只保留一半单元的验证准确率（{m}）"},
        "dead_frac_{m}": {"en": "share of dead units, {m}", "zh": "死亡单元比例（{m}）"},
        "val_loss_{m}": {"en": "val loss, {m}", "zh": "验证损失（{m}）"},
    }
    terms = {
        "weight_scaling": {"en": "weight scaling", "zh": "权重缩放"},
        "mc_1": {"en": "Monte Carlo, 1 pass", "zh": "蒙特卡洛（1 次）"},
        "mc_64": {"en": "Monte Carlo, 64 passes", "zh": "蒙特卡洛（64 次）"},
    }

    def measure(self, ctx: Context) -> Result:
        data = load_data("mnist_sample", ctx.pick(400, 1000, tiny=100), ctx.pick(500, 1000, tiny=100), ctx.rng)
        epochs = ctx.pick(20, 50, tiny=2)
        init = mlp(0.0).state_dict()
        runs: dict[str, Any] = {}
        for name, p in (("plain", 0.0), ("dropout", 0.5)):
            model = mlp(p)
            model.load_state_dict(init)
            res = fit(model, data, epochs, np.random.default_rng(ctx.seed), optimizer=optim.Adam(
                model.parameters(), lr=1e-3))
            runs[name] = (model, res)
        xv, yv = data.x_val, data.y_val
        ws_acc, ws_loss, mc_acc, mc_loss = self._test_time(runs["dropout"][0], xv, yv)
        figs: dict[str, Figure] = {}
        beyond: dict[str, Figure] = {}
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
            beyond[f"corr_{name}"] = Figure(corr, "mean |r|", {"en": f"mean |correlation| of hidden units, {name}",
                                                             "zh": f"隐藏单元间平均 |相关系数|，{name}"})
            figs[f"half_units_acc_{name}"] = Figure(half, "accuracy")
            beyond[f"dead_frac_{name}"] = Figure(float(np.mean(h.max(0) <= 0)), "fraction")
            rows.append([name, res.train_acc, res.val_acc, res.train_acc - res.val_acc, loss_gap, corr, full, half])
            ctx.progress.update()
        tmax = max(T_VALUES)
        beyond["val_acc_weight_scaling"] = Figure(ws_acc, "accuracy")
        beyond["val_acc_mc_1"] = Figure(mc_acc[1], "accuracy")
        beyond[f"val_acc_mc_{tmax}"] = Figure(mc_acc[tmax], "accuracy")
        beyond["val_loss_weight_scaling"] = Figure(ws_loss, "nats")
        beyond[f"val_loss_mc_{tmax}"] = Figure(mc_loss[tmax], "nats")
        return Result(figures=figs, beyond=beyond, tables=[
            Table("nets", ["net", "train acc", "val acc", "gap", "loss gap", "mean |r| hidden 2", "val acc",
                           "val acc, half the units"], rows,
                  {"en": f"{len(data.y_train)} training images, {epochs} epochs of Adam from the same "
                         f"initialization.",
                   "zh": f"{len(data.y_train)} 张训练图像，从同一初始化出发用 Adam 训练 {epochs} 轮。"}),
        ], beyond_tables=[
            Table("test_time", ["rule", "passes", "val acc", "val loss"],
                  [["weight scaling", 1, ws_acc, ws_loss]] + [["Monte-Carlo", t, mc_acc[t], mc_loss[t]]
                                                                for t in T_VALUES])],
            series={"curves": {name: (res.curve("train_acc"), res.curve("val_acc")) for name, (_, res) in runs.items()},
                    "mc_acc": mc_acc, "mc_loss": mc_loss, "ws_acc": ws_acc, "ws_loss": ws_loss})

    @staticmethod
    def _test_time(model: Any, xv: np.ndarray, yv: np.ndarray) -> tuple[float, float, dict[int, float],
                                                                         dict[int, float]]:
        """The dropout net's validation accuracy and log-loss under weight scaling (one eval-mode pass) and
        under Monte-Carlo dropout (the softmax averaged over T train-mode passes, one mask each, for each T in
        ``T_VALUES``): ``(ws_acc, ws_loss, {T: mc_acc}, {T: mc_loss})``."""
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
        return float((ws.argmax(1) == yv).mean()), log_loss(ws, yv), mc_acc, mc_loss

    def draw(self, res: Result, ctx: Context) -> None:
        mc_acc, mc_loss, ws_acc, ws_loss = (res.series[k] for k in ("mc_acc", "mc_loss", "ws_acc", "ws_loss"))
        fig, axes = ctx.figure(1, 3, size=(12.5, 3.4))
        for name, (train_acc, val_acc) in res.series["curves"].items():
            ep = np.arange(1, len(train_acc) + 1)
            line, = axes[0].plot(ep, train_acc, label=tr(f"{name}: train", f"{name}：训练"))
            axes[0].plot(ep, val_acc, ls="--", color=line.get_color(), label=tr(f"{name}: validation",
                                                                                             f"{name}：验证"))
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
                        "masks, with the single weight-scaled pass as a dashed line.",
                        "左：带与不带 dropout 时每轮的训练和验证准确率。中、右：对 T 个掩码做蒙特卡洛平均的"
                        "验证准确率和损失，虚线为只做一次权重缩放前向的结果。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        g0, g1 = figures["gap_plain"], figures["gap_dropout"]
        l0, l1 = figures["loss_gap_plain"], figures["loss_gap_dropout"]
        a0, a1 = figures["val_acc_plain"], figures["val_acc_dropout"]
        h0, h1 = figures["half_units_acc_plain"], figures["half_units_acc_dropout"]
        acc_gap_ok = g1 <= thresholds["max_gap_ratio"] * g0
        loss_gap_ok = l1 <= thresholds["max_loss_gap_ratio"] * l0
        robust_ok = h1 - h0 >= thresholds["min_robust_gain"]
        oks = (acc_gap_ok, loss_gap_ok, robust_ok)
        verdict = verdict_if(all(oks), nuanced=any(oks))
        yes = {True: "yes", False: "no"}
        shi = {True: "是", False: "否"}
        gc, lc, rg = (fmt(100 * (1 - thresholds["max_gap_ratio"])), fmt(100 * (1 - thresholds["max_loss_gap_ratio"])),
                      fmt(thresholds["min_robust_gain"]))
        return verdict, evidence(
            en=f"Dropout changes the train/validation accuracy gap from {fmt(g0)} to {fmt(g1)} ({gc}% cut required: "
               f"{yes[acc_gap_ok]}) and the loss gap from {fmt(l0)} to {fmt(l1)} nats ({lc}% cut required: "
               f"{yes[loss_gap_ok]}); validation accuracy {fmt(a0)} -> {fmt(a1)}. Co-adaptation: with half the "
               f"hidden units removed the dropout net keeps {fmt(h1)} accuracy vs {fmt(h0)} for the plain net "
               f"(a gain of at least {rg} required: {yes[robust_ok]}).",
            zh=f"Dropout 把训练/验证准确率差距从 {fmt(g0)} 变为 {fmt(g1)}（要求降低 {gc}%：{shi[acc_gap_ok]}），"
               f"损失差距从 {fmt(l0)} 变为 {fmt(l1)} nats（要求降低 {lc}%：{shi[loss_gap_ok]}）；验证准确率 "
               f"{fmt(a0)} -> {fmt(a1)}。共适应：去掉一半隐藏单元后，dropout 网络仍有 {fmt(h1)} 的准确率，"
               f"对照网络为 {fmt(h0)}（要求至少提高 {rg}：{shi[robust_ok]}）。")

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        ws, mc, mc1 = beyond["val_acc_weight_scaling"], beyond["val_acc_mc_64"], beyond["val_acc_mc_1"]
        c0, c1 = beyond["corr_plain"], beyond["corr_dropout"]
        rel = (c1 - c0) / max(abs(c0), 1e-12)
        move_en, move_zh = (("changes by less than 10%", "变化不到 10%") if abs(rel) < 0.1
                            else ("falls", "下降") if rel < 0 else ("rises", "上升"))
        return {"en": f"Averaging the softmax over 64 random dropout masks gives {fmt(mc)} validation accuracy "
                      f"(one mask: {fmt(mc1)}) against {fmt(ws)} for the single weight-scaled pass, a difference of "
                      f"{fmt(mc - ws)}. The mean |correlation| between second-layer units {move_en} with dropout "
                      f"({fmt(c0)} -> {fmt(c1)}).",
                "zh": f"对 64 个随机 dropout 掩码的 softmax 取平均，验证准确率为 {fmt(mc)}（单个掩码 {fmt(mc1)}），"
                      f"只做一次权重缩放前向为 {fmt(ws)}，相差 {fmt(mc - ws)}。加入 dropout 后，第二隐藏层单元间"
                      f"平均 |相关系数| {move_zh}（{fmt(c0)} -> {fmt(c1)}）。"}
