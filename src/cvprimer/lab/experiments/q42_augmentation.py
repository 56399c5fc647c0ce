"""Question 42: which data augmentations exist, what do they look like, and which ones help?

A gallery of every augmentation in ``cvprimer.data.augment`` applied to a real photograph with a
segmentation mask and a box that move with it (mixing transforms take the second photograph as partner),
and to an MNIST digit; then, on a small training set of scikit-learn's digits (8x8), the validation
accuracy of one small MLP trained from the same weights with no augmentation and with each augmentation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.analysis.timing import blas_threads
from cvprimer.core.tensor import Tensor
from cvprimer.data import augment as A
from cvprimer.lab._shifts import lean
from cvprimer.lab.common import accuracy, fit, load_data, sample_photo
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if

# name -> (family as the seed groups them, factory for 8x8 digits, factory for the gallery)
FAMILIES = {"geometric": "geometric", "pixel": "pixel content", "erase": "erasing", "mix": "mixing"}
AUGS: dict[str, tuple[str, Callable[[], Any], Callable[[int], Any]]] = {
    "horizontal flip": ("geometric", lambda: A.RandomHorizontalFlip(), lambda h: A.RandomHorizontalFlip(p=1.0)),
    "vertical flip": ("geometric", lambda: A.RandomVerticalFlip(), lambda h: A.RandomVerticalFlip(p=1.0)),
    "rotation": ("geometric", lambda: A.RandomRotation(15), lambda h: A.RandomRotation((20, 30))),
    "affine": ("geometric", lambda: A.RandomAffine(10, (0.125, 0.125), (0.9, 1.1), 10),
               lambda h: A.RandomAffine(15, (0.1, 0.1), (0.8, 1.2), 15)),
    "crop (pad + crop)": ("geometric", lambda: A.RandomCrop(8, padding=1), lambda h: A.RandomCrop(h, padding=h // 6)),
    "resized crop (scale)": ("geometric", lambda: A.RandomResizedCrop(8, scale=(0.7, 1.0)),
                             lambda h: A.RandomResizedCrop(h, scale=(0.3, 0.6))),
    "brightness/contrast": ("pixel", lambda: A.ColorJitter(0.3, 0.3), lambda h: A.ColorJitter(0.5, 0.5)),
    "color jitter (RGB)": ("pixel", lambda: None, lambda h: A.ColorJitter(0.4, 0.4, 0.6, 0.1)),
    "grayscale": ("pixel", lambda: None, lambda h: A.Grayscale(3)),
    "gaussian noise": ("pixel", lambda: A.GaussianNoise(0.1), lambda h: A.GaussianNoise(0.1)),
    "salt and pepper": ("pixel", lambda: A.SaltAndPepper(0.05), lambda h: A.SaltAndPepper(0.05)),
    "gaussian blur": ("pixel", lambda: A.GaussianBlur((0.3, 1.0)), lambda h: A.GaussianBlur((h / 40, h / 30))),
    "cutout": ("erase", lambda: A.Cutout(3), lambda h: A.Cutout(h // 3)),
    "random erasing": ("erase", lambda: A.RandomErasing(p=0.5), lambda h: A.RandomErasing(p=1.0)),
    "mixup": ("mix", lambda: A.Mixup(10, alpha=0.4), lambda h: A.Mixup(2, alpha=1.0)),
    "cutmix": ("mix", lambda: A.CutMix(10, alpha=1.0), lambda h: A.CutMix(2, alpha=1.0)),
}
TRAINED = [k for k, (_, make, _) in AUGS.items() if make() is not None]


def digits_mlp() -> Any:
    """64 -> 128 -> 10 with ReLU, for 1x8x8 digits (cheap enough to train once per augmentation)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def soft_cross_entropy(out: Any, target: Any) -> Any:
    """Cross-entropy that also takes soft (mixup/cutmix) labels, cast to the logits' dtype (the mixing
    transforms return float64 label vectors while the images are float32)."""
    y = target.data if isinstance(target, Tensor) else np.asarray(target)
    if y.dtype.kind == "f" and y.dtype != out.data.dtype:
        y = y.astype(out.data.dtype)
    return F.cross_entropy(out, y)


def photo_batch(step: int = 3) -> A.Batch:
    """The two sample photographs (every ``step``-th pixel) with labels 0, 1, an elliptical object mask and
    one box each, as a :class:`~cvprimer.data.augment.Batch`."""
    x = np.stack([sample_photo(0), sample_photo(1)])[:, :, ::step, ::step]
    h, w = x.shape[-2:]
    yy, xx = np.mgrid[0:h, 0:w]
    mask = (((xx - 0.3 * w) / (0.2 * w)) ** 2 + ((yy - 0.5 * h) / (0.4 * h)) ** 2 <= 1).astype(np.int64)
    masks = np.stack([mask, mask])  # an elliptical "object" region
    boxes = [np.array([[0.35 * w, 0.25 * h, 0.7 * w, 0.8 * h, 1.0]]), np.array([[0.2 * w, 0.2 * h, 0.6 * w, 0.7 * h,
                                                                                  1.0]])]
    return A.Batch(np.ascontiguousarray(x), labels=np.array([0, 1]), masks=masks, boxes=boxes)


def apply_gallery(t: Any, batch: A.Batch, rng: np.random.Generator) -> A.Batch:
    """``t`` on ``batch``, passing the mask and boxes along when ``t`` supports them (mixing does not; mixup is
    shown half and half, with the two images swapped as partners)."""
    if "masks" in t.supports:
        return t(batch, rng=rng)
    plain = A.Batch(batch.images, labels=batch.labels)
    if isinstance(t, A.Mixup):
        return t.replay(plain, {"lam": 0.5, "perm": np.array([1, 0])})
    return t(plain, rng=rng)


class Augmentation(Experiment):
    id = "q42-augmentation"
    questions = (42,)
    topic = "data"
    stochastic = True
    thresholds = {"effect_pts": 2.0}
    text = {
        "en": {
            "title": "Data augmentation: a gallery and what each one is worth",
            "claim": "Augmentations come in three kinds: geometric changes of one image (flip, rotate, crop, "
                     "scale), changes of its pixel values (noise, blur, colour jitter), and mixing several "
                     "images, as mixup does by interpolating both the images and their labels; they enlarge the "
                     "training set and help the model generalize.",
            "method": "Apply every augmentation of cvprimer.data.augment to a real photograph carrying a mask and a "
                      "box (which must move with the pixels) and to an MNIST digit. Then train the same small MLP "
                      "from the same weights on 300 of scikit-learn's 8x8 digits with no augmentation and with "
                      "each augmentation alone, and compare validation accuracy on 500 held-out digits.",
        },
        "zh": {
            "title": "数据增强：效果图库与各自的价值",
            "claim": "数据增强分三类：对单张图像做几何变换（翻转、旋转、裁剪、缩放），改变像素内容（噪声、模糊、"
                     "颜色扰动），以及像 mixup 那样把多张图像和它们的标签一起线性插值；它们扩充了训练集，"
                     "帮助模型泛化。",
            "method": "把 cvprimer.data.augment 中的每种增强作用在一张带分割掩码和框的真实照片上（掩码和框必须随"
                      "像素一起变换）以及一个 MNIST 数字上。然后用相同的初始权重，在 300 张 scikit-learn 8x8 "
                      "digits 上训练同一个小型 MLP，分别不做增强和只用其中一种增强，比较在 500 张留出数字上的"
                      "验证准确率。",
        },
    }

    def run(self, ctx: Context) -> Result:
        with blas_threads(1):  # small matrices: one BLAS thread is as fast alone and far faster on a busy CPU
            return self._measure(ctx)

    def _measure(self, ctx: Context) -> Result:
        self._galleries(ctx)
        data = load_data("digits", 300, 500, ctx.rng)
        epochs = ctx.pick(15, 60)
        state = ctx.child_rng().bit_generator.state
        acc: dict[str, float] = {}
        for name in ["none", *TRAINED]:
            cp.manual_seed(ctx.seed)
            model = digits_mlp()
            gen = np.random.default_rng()
            gen.bit_generator.state = state
            t = None if name == "none" else AUGS[name][1]()
            fit(model, lean(data), epochs, gen, lr=3e-3, batch_size=64, transform=t, loss_fn=soft_cross_entropy)
            acc[name] = 100 * accuracy(model, data.x_val, data.y_val)
        gains = {k: round(acc[k] - acc["none"], 6) for k in TRAINED}

        fig, ax = ctx.figure(1, 1, size=(8, 4))
        order = sorted(TRAINED, key=lambda k: gains[k])
        colors = {"geometric": "C0", "pixel": "C2", "erase": "C3", "mix": "C4"}
        ax.barh(range(len(order)), [gains[k] for k in order], color=[colors[AUGS[k][0]] for k in order])
        ax.set_yticks(range(len(order)), order)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel(f"validation accuracy change vs no augmentation (points; baseline {acc['none']:.1f}%)")
        ax.set_title("8x8 digits, 300 training images: one augmentation at a time")
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=colors[f], label=FAMILIES[f]) for f in colors], fontsize=7, loc="upper left")
        ctx.save_figure(fig, "gains", "Change in validation accuracy on 8x8 digits when one augmentation is added to "
                        "training on 300 images, sorted, coloured by kind (geometric, pixel content, erasing, "
                        "mixing).",
                        "在 300 张 8x8 digits 上训练时加入单一增强后验证准确率的变化，按大小排序，按类别着色"
                        "（几何、像素内容、擦除、混合）。")

        fam = {f: round(float(np.mean([gains[k] for k in TRAINED if AUGS[k][0] == f])), 6) for f in FAMILIES}
        best = max(TRAINED, key=lambda k: gains[k])
        worst = min(TRAINED, key=lambda k: gains[k])
        rows = [[k, FAMILIES[AUGS[k][0]] if k != "none" else "-", f"{acc[k]:.1f}",
                 "" if k == "none" else f"{gains[k]:+.1f}"] for k in ["none", *TRAINED]]
        figures = {"acc_none": Figure(acc["none"], "%"),
                   "best_gain": Figure(gains[best], "points", {"en": best, "zh": best}),
                   "worst_gain": Figure(gains[worst], "points", {"en": worst, "zh": worst}),
                   "n_help": Figure(sum(g >= self.thresholds["effect_pts"] for g in gains.values()), "augmentations"),
                   "n_hurt": Figure(sum(g <= -self.thresholds["effect_pts"] for g in gains.values()), "augmentations"),
                   "n_trained": Figure(len(TRAINED), "augmentations"), "epochs": Figure(epochs, "epochs")}
        figures.update({f"gain_{f}": Figure(v, "points") for f, v in fam.items()})
        figures.update({"gain_" + k.replace(" ", "_").replace("(", "").replace(")", "").replace("/", "_").replace(
            "+", "plus"): Figure(g, "points") for k, g in gains.items()})
        return Result(figures=figures, tables=[Table("accuracy", ["augmentation", "kind", "val acc (%)",
                                                                  "change (points)"], rows,
                                                     {"en": "8x8 digits, 300 training images, same weights and "
                                                            "batches for every run.",
                                                      "zh": "8x8 digits，300 张训练图像，"
                                                            "每次训练的初始权重和批次相同。"})],
                      notes={"en": f"Best: {best} ({gains[best]:+.1f}); worst: {worst} ({gains[worst]:+.1f}).",
                             "zh": f"最好：{best}（{gains[best]:+.1f}）；最差：{worst}（{gains[worst]:+.1f}）。"})

    def _galleries(self, ctx: Context) -> None:
        batch = photo_batch(ctx.pick(4, 2))
        h = batch.size[0]
        names = list(AUGS)
        fig, axes = ctx.figure(3, 6, size=(15, 6.6))
        cells = axes.ravel()
        self._show(cells[0], batch.images[0], batch.masks[0], batch.boxes[0], "original (mask, box)")
        for ax, name in zip(cells[1:], names, strict=False):
            out = apply_gallery(AUGS[name][2](h), batch, ctx.child_rng())
            label = ""
            if out.labels is not None and np.ndim(out.labels) == 2:
                label = f"\nlabel {out.labels[0, 0]:.2f} china + {out.labels[0, 1]:.2f} flower"
            self._show(ax, out.images[0], None if out.masks is None else out.masks[0],
                       None if out.boxes is None else out.boxes[0], name + label)
        for ax in cells[len(names) + 1:]:
            ax.set_axis_off()
        ctx.save_figure(fig, "gallery_photo", "Every augmentation applied to a sample photograph; the yellow outline "
                        "is a segmentation mask and the red rectangle a box, both transformed with the image (mixup "
                        "and cutmix mix in the second photograph and its label instead).",
                        "每种增强作用在一张样例照片上；黄色轮廓是分割掩码，红框是目标框，二者随图像一同变换"
                        "（mixup 和 cutmix 改为混入第二张照片及其标签）。")
        d = load_data("mnist_sample", 20, 10, ctx.seed)
        digit = np.stack([d.x_train[d.y_train == 2][0], d.x_train[d.y_train == 7][0]])
        db = A.Batch(digit, labels=np.array([0, 1]))
        fig, axes = ctx.figure(3, 6, size=(12, 6.4))
        cells = axes.ravel()
        cells[0].imshow(digit[0, 0], cmap="gray", vmin=0, vmax=1)
        cells[0].set_title("original", fontsize=8)
        shown = 1
        for name in names:
            t = AUGS[name][2](28)
            if name in ("color jitter (RGB)", "grayscale"):
                continue  # RGB-only
            out = apply_gallery(t, db, ctx.child_rng())
            cells[shown].imshow(out.images[0, 0], cmap="gray", vmin=0, vmax=1)
            cells[shown].set_title(name, fontsize=8)
            shown += 1
        for ax in cells:
            ax.set_axis_off()
        ctx.save_figure(fig, "gallery_digit", "The augmentations that apply to one-channel images, on an MNIST digit "
                        "(mixup and cutmix mix in a second digit).",
                        "适用于单通道图像的增强作用在一个 MNIST 数字上（mixup 和 cutmix 混入第二个数字）。")

    @staticmethod
    def _show(ax: Any, img: np.ndarray, mask: np.ndarray | None, boxes: np.ndarray | None, title: str) -> None:
        from matplotlib.patches import Rectangle

        ax.imshow(np.clip(np.transpose(img, (1, 2, 0)), 0, 1))
        if mask is not None and mask.any():
            ax.contour(mask, levels=[0.5], colors="yellow", linewidths=0.8)
        for b in boxes if boxes is not None else ():
            ax.add_patch(Rectangle((b[0] - 0.5, b[1] - 0.5), b[2] - b[0], b[3] - b[1], fill=False, color="red", lw=1.2))
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()

    @staticmethod
    def decide(figures: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, Text]:
        e = thresholds["effect_pts"]
        n, helped, hurt = int(figures["n_trained"]), int(figures["n_help"]), int(figures["n_hurt"])
        base, best, worst = figures["acc_none"], figures["best_gain"], figures["worst_gain"]
        verdict = verdict_if(helped > 0 and hurt == 0, nuanced=helped > 0)
        fam = {k: round(figures[f"gain_{k}"], 4) for k in FAMILIES}  # means over seeds: drop float noise
        ep = figures["epochs"]
        en = (f"On 300 training digits and {fmt(ep)} epochs (baseline {fmt(base)}%), {helped} of {n} "
              f"augmentations help by at least {fmt(e)} points and {hurt} hurt by at least as much; the best "
              f"gains {fmt(best)} and the worst changes accuracy by {fmt(worst)} points. Mean change by kind: "
              f"geometric {fmt(fam['geometric'])}, "
              f"pixel content {fmt(fam['pixel'])}, erasing {fmt(fam['erase'])}, mixing {fmt(fam['mix'])}. An "
              f"augmentation pays only for variation that the test images really have and that keeps the label: "
              f"these validation digits are as centred and clean as the training ones, and a flipped digit is "
              f"another digit or none.")
        zh = (f"在 300 张训练数字、{fmt(ep)} 个 epoch 下（基线 {fmt(base)}%），"
              f"{n} 种增强中有 {helped} 种提升至少 {fmt(e)} 个百分点，"
              f"{hurt} 种下降至少同样多；最好的提升 {fmt(best)}，最差的使准确率变化 {fmt(worst)} 个百分点。各类"
              f"平均变化：几何 {fmt(fam['geometric'])}，像素内容 {fmt(fam['pixel'])}，擦除 {fmt(fam['erase'])}，"
              f"混合 {fmt(fam['mix'])}。增强只对测试图像中确实存在、且不改变标签的变化有用：这里的验证数字和"
              f"训练数字一样居中、干净，而翻转后的数字会变成另一个数字或根本不是数字。")
        return verdict, evidence(en=en, zh=zh)
