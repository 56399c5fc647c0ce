"""The lab's plot style, once: one palette, one size, PNGs written atomically. Figures are
:class:`matplotlib.figure.Figure` objects drawn without pyplot, so running an experiment never switches
matplotlib's backend or touches pyplot's figure list (inline plots in a notebook keep working). Experiments call
:meth:`Context.figure` / :meth:`Context.save_figure`, never pyplot directly; the runner draws them under
:func:`style`."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

from cvprimer.core.serialization import atomic_write

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
STYLE = {
    "figure.dpi": 100, "savefig.dpi": 100, "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
    "legend.fontsize": 8, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
    "axes.spines.right": False, "lines.linewidth": 1.6,
}


def _matplotlib() -> Any:
    from cvprimer.errors import require

    return require("matplotlib", what="the lab's plots")


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The house style for what is drawn inside: ``matplotlib.rc_context`` (restored on exit; the backend and
    pyplot are left alone)."""
    matplotlib = _matplotlib()
    from cycler import cycler

    with matplotlib.rc_context({**STYLE, "axes.prop_cycle": cycler(color=list(PALETTE))}):
        yield


def new_figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] | None = None) -> tuple[Any, Any]:
    """``fig, axes``: one Axes for 1x1, a 1-D array for one row or column, else 2-D; 4.2 x 3.2 inches per
    panel unless ``size`` is given. A :class:`matplotlib.figure.Figure` (no pyplot state)."""
    _matplotlib()
    from matplotlib.figure import Figure

    size = size or (4.2 * ncols, 3.2 * nrows)
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=True)


def save_png(fig: Any, path: str) -> None:
    """Render ``fig`` to PNG in memory, write it atomically, close the figure."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png")
    finally:
        close(fig)
    atomic_write(path, buf.getvalue())


def close(fig: Any) -> None:
    """Release a figure's artists (a pyplot-free figure needs no global close)."""
    fig.clear()


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
