"""Question 50: attention in vision — does it "reduce computation"?

Measured: (1) a small CNN on the MNIST sample with squeeze-and-excitation (SE) blocks and with CBAM-style blocks
(SE channel gate + spatial gate) after each of its two convolutions: accuracy, parameters and MACs (analyzer),
and the channel weights the SE gates learn per digit class. (2) The MACs of single-head self-attention over the
H x W tokens of a C-channel map against a 3x3 convolution on the same map, from the analyzer and checked against
the formulas ``4 N C^2 + 2 N^2 C`` and ``9 N C^2`` (N = H W). (3) A tiny ViT trained briefly on the MNIST sample:
the class token's attention over the image patches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.lab._convnets import cost
from cvprimer.lab._vision import accuracy_of
from cvprimer.lab.common import Data, fit, load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.models import VisionTransformer

C_ATTN = 64  # channels of the map for the cost sweep


def gated_cnn(gate: str = "none", width: int = 8) -> Any:
    """The lab's small strided CNN (:func:`~cvprimer.lab._vision.small_cnn`: 5x5 stride-2 conv to ``width``,
    3x3 stride-2 conv to ``2 width``, linear head) with a gate after each convolution's ReLU: ``"none"``,
    ``"se"`` (squeeze-and-excitation, reduction 4) or ``"cbam"`` (SE's channel gate, then a 7x7 spatial
    gate)."""
    def gates(c: int) -> list[Any]:
        if gate == "none":
            return []
        se = [nn.SqueezeExcite(c, reduction=4)]
        return se if gate == "se" else se + [nn.SpatialGate(7)]

    if gate not in ("none", "se", "cbam"):
        raise ValueError(f"gated_cnn: gate must be 'none', 'se' or 'cbam', got {gate!r}")
    return nn.Sequential(nn.Conv2d(1, width, 5, stride=2, padding=2), nn.ReLU(), *gates(width),
                         nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(), *gates(2 * width),
                         nn.Flatten(), nn.Linear(2 * width * 49, 10))


class SelfAttention2d(nn.Module):
    """Single-head self-attention over the H W positions of a (N, C, H, W) map, back to (N, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(channels, 1, batch_first=True)

    def forward(self, x: Any) -> Any:
        n, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)  # (N, HW, C)
        y, _ = self.mha(t, t, t, need_weights=False)
        return y.transpose(1, 2).reshape(n, c, h, w)


def attention_vs_conv(sides: tuple[int, ...], c: int = C_ATTN) -> list[tuple[int, int, int, int, int]]:
    """``(tokens N, attention MACs from the analyzer, 3x3 conv MACs from the analyzer, attention formula,
    conv formula)`` for square maps of each side."""
    attn, conv = SelfAttention2d(c), nn.Conv2d(c, c, 3, padding=1, bias=False)
    rows = []
    for s in sides:
        n = s * s
        rows.append((n, cost(attn, (1, c, s, s))["macs"], cost(conv, (1, c, s, s))["macs"],
                     4 * n * c * c + 2 * n * n * c, 9 * n * c * c))
    return rows


def se_channel_weights(model: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean SE gate value per class and channel (classes x channels) of the *last* SqueezeExcite in ``model``
    on the images ``x``: ``sigmoid(fc2(relu(fc1(mean_hw(input)))))``, input captured by a forward hook."""
    se = [m for m in model.modules() if isinstance(m, nn.SqueezeExcite)][-1]
    seen = []
    handle = se.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach().numpy()))
    try:
        accuracy_of(model, x, y)
    finally:
        handle.remove()
    feat = np.concatenate(seen)
    with cp.no_grad():
        g = cp.tensor(feat.mean(axis=(2, 3)))
        gate = F.sigmoid(se.fc2(F.relu(se.fc1(g)))).numpy()
    return np.stack([gate[y == k].mean(0) for k in range(10)])


def vit_attention(vit: Any, x: np.ndarray) -> np.ndarray:
    """The class token's attention over the patches in the last encoder block (averaged over heads),
    (N, side, side), recomputing the ViT's forward with ``need_weights=True``."""
    with cp.no_grad():
        t = vit.conv_proj(cp.tensor(x))
        side = t.shape[-1]
        t = t.flatten(2).transpose(1, 2)
        t = cp.cat([vit.class_token.expand(len(x), -1, -1), t], dim=1) + vit.encoder.pos_embedding
        blocks = list(vit.encoder.layers)
        for b in blocks[:-1]:
            t = b(t)
        h = blocks[-1].ln_1(t)
        _, w = blocks[-1].self_attention(h, h, h, need_weights=True)
    return w.numpy()[:, 0, 1:].reshape(len(x), side, side)


class Attention(Experiment):
    id = "q50-attention"
    questions = (50,)
    topic = "architecture"
    thresholds = {"extra_macs_pct": 0.0, "attn_over_conv": 1.0}
    text = {
        "en": {
            "title": "Attention in CNNs: better features, not less computation",
            "claim": "Attention mechanisms (SE, CBAM, self-attention) let a network focus on the important "
                     "channels and regions, which improves accuracy and reduces computation.",
            "method": "Train the same small CNN on the MNIST sample plain, with SE gates and with CBAM-style "
                      "gates (SE + 7x7 spatial gate) after each of its two convolutions; compare accuracy, "
                      "parameters and MACs (analyzer) and show the SE channel weights per digit class. Count the "
                      f"MACs of single-head self-attention over the tokens of a {C_ATTN}-channel map against a "
                      "3x3 convolution as the map grows (analyzer, checked against the formulas). Train a tiny "
                      "ViT (patch 7, width 32, 2 blocks) briefly and show its class token's attention.",
        },
        "zh": {
            "title": "CNN 中的注意力：特征更好，但计算并不更少",
            "claim": "注意力机制（SE、CBAM、自注意力）让网络关注重要的通道和区域，从而提高准确率并减少计算量。",
            "method": "在 MNIST 样本上训练同一个小型 CNN 的三个版本：原始、两层卷积后各加 SE 门控、"
                      "加 CBAM 式门控（SE + 7x7 空间门控），比较准确率、参数量和乘加次数（分析器），"
                      "并展示 SE 对每个数字类别学到的通道权重。随特征图增大，用分析器统计单头自注意力"
                      f"（{C_ATTN} 通道特征图的所有位置作为 token）与 3x3 卷积的乘加次数，并与公式核对。"
                      "再简短训练一个微型 ViT（patch 7、宽度 32、2 个块），展示类别 token 的注意力。",
        },
    }

    def run(self, ctx: Context) -> Result:
        data = load_data("mnist_sample", ctx.pick(640, 4000), ctx.pick(400, 1000), ctx.rng)
        builders = {"plain": lambda: gated_cnn("none"), "SE": lambda: gated_cnn("se"),
                    "CBAM": lambda: gated_cnn("cbam")}
        lean = Data(data.x_train, data.y_train, data.x_val[:1], data.y_val[:1])  # validated once, at the end
        state = ctx.rng.bit_generator.state
        fits, models = {}, {}
        for name, build in builders.items():  # same init seed, same batches
            cp.manual_seed(ctx.seed)
            models[name] = build()
            gen = np.random.default_rng()
            gen.bit_generator.state = state
            fits[name] = fit(models[name], lean, ctx.pick(2, 8), gen, lr=3e-3)
            fits[name].val_acc = accuracy_of(models[name], data.x_val, data.y_val)
        costs = {n: cost(build(), (1, 1, 28, 28)) for n, build in builders.items()}
        gates = se_channel_weights(models["SE"], data.x_val, data.y_val)
        sides = ctx.pick((4, 8, 16, 32), (4, 8, 16, 32, 48, 64))
        sweep = attention_vs_conv(sides)
        formula_err = max(max(abs(a - fa) / fa, abs(c - fc) / fc) for _, a, c, fa, fc in sweep)
        vit, vit_acc = self._vit(ctx, data)
        self._plots(ctx, gates, sweep, vit, data)
        base = costs["plain"]["macs"]
        n_last, a_last, c_last = sweep[-1][:3]
        figures = {
            "acc_plain": Figure(fits["plain"].val_acc), "acc_se": Figure(fits["SE"].val_acc),
            "acc_cbam": Figure(fits["CBAM"].val_acc),
            "params_plain": Figure(costs["plain"]["params"], "parameters"),
            "params_se": Figure(costs["SE"]["params"], "parameters"),
            "params_cbam": Figure(costs["CBAM"]["params"], "parameters"),
            "macs_plain": Figure(base, "MACs"),
            "extra_macs_se_pct": Figure(100 * (costs["SE"]["macs"] - base) / base, "%"),
            "extra_macs_cbam_pct": Figure(100 * (costs["CBAM"]["macs"] - base) / base, "%"),
            "attn_over_conv_small": Figure(sweep[0][1] / sweep[0][2], "x",
                                           {"en": f"{sweep[0][0]} tokens", "zh": f"{sweep[0][0]} 个 token"}),
            "attn_over_conv_large": Figure(a_last / c_last, "x",
                                           {"en": f"{n_last} tokens", "zh": f"{n_last} 个 token"}),
            "tokens_large": Figure(n_last, "tokens"),
            "crossover_tokens": Figure(2.5 * C_ATTN, "tokens", {"en": "formula: N > 2.5 C",
                                                                "zh": "公式：N > 2.5 C"}),
            "formula_rel_err": Figure(formula_err, "relative"),
            "vit_acc": Figure(vit_acc),
        }
        tables = [
            Table("cnn", ["net", "val accuracy", "parameters", "MACs"],
                  [[n, fits[n].val_acc, costs[n]["params"], costs[n]["macs"]] for n in builders],
                  {"en": "Same CNN, same data and batches; MACs and parameters from the analyzer.",
                   "zh": "同一个 CNN、同样的数据和批次；乘加次数和参数量来自分析器。"}),
            Table("attention_cost", ["tokens N", "self-attention MACs", "3x3 conv MACs", "ratio"],
                  [[n, a, c, a / c] for n, a, c, _, _ in sweep],
                  {"en": f"{C_ATTN}-channel map; analyzer counts (formulas agree within {fmt(formula_err)}).",
                   "zh": f"{C_ATTN} 通道特征图；分析器计数（与公式相差不超过 {fmt(formula_err)}）。"}),
        ]
        return Result(figures=figures, tables=tables)

    @staticmethod
    def _vit(ctx: Context, data: Data) -> tuple[Any, float]:
        cp.manual_seed(ctx.seed)
        vit = VisionTransformer(image_size=28, patch_size=7, in_channels=1, embed_dim=32, depth=2, num_heads=2,
                                mlp_dim=64)
        n = ctx.pick(160, 1600)  # our ViT's backward is slow: quick mode sees a few batches only
        fit(vit, Data(data.x_train[:n], data.y_train[:n], data.x_val[:1], data.y_val[:1]), ctx.pick(2, 8),
            np.random.default_rng(ctx.seed), lr=2e-3, batch_size=32)
        return vit, accuracy_of(vit, data.x_val, data.y_val)

    @staticmethod
    def _plots(ctx: Context, gates: np.ndarray, sweep: list[tuple[int, ...]], vit: Any, data: Data) -> None:
        fig, axes = ctx.figure(1, 2, size=(11, 4))
        n = [r[0] for r in sweep]
        axes[0].loglog(n, [r[1] for r in sweep], marker="o", label="self-attention (analyzer)")
        axes[0].loglog(n, [r[2] for r in sweep], marker="s", label="3x3 convolution (analyzer)")
        axes[0].loglog(n, [r[3] for r in sweep], ls=":", color="k", label="4NC² + 2N²C")
        axes[0].set(xlabel="tokens N = H x W", ylabel="MACs", title=f"Cost on a {C_ATTN}-channel map")
        axes[0].legend()
        im = axes[1].imshow(gates, aspect="auto", cmap="viridis")
        axes[1].set(xlabel="channel", ylabel="digit class", title="SE gate (last block), mean per class")
        fig.colorbar(im, ax=axes[1])
        ctx.save_figure(fig, "attention_cost_and_se", "Left: multiply-accumulates of self-attention and of a 3x3 "
                        "convolution against the number of tokens (log-log): attention grows quadratically and "
                        "overtakes the convolution. Right: the mean SE channel weight for each digit class.",
                        "左：自注意力与 3x3 卷积的乘加次数随 token 数的变化（双对数坐标），"
                        "注意力按平方增长并超过卷积。右：每个数字类别的 SE 通道权重均值。")
        pick = [int(np.flatnonzero(data.y_val == c)[0]) for c in (0, 2, 4, 6, 8)]
        x = data.x_val[pick]
        att = vit_attention(vit, x)
        fig, axes = ctx.figure(2, len(pick), size=(2 * len(pick), 4.2))
        for i in range(len(pick)):
            axes[0, i].imshow(x[i, 0], cmap="gray")
            axes[1, i].imshow(att[i], cmap="magma")
            axes[0, i].set_axis_off()
            axes[1, i].set_axis_off()
        axes[1, 0].set_title("CLS attention", fontsize=9)
        ctx.save_figure(fig, "vit_attention", "Validation digits (top) and the tiny ViT's class-token attention "
                        "over its 4x4 grid of 7x7 patches in the last block (bottom).",
                        "上排为验证集数字，下排为微型 ViT 最后一个块中类别 token 对 4x4 个 7x7 图块的注意力。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol, lim = thresholds["extra_macs_pct"], thresholds["attn_over_conv"]
        se, cb = figures["extra_macs_se_pct"], figures["extra_macs_cbam_pct"]
        r_small, r_large, n = figures["attn_over_conv_small"], figures["attn_over_conv_large"], figures["tokens_large"]
        adds = se > tol and cb > tol
        quadratic = r_large > lim
        acc = (f"accuracy plain {fmt(figures['acc_plain'])}, SE {fmt(figures['acc_se'])}, "
               f"CBAM {fmt(figures['acc_cbam'])}")
        en = (f"Attention adds computation rather than saving it: SE adds {fmt(se)}% and CBAM {fmt(cb)}% MACs to "
              f"the CNN (threshold {fmt(tol)}%), with {acc}. Self-attention over {fmt(n)} tokens costs "
              f"{fmt(r_large)}x a 3x3 convolution (threshold {fmt(lim)}x), against {fmt(r_small)}x on the "
              f"smallest map: its N^2 term grows quadratically with the tokens.")
        zh = (f"注意力增加而不是减少计算：SE 让 CNN 的乘加次数增加 {fmt(se)}%，CBAM 增加 {fmt(cb)}%"
              f"（阈值 {fmt(tol)}%），准确率为原始 {fmt(figures['acc_plain'])}、SE {fmt(figures['acc_se'])}、"
              f"CBAM {fmt(figures['acc_cbam'])}。{fmt(n)} 个 token 上的自注意力是 3x3 卷积的 {fmt(r_large)} 倍"
              f"（阈值 {fmt(lim)} 倍），最小特征图上为 {fmt(r_small)} 倍：其 N^2 项随 token 数平方增长。")
        if not (adds or quadratic):
            en = (f"Attention saved computation here: SE {fmt(se)}%, CBAM {fmt(cb)}% extra MACs (threshold "
                  f"{fmt(tol)}%), self-attention {fmt(r_large)}x a 3x3 convolution at {fmt(n)} tokens "
                  f"(threshold {fmt(lim)}x); {acc}.")
            zh = (f"这里注意力减少了计算：SE 多 {fmt(se)}%、CBAM 多 {fmt(cb)}% 乘加（阈值 {fmt(tol)}%），"
                  f"{fmt(n)} 个 token 时自注意力是 3x3 卷积的 {fmt(r_large)} 倍（阈值 {fmt(lim)} 倍）。")
        return verdict_if(not adds and not quadratic, nuanced=adds != quadratic), evidence(en=en, zh=zh)
