"""``run_mpi``: run a script under ``mpiexec -n N`` with a timeout, so a hang fails instead of blocking."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def run_mpi(args: list[str], n: int = 2, timeout: float = 120.0, cwd: str | None = None) -> subprocess.CompletedProcess:
    """``mpiexec -n n <args>`` (``args[0]`` a script in this folder or an executable), one BLAS thread per rank."""
    cmd = list(args)
    if cmd[0].endswith(".py"):
        cmd = [sys.executable, os.path.join(HERE, cmd[0]), *cmd[1:]]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        return subprocess.run(["mpiexec", "-n", str(n), *cmd], capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"mpiexec -n {n} {' '.join(cmd)} did not finish within {timeout} s (a hang?); stderr:\n"
                    f"{(e.stderr or b'')[-3000:]!r}")
