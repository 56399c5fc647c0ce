"""DistributedSampler: disjoint, covering, equal shards; the padding rule; strided batches equal the big batch."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvprimer.distributed import DistributedSampler, RankSeededTransform


def shards(n, w, seed=0, **kw):
    return [DistributedSampler(n, rank=r, world_size=w, **kw).indices(np.random.default_rng(seed)) for r in range(w)]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), w=st.integers(1, 7), seed=st.integers(0, 2**31))
def test_padded_shards_cover_with_equal_lengths(n, w, seed):
    parts = shards(n, w, seed)
    per = -(-n // w)
    assert all(len(p) == per == len(DistributedSampler(n, rank=r, world_size=w)) for r, p in enumerate(parts))
    allidx = np.concatenate(parts)
    assert set(allidx.tolist()) == set(range(n))  # covering
    # padding rule: the permutation is repeated cyclically to w * ceil(n / w) entries
    counts = np.bincount(allidx, minlength=n)
    assert counts.sum() == w * per and counts.max() - counts.min() <= 1


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 60), w=st.integers(1, 7), seed=st.integers(0, 2**31))
def test_unpadded_and_drop_last_are_disjoint(n, w, seed):
    parts = shards(n, w, seed, pad=False)
    assert sorted(np.concatenate(parts).tolist()) == list(range(n))  # disjoint and covering, uneven by <= 1
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    if n >= w:
        dl = np.concatenate(shards(n, w, seed, drop_last=True))
        assert len(dl) == n - n % w and len(set(dl.tolist())) == len(dl)


def test_rank_batches_together_are_the_big_batch():
    """Batch b of W ranks with batch B holds exactly the samples of batch b of one process with batch W B."""
    n, w, b = 37, 3, 4
    order = np.random.default_rng(5).permutation(n)
    parts = shards(n, w, seed=5)
    padded = np.resize(order, w * -(-n // w))
    for k in range(len(parts[0]) // b):
        union = np.concatenate([p[k * b:(k + 1) * b] for p in parts])
        assert sorted(union.tolist()) == sorted(padded[k * w * b:(k + 1) * w * b].tolist())


def test_docstring_example_and_errors():
    assert shards(5, 2, shuffle=False)[1].tolist() == [1, 3, 0]
    with pytest.raises(ValueError, match="rank"):
        DistributedSampler(10, rank=2, world_size=2)
    with pytest.raises(ValueError, match="3 ranks"):
        DistributedSampler(2, rank=0, world_size=3, drop_last=True)


def test_rank_seeded_transform_differs_by_rank_and_is_reproducible():
    def draw(batch, rng):
        return rng.random(3)

    a = RankSeededTransform(draw, 0)(None, np.random.default_rng(1))
    b = RankSeededTransform(draw, 1)(None, np.random.default_rng(1))
    assert not np.allclose(a, b)
    assert np.array_equal(a, RankSeededTransform(draw, 0)(None, np.random.default_rng(1)))
