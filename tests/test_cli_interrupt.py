"""Ctrl-C anywhere in the command line is one line and status 130 (issue 25, point 10), and ``lab run
--seeds`` has an upper bound (point 17)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cvprimer.cli import main
from cvprimer.lab import runner

# Ctrl-C arriving while a given module is imported: a finder that raises KeyboardInterrupt for that name.
_HOOK = r"""
import sys
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == {name!r}:
            raise KeyboardInterrupt
sys.meta_path.insert(0, Interrupt())
"""


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_ctrl_c_while_the_verbs_are_imported_is_one_line_130():
    # building the parser imports the chosen verb's module
    r = _run(_HOOK.format(name="cvprimer.lab.cli")
             + "import sys\nfrom cvprimer.cli import main\nsys.exit(main(['lab', 'list']))\n")
    assert r.returncode == 130, r.stderr
    assert r.stderr == "cvprimer: interrupted\n"


def test_ctrl_c_while_python_m_cvprimer_imports_the_command_line_is_one_line_130():
    r = _run(_HOOK.format(name="cvprimer.cli") + "import runpy\nrunpy.run_module('cvprimer', run_name='__main__')\n")
    assert r.returncode == 130, r.stderr
    assert r.stderr == "cvprimer: interrupted\n"


def test_ctrl_c_in_lab_run_exits_130_saying_finished_results_are_kept(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_many", interrupted)
    assert main(["lab", "run", "q01", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cvprimer lab: interrupted after 0 of ")
    assert f"finished results are kept in {tmp_path}/runs" in err[0]


def test_lab_run_seeds_has_an_upper_bound(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["lab", "run", "q01", "--seeds", "101", "--out", str(tmp_path)])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--seeds: expected an integer in [1, 100], got '101'" in err[0]
    out = tmp_path / "a-file"
    out.write_text("")
    assert main(["lab", "run", "q01", "--seeds", "100", "--out", str(out)]) == 2  # 100 parses: --out is refused
    assert "is a file" in capsys.readouterr().err
