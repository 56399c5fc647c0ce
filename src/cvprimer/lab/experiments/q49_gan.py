"""Question 49: the idea behind GANs — do generator and discriminator both improve until training settles?

Measured on scikit-learn's 8x8 digits with a small fully connected GAN (generator 16 -> 64 -> 64 -> 64 with ReLU
and tanh; discriminator 64 -> 64 -> 64 -> 1 with LeakyReLU 0.2; Adam 2e-3, beta1 0.5, batch 64, non-saturating
loss), trained from scratch for a few hundred (quick) or a few thousand (full) steps:

- the generator improves: the maximum mean discrepancy (MMD^2, Gaussian kernel at the median distance) between 400
  generated and 400 held-out real digits, at the end against at the start;
- the discriminator improves: on held-out real digits against fakes pooled evenly from the generators at a quarter,
  a half, three quarters and the end of training, the final discriminator's accuracy against the mean accuracy of the
  three earlier discriminators (each has met a quarter of the pool);
- training settles: the swing of the generator's loss between windows of the second half (relative to its mean).

Beyond the seed: the discriminator's accuracy late in training (1/2 at the game's ideal equilibrium) and, with a
fresh discriminator trained to win, the generator's gradient under the non-saturating and the minimax loss.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn, optim
from cvprimer.lab._vision import image_grid
from cvprimer.lab.common import load_data
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr, tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "D's loss at the ideal equilibrium (2 ln 2)": "理想均衡时判别器的损失（2 ln 2）",
    "Losses per step": "每步损失",
    "accuracy on real + fake": "真 + 假样本上的准确率",
    "Discriminator accuracy": "判别器准确率",
})

NZ, DIM, BATCH, LR = 16, 64, 64, 2e-3


def generator() -> Any:
    """z (N, 16) -> a flattened 8x8 digit (N, 64) in [-1, 1]."""
    return nn.Sequential(nn.Linear(NZ, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, DIM), nn.Tanh())


def discriminator() -> Any:
    """a flattened digit (N, 64) -> real/fake logit (N, 1)."""
    return nn.Sequential(nn.Linear(DIM, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2),
                         nn.Linear(64, 1))


def bce(logits: Any, target: float) -> Any:
    """Mean binary cross-entropy of ``logits`` against a constant target (1 real, 0 fake)."""
    t = cp.ones(*logits.shape) if target == 1 else cp.zeros(*logits.shape)
    return F.binary_cross_entropy_with_logits(logits, t)


def generator_loss(d_fake: Any, kind: str) -> Any:
    """``"ns"``: the non-saturating ``-mean log D(G(z))``; ``"minimax"``: the original ``mean log(1 - D(G(z)))``
    (minimized by G), i.e. ``-BCE(logit, 0)``."""
    if kind == "ns":
        return bce(d_fake, 1)
    if kind == "minimax":
        return -bce(d_fake, 0)
    raise ValueError(f"generator_loss: kind must be 'ns' or 'minimax', got {kind!r}")


def noise(rng: np.random.Generator, n: int) -> Any:
    return cp.tensor(rng.standard_normal((n, NZ)).astype(np.float32))


def d_step(G: Any, D: Any, opt: Any, real: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """One discriminator update on a real batch and as many fakes; returns (loss, accuracy)."""
    with cp.no_grad():
        fake = G(noise(rng, len(real)))
    lr_, lf = D(cp.tensor(real)), D(fake)
    loss = bce(lr_, 1) + bce(lf, 0)
    opt.zero_grad()
    loss.backward()
    opt.step()
    acc = (float((lr_.detach().numpy() > 0).mean()) + float((lf.detach().numpy() < 0).mean())) / 2
    return float(loss.item()), acc


def g_grad_norms(G: Any, D: Any, n: int, rng: np.random.Generator) -> dict[str, float]:
    """Generator gradient norms under both losses on the same z, and the mean D(G(z))."""
    z = noise(rng, n)
    out = {}
    for kind in ("ns", "minimax"):
        for p in G.parameters():
            p.grad = None
        logits = D(G(z))
        generator_loss(logits, kind).backward()
        out[kind] = float(np.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in G.parameters())))
        out["d_of_fake"] = float(F.sigmoid(logits.detach()).numpy().mean())
    return out


def mmd2(a: np.ndarray, b: np.ndarray) -> float:
    """Biased MMD^2 between the rows of ``a`` and ``b`` with a Gaussian kernel whose bandwidth is the median squared
    distance of the pooled rows."""
    x = np.concatenate([a, b]).astype(np.float64)
    sq = (x * x).sum(1)
    d = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0)
    k = np.exp(-d / np.median(d))
    n = len(a)
    return float(k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean())


def oscillation(series: np.ndarray, windows: int = 5) -> float:
    """Relative swing of a loss over the second half of training: the standard deviation of the means of
    ``windows`` equal windows divided by the overall mean (0 for a settled loss)."""
    half = np.asarray(series, np.float64)[len(series) // 2:]
    means = np.array([w.mean() for w in np.array_split(half, windows) if len(w)])
    return float(means.std() / max(abs(half.mean()), 1e-12))


def d_accuracy(D: Any, real: np.ndarray, fake: np.ndarray) -> float:
    """Balanced accuracy of ``D`` on real and fake rows (logit > 0 means real)."""
    with cp.no_grad():
        r, f = D(cp.tensor(real)).numpy(), D(cp.tensor(fake)).numpy()
    return float(((r > 0).mean() + (f < 0).mean()) / 2)


def samples(G: Any, z: Any) -> np.ndarray:
    with cp.no_grad():
        return G(z).numpy()


class GanEquilibrium(Experiment):
    id = "q49-gan"
    questions = (49,)
    topic = "beyond"
    quick_provisional = True  # 400 steps: the discriminator and the loss swing still vary in sign and size by seed
    thresholds = {"max_mmd_ratio": 0.5, "min_d_gain": 0.0, "max_oscillation": 0.1}
    reasons = {
        "max_mmd_ratio": {
            "en": "Convention for 'the generator improves': its samples' MMD^2 to held-out digits at least halves. "
                  "Measured end/start ratios over 3 seeds: 0.034-0.040 in full mode, 0.20-0.55 in quick mode "
                  "(provisional).",
            "zh": "“生成器进步”的约定：生成样本与留出真实数字之间的 MMD^2 至少减半。3 个随机种子实测结束/开始之比："
                  "完整模式 0.034-0.040，快速模式 0.20-0.55（暂定）。"},
        "min_d_gain": {
            "en": "Theory: 'the discriminator improves' means the final one tells real from pooled fakes at least "
                  "as well as the earlier ones (gain >= 0). Measured over 3 seeds: 0.054-0.10 in full mode (std "
                  "0.025, so 0 sits over 2 std below), -0.09 to +0.22 in quick mode (provisional).",
            "zh": "理论：“判别器进步”指最终的判别器区分真实样本与混合假样本的能力不低于之前的判别器（提升 >= 0）。"
                  "3 个随机种子实测：完整模式 0.054-0.10（标准差 0.025，0 在其下 2 个标准差以外），"
                  "快速模式 -0.09 到 +0.22（暂定）。"},
        "max_oscillation": {
            "en": "Convention for 'training settles': the generator loss's window means in the second half swing by "
                  "under 10% of its mean. Measured over 3 seeds: 0.035-0.070 in full mode (std 0.015), 0.10-0.19 "
                  "in quick mode (provisional).",
            "zh": "“训练趋于稳态”的约定：后半程生成器损失各窗口均值的起伏小于其均值的 10%。3 个随机种子实测："
                  "完整模式 0.035-0.070（标准差 0.015），快速模式 0.10-0.19（暂定）。"},
    }
    reachable = ("confirmed", "nuanced", "refuted")
    key_term = {"en": "adversarial (minimax) training", "zh": "对抗（极小极大）训练"}
    key_figure = "mmd_ratio"
    answer = {
        "confirmed": {
            "en": "Yes: both players improved (the generator's distance to real digits fell to {mmd_ratio} of "
                  "its start) and training settled.",
            "zh": "是的：双方都在进步（生成器与真实 digits 的距离降到初始的 {mmd_ratio}），训练也趋于稳定。"},
        "nuanced": {
            "en": "Both players can improve (the generator's distance to real digits fell to {mmd_ratio} of "
                  "its start), but do not promise a steady state: late in training the generator loss still "
                  "swung by {g_loss_oscillation:pct} of its mean. GAN training often oscillates rather than "
                  "converges.",
            "zh": "双方都可能进步（生成器与真实 digits 的距离降到初始的 {mmd_ratio}），"
                  "但不要保证会达到稳定状态：训练后期生成器损失仍在其均值的 {g_loss_oscillation:pct} 范围内摆动"
                  "。GAN 训练常常振荡而不是收敛。"},
        "refuted": {
            "en": "The adversarial game did not improve both players here (generator distance at {mmd_ratio} "
                  "of its start).",
            "zh": "这里对抗博弈没有让双方都进步（生成器距离为初始的 {mmd_ratio}）。"},
    }
    text = {
        "en": {
            "title": "What is the idea behind GANs?",
            "claim": "A generator learns to make images that fool a discriminator while the discriminator learns to "
                     "tell real images from generated ones; trained against each other from scratch, both get "
                     "better until training reaches a steady state.",
            "method": "A small fully connected GAN on the 8x8 digits (generator 16-64-64-64, discriminator "
                      "64-64-64-1; Adam, lr 2e-3, beta1 0.5, batch 64, non-saturating loss), trained from scratch. "
                      "Generator: MMD^2 between 400 generated and 400 held-out digits, end against start. "
                      "Discriminator: accuracy of the final discriminator, against the mean of the discriminators at a "
                      "quarter, a half and three quarters of training, on held-out real digits and fakes pooled "
                      "evenly from the generators at those four points. Steady state: the "
                      "swing of the generator's loss between five windows of the second half.",
            "beyond": "The discriminator's accuracy over the second half (the game's ideal equilibrium has it at "
                      "1/2), and the generator's gradient under the non-saturating and the original minimax loss "
                      "when a fresh discriminator wins.",
        },
        "zh": {
            "title": "GAN 的基本思想是什么？",
            "claim": "生成器学着生成能骗过判别器的图像，判别器学着区分真实图像与生成图像；二者从零开始相互对抗训练，"
                     "都越来越强，直到训练达到稳态。",
            "method": "在 8x8 digits 上从零训练一个小型全连接 GAN（生成器 16-64-64-64，判别器 64-64-64-1；Adam，"
                      "学习率 2e-3，beta1 0.5，批大小 64，非饱和损失）。生成器：400 张生成数字与 400 张留出真实数字"
                      "之间的 MMD^2，结束对比开始。判别器：在留出真实数字和均匀混合的假样本（来自训练 1/4、1/2、3/4 "
                      "处与最终的生成器）上，最终判别器的准确率对比前三个判别器的平均准确率。稳态：后半程五个时间窗之间生成器损失的起伏。",
            "beyond": "后半程判别器的准确率（博弈的理想平衡点为 1/2），以及新判别器占优时生成器在非饱和损失与原始 "
                      "minimax 损失下的梯度。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "steps": {"en": "training steps", "zh": "训练步数"},
        "mmd_start": {"en": "MMD² at the start", "zh": "开始时的 MMD²"},
        "mmd_end": {"en": "MMD² at the end", "zh": "结束时的 MMD²"},
        "mmd_ratio": {"en": "MMD² end / start", "zh": "MMD² 末 / 初"},
        "d_acc_mid_on_pool": {"en": "discriminator accuracy halfway, on the sample pool",
                              "zh": "训练一半时判别器在样本池上的准确率"},
        "d_acc_end_on_pool": {"en": "discriminator accuracy at the end, on the sample pool",
                              "zh": "结束时判别器在样本池上的准确率"},
        "d_gain": {"en": "discriminator accuracy gain", "zh": "判别器准确率提升"},
        "g_loss_oscillation": {"en": "oscillation of the generator loss", "zh": "生成器损失的振荡"},
        "d_acc_late": {"en": "discriminator accuracy, late training", "zh": "训练后期判别器准确率"},
        "d_loss_late": {"en": "discriminator loss, late training", "zh": "训练后期判别器损失"},
        "d_of_fake_when_d_wins": {"en": "D(fake) when the discriminator wins", "zh": "判别器占优时的 D(假样本)"},
        "grad_norm_ns": {"en": "generator gradient norm, non-saturating loss", "zh": "生成器梯度范数（非饱和损失）"},
        "grad_norm_minimax": {"en": "generator gradient norm, minimax loss", "zh": "生成器梯度范数（极小极大损失）"},
    }

    def measure(self, ctx: Context) -> Result:
        steps = ctx.pick(400, 3000, tiny=40)
        data = load_data("digits", ctx.pick(1000, 1397, tiny=200), 400, ctx.rng)
        real, held = (data.x_train.reshape(len(data.x_train), -1) * 2 - 1, data.x_val.reshape(len(data.x_val), -1) * 2
                      - 1)
        rng = ctx.child_rng()
        cp.manual_seed(ctx.seed)
        G, D = generator(), discriminator()
        z_eval, z_fixed = noise(rng, len(held)), noise(rng, 32)
        mmd_start = mmd2(samples(G, z_eval), held)
        log, snaps, kept = self._train(ctx, G, D, real, rng, steps, z_fixed)
        mmd_end = mmd2(samples(G, z_eval), held)
        gens = [g for g, _ in kept] + [G]  # fakes pooled evenly from the four generators
        parts = np.array_split(np.arange(len(held)), len(gens))
        fakes = np.concatenate([samples(g, z_eval)[i] for g, i in zip(gens, parts, strict=True)])
        acc_d_mid = float(np.mean([d_accuracy(d, held, fakes) for _, d in kept]))
        acc_d_end = d_accuracy(D, held, fakes)
        osc = oscillation(np.array(log["g_loss"]))
        grads = self._gradients(ctx, real, rng)
        return Result(
            figures={
                "steps": Figure(steps, "steps"),
                "mmd_start": Figure(mmd_start, "MMD^2"), "mmd_end": Figure(mmd_end, "MMD^2"),
                "mmd_ratio": Figure(mmd_end / mmd_start, "end/start"),
                "d_acc_mid_on_pool": Figure(acc_d_mid, "fraction"), "d_acc_end_on_pool": Figure(acc_d_end, "fraction"),
                "d_gain": Figure(acc_d_end - acc_d_mid, "accuracy"),
                "g_loss_oscillation": Figure(osc, "relative"),
            },
            beyond={
                "d_acc_late": Figure(float(np.mean(log["d_acc"][steps // 2:])), "fraction"),
                "d_loss_late": Figure(float(np.mean(log["d_loss"][steps // 2:])), "nats"),
                "d_of_fake_when_d_wins": Figure(grads["d_of_fake"], ""),
                "grad_norm_ns": Figure(grads["ns"], ""), "grad_norm_minimax": Figure(grads["minimax"], ""),
            },
            series={"log": log, "snaps": snaps})

    @staticmethod
    def _train(ctx: Context, G: Any, D: Any, real: np.ndarray, rng: np.random.Generator, steps: int,
               z_fixed: Any) -> tuple[dict[str, list[float]], dict[int, np.ndarray], list[tuple[Any, Any]]]:
        """``steps`` alternating steps (D on a real batch and a fake one, then G with the non-saturating loss), Adam
        for both. Returns the per-step log (D loss, G loss, D accuracy), the samples (32, 64) from ``z_fixed`` at the
        start, the middle and the end by step, and copies of (G, D) at a quarter, a half and three quarters."""
        opt_g = optim.Adam(G.parameters(), lr=LR, betas=(0.5, 0.999))
        opt_d = optim.Adam(D.parameters(), lr=LR, betas=(0.5, 0.999))
        log: dict[str, list[float]] = {"d_loss": [], "g_loss": [], "d_acc": []}
        snaps: dict[int, np.ndarray] = {0: samples(G, z_fixed)}
        marks = {steps // 4, steps // 2, 3 * steps // 4}
        kept: list[tuple[Any, Any]] = []
        ctx.progress.set_total(steps)
        for step in range(1, steps + 1):
            ld, acc = d_step(G, D, opt_d, real[rng.choice(len(real), BATCH, replace=False)], rng)
            lg = generator_loss(D(G(noise(rng, BATCH))), "ns")
            opt_g.zero_grad()
            lg.backward()
            opt_g.step()
            log["d_loss"].append(ld)
            log["g_loss"].append(float(lg.item()))
            log["d_acc"].append(acc)
            if step in marks:
                kept.append((copy.deepcopy(G), copy.deepcopy(D)))
            if step == steps // 2:
                snaps[step] = samples(G, z_fixed)
            ctx.progress.update()
        snaps[steps] = samples(G, z_fixed)
        return log, snaps, kept

    @staticmethod
    def _gradients(ctx: Context, real: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        """Train a fresh discriminator alone against a fresh generator until it wins, then measure."""
        cp.manual_seed(ctx.seed + 1)
        G, D = generator(), discriminator()
        opt = optim.Adam(D.parameters(), lr=LR, betas=(0.5, 0.999))
        for _ in range(ctx.pick(30, 60, tiny=5)):
            d_step(G, D, opt, real[rng.choice(len(real), BATCH, replace=False)], rng)
        return g_grad_norms(G, D, 256, rng)

    def draw(self, res: Result, ctx: Context) -> None:
        log, snaps = res.series["log"], res.series["snaps"]
        fig, axes = ctx.figure(1, len(snaps), size=(3.2 * len(snaps), 3.2))
        for ax, (step, x) in zip(np.atleast_1d(axes), sorted(snaps.items()), strict=True):
            ax.imshow(image_grid((x.reshape(-1, 8, 8) + 1) / 2, 8), cmap="gray", vmin=0, vmax=1)
            ax.set_title(tr(f"after {step} steps", f"{step} 步之后"))
            ax.set_axis_off()
        ctx.save_figure(fig, "samples", "Digits generated from the same 32 noise vectors at the start, the middle "
                        "and the end of training.", "训练开始、中途和结束时由同样 32 个噪声向量生成的数字。")
        fig, axes = ctx.figure(1, 2, size=(10, 3.6))
        t = np.arange(1, len(log["d_loss"]) + 1)
        axes[0].plot(t, log["d_loss"], label="discriminator", lw=0.8)
        axes[0].plot(t, log["g_loss"], label="generator (non-saturating)", lw=0.8)
        axes[0].axhline(2 * np.log(2), color="k", ls=":", lw=0.8, label="D's loss at the ideal equilibrium (2 ln 2)")
        axes[0].set(xlabel="step", ylabel="loss", title="Losses per step")
        axes[0].legend(fontsize=8)
        axes[1].plot(t, log["d_acc"], lw=0.8, color="C2")
        axes[1].axhline(0.5, color="k", ls=":", lw=0.8)
        axes[1].set(xlabel="step", ylabel="accuracy on real + fake", title="Discriminator accuracy", ylim=(0, 1))
        ctx.save_figure(fig, "training", "Left: discriminator and generator losses per step, with the discriminator's "
                        "loss at the game's ideal equilibrium. Right: the discriminator's accuracy per step, with "
                        "the line at 1/2.",
                        "左：每一步的判别器与生成器损失，以及博弈理想平衡点上判别器损失的取值。"
                        "右：每一步的判别器准确率及 1/2 参考线。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        f, t = figures, thresholds
        parts = {"g": f["mmd_ratio"] <= t["max_mmd_ratio"], "d": f["d_gain"] >= t["min_d_gain"],
                 "steady": f["g_loss_oscillation"] <= t["max_oscillation"]}
        held = sum(parts.values())
        verdict = verdict_if(held == 3, nuanced=0 < held < 3)
        en = (f"Over {fmt(f['steps'])} steps the generator's MMD^2 to held-out digits went from {fmt(f['mmd_start'])} "
              f"to {fmt(f['mmd_end'])} ({fmt(f['mmd_ratio'])} of the start; improves at {fmt(t['max_mmd_ratio'])} or "
              f"less). On real digits against pooled fakes, the final discriminator scores "
              f"{fmt(f['d_acc_end_on_pool'])} and the earlier ones {fmt(f['d_acc_mid_on_pool'])} on average "
              f"(gain {fmt(f['d_gain'])}; improves from "
              f"{fmt(t['min_d_gain'])}). In the second half the generator loss swings by "
              f"{fmt(f['g_loss_oscillation'])} of its mean between windows (steady below {fmt(t['max_oscillation'])}).")
        zh = (f"{fmt(f['steps'])} 步内，生成样本与留出数字之间的 MMD^2 从 {fmt(f['mmd_start'])} 降到 "
              f"{fmt(f['mmd_end'])}（为开始时的 {fmt(f['mmd_ratio'])}；不超过 {fmt(t['max_mmd_ratio'])} 算进步）。"
              f"在真实数字与混合假样本上，最终判别器的准确率为 {fmt(f['d_acc_end_on_pool'])}，之前的判别器平均为 "
              f"{fmt(f['d_acc_mid_on_pool'])}（提升 {fmt(f['d_gain'])}；不低于 {fmt(t['min_d_gain'])} 算进步）。"
              f"后半程生成器损失在各时间窗之间的起伏为其均值的 {fmt(f['g_loss_oscillation'])}"
              f"（低于 {fmt(t['max_oscillation'])} 算稳态）。")
        if 0 < held < 3:
            n_en = {"g": "the generator improves", "d": "the discriminator improves", "steady": "training settles"}
            n_zh = {"g": "生成器进步", "d": "判别器进步", "steady": "训练达到稳态"}
            en += (f" Held: {', '.join(n_en[k] for k, v in parts.items() if v)}; not measured here: "
                   f"{', '.join(n_en[k] for k, v in parts.items() if not v)}.")
            zh += (f"成立：{'、'.join(n_zh[k] for k, v in parts.items() if v)}；这里没有测到："
                   f"{'、'.join(n_zh[k] for k, v in parts.items() if not v)}。")
        return verdict, evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        b = beyond
        return {"en": f"Over the second half the discriminator's accuracy on its training batches averaged "
                      f"{fmt(b['d_acc_late'])} (1/2 at the game's ideal equilibrium). When a fresh discriminator wins "
                      f"(D(G(z)) = {fmt(b['d_of_fake_when_d_wins'])}), the non-saturating loss gives the generator a "
                      f"gradient of norm {fmt(b['grad_norm_ns'])} against {fmt(b['grad_norm_minimax'])} for the "
                      f"original minimax loss.",
                "zh": f"后半程判别器在训练批次上的平均准确率为 {fmt(b['d_acc_late'])}（博弈的理想平衡点为 1/2）。"
                      f"新判别器占优时（D(G(z)) = {fmt(b['d_of_fake_when_d_wins'])}），非饱和损失给生成器的梯度范数为 "
                      f"{fmt(b['grad_norm_ns'])}，原始 minimax 损失为 {fmt(b['grad_norm_minimax'])}。"}
