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
a block of code that would otherwise catch the exception itself (the command line's error boundary); there a
user error (:class:`~cvprimer.errors.UserError`) is one line and Ctrl-C one line and status 130, never a
traceback.

User errors found before training are *agreed* instead (:func:`agreed`): every rank runs the same checks, then
one ``allgather`` tells every rank whether any rank failed, and if one did every rank raises the same
:class:`AgreedError` (the lowest failing rank's message); the command line prints it once, on rank 0, and every
rank exits with the same status, without ``MPI_Abort``. :func:`check_same_settings` is such a check: every rank
must have been given the same configuration (``mpiexec -n 1 ... : -n 1 ...`` can give ranks different ones,
which would otherwise hang in the first collective that one rank never reaches).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
import traceback
from collections.abc import Iterator
from typing import Any

import numpy as np

from cvprimer.errors import UserError

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

    def dup(self) -> Communicator:
        """A communicator over the same ranks whose collectives never match this one's (``MPI_Comm_dup``; every
        rank must call it, in the same order as its other collectives). A library that starts nonblocking
        collectives of its own (the trainer's overlapped gradient all-reduce) works on a duplicate, so a
        collective the caller left pending on the original cannot be paired with one of its own. It has its
        own :attr:`stats`; :meth:`free` releases it. One process: a new single-process communicator."""
        return Communicator(None if self.mpi_comm is None else self.mpi_comm.Dup())

    def free(self) -> None:
        """Release a communicator made by :meth:`dup` (``MPI_Comm_free``; collective); it is single-process after."""
        if self.mpi_comm is not None:
            self.mpi_comm.Free()
        self.mpi_comm, self.rank, self.world_size = None, 0, 1

    def abort(self, code: int = 1) -> None:
        """End every rank of the job now (``MPI_Abort``); in a single process, exit with ``code``. With several
        ranks, what this rank wrote is flushed and given ``ABORT_GRACE_S`` to reach ``mpiexec`` first: the abort
        kills the processes that forward the ranks' output, and on a busy machine a last line written just before
        it was seen lost (the job ended with the right status and an empty stderr)."""
        sys.stdout.flush()
        sys.stderr.flush()
        if self.world_size > 1:
            time.sleep(ABORT_GRACE_S)
            self.mpi_comm.Abort(code)
        os._exit(code)  # pragma: no cover - Abort does not return


_WORLD: Communicator | None = None
#: seconds a rank waits between flushing its last words and MPI_Abort (see Communicator.abort)
ABORT_GRACE_S = 0.3


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
        if isinstance(exc, KeyboardInterrupt):  # Ctrl-C: one line, no traceback
            _say(comm, f"interrupted (Ctrl-C); ending all {comm.world_size} ranks")
            comm.abort(130)
        _report(comm, exc)
        comm.abort(1)

    sys.excepthook = hook


class AgreedError(UserError):
    """A user error that every rank of the job raised together (see :func:`agreed`): the command line prints it on
    rank 0 only (``silent`` elsewhere) and every rank exits with ``status``."""

    def __init__(self, message: str, rank: int = 0, status: int = 2) -> None:
        super().__init__(message)
        self.rank, self.status, self.silent = rank, status, rank != 0


@contextlib.contextmanager
def agreed(comm: Communicator, catch: tuple[type[BaseException], ...] = (UserError, ValueError)) -> Iterator[None]:
    """Run the block on every rank, then agree on its outcome: if the block raised one of ``catch`` on any rank,
    every rank raises :class:`AgreedError` with the message of the lowest such rank (prefixed ``rank r:`` when
    that is not rank 0). The block must not itself call collectives that a failing rank would skip. With one
    rank the block's exception propagates unchanged. Costs one ``allgather`` of a short string."""
    failure: str | None = None
    try:
        yield
    except catch as e:
        if comm.world_size == 1:
            raise
        failure = str(e) or type(e).__name__
    if comm.world_size == 1:
        return
    t0 = time.perf_counter()
    outcomes = comm.mpi_comm.allgather(failure)
    comm.stats["comm_time"] += time.perf_counter() - t0
    bad = [(r, m) for r, m in enumerate(outcomes) if m is not None]
    if bad:
        r, m = bad[0]
        raise AgreedError(m if r == 0 else f"rank {r}: {m}", rank=comm.rank) from None


def check_same_settings(comm: Communicator, settings: dict[str, Any], what: str = "settings") -> None:
    """Raise ``ValueError`` on every rank alike unless every rank passed the same ``settings`` (a dict of
    JSON-able values, e.g. the parsed command line). One ``allgather`` of a 32-byte SHA-256 of the canonical JSON;
    only when they differ are the settings gathered to name the first differing key and its values."""
    if comm.world_size == 1:
        return
    import json

    text = json.dumps(settings, sort_keys=True, default=str)
    digests = comm.allgather(np.frombuffer(hashlib.sha256(text.encode()).digest(), np.uint8))
    differ = [r for r in range(comm.world_size) if not np.array_equal(digests[r], digests[0])]
    if not differ:
        return
    everyone = comm.mpi_comm.allgather(settings)
    keys = sorted(set().union(*everyone), key=str)
    diff = next((k for k in keys if any(d.get(k) != everyone[0].get(k) for d in everyone)), None)
    detail = ""
    if diff is not None:
        values = ", ".join(f"rank {r}: {d.get(diff)!r}" for r, d in enumerate(everyone) if r in (0, *differ))
        detail = f" ({diff}: {values})"
    raise ValueError(f"the {comm.world_size} ranks were not given the same {what}: rank(s) "
                     f"{', '.join(map(str, differ))} differ from rank 0{detail}; give every rank the same command")


def _say(comm: Communicator, line: str) -> None:
    sys.stderr.write(f"[rank {comm.rank}/{comm.world_size}] {line}\n")
    sys.stderr.flush()


@contextlib.contextmanager
def abort_on_error(comm: Communicator | None = None, code: int = 1) -> Iterator[None]:
    """Within the block, an exception on one rank (of several) prints it and aborts every rank.

    With one rank the exception propagates unchanged (the caller's error handling applies).
    ``SystemExit(0)`` is let through, and so is :class:`AgreedError` (every rank raised it: no abort is needed,
    the command line prints it once). A :class:`~cvprimer.errors.UserError` found by one rank alone is one line
    (no traceback) and ends the job with status 2; Ctrl-C is one line (from rank 0; another rank first gives it a
    second, in case rank 0 waits inside an MPI call) and ends the job with status 130.
    """
    comm = comm or world()
    try:
        yield
    except AgreedError:
        raise
    except SystemExit as e:
        if comm.world_size > 1 and e.code not in (0, None):
            _report(comm, e)
            comm.abort(code)
        raise
    except BaseException as e:
        if comm.world_size == 1:
            raise
        if isinstance(e, KeyboardInterrupt):
            if not comm.is_main:  # rank 0 usually says it and ends the job meanwhile (its abort waits only
                time.sleep(1.0)   # ABORT_GRACE_S), not when it waits inside MPI
            _say(comm, f"interrupted (Ctrl-C); ending all {comm.world_size} ranks")
            comm.abort(130)
        if isinstance(e, UserError):
            _say(comm, f"{e}; ending all {comm.world_size} ranks")
            comm.abort(2)
        _report(comm, e)
        comm.abort(code)
