r"""Data-parallel training on MPI (mpi4py): ``mpiexec -n N python train.py`` runs N copies in lock-step.

- :func:`init` / :class:`Communicator`: rank and world size from the MPI environment (one process
  without a launcher), the collectives, and abort-on-exception so a failing rank never leaves the
  others hanging;
- :class:`DistributedSampler`: each rank's disjoint share of every epoch's shuffled indices;
- :class:`DataParallel`, :class:`GradientReducer`, :func:`allreduce_gradients`: the mean of the
  gradients over ranks in one bucketed ``Allreduce``; :func:`broadcast_module`,
  :func:`broadcast_optimizer`: rank 0's initial state everywhere;
- :class:`SyncBatchNorm`, :func:`convert_sync_batchnorm`: batch statistics over all ranks;
- :func:`bytes_per_step`: what a step communicates; :func:`measure_step`: a short timed run on N ranks.

The trainer holds a :class:`cvprimer.train.strategy.DataParallelStrategy` built on these
(``Trainer(..., distributed=True)``; ``cvprimer train --distributed`` uses it); see
``docs/distributed.md`` for the design, the cost model and where scaling stops.
"""

from cvprimer.distributed.comm import Communicator, abort_on_error, init, launched_by_mpi, world  # noqa: F401
from cvprimer.distributed.measure import measure_step  # noqa: F401
from cvprimer.distributed.parallel import (  # noqa: F401
    DataParallel,
    GradientReducer,
    allreduce_gradients,
    broadcast_buffers,
    broadcast_module,
    broadcast_optimizer,
    bytes_per_step,
    rank_generator_,
)
from cvprimer.distributed.sampler import DistributedSampler, RankSeededTransform  # noqa: F401
from cvprimer.distributed.sync_batch_norm import SyncBatchNorm, convert_sync_batchnorm, sync_batch_norm  # noqa: F401
