"""DataLoader, samplers and stratified splits."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvprimer.data import (
    ArrayDataset,
    DataLoader,
    RandomSampler,
    TrainSplit,
    WeightedRandomSampler,
    split_arrays,
    stratified_split,
)
from cvprimer.data.augment import Compose, GaussianNoise, RandomHorizontalFlip


def _ds(n=23, c=1, hw=3, seed=0):
    rng = np.random.default_rng(seed)
    return ArrayDataset(rng.random((n, c, hw, hw)).astype(np.float32), rng.integers(0, 4, n))


def test_sequential_batches_and_drop_last():
    ds = _ds()
    batches = list(DataLoader(ds, batch_size=5))
    assert [b[0].shape[0] for b in batches] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), ds.labels)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), ds.images)
    loader = DataLoader(ds, batch_size=5, drop_last=True)
    assert len(loader) == 4 and [b[0].shape[0] for b in loader] == [5] * 4


def test_shuffle_each_index_once_and_epochs_differ():
    ds = ArrayDataset(np.arange(23, dtype=np.float32).reshape(23, 1, 1, 1), np.arange(23))
    loader = DataLoader(ds, batch_size=4, shuffle=True, rng=np.random.default_rng(5))
    e1 = np.concatenate([y for _, y in loader])
    e2 = np.concatenate([y for _, y in loader])
    assert sorted(e1) == list(range(23)) and sorted(e2) == list(range(23))
    assert not np.array_equal(e1, e2)


@pytest.mark.parametrize("prefetch", [1, 2])
def test_prefetch_is_deterministic(prefetch):
    ds = _ds(n=40, c=3, hw=6)
    t = Compose([RandomHorizontalFlip(0.5), GaussianNoise(0.1)])
    ref = list(DataLoader(ds, batch_size=7, shuffle=True, rng=11, transform=t, prefetch=0))
    got = list(DataLoader(ds, batch_size=7, shuffle=True, rng=11, transform=t, prefetch=prefetch))
    assert len(ref) == len(got) == 6
    for (xa, ya), (xb, yb) in zip(ref, got, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(ref[0][0], ds.images[np.sort(ref[0][1])])  # the transform did something


def test_batch_level_transform_gives_soft_labels():
    from cvprimer.data.augment import CutMix

    ds = _ds(n=12, c=3, hw=8)
    (x, y), = list(DataLoader(ds, batch_size=12, transform=CutMix(num_classes=4), rng=0, prefetch=1))
    assert x.shape == (12, 3, 8, 8) and y.shape == (12, 4)
    np.testing.assert_allclose(y.sum(1), 1.0)


def test_prefetch_propagates_errors_and_early_break():
    class Boom:
        def __len__(self):
            return 6

        def __getitem__(self, i):
            if i == 4:
                raise RuntimeError("bad sample 4")
            return np.zeros((1, 2, 2), np.float32), 0

    with pytest.raises(RuntimeError, match="bad sample 4"):
        list(DataLoader(Boom(), batch_size=2, prefetch=2))
    loader = DataLoader(_ds(n=50), batch_size=2, prefetch=1)
    for k, _ in enumerate(loader):
        if k == 1:
            break  # the producer thread must stop instead of hanging


def test_generic_dataset_is_stacked():
    class Squares:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.full((1, 2, 2), i, np.float32), i * i

    (x, y), = list(DataLoader(Squares(), batch_size=5))
    assert x.shape == (5, 1, 2, 2)
    np.testing.assert_array_equal(y, [0, 1, 4, 9, 16])


def test_loader_errors():
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(_ds(), batch_size=0)
    with pytest.raises(ValueError, match="prefetch must be 0, 1 or 2"):
        DataLoader(_ds(), prefetch=3)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(_ds(), shuffle=True, sampler=RandomSampler(23))
    with pytest.raises(TypeError, match="expected a dataset"):
        DataLoader(42)


def test_weighted_sampler_frequencies():
    s = WeightedRandomSampler(np.array([1.0, 3.0, 0.0]), num_samples=40000)
    counts = np.bincount(s.indices(np.random.default_rng(0)), minlength=3)
    assert counts[2] == 0
    # binomial std of the fraction is sqrt(.25*.75/40000) ~ 0.002; 0.01 is five of them
    assert abs(counts[1] / 40000 - 0.75) < 0.01
    with pytest.raises(ValueError, match="non-negative finite weights"):
        WeightedRandomSampler(np.array([-1.0, 1.0]), 3)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 60), seed=st.integers(0, 2**31))
def test_random_sampler_covers_every_index_once(n, seed):
    idx = RandomSampler(n).indices(np.random.default_rng(seed))
    np.testing.assert_array_equal(np.sort(idx), np.arange(n))


@settings(max_examples=30, deadline=None)
@given(counts=st.lists(st.integers(1, 40), min_size=1, max_size=5), seed=st.integers(0, 1000))
def test_stratified_split_partitions_and_keeps_proportions(counts, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    y = y[np.random.default_rng(seed).permutation(y.size)]
    fr = (0.6, 0.25, 0.15)
    parts = stratified_split(y, fr, np.random.default_rng(seed))
    allidx = np.concatenate(parts)
    np.testing.assert_array_equal(np.sort(allidx), np.arange(y.size))  # each sample exactly once
    for part, f in zip(parts, fr, strict=True):
        per_class = np.bincount(y[part], minlength=len(counts))
        assert np.all(np.abs(per_class - np.array(counts) * f) < 1.0 + 1e-9)


def test_split_seeded_and_typed():
    rng = np.random.default_rng(0)
    x = rng.random((50, 1, 2, 2)).astype(np.float32)
    y = np.repeat([0, 1], [40, 10])
    a = split_arrays(x, y, (0.6, 0.2, 0.2), rng=3)
    b = split_arrays(x, y, (0.6, 0.2, 0.2), rng=3)
    np.testing.assert_array_equal(a.train.indices, b.train.indices)
    assert isinstance(a.train, TrainSplit) and not isinstance(a.val, TrainSplit)
    np.testing.assert_array_equal(np.bincount(a.val.labels), [8, 2])
    np.testing.assert_array_equal(a.test.images, x[a.test.indices])
    with pytest.raises(ValueError, match="sum to 1"):
        stratified_split(y, (0.5, 0.2))
    with pytest.raises(ValueError, match="50 samples but 49 labels"):
        split_arrays(x, y[:49])
