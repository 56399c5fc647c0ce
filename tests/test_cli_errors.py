"""The command line's error boundary: every user error is one line ``cvprimer <verb>: ...`` on stderr with exit
status 2 and no traceback, checked in a real subprocess."""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = [
    (["demo", "--epochs", "0"], "--epochs"),
    (["demo", "--batch-size", "-5"], "--batch-size"),
    (["demo", "--lr", "nan"], "--lr"),
    (["demo", "--lr", "inf"], "--lr"),
    (["nope"], "invalid choice"),
    (["analyze", "resnet18", "--erf", "-1"], "--erf"),
    (["analyze", "resnet18", "--csv", "/no/such/folder/x.csv"], "--csv"),
    (["analyze", "resnet18", "--input", "3x0x5"], "--input"),
    (["analyze", "no_such_net"], "unknown model"),
    (["lab", "run", "q99"], "1..54"),
    (["lab", "run", "--all", "--seeds", "0"], "--seeds"),
    (["lab", "show", "nothing-here"], "unknown experiment"),
    (["lab", "--out", "/proc/version", "run", "q38"], "is a file"),
]


@pytest.mark.parametrize("argv, needle", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_user_error_is_one_line_with_exit_2(argv, needle):
    r = subprocess.run([sys.executable, "-m", "cvprimer", *argv], capture_output=True, text=True, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith(f"cvprimer {argv[0]}" if argv[0] != "nope" else "cvprimer:"), lines[0]
    assert needle in lines[0]
