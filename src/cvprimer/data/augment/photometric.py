r"""Photometric augmentations: colour jitter, grayscale, noise, blur. Geometry and targets are untouched.

Textbook formulas, on images in [0, 1] (results clipped to [0, 1] where noted):

* grayscale (ITU-R 601-2 luma): ``Y = 0.299 R + 0.587 G + 0.114 B``.
* brightness ``b``: ``x' = clip(b x)``.
* contrast ``c``: blend with the mean grey level ``m`` of the image, ``x' = clip(c x + (1 - c) m)``.
* saturation ``s``: blend with the image's own grayscale ``Y``, ``x' = clip(s x + (1 - s) Y)``.
* hue ``h`` in [-0.5, 0.5]: RGB -> HSV, ``H' = (H + h) mod 1``, HSV -> RGB (hexcone model).
* Gaussian noise: ``x' = x + sigma z``, ``z ~ N(0, 1)`` (clipped when ``clip=True``).
* salt and pepper: a fraction ``amount`` of pixel positions set to 1 (salt) or 0 (pepper), all channels.
* Gaussian blur: separable, ``g[k] ∝ exp(-k^2 / (2 sigma^2))`` for ``|k| <= round(4 sigma)``, normalised to
  sum 1, with half-sample symmetric padding (scipy.ndimage's ``mode='reflect'``).

Masks, boxes and keypoints pass through unchanged (the pixels move nowhere).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.data.augment.base import Batch, Transform, uniform_range

LUMA = np.array([0.299, 0.587, 0.114])


def to_grayscale(images: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) -> (N, 1, H, W) with the ITU-R 601-2 luma weights; (N, 1, H, W) is returned as is."""
    if images.shape[1] == 1:
        return images
    if images.shape[1] != 3:
        raise ValueError(f"to_grayscale: expected 1 or 3 channels, got images of shape {images.shape}")
    return np.einsum("nchw,c->nhw", images, LUMA.astype(images.dtype))[:, None]


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) RGB in [0, 1] -> HSV with every component in [0, 1] (hue in turns)."""
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    maxc = rgb.max(axis=1)
    minc = rgb.min(axis=1)
    delta = maxc - minc
    safe = np.where(delta > 0, delta, 1.0)
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    h = np.where(maxc == r, bc - gc, np.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = np.where(delta > 0, (h / 6.0) % 1.0, 0.0)
    s = np.where(maxc > 0, delta / np.where(maxc > 0, maxc, 1.0), 0.0)
    return np.stack([h, s, maxc], axis=1)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_hsv` (hexcone model)."""
    h, s, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    p, q, t = v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f))
    i = i.astype(np.int64) % 6
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = [np.choose(i, [c[k] for c in choices]) for k in range(3)]
    return np.stack(out, axis=1)


def _per_image(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return np.asarray(values, dtype=dtype)[:, None, None, None]


def adjust_brightness(x: np.ndarray, factor: np.ndarray) -> np.ndarray:
    return np.clip(x * _per_image(factor, x.dtype), 0, 1)


def adjust_contrast(x: np.ndarray, factor: np.ndarray) -> np.ndarray:
    m = to_grayscale(x).mean(axis=(1, 2, 3), keepdims=True)
    c = _per_image(factor, x.dtype)
    return np.clip(c * x + (1 - c) * m, 0, 1)


def adjust_saturation(x: np.ndarray, factor: np.ndarray) -> np.ndarray:
    s = _per_image(factor, x.dtype)
    return np.clip(s * x + (1 - s) * to_grayscale(x), 0, 1)


def adjust_hue(x: np.ndarray, shift: np.ndarray) -> np.ndarray:
    hsv = rgb_to_hsv(x.astype(np.float64))
    hsv[:, 0] = (hsv[:, 0] + np.asarray(shift, dtype=np.float64)[:, None, None]) % 1.0
    return hsv_to_rgb(hsv).astype(x.dtype)


class _Photometric(Transform):
    def apply(self, batch: Batch, params: dict[str, Any]) -> Batch:
        n = batch.images.shape[0]
        for key, value in params.items():
            if np.ndim(value) >= 1 and np.shape(value)[0] != n:
                raise ValueError(f"{self.name}: params[{key!r}] was drawn for {np.shape(value)[0]} images, "
                                 f"got {n}")
        out = Batch(self.pixels(batch.images, params), batch.labels, batch.masks, batch.boxes, batch.keypoints,
                    batch.box_mode)
        return out

    def pixels(self, images: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        raise NotImplementedError


class ColorJitter(_Photometric):
    r"""Random brightness, contrast, saturation and hue, applied in that fixed order.

    Factors per image: ``b ~ U(max(0, 1 - brightness), 1 + brightness)``, likewise contrast and
    saturation; ``h ~ U(-hue, hue)`` with ``hue <= 0.5``. A pair gives the range directly.

    Differences from PyTorch: torchvision applies the four in a random order; here the order is fixed
    (the draw is simpler to record and to replay).
    """

    def __init__(self, brightness: Any = 0.0, contrast: Any = 0.0, saturation: Any = 0.0, hue: Any = 0.0) -> None:
        super().__init__()
        self.brightness = uniform_range(brightness, self.name, "brightness", 1.0, 0.0)
        self.contrast = uniform_range(contrast, self.name, "contrast", 1.0, 0.0)
        self.saturation = uniform_range(saturation, self.name, "saturation", 1.0, 0.0)
        self.hue = uniform_range(hue, self.name, "hue")
        if not -0.5 <= self.hue[0] <= self.hue[1] <= 0.5:
            raise ValueError(f"{self.name}: hue must lie in [-0.5, 0.5], got {hue}")

    def sample(self, batch: Batch, rng: np.random.Generator) -> dict[str, Any]:
        n = batch.images.shape[0]
        if batch.images.shape[1] != 3 and (self.saturation != (1.0, 1.0) or self.hue != (0.0, 0.0)):
            raise ValueError(f"{self.name}: saturation and hue need RGB images (N, 3, H, W), got "
                             f"{batch.images.shape}")
        return {k: rng.uniform(getattr(self, k)[0], getattr(self, k)[1], size=n)
                for k in ("brightness", "contrast", "saturation", "hue")}

    def pixels(self, x: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        x = adjust_brightness(x, params["brightness"])
        x = adjust_contrast(x, params["contrast"])
        if x.shape[1] == 3:
            x = adjust_saturation(x, params["saturation"])
            if np.any(params["hue"] != 0):
                x = adjust_hue(x, params["hue"])
        return x


class Grayscale(_Photometric):
    """Convert to ITU-R 601-2 luma; ``num_output_channels=3`` repeats it (shape kept). Probability ``p``."""

    def __init__(self, num_output_channels: int = 1, p: float = 1.0) -> None:
        super().__init__()
        if num_output_channels not in (1, 3):
            raise ValueError(f"{self.name}: num_output_channels must be 1 or 3, got {num_output_channels}")
        if num_output_channels == 1 and p < 1.0:
            raise ValueError(f"{self.name}: p < 1 needs num_output_channels=3 so the batch keeps one shape")
        self.num_output_channels, self.p = num_output_channels, float(p)

    def sample(self, batch: Batch, rng: np.random.Generator) -> dict[str, Any]:
        return {"apply": rng.random(batch.images.shape[0]) < self.p}

    def pixels(self, x: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        g = to_grayscale(x)
        if self.num_output_channels == 1:
            return g
        return np.where(np.asarray(params["apply"])[:, None, None, None], np.repeat(g, x.shape[1], 1), x)


class GaussianNoise(_Photometric):
    """Add ``sigma z`` with ``sigma ~ U(std)`` per image (or fixed) and ``z ~ N(0, 1)`` per pixel."""

    def __init__(self, std: float | tuple[float, float] = 0.05, clip: bool = True) -> None:
        super().__init__()
        self.std = uniform_range(std, self.name, "std", center=0.0) if isinstance(std, tuple) else (std, std)
        if self.std[0] < 0:
            raise ValueError(f"{self.name}: std must be >= 0, got {std}")
        self.clip = clip

    def sample(self, batch: Batch, rng: np.random.Generator) -> dict[str, Any]:
        n = batch.images.shape[0]
        return {"sigma": rng.uniform(self.std[0], self.std[1], size=n),
                "noise": rng.standard_normal(batch.images.shape)}

    def pixels(self, x: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        y = x + (_per_image(params["sigma"], np.dtype(np.float64)) * params["noise"]).astype(x.dtype)
        return np.clip(y, 0, 1) if self.clip else y


class SaltAndPepper(_Photometric):
    """Set a fraction ``amount`` of pixel positions to 1 (probability ``salt_vs_pepper``) or 0."""

    def __init__(self, amount: float = 0.05, salt_vs_pepper: float = 0.5) -> None:
        super().__init__()
        if not 0 <= amount <= 1 or not 0 <= salt_vs_pepper <= 1:
            raise ValueError(f"{self.name}: amount and salt_vs_pepper must be in [0, 1], got {amount}, "
                             f"{salt_vs_pepper}")
        self.amount, self.salt_vs_pepper = float(amount), float(salt_vs_pepper)

    def sample(self, batch: Batch, rng: np.random.Generator) -> dict[str, Any]:
        n, _, h, w = batch.images.shape
        hit = rng.random((n, h, w)) < self.amount
        salt = rng.random((n, h, w)) < self.salt_vs_pepper
        return {"salt": hit & salt, "pepper": hit & ~salt}

    def pixels(self, x: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        y = np.where(np.asarray(params["salt"])[:, None], 1, x)
        return np.where(np.asarray(params["pepper"])[:, None], 0, y).astype(x.dtype)


def gaussian_kernels(sigma: np.ndarray, radius: int) -> np.ndarray:
    """(N, 2 radius + 1) normalised kernels; taps beyond each image's own ``round(4 sigma)`` are zero."""
    k = np.arange(-radius, radius + 1)
    sig = np.asarray(sigma, dtype=np.float64)[:, None]
    g = np.exp(-0.5 * (k / sig) ** 2)
    own = np.floor(4.0 * sig + 0.5)
    g = np.where(np.abs(k) <= own, g, 0.0)
    return g / g.sum(axis=1, keepdims=True)


def gaussian_blur(images: np.ndarray, sigma: float | np.ndarray) -> np.ndarray:
    """Separable Gaussian blur with a per-image ``sigma`` (see the module notes); loops over taps only."""
    n = images.shape[0]
    sig = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (n,))
    if np.any(sig <= 0):
        raise ValueError(f"gaussian_blur: sigma must be > 0, got {sig.min()}")
    radius = int(np.floor(4.0 * sig.max() + 0.5)) if n else 0
    g = gaussian_kernels(sig, radius)
    out = images.astype(np.float64)
    for axis in (2, 3):
        pad = [(0, 0)] * 4
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="symmetric")
        size = out.shape[axis]
        acc = np.zeros_like(out)
        for t in range(2 * radius + 1):
            window = padded[:, :, t:t + size] if axis == 2 else padded[:, :, :, t:t + size]
            acc += g[:, t, None, None, None] * window
        out = acc
    return out.astype(images.dtype)


class GaussianBlur(_Photometric):
    """Blur each image with ``sigma ~ U(sigma_range)`` (separable, reflect padding)."""

    def __init__(self, sigma: float | tuple[float, float] = (0.1, 2.0)) -> None:
        super().__init__()
        self.sigma = tuple(sigma) if isinstance(sigma, tuple) else (float(sigma), float(sigma))
        if len(self.sigma) != 2 or not 0 < self.sigma[0] <= self.sigma[1]:
            raise ValueError(f"{self.name}: sigma must be > 0 or a pair 0 < min <= max, got {sigma}")

    def sample(self, batch: Batch, rng: np.random.Generator) -> dict[str, Any]:
        return {"sigma": rng.uniform(self.sigma[0], self.sigma[1], size=batch.images.shape[0])}

    def pixels(self, x: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return gaussian_blur(x, params["sigma"])
