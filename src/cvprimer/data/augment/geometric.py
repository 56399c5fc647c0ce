r"""Geometric augmentations: flips, rotation, affine (translate/scale/shear), random crop, random resized crop.

Every one of them is the same operation, an affine warp (:mod:`cvprimer.data.augment.warp`), with its
own rule for drawing the per-sample 3x3 matrix. The recorded params hold the raw draws (angles,
offsets...) plus ``matrix`` (N, 3, 3), ``in_size`` and ``out_size``; :meth:`inverse_params` turns a
draw into its inverse warp, so ``t.replay(t(x), t.inverse_params(p))`` maps boxes and keypoints back.
Images use bilinear interpolation (or nearest), masks nearest, so masks never gain new values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer.data.augment.base import Batch, Transform, uniform_range
from cvprimer.data.augment.warp import (
    affine_matrix,
    invert,
    transform_boxes,
    transform_points,
    warp_images,
    warp_masks,
)


def _size(size: int | tuple[int, int], name: str) -> tuple[int, int]:
    hw = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(hw) != 2 or min(hw) < 1:
        raise ValueError(f"{name}: size must be a positive int or a pair (H, W), got {size!r}")
    return int(hw[0]), int(hw[1])


class AffineTransform(Transform):
    """Base of all geometric transforms: subclasses implement ``draw`` returning matrices and sizes."""

    def __init__(self, fill: float = 0.0, mask_fill: int = 0, interpolation: str = "bilinear") -> None:
        super().__init__()
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"{self.name}: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
        self.fill, self.mask_fill, self.interpolation = float(fill), int(mask_fill), interpolation

    def draw(self, n: int, hw: tuple[int, int], rng: np.random.Generator) -> dict[str, Any]:
        raise NotImplementedError

    def sample(self, batch: Batch, rng: np.random.Generator) -> dict[str, Any]:
        params = self.draw(batch.images.shape[0], batch.size, rng)
        params.setdefault("in_size", batch.size)
        return params

    def inverse_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """The draw that undoes ``params``: inverse matrices, input and output sizes swapped."""
        return {"matrix": invert(params["matrix"]), "in_size": tuple(params["out_size"]),
                "out_size": tuple(params["in_size"])}

    def warp_pixels(self, images: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        order = 1 if self.interpolation == "bilinear" else 0
        return warp_images(images, params["matrix"], tuple(params["out_size"]), self.fill, order)

    def warp_mask_pixels(self, masks: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return warp_masks(masks, params["matrix"], tuple(params["out_size"]), self.mask_fill)

    def apply(self, batch: Batch, params: dict[str, Any]) -> Batch:
        mats, out_hw = np.asarray(params["matrix"]), tuple(params["out_size"])
        if mats.shape != (batch.images.shape[0], 3, 3) or tuple(params["in_size"]) != batch.size:
            raise ValueError(f"{self.name}: params were drawn for {mats.shape[0]} images of size "
                             f"{tuple(params['in_size'])}, got images {batch.images.shape}")
        out = Batch(self.warp_pixels(batch.images, params), batch.labels, box_mode=batch.box_mode)
        if batch.masks is not None:
            out.masks = self.warp_mask_pixels(batch.masks, params).astype(batch.masks.dtype)
        if batch.boxes is not None:
            out.boxes = [transform_boxes(b, m, out_hw, batch.box_mode) for b, m in zip(batch.boxes, mats, strict=True)]
        if batch.keypoints is not None:
            out.keypoints = [transform_points(k, m) for k, m in zip(batch.keypoints, mats, strict=True)]
        return out


class _RandomFlip(AffineTransform):
    axis = -1

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{self.name}: p must be in [0, 1], got {p}")
        self.p = float(p)

    def draw(self, n: int, hw: tuple[int, int], rng: np.random.Generator) -> dict[str, Any]:
        flip = rng.random(n) < self.p
        m = np.tile(np.eye(3), (n, 1, 1))
        k = 0 if self.axis == -1 else 1
        m[flip, k, k] = -1.0
        m[flip, k, 2] = hw[1] if self.axis == -1 else hw[0]  # x -> W - x (or y -> H - y)
        return {"flip": flip, "matrix": m, "out_size": hw}

    def warp_pixels(self, images: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        # Exact and cheap: reverse the axis instead of resampling (same map as the matrix).
        flip = np.asarray(params["flip"], dtype=bool)
        out = images.copy()
        out[flip] = np.flip(images[flip], axis=self.axis)
        return out

    def inverse_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(params)  # a flip is its own inverse


class RandomHorizontalFlip(_RandomFlip):
    """Mirror left-right with probability ``p`` per image: ``x -> W - x``."""

    axis = -1


class RandomVerticalFlip(_RandomFlip):
    """Mirror top-bottom with probability ``p`` per image: ``y -> H - y``."""

    axis = -2


class RandomRotation(AffineTransform):
    r"""Rotate each image counter-clockwise by ``angle ~ U(-degrees, degrees)`` (or ``U(a, b)``).

    About the image centre (or ``center=(x, y)``). ``expand=False`` keeps the size; ``expand=True``
    enlarges the canvas to hold the whole rotated image: ``W' = ceil(|W cos a| + |H sin a|)``,
    ``H' = ceil(|W sin a| + |H cos a|)``, the largest over the batch, with the image centred.
    Multiples of 90 degrees are exact (``np.rot90``).
    """

    def __init__(self, degrees: float | tuple[float, float], expand: bool = False, fill: float = 0.0,
                 center: tuple[float, float] | None = None, interpolation: str = "bilinear",
                 mask_fill: int = 0) -> None:
        super().__init__(fill, mask_fill, interpolation)
        self.degrees = uniform_range(degrees, self.name, "degrees")
        if expand and center is not None:
            raise ValueError(f"{self.name}: expand=True rotates about the image centre; center must be None")
        self.expand, self.center = expand, center

    def draw(self, n: int, hw: tuple[int, int], rng: np.random.Generator) -> dict[str, Any]:
        h, w = hw
        angles = rng.uniform(*self.degrees, size=n) if self.degrees[0] < self.degrees[1] else \
            np.full(n, self.degrees[0])
        out = hw
        if self.expand:
            sizes = [(math.ceil(abs(w * math.sin(math.radians(a))) + abs(h * math.cos(math.radians(a))) - 1e-6),
                      math.ceil(abs(w * math.cos(math.radians(a))) + abs(h * math.sin(math.radians(a))) - 1e-6))
                     for a in angles]
            out = (max(s[0] for s in sizes), max(s[1] for s in sizes)) if n else hw
        c_in = self.center if self.center is not None else (w / 2.0, h / 2.0)
        c_out = self.center if self.center is not None else (out[1] / 2.0, out[0] / 2.0)
        mats = np.stack([affine_matrix(angle=a, center=c_in, translate=(c_out[0] - c_in[0], c_out[1] - c_in[1]))
                         for a in angles]) if n else np.zeros((0, 3, 3))
        return {"angle": angles, "matrix": mats, "out_size": out}


class RandomAffine(AffineTransform):
    r"""One affine warp per image combining rotation, translation, scale and shear (torchvision's rule).

    ``M = T(c + t) R(angle) Sh(sx, sy) S(s) T(-c)`` about the centre ``c``, with ``angle ~ U(degrees)``,
    ``t = (U(-a W, a W), U(-b H, b H))`` for ``translate=(a, b)`` (not rounded to whole pixels),
    ``s ~ U(scale)``, ``sx ~ U(shear)`` (a pair or 4-tuple also draws ``sy``). See
    :func:`~cvprimer.data.augment.warp.affine_matrix`; the inverse warp is :meth:`inverse_params`.
    """

    def __init__(self, degrees: float | tuple[float, float] = 0.0, translate: tuple[float, float] | None = None,
                 scale: tuple[float, float] | None = None, shear: Any = None, fill: float = 0.0,
                 interpolation: str = "bilinear", mask_fill: int = 0) -> None:
        super().__init__(fill, mask_fill, interpolation)
        self.degrees = uniform_range(degrees, self.name, "degrees")
        if translate is not None and (len(translate) != 2 or not all(0 <= t <= 1 for t in translate)):
            raise ValueError(f"{self.name}: translate must be a pair of fractions in [0, 1], got {translate}")
        if scale is not None and (len(scale) != 2 or not 0 < scale[0] <= scale[1]):
            raise ValueError(f"{self.name}: scale must be a pair 0 < min <= max, got {scale}")
        if shear is None:
            self.shear = ((0.0, 0.0), (0.0, 0.0))
        elif isinstance(shear, (int, float)):
            self.shear = (uniform_range(shear, self.name, "shear"), (0.0, 0.0))
        elif len(shear) == 2:
            self.shear = (uniform_range(tuple(shear), self.name, "shear"), (0.0, 0.0))
        elif len(shear) == 4:
            self.shear = (uniform_range(tuple(shear[:2]), self.name, "shear"),
                          uniform_range(tuple(shear[2:]), self.name, "shear"))
        else:
            raise ValueError(f"{self.name}: shear must be a number, a pair or a 4-tuple, got {shear}")
        self.translate, self.scale = translate, scale

    def draw(self, n: int, hw: tuple[int, int], rng: np.random.Generator) -> dict[str, Any]:
        h, w = hw
        angle = rng.uniform(*self.degrees, size=n)
        tr = self.translate or (0.0, 0.0)
        tx = rng.uniform(-tr[0] * w, tr[0] * w, size=n)
        ty = rng.uniform(-tr[1] * h, tr[1] * h, size=n)
        s = rng.uniform(*self.scale, size=n) if self.scale else np.ones(n)
        sx = rng.uniform(*self.shear[0], size=n)
        sy = rng.uniform(*self.shear[1], size=n)
        mats = np.stack([affine_matrix(angle[i], (tx[i], ty[i]), s[i], (sx[i], sy[i]), (w / 2.0, h / 2.0))
                         for i in range(n)]) if n else np.zeros((0, 3, 3))
        return {"angle": angle, "translate": np.stack([tx, ty], 1), "scale": s,
                "shear": np.stack([sx, sy], 1), "matrix": mats, "out_size": hw}


class RandomCrop(AffineTransform):
    """Pad every side by ``padding`` pixels of ``fill``, then cut a ``size`` window at a uniform offset."""

    def __init__(self, size: int | tuple[int, int], padding: int = 0, fill: float = 0.0, mask_fill: int = 0) -> None:
        super().__init__(fill, mask_fill, "bilinear")
        self.size = _size(size, self.name)
        if padding < 0:
            raise ValueError(f"{self.name}: padding must be >= 0, got {padding}")
        self.padding = int(padding)

    def draw(self, n: int, hw: tuple[int, int], rng: np.random.Generator) -> dict[str, Any]:
        ph, pw = hw[0] + 2 * self.padding, hw[1] + 2 * self.padding
        th, tw = self.size
        if th > ph or tw > pw:
            raise ValueError(f"{self.name}: crop size {self.size} is larger than the padded image {(ph, pw)}")
        top = rng.integers(0, ph - th + 1, size=n)
        left = rng.integers(0, pw - tw + 1, size=n)
        mats = np.tile(np.eye(3), (n, 1, 1))
        mats[:, 0, 2] = self.padding - left  # integer shifts: bilinear sampling is exact
        mats[:, 1, 2] = self.padding - top
        return {"top": top, "left": left, "matrix": mats, "out_size": self.size}

    def _crop(self, arrays: np.ndarray, params: dict[str, Any], fill: float) -> np.ndarray:
        # Same result as the integer-shift warp, by slicing: pad once, then one fancy index over windows.
        p = self.padding
        pad = [(0, 0)] * (arrays.ndim - 2) + [(p, p), (p, p)]
        padded = np.pad(arrays, pad, constant_values=np.asarray(fill, dtype=arrays.dtype))
        windows = np.lib.stride_tricks.sliding_window_view(padded, self.size, axis=(-2, -1))
        n = np.arange(arrays.shape[0])
        top, left = np.asarray(params["top"]), np.asarray(params["left"])
        return windows[n, :, top, left] if arrays.ndim == 4 else windows[n, top, left]

    def warp_pixels(self, images: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return self._crop(images, params, self.fill)

    def warp_mask_pixels(self, masks: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return self._crop(masks, params, self.mask_fill)


class RandomResizedCrop(AffineTransform):
    r"""Crop a random area and aspect ratio, resize it to ``size`` (bilinear, no antialiasing).

    Each crop is resized exactly like ``torch.nn.functional.interpolate(crop, size, mode="bilinear",
    align_corners=False)`` (border pixels of the crop replicated).

    PyTorch's sampling rule, per image: up to 10 attempts of ``area = H W U(scale)``,
    ``r = exp(U(log ratio))``, ``w = round(sqrt(area r))``, ``h = round(sqrt(area / r))``, accepted when
    ``0 < w <= W`` and ``0 < h <= H`` with offsets uniform; otherwise the fallback is a centre crop of the
    whole image clamped to the ratio range.
    """

    def __init__(self, size: int | tuple[int, int], scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3), interpolation: str = "bilinear",
                 mask_fill: int = 0) -> None:
        super().__init__(0.0, mask_fill, interpolation)
        self.size = _size(size, self.name)
        if not (0 < scale[0] <= scale[1]) or not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f"{self.name}: expected 0 < scale[0] <= scale[1] and 0 < ratio[0] <= ratio[1], "
                             f"got scale={scale}, ratio={ratio}")
        self.scale, self.ratio = tuple(scale), tuple(ratio)

    def crop_box(self, hw: tuple[int, int], rng: np.random.Generator) -> tuple[int, int, int, int]:
        h, w = hw
        area = h * w
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * rng.uniform(self.scale[0], self.scale[1])
            r = math.exp(rng.uniform(*log_ratio))
            cw, ch = round(math.sqrt(target * r)), round(math.sqrt(target / r))
            if 0 < cw <= w and 0 < ch <= h:
                return int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1)), ch, cw
        in_ratio = w / h
        if in_ratio < self.ratio[0]:
            cw, ch = w, round(w / self.ratio[0])
        elif in_ratio > self.ratio[1]:
            ch, cw = h, round(h * self.ratio[1])
        else:
            cw, ch = w, h
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def draw(self, n: int, hw: tuple[int, int], rng: np.random.Generator) -> dict[str, Any]:
        boxes = np.array([self.crop_box(hw, rng) for _ in range(n)], dtype=np.int64).reshape(n, 4)
        oh, ow = self.size
        mats = np.tile(np.eye(3), (n, 1, 1))
        mats[:, 0, 0] = ow / boxes[:, 3]
        mats[:, 1, 1] = oh / boxes[:, 2]
        mats[:, 0, 2] = -boxes[:, 1] * mats[:, 0, 0]
        mats[:, 1, 2] = -boxes[:, 0] * mats[:, 1, 1]
        return {"crop": boxes, "matrix": mats, "out_size": self.size}

    def warp_pixels(self, images: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        # Clamp the sampling to the crop so its border replicates, exactly like cropping then resizing.
        crop = np.asarray(params["crop"])
        box = np.stack([crop[:, 0], crop[:, 1], crop[:, 0] + crop[:, 2], crop[:, 1] + crop[:, 3]], 1)
        return warp_images(images, params["matrix"], tuple(params["out_size"]), self.fill,
                           1 if self.interpolation == "bilinear" else 0, src_box=box)


def rotate(images: np.ndarray, angle: float, expand: bool = False, fill: float = 0.0) -> np.ndarray:
    """Rotate a whole batch counter-clockwise by a fixed ``angle`` in degrees (see :class:`RandomRotation`)."""
    return RandomRotation((angle, angle), expand=expand, fill=fill)(images, rng=0)
