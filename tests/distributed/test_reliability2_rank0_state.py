"""Issue 25, the two distributed faults that every earlier test let through (mpi_worker_rank0_state.py, under
``mpiexec -n 2`` with timeouts). Each check is also run against the fault planted on purpose, so the test is
shown to fail when the fault is there:

* only rank 0 writes checkpoints: the saved random-generator state is rank 0's (rank 1's stream is another one,
  and a rank 1 that wrote would write last);
* on resume rank 0's optimizer state is broadcast: with rank 1's local momentum changed after loading, every rank
  still ends with the parameters of the one-process resumed run.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from mpi_testing import run_mpi

from cvprimer.train.checkpoint import read_checkpoint

pytestmark = pytest.mark.skipif(shutil.which("mpiexec") is None, reason="needs mpiexec")


def _train(folder, out, fault=""):
    proc = run_mpi(["mpi_worker_rank0_state.py", "train", str(folder), str(out), *([fault] if fault else [])], n=2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads(open(f"{out}.r{r}.json", encoding="utf-8").read())["states"] for r in (0, 1)]
    saved = read_checkpoint(folder / "last.npz")[0]["rngs"]["default"]
    return saved, ranks


def _rank0_wrote(saved, ranks) -> bool:
    assert ranks[0][-1] != ranks[1][-1]  # the ranks' streams differ, so the saved state tells who wrote
    return saved == ranks[0][-1]


def test_only_rank_0_writes_checkpoints(tmp_path):
    saved, ranks = _train(tmp_path / "ok", tmp_path / "ok")
    assert _rank0_wrote(saved, ranks)
    saved, ranks = _train(tmp_path / "bad", tmp_path / "bad", fault="all_ranks_write")
    assert not _rank0_wrote(saved, ranks) and saved == ranks[1][-1]  # the planted fault is caught


def _resume(src, dst, out, n, fault=""):
    shutil.copytree(src, dst)
    proc = run_mpi(["mpi_worker_rank0_state.py", "resume", str(dst), str(out), *([fault] if fault else [])], n=n)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [np.array(json.loads(open(f"{out}.r{r}.json", encoding="utf-8").read())["params"]) for r in range(n)]


def _agree(params, ref) -> bool:
    return all(np.allclose(p, ref, rtol=1e-10, atol=1e-12) for p in params)


def test_rank_0s_optimizer_state_is_broadcast_on_resume(tmp_path):
    _train(tmp_path / "run", tmp_path / "train")
    (ref,) = _resume(tmp_path / "run", tmp_path / "one", tmp_path / "one", n=1)  # one process: no drift possible
    got = _resume(tmp_path / "run", tmp_path / "two", tmp_path / "two", n=2)
    assert _agree(got, ref)
    bad = _resume(tmp_path / "run", tmp_path / "skip", tmp_path / "skip", n=2, fault="skip_bcast")
    assert not _agree(bad, ref)  # the planted fault (no broadcast) is caught
    assert np.abs(bad[1] - ref).max() > 1e-4
