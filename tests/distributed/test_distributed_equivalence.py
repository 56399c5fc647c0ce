"""W = 2 ranks x batch B against one process x batch 2B (float64), run under mpiexec (mpi_worker_equivalence.py)."""

import json

import pytest
from mpi_testing import run_mpi


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    out = tmp_path_factory.mktemp("eq") / "eq.json"
    proc = run_mpi(["mpi_worker_equivalence.py", str(out)], n=2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_two_ranks_really_ran(measured):
    assert measured["world_size"] == 2


@pytest.mark.parametrize("tag", ["nobn", "syncbn"])
def test_one_step_equals_big_batch(measured, tag):
    """Averaged gradient and updated parameters (and SyncBN running statistics) match 1 x batch 2B."""
    assert measured[f"{tag}_grad_rel_err"] < 1e-13
    assert measured[f"{tag}_param_rel_err"] < 1e-13
    assert measured[f"{tag}_ranks_grad_identical"] == 1.0
    assert measured[f"{tag}_ranks_param_identical"] == 1.0


def test_plain_batch_norm_is_not_the_big_batch(measured):
    """Without SyncBatchNorm each rank normalizes by its own half-batch: a different gradient."""
    assert measured["plainbn_grad_rel_err"] > 1e-3


def test_question32_mean_of_rank_gradients(measured):
    """What is communicated is the mean of the per-rank gradients (sum / W). It is the big-batch gradient
    for a mean-reduced loss; for a sum-reduced loss the big-batch gradient is the SUM over ranks (= W x mean)."""
    assert measured["mean_loss_mean_vs_big"] < 1e-13
    assert measured["mean_loss_sum_vs_big"] == pytest.approx(1.0)  # twice the big-batch gradient
    assert measured["sum_loss_mean_vs_big"] == pytest.approx(0.5)  # half of it
    assert measured["sum_loss_sum_vs_big"] < 1e-13
    assert measured["sum_loss_mean_times_W_vs_big"] < 1e-13


def test_optimizer_state_broadcast_from_rank0(measured):
    assert measured["optimizer_state_sizes_equal"] == 1.0
    assert measured["optimizer_state_identical"] == 1.0


def test_trainer_epochs_bit_identical_and_equal_to_one_process(measured):
    """Three epochs of Trainer(distributed=...) with SyncBatchNorm and Adam: ranks bit-identical; parameters
    and the reduced metrics (train and validation) match one process with the global batch."""
    assert measured["trainer_ranks_bit_identical"] == 1.0
    assert measured["trainer_param_rel_err"] < 1e-9
    assert measured["trainer_metric_abs_err"] < 1e-9
