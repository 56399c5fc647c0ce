"""Issue 25 points 8, 12 and 17 under ``mpiexec -n 2``: a user error found before training is decided alike on
every rank (rank 0 prints one line, the job exits 2, no traceback, no MPI_Abort); ranks given different settings
(MPMD) are refused instead of hanging; ``mpiexec`` without ``--distributed`` says so; Ctrl-C ends every rank with
status 130 and one line."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from mpi_testing import run_mpi

pytestmark = pytest.mark.skipif(shutil.which("mpiexec") is None, reason="needs mpiexec")

ARGS = ["--model", "lenet5", "--dataset", "digits", "--resize", "32", "--epochs", "1", "--val-fraction", "0.5",
        "--quiet"]


def _cvprimer() -> list[str]:
    exe = shutil.which("cvprimer")
    return [exe] if exe else [sys.executable, "-m", "cvprimer"]


def _one_line_exit_2(proc, needle: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("cvprimer train: ") and needle in lines[0], proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr and "MPI_Abort" not in proc.stdout + proc.stderr


def test_batch_size_the_ranks_cannot_share_is_one_line_from_rank_0(tmp_path):
    run = tmp_path / "run"
    proc = run_mpi([*_cvprimer(), "train", *ARGS, "--batch-size", "63", "--distributed", "--run-dir", str(run)],
                   n=2, timeout=90)
    _one_line_exit_2(proc, "--batch-size 63 is the global batch and must be a multiple of the 2 ranks")
    assert not run.exists()  # decided before rank 0 made the folder


def test_an_existing_run_dir_found_by_rank_0_alone_ends_every_rank_alike(tmp_path):
    from cvprimer.train.rundir import claim, prepare_new

    run = tmp_path / "run"
    prepare_new(str(run))
    claim(str(run / "config.json"))
    (run / "config.json").write_text('{"model": "lenet5", "dataset": "digits"}')
    proc = run_mpi([*_cvprimer(), "train", *ARGS, "--batch-size", "64", "--distributed", "--run-dir", str(run)],
                   n=2, timeout=90)
    _one_line_exit_2(proc, "already holds a run")
    assert sorted(os.listdir(run)) == [".cvprimer-run.json", "config.json"]


def test_ranks_given_different_settings_are_refused_not_left_hanging(tmp_path):
    """MPMD: rank 0 without --distributed and --epochs 1, rank 1 with both changed; it used to hang for good."""
    run = str(tmp_path / "run")
    cmd = ["mpiexec", "-n", "1", *_cvprimer(), "train", *ARGS, "--batch-size", "64", "--run-dir", run, ":",
           "-n", "1", *_cvprimer(), "train", *ARGS[:-3], "--epochs", "2", "--val-fraction", "0.5", "--quiet",
           "--batch-size", "64", "--distributed", "--run-dir", run]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("MPMD ranks with different settings hang")
    _one_line_exit_2(proc, "the 2 ranks were not given the same train settings: rank(s) 1 differ from rank 0")
    assert "(distributed: rank 0: False, rank 1: True)" in proc.stderr
    assert not os.path.exists(run)


def test_mpiexec_without_distributed_says_so_and_not_a_run_dir_never_given(tmp_path):
    proc = run_mpi([*_cvprimer(), "train", *ARGS, "--batch-size", "64"], n=2, timeout=90, cwd=str(tmp_path))
    _one_line_exit_2(proc, "mpiexec started 2 copies of `cvprimer train` without --distributed")
    assert "--run-dir" not in proc.stderr and not (tmp_path / "runs").exists()


def test_ctrl_c_ends_every_rank_with_130_in_one_line(tmp_path):
    run = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    args = [a if a != "1" else "50" for a in ARGS]  # --epochs 50: still training when Ctrl-C comes
    proc = subprocess.Popen(["mpiexec", "-n", "2", *_cvprimer(), "train", *args, "--batch-size", "16",
                             "--distributed", "--run-dir", str(run)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        t0 = time.time()
        while time.time() - t0 < 90:  # wait until both ranks train (steps are being logged)
            steps = run / "steps.csv"
            if steps.exists() and len(steps.read_text().splitlines()) >= 3:
                break
            time.sleep(0.2)
        else:
            pytest.fail("training never started")
        proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal does: mpiexec forwards it to every rank
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err, err[-3000:]
    ours = [ln for ln in err.splitlines() if ln.startswith("[rank")]
    # one line: rank 0's, or (when rank 0 was waiting inside an MPI call) the rank that caught Ctrl-C first
    assert len(ours) == 1 and ours[0].endswith("] interrupted (Ctrl-C); ending all 2 ranks"), err[-3000:]


def test_an_argument_error_on_one_rank_only_ends_the_job(tmp_path):
    """MPMD with a bad value on rank 1: rank 1 fails while parsing, before MPI is even started; rank 0 waited for
    it forever in its first collective. Now rank 1 prints its line and ends the job (MPI_Abort, status 2)."""
    run = str(tmp_path / "run")
    good = [*ARGS, "--batch-size", "64", "--distributed", "--run-dir", run]
    bad = [a if a != "64" else "0" for a in good]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cmd = ["mpiexec", "-n", "1", *_cvprimer(), "train", *good, ":", "-n", "1", *_cvprimer(), "train", *bad]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("an argument error on rank 1 left rank 0 hanging")
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("cvprimer train:")]
    assert lines == ["cvprimer train: argument --batch-size: expected an integer >= 1, got '0' (see `cvprimer "
                     "train --help`)"], proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
