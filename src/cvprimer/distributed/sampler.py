r"""``DistributedSampler``: each rank's share of every epoch's shuffled indices.

Every rank draws the SAME permutation of ``0..n-1`` (from its loader's generator, which every rank
seeds alike; the sampler checks this), then keeps every ``W``-th index starting at its rank::

    order   = permutation(n)                      (identical on all W ranks)
    padded  = order extended cyclically to T = W * ceil(n / W) entries       (pad=True, default)
    shard_r = padded[r], padded[r + W], padded[r + 2W], ...                   (T / W indices)

So the shards are disjoint (up to the ``T - n < W`` padded repeats), cover every index each epoch, and
have equal lengths, which keeps the ranks' step counts equal (a rank with one batch fewer would leave
the others waiting in an all-reduce for ever). ``drop_last=True`` drops the last ``n mod W`` indices of
the permutation instead of padding; ``pad=False`` gives uneven shards (lengths differ by at most one)
and is meant for evaluation, where sums and counts are reduced rather than per-step all-reduces.

Why strided and not contiguous shards: with a per-rank batch of B, batch ``b`` of the W ranks together
holds ``order[b W B : (b+1) W B]`` (in a different order), exactly the samples of batch ``b`` of one
process with batch ``W B``. That is what makes the equivalence "W ranks x batch B == 1 process x batch WB"
hold sample for sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class DistributedSampler:
    r"""Shard of the epoch's index order for one rank (see the module docstring).

    Parameters
    ----------
    n : dataset length
    comm : :class:`~cvprimer.distributed.Communicator` (default: the world); its rank and size are used
        unless ``rank`` / ``world_size`` are given (tests, or sharding without MPI)
    shuffle : a new permutation each epoch (from the loader's generator) or ``0..n-1``
    drop_last : drop the tail ``n mod W`` indices instead of padding
    pad : with ``drop_last=False``, repeat indices from the start so every shard has ``ceil(n / W)``
        entries (default); False: uneven shards, for evaluation

    Example
    -------
    >>> import numpy as np
    >>> s0 = DistributedSampler(5, rank=0, world_size=2, shuffle=False)
    >>> s1 = DistributedSampler(5, rank=1, world_size=2, shuffle=False)
    >>> s0.indices(np.random.default_rng(0)).tolist(), s1.indices(np.random.default_rng(0)).tolist()
    ([0, 2, 4], [1, 3, 0])
    """

    def __init__(self, n: int, comm: Any = None, rank: int | None = None, world_size: int | None = None,
                 shuffle: bool = True, drop_last: bool = False, pad: bool = True) -> None:
        if rank is None or world_size is None:
            from cvprimer.distributed.comm import world

            comm = comm or world()
            rank = comm.rank if rank is None else rank
            world_size = comm.world_size if world_size is None else world_size
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"DistributedSampler: need 0 <= rank < world_size, got rank {rank}, "
                             f"world_size {world_size}")
        if n < 1 or (drop_last and n < world_size):
            raise ValueError(f"DistributedSampler: dataset of {n} samples cannot be shared by {world_size} ranks "
                             f"(drop_last={drop_last}); expected at least {world_size if drop_last else 1}")
        self.n, self.rank, self.world_size = int(n), int(rank), int(world_size)
        self.comm = comm
        self.shuffle, self.drop_last, self.pad = shuffle, drop_last, pad

    def __len__(self) -> int:
        n, w = self.n, self.world_size
        if self.drop_last:
            return n // w
        if self.pad:
            return -(-n // w)
        return len(range(self.rank, n, w))

    def indices(self, rng: np.random.Generator) -> np.ndarray:
        """This rank's indices for one epoch (draws the shared permutation from ``rng``)."""
        order = rng.permutation(self.n).astype(np.int64) if self.shuffle else np.arange(self.n, dtype=np.int64)
        if self.shuffle and self.comm is not None and self.comm.world_size > 1:
            self._check_same(order)
        w = self.world_size
        if self.drop_last:
            order = order[: self.n - self.n % w]
        elif self.pad:
            order = np.resize(order, w * -(-self.n // w))  # cyclic repeat: works even when w > n
        return order[self.rank::w].copy()

    def _check_same(self, order: np.ndarray) -> None:
        """Compare a fingerprint of the permutation across ranks (one small Allgather)."""
        head = np.zeros(8, np.int64)
        head[: min(8, order.size)] = order[:8]
        seen = self.comm.allgather(head)
        if not (seen == seen[0]).all():
            raise ValueError("DistributedSampler: the ranks drew different permutations (their loaders' generators "
                             "differ); build every rank's DataLoader with the same rng seed")


class RankSeededTransform:
    r"""Wrap a batch transform so each rank draws its own augmentation parameters.

    The loader hands batch ``b`` the generator ``default_rng([seed, b])``, with ``seed`` identical on
    every rank (it comes from the shared generator), so without this wrapper rank 0's and rank 1's
    ``b``-th batches would get the same random crops and flips. The wrapper derives
    ``default_rng([draw, rank])`` from it: still reproducible from the run's seed, different per rank.
    """

    def __init__(self, transform: Any, rank: int) -> None:
        self.transform, self.rank = transform, int(rank)

    def __call__(self, batch: Any, rng: np.random.Generator) -> Any:
        sub = np.random.default_rng([int(rng.integers(0, 2**63 - 1)), self.rank])
        return self.transform(batch, rng=sub)

    def __repr__(self) -> str:
        return f"RankSeededTransform({self.transform!r}, rank={self.rank})"
