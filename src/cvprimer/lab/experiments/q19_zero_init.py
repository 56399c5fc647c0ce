"""Question 19: can a network whose weights start at zero be trained?

The seed's claim: with all-zero weights every input gives the same output, so the network cannot learn. Measured
on an MLP (64-32-32-10) on standardized digits with ReLU, tanh and sigmoid, all weights and biases zero, trained
with Adam (lr 1e-2, batch 32): the spread of the outputs across the validation inputs after training (zero when
every input gets the same output) and the validation accuracy. The claim holds for an activation when the outputs
stay identical for every input.

Beyond the seed (never passed to ``decide``): the same run from the library's default random initialization, with
only the hidden layers zero, only the output layer zero, and one constant (0.05) for every weight; which parameter
tensors moved and the numerical rank of every weight matrix after training (identical units give rank 1; in exact
arithmetic nothing breaks that symmetry, in floating point only rounding can).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import nn
from cvprimer.lab.common import fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "MLP 64-32-32-10 on digits, by initialization (Adam)": "digits 上的 MLP 64-32-32-10，按初始化方式（Adam）",
    "all zero": "全零",
    "constant": "常数",
    "random": "随机",
    "zero hidden": "隐藏层置零",
    "zero last": "最后一层置零",
})

ACTS: dict[str, Callable[[], Any]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
SCHEMES = ("random", "all_zero", "zero_hidden", "zero_last", "constant")
CONSTANT = 0.05


def mlp(act: Callable[[], Any]) -> Any:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), act(), nn.Linear(32, 32), act(), nn.Linear(32, 10))


def linears(model: Any) -> list[Any]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def apply_scheme(model: Any, scheme: str) -> Any:
    """Initialize ``model``'s Linear layers in place: ``random`` leaves the default, ``all_zero`` zeroes every
    weight and bias, ``zero_hidden`` the hidden layers', ``zero_last`` the output layer's, ``constant`` sets
    every weight to 0.05 and every bias to 0."""
    layers = linears(model)
    chosen = {"random": [], "all_zero": layers, "zero_hidden": layers[:-1], "zero_last": layers[-1:],
              "constant": layers}[scheme]
    for lin in chosen:
        if scheme == "constant":
            nn.init.constant_(lin.weight, CONSTANT)
        else:
            nn.init.zeros_(lin.weight)
        nn.init.zeros_(lin.bias)
    return model


def numerical_rank(w: np.ndarray, rtol: float = 1e-4) -> int:
    """Singular values above ``rtol`` times the largest (0 for an all-zero matrix)."""
    s = np.linalg.svd(np.asarray(w, np.float64), compute_uv=False)
    return int((s > rtol * s[0]).sum()) if s.size and s[0] > 0 else 0


def output_spread(model: Any, x: np.ndarray) -> float:
    """The largest standard deviation, over the inputs ``x``, of any output logit: 0 when every input gets the
    same output."""
    with cp.no_grad():
        y = model(cp.tensor(x)).data
    return float(np.asarray(y, np.float64).std(axis=0).max())


CHANCE = 0.1
LR, BATCH = 1e-2, 32


class ZeroInit(Experiment):
    id = "q19-zero-init"
    questions = (19,)
    topic = "training"
    thresholds = {"same_output_tol": 1e-6}
    reasons = {"same_output_tol": {
        "en": "Identical computations give bit-identical float32 outputs, so a network whose outputs are the same "
              "for every input shows a spread of exactly 0; 1e-6 sits a few float32 roundings (eps 1.2e-7 at "
              "logits of order 1) above that, far below the spread of any network whose outputs depend on the "
              "input.",
        "zh": "相同的计算给出逐位相同的 float32 输出，所以对所有输入输出都相同的网络，其离散度恰为 0；1e-6 只比它"
              "高出几次 float32 舍入（logits 量级为 1 时 eps 为 1.2e-7），远低于任何输出依赖输入的网络的离散度。"}}
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "symmetry breaking", "zh": "对称性破缺"}
    key_figure = "spread_all_zero_sigmoid"
    answer = {
        "confirmed": {
            "en": "Yes: with every weight at zero each input got the same output for every activation tried "
                  "(sigmoid net's output spread {spread_all_zero_sigmoid}); the units of a layer stay "
                  "identical, so initialize randomly.",
            "zh": "是的：所有权重为零时，试过的每种激活函数下所有输入都得到相同输出（"
                  "sigmoid 网络的输出离散度 {spread_all_zero_sigmoid}）；同一层的单元始终相同，"
                  "所以要随机初始化。"},
        "nuanced": {
            "en": "Refine it: with all-zero weights a ReLU or tanh net outputs the same for every input, since "
                  "f(0) = 0 stops every gradient, but a sigmoid net (f(0) = 0.5) does learn a little (output "
                  "spread {spread_all_zero_sigmoid}) while the units of each layer stay identical. The real "
                  "problem is symmetry, and random initialization breaks it.",
            "zh": "需要细化：权重全为零时，ReLU 或 tanh 网络对所有输入输出相同，因为 f(0) = 0 让所有梯度为零；"
                  "但 sigmoid 网络（f(0) = 0.5）确实能学到一点（输出离散度 {spread_all_zero_sigmoid}），"
                  "只是每层的单元始终完全相同。真正的问题是对称性，随机初始化打破它。"},
        "refuted": {
            "en": "'Cannot learn' is too strong: the outputs came to depend on the input with every activation "
                  "(sigmoid spread {spread_all_zero_sigmoid}); what zero init really costs is that the units "
                  "of a layer stay identical.",
            "zh": "“学不到东西”说得太绝对：每种激活函数下输出都开始随输入变化（sigmoid 离散度 "
                  "{spread_all_zero_sigmoid}）；零初始化真正的代价是同一层的单元始终相同。"},
    }
    text = {
        "en": {
            "title": "Can a network start from all-zero weights?",
            "claim": "If every weight starts at zero, the network gives the same output whatever the input and "
                     "so it cannot learn.",
            "method": "Train a 64-32-32-10 MLP on standardized digits with ReLU, tanh and sigmoid, every weight "
                      "and bias set to zero, with Adam (lr 1e-2, batch 32). After training, measure the spread of "
                      "the outputs across the validation digits (the largest standard deviation of a logit over "
                      "the inputs; zero means every input gets the same output) and the validation accuracy "
                      "(chance is 0.1). The claim holds for an activation when the spread stays within the "
                      "tolerance.",
            "beyond": "The same run from the default random initialization, with zero hidden layers only, with a "
                      "zero output layer only, and with one constant (0.05) for every weight; which parameter "
                      "tensors moved and the numerical rank of each weight matrix, to show what blocks learning.",
        },
        "zh": {
            "title": "权重全部从 0 开始，网络能训练吗？",
            "claim": "如果所有权重都从 0 开始，无论输入是什么网络都给出相同的输出，因此学不到东西。",
            "method": "在标准化的 digits 上训练 64-32-32-10 的 MLP（ReLU、tanh、sigmoid 三种激活），所有权重和偏置"
                      "都设为 0，用 Adam（学习率 1e-2，批大小 32）训练。训练后测量验证集上输出的离散度（各个 logit "
                      "在不同输入上的标准差的最大值；为 0 表示所有输入得到相同输出）和验证准确率（随机猜测为 0.1）。"
                      "离散度不超过容差时，说法对该激活函数成立。",
            "beyond": "同样的训练，另从默认随机初始化、仅隐藏层为零、仅输出层为零、所有权重取同一常数 0.05 开始；"
                      "记录哪些参数张量发生了变化以及每个权重矩阵的数值秩，以说明到底是什么阻止了学习。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "acc_{i}_{a}": {"en": "val accuracy, {i}, {a}", "zh": "验证准确率（{i}，{a}）"},
        "moved_{i}_{a}": {"en": "weight tensors that moved, {i}, {a}", "zh": "发生变化的权重张量（{i}，{a}）"},
        "hidden_rank_{i}_{a}": {"en": "rank of the hidden weights, {i}, {a}", "zh": "隐藏层权重的秩（{i}，{a}）"},
    }
    terms = {
        "all_zero": {"en": "all zero", "zh": "全零"},
        "random": {"en": "random", "zh": "随机"},
        "zero_hidden": {"en": "zero hidden layers", "zh": "隐藏层置零"},
        "zero_last": {"en": "zero last layer", "zh": "最后一层置零"},
        "constant": {"en": "constant", "zh": "常数"},
    }

    def measure(self, ctx: Context) -> Result:
        data = load_data("digits", ctx.pick(500, 1437, tiny=200), 360, ctx.rng, standardize=True)
        epochs = ctx.pick(6, 30, tiny=1)
        state = ctx.rng.bit_generator.state
        acc: dict[tuple[str, str], float] = {}
        spread: dict[str, float] = {}
        rows = []
        moved: dict[tuple[str, str], list[str]] = {}
        ranks: dict[tuple[str, str], list[int]] = {}
        for act_name, act in ACTS.items():
            for scheme in SCHEMES:
                cp.manual_seed(ctx.seed)
                model = apply_scheme(mlp(act), scheme)
                before = {n: p.data.copy() for n, p in model.named_parameters()}
                gen = np.random.default_rng()
                gen.bit_generator.state = state
                f = fit(model, data, epochs, gen, lr=LR, optimizer="adam", batch_size=BATCH)
                key = (act_name, scheme)
                acc[key] = f.val_acc
                if scheme == "all_zero":
                    spread[act_name] = output_spread(model, data.x_val)
                moved[key] = [n for n, p in model.named_parameters() if not np.array_equal(p.data, before[n])]
                ranks[key] = [numerical_rank(lin.weight.data) for lin in linears(model)]
                rows.append([act_name, scheme, f.val_acc, f.train_acc, ", ".join(moved[key]) or "none",
                             " / ".join(str(r) for r in ranks[key])])
        figures = {}
        for a in ACTS:
            figures[f"spread_all_zero_{a}"] = Figure(spread[a], "logit std", {
                "en": f"{a}, all zero: spread of the outputs over the inputs",
                "zh": f"{a} 全零：输出在不同输入上的离散度"})
            figures[f"acc_all_zero_{a}"] = Figure(acc[a, "all_zero"], "fraction")
        beyond = {f"acc_{s}_{a}": Figure(acc[a, s], "fraction") for a in ACTS for s in SCHEMES if s != "all_zero"}
        for a in ACTS:
            beyond[f"moved_all_zero_{a}"] = Figure(len(moved[a, "all_zero"]), "tensors")
            beyond[f"hidden_rank_all_zero_{a}"] = Figure(max(ranks[a, "all_zero"][:-1]), "")
            beyond[f"hidden_rank_constant_{a}"] = Figure(max(ranks[a, "constant"][:-1]), "")
        caption = {"en": f"After {epochs} epochs of Adam (lr {LR:g}, batch {BATCH}) on {len(data.y_train)} "
                         "standardized digits. Full rank is 32 / 32 / 10; 'moved' means the tensor differs from its "
                         "initial value.",
                   "zh": f"在 {len(data.y_train)} 张标准化 digits 上用 Adam（学习率 {LR:g}，批大小 {BATCH}）训练 "
                         f"{epochs} 轮后的结果。满秩为 32 / 32 / 10；“发生变化”指该参数张量与初值不同。"}
        cols = ["activation", "init", "val acc", "train acc", "parameters that moved", "rank of W1 / W2 / W3"]
        claim_rows = [r for r in rows if r[1] == "all_zero"]
        return Result(figures=figures, tables=[Table("all_zero", cols, claim_rows, caption)], beyond=beyond,
                      beyond_tables=[Table("other_inits", cols, [r for r in rows if r[1] != "all_zero"], caption)],
                      series={"acc": acc})

    def draw(self, res: Result, ctx: Context) -> None:
        """Validation accuracy of every initialization and activation, as grouped bars."""
        acc: Mapping[tuple[str, str], float] = res.series["acc"]
        fig, ax = ctx.figure(1, 1, size=(8, 3.6))
        width = 0.26
        x = np.arange(len(SCHEMES))
        for i, a in enumerate(ACTS):
            ax.bar(x + (i - 1) * width, [acc[a, s] for s in SCHEMES], width, label=a)
        ax.axhline(CHANCE, color="k", ls=":", lw=1, label="chance")
        ax.set_xticks(x, [s.replace("_", " ") for s in SCHEMES])
        ax.set_ylabel("validation accuracy")
        ax.set_ylim(0, 1)
        ax.set_title("MLP 64-32-32-10 on digits, by initialization (Adam)")
        ax.legend(ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.12))
        zero = ", ".join(f"{a} {acc[a, 'all_zero']:.2f}" for a in ACTS)
        rand = ", ".join(f"{a} {acc[a, 'random']:.2f}" for a in ACTS)
        ctx.save_figure(fig, "accuracy", f"Validation accuracy of the MLP for five initializations and three "
                        f"activations; all zero: {zero}; random: {rand}; the dotted line is chance.",
                        f"五种初始化、三种激活函数下 MLP 的验证准确率；全零：{zero}；随机：{rand}；"
                        "虚线为随机猜测水平。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol = thresholds["same_output_tol"]
        spread = {a: figures[f"spread_all_zero_{a}"] for a in ACTS}
        acc = {a: figures[f"acc_all_zero_{a}"] for a in ACTS}
        same = [a for a in ACTS if spread[a] <= tol]
        differ = [a for a in ACTS if a not in same]
        each_en = "; ".join(f"{a}: output spread {fmt(spread[a])}, accuracy {fmt(acc[a])}" for a in ACTS)
        each_zh = "；".join(f"{a}：输出离散度 {fmt(spread[a])}，准确率 {fmt(acc[a])}" for a in ACTS)
        en = (f"All weights zero, after training: {each_en} (same output for every input: spread <= {fmt(tol)}; "
              f"chance accuracy {fmt(CHANCE)}).")
        zh = (f"所有权重为零，训练后：{each_zh}（所有输入输出相同：离散度 <= {fmt(tol)}；"
              f"随机猜测准确率 {fmt(CHANCE)}）。")
        if same:
            en += (f" With {', '.join(same)} every input still gets the same output, as claimed (for these "
                   f"activations f(0) = 0: the hidden outputs stay zero and no weight receives a gradient).")
            zh += (f"{'、'.join(same)} 时所有输入仍得到相同的输出，与说法一致（这些激活函数 f(0) = 0："
                   f"隐藏层输出始终为零，没有权重得到梯度）。")
        if differ:
            en += (f" With {', '.join(differ)} the outputs do depend on the input, against the claim: the hidden "
                   f"units output f(0) != 0, so the weights receive gradients and move (the units of a layer "
                   f"start identical).")
            zh += (f"{'、'.join(differ)} 时输出确实随输入变化，与说法不符：隐藏单元输出 f(0) != 0，权重得到梯度并"
                   f"更新（同一层的单元起初完全相同）。")
        return verdict_if(not differ, nuanced=bool(same)), evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        def accs(s: str) -> tuple[str, str]:
            v = ", ".join(f"{a} {fmt(beyond[f'acc_{s}_{a}'])}" for a in ACTS)
            return v, v.replace(", ", "，")

        (r_en, r_zh), (l_en, l_zh), (c_en, c_zh), (h_en, h_zh) = (accs(s) for s in
                                                                  ("random", "zero_last", "constant", "zero_hidden"))
        rank_c = ", ".join(f"{a} {fmt(beyond[f'hidden_rank_constant_{a}'])}" for a in ACTS)
        moved = ", ".join(f"{a} {fmt(beyond[f'moved_all_zero_{a}'])}" for a in ACTS)
        return {"en": f"Validation accuracy from the default random init: {r_en}; output layer zero only: {l_en}; "
                      f"hidden layers zero only: {h_en}; every weight 0.05: {c_en} (largest hidden-weight rank "
                      f"{rank_c}, full 32). Parameter tensors that moved from all zero (of 6): {moved}.",
                "zh": f"默认随机初始化的验证准确率：{r_zh}；仅输出层为零：{l_zh}；仅隐藏层为零：{h_zh}；"
                      f"所有权重为 0.05：{c_zh}（隐藏层权重的最大秩 {rank_c.replace(', ', '，')}，满秩 32）。"
                      f"从全零开始发生变化的参数张量（共 6 个）：{moved.replace(', ', '，')}。"}
