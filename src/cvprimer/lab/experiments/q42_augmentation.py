"""Question 42: which data augmentations exist, and what does each kind do to an image?

The seed lists three kinds: geometric transforms of one image (flip, rotate, crop, scale), pixel-content changes
of one image (noise, blur, colour jitter), and Mixup, which interpolates both images and labels of several
samples. Each kind is measured on the techniques the seed names, as ``cvprimer.data.augment`` implements them, on
a real photograph (square crop) with an object mask, 8 draws per technique: a geometric transform must move the
object (mask IoU with the original below 1), a pixel-content change must alter pixel values and leave the mask
where it was, and both must act on one image alone (an output does not change when every other image of the
batch does); Mixup's output must be lam x_i + (1 - lam) x_j for images and one-hot labels alike, and depend on
another sample. A gallery shows every augmentation on the photograph (mask and box moving with it) and on an
MNIST digit. Beyond the seed: the validation accuracy of one small MLP on 300 of scikit-learn's 8x8 digits
trained (Adam, lr 3e-3) from the same weights on the same batches with no augmentation and with each one alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.core.tensor import Tensor
from cvprimer.data import augment as A
from cvprimer.lab._shifts import lean
from cvprimer.lab.common import accuracy, fit, load_data, sample_photo
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table, Text, evidence, fmt, verdict_if
from cvprimer.lab.plots import tr

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
# the augmentations and their kinds in the Chinese texts and plots
AUG_ZH = {"horizontal flip": "水平翻转", "vertical flip": "垂直翻转", "rotation": "旋转", "affine": "仿射变换",
          "crop (pad + crop)": "裁剪（填充后裁剪）", "resized crop (scale)": "随机缩放裁剪", "brightness/contrast":
          "亮度/对比度", "color jitter (RGB)": "颜色抖动（RGB）", "grayscale": "灰度化", "gaussian noise": "高斯噪声",
          "salt and pepper": "椒盐噪声", "gaussian blur": "高斯模糊", "cutout": "Cutout", "random erasing": "随机擦除",
          "mixup": "Mixup", "cutmix": "CutMix"}
FAMILIES_ZH = {"geometric": "几何变换", "pixel": "像素内容", "erase": "擦除", "mix": "图像混合"}


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


# the techniques the seed names, by kind, built with the gallery's factories (strong settings, flips always applied)
SEED_KINDS = {"geometric": ("horizontal flip", "vertical flip", "rotation", "crop (pad + crop)",
                            "resized crop (scale)"),
              "pixel": ("gaussian noise", "salt and pepper", "gaussian blur", "brightness/contrast",
                        "color jitter (RGB)")}
DRAWS = 8


def square_photos(n: int = DRAWS) -> A.Batch:
    """``n`` images alternating the two sample photographs, cropped square, each with an object mask: a square
    in the upper-left quadrant, so no flip, rotation, crop or rescaling can leave it in place by symmetry."""
    b = photo_batch(8)  # 54 x 80 pixels, cropped to 54 x 54: small enough to replay every draw cheaply
    h = b.size[0]
    rep = np.arange(n) % 2
    masks = np.zeros((n, h, h), np.int64)
    masks[:, int(0.15 * h):int(0.4 * h), int(0.15 * h):int(0.4 * h)] = 1
    assert b.labels is not None  # the sample photos are labelled
    return A.Batch(np.ascontiguousarray(b.images[rep, :, :, :h]), labels=b.labels[rep], masks=masks)


def mask_change(before: np.ndarray, after: np.ndarray) -> float:
    """Mean over images of 1 - IoU between the object mask before and after (0: the object did not move)."""
    a, b = before.astype(bool), after.astype(bool)
    inter, union = (a & b).sum((1, 2)), (a | b).sum((1, 2))
    return float(np.mean(1.0 - np.where(union > 0, inter / np.maximum(union, 1), 1.0)))


def partner_dependence(t: Any, batch: A.Batch, params: dict[str, Any], out: np.ndarray) -> float:
    """Fraction of outputs that change when every other image of the batch is replaced (the draw replayed):
    0 for a transform of one image alone."""
    n, changed = len(batch.images), 0
    for i in range(n):
        other = batch.images.copy()
        keep = np.arange(n) != i
        other[keep] = 1.0 - other[keep]
        again = t.replay(A.Batch(other, batch.labels, batch.masks), params).images
        changed += bool(np.abs(again[i] - out[i]).max() > 1e-6)
    return changed / n


def kind_figures(rng: np.random.Generator) -> tuple[dict[str, float], list[list[Any]]]:
    """The measured behaviour of each kind the seed names (see the module docstring) and a row per technique."""
    batch = square_photos()
    h = batch.size[0]
    rows: list[list[Any]] = []
    per: dict[str, list[tuple[float, float, float]]] = {k: [] for k in SEED_KINDS}
    for kind, names in SEED_KINDS.items():
        for name in names:
            t = AUGS[name][2](h)
            out, params = t(batch, rng=rng, return_params=True)
            assert batch.masks is not None and out.masks is not None  # square_photos() carries masks
            moved = mask_change(batch.masks, out.masks)
            value = float(np.abs(out.images - batch.images).mean()) if out.images.shape == batch.images.shape \
                else float("nan")
            dep = partner_dependence(t, batch, params, out.images)
            per[kind].append((moved, value, dep))
            rows.append([name, kind, moved, value, dep])
    mix = A.Mixup(2, alpha=1.0)
    plain = A.Batch(batch.images, labels=batch.labels)
    out, params = mix(plain, rng=rng, return_params=True)
    lam, perm = float(params["lam"]), params["perm"]
    x = batch.images.astype(np.float64)
    y = np.eye(2)[batch.labels]
    img_err = float(np.abs(out.images - (lam * x + (1 - lam) * x[perm])).max())
    lab_err = float(np.abs(out.labels - (lam * y + (1 - lam) * y[perm])).max())
    mix_dep = partner_dependence(mix, plain, params, out.images)
    rows.append(["mixup", "mixing", float("nan"), float(np.abs(out.images - batch.images).mean()), mix_dep])
    geo, pix = np.array(per["geometric"]), np.array(per["pixel"])
    return {"geometric_mask_change_min": float(geo[:, 0].min()), "geometric_partner_dep_max": float(geo[:, 2].max()),
            "pixel_mask_change_max": float(pix[:, 0].max()), "pixel_value_change_min": float(pix[:, 1].min()),
            "pixel_partner_dep_max": float(pix[:, 2].max()), "mixup_image_err": img_err, "mixup_label_err": lab_err,
            "mixup_partner_dep": mix_dep, "mixup_lam": lam}, rows


class Augmentation(Experiment):
    id = "q42-augmentation"
    questions = (42,)
    topic = "data"
    stochastic = True
    reachable = ("confirmed", "nuanced", "refuted")
    thresholds = {"min_mask_change": 0.01, "min_value_change": 1e-3, "max_pixel_mask_change": 0.0,
                  "max_single_dep": 0.0, "interp_tol": 1e-6, "min_mix_dep": 0.5}
    reasons = {
        "min_mask_change": {"en": "convention: a geometric transform must displace at least 1% of the object (mean "
                                  "1 - IoU of its mask over 8 draws); an identity would give 0",
                            "zh": "约定：几何变换至少要移动物体的 1%（8 次抽样中掩码 1 - IoU 的均值）；恒等变换为 0"},
        "min_value_change": {"en": "convention: a pixel-content change must move pixel values by at least 0.1% of "
                                   "the 0..1 range on average; an identity would give 0",
                             "zh": "约定：像素内容变换平均至少改变像素值 0..1 范围的 0.1%；恒等变换为 0"},
        "max_pixel_mask_change": {"en": "definition: a change of pixel content leaves the geometry alone, so the "
                                        "object mask must not move at all",
                                  "zh": "定义：像素内容变换不改变几何，物体掩码应完全不动"},
        "max_single_dep": {"en": "definition: a single-sample transform's output for one image cannot depend on "
                                 "the other images of the batch, so no output may change when they do",
                           "zh": "定义：单样本变换对一张图的输出不能依赖批次中的其他图像，其他图像改变时输出不能变"},
        "interp_tol": {"en": "theory: the outputs are float32, whose rounding at values up to 1 is about 6e-8; 1e-6 "
                             "admits rounding, not a different formula",
                       "zh": "理论：输出为 float32，数值不超过 1 时舍入误差约 6e-8；1e-6 容得下舍入，容不下别的公式"},
        "min_mix_dep": {"en": "theory: with a random permutation of 8 images about 7/8 of the outputs take a partner "
                              "other than themselves; at least half must depend on another sample (a single-sample "
                              "transform gives 0)",
                        "zh": "理论：8 张图随机排列时约 7/8 的输出以别的图像为伙伴；至少一半的输出必须依赖其他样本"
                              "（单样本变换为 0）"},
    }
    key_term = {"en": "Mixup and label-preserving augmentation", "zh": "Mixup 与保持标签的数据增强"}
    key_figure = "mixup_partner_dep"
    answer = {
        "confirmed": {
            "en": "Yes: geometric transforms moved the object, photometric ones changed only pixel values, and "
                  "Mixup blended two images and their labels linearly ({mixup_partner_dep:pct} of its outputs "
                  "depend on a second sample).",
            "zh": "是的：几何变换移动了物体，像素变换只改变了像素值，Mixup 对两张图像及其标签做线性混合（"
                  "{mixup_partner_dep:pct} 的输出依赖另一个样本）。"},
        "nuanced": {
            "en": "The three kinds mostly behaved as described (Mixup outputs depending on a second sample: "
                  "{mixup_partner_dep:pct}), but one did not; name the kind and what it really changes.",
            "zh": "三类增强大体如描述那样（依赖另一个样本的 Mixup 输出：{mixup_partner_dep:pct}），"
                  "但有一类不是；回答时指出是哪一类以及它实际改变了什么。"},
        "refuted": {
            "en": "The three kinds did not behave as described here (Mixup outputs depending on a second "
                  "sample: {mixup_partner_dep:pct}).",
            "zh": "这里三类增强都没有如描述那样表现（依赖另一个样本的 Mixup 输出：{mixup_partner_dep:pct}）。"},
    }
    text = {
        "en": {
            "title": "Data augmentation techniques",
            "claim": "Augmentations come in three kinds: geometric changes of one image (flip, rotate, crop, "
                     "scale), changes of its pixel values (noise, blur, colour jitter), and mixing several "
                     "samples, as Mixup does by interpolating both the images and their labels linearly.",
            "method": "Each technique the seed names, as cvprimer.data.augment implements it, is applied 8 times to a "
                      "real photograph carrying an object mask. Geometric: does the object move (mask IoU with the "
                      "original below 1)? Pixel content: do pixel values change while the mask stays put? Both: "
                      "does an output stay the same when every other image of the batch is replaced (one image "
                      "alone)? Mixup: are the image and the one-hot label both lam x_i + (1 - lam) x_j, and does "
                      "an output depend on another sample? A gallery shows every augmentation on the photograph "
                      "and on an MNIST digit.",
            "beyond": "Which augmentation pays on a small training set: the same small MLP trained (Adam, lr 3e-3) "
                      "from the same weights on the same batches of 300 of scikit-learn's 8x8 digits, with no "
                      "augmentation and with each one alone, compared on 500 held-out digits.",
        },
        "zh": {
            "title": "数据增强的手段",
            "claim": "数据增强分三类：对单张图像做几何变换（翻转、旋转、裁剪、缩放），改变其像素内容（噪声、模糊、"
                     "颜色扰动），以及把多个样本混合，例如 Mixup 对图像和标签一起做线性插值。",
            "method": "把原文提到的每种手段（按 cvprimer.data.augment 的实现）在一张带物体掩码的真实照片上各施加 "
                      "8 次。几何变换：物体是否移动（掩码与原图的 IoU 小于 1）？像素内容变换：像素值是否改变而"
                      "掩码不动？两者：批次中其他图像全部替换时某张图的输出是否不变（只作用于单张图）？"
                      "Mixup：图像和 one-hot 标签是否都等于 lam x_i + (1 - lam) x_j，输出是否依赖其他样本？"
                      "图库展示每种增强作用在照片和一个 MNIST 数字上的效果。",
            "beyond": "小训练集上哪种增强有用：用相同的初始权重和相同的批次，在 300 张 scikit-learn 8x8 digits 上"
                      "训练同一个小型 MLP（Adam，学习率 3e-3），分别不做增强和只用其中一种增强，"
                      "在 500 张留出数字上比较。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "geometric_mask_change_min": {"en": "smallest mask change under a geometric augmentation",
                                      "zh": "几何增强下掩码的最小变化"},
        "geometric_partner_dep_max": {"en": "largest dependence on other images, geometric",
                                      "zh": "几何增强对其他图像的最大依赖"},
        "pixel_mask_change_max": {"en": "largest mask change under a pixel augmentation",
                                  "zh": "像素增强下掩码的最大变化"},
        "pixel_value_change_min": {"en": "smallest pixel change under a pixel augmentation",
                                   "zh": "像素增强下像素的最小变化"},
        "pixel_partner_dep_max": {"en": "largest dependence on other images, pixel",
                                  "zh": "像素增强对其他图像的最大依赖"},
        "mixup_image_err": {"en": "mixup image vs its formula, error", "zh": "mixup 图像与公式的误差"},
        "mixup_label_err": {"en": "mixup label vs its formula, error", "zh": "mixup 标签与公式的误差"},
        "mixup_partner_dep": {"en": "mixup's dependence on the partner image", "zh": "mixup 对配对图像的依赖"},
        "mixup_lam": {"en": "mixup mixing weight", "zh": "mixup 混合权重"},
        "acc_none": {"en": "val accuracy without augmentation", "zh": "不做增强的验证准确率"},
        "n_trained": {"en": "augmentations trained with", "zh": "训练过的增强种数"},
        "epochs": {"en": "epochs", "zh": "轮数"},
        "gain_{a}": {"en": "accuracy gain, {a}", "zh": "准确率提升（{a}）"},
    }
    terms = {
        "geometric": {"en": "geometric", "zh": "几何变换"},
        "pixel": {"en": "pixel-level", "zh": "像素级变换"},
        "erase": {"en": "erasing", "zh": "擦除"},
        "mix": {"en": "mixing images", "zh": "图像混合"},
        "horizontal_flip": {"en": "horizontal flip", "zh": "水平翻转"},
        "vertical_flip": {"en": "vertical flip", "zh": "垂直翻转"},
        "rotation": {"en": "rotation", "zh": "旋转"},
        "affine": {"en": "affine", "zh": "仿射变换"},
        "crop_pad_plus_crop": {"en": "pad + crop", "zh": "填充后裁剪"},
        "resized_crop_scale": {"en": "random resized crop", "zh": "随机缩放裁剪"},
        "brightness_contrast": {"en": "brightness / contrast", "zh": "亮度 / 对比度"},
        "gaussian_noise": {"en": "Gaussian noise", "zh": "高斯噪声"},
        "salt_and_pepper": {"en": "salt and pepper", "zh": "椒盐噪声"},
        "gaussian_blur": {"en": "Gaussian blur", "zh": "高斯模糊"},
        "cutout": {"en": "Cutout", "zh": "Cutout"},
        "random_erasing": {"en": "random erasing", "zh": "随机擦除"},
        "mixup": {"en": "mixup", "zh": "Mixup"},
        "cutmix": {"en": "CutMix", "zh": "CutMix"},
    }

    def measure(self, ctx: Context) -> Result:
        # pictures only: a seed whose plots are not kept skips making them
        galleries = self._galleries(ctx) if ctx.save_plots else None
        kinds, kind_rows = kind_figures(ctx.child_rng())
        data = load_data("digits", ctx.pick(300, 300, tiny=100), ctx.pick(500, 500, tiny=100), ctx.rng)
        epochs = ctx.pick(15, 60, tiny=1)
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

        fam = {f: round(float(np.mean([gains[k] for k in TRAINED if AUGS[k][0] == f])), 6) for f in FAMILIES}
        best = max(TRAINED, key=lambda k: gains[k])
        worst = min(TRAINED, key=lambda k: gains[k])
        rows = [[k, FAMILIES[AUGS[k][0]] if k != "none" else "-", f"{acc[k]:.1f}",
                 "" if k == "none" else f"{gains[k]:+.1f}"] for k in ["none", *TRAINED]]
        beyond = {"acc_none": Figure(acc["none"], "%"),
                  "best_gain": Figure(gains[best], "points", {"en": f"largest gain: {best}",
                                                              "zh": f"提升最大：{AUG_ZH[best]}"}),
                  "worst_gain": Figure(gains[worst], "points", {"en": f"smallest gain: {worst}",
                                                                "zh": f"提升最小：{AUG_ZH[worst]}"}),
                  "n_trained": Figure(len(TRAINED), "augmentations"), "epochs": Figure(epochs, "epochs")}
        beyond.update({f"gain_{f}": Figure(v, "points") for f, v in fam.items()})
        beyond.update({"gain_" + k.replace(" ", "_").replace("(", "").replace(")", "").replace("/", "_").replace(
            "+", "plus"): Figure(g, "points") for k, g in gains.items()})
        n = len(kind_rows) - 1
        return Result(
            figures={k: Figure(v, "") for k, v in kinds.items()},
            tables=[Table("kinds", ["technique", "kind", "object moved (1 - mask IoU)", "mean |pixel change|",
                                    "outputs depending on other images"], kind_rows,
                          {"en": f"The seed's techniques on {DRAWS} square photographs with object masks; one draw "
                                 f"each, {n + 1} techniques.",
                           "zh": f"原文提到的手段作用在 {DRAWS} 张带物体掩码的方形照片上；每种抽样一次，共 "
                                 f"{n + 1} 种。"})],
            beyond=beyond,
            beyond_tables=[Table("accuracy", ["augmentation", "kind", "val acc (%)", "change (points)"], rows,
                                 {"en": f"8x8 digits, {len(data.y_train)} training images, {epochs} epochs, same "
                                        f"weights and batches for every run.",
                                  "zh": f"8x8 digits，{len(data.y_train)} 张训练图像，{epochs} 个 epoch，"
                                        f"每次训练的初始权重和批次相同。"})],
            series={"gains": gains, "acc_none": acc["none"], "n_train": len(data.y_train), "galleries": galleries})

    def draw(self, res: Result, ctx: Context) -> None:
        if res.series["galleries"] is not None:
            self._draw_galleries(ctx, res.series["galleries"])
        gains, acc_none, n_train = res.series["gains"], res.series["acc_none"], res.series["n_train"]
        fig, ax = ctx.figure(1, 1, size=(8, 4))
        order = sorted(TRAINED, key=lambda k: gains[k])
        colors = {"geometric": "C0", "pixel": "C2", "erase": "C3", "mix": "C4"}
        ax.barh(range(len(order)), [gains[k] for k in order], color=[colors[AUGS[k][0]] for k in order])
        ax.set_yticks(range(len(order)), [tr(k, AUG_ZH[k]) for k in order])
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel(tr(f"validation accuracy change vs no augmentation (points; baseline {acc_none:.1f}%)",
                         f"相对不增强的验证准确率变化（百分点；基线 {acc_none:.1f}%）"))
        ax.set_title(tr(f"8x8 digits, {n_train} training images: one augmentation at a time",
                        f"8x8 digits，{n_train} 张训练图像：每次只加一种增强"))
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=colors[f], label=tr(FAMILIES[f], FAMILIES_ZH[f])) for f in colors],
                  fontsize=7, loc="upper left")
        ctx.save_figure(fig, "gains", f"Change in validation accuracy on 8x8 digits when one augmentation is added "
                        f"to training on {n_train} images, sorted, coloured by kind (geometric, pixel "
                        f"content, erasing, mixing).",
                        f"在 {n_train} 张 8x8 digits 上训练时加入单一增强后验证准确率的变化，按大小排序，"
                        f"按类别着色（几何、像素内容、擦除、混合）。")

    @staticmethod
    def _galleries(ctx: Context) -> dict[str, Any]:
        """Every augmentation applied once to a sample photograph (with its mask and box) and, where it takes one
        channel, to an MNIST digit: ``{"photo": [(name, Batch)], "original": Batch, "digit": [(name, image)],
        "digit_original": image}``, images (C, H, W)."""
        # its own generator, so making the pictures or not never shifts the measured figures' random stream
        gen = np.random.default_rng((ctx.seed, 42))
        batch = photo_batch(ctx.pick(4, 2))
        h = batch.size[0]
        photo = [(name, apply_gallery(AUGS[name][2](h), batch, np.random.default_rng(gen.integers(2**63))))
                 for name in AUGS]
        d = load_data("mnist_sample", 20, 10, ctx.seed)
        digit = np.stack([d.x_train[d.y_train == 2][0], d.x_train[d.y_train == 7][0]])
        db = A.Batch(digit, labels=np.array([0, 1]))
        digits = []
        for name in AUGS:
            t = AUGS[name][2](28)
            if name in ("color jitter (RGB)", "grayscale"):
                continue  # RGB-only
            out = apply_gallery(t, db, np.random.default_rng(gen.integers(2**63)))
            digits.append((name, out.images[0]))
        return {"photo": photo, "original": batch, "digit": digits, "digit_original": digit[0]}

    def _draw_galleries(self, ctx: Context, g: dict[str, Any]) -> None:
        batch = g["original"]
        fig, axes = ctx.figure(3, 6, size=(15, 6.6))
        cells = axes.ravel()
        assert batch.masks is not None and batch.boxes is not None  # photo_batch() carries masks and boxes
        self._show(cells[0], batch.images[0], batch.masks[0], batch.boxes[0],
                   tr("original (mask, box)", "原图（掩码、框）"))
        for ax, (name, out) in zip(cells[1:], g["photo"], strict=False):
            label = label_zh = ""
            if out.labels is not None and np.ndim(out.labels) == 2:
                label = f"\nlabel {out.labels[0, 0]:.2f} china + {out.labels[0, 1]:.2f} flower"
                label_zh = f"\n标签 {out.labels[0, 0]:.2f} 宫殿 + {out.labels[0, 1]:.2f} 花"
            self._show(ax, out.images[0], None if out.masks is None else out.masks[0],
                       None if out.boxes is None else out.boxes[0], tr(name + label, AUG_ZH[name] + label_zh))
        for ax in cells[len(g["photo"]) + 1:]:
            ax.set_axis_off()
        ctx.save_figure(fig, "gallery_photo", "Every augmentation applied to a sample photograph; the yellow outline "
                        "is a segmentation mask and the red rectangle a box, both transformed with the image (mixup "
                        "and cutmix mix in the second photograph and its label instead).",
                        "每种增强作用在一张样例照片上；黄色轮廓是分割掩码，红框是目标框，二者随图像一同变换"
                        "（mixup 和 cutmix 改为混入第二张照片及其标签）。")
        fig, axes = ctx.figure(3, 6, size=(12, 6.4))
        cells = axes.ravel()
        cells[0].imshow(g["digit_original"][0], cmap="gray", vmin=0, vmax=1)
        cells[0].set_title(tr("original", "原图"), fontsize=8)
        for shown, (name, img) in enumerate(g["digit"], start=1):
            cells[shown].imshow(img[0], cmap="gray", vmin=0, vmax=1)
            cells[shown].set_title(tr(name, AUG_ZH[name]), fontsize=8)
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
        f, t = figures, thresholds
        geo = f["geometric_mask_change_min"] >= t["min_mask_change"] and \
            f["geometric_partner_dep_max"] <= t["max_single_dep"]
        pix = (f["pixel_value_change_min"] >= t["min_value_change"]
               and f["pixel_mask_change_max"] <= t["max_pixel_mask_change"]
               and f["pixel_partner_dep_max"] <= t["max_single_dep"])
        mix = (f["mixup_image_err"] <= t["interp_tol"] and f["mixup_label_err"] <= t["interp_tol"]
               and f["mixup_partner_dep"] >= t["min_mix_dep"])
        held = [geo, pix, mix]
        yes = {True: ("holds", "成立"), False: ("fails", "不成立")}
        pct = lambda v: fmt(100 * v)  # noqa: E731
        en = (f"Geometric (flips, rotation, crop, resized crop): every one moved the object by at least "
              f"{pct(f['geometric_mask_change_min'])}% of its mask (needed {pct(t['min_mask_change'])}%), and "
              f"{pct(f['geometric_partner_dep_max'])}% of outputs at most changed when the other images did: "
              f"{yes[geo][0]}. Pixel content (noise, salt and pepper, blur, brightness/contrast, colour jitter): "
              f"pixel values changed by at least {fmt(f['pixel_value_change_min'])} on average (needed "
              f"{fmt(t['min_value_change'])}), the mask moved by at most {pct(f['pixel_mask_change_max'])}%, "
              f"{pct(f['pixel_partner_dep_max'])}% of outputs at most depended on other images: {yes[pix][0]}. "
              f"Mixup (lam {fmt(f['mixup_lam'])}): images and labels differ from lam x_i + (1 - lam) x_j by "
              f"{fmt(f['mixup_image_err'])} and {fmt(f['mixup_label_err'])} (tolerance {fmt(t['interp_tol'])}), and "
              f"{pct(f['mixup_partner_dep'])}% of outputs depend on another sample (needed "
              f"{pct(t['min_mix_dep'])}%): {yes[mix][0]}. {sum(held)} of the seed's 3 kinds behave as it says.")
        zh = (f"几何变换（翻转、旋转、裁剪、缩放裁剪）：每一种都使物体移动了至少 "
              f"{pct(f['geometric_mask_change_min'])}%（掩码 1 - IoU，要求 {pct(t['min_mask_change'])}%），"
              f"其他图像改变时输出随之改变的比例最多为 {pct(f['geometric_partner_dep_max'])}%：{yes[geo][1]}。"
              f"像素内容变换（噪声、椒盐、模糊、亮度/对比度、颜色扰动）：像素值平均至少改变 "
              f"{fmt(f['pixel_value_change_min'])}（要求 {fmt(t['min_value_change'])}），"
              f"掩码最多移动 {pct(f['pixel_mask_change_max'])}%，依赖其他图像的输出最多占 "
              f"{pct(f['pixel_partner_dep_max'])}%：{yes[pix][1]}。Mixup（lam {fmt(f['mixup_lam'])}）：图像和标签与 "
              f"lam x_i + (1 - lam) x_j 的差为 {fmt(f['mixup_image_err'])} 和 {fmt(f['mixup_label_err'])}（容差 "
              f"{fmt(t['interp_tol'])}），{pct(f['mixup_partner_dep'])}% 的输出依赖其他样本（要求 "
              f"{pct(t['min_mix_dep'])}%）：{yes[mix][1]}。原文的 3 类中有 {sum(held)} 类表现如其所述。")
        return verdict_if(all(held), nuanced=any(held)), evidence(en=en, zh=zh)

    @staticmethod
    def explain_beyond(beyond: Mapping[str, float]) -> Text | None:
        b = beyond
        fam = {k: fmt(round(b[f"gain_{k}"], 4)) for k in FAMILIES}
        best, worst = fmt(b["best_gain"]), fmt(b["worst_gain"])
        return {"en": f"Trained for {fmt(b['epochs'])} epochs on a small digit set (baseline "
                      f"{fmt(b['acc_none'])}%), the best single augmentation changed validation accuracy by {best} "
                      f"points and the worst by {worst}. Mean change by kind: geometric {fam['geometric']}, pixel "
                      f"content {fam['pixel']}, erasing {fam['erase']}, mixing {fam['mix']}.",
                "zh": f"在小型数字数据集上训练 {fmt(b['epochs'])} 个 epoch（基线 {fmt(b['acc_none'])}%），"
                      f"最好的单一增强使验证准确率变化 {best} 个百分点，最差的变化 {worst}。各类平均变化：几何 "
                      f"{fam['geometric']}，像素内容 {fam['pixel']}，擦除 {fam['erase']}，混合 {fam['mix']}。"}
