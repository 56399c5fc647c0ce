"""Question 9: upsampling — interpolation (bilinear preferred), transposed convolution and max unpooling.

Measured (the seed's claim): (1) a real photograph shrunk 4x (area averaging) and restored by nearest, bilinear
and bicubic interpolation, scored by PSNR and SSIM (scikit-image): is bilinear the best interpolation? (2) the
time of a 2x bilinear upsampling of a 64-channel map beside the 3x3 convolution that follows it at the doubled
size (one thread, interleaved repeats, process CPU time): is it negligible? (3) a transposed convolution against
zero insertion followed by an ordinary convolution with the flipped kernel (largest difference, float64). (4) max
unpooling against a NumPy reference that puts each block's maximum back at its argmax and zeros elsewhere.

Beyond the seed: the photo restored by bilinear with aligned corners, a transposed convolution holding the bilinear
kernel, max unpooling and pixel shuffle after a linear sub-pixel convolution fitted by least squares on the other
sample photo; the checkerboard of a transposed convolution whose stride does not divide its kernel; the analyzer's
FLOP ratios; and each method as the decoder's upsampler of a small U-Net-like net segmenting MNIST digits (Adam,
lr 1e-2, mask: pixel > 0.5): validation IoU.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.analysis.timing import time_interleaved
from cvprimer.lab.common import load_data, make_optimizer, predict, sample_photo
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
    "beyond the seed: MNIST digit segmentation, upsampler of a small U-Net":
        "原文之外：MNIST 数字分割，小型 U-Net 的上采样方法",
    "bilinear": "双线性插值",
    "nearest": "最近邻插值",
    "pixel_shuffle": "像素重排",
    "transposed3": "3x3 转置卷积",
    "unpool": "最大反池化",
})

R = 4  # the photo's downscale factor
PHOTO_METHODS = ("nearest", "bilinear", "bilinear_ac", "bicubic", "transposed", "unpool", "pixel_shuffle")
PHOTO_LABELS = {"nearest": "nearest", "bilinear": "bilinear", "bilinear_ac": "bilinear (align_corners)",
                "bicubic": "bicubic", "transposed": "transposed conv (bilinear kernel)",
                "unpool": "max unpooling", "pixel_shuffle": "pixel shuffle (fitted conv)"}
PHOTO_LABELS_ZH = {"nearest": "最近邻插值", "bilinear": "双线性插值", "bilinear_ac": "双线性插值，角点对齐",
                   "bicubic": "双三次插值", "transposed": "转置卷积（双线性核）", "unpool": "最大反池化",
                   "pixel_shuffle": "像素重排（拟合的卷积）"}
SEG_METHODS = ("nearest", "bilinear", "bicubic", "transposed4", "transposed3", "pixel_shuffle", "unpool")


# ----------------------------------------------------------------------------------------------- photo
def bilinear_kernel(r: int) -> np.ndarray:
    """The 1-D kernel (length 2r - r % 2) with which a stride-r transposed convolution performs bilinear
    upsampling (FCN's initialisation): ``1 - |x / f - c|``, ``f = ceil(k / 2)``."""
    k = 2 * r - r % 2
    f = (k + 1) // 2
    c = (2 * f - 1 - f % 2) / (2 * f)
    return 1 - np.abs(np.arange(k) / f - c)


def fit_subpixel(low: np.ndarray, high: np.ndarray, r: int, taps: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares weights (r^2, 1, taps, taps) and bias (r^2,) of the convolution whose pixel shuffle best
    maps each ``taps x taps`` low-resolution patch to the r x r high-resolution block it covers
    (planes of ``low`` (P, h, w) and ``high`` (P, h r, w r); interior pixels only)."""
    from numpy.lib.stride_tricks import sliding_window_view

    P, h, w = low.shape
    m = taps // 2
    patches = sliding_window_view(low.astype(np.float64), (taps, taps), axis=(1, 2))  # (P, h-2m, w-2m, t, t)
    A = patches.reshape(-1, taps * taps)
    A = np.concatenate([A, np.ones((len(A), 1))], axis=1)
    blocks = high.reshape(P, h, r, w, r).transpose(0, 1, 3, 2, 4)[:, m:h - m, m:w - m].reshape(-1, r * r)
    sol, *_ = np.linalg.lstsq(A, blocks.astype(np.float64), rcond=None)
    return sol[:-1].T.reshape(r * r, 1, taps, taps), sol[-1]


def restore(method: str, img: np.ndarray, sub: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Shrink ``img`` (C, H, W) R-fold (area averaging; max pooling for unpooling) and restore it by
    ``method``; returns the restored (C, H, W) clipped to [0, 1]."""
    C, H, W = img.shape
    x = cp.tensor(img[:, None])  # channels as a batch of grey planes
    low = F.interpolate(x, scale_factor=1 / R, mode="area")
    if method == "nearest":
        y = F.interpolate(low, size=(H, W), mode="nearest")
    elif method in ("bilinear", "bilinear_ac", "bicubic"):
        mode = "bicubic" if method == "bicubic" else "bilinear"
        y = F.interpolate(low, size=(H, W), mode=mode, align_corners=method == "bilinear_ac")
    elif method == "transposed":
        k1 = bilinear_kernel(R)
        w = cp.tensor(np.outer(k1, k1)[None, None].astype(np.float32))
        y = F.conv_transpose2d(low, w, stride=R, padding=R // 2)
    elif method == "unpool":
        pooled, idx = F.max_pool2d(x, R, return_indices=True)
        y = F.max_unpool2d(pooled, idx, R, output_size=(H, W))
    elif method == "pixel_shuffle":
        assert sub is not None, "restore: pixel_shuffle needs the fitted sub-pixel convolution"
        wk, b = sub
        t = wk.shape[-1] // 2
        padded = F.pad(low, (t, t, t, t), mode="replicate")
        y = F.pixel_shuffle(F.conv2d(padded, cp.tensor(wk.astype(np.float32)), cp.tensor(b.astype(np.float32))), R)
    else:
        raise ValueError(f"restore: unknown method {method!r}")
    return np.clip(y.numpy()[:, 0], 0.0, 1.0)


def upsampling_cost(c: int = 64, side: int = 56) -> dict[str, int]:
    """FLOPs (analyzer; a MAC counts 2) of upsampling a (1, c, side, side) map 2x by each interpolation mode
    and of the 3x3 convolution (c -> c) that typically follows it at the doubled size."""
    from cvprimer.lab._convnets import cost

    out = {m: cost(nn.Upsample(scale_factor=2, mode=m), (1, c, side, side))["flops"]
           for m in ("nearest", "bilinear", "bicubic")}
    conv = cost(nn.Conv2d(c, c, 3, padding=1, bias=False), (1, c, 2 * side, 2 * side))
    out["conv3x3"] = 2 * conv["macs"] + conv["flops"]  # the analyzer keeps a GEMM's MACs apart
    return out


def transposed_vs_zero_insertion(rng: np.random.Generator) -> float:
    """Largest |conv_transpose2d(x, w, s, p) - conv2d(zero-insert(x, s) padded by k - 1 - p, flipped w^T)|
    over strides 2, 3 and paddings 0, 1 (float64, random x and w)."""
    worst = 0.0
    for s in (2, 3):
        for p in (0, 1):
            x = rng.standard_normal((2, 3, 5, 6))
            w = rng.standard_normal((3, 4, 3, 3))  # (C_in, C_out, k, k)
            k = w.shape[-1]
            ref = F.conv_transpose2d(cp.tensor(x), cp.tensor(w), stride=s, padding=p).numpy()
            z = np.zeros((2, 3, (5 - 1) * s + 1, (6 - 1) * s + 1))
            z[:, :, ::s, ::s] = x
            q = k - 1 - p
            z = np.pad(z, ((0, 0), (0, 0), (q, q), (q, q)))
            wf = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
            ours = F.conv2d(cp.tensor(z), cp.tensor(wf)).numpy()
            worst = max(worst, float(np.abs(ours - ref).max()))
    return worst


def unpool_error(rng: np.random.Generator, r: int = 2) -> float:
    """Largest |max_unpool2d(max_pool2d(x)) - reference| where the NumPy reference keeps each r x r block's
    maximum at its position and zeros every other pixel (x: random (2, 3, 8, 12), no ties)."""
    x = rng.standard_normal((2, 3, 8, 12))
    pooled, idx = F.max_pool2d(cp.tensor(x), r, return_indices=True)
    ours = F.max_unpool2d(pooled, idx, r, output_size=x.shape[-2:]).numpy()
    blocks = x.reshape(2, 3, 8 // r, r, 12 // r, r)
    keep = blocks == blocks.max(axis=(3, 5), keepdims=True)
    ref = np.where(keep, blocks, 0.0).reshape(x.shape)
    return float(np.abs(ours - ref).max())


def upsampling_time_ratio(rng: np.random.Generator, c: int, side: int, repeat: int) -> float:
    """Time of a 2x bilinear upsampling of a (1, c, side, side) map / time of the 3x3 convolution (c -> c) on
    the upsampled map (interleaved medians of process CPU time)."""
    x = cp.tensor(rng.standard_normal((1, c, side, side)).astype(np.float32))
    w = cp.tensor(rng.standard_normal((c, c, 3, 3)).astype(np.float32))
    with cp.no_grad():
        up = F.interpolate(x, scale_factor=2, mode="bilinear")
        t = time_interleaved({"up": lambda: F.interpolate(x, scale_factor=2, mode="bilinear"),
                              "conv": lambda: F.conv2d(up, w, padding=1)}, repeat=repeat, warmup=1,
                             clock=time.process_time)
    return t["up"] / t["conv"]


def checkerboard(k: int, s: int, n: int = 12) -> tuple[float, np.ndarray]:
    """(max - min) / mean of the interior of conv_transpose2d(ones(n x n), ones(k x k), stride s): 0 when every
    output pixel receives the same number of kernel taps, > 0 for the checkerboard of uneven overlap."""
    y = F.conv_transpose2d(cp.ones(1, 1, n, n), cp.ones(1, 1, k, k), stride=s).numpy()[0, 0]
    inner = y[k:-k, k:-k]
    return float((inner.max() - inner.min()) / inner.mean()), y


# ------------------------------------------------------------------------------------------ segmentation
class SegNet(nn.Module):
    """A small U-Net-like encoder-decoder for 1x28x28 -> 2x28x28 logits whose two upsampling steps use
    ``method`` (interpolation modes, transposed convolutions k=4 or k=3, pixel shuffle or max unpooling)."""

    def __init__(self, method: str, width: int = 8) -> None:
        super().__init__()
        c1, c2 = width, 2 * width
        self.method = method
        self.enc1 = nn.Conv2d(1, c1, 3, padding=1)
        self.enc2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.mid = nn.Conv2d(c2, c2, 3, padding=1)
        self.up1: nn.Module
        self.up2: nn.Module
        if method == "transposed4":
            self.up1, self.up2 = nn.ConvTranspose2d(c2, c2, 4, 2, 1), nn.ConvTranspose2d(c1, c1, 4, 2, 1)
        elif method == "transposed3":
            self.up1 = nn.ConvTranspose2d(c2, c2, 3, 2, 1, output_padding=1)
            self.up2 = nn.ConvTranspose2d(c1, c1, 3, 2, 1, output_padding=1)
        elif method == "pixel_shuffle":
            self.up1, self.up2 = nn.Conv2d(c2, 4 * c2, 1), nn.Conv2d(c1, 4 * c1, 1)
        self.dec1 = nn.Conv2d(c2, c1, 3, padding=1)
        self.dec2 = nn.Conv2d(2 * c1, c1, 3, padding=1)  # skip connection from enc1 (U-Net style)
        self.head = nn.Conv2d(c1, 2, 1)

    def _up(self, h: Any, step: int, idx: Any) -> Any:
        m = self.method
        if m in ("nearest", "bilinear", "bicubic"):
            return F.interpolate(h, scale_factor=2, mode=m)
        if m == "unpool":
            return F.max_unpool2d(h, idx, 2)
        layer = self.up1 if step == 1 else self.up2
        return F.pixel_shuffle(layer(h), 2) if m == "pixel_shuffle" else layer(h)

    def forward(self, x: Any) -> Any:
        e1 = F.relu(self.enc1(x))                                   # 28
        p1, i1 = F.max_pool2d(e1, 2, return_indices=True)           # 14
        e2 = F.relu(self.enc2(p1))
        p2, i2 = F.max_pool2d(e2, 2, return_indices=True)           # 7
        h = F.relu(self.mid(p2))
        h = F.relu(self.dec1(self._up(h, 1, i2)))                   # 14, c1 channels
        h = self._up(h, 2, i1)                                      # 28
        h = F.relu(self.dec2(cp.cat([h, e1], dim=1)))
        return self.head(h)


def iou(logits: np.ndarray, mask: np.ndarray) -> float:
    """Foreground intersection over union of ``argmax(logits)`` against the integer ``mask``."""
    pred = logits.argmax(1) == 1
    truth = mask == 1
    union = np.logical_or(pred, truth).sum()
    return float(np.logical_and(pred, truth).sum() / union) if union else 1.0


class MaskPairs:
    """Images with per-pixel integer masks as a dataset for the library's DataLoader (whose ArrayDataset
    wants one label per image)."""

    def __init__(self, images: np.ndarray, masks: np.ndarray) -> None:
        self.images, self.labels = images, masks

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.images[i], self.labels[i]


def train_segmenters(methods: tuple[str, ...], n_train: int, n_val: int, epochs: int, rng: np.random.Generator,
                     seed: int, width: int = 8, batch_size: int = 32) -> dict[str, float]:
    """Validation IoU of a :class:`SegNet` per upsampling method, all trained with the library's Trainer
    (Adam, per-pixel cross-entropy) on the same digits and batches."""
    from cvprimer.data import DataLoader
    from cvprimer.train import Trainer

    d = load_data("mnist_sample", n_train, n_val, rng)
    train = MaskPairs(d.x_train, (d.x_train[:, 0] > 0.5).astype(np.int64))
    val_mask = (d.x_val[:, 0] > 0.5).astype(np.int64)
    state = rng.bit_generator.state
    out = {}
    for m in methods:
        cp.manual_seed(seed)
        model = SegNet(m, width)
        gen = np.random.default_rng()
        gen.bit_generator.state = state
        loader = DataLoader(train, batch_size=batch_size, shuffle=True, rng=gen)
        Trainer(model, F.cross_entropy, make_optimizer("adam", model.parameters(), 1e-2)).fit(loader, None, epochs)
        out[m] = iou(predict(model, d.x_val), val_mask)
    return out


# ------------------------------------------------------------------------------------------ experiment
class Upsampling(Experiment):
    id = "q09-upsampling"
    questions = (9,)
    topic = "sampling"
    thresholds = {"margin_db": 0.05, "margin_ssim": 0.002, "max_time_ratio": 0.1, "exact_tol": 1e-12}
    reasons = {
        "margin_db": {"en": "Convention: a PSNR difference within 0.05 dB is a tie (invisible); the photo scores are "
                            "deterministic (the same crop and methods in every seed, spread 0), so no noise margin "
                            "is needed.",
                      "zh": "约定：PSNR 相差 0.05 dB 以内视为持平（肉眼不可见）；照片得分是确定的"
                            "（每个随机种子都是同一区域、同样的方法，离散度为 0），无需噪声余量。"},
        "margin_ssim": {"en": "Convention: an SSIM difference within 0.002 is a tie; deterministic like the PSNR "
                              "(spread 0 over seeds).",
                        "zh": "约定：SSIM 相差 0.002 以内视为持平；与 PSNR 一样是确定的（各随机种子离散度为 0）。"},
        "max_time_ratio": {"en": "Convention: 'negligible' is read as an order of magnitude, at most a tenth of the "
                                 "convolution's time; in quick mode the ratio measured 0.127 with an across-seed "
                                 "standard deviation of 0.007 (3 seeds), so seeds do not split at 0.1.",
                           "zh": "约定：“可以忽略”理解为差一个数量级，即不超过卷积耗时的十分之一；快速模式下"
                                 "该比值实测为 0.127，3 个随机种子间的标准差为 0.007，因此各随机种子不会在 0.1 两侧分"
                                 "裂。"},
        "exact_tol": {"en": "Theory: both sides compute the same sums in float64, so they agree to round-off "
                            "(about 1e-15 for these sizes); 1e-12 leaves a margin for summation order only.",
                      "zh": "理论：两边在 float64 下计算相同的和，只差舍入误差（这些尺寸下约 1e-15）；"
                            "1e-12 只为求和顺序留出余量。"},
    }
    reachable = (CONFIRMED, NUANCED, REFUTED)
    key_term = {"en": "bilinear interpolation, transposed convolution and max unpooling",
                "zh": "双线性插值、转置卷积与最大反池化"}
    key_figure = "psnr_bicubic"
    answer = {
        "confirmed": {
            "en": "The three methods work as described: a transposed convolution is zero insertion plus a "
                  "convolution, unpooling puts values back at the argmax, and bilinear interpolation held its "
                  "own in quality ({psnr_bilinear} dB against bicubic's {psnr_bicubic} dB) at a small cost.",
            "zh": "三种方法都如描述那样工作：转置卷积等于插零再卷积，反池化把值放回最大值位置，"
                  "双线性插值的质量不落下风（{psnr_bilinear} dB，双三次 {psnr_bicubic} dB），代价很小。"},
        "nuanced": {
            "en": "Part of the description held and part did not: bilinear restored the photo at "
                  "{psnr_bilinear} dB against {psnr_bicubic} dB for bicubic and {psnr_nearest} dB for nearest, "
                  "at {bilinear_time_over_conv}x the time of the convolution after it. Say what each method "
                  "does and call bilinear a cheap default rather than the best.",
            "zh": "描述部分成立、部分不成立：双线性恢复照片为 {psnr_bilinear} dB，双三次 {psnr_bicubic} dB，"
                  "最近邻 {psnr_nearest} dB，耗时是其后卷积的 {bilinear_time_over_conv} 倍。"
                  "回答时说明每种方法做了什么，把双线性称为便宜的默认选择而不是最优。"},
        "refuted": {
            "en": "Most of the description failed here: bilinear was neither best nor negligible in cost "
                  "(bicubic {psnr_bicubic} dB, bilinear {psnr_bilinear} dB), or a mechanism did not match its "
                  "reference.",
            "zh": "这里大部分描述不成立：双线性既不是最好的，代价也不可忽略（双三次 {psnr_bicubic} dB，"
                  "双线性 {psnr_bilinear} dB），或者某个机制与参考实现不符。"},
        "nuanced:bicubic": {
            "en": "Describe the mechanisms as claimed (transposed convolution equals zero insertion plus a "
                  "convolution, unpooling returns values to the argmax), but do not call bilinear the best: "
                  "bicubic restored the photo better, {psnr_bicubic} dB against {psnr_bilinear} dB. Bilinear "
                  "is the cheap default, not the winner.",
            "zh": "机制可以照原说法描述（转置卷积等于插零再卷积，反池化把值放回最大值位置），"
                  "但不要说双线性最好：双三次恢复照片更好，{psnr_bicubic} dB 对 {psnr_bilinear} dB。"
                  "双线性是便宜的默认选择，而不是最优。"},
    }
    text = {
        "en": {
            "title": "How does upsampling work?",
            "claim": "Upsampling in CNNs is done in three ways: interpolation, where bilinear is the usual choice "
                     "because it works best and its extra cost is negligible next to a convolution; transposed "
                     "convolution, which inserts zeros between the inputs and then runs an ordinary convolution; "
                     "and max unpooling, which puts each value back at the position of the maximum recorded by the "
                     "matching max pooling and fills the rest with zeros.",
            "method": "Shrink a real photograph 4x by area averaging and restore it by nearest, bilinear and "
                      "bicubic interpolation, scored by PSNR and SSIM (scikit-image); time a 2x bilinear upsampling "
                      "of a 64-channel map beside the 3x3 convolution that follows it (one thread, interleaved "
                      "repeats, process CPU time); compare a transposed convolution with zero insertion followed "
                      "by a convolution with the flipped kernel, and max unpooling with a NumPy reference that "
                      "puts each maximum back at its argmax.",
            "beyond": "Other restorations of the photo (bilinear with aligned corners, a transposed convolution "
                      "holding the bilinear kernel, max unpooling, pixel shuffle after a fitted sub-pixel "
                      "convolution), the checkerboard of a k=3, stride-2 transposed convolution, the analyzer's "
                      "FLOP ratios, and each method as the upsampler of a small U-Net-like net segmenting MNIST "
                      "digits.",
        },
        "zh": {
            "title": "上采样是怎么做的？",
            "claim": "CNN 中的上采样有三种做法：插值，通常用双线性，因为效果最好，且额外开销与卷积相比可以忽略；"
                     "转置卷积，先在输入元素之间插零，再做普通卷积；最大反池化，把每个值放回对应最大池化记录的"
                     "最大值位置，其余位置补零。",
            "method": "把一张真实照片用区域平均缩小 4 倍，再用最近邻、双线性和双三次插值还原，"
                      "用 scikit-image 的 PSNR 和 SSIM 评分；对 64 通道特征图的 2 倍双线性上采样与其后的 3x3 卷积"
                      "计时（单线程、交错重复、进程 CPU 时间）；把转置卷积与“插零 + 翻转卷积核后的卷积”比较，"
                      "把最大反池化与一个把最大值放回原位的 NumPy 参考实现比较。",
            "beyond": "照片的其他还原方式（角点对齐的双线性、装有双线性核的转置卷积、最大反池化、拟合的亚像素卷积"
                      "加像素重排），k=3、步长 2 的转置卷积的棋盘格效应，分析器给出的浮点运算量之比，以及把每种"
                      "方法用作小型 U-Net 式网络的上采样层来分割 MNIST 数字。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "transposed_vs_zero_insertion_err": {"en": "transposed conv vs zero insertion + conv, largest difference",
                                             "zh": "转置卷积与插零后卷积的最大差"},
        "unpool_err": {"en": "max unpooling vs its definition, largest difference", "zh": "最大反池化与定义的最大差"},
        "checkerboard_k{k}_s2": {"en": "checkerboard strength, kernel {k}, stride 2",
                                 "zh": "棋盘格强度（卷积核 {k}，步幅 2）"},
        "{m}_flops_over_conv": {"en": "{m} FLOPs over a conv's", "zh": "{m}与卷积的 FLOPs 之比"},
        "iou_{m}": {"en": "segmentation IoU, {m}", "zh": "分割 IoU（{m}）"},
    }
    terms = {
        "bilinear": {"en": "bilinear", "zh": "双线性插值"},
        "bicubic": {"en": "bicubic", "zh": "双三次插值"},
        "nearest": {"en": "nearest", "zh": "最近邻插值"},
        "transposed3": {"en": "transposed conv 3x3", "zh": "3x3 转置卷积"},
        "pixel_shuffle": {"en": "pixel shuffle", "zh": "像素重排"},
        "unpool": {"en": "max unpooling", "zh": "最大反池化"},
    }

    def measure(self, ctx: Context) -> Result:
        img, restored, psnr, ssim = self._restore_photo(ctx)
        ctx.progress.update()
        time_ratio = upsampling_time_ratio(ctx.rng, 64, ctx.pick(28, 56, 8), ctx.pick(7, 15, 3))
        eq_err = transposed_vs_zero_insertion(ctx.rng)
        un_err = unpool_error(ctx.rng)
        flops = upsampling_cost()
        var3, y3 = checkerboard(3, 2)
        var4, y4 = checkerboard(4, 2)
        seg_methods = ctx.pick(("nearest", "bilinear", "transposed3", "pixel_shuffle", "unpool"), SEG_METHODS,
                               ("bilinear", "transposed3"))
        ious = train_segmenters(seg_methods, ctx.pick(128, 1000, 32), ctx.pick(200, 1000, 32), ctx.pick(2, 4, 1),
                                ctx.rng, ctx.seed, width=ctx.pick(4, 8), batch_size=ctx.pick(16, 32))
        figures: dict[str, Figure] = {}
        beyond: dict[str, Figure] = {}
        for m in PHOTO_METHODS:
            into = figures if m in ("nearest", "bilinear", "bicubic") else beyond
            into[f"psnr_{m}"] = Figure(psnr[m], "dB", {"en": f"PSNR, {PHOTO_LABELS[m]}",
                                                               "zh": f"PSNR（{PHOTO_LABELS_ZH[m]}）"})
            into[f"ssim_{m}"] = Figure(ssim[m], "", {"en": f"SSIM, {PHOTO_LABELS[m]}",
                                                             "zh": f"SSIM（{PHOTO_LABELS_ZH[m]}）"})
        figures["bilinear_time_over_conv"] = Figure(time_ratio, "x", {
            "en": "time of a 2x bilinear upsampling of 64 channels / the 3x3 convolution after it",
            "zh": "64 通道 2 倍双线性上采样与其后 3x3 卷积的耗时比"})
        figures["transposed_vs_zero_insertion_err"] = Figure(eq_err, "abs")
        figures["unpool_err"] = Figure(un_err, "abs")
        beyond["checkerboard_k3_s2"] = Figure(var3, "relative")
        beyond["checkerboard_k4_s2"] = Figure(var4, "relative")
        for m in ("bilinear", "bicubic"):
            beyond[f"{m}_flops_over_conv"] = Figure(flops[m] / flops["conv3x3"], "x")
        for m, v in ious.items():
            beyond[f"iou_{m}"] = Figure(v, "")
        rows = [[PHOTO_LABELS[m], psnr[m], ssim[m]] for m in PHOTO_METHODS]
        return Result(figures=figures, beyond=beyond, tables=[
            Table("photo", ["method", "PSNR (dB)", "SSIM"], rows,
                  {"en": f"A {img.shape[1]}x{img.shape[2]} crop of the 'china' photo shrunk {R}x and restored "
                         "(the last four rows are beyond the seed).",
                   "zh": f"“china”照片的 {img.shape[1]}x{img.shape[2]} 区域缩小 {R} 倍后还原（后四行超出原文）。"})],
            beyond_tables=[
                Table("cost", ["operation", "FLOPs"], [[k, v] for k, v in flops.items()],
                      {"en": "A 64-channel 56x56 map upsampled 2x, and the 3x3 convolution at 112x112 (analyzer).",
                       "zh": "64 通道 56x56 特征图 2 倍上采样，以及 112x112 上的 3x3 卷积（分析器）。"}),
                Table("segmentation", ["upsampler", "IoU"], [[m, v] for m, v in ious.items()],
                      {"en": "Digit-mask IoU on held-out MNIST images.", "zh": "留出的 MNIST 图像上数字掩码的 IoU。"}),
            ], series={"img": img, "restored": restored, "psnr": psnr, "checker": (y3, y4, var3, var4), "ious": ious})

    @staticmethod
    def _restore_photo(ctx: Context) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float],
                                              dict[str, float]]:
        """The photo crop, its restorations from ``R``x smaller by each of ``PHOTO_METHODS`` (the sub-pixel conv
        fitted on the other photo), and their PSNR and SSIM against the crop."""
        from skimage.metrics import peak_signal_noise_ratio, structural_similarity

        photo = sample_photo(0)
        img = photo[:, 140:268, 250:442] if ctx.quick else photo[:, :424, :]
        other = sample_photo(1)[:, :ctx.pick(212, 424), :]  # the sub-pixel conv is fitted on the other photo
        o = cp.tensor(other[:, None])
        low_o = F.interpolate(o, scale_factor=1 / R, mode="area").numpy()[:, 0]
        sub = fit_subpixel(low_o, other, R)
        restored, psnr, ssim = {}, {}, {}
        for m in PHOTO_METHODS:
            restored[m] = restore(m, img, sub)
            psnr[m] = float(peak_signal_noise_ratio(img, restored[m], data_range=1.0))
            ssim[m] = float(structural_similarity(img, restored[m], data_range=1.0, channel_axis=0))
        return img, restored, psnr, ssim

    def draw(self, res: Result, ctx: Context) -> None:
        """The restored photo windows, the transposed convolutions' checkerboards, the segmentation IoUs."""
        s = res.series
        self._plot_photo(ctx, s["img"], s["restored"], s["psnr"])
        self._plot_checker(ctx, *s["checker"])
        ious: Mapping[str, float] = s["ious"]
        fig, ax = ctx.figure(size=(7, 3.6))
        ax.bar(range(len(ious)), list(ious.values()), color="C0")
        ax.set_xticks(range(len(ious)), list(ious), rotation=20)
        ax.set_ylim(min(ious.values()) - 0.05, 1.0)
        ax.set(ylabel="validation IoU", title="beyond the seed: MNIST digit segmentation, upsampler of a small U-Net")
        best = max(ious, key=ious.__getitem__)
        ctx.save_figure(fig, "segmentation_iou", "Validation IoU of the digit masks predicted by the same small "
                        f"U-Net-like net with each upsampling method (highest: {best}, {fmt(ious[best])}).",
                        "同一个小型 U-Net 式网络换用不同上采样方法后，数字掩码的验证集 IoU（最高："
                        f"{best}，{fmt(ious[best])}）。")

    @staticmethod
    def _plot_photo(ctx: Context, img: np.ndarray, restored: Mapping[str, np.ndarray],
                    psnr: Mapping[str, float]) -> None:
        h, w = img.shape[1:]
        win = (slice(h // 2 - 32, h // 2 + 32), slice(w // 2 - 48, w // 2 + 48))
        panels = [(tr("original", "原图"), img)] + [
            (tr(f"{PHOTO_LABELS[m]}\n{psnr[m]:.2f} dB", f"{PHOTO_LABELS_ZH[m]}\n{psnr[m]:.2f} dB"), restored[m])
            for m in PHOTO_METHODS]
        fig, axes = ctx.figure(2, 4, size=(13, 5.6))
        for ax, (title, im) in zip(axes.ravel(), panels, strict=True):
            ax.imshow(np.transpose(im[:, win[0], win[1]], (1, 2, 0)), interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.set_axis_off()
        ctx.save_figure(fig, "photo_restored", f"A zoomed window of the photo and its {R}x-shrunk versions restored "
                        "by each method, with the PSNR of the whole image in each title.",
                        f"照片的放大局部，以及缩小 {R} 倍后用各方法还原的结果，标题中为整幅图的 PSNR。")

    @staticmethod
    def _plot_checker(ctx: Context, y3: np.ndarray, y4: np.ndarray, var3: float, var4: float) -> None:
        fig, axes = ctx.figure(1, 2, size=(8, 3.8))
        titles = (tr(f"k=3, stride 2: variation {var3:.2f}", f"k=3，步幅 2：起伏 {var3:.2f}"),
                  tr(f"k=4, stride 2: variation {var4:.2f}", f"k=4，步幅 2：起伏 {var4:.2f}"))
        for ax, y, title in ((axes[0], y3, titles[0]), (axes[1], y4, titles[1])):
            im = ax.imshow(y, cmap="viridis")
            ax.set_title(title)
            ax.set_axis_off()
            fig.colorbar(im, ax=ax, fraction=0.046)
        ctx.save_figure(fig, "checkerboard", "A transposed convolution with an all-ones kernel applied to a "
                        f"constant image: its interior varies by {fmt(var3)} of its mean with kernel 3 and stride 2, "
                        f"and by {fmt(var4)} with kernel 4 and stride 2.",
                        "全 1 卷积核的转置卷积作用在常数图像上：核大小 3、步长 2 时内部起伏为均值的 "
                        f"{fmt(var3)}，核大小 4、步长 2 时为 {fmt(var4)}。")

    @classmethod
    def takeaway_case(cls, figures: Mapping[str, float], verdict: str) -> str:
        """``bicubic`` when bicubic beat bilinear on PSNR by more than the margin (as ``decide`` compares)."""
        return "bicubic" if figures["psnr_bicubic"] - figures["psnr_bilinear"] > cls.thresholds["margin_db"] else ""

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        mdb, mss = thresholds["margin_db"], thresholds["margin_ssim"]
        mt, tol = thresholds["max_time_ratio"], thresholds["exact_tol"]
        pb, sb = figures["psnr_bilinear"], figures["ssim_bilinear"]
        tr = figures["bilinear_time_over_conv"]
        checks = {}
        for m in ("nearest", "bicubic"):
            checks[f"bilinear vs {m}, PSNR"] = figures[f"psnr_{m}"] - pb <= mdb
            checks[f"bilinear vs {m}, SSIM"] = figures[f"ssim_{m}"] - sb <= mss
        checks["bilinear cost next to the conv"] = tr <= mt
        checks["transposed conv = zero insertion + conv"] = figures["transposed_vs_zero_insertion_err"] <= tol
        checks["max unpooling"] = figures["unpool_err"] <= tol
        bad = [k for k, ok in checks.items() if not ok]
        verdict = CONFIRMED if not bad else REFUTED if len(bad) == len(checks) else NUANCED
        held = [k for k, ok in checks.items() if ok]
        pn, sn, pc, sc = (figures[k] for k in ("psnr_nearest", "ssim_nearest", "psnr_bicubic", "ssim_bicubic"))
        return verdict, evidence(
            en=f"Photo restored from 4x: PSNR nearest {fmt(pn)}, bilinear {fmt(pb)}, bicubic {fmt(pc)} dB; SSIM "
               f"{fmt(sn)}, {fmt(sb)}, {fmt(sc)} (bilinear counts as best unless another method leads by more than "
               f"{fmt(mdb)} dB or {fmt(mss)}). Bilinear upsampling took {fmt(tr)}x the time of the 3x3 convolution "
               f"after it (negligible up to {fmt(mt)}x). The transposed convolution differs from zero insertion plus "
               f"a convolution by {fmt(figures['transposed_vs_zero_insertion_err'])} and max unpooling from the "
               f"argmax reference by {fmt(figures['unpool_err'])} (tolerance {fmt(tol)}). Holds: "
               f"{'; '.join(held) or 'nothing'}. Fails: {'; '.join(bad) or 'nothing'}.",
            zh=f"照片缩小 4 倍后还原：PSNR 最近邻 {fmt(pn)}、双线性 {fmt(pb)}、双三次 {fmt(pc)} dB；SSIM "
               f"{fmt(sn)}、{fmt(sb)}、{fmt(sc)}（除非另一方法领先超过 {fmt(mdb)} dB 或 {fmt(mss)}，双线性算作最好）。"
               f"双线性上采样耗时为其后 3x3 卷积的 {fmt(tr)} 倍（不超过 {fmt(mt)} 倍算可以忽略）。转置卷积与"
               f"“插零 + 卷积”相差 {fmt(figures['transposed_vs_zero_insertion_err'])}，最大反池化与参考实现相差 "
               f"{fmt(figures['unpool_err'])}（容差 {fmt(tol)}）。成立：{'；'.join(held) or '无'}。"
               f"不成立：{'；'.join(bad) or '无'}。")

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        need = {"psnr_pixel_shuffle", "psnr_transposed", "checkerboard_k3_s2", "checkerboard_k4_s2",
                "bilinear_flops_over_conv", "bicubic_flops_over_conv"}
        if not need <= set(beyond):
            return None
        b = beyond
        ious = {k[4:]: v for k, v in b.items() if k.startswith("iou_")}
        best = max(ious, key=ious.__getitem__) if ious else None
        seg_en = f" The highest segmentation IoU came with {best} ({fmt(ious[best])})." if best else ""
        seg_zh = f"分割 IoU 最高的是 {best}（{fmt(ious[best])}）。" if best else ""
        return {"en": f"A fitted sub-pixel convolution with pixel shuffle restores the photo at "
                      f"{fmt(b['psnr_pixel_shuffle'])} dB and a transposed convolution holding the bilinear kernel at "
                      f"{fmt(b['psnr_transposed'])} dB. By the analyzer's count bilinear and bicubic need "
                      f"{fmt(b['bilinear_flops_over_conv'])}x and {fmt(b['bicubic_flops_over_conv'])}x the FLOPs of "
                      f"the convolution after them. A k=3, stride-2 transposed convolution varies by "
                      f"{fmt(b['checkerboard_k3_s2'])} of its mean on a constant input (k=4: "
                      f"{fmt(b['checkerboard_k4_s2'])}).{seg_en}",
                "zh": f"拟合的亚像素卷积加像素重排把照片还原到 {fmt(b['psnr_pixel_shuffle'])} dB，装有双线性核的"
                      f"转置卷积为 {fmt(b['psnr_transposed'])} dB。按分析器的计数，双线性和双三次的浮点运算量分别为"
                      f"其后卷积的 {fmt(b['bilinear_flops_over_conv'])} 倍和 {fmt(b['bicubic_flops_over_conv'])} 倍。"
                      f"k=3、步长 2 的转置卷积在常数输入上的起伏为均值的 {fmt(b['checkerboard_k3_s2'])}"
                      f"（k=4 时为 {fmt(b['checkerboard_k4_s2'])}）。{seg_zh}"}
