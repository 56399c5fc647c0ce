r"""How a training run is spread over processes: the strategy object the :class:`~cvprimer.train.Trainer` holds.

The Trainer runs one loop and asks its strategy at the few points where data-parallel training differs from one
process; it never asks which process it is. The hooks, in the order of a run:

====================  =====================================  ===================================================
hook                  :class:`SingleProcess`                 :class:`DataParallelStrategy` (W ranks)
====================  =====================================  ===================================================
``local_batch(B)``    ``B``                                  ``B / W`` (``B`` is the GLOBAL batch)
``sampler(n)``        None (the loader shuffles)             :class:`~cvprimer.distributed.DistributedSampler`
``rank_transform(t)`` ``t``                                  :class:`~cvprimer.distributed.RankSeededTransform`
``prepare_model(m)``  ``m``                                  batch norms made
                                                             :class:`~cvprimer.distributed.SyncBatchNorm`
``start(m, opt)``     nothing                                rank 0's parameters, buffers and optimizer state
                                                             broadcast (so a resume from rank 0's file reaches
                                                             every rank); each rank's default generator on its own
                                                             stream; the gradient reducer built (on its own
                                                             duplicate of the communicator)
``backward(loss, s)`` ``loss.backward()``                    the same; when ``s`` (an update follows) the gradient
                                                             buckets start their all-reduce as backward fills them
``reduce_gradients``  nothing                                every ``p.grad`` := mean over ranks, before the clip and
                                                             the step: g = (1/W) sum_r g_r
``reduce_sums(v)``    ``v``                                  ``v`` summed over the ranks (loss/accuracy sums, counts)
``sync_buffers(m)``   nothing                                rank 0's buffers (BN running statistics) everywhere
``is_main``           True                                   rank 0 only: it prints and writes checkpoints
``stops_alone``       True: Ctrl-C ends the loop cleanly     only with W = 1 (one rank stopping would leave the
                                                             others waiting in a collective: the job is aborted)
``barrier()``         nothing                                every rank waits for the others
``end()``             nothing                                the gradient hooks removed
====================  =====================================  ===================================================

With a mean-reduced loss and equal shards the mean of the ranks' gradients is the gradient of the mean loss over
the ``W x B/W`` samples, so a step is one process's step on the global batch (see :mod:`cvprimer.distributed.parallel`).

Example
-------
>>> from cvprimer.train.strategy import SingleProcess, make_strategy
>>> s = make_strategy(None)
>>> isinstance(s, SingleProcess), s.is_main, s.local_batch(64), s.reduce_sums([1.0, 2.0])
(True, True, 64, [1.0, 2.0])
"""

from __future__ import annotations

from typing import Any

from cvprimer.core.random import default_generator


class SingleProcess:
    """One process: every hook is the identity or a no-op (the table in the module docstring)."""

    is_main: bool = True
    world_size: int = 1

    @property
    def stops_alone(self) -> bool:
        """Whether Ctrl-C may end this process's loop cleanly (nobody waits for it)."""
        return self.world_size == 1

    # -- data and model, before training --------------------------------------------------------------
    def local_batch(self, global_batch: int) -> int:
        """Samples this process loads per step for a global batch of ``global_batch``."""
        return global_batch

    def sampler(self, n: int, shuffle: bool = True, pad: bool = True) -> Any:
        """This process's share of ``n`` samples (None: all of them, the loader's own order)."""
        return None

    def rank_transform(self, transform: Any) -> Any:
        """The augmentation this process applies (its random draws its own)."""
        return transform

    def prepare_model(self, model: Any) -> Any:
        """The model as trained here (data parallel: batch norms over every rank's samples)."""
        return model

    # -- the fit -------------------------------------------------------------------------------------
    def start(self, model: Any, optimizer: Any) -> None:
        """Called once per ``fit``, after any resume, before the first batch."""

    def end(self) -> None:
        """Called when ``fit`` ends, however it ends."""

    def backward(self, loss: Any, will_step: bool) -> None:
        """``loss.backward()``; ``will_step``: an optimizer step follows this backward (the last of an
        accumulation)."""
        loss.backward()

    def reduce_gradients(self) -> None:
        """Make the gradients the ones every process steps with (after backward, before the clip and step)."""

    def reduce_sums(self, values: list[Any]) -> list[Any]:
        """Per-process sums (losses, counts: floats and ints) made totals over every process (floats when
        reduced)."""
        return list(values)

    def sync_buffers(self, model: Any) -> None:
        """Make the model's buffers (batch-norm running statistics) the same on every process."""

    def barrier(self) -> None:
        """Wait until every process gets here."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class DataParallelStrategy(SingleProcess):
    r"""Data-parallel training over the ranks of a :class:`~cvprimer.distributed.Communicator` (see the module
    docstring's table).

    Parameters
    ----------
    comm : the communicator (``cvprimer.distributed.init()`` under ``mpiexec -n W``)
    overlap : True (default): gradient buckets of ``bucket_bytes`` start a nonblocking all-reduce during backward as
        they fill (:class:`~cvprimer.distributed.parallel.OverlappedReducer`, as PyTorch's DDP), and
        :meth:`reduce_gradients` only completes them; False: one blocking bucketed all-reduce after backward
        (:class:`~cvprimer.distributed.GradientReducer`). Both give the same numbers. With gradient accumulation
        only the backward before a step is overlapped (DDP's ``no_sync`` for the others).
    bucket_bytes : bucket size for ``overlap`` (default 256 KiB)
    """

    def __init__(self, comm: Any, overlap: bool = True, bucket_bytes: int | None = None) -> None:
        from cvprimer.distributed.comm import Communicator

        if not isinstance(comm, Communicator):
            raise TypeError(f"DataParallelStrategy: expected a cvprimer.distributed.Communicator, got "
                            f"{type(comm).__name__}")
        self.comm = comm
        self.overlap = bool(overlap)
        self.bucket_bytes = bucket_bytes
        self.is_main = comm.is_main
        self.world_size = comm.world_size
        self._blocking: Any = None
        self._overlapped: Any = None
        self._grad_comm: Any = None

    def local_batch(self, global_batch: int) -> int:
        if global_batch % self.world_size:
            raise ValueError(f"DataParallelStrategy: the global batch {global_batch} is not a multiple of the "
                             f"{self.world_size} ranks")
        return global_batch // self.world_size

    def sampler(self, n: int, shuffle: bool = True, pad: bool = True) -> Any:
        from cvprimer.distributed import DistributedSampler

        return DistributedSampler(n, self.comm, shuffle=shuffle, pad=pad)

    def rank_transform(self, transform: Any) -> Any:
        from cvprimer.distributed import RankSeededTransform

        return RankSeededTransform(transform, self.comm.rank) if transform is not None else None

    def prepare_model(self, model: Any) -> Any:
        if self.world_size == 1:
            return model
        from cvprimer.distributed import convert_sync_batchnorm

        return convert_sync_batchnorm(model, self.comm)

    def start(self, model: Any, optimizer: Any) -> None:
        from cvprimer.distributed.parallel import (
            DEFAULT_OVERLAP_BUCKET_BYTES,
            GradientReducer,
            OverlappedReducer,
            broadcast_module,
            broadcast_optimizer,
            rank_generator_,
        )

        self.end()  # a second fit on the same strategy: the first one's hooks go
        broadcast_module(model, self.comm)
        broadcast_optimizer(optimizer, self.comm)
        rank_generator_(default_generator(), self.comm)  # dropout masks differ across ranks
        self._blocking = GradientReducer(model.parameters(), self.comm)
        if self.overlap and self.world_size > 1:
            # nonblocking collectives on a communicator of their own: one the caller left pending on ``comm``
            # (a rank-0-only backward through an armed DataParallel, say) can never be paired with them. Made
            # once, kept for the strategy's life (freeing is collective: not on the way out of a failed fit)
            if self._grad_comm is None:
                self._grad_comm = self.comm.dup()
            self._overlapped = OverlappedReducer(self._blocking.params, self._grad_comm,
                                                 self.bucket_bytes or DEFAULT_OVERLAP_BUCKET_BYTES)

    def end(self) -> None:
        if self._overlapped is not None:
            self._overlapped.remove_hooks()
            self._overlapped = None

    def backward(self, loss: Any, will_step: bool) -> None:
        if will_step and self._overlapped is not None:
            self._overlapped.arm()
        loss.backward()

    def reduce_gradients(self) -> None:
        if self._overlapped is not None:
            self._overlapped.finish("mean")
        elif self._blocking is not None:
            self._blocking("mean")

    def reduce_sums(self, values: list[Any]) -> list[Any]:
        return list(self.comm.allreduce_scalars(list(values)))

    def sync_buffers(self, model: Any) -> None:
        from cvprimer.distributed.parallel import broadcast_buffers

        broadcast_buffers(model, self.comm)

    def barrier(self) -> None:
        self.comm.barrier()

    def __repr__(self) -> str:
        return f"DataParallelStrategy({self.comm!r}, overlap={self.overlap})"


def make_strategy(distributed: Any = None) -> SingleProcess:
    """The strategy for the Trainer's ``distributed`` argument: None/False -> :class:`SingleProcess`; True -> data
    parallel over the MPI world (:func:`cvprimer.distributed.init`); a Communicator -> data parallel over it; a
    strategy -> itself."""
    if isinstance(distributed, SingleProcess):
        return distributed
    if distributed is None or distributed is False:
        return SingleProcess()
    if distributed is True:
        from cvprimer.distributed.comm import init

        return DataParallelStrategy(init())
    return DataParallelStrategy(distributed)
