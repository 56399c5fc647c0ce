"""The overlapped reducer on two real MPI ranks (mpi_worker_overlap.py): Iallreduce buckets started during
backward give bit-for-bit the blocking reducer's training, identical on both ranks."""

import json

import pytest
from mpi_testing import run_mpi


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    out = tmp_path_factory.mktemp("overlap") / "overlap.json"
    proc = run_mpi(["mpi_worker_overlap.py", str(out)], n=2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_buckets_start_during_backward(measured):
    assert measured["world_size"] == 2 and measured["buckets"] >= 3
    # BatchNorm's parameters and every conv/linear gradient are ready before backward ends: all buckets start
    # inside backward, on every step
    assert measured["launched_in_backward"] == [measured["buckets"]] * 4


def test_overlapped_training_is_the_blocking_training(measured):
    assert measured["moved"] > 1e-3  # the steps did change the parameters
    assert measured["overlap_equals_blocking"] == 1.0
    assert measured["ranks_identical"] == 1.0
