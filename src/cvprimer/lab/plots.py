"""The lab's plot style, once: one palette, one size, PNGs written atomically. Figures are
:class:`matplotlib.figure.Figure` objects drawn without pyplot, so running an experiment never switches
matplotlib's backend or touches pyplot's figure list (inline plots in a notebook keep working). Experiments call
:meth:`Context.figure` / :meth:`Context.save_figure`, never pyplot directly; the runner draws them under
:func:`style`."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import sys
import types
from collections.abc import Iterator
from typing import Any

from cvprimer.core.serialization import atomic_write

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
STYLE = {
    "figure.dpi": 100, "savefig.dpi": 100, "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
    "legend.fontsize": 9, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
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


# ---------------------------------------------------------------------------------------- plot text per language
# CJK families matplotlib may find, preferred first (Debian's fonts-noto-cjk gives the Noto ones)
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK JP", "Source Han Sans SC", "Source Han Sans CN",
                "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC",
                "Noto Sans SC", "Arial Unicode MS")
_CJK_FILE = re.compile(r"(?i)(cjk|wqy|wenquanyi|simhei|msyh|yahei|pingfang|sourcehansans|notosanssc|heiti)")
_ZH: dict[str, str] = {}  # English plot text -> its Chinese, as the experiments' tr() calls declared it
_ZH_BY_MODULE: dict[str, dict[str, str]] = {}  # a module's tr_table: used while that module draws


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family of a CJK font matplotlib can draw with (:data:`CJK_FAMILIES` order), None when there is none.

    Asks matplotlib's ``font_manager``; a font installed after matplotlib built its font cache is not in it, so the
    system's CJK font files are registered first (``fontManager.addfont``) before giving up. With None the plots
    keep their English text (never boxes) and the Chinese page shows them with Chinese captions."""
    if os.environ.get("CVPRIMER_LAB_NO_CJK"):  # the fallback, on request (tests, or a font that draws badly)
        return None
    from matplotlib import font_manager

    def found() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((n for n in CJK_FAMILIES if n in names), None)

    name = found()
    if name is None:
        for path in font_manager.findSystemFonts():
            if _CJK_FILE.search(os.path.basename(path)):
                with contextlib.suppress(Exception):  # an unreadable font file is skipped
                    font_manager.fontManager.addfont(path)
        name = found()
    return name


def tr(en: str, zh: str) -> str:
    """Plot text in both languages: returns ``en`` (what the figure is drawn with) and remembers ``zh``, which
    :func:`save_png` puts in its place for the Chinese copy ``<stem>.zh.png``. Use it for every title, axis label,
    legend entry and tick label: ``ax.set_xlabel(tr("epoch", "轮次"))``."""
    if en and zh and zh != en:
        _ZH[en] = zh
    return en


def tr_table(texts: dict[str, str]) -> dict[str, str]:
    """Declare the Chinese of a module's fixed plot texts at once (``{en: zh}``: titles, axis labels, legend
    entries written as literals); returns ``texts``. The table is the calling module's: it applies to the figures
    saved while that module's code is on the stack, so two experiments may translate one word differently."""
    module = sys._getframe(1).f_globals.get("__name__", "")
    _ZH_BY_MODULE.setdefault(module, {}).update({en: zh for en, zh in texts.items() if en and zh and zh != en})
    return texts


def module_table(module: str) -> dict[str, str]:
    """The :func:`tr_table` of ``module`` (empty when it declared none): the report reuses it for the same names in
    that experiment's tables."""
    return dict(_ZH_BY_MODULE.get(module, {}))


def _tables_on_stack() -> list[dict[str, str]]:
    """The :func:`tr_table` tables of the modules on the call stack, innermost first."""
    out: list[dict[str, str]] = []
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        table = _ZH_BY_MODULE.get(frame.f_globals.get("__name__", ""))
        if table is not None and all(table is not t for t in out):
            out.append(table)
        frame = frame.f_back
    return out


def plot_zh(en: str, tables: list[dict[str, str]] | None = None) -> str | None:
    """The Chinese of one plot text: the drawing module's :func:`tr_table` (``tables``), a :func:`tr` declaration,
    else the common words of ``report/zh.py``."""
    for table in tables or ():
        if en in table:
            return table[en]
    if en in _ZH:
        return _ZH[en]
    from cvprimer.lab.report.zh import PLOT_TEXT

    return PLOT_TEXT.get(en)


def _translated(inner: Any, tables: list[dict[str, str]]) -> Any:
    """A tick formatter that shows ``inner``'s labels in Chinese where they have a Chinese version."""
    from matplotlib.ticker import Formatter

    class Translated(Formatter):
        def __call__(self, x: Any, pos: Any = None) -> str:
            s = str(inner(x, pos))
            return plot_zh(s, tables) or s

        def format_ticks(self, values: Any) -> list[str]:
            return [plot_zh(str(s), tables) or str(s) for s in inner.format_ticks(values)]

        def set_locs(self, locs: Any) -> None:
            inner.set_locs(locs)

        def get_offset(self) -> str:
            return str(inner.get_offset())

    return Translated()


def _to_chinese(fig: Any, family: str, tables: list[dict[str, str]] | None = None) -> int:
    """Swap every text of ``fig`` that has a Chinese version (titles, labels, legends, annotations, and tick labels
    such as named categories: their formatter is wrapped, since a draw rewrites tick texts) and give those texts
    the CJK font (Latin letters keep the house font); returns how many were swapped."""
    from matplotlib.text import Text

    fonts = ["DejaVu Sans", family]
    tables = tables or []
    n = 0
    for ax in fig.get_axes():
        for axis in (ax.xaxis, ax.yaxis):
            if any(plot_zh(t.get_text(), tables) for t in axis.get_ticklabels()):
                axis.set_major_formatter(_translated(axis.get_major_formatter(), tables))
                for t in axis.get_ticklabels():
                    t.set_fontfamily(fonts)
                n += 1
    for t in fig.findobj(Text):
        zh = plot_zh(t.get_text(), tables)
        if zh:
            t.set_text(zh)
            t.set_fontfamily(fonts)
            n += 1
    return n


def save_png(fig: Any, path: str) -> None:
    """Render ``fig`` to PNG in memory, write it atomically, close the figure. Where a CJK font is installed and
    some text of ``fig`` has a Chinese version (:func:`tr`), also write the Chinese copy ``<stem>.zh.png`` beside
    it (the report's Chinese page shows that one)."""
    buf, zh = io.BytesIO(), None
    try:
        fig.savefig(buf, format="png")
        family = cjk_font()
        if family is not None and _to_chinese(fig, family, _tables_on_stack()):
            zh = io.BytesIO()
            with _matplotlib().rc_context({"font.family": ["DejaVu Sans", family]}):  # ticks made while drawing
                fig.savefig(zh, format="png")
    finally:
        close(fig)
    atomic_write(path, buf.getvalue())
    if zh is not None:
        atomic_write(zh_path(path), zh.getvalue())


def zh_path(path: str) -> str:
    """The Chinese copy of a plot: ``a/b.png`` -> ``a/b.zh.png``."""
    return f"{path[:-4]}.zh.png" if path.endswith(".png") else f"{path}.zh.png"


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
