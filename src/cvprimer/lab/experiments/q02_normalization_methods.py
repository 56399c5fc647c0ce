"""Question 2: the common normalization methods — min-max, z-score and non-linear maps — and what z-scoring does
to a distribution.

Measured with the scalers of :mod:`cvprimer.data` on three real features (the gradient magnitude of a photograph's
pixels, heavy-tailed; MNIST pixel intensities, a spike at zero; the total ink of each digit, closest to
bell-shaped): that min-max lands on [0, 1] and z-scoring on mean 0 and standard deviation 1, whether the z-scored
features are standard normal (Kolmogorov-Smirnov distance to N(0, 1) against Lilliefors' 1% critical value, since
the mean and standard deviation are estimated from the same data), and whether the four non-linear squashes (log1p,
1 - exp(-x), tanh, arctan) reduce the skewness of the widely spread feature. Beyond the seed: what one outlier does
to min-max, min-max fitted on a training split applied to validation data, and the share of 1 - exp(-x)'s range
reached on [0, 6].
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cvprimer import data as cd
from cvprimer.lab.common import load_data, sample_photo
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
from cvprimer.lab.plots import tr, tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "squashes (dotted: x = 6)": "压缩函数（虚线：x = 6）",
    "photo gradient magnitude after each squash": "各压缩函数处理后的照片梯度幅值",
    "log10(density + 0.001)": "log10(密度 + 0.001)",
    "min-max of digit ink with one outlier": "有一个离群值时数字笔画的 min-max",
    "scaled value": "缩放后的值",
    "log10(count + 1)": "log10(计数 + 1)",
})

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


FEATURES = {"photo gradient magnitude": "photo", "MNIST pixel intensity": "mnist", "digit ink (sum of pixels)": "ink"}
SQUASH_KEYS = {"log1p": "log1p", "1 - exp(-x)": "exp", "tanh": "tanh", "arctan": "arctan"}


def features(ctx: Context) -> dict[str, np.ndarray]:
    """Three real one-dimensional features as float64 arrays."""
    grey = sample_photo(0).mean(axis=0)[::2, ::2] if ctx.quick else sample_photo(0).mean(axis=0)
    gy, gx = np.gradient(grey.astype(np.float64))
    mnist = load_data("mnist_sample", ctx.pick(200, 1000, tiny=20), 10, ctx.rng).x_train
    digits = load_data("digits", ctx.pick(1437, 1437, tiny=300), 360, ctx.rng).x_train  # every training digit
    return {"photo gradient magnitude": np.hypot(gx, gy).ravel(),
            "MNIST pixel intensity": mnist.astype(np.float64).ravel(),
            "digit ink (sum of pixels)": digits.reshape(len(digits), -1).sum(axis=1).astype(np.float64)}


class NormalizationMethods(Experiment):
    id = "q02-normalization-methods"
    questions = (2,)
    topic = "data"
    stochastic = True  # the MNIST and digit samples are drawn with the run's seed
    thresholds = {"lilliefors_1pct": 1.031, "moment_tol": 1e-6, "min_skew_cut": 0.5}
    reasons = {
        "lilliefors_1pct": {
            "en": "Convention: Lilliefors' test of normality at the 1% level (the Kolmogorov-Smirnov test when the "
                  "mean and standard deviation are estimated from the data, as z-scoring does); a feature counts "
                  "as standard normal when sqrt(n) x KS distance is below the asymptotic critical value 1.031.",
            "zh": "惯例：1% 显著性水平下的 Lilliefors 正态性检验（均值和标准差由数据本身估计时的 Kolmogorov-Smirnov "
                  "检验，正是 z-score 的情形）；sqrt(n) x KS 距离低于渐近临界值 1.031 才算服从标准正态。"},
        "moment_tol": {
            "en": "Theory: the formulas are exact, so only float64 rounding separates the result from mean 0, "
                  "standard deviation 1 and the range [0, 1]; 1e-6 is far above rounding and far below any real "
                  "error.",
            "zh": "理论：公式是精确的，结果与均值 0、标准差 1 和区间 [0, 1] 之间只差 float64 舍入误差；1e-6 远大于"
                  "舍入误差，又远小于任何真实错误。"},
        "min_skew_cut": {
            "en": "Convention: Bulmer's (1979) bands of skewness are 0.5 wide (below 0.5 fairly symmetric, 0.5-1 "
                  "moderately, above 1 highly skewed), so a squash must lower the skewness by a whole band; the "
                  "sampling error of skewness, sqrt(6/n), is below 0.01 here.",
            "zh": "惯例：Bulmer（1979）的偏度分档宽 0.5（低于 0.5 大致对称，0.5-1 中度偏斜，高于 1 高度偏斜），"
                  "压缩函数须把偏度降低整整一档；这里偏度的抽样误差 sqrt(6/n) 低于 0.01。"},
    }
    reachable = (CONFIRMED, NUANCED, REFUTED)
    key_term = {"en": "z-score standardization keeps the shape of the distribution",
                "zh": "z-score 标准化不改变分布形状"}
    key_figure = "ks_mnist"
    answer = {
        "confirmed": {
            "en": "The three families hold, and here even the normality check passed (KS distance of z-scored "
                  "MNIST pixels {ks_mnist}); still say that z-scoring only shifts and rescales data, it never "
                  "reshapes a distribution.",
            "zh": "三类方法都成立，这次连正态性检验也通过了（z-score 后 MNIST 像素的 KS 距离为 {ks_mnist}）；"
                  "但回答时仍应指出 z-score 只做平移和缩放，从不改变分布的形状。"},
        "nuanced": {
            "en": "Min-max and z-scoring do what their formulas say, but only part of the claim held: z-scored "
                  "data are normal only if the raw data were (KS distance of z-scored MNIST pixels "
                  "{ks_mnist}), and skewed features need a non-linear squash such as log.",
            "zh": "min-max 和 z-score 确实做到了公式所说的，但说法只部分成立：只有原始数据本来就是正态的，"
                  "z-score 之后才是正态的（z-score 后 MNIST 像素的 KS 距离为 {ks_mnist}），"
                  "偏斜的特征需要对数之类的非线性压缩。"},
        "refuted": {
            "en": "Correct the claim: z-scoring gives mean 0 and standard deviation 1 but keeps the shape, so "
                  "the data do not become standard normal; z-scored MNIST pixels sit at KS distance {ks_mnist} "
                  "from the normal law. Use log or arctan maps to reduce skew.",
            "zh": "需要纠正：z-score 让均值为 0、标准差为 1，但分布形状不变，因此数据并不会变成标准正态分布；"
                  "z-score 后的 MNIST 像素与正态分布的 KS 距离为 {ks_mnist}。要减小偏斜应使用对数或反正切变换。"},
    }
    text = {
        "en": {
            "title": "Which normalization methods are in common use?",
            "claim": "The common methods are min-max scaling to [0, 1], suited to data that sit in a narrow range; "
                     "z-scoring to zero mean and unit standard deviation, after which, the seed says, the data "
                     "follow the standard normal distribution; and non-linear maps such as log, exponential or "
                     "arctangent transforms for widely spread data.",
            "method": "With the scalers of cvprimer.data: min-max and z-score three real features (a photograph's "
                      "gradient magnitude, MNIST pixel intensities, the ink per digit) and check the range, mean "
                      "and standard deviation; test each z-scored feature for standard normality with the "
                      "Kolmogorov-Smirnov distance to N(0, 1) at Lilliefors' 1% critical value, with histograms "
                      "and QQ plots; apply the four squashes (log1p, 1 - exp(-x), tanh, arctan) to the heavy-tailed "
                      "feature and measure its skewness before and after. The claim holds for a feature when its "
                      "z-scored version passes the normality test; the formulas and the squashes must do what the "
                      "seed says.",
            "beyond": "One outlier added to the ink feature before min-max; min-max fitted per pixel on a training "
                      "split of the digits and applied to the validation split, and with a constant range instead; "
                      "the share of 1 - exp(-x)'s range reached on [0, 6]; how much z-scoring changes skewness and "
                      "kurtosis.",
        },
        "zh": {
            "title": "常用的归一化方法有哪些？",
            "claim": "常用方法有：把数据线性缩放到 [0, 1] 的 min-max，适合数值集中的数据；减均值除以标准差的 "
                     "z-score，原文称处理后数据服从标准正态分布；以及对跨度很大的数据使用的对数、指数、反正切等"
                     "非线性变换。",
            "method": "用 cvprimer.data 的缩放器：对三个真实特征（照片的梯度幅值、MNIST 像素强度、每张 digits 图像的"
                      "墨量）做 min-max 和 z-score，检查取值范围、均值和标准差；用与 N(0, 1) 的 Kolmogorov-Smirnov "
                      "距离在 Lilliefors 1% 临界值下检验每个 z-score 后的特征是否服从标准正态，并画直方图和 QQ 图；"
                      "对重尾特征施加四种压缩函数（log1p、1 - exp(-x)、tanh、arctan），测量前后的偏度。"
                      "某个特征 z-score 后通过正态性检验，才算该说法在此成立；公式和压缩函数也须符合原文所说。",
            "beyond": "在墨量特征中加入一个离群值后做 min-max；在 digits 训练集上逐像素拟合 min-max 再应用到验证集，"
                      "以及改用固定常量范围；1 - exp(-x) 在 [0, 6] 上覆盖的值域比例；z-score 对偏度和峰度的改变量。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "ks_{data}": {"en": "KS distance to a normal, {data}", "zh": "与正态分布的 KS 距离（{data}）"},
        "n_{data}": {"en": "values tested, {data}", "zh": "检验的数值个数（{data}）"},
        "max_mean_std_error": {"en": "largest error of mean 0 / std 1 after z-scoring",
                               "zh": "z-score 后均值 0 / 标准差 1 的最大误差"},
        "max_minmax_range_error": {"en": "largest error of the [0, 1] range after min-max",
                                   "zh": "min-max 后 [0, 1] 范围的最大误差"},
        "skew_heavy": {"en": "skewness of the heavy-tailed feature", "zh": "重尾特征的偏度"},
        "skew_heavy_{map}": {"en": "skewness of the heavy-tailed feature after {map}",
                             "zh": "{map}变换后重尾特征的偏度"},
        "max_shape_change": {"en": "largest change of shape by a linear scaling", "zh": "线性缩放造成的最大形状变化"},
        "inlier_span_minmax_outlier": {"en": "span of the inliers after min-max with one outlier",
                                       "zh": "有一个离群值时 min-max 后正常值所占的范围"},
        "inlier_std_zscore_outlier": {"en": "std of the inliers after z-scoring with one outlier",
                                      "zh": "有一个离群值时 z-score 后正常值的标准差"},
        "val_outside_unit_range": {"en": "validation values outside [0, 1] after min-max fit on training",
                                   "zh": "按训练集 min-max 后落在 [0, 1] 外的验证数值"},
        "val_max_after_train_minmax": {"en": "largest validation value after min-max fit on training",
                                       "zh": "按训练集 min-max 后验证集的最大值"},
        "val_outside_fixed_range": {"en": "validation values outside the fixed range",
                                    "zh": "落在固定范围外的验证数值"},
        "expsquash_share_0_6": {"en": "share of the output range used by x in [0, 6] (exp squash)",
                                "zh": "x 在 [0, 6] 时占用的输出范围比例（指数压缩）"},
    }
    terms = {
        "photo": {"en": "photo pixels", "zh": "照片像素"},
        "mnist": {"en": "MNIST pixels", "zh": "MNIST 像素"},
        "ink": {"en": "ink strokes", "zh": "笔画像素"},
        "log1p": {"en": "log1p", "zh": "log1p "},
        "exp": {"en": "exp squash", "zh": "指数压缩"},
        "tanh": {"en": "tanh", "zh": "tanh "},
        "arctan": {"en": "arctan", "zh": "arctan "},
    }

    def measure(self, ctx: Context) -> Result:
        feats = features(ctx)
        rows, z_feats, ks, skew_change, ms, mm_err = [], {}, {}, [], [], []
        for name, x in feats.items():
            z = cd.Standardizer().fit(x).transform(x)
            z_feats[name] = z
            before, after = moments(x), moments(z)
            ks[name] = ks_normal(z)
            skew_change.append(max(abs(before[2] - after[2]), abs(before[3] - after[3])))
            ms.append(max(abs(after[0]), abs(after[1] - 1)))
            m01 = cd.MinMaxScaler().fit(x).transform(x)
            mm_err.append(max(abs(float(m01.min())), abs(float(m01.max()) - 1)))
            rows.append([name, len(x), *before, *after, ks[name], ks[name] * np.sqrt(len(x))])
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
        d = load_data("digits", ctx.pick(1000, 1437, tiny=300), 360, ctx.rng)
        per_pixel = cd.MinMaxScaler(per_channel=True).fit(d.x_train.reshape(len(d.x_train), -1))
        val = per_pixel(d.x_val.reshape(len(d.x_val), -1))
        outside = float(np.mean((val < 0) | (val > 1)))
        worst_val = float(val.max())
        fixed = cd.MinMaxScaler(data_range=(0.0, 1.0)).fit(d.x_train)(d.x_val)  # a known constant range
        exp_share = float(-np.expm1(-6.0))  # share of ExpSquash's output range reached for x in [0, 6]
        figures: dict[str, Figure] = {}
        for name, x in feats.items():
            key = FEATURES[name]
            figures[f"ks_{key}"] = Figure(ks[name], "KS distance")
            figures[f"n_{key}"] = Figure(len(x), "values")
        figures["max_mean_std_error"] = Figure(max(ms), "|mean|, |std - 1|")
        figures["max_minmax_range_error"] = Figure(max(mm_err), "|min|, |max - 1|")
        figures["skew_heavy"] = Figure(moments(heavy)[2], "skewness")
        for k, v in sq_skew.items():
            figures[f"skew_heavy_{SQUASH_KEYS[k]}"] = Figure(v, "skewness")
        beyond = {
            "max_shape_change": Figure(max(skew_change), "|change| of skewness/kurtosis"),
            "inlier_span_minmax_outlier": Figure(inlier_span, "fraction of [0, 1]"),
            "inlier_std_zscore_outlier": Figure(inlier_std_z, "std"),
            "val_outside_unit_range": Figure(outside, "fraction"),
            "val_max_after_train_minmax": Figure(worst_val, ""),
            "val_outside_fixed_range": Figure(float(np.mean((fixed < 0) | (fixed > 1))), "fraction"),
            "expsquash_share_0_6": Figure(exp_share, "fraction of range"),
        }
        tables = [
            Table("zscore", ["feature", "n", "mean", "std", "skew", "ex. kurtosis", "mean (z)", "std (z)", "skew (z)",
                             "ex. kurtosis (z)", "KS to N(0,1)", "sqrt(n) KS"], rows,
                  {"en": "Each feature's moments before and after z-scoring, and its distance to N(0, 1).",
                   "zh": "各特征 z-score 前后的矩，以及与 N(0, 1) 的距离。"}),
            Table("squashes", ["map", "skewness after"], [["none", moments(heavy)[2]]] + [[k, v] for k, v in
                                                                                          sq_skew.items()],
                  {"en": "Skewness of the photo's gradient magnitude after each squash (scale = its std).",
                   "zh": "照片梯度幅值经各压缩函数（尺度取其标准差）后的偏度。"}),
        ]
        return Result(figures=figures, tables=tables, beyond=beyond,
                      series={"feats": feats, "z_feats": z_feats, "ks": ks, "heavy": heavy, "squashed": squashed,
                              "ink": ink, "mm": mm})

    def draw(self, res: Result, ctx: Context) -> None:
        """The histograms and QQ plots before and after z-scoring, then the squashes and the outlier."""
        s = res.series
        self._plot_hist(ctx, s["feats"], s["z_feats"], s["ks"])
        self._plot_squash(ctx, s["heavy"], s["squashed"], s["ink"], s["mm"])

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
            axes[0, j].set_title(tr(f"{name}: raw", f"{name}：原始"), fontsize=9)
            axes[0, j].set_ylabel("log10(count + 1)")
            axes[0, j].set_xlabel("value")
            lo, hi = np.percentile(z, [0.1, 99.9])
            axes[1, j].hist(z, bins=np.linspace(min(lo, -4), max(hi, 4), 60), density=True, color="C2", alpha=0.7,
                            label="z-scored")
            axes[1, j].plot(t, np.exp(-0.5 * t**2) / np.sqrt(2 * np.pi), "k--", label="N(0, 1)")
            axes[1, j].set_title(tr(f"z-scored (KS to N(0,1) = {ks[name]:.2f})",
                                    f"z 分数标准化（与 N(0,1) 的 KS = {ks[name]:.2f}）"), fontsize=9)
            axes[1, j].set_xlabel("z")
            axes[1, j].legend(fontsize=7)
        dist_en = ", ".join(f"{k} {v:.3g}" for k, v in ks.items())
        dist_zh = "，".join(f"{k} {v:.3g}" for k, v in ks.items())
        ctx.save_figure(fig, "zscore_hist", "Histograms of three real features before (top, log10 counts) and after "
                        f"z-scoring (bottom) against the standard normal density; KS distances to N(0, 1): {dist_en}.",
                        "三个真实特征在 z-score 之前（上，对数计数）和之后（下）的直方图，并与标准正态密度对比；"
                        f"与 N(0, 1) 的 KS 距离：{dist_zh}。")
        fig, axes = ctx.figure(1, 3, size=(13, 3.8))
        for ax, (name, z) in zip(axes, z_feats.items(), strict=True):
            q = np.sort(z)[np.linspace(0, len(z) - 1, 400).astype(int)]
            p = ndtri((np.arange(400) + 0.5) / 400)
            ax.plot(p, q, ".", ms=3)
            ax.plot([-3, 3], [-3, 3], "k--", lw=1)
            ax.set_title(tr(f"QQ vs N(0,1): {name}", f"对 N(0,1) 的 QQ 图：{name}"), fontsize=9)
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
        axes[2].hist(mm[:-1], bins=40, color="C0", label=tr(f"{len(ink)} real values", f"{len(ink)} 个真实数值"))
        axes[2].axvline(mm[-1], color="C1", lw=2, label="one outlier")
        axes[2].set_xlim(-0.02, 1.02)
        axes[2].set_title("min-max of digit ink with one outlier")
        axes[2].set_xlabel("scaled value")
        axes[2].legend(fontsize=7)
        span = float(mm[:-1].max() - mm[:-1].min())
        ctx.save_figure(fig, "squash_outlier", "Left: the four squashes. Middle: the heavy-tailed photo feature after "
                        f"each. Right: min-max scaling of {len(ink)} real values plus one outlier; the real values "
                        f"span {span:.3g} of [0, 1].",
                        "左：四种压缩函数。中：重尾的照片特征经各函数变换后的分布。右：对 "
                        f"{len(ink)} 个真实值加一个离群值做 min-max，真实值只占 [0, 1] 的 {span:.3g}。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        crit, tol, cut = thresholds["lilliefors_1pct"], thresholds["moment_tol"], thresholds["min_skew_cut"]
        stat = {k: figures[f"ks_{k}"] * np.sqrt(figures[f"n_{k}"]) for k in FEATURES.values()}
        normal = [k for k in FEATURES.values() if stat[k] < crit]
        not_normal = [k for k in FEATURES.values() if k not in normal]
        ms, mm = figures["max_mean_std_error"], figures["max_minmax_range_error"]
        s0 = figures["skew_heavy"]
        weak = [k for k in SQUASH_KEYS.values() if s0 - figures[f"skew_heavy_{k}"] < cut]
        formulas = ms <= tol and mm <= tol and not weak
        verdict = (REFUTED if not formulas or not normal else CONFIRMED if not not_normal else NUANCED)
        names = {"photo": ("photo gradient", "照片梯度"), "mnist": ("MNIST pixels", "MNIST 像素"),
                 "ink": ("digit ink", "digits 墨量")}
        ks_en = "; ".join(f"{names[k][0]}: KS {fmt(figures[f'ks_{k}'])}, sqrt(n) KS {fmt(stat[k])} (n = "
                          f"{fmt(figures[f'n_{k}'])})" for k in FEATURES.values())
        ks_zh = "；".join(f"{names[k][1]}：KS {fmt(figures[f'ks_{k}'])}，sqrt(n) KS {fmt(stat[k])}（n = "
                          f"{fmt(figures[f'n_{k}'])}）" for k in FEATURES.values())
        sq = ", ".join(f"{k} {fmt(figures[f'skew_heavy_{k}'])}" for k in SQUASH_KEYS.values())
        en = (f"Min-max lands on [0, 1] within {fmt(mm)} and z-scoring on mean 0 and standard deviation 1 within "
              f"{fmt(ms)} (tolerance {fmt(tol)}). Standard normal after z-scoring (sqrt(n) KS below Lilliefors' 1% "
              f"value {fmt(crit)}): {ks_en}; normal: {', '.join(names[k][0] for k in normal) or 'none'}; not normal: "
              f"{', '.join(names[k][0] for k in not_normal) or 'none'}. The heavy-tailed feature's skewness "
              f"{fmt(s0)} becomes {sq} after the squashes (a cut of at least {fmt(cut)} counts; too weak: "
              f"{', '.join(weak) or 'none'}).")
        zh = (f"min-max 落在 [0, 1] 上（误差 {fmt(mm)}），z-score 得到均值 0、标准差 1（误差 {fmt(ms)}；容差 "
              f"{fmt(tol)}）。z-score 后是否服从标准正态（sqrt(n) KS 低于 Lilliefors 1% 临界值 {fmt(crit)}）：{ks_zh}；"
              f"服从的：{'、'.join(names[k][1] for k in normal) or '无'}；不服从的："
              f"{'、'.join(names[k][1] for k in not_normal) or '无'}。重尾特征的偏度 {fmt(s0)} 经各压缩函数后为 {sq}"
              f"（至少降低 {fmt(cut)} 才算；不足的：{'、'.join(weak) or '无'}）。")
        return verdict, evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        b = {k: fmt(v) for k, v in beyond.items()}
        return {
            "en": f"z-scoring changes skewness and kurtosis by at most {b['max_shape_change']}. One outlier (100x the "
                  f"largest ink) leaves the real values {b['inlier_span_minmax_outlier']} of min-max's [0, 1] (their "
                  f"std after z-scoring: {b['inlier_std_zscore_outlier']}). Min-max fitted on the training split puts "
                  f"{b['val_outside_unit_range']} of validation values outside [0, 1] (up to "
                  f"{b['val_max_after_train_minmax']}); a constant range gives {b['val_outside_fixed_range']}. "
                  f"1 - exp(-x) covers {b['expsquash_share_0_6']} of its range on [0, 6].",
            "zh": f"z-score 对偏度和峰度的改变最多为 {b['max_shape_change']}。一个离群值（最大墨量的 100 倍）使真实值"
                  f"只占 min-max 区间 [0, 1] 的 {b['inlier_span_minmax_outlier']}（z-score 后其标准差为 "
                  f"{b['inlier_std_zscore_outlier']}）。在训练集上拟合的 min-max 使验证集中 "
                  f"{b['val_outside_unit_range']} 的值落在 [0, 1] 之外（最大 {b['val_max_after_train_minmax']}）；"
                  f"用固定常量范围则为 {b['val_outside_fixed_range']}。1 - exp(-x) 在 [0, 6] 上覆盖其值域的 "
                  f"{b['expsquash_share_0_6']}。",
        }
