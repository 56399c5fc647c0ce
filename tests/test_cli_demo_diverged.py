"""``cvprimer demo`` with too large a learning rate stops at the first non-finite loss and exits 1 with one line
(issue 25, point 17; it used to print nan losses and exit 0)."""

from __future__ import annotations

import warnings

from cvprimer.cli import main
from cvprimer.demo import run_demo


def test_demo_that_diverges_exits_1_with_one_line(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow warnings either: the one line says it
        assert main(["demo", "--lr", "1e3", "--epochs", "2"]) == 1
    out, err = capsys.readouterr()
    err_lines = err.strip().splitlines()
    assert len(err_lines) == 1 and err_lines[0].startswith("cvprimer demo: training diverged (loss ")
    assert "--lr 1000 is too large" in err_lines[0]
    assert "nan" not in out and "done in" not in out


def test_run_demo_reports_where_it_diverged_and_none_when_it_did_not():
    out = run_demo(epochs=1, lr=1e3, log=lambda s: None)
    assert out["diverged"]["epoch"] == 1 and out["diverged"]["step"] >= 1 and out["history"] == []
    assert run_demo(epochs=1, log=lambda s: None)["diverged"] is None
