"""Every docstring example in the package runs and prints what it shows (issue 28, point 6).

Each module of ``cvprimer`` that has examples is one test: its examples run with doctest's ELLIPSIS and
NORMALIZE_WHITESPACE options, in the module's namespace. The lab's experiment modules are included.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import cvprimer


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(cvprimer.__path__, "cvprimer."):
        if info.name.endswith("__main__"):
            continue
        mod = importlib.import_module(info.name)
        if any(t.examples for t in doctest.DocTestFinder().find(mod, info.name)):
            names.append(info.name)
    return names


MODULES = _modules_with_examples()


def test_examples_are_found() -> None:
    """The walk reaches the modules known to hold examples (so an empty parametrization cannot pass)."""
    assert {"cvprimer.functional.attention", "cvprimer.optim.proximal", "cvprimer.nn.module"} <= set(MODULES)
    assert len(MODULES) >= 30


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    mod = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    for test in finder.find(mod, name):
        if test.examples:
            runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
    assert result.attempted > 0
