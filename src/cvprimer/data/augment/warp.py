r"""One affine warp for images (bilinear or nearest), masks (nearest), boxes and keypoints.

Coordinates are continuous pixel coordinates ``(x, y)``: pixel (row i, column j) has its centre at
``(j + 0.5, i + 0.5)``. A warp is a 3x3 homogeneous matrix ``M`` (last row ``0 0 1``; its top 2x3 is
the affine matrix) mapping an input point to its output point, ``p_out = M p_in``. The image is
resampled backward: output pixel centre ``q`` reads the input at ``M^{-1} q``. Bilinear interpolation
weighs the four neighbouring input pixels; a neighbour outside the image contributes ``fill``. Masks
use the nearest input pixel and ``mask_fill`` outside, so no new class value can appear. Boxes are
mapped through their four corners and replaced by the enclosing axis-aligned box, then clipped to the
output (``box_mode="clip"``, boxes of zero width or height are dropped) or dropped if any part leaves
the output (``box_mode="drop"``). Keypoints are mapped exactly and kept even when they leave the
output (their coordinates then fall outside ``[0, W] x [0, H]``), so round trips stay exact.
"""

from __future__ import annotations

import math

import numpy as np


def rotation_matrix(angle: float, center: tuple[float, float]) -> np.ndarray:
    r"""Counter-clockwise (as displayed, y pointing down) rotation by ``angle`` degrees about ``center``.

    ``M = T(c) R T(-c)`` with ``R = [[cos a, sin a], [-sin a, cos a]]``. Multiples of 90 degrees use
    exact cosines and sines so that 90-degree rotations move pixel centres onto pixel centres exactly.
    """
    return affine_matrix(angle=angle, center=center)


def _cos_sin(angle: float) -> tuple[float, float]:
    if float(angle) % 90.0 == 0.0:
        k = int(round(float(angle) / 90.0)) % 4
        return ((1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0))[k]
    a = math.radians(angle)
    return math.cos(a), math.sin(a)


def affine_matrix(angle: float = 0.0, translate: tuple[float, float] = (0.0, 0.0), scale: float = 1.0,
                  shear: tuple[float, float] = (0.0, 0.0), center: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    r"""The 3x3 forward matrix ``M = T(c + t) R(angle) Sh(shear) S(scale) T(-c)``.

    ``R`` is the counter-clockwise rotation of :func:`rotation_matrix`, ``Sh = [[1, tan sx], [tan sy, 1]]``
    shears by ``shear = (sx, sy)`` degrees along x and y, ``S = scale * I``, ``t`` translates in pixels.
    The inverse is ``np.linalg.inv(M)``, also affine; :func:`invert` computes it in closed form.
    """
    c, s = _cos_sin(angle)
    rot = np.array([[c, s], [-s, c]])
    sh = np.array([[1.0, math.tan(math.radians(shear[0]))], [math.tan(math.radians(shear[1])), 1.0]])
    lin = rot @ sh * float(scale)
    cx, cy = center
    m = np.eye(3)
    m[:2, :2] = lin
    m[:2, 2] = np.array([cx + translate[0], cy + translate[1]]) - lin @ np.array([cx, cy])
    return m


def invert(matrices: np.ndarray) -> np.ndarray:
    r"""Inverse of a stack of affine 3x3 matrices: ``[[A, t], [0, 1]]^{-1} = [[A^{-1}, -A^{-1} t], [0, 1]]``."""
    a = matrices[..., :2, :2]
    det = a[..., 0, 0] * a[..., 1, 1] - a[..., 0, 1] * a[..., 1, 0]
    if np.any(np.abs(det) < 1e-12):
        raise ValueError("invert: an affine matrix is singular (scale 0 or degenerate shear)")
    ainv = np.stack([np.stack([a[..., 1, 1], -a[..., 0, 1]], -1),
                     np.stack([-a[..., 1, 0], a[..., 0, 0]], -1)], -2) / det[..., None, None]
    out = np.zeros_like(matrices, dtype=np.float64)
    out[..., :2, :2] = ainv
    out[..., :2, 2] = -np.einsum("...ij,...j->...i", ainv, matrices[..., :2, 2])
    out[..., 2, 2] = 1.0
    return out


def _source_coords(matrices: np.ndarray, out_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Input index coordinates (column, row) read by every output pixel: two (N, Ho*Wo) arrays."""
    ho, wo = out_hw
    inv = invert(np.asarray(matrices, dtype=np.float64))
    ys, xs = np.meshgrid(np.arange(ho) + 0.5, np.arange(wo) + 0.5, indexing="ij")
    xs, ys = xs.ravel(), ys.ravel()
    sx = inv[:, 0, 0, None] * xs + inv[:, 0, 1, None] * ys + inv[:, 0, 2, None] - 0.5
    sy = inv[:, 1, 0, None] * xs + inv[:, 1, 1, None] * ys + inv[:, 1, 2, None] - 0.5
    return sx, sy


def _gather(flat: np.ndarray, xi: np.ndarray, yi: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """``flat`` (N, C, H*W); returns values (N, C, P) at integer coords and their in-image mask (N, 1, P)."""
    valid = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    idx = np.clip(yi, 0, h - 1) * w + np.clip(xi, 0, w - 1)
    return np.take_along_axis(flat, idx[:, None, :], axis=2), valid[:, None, :]


def _clamp(coord: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Coordinates within half a pixel of the region ``[lo, hi)`` snap onto its outermost pixel centres."""
    lo, hi = lo[:, None].astype(np.float64), hi[:, None].astype(np.float64) - 1.0
    near = (coord >= lo - 0.5) & (coord <= hi + 0.5)
    return np.where(near, np.clip(coord, lo, hi), coord)


def warp_images(images: np.ndarray, matrices: np.ndarray, out_hw: tuple[int, int], fill: float = 0.0,
                order: int = 1, src_box: np.ndarray | None = None) -> np.ndarray:
    """Resample a batch (N, C, H, W) through forward matrices (N, 3, 3) into (N, C, Ho, Wo).

    ``order=1`` bilinear, ``order=0`` nearest. Vectorized over the batch: one gather per neighbour.
    A sample point inside the source region's area (default the whole image; ``src_box`` (N, 4) rows
    ``(top, left, bottom, right)`` for a crop) but beyond its outermost pixel centres is clamped onto
    them, i.e. the region's border pixels are replicated for the last half pixel, as PyTorch's
    ``interpolate(..., align_corners=False)`` does; only points outside the region see ``fill``.
    """
    n, c, h, w = images.shape
    sx, sy = _source_coords(matrices, out_hw)
    box = np.tile([0, 0, h, w], (n, 1)) if src_box is None else np.asarray(src_box)
    sx = _clamp(sx, box[:, 1], box[:, 3])
    sy = _clamp(sy, box[:, 0], box[:, 2])
    flat = images.reshape(n, c, h * w)
    if order == 0:
        xi = np.floor(sx + 0.5).astype(np.int64)
        yi = np.floor(sy + 0.5).astype(np.int64)
        vals, valid = _gather(flat, xi, yi, h, w)
        out = np.where(valid, vals, np.asarray(fill, dtype=images.dtype))
    else:
        # Work in the image precision (float32 stays float32); weights of 0 and 1 stay exact.
        work = np.result_type(images.dtype, np.float32)
        x0 = np.floor(sx).astype(np.int64)
        y0 = np.floor(sy).astype(np.int64)
        fx = (sx - x0).astype(work)[:, None, :]
        fy = (sy - y0).astype(work)[:, None, :]
        out = np.zeros((n, c, sx.shape[1]), dtype=work)
        outside = np.zeros((n, 1, sx.shape[1]), dtype=work)  # weight that falls on the fill value
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                vals, valid = _gather(flat, x0 + dx, y0 + dy, h, w)
                wgt = wy * wx
                out += vals * np.where(valid, wgt, 0)
                if fill != 0:
                    outside += np.where(valid, 0, wgt)
        if fill != 0:
            out += np.asarray(fill, dtype=work) * outside
    return out.reshape(n, c, *out_hw).astype(images.dtype, copy=False)


def warp_masks(masks: np.ndarray, matrices: np.ndarray, out_hw: tuple[int, int], fill: int = 0) -> np.ndarray:
    """Nearest-neighbour warp of integer masks (N, H, W): output values are input values or ``fill``."""
    return warp_images(masks[:, None], matrices, out_hw, fill=fill, order=0)[:, 0]


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map (K, 2 + m) points ``x, y`` through a 3x3 matrix; extra columns are kept."""
    out = np.array(points, dtype=np.float64, copy=True)
    if out.size:
        out[:, :2] = out[:, :2] @ matrix[:2, :2].T + matrix[:2, 2]
    return out


def transform_boxes(boxes: np.ndarray, matrix: np.ndarray, out_hw: tuple[int, int], mode: str) -> np.ndarray:
    """Map (K, 4 + m) xyxy boxes: enclosing box of the mapped corners, then clip or drop (module doc)."""
    b = np.array(boxes, dtype=np.float64, copy=True)
    if b.size == 0:
        return b.reshape(0, b.shape[1] if b.ndim == 2 else 4)
    corners = np.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [0, 3]], b[:, [2, 3]]], axis=1)  # (K, 4, 2)
    mapped = corners @ matrix[:2, :2].T + matrix[:2, 2]
    b[:, 0:2] = mapped.min(axis=1)
    b[:, 2:4] = mapped.max(axis=1)
    ho, wo = out_hw
    tol = 1e-6
    if mode == "drop":
        keep = (b[:, 0] >= -tol) & (b[:, 1] >= -tol) & (b[:, 2] <= wo + tol) & (b[:, 3] <= ho + tol)
        b = b[keep]
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0.0, wo)
    b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0.0, ho)
    return b[(b[:, 2] - b[:, 0] > tol) & (b[:, 3] - b[:, 1] > tol)]


def affine(images: np.ndarray, matrix: np.ndarray, out_size: tuple[int, int] | None = None,
           fill: float = 0.0, interpolation: str = "bilinear") -> np.ndarray:
    """Warp every image of a batch with one forward 3x3 (or 2x3) matrix; see the module notes."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape == (2, 3):
        m = np.vstack([m, [0.0, 0.0, 1.0]])
    if m.shape != (3, 3):
        raise ValueError(f"affine: expected a 2x3 or 3x3 matrix, got shape {m.shape}")
    n, _, h, w = images.shape
    return warp_images(images, np.broadcast_to(m, (n, 3, 3)), out_size or (h, w), fill,
                       1 if interpolation == "bilinear" else 0)
