"""``mpiexec -n 2 cvprimer train ... --distributed``: one run folder written by rank 0; a batch size the ranks
cannot share is a clear error that ends both ranks; without mpiexec the same command is one process."""

import json
import shutil
import sys

from mpi_testing import run_mpi

from cvprimer.train.checkpoint import read_checkpoint

ARGS = ["--model", "lenet5", "--dataset", "digits", "--resize", "32", "--epochs", "1", "--val-fraction", "0.5",
        "--batch-size", "64", "--distributed", "--quiet"]


def _cvprimer() -> list[str]:
    exe = shutil.which("cvprimer")
    return [exe] if exe else [sys.executable, "-m", "cvprimer"]


def test_two_rank_cli_run_writes_one_run_folder(tmp_path):
    run = tmp_path / "run"
    proc = run_mpi([*_cvprimer(), "train", *ARGS, "--run-dir", str(run)], n=2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["epochs_run"] == 1 and summary["error"] is None
    assert len((run / "epochs.csv").read_text().splitlines()) == 2  # header + one epoch, written once
    info, arrays = read_checkpoint(run / "checkpoints" / "last.npz")
    assert info["epoch"] == 1 and any(k.startswith("model/") for k in arrays)
    assert not list(run.rglob(".tmp-*"))  # atomic writes left no temporary files


def test_batch_size_not_divisible_ends_both_ranks(tmp_path):
    # decided alike on both ranks before any collective: one line from rank 0, exit 2, no abort (issue 25 point 8;
    # tests/distributed/test_reliability2_mpi_boundary.py has the other cases)
    args = [a if a != "64" else "63" for a in ARGS]
    proc = run_mpi([*_cvprimer(), "train", *args, "--run-dir", str(tmp_path / "bad")], n=2, timeout=60)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "must be a multiple of the 2 ranks" in proc.stderr, proc.stderr[-3000:]
    assert "MPI_Abort" not in proc.stderr, proc.stderr[-3000:]


def test_same_command_without_mpiexec_is_one_process(tmp_path):
    """Without a launcher --distributed is a one-process run (MPI is not even initialised)."""
    from cvprimer.cli import main
    from cvprimer.distributed import launched_by_mpi

    assert not launched_by_mpi()
    run = tmp_path / "one"
    assert main(["train", *ARGS, "--run-dir", str(run)]) == 0
    assert json.loads((run / "summary.json").read_text())["world_size"] == 1
