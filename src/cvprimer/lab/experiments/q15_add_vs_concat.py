"""Question 15: merging two branches by addition (ResNet) or by channel concatenation (Inception, DenseNet).

Measured: the shape rules with our engine's own errors; the parameters and MACs of the layer after the merge
(analyzer; concatenation doubles its input channels); the gradient each branch receives (autograd: addition
hands both branches the same upstream gradient, concatenation splits it by channels); that a layer after a
concatenation can reproduce the addition exactly (weights ``[W, W]``); and that a small residual-style net
merged either way learns the scikit-learn digits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.lab._convnets import cost, train_nets
from cvprimer.lab.common import load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if


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


def _outcome(fn: Any) -> tuple[bool, str]:
    try:
        return True, "ok: " + "x".join(map(str, fn().shape))
    except ValueError as e:
        return False, str(e)


class AddVsConcat(Experiment):
    id = "q15-add-vs-concat"
    questions = (15,)
    topic = "architecture"
    thresholds = {"grad_tol": 1e-12, "min_acc": 0.9}
    text = {
        "en": {
            "title": "Addition vs concatenation of feature maps",
            "claim": "Both merge two branches. Addition (ResNet) sums two maps of identical shape element by element "
                     "and keeps the channel count; concatenation (Inception, DenseNet) stacks the maps along the "
                     "channel axis, so only height and width must match, the channel count grows and the original "
                     "features stay separate for the next layer.",
            "method": "Try each merge on mismatched shapes and record our engine's errors; count the parameters "
                      "and MACs of the 3x3 layer after each merge with the analyzer; push a random upstream gradient "
                      "through each merge with autograd and compare what each branch receives; check that a layer "
                      "after concatenation with weights [W, W] equals W after addition; train a small two-branch "
                      "net on the digits both ways from the same seed.",
        },
        "zh": {
            "title": "特征图相加与拼接",
            "claim": "两者都用来合并两个分支。相加（ResNet）要求两张特征图形状完全相同，逐元素求和，"
                     "通道数不变；拼接（Inception、DenseNet）沿通道轴堆叠，只要求高和宽一致，"
                     "通道数增加，原始特征在下一层之前保持分离。",
            "method": "对形状不匹配的输入分别尝试两种合并，记录引擎报出的错误；用分析器统计合并之后那层 "
                      "3x3 卷积的参数量和乘加次数；用自动求导把随机的上游梯度传过两种合并，比较各分支"
                      "收到的梯度；验证拼接后用权重 [W, W] 的卷积等于相加后用 W 的卷积；"
                      "从同一随机种子用两种合并方式在 digits 数据集上训练一个小型双分支网络。",
        },
    }

    def run(self, ctx: Context) -> Result:
        c, hw = 32, 8
        a, b16, small = cp.randn(1, c, hw, hw), cp.randn(1, 16, hw, hw), cp.randn(1, c, hw // 2, hw // 2)
        cases = [("add, channels 32 vs 16", lambda: a + b16),
                 ("concat, channels 32 vs 16", lambda: cp.cat([a, b16], 1)),
                 ("add, 8x8 vs 4x4", lambda: a + small), ("concat, 8x8 vs 4x4", lambda: cp.cat([a, small], 1)),
                 ("add, 32 channels vs 1 (broadcast)", lambda: a + cp.randn(1, 1, hw, hw))]
        outcomes = [(name, *_outcome(fn)) for name, fn in cases]
        rules_ok = [ok for _, ok, _ in outcomes][:4] == [False, True, False, False]

        # the layer after the merge: 16 -> 32 channels at 32x32 (analyzer rows named "next")
        nxt = {}
        for mode in ("add", "concat"):
            rep = cost(TwoBranch(16, 32, mode), (1, 16, 32, 32))["report"]
            row = next(r for r in rep.rows if r.name == "next")
            nxt[mode] = (row.params, row.macs)

        # gradient paths (float64)
        rng = ctx.rng
        x1, x2 = (cp.tensor(rng.standard_normal((2, c, hw, hw)), requires_grad=True) for _ in range(2))
        g = rng.standard_normal((2, c, hw, hw))
        ((x1 + x2) * cp.tensor(g)).sum().backward()
        add_err = max(np.abs(x1.grad.data - g).max(), np.abs(x2.grad.data - g).max())
        y1, y2 = (cp.tensor(rng.standard_normal((2, c, hw, hw)), requires_grad=True) for _ in range(2))
        g2 = rng.standard_normal((2, 2 * c, hw, hw))
        (cp.cat([y1, y2], 1) * cp.tensor(g2)).sum().backward()
        cat_err = max(np.abs(y1.grad.data - g2[:, :c]).max(), np.abs(y2.grad.data - g2[:, c:]).max())
        cat_diff = float(np.abs(y1.grad.data - y2.grad.data).max())

        # concat followed by [W, W] reproduces add followed by W
        w = cp.tensor(rng.standard_normal((8, c, 3, 3)))
        p, q = cp.tensor(rng.standard_normal((2, c, hw, hw))), cp.tensor(rng.standard_normal((2, c, hw, hw)))
        via_add = F.conv2d(p + q, w, padding=1).data
        via_cat = F.conv2d(cp.cat([p, q], 1), cp.cat([w, w], 1), padding=1).data
        emul_err = float(np.abs(via_add - via_cat).max() / np.abs(via_add).max())

        data = load_data("digits", ctx.pick(900, 1437), 360, ctx.rng)
        fits = train_nets({m: (lambda m=m: digits_net(m)) for m in ("add", "concat")}, data, ctx.pick(3, 12),
                          ctx.seed, ctx.rng, lr=3e-3)
        acc = {m: f.val_acc for m, f in fits.items()}

        fig, axes = ctx.figure(1, 2, size=(9.5, 3.3))
        for m, f in fits.items():
            axes[0].plot(range(1, len(f.history) + 1), f.curve("val_acc"), marker="o", label=m)
        axes[0].set(xlabel="epoch", ylabel="validation accuracy", title="digits: two-branch net, add vs concat")
        axes[0].legend()
        ch = np.arange(2 * c)
        axes[1].plot(ch, np.abs(g2[0, :, 0, 0]), "k:", label="|upstream gradient| (one pixel)")
        axes[1].plot(ch[:c], np.abs(y1.grad.data[0, :, 0, 0]), "o", ms=3, label="branch 1 receives (concat)")
        axes[1].plot(ch[c:], np.abs(y2.grad.data[0, :, 0, 0]), "s", ms=3, label="branch 2 receives (concat)")
        axes[1].set(xlabel="channel of the merged map", ylabel="|gradient|",
                    title="concat splits the gradient by channel")
        axes[1].legend(fontsize=7)
        ctx.save_figure(fig, "add_concat", "Left: validation accuracy per epoch of the add and concat nets on the "
                        "digits. Right: one pixel's upstream gradient over the 64 concatenated channels; branch 1 "
                        "receives exactly the first 32 values, branch 2 the last 32.",
                        "左：相加与拼接两个网络在 digits 上每轮的验证精度。右：某个像素在拼接后 64 个通道上的"
                        "上游梯度；分支 1 恰好收到前 32 个值，分支 2 收到后 32 个。")
        return Result(
            figures={
                "shape_rules_hold": Figure(float(rules_ok), "bool"),
                "next_params_ratio": Figure(nxt["concat"][0] / nxt["add"][0], "concat/add"),
                "next_macs_ratio": Figure(nxt["concat"][1] / nxt["add"][1], "concat/add"),
                "add_grad_err": Figure(add_err, "abs"),
                "concat_grad_err": Figure(cat_err, "abs"),
                "concat_branch_grad_diff": Figure(cat_diff, "abs"),
                "concat_emulates_add_err": Figure(emul_err, "relative"),
                "acc_add": Figure(acc["add"], "accuracy"),
                "acc_concat": Figure(acc["concat"], "accuracy"),
            },
            tables=[Table("shapes", ["merge", "result or engine error"], [[n, msg] for n, _, msg in outcomes],
                          {"en": "What our engine says to each merge.", "zh": "引擎对每种合并的反应。"}),
                    Table("next_layer", ["merge", "next-layer params", "next-layer MACs"],
                          [[m, *nxt[m]] for m in ("add", "concat")],
                          {"en": "The 3x3 conv after a merge of two 16-channel 32x32 maps (to 32 channels).",
                           "zh": "合并两张 16 通道 32x32 特征图之后、输出 32 通道的 3x3 卷积。"})],
        )

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol, min_acc = thresholds["grad_tol"], thresholds["min_acc"]
        rules = figures["shape_rules_hold"] >= 0.5
        pr, mr = figures["next_params_ratio"], figures["next_macs_ratio"]
        ga, gc, gd = figures["add_grad_err"], figures["concat_grad_err"], figures["concat_branch_grad_diff"]
        aa, ac = figures["acc_add"], figures["acc_concat"]
        emul = figures["concat_emulates_add_err"]
        grads = ga <= tol and gc <= tol and gd > tol and emul <= tol
        both_learn = aa >= min_acc and ac >= min_acc
        rule_en = ("Shape rules as described: addition of 32 and 16 channels is rejected, concatenation accepts "
                   "it, and both reject 8x8 vs 4x4 (our add, like PyTorch's, still broadcasts a 1-channel map)."
                   if rules else "Shape rules NOT as described (see the table of engine errors).")
        rule_zh = ("形状规则与描述一致：32 通道与 16 通道相加被拒绝，拼接则可以；8x8 与 4x4 两者都被拒绝"
                   "（和 PyTorch 一样，我们的加法仍会广播单通道特征图）。" if rules else
                   "形状规则与描述不符（见引擎报错表）。")
        en = (f"{rule_en} After concatenation the next 3x3 layer has {fmt(pr)}x the parameters "
              f"and {fmt(mr)}x the MACs. Autograd: with addition each branch receives the upstream gradient itself "
              f"(max error {fmt(ga)}); with concatenation each receives its own channel slice (max error "
              f"{fmt(gc)}, tolerance {fmt(tol)}); a layer after concatenation with weights [W, W] reproduces W after "
              f"addition (relative error {fmt(emul)}), so concatenation can express addition. Validation "
              f"accuracy on the digits: add {fmt(aa)}, concat {fmt(ac)} (both needed >= {fmt(min_acc)}).")
        zh = (f"{rule_zh}拼接后下一层 "
              f"3x3 卷积的参数量为相加时的 {fmt(pr)} 倍，乘加次数为 {fmt(mr)} 倍。自动求导：相加时每个分支"
              f"收到的就是上游梯度本身（最大误差 {fmt(ga)}）；拼接时每个分支只收到自己那段通道的梯度"
              f"（最大误差 {fmt(gc)}，容差 {fmt(tol)}）；拼接后用权重 [W, W] 的卷积"
              f"重现了相加后用 W 的卷积（相对误差 {fmt(emul)}），即拼接可以表达相加。"
              f"digits 验证精度：相加 {fmt(aa)}，拼接 {fmt(ac)}"
              f"（要求均 >= {fmt(min_acc)}）。")
        if rules and grads and not both_learn:
            en += " The mechanics hold, but one of the nets did not learn the digits here."
            zh += " 机制成立，但这里有一个网络没有学好 digits。"
        ok = rules and grads
        return verdict_if(ok and both_learn, nuanced=ok), evidence(en=en, zh=zh)
