"""The lab's plot style, once: matplotlib on the Agg backend (no display), one palette, one size, PNGs written
atomically. Experiments call :meth:`Context.figure` / :meth:`Context.save_figure`, never pyplot directly."""

from __future__ import annotations

import io
from typing import Any

from cvprimer.core.serialization import atomic_write

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
STYLE = {
    "figure.dpi": 100, "savefig.dpi": 100, "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
    "legend.fontsize": 8, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
    "axes.spines.right": False, "lines.linewidth": 1.6,
}


def _pyplot() -> Any:
    from cvprimer.errors import require

    matplotlib = require("matplotlib", what="the lab's plots")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from cycler import cycler

    plt.rcParams.update(STYLE)
    plt.rcParams["axes.prop_cycle"] = cycler(color=list(PALETTE))
    return plt


def new_figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] | None = None) -> tuple[Any, Any]:
    """``fig, axes``: one Axes for 1x1, a 1-D array for one row or column, else 2-D; 4.2 x 3.2 inches per
    panel unless ``size`` is given."""
    plt = _pyplot()
    size = size or (4.2 * ncols, 3.2 * nrows)
    return plt.subplots(nrows, ncols, figsize=size, squeeze=True, layout="constrained")


def save_png(fig: Any, path: str) -> None:
    """Render ``fig`` to PNG in memory, write it atomically, close the figure."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png")
    finally:
        close(fig)
    atomic_write(path, buf.getvalue())


def close(fig: Any) -> None:
    _pyplot().close(fig)


def image_grid(ax: Any, images: Any, nrow: int, cmap: str = "gray", title: str | None = None) -> None:
    """Tile ``images`` (N, H, W) or (N, 3, H, W) in [0, 1] into ``nrow`` rows on ``ax`` (axes hidden)."""
    import numpy as np

    imgs = np.asarray(images, dtype=np.float32)
    if imgs.ndim == 4 and imgs.shape[1] in (1, 3):
        imgs = imgs.transpose(0, 2, 3, 1)
        if imgs.shape[-1] == 1:
            imgs = imgs[..., 0]
    n = imgs.shape[0]
    ncol = -(-n // nrow)
    h, w = imgs.shape[1:3]
    canvas = np.ones((nrow * (h + 1) - 1, ncol * (w + 1) - 1) + imgs.shape[3:], np.float32)
    for i in range(n):
        r, c = divmod(i, ncol)
        canvas[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = imgs[i]
    ax.imshow(np.clip(canvas, 0, 1), cmap=cmap if canvas.ndim == 2 else None, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
