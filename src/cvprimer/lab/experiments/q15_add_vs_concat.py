"""Question 15: merging two branches by addition (ResNet) or by channel concatenation (Inception, DenseNet).

Measured (the seed's claim): the shape rules with our engine's own errors (addition of maps that differ in
channels or in height and width, concatenation of maps that differ in channels or in height and width), the
shape each merge returns, and whether the concatenated map holds both inputs unchanged.

Beyond the seed: how well the best linear map recovers one input from the sum; the parameters and MACs of the
layer after the merge (analyzer); the gradient each branch receives (autograd); that a layer after a
concatenation can reproduce the addition exactly (weights ``[W, W]``); a 1-channel map broadcast by addition; and
the validation accuracy of a small two-branch net merged either way on the scikit-learn digits (Adam, lr 3e-3).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.lab._convnets import cost, train_nets
from cvprimer.lab.common import load_data
from cvprimer.lab.experiment import (
    CONFIRMED,
    NUANCED,
    REFUTED,
    Context,
    Experiment,
    Figure,
    Result,
    Table,
    Text,
    evidence,
    fmt,
)
from cvprimer.lab.plots import tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "beyond the seed: digits, add vs concat": "原文之外：digits 上的相加与拼接",
    "|upstream gradient| (one pixel)": "|上游梯度|（一个像素）",
    "branch 1 receives (concat)": "分支 1 收到的（拼接）",
    "branch 2 receives (concat)": "分支 2 收到的（拼接）",
    "channel of the merged map": "合并后特征图的通道",
    "|gradient|": "|梯度|",
    "gradient through concat": "经过拼接的梯度",
    "add": "相加",
    "concat": "拼接",
})


class TwoBranch(nn.Module):
    """``merge(branch(x), x)`` followed by a 3x3 conv to ``c_next`` channels: ``mode`` "add" or "concat"."""

    def __init__(self, c: int, c_next: int, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.branch = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.next = nn.Conv2d(c if mode == "add" else 2 * c, c_next, 3, padding=1, bias=False)

    def forward(self, x: Any) -> Any:
        b = self.branch(x)
        return self.next(x + b if self.mode == "add" else cp.cat([x, b], 1))


def digits_net(mode: str, c: int = 16) -> Any:
    """Stem 3x3 conv on 1x8x8 digits, a two-branch block merged by ``mode``, pool, linear (10 classes)."""
    return nn.Sequential(nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), TwoBranch(c, 2 * c, mode), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * c * 16, 10))


def _outcome(fn: Any) -> tuple[tuple[int, ...] | None, str]:
    """The shape ``fn()`` returns, or None with the engine's error message."""
    try:
        shape = tuple(fn().shape)
        return shape, "ok: " + "x".join(map(str, shape))
    except ValueError as e:
        return None, str(e)


# the seed's shape rules: (case, what the seed says the merge gives: a shape, or None for "not allowed")
RULES = {
    "add_same_shape": {"en": "addition of two 32x8x8 maps keeps the shape", "zh": "两张 32x8x8 特征图相加，形状不变"},
    "add_channels_differ": {"en": "addition of 32 and 16 channels is not allowed", "zh": "32 通道与 16 通道不能相加"},
    "add_hw_differ": {"en": "addition of 8x8 and 4x4 maps is not allowed", "zh": "8x8 与 4x4 特征图不能相加"},
    "concat_channels_differ": {"en": "concatenation of 32 and 16 channels gives 48 channels",
                               "zh": "32 通道与 16 通道拼接得到 48 通道"},
    "concat_hw_differ": {"en": "concatenation of 8x8 and 4x4 maps is not allowed", "zh": "8x8 与 4x4 特征图不能拼接"},
    "concat_copy": {"en": "concatenation keeps both inputs unchanged", "zh": "拼接原样保留两个输入"},
}


class AddVsConcat(Experiment):
    id = "q15-add-vs-concat"
    questions = (15,)
    topic = "architecture"
    thresholds = {"copy_tol": 0.0}
    reasons = {
        "copy_tol": {"en": "Theory: concatenation copies its inputs, so each input must come back bit for bit from "
                           "its channel slice; any difference at all means the original features were changed.",
                     "zh": "理论：拼接只是复制输入，因此每个输入都应从其通道切片中逐位原样取回；"
                           "任何差异都说明原始特征被改变了。"},
    }
    reachable = (CONFIRMED, NUANCED, REFUTED)
    key_term = {"en": "residual addition versus dense concatenation", "zh": "残差相加与稠密拼接"}
    key_figure = "concat_copy_err"
    answer = {
        "confirmed": {
            "en": "Yes: addition needs identical shapes and keeps the channel count, concatenation needs only "
                  "equal height and width, adds up the channels and keeps both inputs intact (largest change "
                  "{concat_copy_err}); ResNet sums, DenseNet stacks.",
            "zh": "是的：相加要求形状完全相同并保持通道数，拼接只要求高和宽相同，通道数相加，两个输入原样保留（"
                  "最大变化 {concat_copy_err}）；ResNet 相加，DenseNet 拼接。"},
        "nuanced": {
            "en": "Most of the rules held, but not all (largest change of an input inside the concatenation "
                  "{concat_copy_err}); state the shape rules precisely.",
            "zh": "大部分规则成立，但不是全部（拼接中输入的最大变化 {concat_copy_err}）；"
                  "回答时要准确说明形状要求。"},
        "refuted": {
            "en": "The shape rules did not hold as stated here (largest change of an input inside the "
                  "concatenation {concat_copy_err}).",
            "zh": "这里形状规则并不如所说那样成立（拼接中输入的最大变化 {concat_copy_err}）。"},
    }
    text = {
        "en": {
            "title": "Addition vs concatenation of feature maps",
            "claim": "Both merge two branches. Addition (ResNet) sums two maps of identical shape element by element "
                     "and keeps that shape; concatenation (Inception, DenseNet) stacks the maps along the channel "
                     "axis, so only height and width must match, the channel count grows and the original features "
                     "are kept.",
            "method": "Try each merge on equal shapes, on maps that differ in channels and on maps that differ in "
                      "height and width, and record the shape our engine returns or the error it raises; check that "
                      "each input comes back unchanged from its channel slice of the concatenation.",
            "beyond": "How much of one input the best linear map recovers from the sum; the parameters and MACs of "
                      "the 3x3 layer after each merge; the gradient each branch receives (autograd); that a layer "
                      "after concatenation with weights [W, W] equals W after addition; addition of a 1-channel map "
                      "(broadcasting); and a small two-branch net trained on the digits both ways from the same "
                      "seed.",
        },
        "zh": {
            "title": "特征图相加与拼接",
            "claim": "两者都用来合并两个分支。相加（ResNet）要求两张特征图形状完全相同，逐元素求和，"
                     "形状不变；拼接（Inception、DenseNet）沿通道轴堆叠，只要求高和宽一致，"
                     "通道数增加，原有特征得以保留。",
            "method": "分别在形状相同、通道数不同、高宽不同的输入上尝试两种合并，记录引擎返回的形状或报出的错误；"
                      "检查每个输入能否从拼接结果中自己那段通道原样取回。",
            "beyond": "最优线性映射能从相加结果中恢复多少单个输入；两种合并之后那层 3x3 卷积的参数量与乘加次数；"
                      "各分支收到的梯度（自动求导）；拼接后用权重 [W, W] 的卷积等于相加后用 W 的卷积；"
                      "单通道特征图的相加（广播）；以及从同一随机种子用两种合并方式在 digits 上训练的小型双分支网络。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "add_recover_err": {"en": "error of recovering the inputs from their sum", "zh": "从相加结果恢复输入的误差"},
        "add_broadcasts_1ch": {"en": "add broadcasts a 1-channel map", "zh": "相加会广播单通道特征图"},
        "next_params_ratio": {"en": "next-layer parameters, concat / add", "zh": "下一层参数量（拼接 / 相加）"},
        "next_macs_ratio": {"en": "next-layer MACs, concat / add", "zh": "下一层 MACs（拼接 / 相加）"},
        "add_grad_err": {"en": "gradient through add vs identity, largest difference",
                         "zh": "相加的梯度与恒等梯度的最大差"},
        "concat_grad_err": {"en": "gradient through concat vs slicing, largest difference",
                            "zh": "拼接的梯度与切片梯度的最大差"},
        "concat_emulates_add_err": {"en": "concat + conv emulating add + conv, error",
                                    "zh": "拼接 + 卷积模拟相加 + 卷积的误差"},
        "acc_add": {"en": "val accuracy, add", "zh": "验证准确率（相加）"},
        "acc_concat": {"en": "val accuracy, concat", "zh": "验证准确率（拼接）"},
    }

    def measure(self, ctx: Context) -> Result:
        c, hw = 32, 8
        rng = ctx.rng  # each helper below draws from it in turn, in this order
        figs, rows, broadcasts = self._shape_rules(rng, c, hw)
        add_recover = self._recover_from_sum(rng)
        nxt = self._next_layer_cost()
        add_err, cat_err, paths = self._gradient_paths(rng, c, hw)
        emul_err = self._concat_emulates_add(rng, c, hw)
        data = load_data("digits", ctx.pick(900, 1437, 200), 360, ctx.rng)
        epochs = ctx.pick(3, 12, 1)
        fits = train_nets({m: functools.partial(digits_net, m) for m in ("add", "concat")}, data, epochs,
                          ctx.seed, ctx.rng, lr=3e-3)
        acc = {m: f.val_acc for m, f in fits.items()}
        beyond = {"add_recover_err": Figure(add_recover, "relative"),
                  "add_broadcasts_1ch": Figure(float(broadcasts), "bool"),
                  "next_params_ratio": Figure(nxt["concat"][0] / nxt["add"][0], "concat/add"),
                  "next_macs_ratio": Figure(nxt["concat"][1] / nxt["add"][1], "concat/add"),
                  "add_grad_err": Figure(add_err, "abs"),
                  "concat_grad_err": Figure(cat_err, "abs"),
                  "concat_emulates_add_err": Figure(emul_err, "relative"),
                  "acc_add": Figure(acc["add"], "accuracy"),
                  "acc_concat": Figure(acc["concat"], "accuracy")}
        return Result(
            figures=figs, beyond=beyond,
            tables=[Table("shapes", ["merge", "result or engine error"], rows,
                          {"en": "What our engine says to each merge.", "zh": "引擎对每种合并的反应。"})],
            beyond_tables=[Table("next_layer", ["merge", "next-layer params", "next-layer MACs"],
                                 [[m, *nxt[m]] for m in ("add", "concat")],
                                 {"en": "The 3x3 conv after a merge of two 16-channel 32x32 maps (to 32 channels).",
                                  "zh": "合并两张 16 通道 32x32 特征图之后、输出 32 通道的 3x3 卷积。"})],
            series={"curves": {m: f.curve("val_acc") for m, f in fits.items()}, "acc": acc, "c": c,
                    "cat_err": cat_err, **paths},
        )

    @staticmethod
    def _shape_rules(rng: np.random.Generator, c: int, hw: int) -> tuple[dict[str, Figure], list[list[str]], bool]:
        """The seed's shape rules tried on the engine (``rule_<case>``: 1 when the merge gives what the seed says)
        and the copy error of a concatenation; the table rows of each merge's outcome; and (beyond the seed)
        whether a 1-channel map broadcasts in an addition to ``c`` channels."""
        a, a2 = (cp.tensor(rng.standard_normal((1, c, hw, hw))) for _ in range(2))
        b16 = cp.tensor(rng.standard_normal((1, 16, hw, hw)))
        small = cp.tensor(rng.standard_normal((1, c, hw // 2, hw // 2)))
        cases = {"add_same_shape": (lambda: a + a2, (1, c, hw, hw)),
                 "add_channels_differ": (lambda: a + b16, None),
                 "add_hw_differ": (lambda: a + small, None),
                 "concat_channels_differ": (lambda: cp.cat([a, b16], 1), (1, c + 16, hw, hw)),
                 "concat_hw_differ": (lambda: cp.cat([a, small], 1), None)}
        figs: dict[str, Figure] = {}
        rows = []
        for name, (fn, expected) in cases.items():
            shape, msg = _outcome(fn)
            figs[f"rule_{name}"] = Figure(float(shape == expected), "holds", RULES[name])
            rows.append([RULES[name]["en"], msg])
        merged = cp.cat([a, b16], 1).data
        figs["concat_copy_err"] = Figure(max(np.abs(merged[:, :c] - a.data).max(),
                                             np.abs(merged[:, c:] - b16.data).max()), "abs", {
            "en": "largest change of either input inside the concatenation",
            "zh": "拼接结果中任一输入的最大变化"})
        bshape, bmsg = _outcome(lambda: a + cp.tensor(rng.standard_normal((1, 1, hw, hw))))
        rows.append(["beyond: add of 32 channels and 1 channel (broadcast)", bmsg])
        return figs, rows, bshape is not None

    @staticmethod
    def _recover_from_sum(rng: np.random.Generator) -> float:
        """Beyond the seed: relative error of the best linear recovery of one input from the sum of two
        (least squares over 4096 standard-normal draws)."""
        p1, p2 = rng.standard_normal((2, 4096))
        ssum = p1 + p2
        coef = float(ssum @ p1 / (ssum @ ssum))
        return float(np.linalg.norm(coef * ssum - p1) / np.linalg.norm(p1))

    @staticmethod
    def _next_layer_cost() -> dict[str, tuple[int, int]]:
        """Beyond the seed: (params, MACs) of the 16 -> 32-channel layer after each merge at 32x32 (the
        analyzer's rows named "next")."""
        nxt = {}
        for mode in ("add", "concat"):
            rep = cost(TwoBranch(16, 32, mode), (1, 16, 32, 32))["report"]
            row = next(r for r in rep.rows if r.name == "next")
            nxt[mode] = (row.params, row.macs)
        return nxt

    @staticmethod
    def _gradient_paths(rng: np.random.Generator, c: int, hw: int) -> tuple[float, float, dict[str, np.ndarray]]:
        """Beyond the seed (float64): the largest difference between what each input of an addition receives
        and the upstream gradient, the same for a concatenation and its slices, and one pixel's upstream
        gradient and branch gradients through the concatenation (for the plot)."""
        x1, x2 = (cp.tensor(rng.standard_normal((2, c, hw, hw)), requires_grad=True) for _ in range(2))
        g = rng.standard_normal((2, c, hw, hw))
        ((x1 + x2) * cp.tensor(g)).sum().backward()
        assert x1.grad is not None and x2.grad is not None  # (it requires grad and feeds the loss)
        add_err = max(np.abs(x1.grad.data - g).max(), np.abs(x2.grad.data - g).max())
        y1, y2 = (cp.tensor(rng.standard_normal((2, c, hw, hw)), requires_grad=True) for _ in range(2))
        g2 = rng.standard_normal((2, 2 * c, hw, hw))
        (cp.cat([y1, y2], 1) * cp.tensor(g2)).sum().backward()
        assert y1.grad is not None and y2.grad is not None  # (it requires grad and feeds the loss)
        cat_err = max(np.abs(y1.grad.data - g2[:, :c]).max(), np.abs(y2.grad.data - g2[:, c:]).max())
        return add_err, cat_err, {"upstream": g2[0, :, 0, 0], "branch1": y1.grad.data[0, :, 0, 0],
                                  "branch2": y2.grad.data[0, :, 0, 0]}

    @staticmethod
    def _concat_emulates_add(rng: np.random.Generator, c: int, hw: int) -> float:
        """Beyond the seed: relative error of concat followed by the kernel ``[W, W]`` against add followed by
        ``W`` (a 3x3 conv to 8 channels)."""
        w = cp.tensor(rng.standard_normal((8, c, 3, 3)))
        p, q = cp.tensor(rng.standard_normal((2, c, hw, hw))), cp.tensor(rng.standard_normal((2, c, hw, hw)))
        via_add = F.conv2d(p + q, w, padding=1).data
        via_cat = F.conv2d(cp.cat([p, q], 1), cp.cat([w, w], 1), padding=1).data
        return float(np.abs(via_add - via_cat).max() / np.abs(via_add).max())

    def draw(self, res: Result, ctx: Context) -> None:
        """The two digit nets' accuracy curves, and one pixel's gradient through the concatenation."""
        s = res.series
        c, acc, cat_err = s["c"], s["acc"], s["cat_err"]
        fig, axes = ctx.figure(1, 2, size=(9.5, 3.3))
        for m, curve in s["curves"].items():
            axes[0].plot(range(1, len(curve) + 1), curve, marker="o", label=m)
        axes[0].set(xlabel="epoch", ylabel="validation accuracy", title="beyond the seed: digits, add vs concat")
        axes[0].legend()
        ch = np.arange(2 * c)
        axes[1].plot(ch, np.abs(s["upstream"]), "k:", label="|upstream gradient| (one pixel)")
        axes[1].plot(ch[:c], np.abs(s["branch1"]), "o", ms=3, label="branch 1 receives (concat)")
        axes[1].plot(ch[c:], np.abs(s["branch2"]), "s", ms=3, label="branch 2 receives (concat)")
        axes[1].set(xlabel="channel of the merged map", ylabel="|gradient|", title="gradient through concat")
        axes[1].legend(fontsize=7)
        ctx.save_figure(fig, "add_concat", f"Left: validation accuracy per epoch of the add and concat nets on the "
                        f"digits (final {fmt(acc['add'])} and {fmt(acc['concat'])}). Right: one pixel's upstream "
                        f"gradient over the {2 * c} concatenated channels beside what each branch receives (largest "
                        f"difference from its slice {fmt(cat_err)}).",
                        f"左：相加与拼接两个网络在 digits 上每轮的验证精度（最终 {fmt(acc['add'])} 与 "
                        f"{fmt(acc['concat'])}）。右：某个像素在拼接后 {2 * c} 个通道上的上游梯度与各分支收到的梯度"
                        f"（与对应切片的最大差 {fmt(cat_err)}）。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol = thresholds["copy_tol"]
        checks = {k: figures[f"rule_{k}"] == 1.0 for k in RULES if k != "concat_copy"}
        checks["concat_copy"] = figures["concat_copy_err"] <= tol
        bad = [k for k, ok in checks.items() if not ok]
        verdict = CONFIRMED if not bad else REFUTED if len(bad) == len(checks) else NUANCED
        held = [k for k, ok in checks.items() if ok]

        def say(keys: list[str], lang: str) -> str:
            return ("; " if lang == "en" else "；").join(RULES[k][lang] for k in keys) or \
                ("none" if lang == "en" else "无")
        return verdict, evidence(
            en=f"Of {len(checks)} statements measured on our engine, {len(held)} hold "
               f"({say(held, 'en')}) and {len(bad)} fail ({say(bad, 'en')}). The largest change "
               f"of an input inside the concatenation is {fmt(figures['concat_copy_err'])} (above {fmt(tol)} fails).",
            zh=f"在引擎上检验的 {len(checks)} 条陈述中，{len(held)} 条成立（{say(held, 'zh')}），"
               f"{len(bad)} 条不成立（{say(bad, 'zh')}）。拼接结果中输入的最大变化为 "
               f"{fmt(figures['concat_copy_err'])}（超过 {fmt(tol)} 即不成立）。")

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        need = {"add_recover_err", "next_params_ratio", "next_macs_ratio", "add_grad_err", "concat_grad_err",
                "concat_emulates_add_err", "acc_add", "acc_concat", "add_broadcasts_1ch"}
        if not need <= set(beyond):
            return None
        b = beyond
        bc_en = "accepts" if b["add_broadcasts_1ch"] else "rejects"
        bc_zh = "接受" if b["add_broadcasts_1ch"] else "拒绝"
        return {"en": f"From the sum of two independent maps the best linear map recovers one of them with relative "
                      f"error {fmt(b['add_recover_err'])}. After concatenation the next 3x3 layer has "
                      f"{fmt(b['next_params_ratio'])}x the parameters and {fmt(b['next_macs_ratio'])}x the MACs. "
                      f"Addition hands each branch the upstream gradient (largest error {fmt(b['add_grad_err'])}); "
                      f"concatenation hands each its channel slice (largest error {fmt(b['concat_grad_err'])}); "
                      f"weights [W, W] after concatenation reproduce W after addition (relative error "
                      f"{fmt(b['concat_emulates_add_err'])}). Our addition {bc_en} a 1-channel map (broadcasting). "
                      f"Digits validation accuracy: add {fmt(b['acc_add'])}, concat {fmt(b['acc_concat'])}.",
                "zh": f"从两张独立特征图之和中，最优线性映射恢复其中一张的相对误差为 {fmt(b['add_recover_err'])}。"
                      f"拼接后下一层 3x3 卷积的参数量为相加时的 {fmt(b['next_params_ratio'])} 倍，乘加为 "
                      f"{fmt(b['next_macs_ratio'])} 倍。相加时各分支收到上游梯度本身（最大误差 "
                      f"{fmt(b['add_grad_err'])}）；拼接时各分支收到自己的通道切片（最大误差 "
                      f"{fmt(b['concat_grad_err'])}）；拼接后用 [W, W] 重现了相加后用 W（相对误差 "
                      f"{fmt(b['concat_emulates_add_err'])}）。我们的加法{bc_zh}单通道特征图（广播）。"
                      f"digits 验证精度：相加 {fmt(b['acc_add'])}，拼接 {fmt(b['acc_concat'])}。"}
