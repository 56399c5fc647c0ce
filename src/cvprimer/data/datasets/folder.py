r"""An image-folder dataset: ``root/<class name>/<image>.png|.jpg|.jpeg``, read with Pillow.

Class names are the sub-folder names sorted, so label ``i`` is the ``i``-th name in sorted order (as in
torchvision's ``ImageFolder``). Images are converted to RGB (or L for ``channels=1``), optionally resized
to ``size=(H, W)`` with bilinear interpolation, and returned as NCHW float32 in [0, 1].
"""

from __future__ import annotations

import os

import numpy as np

from cvprimer.data.datasets.base import ArrayDataset

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def load_image_folder(root: str | os.PathLike, *, size: tuple[int, int] | None = None,
                      channels: int = 3) -> ArrayDataset:
    """Read every image under ``root/<class>/`` into memory; see the module docstring for the layout.

    Raises ``ValueError`` for a missing root, no class folders, an empty class, an unreadable image file
    (naming it), or images of different sizes when ``size`` is None.
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:  # pragma: no cover
        raise ImportError("load_image_folder needs Pillow: pip install 'cvprimer[data]'") from exc
    root = os.fspath(root)
    if channels not in (1, 3):
        raise ValueError(f"load_image_folder: channels must be 1 or 3, got {channels}")
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise ValueError(f"load_image_folder: size must be a pair (H, W) of positive ints, got {size}")
    if not os.path.isdir(root):
        raise ValueError(f"load_image_folder: {root!r} is not a directory")
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if not classes:
        raise ValueError(f"load_image_folder: {root!r} has no class sub-folders; expected root/<class>/<image>")
    arrays, labels = [], []
    for label, cls in enumerate(classes):
        folder = os.path.join(root, cls)
        files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))
        if not files:
            raise ValueError(f"load_image_folder: class folder {folder!r} holds no {IMAGE_EXTENSIONS} files")
        for f in files:
            path = os.path.join(folder, f)
            try:
                with Image.open(path) as im:
                    im = im.convert("RGB" if channels == 3 else "L")
                    if size is not None:
                        im = im.resize((int(size[1]), int(size[0])), Image.BILINEAR)
                    arr = np.asarray(im, dtype=np.uint8)
            except (UnidentifiedImageError, OSError, SyntaxError) as exc:
                raise ValueError(f"load_image_folder: cannot read image {path!r}: {exc}") from exc
            arrays.append(arr if arr.ndim == 3 else arr[:, :, None])
            labels.append(label)
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"load_image_folder: images under {root!r} have different sizes {sorted(shapes)}; "
                         f"pass size=(H, W) to resize them")
    x = np.stack(arrays).transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255.0)
    return ArrayDataset(np.ascontiguousarray(x), np.asarray(labels, dtype=np.int64), classes,
                        os.path.basename(root.rstrip(os.sep)))
