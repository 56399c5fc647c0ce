r"""An image-folder dataset: ``root/<class name>/<image>.png|.jpg|.jpeg``, read with Pillow.

Class names are the sub-folder names sorted, so label ``i`` is the ``i``-th name in sorted order (as in
torchvision's ``ImageFolder``); hidden files and folders (names starting with ``.``, such as
``.ipynb_checkpoints``) are skipped. Images are converted to RGB (or L for ``channels=1``), optionally resized
to ``size=(H, W)`` with bilinear interpolation, and returned as NCHW float32 in [0, 1]. 16-bit images are
scaled by their full range (0..65535 -> 0..1) instead of being clipped to 8 bits.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from cvprimer.data.datasets.base import ArrayDataset
from cvprimer.errors import require

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def load_image_folder(root: str | os.PathLike, *, size: tuple[int, int] | None = None,
                      channels: int = 3) -> ArrayDataset:
    """Read every image under ``root/<class>/`` into memory; see the module docstring for the layout.

    Raises ``ValueError`` for a missing root, no class folders, an empty class, an unreadable image file
    (naming it), or images of different sizes when ``size`` is None.
    """
    require("PIL.Image", what="load_image_folder")  # MissingExtra (an ImportError) naming the data extra
    from PIL import Image, UnidentifiedImageError
    root = os.fspath(root)
    if channels not in (1, 3):
        raise ValueError(f"load_image_folder: channels must be 1 or 3, got {channels}")
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise ValueError(f"load_image_folder: size must be a pair (H, W) of positive ints, got {size}")
    if not os.path.isdir(root):
        raise ValueError(f"load_image_folder: {root!r} is not a directory")
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith("."))
    if not classes:
        raise ValueError(f"load_image_folder: {root!r} has no class sub-folders; expected root/<class>/<image>")
    arrays: list[np.ndarray] = []
    labels: list[int] = []
    for label, cls in enumerate(classes):
        folder = os.path.join(root, cls)
        files = sorted(f for f in os.listdir(folder)
                       if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")
                       and os.path.isfile(os.path.join(folder, f)))
        if not files:
            raise ValueError(f"load_image_folder: class folder {folder!r} holds no {IMAGE_EXTENSIONS} files")
        for f in files:
            path = os.path.join(folder, f)
            try:
                with Image.open(path) as im:
                    arr = _read(im, channels, size)
            except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
                raise ValueError(f"load_image_folder: cannot read image {path!r}: {exc}") from exc
            arr = arr if arr.ndim == 3 else arr[:, :, None]
            if arrays and arr.shape != arrays[0].shape:
                raise ValueError(f"load_image_folder: images have different sizes: {path!r} is "
                                 f"{arr.shape[1]}x{arr.shape[0]} (WxH) but the first "
                                 f"image is {arrays[0].shape[1]}x{arrays[0].shape[0]}; pass size=(H, W) "
                                 f"(--resize on the command line) to resize them all")
            arrays.append(arr)
            labels.append(label)
    x = np.stack(arrays).transpose(0, 3, 1, 2)
    return ArrayDataset(np.ascontiguousarray(x, dtype=np.float32), np.asarray(labels, dtype=np.int64), classes,
                        os.path.basename(root.rstrip(os.sep)))


def _read(im: Any, channels: int, size: tuple[int, int] | None) -> np.ndarray:
    """One Pillow image as an (H, W[, C]) float32 array in [0, 1]; 16-bit greyscale scaled by 65535."""
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit (or 32-bit integer) grey: scale, never clip
        grey = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or grey.max(initial=0) <= 65535 else float(grey.max())
        im = Image.fromarray((grey / top).astype(np.float32), mode="F")
        if size is not None:
            im = im.resize((int(size[1]), int(size[0])), Image.Resampling.BILINEAR)
        g = np.clip(np.asarray(im, dtype=np.float32), 0.0, 1.0)
        return np.repeat(g[:, :, None], 3, axis=2) if channels == 3 else g
    im = im.convert("RGB" if channels == 3 else "L")
    if size is not None:
        im = im.resize((int(size[1]), int(size[0])), Image.Resampling.BILINEAR)
    return np.asarray(im, dtype=np.float32) / np.float32(255.0)
