"""The library never switches matplotlib's backend nor uses pyplot's global figure list: a notebook's inline backend
survives every plot the library writes (training curves, the LR range test, the analyzer's charts, cvprimer plot).
Checked on the source (no ``matplotlib.use`` / ``pyplot`` import anywhere in the package) and by running the writers
with a non-Agg backend selected."""

from __future__ import annotations

import ast
import pathlib

import matplotlib

import cvprimer

SRC = pathlib.Path(cvprimer.__file__).parent


def test_no_module_imports_pyplot_or_switches_the_backend():
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if any(n and "pyplot" in n for n in names):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno} imports pyplot")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "use":
                if ast.unparse(node.func.value).endswith("matplotlib") or "require(" in ast.unparse(node.func.value):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno} calls matplotlib.use")
    assert found == []


def test_writers_leave_the_backend_as_the_user_set_it(tmp_path):
    from cvprimer.analysis import analyze
    from cvprimer.analysis.roofline import MachineProfile
    from cvprimer.models import get_model
    from cvprimer.train.run import _plot

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # stands in for a notebook's inline backend
    try:
        history = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e, "train_acc": 0.5, "val_acc": 0.4,
                    "lr": 0.1} for e in (1, 2, 3)]
        assert _plot(history, str(tmp_path / "curves.png"))
        rep = analyze(get_model("lenet5"), (1, 1, 32, 32), profile=MachineProfile(1e10, 1e10))
        rep.plot_costs(tmp_path / "costs.png")
        rep.plot_roofline(tmp_path / "roofline.png")
        assert matplotlib.get_backend() == "svg"
        for name in ("curves.png", "costs.png", "roofline.png"):
            assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        matplotlib.use(before)
