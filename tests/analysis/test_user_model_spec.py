"""``cvprimer analyze SPEC`` on the user's own model (issue 26): FILE.py:FUNCTION, package.module:FUNCTION,
--kwarg literals (never evaluated), and one clear line for every way a SPEC can be wrong."""

from __future__ import annotations

import sys
import textwrap

import pytest

from cvprimer.analysis import ModelSpecError, analyze, build_model
from cvprimer.analysis.roofline import MachineProfile
from cvprimer.analysis.user_model import parse_kwargs
from cvprimer.cli import main

P = MachineProfile(1e11, 1e10)
GIVEN = ["--peak-gflops", "100", "--bandwidth-gbs", "10"]

MODEL = textwrap.dedent("""
    from cvprimer import nn
    from helper_blocks import Block   # a sibling file: the file's folder is importable, as with python FILE.py

    def build(width=8, num_classes=10, act=None):
        return nn.Sequential(nn.Conv2d(3, width, 3, stride=2, padding=1), Block(width),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))

    def raises():
        raise RuntimeError("weights not found\\nsecond line never shown")

    def returns_int():
        return 3

    def breaks_in_forward():
        class Broken(nn.Module):
            def forward(self, x):
                return x.no_such_method()
        return Broken()

    NOT_A_FUNCTION = 5
""")
BLOCK = textwrap.dedent("""
    from cvprimer import nn

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.act(self.conv(x)) + x
""")


@pytest.fixture
def model_file(tmp_path):
    (tmp_path / "my_model.py").write_text(MODEL)
    (tmp_path / "helper_blocks.py").write_text(BLOCK)
    yield tmp_path / "my_model.py"
    sys.modules.pop("helper_blocks", None)


def _one_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("cvprimer analyze: ")
    return err[0]


def test_file_spec_with_kwargs_builds_the_users_model(model_file):
    m = build_model(f"{model_file}:build", parse_kwargs(["width=16", "num_classes=4", "act='relu'"]))
    rep = analyze(m, (3, 32, 32), profile=P)
    # conv 3->16 on 16x16 outputs, the block's 16->16 conv, the 16->4 linear
    assert rep.totals["macs"] == 16 * 16 * 16 * 3 * 9 + 16 * 16 * 16 * 16 * 9 + 16 * 4
    assert rep.totals["output_shape"] == (1, 4)
    assert any(r.type == "Block" for r in rep.rows)


def test_module_spec_is_found_from_the_current_folder(tmp_path, monkeypatch):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text("from cvprimer import nn\n\ndef tiny(c=2):\n    return nn.Conv2d(3, c, 1)\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    try:
        m = build_model("mypkg.nets:tiny", {"c": 5})
        assert m.weight.shape == (5, 3, 1, 1)
        assert str(tmp_path) not in sys.path  # the folder is only searched while importing
    finally:
        for k in [k for k in sys.modules if k == "mypkg" or k.startswith("mypkg.")]:
            del sys.modules[k]


def test_the_done_when_command(model_file, monkeypatch, capsys):
    monkeypatch.chdir(model_file.parent)
    assert main(["analyze", "my_model.py:build", "--input", "3x32x32", "--depth", "2", *GIVEN]) == 0
    out = capsys.readouterr().out
    assert "module tree to depth 2" in out
    assert "\n  1 " in out and "\n    1.conv " in out and "Block" in out and "3x3/s1/p1/d1/g1" in out


@pytest.mark.parametrize("spec, kwargs, expected", [
    ("{d}/nope.py:build", [], "no such file '{d}/nope.py'"),
    ("{d}:build", [], "is a folder"),
    ("{f}:nope", [], "has no 'nope'; it defines: breaks_in_forward, build, raises, returns_int"),
    ("{f}:NOT_A_FUNCTION", [], "my_model.py:NOT_A_FUNCTION is not callable (an object of type int)"),
    ("{f}:raises", [], "your function {f}:raises raised RuntimeError: weights not found"),
    ("{f}:returns_int", [], "returned an object of type int, expected a cvprimer nn.Module"),
    ("{f}:build", ["depth=3"], "your function {f}:build raised TypeError: build() got an unexpected keyword"),
    ("{f}:", [], "must be a zoo name, FILE.py:FUNCTION or package.module:FUNCTION"),
    ("{f}", [], "name the function that builds the model: {f}:FUNCTION (e.g. {f}:build)"),
    ("{f}:not-a-name", [], "is not a function name"),
    ("no_such_pkg_xyz.mod:build", [], "no module named 'no_such_pkg_xyz'"),
    ("resnet19", [], "unknown model 'resnet19'; known models: alexnet"),
    ("resnet20", ["nonsense=1"], "building 'resnet20' with {{'nonsense': 1}} failed: TypeError"),
    ("{f}:build", ["width"], "--kwarg must look like NAME=VALUE"),
    ("{f}:build", ["width=abc"], "--kwarg width: 'abc' is not a Python literal"),
    ("{f}:build", ["width=1", "width=2"], "--kwarg width is given twice"),
])
def test_a_bad_spec_is_one_line(model_file, capsys, spec, kwargs, expected):
    d, f = str(model_file.parent), str(model_file)
    args = ["analyze", spec.format(d=d, f=f), "--input", "3x32x32", *GIVEN]
    for kw in kwargs:
        args += ["--kwarg", kw]
    assert main(args) == 2
    line = _one_line(capsys)
    assert expected.format(d=d, f=f) in line
    assert "second line never shown" not in line and "Traceback" not in line


def test_a_syntax_error_names_the_file_and_line(tmp_path, capsys):
    bad = tmp_path / "broken.py"
    bad.write_text("from cvprimer import nn\n\n\ndef build(:\n    pass\n")
    assert main(["analyze", f"{bad}:build", *GIVEN]) == 2
    assert f"syntax error in {str(bad)!r} line 4" in _one_line(capsys)


def test_a_file_that_raises_on_import_or_exits(tmp_path, capsys):
    (tmp_path / "boom.py").write_text("import sys\nraise ImportError('needs torchvision')\n")
    (tmp_path / "bye.py").write_text("import sys\nsys.exit(3)\n")
    assert main(["analyze", f"{tmp_path / 'boom.py'}:build", *GIVEN]) == 2
    assert "importing" in (line := _one_line(capsys)) and "raised ImportError: needs torchvision" in line
    assert main(["analyze", f"{tmp_path / 'bye.py'}:build", *GIVEN]) == 2
    assert "raised SystemExit: 3" in _one_line(capsys)


def test_a_users_model_failing_in_forward_is_one_line(model_file, capsys):
    assert main(["analyze", f"{model_file}:breaks_in_forward", "--input", "3x8x8", *GIVEN]) == 2
    line = _one_line(capsys)
    assert f"running your model {model_file}:breaks_in_forward on input (1, 3, 8, 8) raised AttributeError" in line


def test_a_torch_module_is_named_as_such(tmp_path, capsys):
    pytest.importorskip("torch")
    (tmp_path / "tnet.py").write_text("import torch\n\ndef build():\n    return torch.nn.Linear(2, 2)\n")
    assert main(["analyze", f"{tmp_path / 'tnet.py'}:build", *GIVEN]) == 2
    assert "torch.nn" in (line := _one_line(capsys)) and "a PyTorch module: build it with cvprimer.nn" in line


def test_kwargs_are_literals_and_never_evaluated(tmp_path):
    assert parse_kwargs(["a=32", "b=(1, 2)", "c='x'", "d=None", "e=[1.5, -2]", "f={'k': True}"]) == \
        {"a": 32, "b": (1, 2), "c": "x", "d": None, "e": [1.5, -2], "f": {"k": True}}
    marker = tmp_path / "pwned"
    with pytest.raises(ModelSpecError, match="not a Python literal"):
        parse_kwargs([f"x=__import__('os').system('touch {marker}')"])
    assert not marker.exists()
    with pytest.raises(ModelSpecError, match="NAME=VALUE"):
        parse_kwargs(["1x=3"])
