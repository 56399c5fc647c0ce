"""docs/design.md's layer picture holds: every import inside the package points down (or sideways within a
row), never up (issue 28 point 6: "docs/design.md true again"). Imports inside functions count too."""

from __future__ import annotations

import ast
import pathlib

import cvprimer

# the picture in docs/design.md, bottom (0) to top (interop sits beside analysis: the torch.fx importer);
# errors/argtypes/cuda are leaf modules usable from anywhere
RANK = {"errors": -1, "argtypes": -1, "cuda": -1, "core": 0, "functional": 1, "nn": 2,
        "optim": 3, "models": 3, "data": 3, "analysis": 4, "interop": 4, "distributed": 5, "train": 6, "lab": 7,
        "demo": 8, "cli": 8, "__main__": 8}


def _layer(path: pathlib.Path, root: pathlib.Path) -> str:
    rel = path.relative_to(root)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names] if node.module == "cvprimer"
                                     else [])
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out += [(node.lineno, n) for n in names if n.startswith("cvprimer.")]
    return out


def test_every_import_points_down_the_layer_picture():
    root = pathlib.Path(cvprimer.__file__).parent
    files = sorted(root.rglob("*.py"))
    up = []
    for path in files:
        own = _layer(path, root)
        if own == "__init__":
            continue  # the package's front door re-exports from every layer
        assert own in RANK, f"{path}: layer {own!r} is not in docs/design.md's picture (add it there and here)"
        for line, name in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            target = name.split(".")[1]
            if target in RANK and RANK[target] > RANK[own]:
                up.append(f"{path.relative_to(root)}:{line} ({own}) imports {name} ({target})")
    assert len(files) > 100
    assert not up, "imports pointing up the layers:\n" + "\n".join(up)
