"""Question 2: the common normalization methods and what each does, and does not do, to a distribution.

Measured on three real features (the gradient magnitude of a photograph's pixels, heavy-tailed; MNIST pixel
intensities, a spike at zero; the total ink of each digit, closest to bell-shaped) with the scalers of
:mod:`cvprimer.data`: z-scoring (mean, standard deviation, skewness, excess kurtosis, Kolmogorov-Smirnov distance
to N(0, 1), QQ plots), the non-linear squashes (log1p, 1 - exp(-x), tanh, arctan), what a single outlier does to
min-max scaling, and min-max fitted on the training split applied to validation data.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cvprimer import data as cd
from cvprimer.analysis.timing import blas_threads
from cvprimer.lab.common import load_data, sample_photo
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

SQUASHES = {"log1p": cd.Log1p, "1 - exp(-x)": cd.ExpSquash, "tanh": cd.TanhSquash, "arctan": cd.ArctanSquash}


def moments(x: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, standard deviation, skewness and excess kurtosis of ``x`` (population formulas)."""
    x = np.asarray(x, np.float64).ravel()
    m, s = x.mean(), x.std()
    z = (x - m) / s
    return float(m), float(s), float(np.mean(z**3)), float(np.mean(z**4) - 3.0)


def ks_normal(x: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance ``sup |F_n(t) - Phi(t)|`` between ``x`` and the standard normal: with the
    sample sorted, ``max_i max(i/n - Phi(x_i), Phi(x_i) - (i-1)/n)`` (the statistic of scipy's ``kstest``)."""
    from scipy.special import ndtr

    xs = np.sort(np.asarray(x, np.float64).ravel())
    n = xs.size
    cdf = ndtr(xs)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - cdf), np.max(cdf - (i - 1) / n)))


def features(ctx: Context) -> dict[str, np.ndarray]:
    """Three real one-dimensional features as float64 arrays."""
    grey = sample_photo(0).mean(axis=0)[::2, ::2] if ctx.quick else sample_photo(0).mean(axis=0)
    gy, gx = np.gradient(grey.astype(np.float64))
    mnist = load_data("mnist_sample", ctx.pick(200, 1000), 10, ctx.rng).x_train
    digits = load_data("digits", ctx.pick(1000, 1437), 360, ctx.rng).x_train
    return {"photo gradient magnitude": np.hypot(gx, gy).ravel(),
            "MNIST pixel intensity": mnist.astype(np.float64).ravel(),
            "digit ink (sum of pixels)": digits.reshape(len(digits), -1).sum(axis=1).astype(np.float64)}


class NormalizationMethods(Experiment):
    id = "q02-normalization-methods"
    questions = (2,)
    topic = "data"
    stochastic = False
    thresholds = {"max_ks": 0.05, "moment_tol": 1e-6}
    text = {
        "en": {
            "title": "Min-max, z-score and non-linear squashes: what they do to a distribution",
            "claim": "The usual methods are min-max scaling (x - min) / (max - min), suited to concentrated data, "
                     "where constants may replace the min and max; z-scoring (x - mu) / sigma, after which the data "
                     "follow the standard normal distribution with mean 0 and standard deviation 1; and non-linear "
                     "maps such as log, exponential or arctangent, e.g. y = 1 - e^(-x), which varies visibly for "
                     "x in [0, 6].",
            "method": "Z-score three real features (a photograph's gradient magnitude, MNIST pixel intensities, the "
                      "ink per digit) and measure mean, standard deviation, skewness, excess kurtosis and the "
                      "Kolmogorov-Smirnov distance to N(0, 1), with histograms and QQ plots; apply the four "
                      "squashes of cvprimer.data to the heavy-tailed feature; add one outlier to the ink feature and "
                      "min-max it; fit min-max per pixel on a training split of the digits and apply it to the "
                      "validation split.",
        },
        "zh": {
            "title": "Min-max、z-score 与非线性压缩：它们对分布做了什么",
            "claim": "常用方法有：min-max 线性归一化 (x - min) / (max - min)，适用于数值较集中的情况，可用经验常量代替 "
                     "max 和 min；z-score 标准化 (x - mu) / sigma，处理后数据服从标准正态分布，即均值为 0、"
                     "标准差为 1；以及 log、指数、反正切等非线性函数，如 y = 1 - e^(-x) 在 x ∈ [0, 6] 内变化明显。",
            "method": "对三个真实特征（照片的梯度幅值、MNIST 像素强度、每张 digits 图像的墨量）做 z-score，"
                      "测量均值、标准差、偏度、超额峰度以及与 N(0, 1) 的 Kolmogorov-Smirnov 距离，并画直方图和 "
                      "QQ 图；对重尾特征施加 cvprimer.data 中的四种压缩函数；给墨量特征加入一个离群值后做 "
                      "min-max；在 digits 的训练集上逐像素拟合 min-max，再应用到验证集。",
        },
    }

    def run(self, ctx: Context) -> Result:
        with blas_threads(1):  # small matrices: one BLAS thread is as fast alone and far faster on a busy CPU
            return self._run(ctx)

    def _run(self, ctx: Context) -> Result:
        feats = features(ctx)
        rows, z_feats, ks, skew_change, ms = [], {}, {}, [], []
        for name, x in feats.items():
            z = cd.Standardizer().fit(x).transform(x)
            z_feats[name] = z
            before, after = moments(x), moments(z)
            ks[name] = ks_normal(z)
            skew_change.append(max(abs(before[2] - after[2]), abs(before[3] - after[3])))
            ms.append(max(abs(after[0]), abs(after[1] - 1)))
            rows.append([name, *before, *after, ks[name]])
        heavy = feats["photo gradient magnitude"]
        squashed = {k: c(scale="std").fit(heavy).transform(heavy) for k, c in SQUASHES.items()}
        sq_skew = {k: moments(v)[2] for k, v in squashed.items()}
        # one outlier (100x the largest ink) among real values
        ink = feats["digit ink (sum of pixels)"]
        with_out = np.append(ink, 100 * ink.max())
        mm = cd.MinMaxScaler().fit(with_out).transform(with_out)
        inlier_span = float(mm[:-1].max() - mm[:-1].min())
        zo = cd.Standardizer().fit(with_out).transform(with_out)
        inlier_std_z = float(zo[:-1].std())
        # min-max fitted per pixel on the training split, applied to the validation split
        d = load_data("digits", ctx.pick(1000, 1437), 360, ctx.rng)
        per_pixel = cd.MinMaxScaler(per_channel=True).fit(d.x_train.reshape(len(d.x_train), -1))
        val = per_pixel(d.x_val.reshape(len(d.x_val), -1))
        outside = float(np.mean((val < 0) | (val > 1)))
        worst_val = float(val.max())
        fixed = cd.MinMaxScaler(data_range=(0.0, 1.0)).fit(d.x_train)(d.x_val)  # a known constant range
        exp_share = float(-np.expm1(-6.0))  # share of ExpSquash's output range reached for x in [0, 6]
        self._plot_hist(ctx, feats, z_feats, ks)
        self._plot_squash(ctx, heavy, squashed, ink, mm)
        figures = {f"ks_{k.split()[0].lower()}": Figure(v, "KS distance") for k, v in ks.items()}
        figures.update({
            "max_ks": Figure(max(ks.values()), "KS distance"),
            "max_shape_change": Figure(max(skew_change), "|change| of skewness/kurtosis"),
            "max_mean_std_error": Figure(max(ms), "|mean|, |std - 1|"),
            "skew_heavy": Figure(moments(heavy)[2], "skewness"),
            "skew_heavy_log1p": Figure(sq_skew["log1p"], "skewness"),
            "inlier_span_minmax_outlier": Figure(inlier_span, "fraction of [0, 1]"),
            "inlier_std_zscore_outlier": Figure(inlier_std_z, "std"),
            "val_outside_unit_range": Figure(outside, "fraction"),
            "val_max_after_train_minmax": Figure(worst_val, ""),
            "val_outside_fixed_range": Figure(float(np.mean((fixed < 0) | (fixed > 1))), "fraction"),
            "expsquash_share_0_6": Figure(exp_share, "fraction of range"),
        })
        tables = [
            Table("zscore", ["feature", "mean", "std", "skew", "ex. kurtosis", "mean (z)", "std (z)", "skew (z)",
                             "ex. kurtosis (z)", "KS to N(0,1)"], rows,
                  {"en": "Before and after z-scoring: only the location and scale change.",
                   "zh": "z-score 前后：只有位置和尺度发生变化。"}),
            Table("squashes", ["map", "skewness after"], [["none", moments(heavy)[2]]] + [[k, v] for k, v in
                                                                                          sq_skew.items()],
                  {"en": "Skewness of the photo's gradient magnitude after each squash (scale = its std).",
                   "zh": "照片梯度幅值经各压缩函数（尺度取其标准差）后的偏度。"}),
        ]
        return Result(figures=figures, tables=tables)

    @staticmethod
    def _plot_hist(ctx: Context, feats: Mapping[str, np.ndarray], z_feats: Mapping[str, np.ndarray],
                   ks: Mapping[str, float]) -> None:
        from scipy.special import ndtri

        fig, axes = ctx.figure(2, 3, size=(13, 6.4))
        t = np.linspace(-4, 4, 200)
        for j, (name, x) in enumerate(feats.items()):
            z = z_feats[name]
            counts, edges = np.histogram(x, bins=60)
            axes[0, j].stairs(np.log10(counts + 1.0), edges, fill=True, color="C0")  # log counts, linear axis
            axes[0, j].set_title(f"{name}: raw", fontsize=9)
            axes[0, j].set_ylabel("log10(count + 1)")
            axes[0, j].set_xlabel("value")
            lo, hi = np.percentile(z, [0.1, 99.9])
            axes[1, j].hist(z, bins=np.linspace(min(lo, -4), max(hi, 4), 60), density=True, color="C2", alpha=0.7,
                            label="z-scored")
            axes[1, j].plot(t, np.exp(-0.5 * t**2) / np.sqrt(2 * np.pi), "k--", label="N(0, 1)")
            axes[1, j].set_title(f"z-scored (KS to N(0,1) = {ks[name]:.2f})", fontsize=9)
            axes[1, j].set_xlabel("z")
            axes[1, j].legend(fontsize=7)
        ctx.save_figure(fig, "zscore_hist", "Histograms of three real features before (top, log10 counts) and after "
                        "z-scoring (bottom) against the standard normal density: the shapes are unchanged.",
                        "三个真实特征在 z-score 之前（上，对数计数）和之后（下）的直方图，并与标准正态密度对比："
                        "形状没有改变。")
        fig, axes = ctx.figure(1, 3, size=(13, 3.8))
        for ax, (name, z) in zip(axes, z_feats.items(), strict=True):
            q = np.sort(z)[np.linspace(0, len(z) - 1, 400).astype(int)]
            p = ndtri((np.arange(400) + 0.5) / 400)
            ax.plot(p, q, ".", ms=3)
            ax.plot([-3, 3], [-3, 3], "k--", lw=1)
            ax.set_title(f"QQ vs N(0,1): {name}", fontsize=9)
            ax.set_xlabel("normal quantile")
            ax.set_ylabel("z-scored quantile")
        ctx.save_figure(fig, "qq", "QQ plots of the three z-scored features against the standard normal; a normal "
                        "sample would lie on the dashed line.",
                        "三个 z-score 后特征相对标准正态分布的 QQ 图；若服从正态分布，点应落在虚线上。")

    @staticmethod
    def _plot_squash(ctx: Context, heavy: np.ndarray, squashed: Mapping[str, np.ndarray], ink: np.ndarray,
                     mm: np.ndarray) -> None:
        fig, axes = ctx.figure(1, 3, size=(13, 3.8))
        x = np.linspace(0, 10, 300)
        axes[0].plot(x, np.log1p(x) / np.log1p(10), label="log1p(x) / log1p(10)")  # same order as SQUASHES
        axes[0].plot(x, -np.expm1(-x), label="1 - exp(-x)")
        axes[0].plot(x, np.tanh(x), label="tanh(x)")
        axes[0].plot(x, np.arctan(x) * 2 / np.pi, label="(2/pi) arctan(x)")
        axes[0].axvline(6, color="k", ls=":", lw=1)
        axes[0].set_title("squashes (dotted: x = 6)")
        axes[0].set_xlabel("x")
        axes[0].legend(fontsize=7)
        for k, v in squashed.items():
            dens, edges = np.histogram(v, bins=60, density=True)
            axes[1].stairs(np.log10(dens + 1e-3), edges, label=k)
        axes[1].set_title("photo gradient magnitude after each squash")
        axes[1].set_xlabel("value")
        axes[1].set_ylabel("log10(density + 0.001)")
        axes[1].legend(fontsize=7)
        axes[2].hist(mm[:-1], bins=40, color="C0", label=f"{len(ink)} real values")
        axes[2].axvline(mm[-1], color="C1", lw=2, label="one outlier")
        axes[2].set_xlim(-0.02, 1.02)
        axes[2].set_title("min-max of digit ink with one outlier")
        axes[2].set_xlabel("scaled value")
        axes[2].legend(fontsize=7)
        ctx.save_figure(fig, "squash_outlier", "Left: the four squashes. Middle: the heavy-tailed photo feature after "
                        "each. Right: min-max scaling of real values plus one outlier squeezes them near 0.",
                        "左：四种压缩函数。中：重尾的照片特征经各函数变换后的分布。右：真实值加一个离群值后做 "
                        "min-max，真实值被挤到 0 附近。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        ks_max, tol = thresholds["max_ks"], thresholds["moment_tol"]
        ks, shape, ms = figures["max_ks"], figures["max_shape_change"], figures["max_mean_std_error"]
        en = (f"After z-scoring, mean and standard deviation are 0 and 1 to within {fmt(ms)}, but skewness and "
              f"kurtosis change by at most {fmt(shape)} (tolerance {fmt(tol)}): the shape is kept. The largest "
              f"Kolmogorov-Smirnov distance to N(0, 1) is {fmt(ks)} (a normal sample would be below {fmt(ks_max)}); "
              f"the photo feature's skewness is {fmt(figures['skew_heavy'])} before and after, and log1p brings it "
              f"to {fmt(figures['skew_heavy_log1p'])}. One outlier leaves the real values only "
              f"{fmt(figures['inlier_span_minmax_outlier'])} of min-max's [0, 1]. Min-max fitted on the training "
              f"split puts {fmt(figures['val_outside_unit_range'])} of validation values outside [0, 1] (up to "
              f"{fmt(figures['val_max_after_train_minmax'])}); a constant range gives "
              f"{fmt(figures['val_outside_fixed_range'])}. 1 - exp(-x) covers {fmt(figures['expsquash_share_0_6'])} "
              f"of its range on [0, 6].")
        zh = (f"z-score 之后均值与标准差为 0 和 1（误差不超过 {fmt(ms)}），但偏度和峰度的变化最多为 {fmt(shape)}"
              f"（容差 {fmt(tol)}）：形状保持不变。与 N(0, 1) 的最大 Kolmogorov-Smirnov 距离为 {fmt(ks)}"
              f"（正态样本应低于 {fmt(ks_max)}）；照片特征的偏度前后均为 {fmt(figures['skew_heavy'])}，log1p 把它降到 "
              f"{fmt(figures['skew_heavy_log1p'])}。一个离群值使真实值只占 min-max 区间 [0, 1] 的 "
              f"{fmt(figures['inlier_span_minmax_outlier'])}。在训练集上拟合的 min-max 使验证集中 "
              f"{fmt(figures['val_outside_unit_range'])} 的值落在 [0, 1] 之外（最大 "
              f"{fmt(figures['val_max_after_train_minmax'])}）；用固定常量范围则为 "
              f"{fmt(figures['val_outside_fixed_range'])}。1 - exp(-x) 在 [0, 6] 上覆盖其值域的 "
              f"{fmt(figures['expsquash_share_0_6'])}。")
        if ks >= ks_max and shape <= tol:
            return verdict_if(False), evidence(
                en=en + " The formulas are right, but z-scored data are not standard normal: z-scoring only shifts "
                        "and rescales, it never makes a distribution normal.",
                zh=zh + "公式本身没错，但 z-score 后的数据并不服从标准正态分布：z-score 只做平移和缩放，"
                        "不会把任何分布变成正态分布。")
        if ks < ks_max:
            return verdict_if(True), evidence(en=en + " Every z-scored feature here is close to N(0, 1).",
                                              zh=zh + "这里每个 z-score 后的特征都接近 N(0, 1)。")
        return verdict_if(False, nuanced=True), evidence(
            en=en + " The features are not normal after z-scoring, and their shape also changed beyond tolerance.",
            zh=zh + "z-score 后特征并非正态，且形状变化也超出了容差。")
