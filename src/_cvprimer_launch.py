"""The ``cvprimer`` console script: a fast start and one line for Ctrl-C, from the very first import.

``import cvprimer`` loads NumPy and the whole engine (``cvprimer/__init__.py`` is the ``import cvprimer as cp``
face), and so do the ``__init__`` files of ``cvprimer.train``, ``cvprimer.lab`` and ``cvprimer.analysis``.
Parsing the command line needs none of it. So this module, which lives outside the package and imports only
the standard library, runs :func:`cvprimer.cli.main` with the ``__init__`` of every ``cvprimer`` package
*deferred*: the package module is created (with its ``__path__``, so its light submodules such as
``cvprimer.cli``, ``cvprimer.errors`` and the verbs' ``cli`` modules import normally) but its ``__init__``
is not executed yet. ``cvprimer --help``, ``cvprimer <verb> --help`` and argument errors therefore never load
NumPy. Once the arguments parse, and before the verb runs, every deferred ``__init__`` is executed in the
order the imports created them (parents first), in the same module objects, so the verb sees exactly the
modules an ordinary import gives.

Ctrl-C at any point of start-up, including while those ``__init__`` files run, is one line
(``cvprimer: interrupted``) and status 130, as everywhere else in the command line.
"""

from __future__ import annotations

import sys
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

_PACKAGE = "cvprimer"


class _DeferredPackage(ModuleType):
    """A package whose ``__init__`` has not run yet: the first attribute it lacks (``cp.Tensor``, ``from
    cvprimer import optim``) runs it, so code that does need the package gets it whole, in the order an
    ordinary import would have given. ``__path__``, ``__spec__`` and the other import attributes are already
    set, so importing its submodules does not run it."""

    def __getattr__(self, name: str) -> Any:
        if not _DEFERRED.run_init(self):
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        return getattr(self, name)


class _Postponed(Loader):
    """A package's loader whose ``exec_module`` is recorded instead of run (see :class:`_DeferInits`)."""

    def __init__(self, real: Loader, owner: _DeferInits) -> None:
        self.real = real
        self.owner = owner

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.real.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__class__ = _DeferredPackage
        self.owner.pending[module.__name__] = (module, self.real)


class _DeferInits(MetaPathFinder):
    """A finder that defers the ``__init__`` of every package named ``cvprimer`` or ``cvprimer.*``."""

    def __init__(self) -> None:
        self.pending: dict[str, tuple[ModuleType, Loader]] = {}  # in creation order: parents first

    def find_spec(self, name: str, path: Any = None, target: ModuleType | None = None) -> ModuleSpec | None:
        if name != _PACKAGE and not name.startswith(_PACKAGE + "."):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is None:
                continue
            if spec.submodule_search_locations is not None and spec.loader is not None:
                spec.loader = _Postponed(spec.loader, self)  # a package: its __init__ waits
            return spec
        return None

    def run_init(self, module: ModuleType) -> bool:
        """Run the deferred ``__init__`` of ``module`` now, in the module object itself; False when it is not
        (or no longer) waiting."""
        entry = self.pending.get(module.__name__)
        if entry is None or entry[0] is not module:
            return False
        del self.pending[module.__name__]
        real = entry[1]
        module.__class__ = ModuleType
        module.__loader__ = real
        if module.__spec__ is not None:
            module.__spec__.loader = real
        real.exec_module(module)
        return True

    def finish(self, _verb_module: str = "") -> None:
        """Stop deferring and run every ``__init__`` still waiting, parents first (the launcher's hook, called
        by :func:`cvprimer.cli.main` once the arguments parse and before the verb runs)."""
        self.uninstall()
        while self.pending:
            module, _ = next(iter(self.pending.values()))
            self.run_init(module)

    def install(self) -> None:
        sys.meta_path.insert(0, self)

    def uninstall(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)

    def forget(self) -> None:
        """Leave no half-made package behind (when :meth:`finish` was never reached, e.g. after ``--help``
        inside a longer-lived process): drop every ``cvprimer`` module, so the next import starts afresh."""
        self.uninstall()
        if self.pending:
            self.pending.clear()
            for name in [m for m in sys.modules if m == _PACKAGE or m.startswith(_PACKAGE + ".")]:
                del sys.modules[name]


_DEFERRED = _DeferInits()


def main(argv: list[str] | None = None) -> int:
    """Run ``cvprimer`` with the arguments ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    defer = _DEFERRED
    try:
        if _PACKAGE in sys.modules:  # already imported (``python -m cvprimer``, a test): nothing to defer
            from cvprimer.cli import main as cli_main

            return cli_main(argv)
        defer.install()
        from cvprimer.cli import main as cli_main

        return cli_main(argv, _before_run=defer.finish)
    except KeyboardInterrupt:  # while importing the command line itself; later ones are cvprimer.cli's
        print("cvprimer: interrupted", file=sys.stderr)
        return 130
    finally:
        defer.forget()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
