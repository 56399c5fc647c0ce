"""A notebook per experiment (issue 24): ``cvprimer lab notebook`` writes an nbformat v4 notebook that runs the
experiment with its parameters as variables, executed here end to end with nbclient on the current Python; running
an experiment from Python never switches matplotlib's backend; a user's file is never overwritten."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from cvprimer.cli import main
from cvprimer.lab.notebook import TAG, build_notebook, is_ours, run_in_notebook, write_notebook

FAST = "q45"  # group convolution: deterministic, a few seconds in quick mode


def _kernel(folder, monkeypatch) -> str:
    """A kernel spec that runs this very Python (CI installs `.[test]` only, and whatever ``python3`` kernel a
    machine has may belong to another interpreter): written under ``folder`` and put on ``JUPYTER_PATH``."""
    spec = folder / "kernels" / "cvprimer-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "cvprimer test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(folder))
    return "cvprimer-test"


def test_a_generated_notebook_runs_end_to_end(tmp_path, monkeypatch):
    import nbformat  # the test extra brings nbformat, nbclient and ipykernel: missing, this fails
    from nbclient import NotebookClient

    path = write_notebook(FAST, str(tmp_path / "q45.ipynb"))
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    src = [c.source for c in nb.cells]
    assert "QUICK = True" in src[1] and "SEED = 0" in src[1] and "'exact_tol': 1e-10" in src[1]
    nb.cells.append(nbformat.v4.new_code_cell("import sys, matplotlib\nprint('PYTHON', sys.executable)\n"
                                              "print('BACKEND', matplotlib.get_backend())"))
    t0 = time.perf_counter()
    kernel = _kernel(tmp_path / "jupyter", monkeypatch)
    NotebookClient(nb, timeout=110, kernel_name=kernel, resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert time.perf_counter() - t0 < 120
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "verdict: confirmed" in text and "Key term: grouped convolution." in text
    lines = dict(ln.split(" ", 1) for ln in text.splitlines() if ln.startswith(("PYTHON ", "BACKEND ")))
    assert os.path.realpath(lines["PYTHON"]) == os.path.realpath(sys.executable)  # the kernel is this Python
    assert lines["BACKEND"] == "module://matplotlib_inline.backend_inline"  # running it did not switch to Agg
    kinds = [k for c in nb.cells if c.cell_type == "code" for o in c.outputs for k in o.get("data", {})]
    assert "image/png" in kinds and "text/html" in kinds  # the plots inline, the figures as a table
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]


def test_running_an_experiment_leaves_matplotlib_backend_and_pyplot_alone():
    code = ("import sys, matplotlib; matplotlib.use('svg'); from cvprimer.lab import run_in_notebook; "
            "r = run_in_notebook('q45', progress=False); assert r.pngs and all(b[:4] == b'\\x89PNG' "
            "for b in r.pngs.values()); print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["svg", "False"]


def test_run_in_notebook_decides_with_the_thresholds_given():
    run = run_in_notebook(FAST, progress=False)
    assert run.decide()[0] == "confirmed"
    assert run.decide({"max_cross_dependencies": -1.0})[0] == "refuted"  # no count of 0 is below -1
    with pytest.raises(ValueError, match="unknown thresholds"):
        run.decide({"no_such": 1.0})
    assert "<table>" in run.figures_table("zh")._repr_html_() and "数据" in run.figures_table("zh").text
    assert "grouped convolution" in run.takeaway("confirmed")["en"]
    assert run.show_plots("zh") and len(run.show_plots("en")) == len(run.result.plots)


def test_pages_languages_and_the_full_flag():
    nb = build_notebook("q07", full=True, lang="zh")
    assert "QUICK = False" in nb.cells[1].source and "LANG = 'zh'" in nb.cells[1].source
    head = nb.cells[0].source
    assert "说法" in head and "**Claim.**" not in head and "**问题 7.**" in head
    assert "run.takeaway(None)" in nb.cells[-1].source and nb.metadata["cvprimer"]["generator"] == TAG


def test_the_command_never_overwrites_a_users_file(tmp_path, capsys):
    mine = tmp_path / "mine.ipynb"
    mine.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    before = mine.read_bytes()
    assert main(["lab", "notebook", "q19", "--out", str(mine)]) == 2
    assert "never overwritten" in capsys.readouterr().err and mine.read_bytes() == before
    ours = tmp_path / "q19.ipynb"
    assert main(["lab", "notebook", "q19", "--out", str(ours)]) == 0 and is_ours(str(ours))
    assert main(["lab", "notebook", "q19", "--out", str(ours), "--full"]) == 0  # its own file: replaced
    assert json.loads(ours.read_text())["metadata"]["cvprimer"]["full"] is True
    assert main(["lab", "notebook", "q19", "--out", str(tmp_path / "q19.txt")]) == 2
    assert main(["lab", "notebook", "q999", "--out", str(tmp_path / "x.ipynb")]) == 2
    assert not (tmp_path / "x.ipynb").exists()
