"""Faults under mpiexec (mpi_worker_faults.py): one rank's exception or death ends the whole job promptly,
the last checkpoint survives, and resuming it (with the same or another number of ranks) finishes the run."""

import json
import shutil
import time

import numpy as np
import pytest
from mpi_testing import run_mpi

from cvprimer.train.checkpoint import read_checkpoint


def test_exception_on_one_rank_aborts_all_with_its_error(tmp_path):
    t0 = time.perf_counter()
    proc = run_mpi(["mpi_worker_faults.py", "raise", str(tmp_path)], n=2, timeout=60)
    assert proc.returncode != 0, proc.stderr[-3000:]
    assert "[rank 1/2] ValueError: planted failure on rank 1" in proc.stderr, proc.stderr[-3000:]
    assert "MPI_Abort" in proc.stderr, proc.stderr[-3000:]
    assert time.perf_counter() - t0 < 30  # aborted, not timed out


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """Rank 1 SIGKILLs itself in epoch 2; returns (process result, checkpoint folder)."""
    d = tmp_path_factory.mktemp("killed")
    return run_mpi(["mpi_worker_faults.py", "kill", str(d)], n=2, timeout=60), d


def test_killed_rank_ends_the_job_with_a_clear_message(killed_run):
    proc, _ = killed_run
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "BAD TERMINATION" in text and "signal 9" in text, text[-3000:]


def test_checkpoint_intact_after_kill_and_resume_with_1_or_2_ranks(killed_run, tmp_path):
    _, d = killed_run
    info, _ = read_checkpoint(d / "last.npz")
    assert info["epoch"] == 1  # epoch 2 never finished, its checkpoint was never started
    full = tmp_path / "full"
    full.mkdir()
    proc = run_mpi(["mpi_worker_faults.py", "full", str(full), str(tmp_path / "full.json")], n=2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref = json.loads((tmp_path / "full.json").read_text())
    for n in (2, 1):
        run = tmp_path / f"resume{n}"
        shutil.copytree(d, run)
        out = tmp_path / f"resume{n}.json"
        proc = run_mpi(["mpi_worker_faults.py", "resume", str(run), str(out)], n=n)
        assert proc.returncode == 0, proc.stderr[-3000:]
        got = json.loads(out.read_text())
        assert got["world_size"] == n and got["epochs"] == [2, 3]
        # SyncBatchNorm and the global batch make 1 rank and 2 ranks the same computation (float64 rounding)
        np.testing.assert_allclose(got["params"], ref["params"], rtol=1e-10, atol=1e-12)
        if n == 2:  # same rank count: the resumed run is the uninterrupted one, bit for bit
            assert got["params"] == ref["params"]
