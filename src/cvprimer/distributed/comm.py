r"""The communicator: rank, world size and the few collectives data-parallel training needs, on MPI.

:func:`init` reads the MPI environment once (``mpiexec -n N python ...`` starts N copies of the
program; MPI gives each its rank ``0 <= r < N``) and returns the process-wide :class:`Communicator`.
Without a launcher it returns a one-process communicator whose collectives are identities (MPI is not
even initialised), so the same training code runs unchanged as one process.

Collectives used (MPI names; ``p`` = bytes of the buffer, ``N`` = ranks):

| call               | result on every rank                        | used for                          |
|--------------------|---------------------------------------------|-----------------------------------|
| ``allreduce_(buf)``| elementwise sum over ranks, in place        | gradients, metrics, SyncBN grads  |
| ``iallreduce_(buf)``| the same, started now, done at ``wait_all`` | gradient buckets during backward |
| ``allgather(a)``   | the ranks' arrays stacked, shape (N, *a)    | SyncBN's per-rank statistics      |
| ``bcast_(buf)``    | rank 0's buffer, in place                   | initial parameters, optimizer     |

A communicator counts the bytes it handed to ``Allreduce`` and the wall time spent inside collectives
(``stats``), which is what the benchmark reports as the communication share of a step.

Faults: with more than one rank, :func:`init` installs an exception hook that prints the failing rank's
traceback and calls ``MPI_Abort`` on ``COMM_WORLD``, so one rank's exception ends the whole job instead
of leaving the others blocked forever in their next collective. :func:`abort_on_error` does the same for
a block of code that would otherwise catch the exception itself (the command line's error boundary).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from collections.abc import Iterator
from typing import Any

import numpy as np

# environment variables set by MPI launchers (MPICH/Hydra and Intel MPI, Open MPI, PMIx, MVAPICH)
_LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS",
                  "MV2_COMM_WORLD_SIZE")


def launched_by_mpi() -> bool:
    """Whether this process was started by an MPI launcher (``mpiexec``/``mpirun``/``srun --mpi``)."""
    return any(v in os.environ for v in _LAUNCHER_VARS)


class Communicator:
    r"""Rank, world size and in-place collectives over NumPy buffers.

    Parameters
    ----------
    mpi_comm : an ``mpi4py.MPI.Comm`` (e.g. ``COMM_WORLD``), or None for a single process.

    Attributes
    ----------
    rank, world_size : int
    stats : dict with ``allreduce_calls``, ``allreduce_bytes`` (bytes of the buffers handed to Allreduce
        by this rank, i.e. the payload, not what the algorithm moves on the wire), ``comm_time`` (seconds
        spent inside collectives, waiting for the slowest rank included). :meth:`reset_stats` zeroes them.
    """

    def __init__(self, mpi_comm: Any = None) -> None:
        self.mpi_comm = mpi_comm
        self.rank = 0 if mpi_comm is None else int(mpi_comm.Get_rank())
        self.world_size = 1 if mpi_comm is None else int(mpi_comm.Get_size())
        self.stats: dict[str, float] = {}
        self.reset_stats()

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that logs and writes files."""
        return self.rank == 0

    def reset_stats(self) -> None:
        self.stats = {"allreduce_calls": 0, "allreduce_bytes": 0, "comm_time": 0.0}

    def __repr__(self) -> str:
        kind = "single process" if self.mpi_comm is None else "MPI"
        return f"Communicator(rank={self.rank}, world_size={self.world_size}, {kind})"

    @staticmethod
    def _check(op: str, buf: np.ndarray) -> None:
        if not isinstance(buf, np.ndarray) or not buf.flags.c_contiguous:
            raise ValueError(f"Communicator.{op}: expected a C-contiguous NumPy array, got "
                             f"{type(buf).__name__}{getattr(buf, 'shape', '')}")

    def allreduce_(self, buf: np.ndarray) -> np.ndarray:
        """Sum ``buf`` elementwise over all ranks, in place; returns ``buf``."""
        self._check("allreduce_", buf)
        self.stats["allreduce_calls"] += 1
        self.stats["allreduce_bytes"] += buf.nbytes
        if self.world_size > 1:
            from mpi4py import MPI

            t0 = time.perf_counter()
            self.mpi_comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            self.stats["comm_time"] += time.perf_counter() - t0
        return buf

    def iallreduce_(self, buf: np.ndarray) -> Any:
        """Start summing ``buf`` over all ranks, in place, and return at once (MPI ``Iallreduce``); the sum is
        in ``buf`` after :meth:`wait_all` on the returned request. Every rank must start its nonblocking
        collectives in the same order. With one rank the request is already complete (None)."""
        self._check("iallreduce_", buf)
        self.stats["allreduce_calls"] += 1
        self.stats["allreduce_bytes"] += buf.nbytes
        if self.world_size == 1:
            return None
        from mpi4py import MPI

        t0 = time.perf_counter()
        req = self.mpi_comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        self.stats["comm_time"] += time.perf_counter() - t0
        return req

    def test_all(self, requests: list[Any]) -> None:
        """Let the started collectives progress (MPI progresses a nonblocking collective only inside MPI
        calls; a test is ~1 us). Does not wait."""
        for r in requests:
            if r is not None:
                r.Test()

    def wait_all(self, requests: list[Any]) -> None:
        """Block until every request of :meth:`iallreduce_` has completed (the time counts as ``comm_time``)."""
        live = [r for r in requests if r is not None]
        if live:
            from mpi4py import MPI

            t0 = time.perf_counter()
            MPI.Request.Waitall(live)
            self.stats["comm_time"] += time.perf_counter() - t0

    def allgather(self, arr: np.ndarray) -> np.ndarray:
        """Every rank's ``arr`` (same shape and dtype everywhere), stacked: shape ``(world_size, *arr.shape)``."""
        arr = np.ascontiguousarray(arr)
        if self.world_size == 1:
            return arr[None].copy()
        out = np.empty((self.world_size, *arr.shape), arr.dtype)
        t0 = time.perf_counter()
        self.mpi_comm.Allgather(arr, out)
        self.stats["comm_time"] += time.perf_counter() - t0
        return out

    def bcast_(self, buf: np.ndarray, root: int = 0) -> np.ndarray:
        """Overwrite ``buf`` on every rank with rank ``root``'s, in place; returns ``buf``."""
        self._check("bcast_", buf)
        if self.world_size > 1:
            t0 = time.perf_counter()
            self.mpi_comm.Bcast(buf, root=root)
            self.stats["comm_time"] += time.perf_counter() - t0
        return buf

    def bcast_object(self, obj: Any, root: int = 0) -> Any:
        """Rank ``root``'s small Python object (metadata: keys, shapes, scalars) on every rank.
        Pickled between our own processes only; arrays go through :meth:`bcast_`."""
        return obj if self.world_size == 1 else self.mpi_comm.bcast(obj, root=root)

    def allreduce_scalars(self, values: list[float] | tuple[float, ...]) -> list[float]:
        """Sums over ranks of a few float64 scalars (one Allreduce), e.g. metric totals and counts."""
        buf = np.asarray(values, dtype=np.float64).copy()
        return self.allreduce_(buf).tolist()

    def barrier(self) -> None:
        if self.world_size > 1:
            self.mpi_comm.Barrier()

    def abort(self, code: int = 1) -> None:
        """End every rank of the job now (``MPI_Abort``); in a single process, exit with ``code``."""
        sys.stdout.flush()
        sys.stderr.flush()
        if self.world_size > 1:
            self.mpi_comm.Abort(code)
        os._exit(code)  # pragma: no cover - Abort does not return


_WORLD: Communicator | None = None


def init(use_mpi: bool | None = None) -> Communicator:
    """The process-wide communicator, created on the first call from the MPI environment.

    Parameters
    ----------
    use_mpi : True: initialise MPI (``mpi4py`` required; without a launcher MPI makes a one-rank world);
        False: a single process whatever the environment; None (default): MPI when the process was
        started by an MPI launcher (:func:`launched_by_mpi`), else a single process without touching MPI.
        A launched process without ``mpi4py`` is an error (N copies would each train alone and
        overwrite each other's files).

    Returns
    -------
    Communicator; with more than one rank the abort-on-exception hook is installed (module docstring).
    """
    global _WORLD
    if _WORLD is not None:
        return _WORLD
    comm = None
    if use_mpi or (use_mpi is None and launched_by_mpi()):
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise RuntimeError("distributed.init: this process was started by an MPI launcher (or MPI was "
                               "requested) but mpi4py is not installed; install it with "
                               "pip install -e \".[distributed]\" (adds mpi4py and mpich)") from e
        comm = MPI.COMM_WORLD
    _WORLD = Communicator(comm)
    if _WORLD.world_size > 1:
        install_abort_handler(_WORLD)
    return _WORLD


def world() -> Communicator:
    """The communicator made by :func:`init` (calling it if needed)."""
    return init()


def _report(comm: Communicator, exc: BaseException) -> None:
    head = f"[rank {comm.rank}/{comm.world_size}] "
    # the error itself first: MPI_Abort may cut the launcher's forwarding of whatever is written last
    text = [f"{type(exc).__name__}: {exc}"]
    text += "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip("\n").split("\n")
    text += [f"{type(exc).__name__}: {exc}", f"aborting all {comm.world_size} ranks (MPI_Abort)"]
    for line in text:  # one short write per line: the launcher then never splices two ranks' lines
        sys.stderr.write(head + line + "\n")
        sys.stderr.flush()
    time.sleep(0.2)  # give the launcher a moment to forward the lines before the abort tears it down


def install_abort_handler(comm: Communicator) -> None:
    """Make an uncaught exception on any rank print that rank's traceback and abort the whole job."""
    previous = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        if comm.world_size == 1:
            previous(exc_type, exc, tb)
            return
        _report(comm, exc)
        comm.abort(130 if isinstance(exc, KeyboardInterrupt) else 1)

    sys.excepthook = hook


@contextlib.contextmanager
def abort_on_error(comm: Communicator | None = None, code: int = 1) -> Iterator[None]:
    """Within the block, an exception on one rank (of several) prints it and aborts every rank.

    With one rank the exception propagates unchanged (the caller's error handling applies).
    ``SystemExit(0)`` is let through.
    """
    comm = comm or world()
    try:
        yield
    except SystemExit as e:
        if comm.world_size > 1 and e.code not in (0, None):
            _report(comm, e)
            comm.abort(code)
        raise
    except BaseException as e:
        if comm.world_size == 1:
            raise
        _report(comm, e)
        comm.abort(130 if isinstance(e, KeyboardInterrupt) else code)
