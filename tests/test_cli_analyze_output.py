"""``cvprimer analyze`` names the output file it could not write (issue 25, point 17)."""

from __future__ import annotations

import errno
import os

import pytest

from cvprimer.analysis import report
from cvprimer.cli import main

ARGS = ["analyze", "lenet5", "--input", "1x32x32"]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_unwritable_json_output_under_proc_names_the_file(capsys):
    assert main([*ARGS, "--json", "/proc/x.json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cvprimer analyze: --json: cannot write '/proc/x.json': ")


def test_a_full_disk_while_writing_names_the_file(tmp_path, capsys, monkeypatch):
    def full(self, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / ".x.json.tmp123"))

    monkeypatch.setattr(report.Report, "to_json", full)
    out = tmp_path / "x.json"
    assert main([*ARGS, "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--json: cannot write {str(out)!r}: No space left on device" in err[0]
    assert ".tmp123" not in err[0]
