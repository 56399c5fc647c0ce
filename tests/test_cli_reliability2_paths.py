"""Issue 25 point 7 for the lab: odd output paths and a full disk are one line naming the path, exit 2, never an
internal-error traceback (``runs/<id>`` a file, ``index.html`` a folder, results.json on a full disk)."""

from __future__ import annotations

import errno
import json
import os

from cvprimer.cli import main

EXP = "q07-tuning-tips"  # a page: quick to "run"


def _line(capsys) -> str:
    err = [ln for ln in capsys.readouterr().err.strip().splitlines() if ln]
    assert len(err) == 1 and err[0].startswith("cvprimer lab: "), err
    return err[0]


def test_runs_id_that_is_a_file(tmp_path, capsys):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / EXP).write_text("mine")
    assert main(["lab", "run", EXP, "--out", str(tmp_path), "--seeds", "1", "--jobs", "1"]) == 2
    line = _line(capsys)
    assert line == f"cvprimer lab: cannot use {str(tmp_path / 'runs' / EXP / 'quick')!r}: Not a directory", line
    assert (tmp_path / "runs" / EXP).read_text() == "mine"


def test_index_html_folder_and_a_full_disk_for_the_report(tmp_path, capsys, monkeypatch):
    assert main(["lab", "run", EXP, "--out", str(tmp_path), "--seeds", "1", "--jobs", "1"]) == 0
    capsys.readouterr()
    (tmp_path / "index.html").mkdir()
    assert main(["lab", "report", "--out", str(tmp_path)]) == 2
    assert "index.html exists and was not written by cvprimer lab" in _line(capsys)
    os.rmdir(tmp_path / "index.html")

    def enospc(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", enospc)  # every report file goes through atomic_write, which fsyncs
    assert main(["lab", "report", "--out", str(tmp_path)]) == 2
    line = _line(capsys)
    assert line == f"cvprimer lab: cannot write {str(tmp_path / 'results.json')!r}: No space left on device", line
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]


def test_lab_force_reruns_without_deleting_what_it_did_not_write(tmp_path, capsys):
    """Issue 25 point 1 for the lab: ``--force`` re-runs and rewrites only its own record; nothing in ``runs/`` that
    the lab did not write is removed or changed (the lab deletes no file at all)."""
    args = ["lab", "run", EXP, "--out", str(tmp_path), "--seeds", "1", "--jobs", "1"]
    assert main(args) == 0
    record = tmp_path / "runs" / EXP / "quick" / "result.json"
    first = json.loads(record.read_text())
    mine = [tmp_path / "runs" / "notes.txt", tmp_path / "runs" / EXP / "keep.png", tmp_path / "runs" / EXP / "quick"
            / "my-best.json"]
    for p in mine:
        p.write_text(p.name)
    assert main([*args, "--force"]) == 0
    assert all(p.read_text() == p.name for p in mine)
    again = json.loads(record.read_text())  # re-run, not served from the cache: its own time taken anew
    assert again["id"] == EXP and (again["created"], again["seconds"]) != (first["created"], first["seconds"])
