"""Question 38: the "convolution" of a CNN is a cross-correlation; the mathematical one flips the kernel.

Measured on a real photograph against SciPy's reference implementations: our ``F.conv2d`` is compared with
``scipy.signal.correlate2d``, with ``scipy.signal.convolve2d`` of the kernel as given, and with ``convolve2d``
of the kernel flipped in both axes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.lab.common import sample_photo
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr


class ConvIsCorrelation(Experiment):
    id = "q38-conv-vs-math"
    questions = (38,)
    topic = "architecture"
    stochastic = False
    thresholds = {"max_rel_err": 1e-5}
    reasons = {"max_rel_err": {
        "en": "Round-off: the outputs are float64 sums of at most 25 products (error near 1e-15 of the output's "
              "scale), and even float32 arithmetic (eps 1.2e-7 times 25 terms) stays below 1e-5; a kernel applied "
              "the wrong way round is off by a fraction of order 1 for a random kernel.",
        "zh": "舍入误差：输出是至多 25 个乘积之和的 float64 结果（误差约为输出量级的 1e-15），即便用 float32 "
              "计算（eps 1.2e-7 乘 25 项）也低于 1e-5；对随机卷积核而言，方向用反时差异是 1 的量级。"}}
    reachable = ("confirmed", "refuted")
    key_term = {"en": "cross-correlation", "zh": "互相关"}
    key_figure = "err_vs_convolve_unflipped"
    answer = {
        "confirmed": {
            "en": "Yes: a deep-learning conv2d is cross-correlation; it equals the mathematical convolution "
                  "only with the kernel flipped and differs by {err_vs_convolve_unflipped} (relative) "
                  "otherwise. Since kernels are learned, the flip changes nothing in practice.",
            "zh": "是的：深度学习中的 conv2d 是互相关；只有把卷积核翻转后才等于数学上的卷积，"
                  "否则相对差为 {err_vs_convolve_unflipped}。由于卷积核是学出来的，翻转与否在实践中没有影响。"},
        "refuted": {
            "en": "The library's conv2d did not behave as cross-correlation here (difference from the "
                  "unflipped convolution {err_vs_convolve_unflipped}).",
            "zh": "这里库中的 conv2d 并不表现为互相关（与不翻转卷积核的卷积相差 {err_vs_convolve_unflipped}）。"},
    }
    text = {
        "en": {
            "title": "CNN convolution and the mathematical convolution",
            "claim": "Deep-learning libraries do not flip the kernel, so what they call convolution is the "
                     "mathematical cross-correlation; the true convolution is the same operation with the kernel "
                     "rotated by 180 degrees.",
            "method": "Filter a grey version of a real photograph with random kernels (3x3, 5x5 and an asymmetric "
                      "3x7) using our conv2d, and compare with SciPy's correlate2d and with convolve2d applied to "
                      "the kernel and to the flipped kernel. Errors are relative to the output's largest value.",
        },
        "zh": {
            "title": "CNN 中的卷积与数学上的卷积",
            "claim": "深度学习框架计算时不翻转卷积核，所以它们所说的卷积在数学上是互相关；真正的卷积等于把卷积核旋转 "
                     "180 度之后再做同样的运算。",
            "method": "把一张真实照片转成灰度图，用随机卷积核（3x3、5x5 和非对称的 3x7）分别经过我们的 "
                      "conv2d，再与 SciPy 的 correlate2d、以及对原核和翻转核调用 convolve2d 的结果比较；"
                      "误差按输出最大值归一化。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "err_vs_correlate": {"en": "difference from cross-correlation", "zh": "与互相关的差"},
        "err_vs_convolve_flipped": {"en": "difference from convolution with the flipped kernel",
                                    "zh": "与翻转卷积核后卷积的差"},
        "err_vs_convolve_unflipped": {"en": "difference from convolution with the kernel as is",
                                      "zh": "与未翻转卷积核卷积的差"},
    }

    def measure(self, ctx: Context) -> Result:
        from scipy import signal

        photo = sample_photo(0).mean(axis=0)  # grey, (427, 640)
        img = ctx.pick(photo[::2, ::2], photo, tiny=photo[:96:2, :128:2])
        img64 = np.asarray(img, np.float64)
        rows, worst = [], {"corr": 0.0, "flipped": 0.0, "unflipped": np.inf}
        for kh, kw in ((3, 3), (5, 5), (3, 7)):
            k = ctx.rng.standard_normal((kh, kw))
            ours = F.conv2d(cp.tensor(img64[None, None]), cp.tensor(k[None, None])).data[0, 0]
            scale = float(np.abs(ours).max())
            corr = signal.correlate2d(img64, k, mode="valid")
            conv_flip = signal.convolve2d(img64, k[::-1, ::-1], mode="valid")
            conv_raw = signal.convolve2d(img64, k, mode="valid")
            e = [float(np.abs(ours - ref).max() / scale) for ref in (corr, conv_flip, conv_raw)]
            worst["corr"], worst["flipped"] = max(worst["corr"], e[0]), max(worst["flipped"], e[1])
            worst["unflipped"] = min(worst["unflipped"], e[2])
            rows.append([f"{kh}x{kw}", e[0], e[1], e[2]])
        return Result(
            figures={
                "err_vs_correlate": Figure(worst["corr"], "relative"),
                "err_vs_convolve_flipped": Figure(worst["flipped"], "relative"),
                "err_vs_convolve_unflipped": Figure(worst["unflipped"], "relative"),
            },
            tables=[Table("errors", ["kernel", "vs correlate2d", "vs convolve2d(flipped k)", "vs convolve2d(k)"],
                          rows, {"en": "Largest relative difference from our conv2d.",
                                 "zh": "与我们的 conv2d 输出的最大相对差异。"})],
            series=self._sobel(img64),
        )

    @staticmethod
    def _sobel(img64: np.ndarray) -> dict[str, Any]:
        """The plot's example: a horizontal Sobel kernel through our conv2d and through SciPy's true convolution
        (images (H-2, W-2)), and how far SciPy's is from minus ours (``neg``) and from ours (``same``)."""
        from scipy import signal

        k = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])  # a Sobel kernel shows the sign flip
        ours = F.conv2d(cp.tensor(img64[None, None]), cp.tensor(k[None, None])).data[0, 0]
        conv = signal.convolve2d(img64, k, mode="valid")
        neg = float(np.abs(ours + conv).max() / np.abs(ours).max())  # 0 when the true convolution is -ours
        same = float(np.abs(ours - conv).max() / np.abs(ours).max())
        return {"img": img64, "ours": ours, "conv": conv, "neg": neg, "same": same}

    def draw(self, res: Result, ctx: Context) -> None:
        s = res.series
        fig, axes = ctx.figure(1, 3, size=(11, 3.4))
        titles = (tr("input (grey photo)", "输入（灰度照片）"),
                  tr("ours: conv2d (correlation)", "我们的 conv2d（互相关）"),
                  tr("scipy convolve2d, same kernel", "SciPy convolve2d，同一卷积核"))
        for ax, im, title in zip(axes, (s["img"], s["ours"], s["conv"]), titles, strict=True):
            ax.imshow(im, cmap="gray")
            ax.set_title(title)
            ax.set_axis_off()
        neg, same = s["neg"], s["same"]
        rel_en = (f"equals minus our response (max relative difference {fmt(neg)})" if neg <= self.thresholds[
            "max_rel_err"] else f"differs from ours by {fmt(same)} and from minus ours by {fmt(neg)}")
        rel_zh = (f"恰为我们输出的相反数（最大相对差 {fmt(neg)}）" if neg <= self.thresholds["max_rel_err"]
                  else f"与我们的输出相差 {fmt(same)}，与其相反数相差 {fmt(neg)}")
        ctx.save_figure(fig, "sobel", "A grey photo, its horizontal Sobel response from our conv2d, and SciPy's true "
                        f"convolution with the same kernel, which {rel_en}.",
                        "灰度照片、我们的 conv2d 得到的水平 Sobel 响应，"
                        f"以及 SciPy 用同一卷积核做真正卷积的结果，它{rel_zh}。")

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        tol = thresholds["max_rel_err"]
        c, f, u = (figures["err_vs_correlate"], figures["err_vs_convolve_flipped"],
                   figures["err_vs_convolve_unflipped"])
        ok = c <= tol and f <= tol and u > tol
        return verdict_if(ok), evidence(
            en=f"conv2d matches correlate2d (max relative error {fmt(c)}) and convolve2d with the flipped kernel "
               f"({fmt(f)}), both within {fmt(tol)}; against convolve2d with the kernel as given it differs by "
               f"{fmt(u)}.",
            zh=f"conv2d 与 correlate2d 一致（最大相对误差 {fmt(c)}），与翻转卷积核后的 convolve2d 一致（{fmt(f)}），"
               f"均在阈值 {fmt(tol)} 以内；与不翻转卷积核的 convolve2d 相差 {fmt(u)}。")
