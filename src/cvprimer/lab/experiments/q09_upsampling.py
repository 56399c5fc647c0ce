"""Question 9: upsampling methods — is bilinear interpolation "the best"?

Measured: (1) a real photograph shrunk 4x (area averaging) and restored by nearest, bilinear (both
corner conventions), bicubic, a transposed convolution with the fixed bilinear kernel, max unpooling (from a
4x max-pool) and pixel shuffle after a linear sub-pixel convolution fitted by least squares on the other photo;
PSNR and SSIM from scikit-image. (2) The transposed convolution equals zero insertion followed by a
convolution with the flipped kernel (largest difference, float64). (3) The checkerboard of a transposed
convolution whose stride does not divide its kernel: the periodic variation of its output on a constant input.
(4) Each method as the decoder's upsampler of a small U-Net-like net segmenting MNIST digits (mask: pixel >
0.5): validation IoU.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
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

R = 4  # the photo's downscale factor
PHOTO_METHODS = ("nearest", "bilinear", "bilinear_ac", "bicubic", "transposed", "unpool", "pixel_shuffle")
PHOTO_LABELS = {"nearest": "nearest", "bilinear": "bilinear", "bilinear_ac": "bilinear (align_corners)",
                "bicubic": "bicubic", "transposed": "transposed conv (bilinear kernel)",
                "unpool": "max unpooling", "pixel_shuffle": "pixel shuffle (fitted conv)"}
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
    thresholds = {"margin_db": 0.05, "margin_ssim": 0.002, "large_db": 1.0}
    text = {
        "en": {
            "title": "Upsampling: interpolation, transposed convolution, unpooling, pixel shuffle",
            "claim": "Upsampling in CNNs is done by interpolation, transposed convolution or unpooling, and "
                     "among the interpolations bilinear is the best.",
            "method": "Shrink a real photograph 4x by area averaging and restore it with nearest, bilinear (both "
                      "corner conventions), bicubic, a transposed convolution holding the bilinear kernel, max "
                      "unpooling (after a 4x max-pool) and pixel shuffle after a linear sub-pixel convolution "
                      "fitted by least squares on the other sample photo; score PSNR and SSIM with "
                      "scikit-image. Check numerically that a transposed convolution equals zero insertion plus "
                      "a convolution with the flipped kernel; measure the checkerboard of a k=3, stride-2 "
                      "transposed convolution on a constant input; train a small U-Net-like net to segment "
                      "MNIST digits (mask: pixels > 0.5) with each method as its upsampler and compare IoU.",
        },
        "zh": {
            "title": "上采样：插值、转置卷积、反池化与像素重排",
            "claim": "CNN 中的上采样靠插值、转置卷积或反池化完成，在各种插值方法里双线性插值最好。",
            "method": "把一张真实照片用区域平均缩小 4 倍，再分别用最近邻、双线性（两种角点对齐方式）、"
                      "双三次、装有双线性核的转置卷积、最大反池化（先做 4 倍最大池化）以及像素重排"
                      "（其前的线性亚像素卷积在另一张样例照片上用最小二乘拟合）还原，"
                      "用 scikit-image 计算 PSNR 和 SSIM。数值验证转置卷积等于“插零 + 翻转卷积核后的卷积”；"
                      "测量 k=3、步长 2 的转置卷积在常数输入上的棋盘格效应；"
                      "再把每种方法作为一个小型 U-Net 式网络的上采样层，训练它分割 MNIST 数字"
                      "（掩码为像素 > 0.5），比较 IoU。",
        },
    }

    def run(self, ctx: Context) -> Result:
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
        ctx.progress.update()
        eq_err = transposed_vs_zero_insertion(ctx.rng)
        flops = upsampling_cost()
        var3, y3 = checkerboard(3, 2)
        var4, y4 = checkerboard(4, 2)
        seg_methods = ctx.pick(("nearest", "bilinear", "transposed3", "pixel_shuffle", "unpool"), SEG_METHODS)
        ious = train_segmenters(seg_methods, ctx.pick(128, 1000), ctx.pick(200, 1000), ctx.pick(2, 4), ctx.rng,
                                ctx.seed, width=ctx.pick(4, 8), batch_size=ctx.pick(16, 32))
        self._plot_photo(ctx, img, restored, psnr)
        self._plot_checker(ctx, y3, y4, var3, var4)
        fig, ax = ctx.figure(size=(7, 3.6))
        ax.bar(range(len(ious)), list(ious.values()), color="C0")
        ax.set_xticks(range(len(ious)), list(ious), rotation=20)
        ax.set_ylim(min(ious.values()) - 0.05, 1.0)
        ax.set(ylabel="validation IoU", title="MNIST digit segmentation: upsampler of a small U-Net")
        ctx.save_figure(fig, "segmentation_iou", "Validation IoU of the digit masks predicted by the same small "
                        "U-Net-like net with each upsampling method.",
                        "同一个小型 U-Net 式网络换用不同上采样方法后，数字掩码的验证集 IoU。")
        figures: dict[str, Figure] = {}
        for m in PHOTO_METHODS:
            figures[f"psnr_{m}"] = Figure(psnr[m], "dB", {"en": f"PSNR, {PHOTO_LABELS[m]}", "zh": f"PSNR，{m}"})
            figures[f"ssim_{m}"] = Figure(ssim[m], "", {"en": f"SSIM, {PHOTO_LABELS[m]}", "zh": f"SSIM，{m}"})
        figures["transposed_vs_zero_insertion_err"] = Figure(eq_err, "abs")
        figures["checkerboard_k3_s2"] = Figure(var3, "relative")
        figures["checkerboard_k4_s2"] = Figure(var4, "relative")
        for m in ("bilinear", "bicubic"):
            figures[f"{m}_flops_over_conv"] = Figure(flops[m] / flops["conv3x3"], "x", {
                "en": f"{m} 2x upsampling of a 64x56x56 map / the 3x3 conv after it",
                "zh": f"{m} 对 64x56x56 特征图 2 倍上采样 / 其后 3x3 卷积"})
        for m, v in ious.items():
            figures[f"iou_{m}"] = Figure(v, "")
        rows = [[PHOTO_LABELS[m], psnr[m], ssim[m]] for m in PHOTO_METHODS]
        return Result(figures=figures, tables=[
            Table("photo", ["method", "PSNR (dB)", "SSIM"], rows,
                  {"en": f"A {img.shape[1]}x{img.shape[2]} crop of the 'china' photo shrunk {R}x and restored.",
                   "zh": f"“china”照片的 {img.shape[1]}x{img.shape[2]} 区域缩小 {R} 倍后还原。"}),
            Table("cost", ["operation", "FLOPs"], [[k, v] for k, v in flops.items()],
                  {"en": "A 64-channel 56x56 map upsampled 2x, and the 3x3 convolution at 112x112 (analyzer).",
                   "zh": "64 通道 56x56 特征图 2 倍上采样，以及 112x112 上的 3x3 卷积（分析器）。"}),
            Table("segmentation", ["upsampler", "IoU"], [[m, v] for m, v in ious.items()],
                  {"en": "Digit-mask IoU on held-out MNIST images.", "zh": "留出的 MNIST 图像上数字掩码的 IoU。"}),
        ])

    @staticmethod
    def _plot_photo(ctx: Context, img: np.ndarray, restored: Mapping[str, np.ndarray],
                    psnr: Mapping[str, float]) -> None:
        h, w = img.shape[1:]
        win = (slice(h // 2 - 32, h // 2 + 32), slice(w // 2 - 48, w // 2 + 48))
        panels = [("original", img)] + [(f"{PHOTO_LABELS[m]}\n{psnr[m]:.2f} dB", restored[m]) for m in PHOTO_METHODS]
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
        for ax, y, title in ((axes[0], y3, f"k=3, stride 2: variation {var3:.2f}"),
                             (axes[1], y4, f"k=4, stride 2: variation {var4:.2f}")):
            im = ax.imshow(y, cmap="viridis")
            ax.set_title(title)
            ax.set_axis_off()
            fig.colorbar(im, ax=ax, fraction=0.046)
        ctx.save_figure(fig, "checkerboard", "A transposed convolution with an all-ones kernel applied to a "
                        "constant image: kernel 3 with stride 2 overlaps unevenly and prints a checkerboard; "
                        "kernel 4 with stride 2 gives a flat interior.",
                        "全 1 卷积核的转置卷积作用在常数图像上：核大小 3、步长 2 时重叠不均匀，"
                        "出现棋盘格；核大小 4、步长 2 时内部是平的。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        mdb, mss, large = thresholds["margin_db"], thresholds["margin_ssim"], thresholds["large_db"]
        pb, pc = figures["psnr_bilinear"], figures["psnr_bicubic"]
        sb, sc = figures["ssim_bilinear"], figures["ssim_bicubic"]
        pn, pp = figures["psnr_nearest"], figures["psnr_pixel_shuffle"]
        dp, ds = pc - pb, sc - sb
        c3, c4 = figures["checkerboard_k3_s2"], figures["checkerboard_k4_s2"]
        cost_b, cost_c = figures["bilinear_flops_over_conv"], figures["bicubic_flops_over_conv"]
        common_en = (f" Both are cheap beside the convolution that follows (bilinear {fmt(cost_b)}x, bicubic "
                     f"{fmt(cost_c)}x its FLOPs), as the seed says. Nearest reaches {fmt(pn)} dB; a fitted linear "
                     f"sub-pixel convolution with pixel shuffle {fmt(pp)} dB. A k=3, stride-2 transposed "
                     f"convolution varies by {fmt(c3)} of its mean on a constant input (k=4: {fmt(c4)}), the "
                     f"checkerboard.")
        common_zh = (f"两者与其后的卷积相比都很便宜（双线性为其浮点运算量的 {fmt(cost_b)} 倍，双三次为 "
                     f"{fmt(cost_c)} 倍），这点与原文一致。最近邻为 {fmt(pn)} dB；"
                     f"拟合的线性亚像素卷积加像素重排为 {fmt(pp)} dB。"
                     f"k=3、步长 2 的转置卷积在常数输入上的起伏为均值的 {fmt(c3)}（k=4 时为 {fmt(c4)}），即棋盘格。")
        if dp <= mdb or ds <= mss:
            verdict = CONFIRMED if dp <= mdb and ds <= mss else NUANCED
            en = (f"Bilinear holds its own against bicubic: PSNR {fmt(pb)} vs {fmt(pc)} dB (difference "
                  f"{fmt(dp)}, margin {fmt(mdb)}), SSIM {fmt(sb)} vs {fmt(sc)} (difference {fmt(ds)}, margin "
                  f"{fmt(mss)}).")
            zh = (f"双线性与双三次相当：PSNR {fmt(pb)} 对 {fmt(pc)} dB（差 {fmt(dp)}，阈值 {fmt(mdb)}），"
                  f"SSIM {fmt(sb)} 对 {fmt(sc)}（差 {fmt(ds)}，阈值 {fmt(mss)}）。")
        elif dp < large:
            verdict = NUANCED
            en = (f"Bicubic beats bilinear on the photo, but modestly: PSNR {fmt(pc)} vs {fmt(pb)} dB (+{fmt(dp)}, "
                  f"below {fmt(large)} dB) and SSIM {fmt(sc)} vs {fmt(sb)} (+{fmt(ds)}); bilinear is a cheap, "
                  f"overshoot-free default (4 MACs per output vs 16), not the best.")
            zh = (f"在照片上双三次优于双线性，但幅度不大：PSNR {fmt(pc)} 对 {fmt(pb)} dB（高 {fmt(dp)}，"
                  f"小于 {fmt(large)} dB），SSIM {fmt(sc)} 对 {fmt(sb)}（高 {fmt(ds)}）；"
                  f"双线性是便宜且不过冲的默认选择（每个输出 4 次乘加，双三次 16 次），但不是最好的。")
        else:
            verdict = REFUTED
            en = (f"Bicubic clearly beats bilinear: PSNR {fmt(pc)} vs {fmt(pb)} dB (+{fmt(dp)}, at least "
                  f"{fmt(large)} dB) and SSIM {fmt(sc)} vs {fmt(sb)} (+{fmt(ds)}).")
            zh = (f"双三次明显优于双线性：PSNR {fmt(pc)} 对 {fmt(pb)} dB（高 {fmt(dp)}，不小于 {fmt(large)} dB），"
                  f"SSIM {fmt(sc)} 对 {fmt(sb)}（高 {fmt(ds)}）。")
        return verdict, evidence(en=en + common_en, zh=zh + common_zh)
