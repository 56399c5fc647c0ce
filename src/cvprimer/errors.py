"""The one exception type that means "the user asked for something that cannot be done", and the one place
where a missing optional package becomes such an error.

The command line's error boundary (:func:`cvprimer.cli.main`) prints a :class:`UserError` as one line,
``cvprimer <verb>: <message>``, and exits with status 2; any other exception is an internal error and keeps
its traceback. Library functions raise ``ValueError``/``TypeError`` as usual; a verb turns the ones that
come from the user's own input into ``UserError`` at the point where it knows they do.

A base install is NumPy alone; everything else comes with an extra (``pip install "cvprimer[data]"``).
Code that needs an optional package imports it through :func:`require`, which raises :class:`MissingExtra`
(a ``UserError`` and an ``ImportError``) naming the package and the extra that brings it. This module imports
nothing, so the command line can use it before NumPy is loaded.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class UserError(Exception):
    """A user error: the message says what is wrong and what to do, in one line."""


# top-level import name -> (the name pip knows it by, the extra of cvprimer that installs it)
EXTRAS: dict[str, tuple[str, str]] = {
    "sklearn": ("scikit-learn", "data"),
    "mlxtend": ("mlxtend", "data"),
    "PIL": ("pillow", "data"),
    "matplotlib": ("matplotlib", "plot"),
    "tqdm": ("tqdm", "lab"),
    "scipy": ("scipy", "lab"),
    "skimage": ("scikit-image", "lab"),
    "threadpoolctl": ("threadpoolctl", "lab"),
    "mpi4py": ("mpi4py", "distributed"),
    "numba": ("numba", "fast"),
    "tensorboardX": ("tensorboardX", "tensorboard"),
}


class MissingExtra(UserError, ImportError):
    """An optional package is not installed: one line naming it and the extra to install.

    Also an ``ImportError``, so code that falls back when a package is missing (``except ImportError``) keeps
    working when the import goes through :func:`require`.
    """


def missing_extra(module: str, what: str | None = None, extra: str | None = None) -> MissingExtra:
    """The :class:`MissingExtra` for the import name ``module`` (``"sklearn.datasets"``), e.g.
    ``needs scikit-learn (for the demo's digits), which is not installed: pip install "cvprimer[data]"``;
    ``what`` says what needs it, ``extra`` overrides the package's own extra (the lab asks for ``lab``)."""
    top = module.partition(".")[0]
    dist, own_extra = EXTRAS.get(top, (top, "all"))
    extra = extra or own_extra
    why = f" (for {what})" if what else ""
    err = MissingExtra(f'needs {dist}{why}, which is not installed: pip install "cvprimer[{extra}]"')
    err.name = top
    return err


def require(module: str, *, what: str | None = None) -> ModuleType:
    """Import the optional module ``module`` (a dotted import name) and return it, or raise
    :class:`MissingExtra` naming the package and the cvprimer extra that installs it.

    Only a missing package is turned into ``MissingExtra``; an installed package that fails while importing
    keeps its own error (that is a broken install, not a missing extra).
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        top = module.partition(".")[0]
        if e.name is None or e.name.partition(".")[0] != top:
            raise
        raise missing_extra(module, what) from None


def require_all(modules: tuple[str, ...] | list[str], *, what: str, extra: str | None = None) -> None:
    """Check that every top-level package in ``modules`` is installed, without importing any of them; the
    first missing one raises :class:`MissingExtra` naming ``extra`` (default: its own), used before long work
    that needs a whole extra."""
    from importlib.util import find_spec

    for module in modules:
        try:
            found = find_spec(module.partition(".")[0]) is not None
        except (ImportError, ValueError):  # a finder that refuses the name: as good as missing
            found = False
        if not found:
            raise missing_extra(module, what, extra)
