"""Question 49: GANs — do the generator and the discriminator reach a stable equilibrium?

Measured on the MNIST sample with a small DCGAN for 28x28 digits (a linear layer to 7x7 maps, two stride-2
transposed convolutions; a two-convolution discriminator): sample grids over training, both losses and the
discriminator's accuracy per step, whether they settle (discriminator accuracy near 1/2, size of the swings of
the generator loss late in training), mode coverage (the class histogram of 500 generated digits under a CNN
trained on real digits) and, with the discriminator trained to win against a fresh generator, the generator's
gradient under the non-saturating loss ``-log D(G(z))`` vs the original minimax loss ``log(1 - D(G(z)))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn, optim
from cvprimer.lab._vision import entropy_bits, image_grid, train_cnn
from cvprimer.lab.common import Data, load_data, predict
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

NZ = 32


def generator(ngf: int = 16) -> Any:
    """z (N, 32) -> image (N, 1, 28, 28) in [-1, 1]: Linear to (2 ngf, 7, 7), BN, ReLU, ConvT(4, 2, 1) to
    (ngf, 14, 14), BN, ReLU, ConvT(4, 2, 1) to (1, 28, 28), tanh (DCGAN's rules at MNIST's size)."""
    return nn.Sequential(nn.Linear(NZ, 2 * ngf * 49), nn.Unflatten(1, (2 * ngf, 7, 7)), nn.BatchNorm2d(2 * ngf),
                         nn.ReLU(), nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf),
                         nn.ReLU(), nn.ConvTranspose2d(ngf, 1, 4, 2, 1), nn.Tanh())


def discriminator(ndf: int = 16) -> Any:
    """image (N, 1, 28, 28) -> real/fake logit (N, 1): Conv(4, 2, 1), LeakyReLU(0.2), Conv(4, 2, 1), BN,
    LeakyReLU(0.2), Linear."""
    return nn.Sequential(nn.Conv2d(1, ndf, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=False),
                         nn.BatchNorm2d(2 * ndf), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(2 * ndf * 49, 1))


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


def d_step(G: Any, D: Any, opt: Any, real: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """One discriminator update on a real batch and as many fakes; returns (loss, accuracy)."""
    z = cp.tensor(rng.standard_normal((len(real), NZ)).astype(np.float32))
    with cp.no_grad():
        fake = G(z)
    lr_, lf = D(cp.tensor(real)), D(fake)
    loss = bce(lr_, 1) + bce(lf, 0)
    opt.zero_grad()
    loss.backward()
    opt.step()
    acc = (float((lr_.detach().numpy() > 0).mean()) + float((lf.detach().numpy() < 0).mean())) / 2
    return float(loss.item()), acc


def g_grad_norms(G: Any, D: Any, n: int, rng: np.random.Generator) -> dict[str, float]:
    """Generator gradient norms under both losses on the same z, and the mean D(G(z))."""
    z = rng.standard_normal((n, NZ)).astype(np.float32)
    out = {}
    for kind in ("ns", "minimax"):
        for p in G.parameters():
            p.grad = None
        logits = D(G(cp.tensor(z)))
        generator_loss(logits, kind).backward()
        out[kind] = float(np.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in G.parameters())))
        out["d_of_fake"] = float(F.sigmoid(logits.detach()).numpy().mean())
    return out


def oscillation(series: np.ndarray, windows: int = 5) -> float:
    """Relative swing of a loss over the second half of training: the standard deviation of the means of
    ``windows`` equal windows divided by the overall mean (0 for a settled loss)."""
    half = np.asarray(series, np.float64)[len(series) // 2:]
    means = np.array([w.mean() for w in np.array_split(half, windows) if len(w)])
    return float(means.std() / max(abs(half.mean()), 1e-12))


class GanEquilibrium(Experiment):
    id = "q49-gan"
    questions = (49,)
    topic = "loss"
    thresholds = {"d_acc_band": 0.1, "max_oscillation": 0.15, "min_share": 0.033}
    text = {
        "en": {
            "title": "GANs: a two-player game that rarely settles",
            "claim": "A GAN trains a generator against a discriminator until the two reach a stable equilibrium "
                     "in which the generator reproduces the data distribution and the discriminator can only "
                     "guess.",
            "method": "Train a small DCGAN (28x28, Adam 2e-4, beta1 0.5, non-saturating loss) on the MNIST "
                      "sample; record both losses and the discriminator's accuracy at every step, sample a grid "
                      "from fixed noise over training, classify 500 generated digits with a CNN trained on real "
                      "ones (class histogram, entropy), and compare the generator's gradient under the "
                      "non-saturating and the original minimax loss once the discriminator wins. The quick mode "
                      "trains for a few dozen steps only, far from convergence: its digits are blobs and its "
                      "numbers describe early training.",
        },
        "zh": {
            "title": "GAN：一场很少真正平稳下来的双人博弈",
            "claim": "GAN 让生成器与判别器对抗训练，直到二者达到稳定的平衡：生成器复现数据分布，"
                     "判别器只能随机猜测。",
            "method": "在 MNIST 样本上训练一个小型 DCGAN（28x28，Adam 学习率 2e-4、beta1 0.5，非饱和损失）；"
                      "记录每一步的两个损失和判别器准确率，用固定噪声在训练过程中采样网格图，"
                      "用在真实数字上训练的 CNN 对 500 张生成数字分类（类别直方图与熵），"
                      "并在判别器占优时比较生成器在非饱和损失与原始 minimax 损失下的梯度。"
                      "快速模式只训练几十步，远未收敛：生成的数字只是模糊的团块，数字描述的是训练早期。",
        },
    }

    def run(self, ctx: Context) -> Result:
        steps = ctx.pick(20, 900)
        data = load_data("mnist_sample", ctx.pick(640, 4000), ctx.pick(300, 1000), ctx.rng)
        real = data.x_train * 2 - 1
        rng = ctx.child_rng()
        cp.manual_seed(ctx.seed)
        G, D = generator(), discriminator()
        grads = self._gradients(ctx, rng)
        opt_g = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_d = optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        z_fixed = cp.tensor(rng.standard_normal((32, NZ)).astype(np.float32))
        snaps_at = {steps // 3, 2 * steps // 3, steps}
        log = {"d_loss": [], "g_loss": [], "d_acc": []}
        snaps = {}
        batch = 32
        ctx.progress.set_total(steps)
        for step in range(1, steps + 1):
            idx = rng.choice(len(real), batch, replace=False)
            ld, acc = d_step(G, D, opt_d, real[idx], rng)
            z = cp.tensor(rng.standard_normal((batch, NZ)).astype(np.float32))
            lg = generator_loss(D(G(z)), "ns")
            opt_g.zero_grad()
            lg.backward()
            opt_g.step()
            log["d_loss"].append(ld)
            log["g_loss"].append(float(lg.item()))
            log["d_acc"].append(acc)
            if step in snaps_at:
                snaps[step] = self._sample(G, z_fixed)
            ctx.progress.update()
        counts, share = self._coverage(ctx, G, data, rng)
        late = slice(steps // 2, None)
        d_acc_late = float(np.mean(log["d_acc"][late]))
        osc = oscillation(np.array(log["g_loss"]))
        self._plots(ctx, log, snaps, counts)
        min_share = self.thresholds["min_share"]
        return Result(
            figures={
                "steps": Figure(steps, "steps"),
                "d_acc_late": Figure(d_acc_late, "", {"en": "discriminator accuracy, second half",
                                                      "zh": "判别器准确率（后半程）"}),
                "g_loss_oscillation": Figure(osc, "relative"),
                "d_loss_late": Figure(float(np.mean(log["d_loss"][late])), "nats"),
                "g_loss_late": Figure(float(np.mean(log["g_loss"][late])), "nats"),
                "classes_covered": Figure(int((share >= min_share).sum()), "classes"),
                "class_entropy": Figure(entropy_bits(counts), "bits", {"en": "max log2(10) = 3.32",
                                                                       "zh": "最大值 log2(10) = 3.32"}),
                "largest_class_share": Figure(float(share.max()), ""),
                "d_of_fake_when_d_wins": Figure(grads["d_of_fake"], ""),
                "grad_norm_ns": Figure(grads["ns"], ""),
                "grad_norm_minimax": Figure(grads["minimax"], ""),
            },
            tables=[Table("class_histogram", ["digit", "generated share"], [[k, float(share[k])] for k in range(10)],
                          {"en": "Classes of 500 generated digits under a CNN trained on real digits.",
                           "zh": "用在真实数字上训练的 CNN 对 500 张生成数字分类得到的类别占比。"})],
        )

    @staticmethod
    def _gradients(ctx: Context, rng: np.random.Generator) -> dict[str, float]:
        """Train a fresh discriminator alone against a fresh generator until it wins, then measure."""
        cp.manual_seed(ctx.seed + 1)
        G, D = generator(), discriminator()
        opt = optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
        real = load_data("mnist_sample", 320, 10, rng).x_train * 2 - 1
        for _ in range(ctx.pick(8, 40)):
            d_step(G, D, opt, real[rng.choice(len(real), 32, replace=False)], rng)
        return g_grad_norms(G, D, 64, rng)

    @staticmethod
    def _sample(G: Any, z: Any) -> np.ndarray:
        was = G.training
        G.eval()
        with cp.no_grad():
            x = G(z).numpy()
        G.train(was)
        return (x + 1) / 2

    @staticmethod
    def _coverage(ctx: Context, G: Any, data: Data, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        clf, _ = train_cnn(data, ctx.pick(40, 300), rng, ctx.seed)
        G.eval()
        with cp.no_grad():
            fake = (G(cp.tensor(rng.standard_normal((500, NZ)).astype(np.float32))).numpy() + 1) / 2
        G.train()
        counts = np.bincount(predict(clf, fake.astype(np.float32)).argmax(1), minlength=10)
        return counts, counts / counts.sum()

    @staticmethod
    def _plots(ctx: Context, log: Mapping[str, list[float]], snaps: Mapping[int, np.ndarray],
               counts: np.ndarray) -> None:
        fig, axes = ctx.figure(1, len(snaps), size=(4 * len(snaps), 3.4))
        for ax, (step, x) in zip(np.atleast_1d(axes), sorted(snaps.items()), strict=True):
            ax.imshow(image_grid(x, 8), cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"after {step} steps")
            ax.set_axis_off()
        ctx.save_figure(fig, "samples", "Digits generated from the same 32 noise vectors at three points of "
                        "training.", "训练过程中三个时刻由同样 32 个噪声向量生成的数字。")
        fig, axes = ctx.figure(1, 3, size=(13, 3.6))
        t = np.arange(1, len(log["d_loss"]) + 1)
        axes[0].plot(t, log["d_loss"], label="discriminator", lw=0.8)
        axes[0].plot(t, log["g_loss"], label="generator (non-saturating)", lw=0.8)
        axes[0].axhline(2 * np.log(2), color="k", ls=":", lw=0.8, label="D at equilibrium (2 ln 2)")
        axes[0].set(xlabel="step", ylabel="loss", title="Losses per step")
        axes[0].legend(fontsize=8)
        axes[1].plot(t, log["d_acc"], lw=0.8, color="C2")
        axes[1].axhline(0.5, color="k", ls=":", lw=0.8)
        axes[1].set(xlabel="step", ylabel="accuracy on real + fake", title="Discriminator accuracy", ylim=(0, 1))
        axes[2].bar(range(10), counts / counts.sum(), color="C4")
        axes[2].axhline(0.1, color="k", ls=":", lw=0.8)
        axes[2].set(xlabel="digit (classifier on real data)", ylabel="share of 500 samples",
                    title="Mode coverage")
        axes[2].set_xticks(range(10))
        ctx.save_figure(fig, "training", "Left: discriminator and generator losses per step, with the "
                        "equilibrium value of the discriminator's loss. Middle: the discriminator's accuracy (1/2 "
                        "at equilibrium). Right: the class histogram of generated digits (1/10 each if every "
                        "mode is covered).",
                        "左：每一步的判别器与生成器损失，以及平衡时判别器损失的取值。"
                        "中：判别器准确率（平衡时为 1/2）。右：生成数字的类别直方图"
                        "（若覆盖全部模式则每类 1/10）。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        band, max_osc = thresholds["d_acc_band"], thresholds["max_oscillation"]
        acc, osc, cov = figures["d_acc_late"], figures["g_loss_oscillation"], figures["classes_covered"]
        ent, steps = figures["class_entropy"], figures["steps"]
        ns, mm, dfake = figures["grad_norm_ns"], figures["grad_norm_minimax"], figures["d_of_fake_when_d_wins"]
        balanced = abs(acc - 0.5) <= band
        settled = osc <= max_osc
        covered = cov >= 10
        held = sum([balanced, settled, covered])
        en = (f"After {fmt(steps)} steps the discriminator's accuracy over the second half is {fmt(acc)} "
              f"({'within' if balanced else 'outside'} 0.5 +/- {fmt(band)}), the generator loss still swings by "
              f"{fmt(osc)} of its mean between windows (limit {fmt(max_osc)}), and {fmt(cov)} of 10 digit classes "
              f"get at least {fmt(100 * thresholds['min_share'])}% of the samples (entropy {fmt(ent)} bits of "
              f"3.32). When the discriminator wins (D(G(z)) = {fmt(dfake)}), the non-saturating loss gives the "
              f"generator a gradient of norm {fmt(ns)} against {fmt(mm)} for the original minimax loss.")
        zh = (f"训练 {fmt(steps)} 步后，判别器后半程准确率为 {fmt(acc)}（{'在' if balanced else '不在'} "
              f"0.5 ± {fmt(band)} 之内），生成器损失在各时间窗之间仍有均值 {fmt(osc)} 倍的起伏"
              f"（上限 {fmt(max_osc)}），10 个数字类别中有 {fmt(cov)} 个获得至少 "
              f"{fmt(100 * thresholds['min_share'])}% 的样本（熵 {fmt(ent)} 比特，最大 3.32）。"
              f"判别器占优时（D(G(z)) = {fmt(dfake)}），非饱和损失给生成器的梯度范数为 {fmt(ns)}，"
              f"原始 minimax 损失只有 {fmt(mm)}。")
        return verdict_if(held == 3, nuanced=0 < held < 3), evidence(en=en, zh=zh)
