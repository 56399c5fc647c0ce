"""Issue 25 point 17 (rest): an error names its real cause. ``--dropout`` on a model without dropout is blamed on the
flag, not on the image shape (the shape message stays for a real shape mismatch); ``mpiexec`` without
``--distributed`` is tested in tests/distributed/test_reliability2_mpi_boundary.py."""

from __future__ import annotations

from cvprimer.cli import main

TINY = ["--dataset", "digits", "--resize", "32", "--batch-size", "128", "--max-steps", "1", "--quiet"]


def _line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cvprimer train: "), err
    return err[0]


def test_dropout_on_lenet5_names_the_flag_not_the_images(tmp_path, capsys):
    assert main(["train", "--model", "lenet5", *TINY, "--dropout", "0.3", "--run-dir", str(tmp_path / "a")]) == 2
    line = _line(capsys)
    assert line == "cvprimer train: --dropout 0.3: --model lenet5 takes no dropout probability; leave out --dropout"
    assert "shape" not in line


def test_a_real_shape_mismatch_still_names_the_shape(tmp_path, capsys):
    args = [a if a != "32" else "28" for a in TINY]
    assert main(["train", "--model", "lenet5", *args, "--run-dir", str(tmp_path / "b")]) == 2
    assert "--model lenet5 cannot train on images of shape (1, 28, 28)" in _line(capsys)
