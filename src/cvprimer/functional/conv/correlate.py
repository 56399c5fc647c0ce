r"""Signal-processing 2-D correlation and convolution of plain images (Composite over conv2d).

Deep learning's "convolution" is a cross-correlation::

    correlate2d:  y[h, w] = sum_{i,j} k[i, j] x[h + i, w + j]
    convolve2d:   y[h, w] = sum_{i,j} k[i, j] x[h - i, w - j]   = correlate2d(x, flip(k))

where ``flip`` reverses both kernel axes. ``mode`` follows ``scipy.signal``: "valid" (no
padding, size ``H - k_h + 1``), "same" (the size of ``image``, centred as SciPy does) and
"full" (pad ``k - 1`` on each side, size ``H + k_h - 1``).
"""

from __future__ import annotations

from cvprimer.core.tensor import Tensor
from cvprimer.functional.conv._geometry import Geom, as_tensor
from cvprimer.functional.conv.conv2d import Conv2dFn

_MODES = ("valid", "same", "full")


def _pads(op: str, mode: str, img: tuple[int, ...], k: tuple[int, ...], flipped: bool) -> tuple[int, ...]:
    if mode == "valid":
        if k[0] > img[0] or k[1] > img[1]:
            raise ValueError(f"{op}: kernel {k} is larger than the image {img} in mode 'valid'")
        return 0, 0, 0, 0
    if mode == "full":
        return k[0] - 1, k[0] - 1, k[1] - 1, k[1] - 1
    # SciPy's "same" is the centred part of "full": it starts at k // 2 for correlate and at
    # (k - 1) // 2 for convolve (the flipped kernel shifts the centre for even kernels); the
    # padding before is (k - 1) minus that start
    out = []
    for n in k:
        total = n - 1
        before = total - n // 2 if not flipped else total - (n - 1) // 2
        out += [before, total - before]
    return tuple(out)


def _check(op: str, image: Tensor, kernel: Tensor, mode: str) -> None:
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"{op}: expected a 2-D image and a 2-D kernel, got shapes {image.shape} and "
                         f"{kernel.shape}")
    if mode not in _MODES:
        raise ValueError(f"{op}: mode must be one of {_MODES}, got {mode!r}")
    if image.dtype != kernel.dtype or image.dtype.kind != "f":
        raise TypeError(f"{op}: image and kernel must share one floating dtype, got {image.dtype} and "
                        f"{kernel.dtype}")
    if min(kernel.shape) < 1 or min(image.shape) < 1:
        raise ValueError(f"{op}: empty image {image.shape} or kernel {kernel.shape}")


def _corr(op: str, image: Tensor, kernel: Tensor, mode: str, flipped: bool) -> Tensor:
    H, W = image.shape
    kh, kw = kernel.shape
    pt, pb, pl, pr = _pads(op, mode, (H, W), (kh, kw), flipped)
    out = (H + pt + pb - kh + 1, W + pl + pr - kw + 1)
    geom = Geom((kh, kw), (1, 1), (1, 1), (pt, pb, pl, pr), 1, out)
    y = Conv2dFn.apply(image.reshape(1, 1, H, W), kernel.reshape(1, 1, kh, kw), None, geom)
    return y.reshape(*out)


def correlate2d(image: Tensor, kernel: Tensor, mode: str = "valid") -> Tensor:
    r"""2-D cross-correlation of an (H, W) image with a (k_h, k_w) kernel, as
    ``scipy.signal.correlate2d`` (zero boundary). Composite: one single-channel :func:`conv2d`,
    so both arguments get gradients.

    Shapes: "valid" (H - k_h + 1, W - k_w + 1); "same" (H, W); "full" (H + k_h - 1, W + k_w - 1).

    Example
    -------
    >>> import numpy as np, cvprimer as cp, cvprimer.functional as F
    >>> F.correlate2d(cp.tensor(np.ones((5, 5))), cp.tensor(np.ones((3, 3))), "full").shape
    (7, 7)
    """
    op = "correlate2d"
    image, kernel = as_tensor(op, "image", image), as_tensor(op, "kernel", kernel)
    _check(op, image, kernel, mode)
    return _corr(op, image, kernel, mode, flipped=False)


def convolve2d(image: Tensor, kernel: Tensor, mode: str = "valid") -> Tensor:
    r"""True 2-D convolution (the kernel is flipped), as ``scipy.signal.convolve2d`` (zero boundary).

    ``convolve2d(x, k) == correlate2d(x, k[::-1, ::-1])`` (with SciPy's centring in "same").
    Composite: the flip is a Tensor index, the rest :func:`correlate2d`'s conv2d.

    Example
    -------
    >>> import numpy as np, cvprimer as cp, cvprimer.functional as F
    >>> F.convolve2d(cp.tensor(np.eye(4)), cp.tensor(np.ones((2, 2))), "same").shape
    (4, 4)
    """
    op = "convolve2d"
    image, kernel = as_tensor(op, "image", image), as_tensor(op, "kernel", kernel)
    _check(op, image, kernel, mode)
    return _corr(op, image, kernel[::-1, ::-1], mode, flipped=True)
