"""DataLoader with PyTorch's arguments: Tensors out (values equal to torch's DataLoader), worker processes
that give exactly the batches of num_workers=0, a worker's exception raised again with its traceback,
workers stopped on break, and the torch.utils.data samplers/datasets/random_split."""

import gc
import multiprocessing as mp
import os

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import cvprimer as cp
from cvprimer.data import (
    ArrayDataset,
    BatchSampler,
    ConcatDataset,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    Subset,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    get_worker_info,
    random_split,
)
from cvprimer.data.augment import RandomHorizontalFlip

R = np.random.default_rng(0)
X = R.standard_normal((23, 1, 4, 4)).astype(np.float32)
Y = R.integers(0, 3, 23)


def _ours_vs_torch(ours, theirs):
    a, b = list(ours), list(theirs)
    assert len(a) == len(b) == len(ours) == len(theirs)
    for (x, y), (xt, yt) in zip(a, b, strict=True):
        assert isinstance(x, cp.Tensor) and isinstance(y, cp.Tensor)
        np.testing.assert_array_equal(x.data, xt.numpy())
        np.testing.assert_array_equal(y.data, yt.numpy())
        assert x.dtype == xt.numpy().dtype and y.dtype == yt.numpy().dtype


@pytest.mark.parametrize("kw", [dict(batch_size=5), dict(batch_size=5, drop_last=True), dict(batch_size=30)])
def test_tensors_out_equal_to_torch(kw):
    _ours_vs_torch(DataLoader(TensorDataset(X, Y), **kw, pin_memory=True),
                   tud.DataLoader(tud.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)), **kw))


def test_batch_sampler_and_collate_fn_as_torch():
    batches = [[3, 1], [0, 5, 7], [22]]

    def collate(samples):  # receives the dataset's samples, its result is yielded as is
        return [int(y) for _, y in samples]

    ours = list(DataLoader(TensorDataset(X, Y), batch_sampler=batches, collate_fn=collate))
    theirs = list(tud.DataLoader(tud.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)), batch_sampler=batches,
                                 collate_fn=collate))
    assert ours == theirs
    _ours_vs_torch(DataLoader(ArrayDataset(X, Y), batch_sampler=batches),
                   tud.DataLoader(tud.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)), batch_sampler=batches))


def test_default_collate_matches_torch_on_nested_samples():
    samples = [{"x": X[i, 0], "n": i, "f": 0.5 * i, "pair": (X[i, 0, 0], int(Y[i]))} for i in range(4)]
    ours, theirs = default_collate(samples), tud.default_collate(samples)
    assert set(ours) == set(theirs)
    for k in ("x", "n", "f"):
        np.testing.assert_array_equal(ours[k], theirs[k].numpy())
        assert ours[k].dtype == theirs[k].numpy().dtype
    for a, b in zip(ours["pair"], theirs["pair"], strict=True):
        np.testing.assert_array_equal(a, b.numpy())


def _epochs(loader, n=2):
    return [[(x.data.copy(), y.data.copy()) for x, y in loader] for _ in range(n)]


def _same(a, b):
    assert len(a) == len(b)
    for ea, eb in zip(a, b, strict=True):
        assert len(ea) == len(eb)
        for (x, y), (x2, y2) in zip(ea, eb, strict=True):
            np.testing.assert_array_equal(x, x2)
            np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize("persistent", [False, True])
def test_workers_give_the_batches_of_the_main_process(persistent):
    ds = ArrayDataset(X, Y)
    kw = dict(batch_size=4, shuffle=True, transform=RandomHorizontalFlip(0.5))
    ref = _epochs(DataLoader(ds, generator=7, **kw))
    loader = DataLoader(ds, generator=7, num_workers=2, persistent_workers=persistent, **kw)
    got = _epochs(loader)
    _same(ref, got)
    assert len(_loader_children()) == (2 if persistent else 0)  # persistent workers outlive the epoch
    assert not np.array_equal(ref[0][0][0], ref[1][0][0])  # the epochs differ (a fresh order each)
    loader.shutdown_workers()


class Boom:
    def __len__(self):
        return 12

    def __getitem__(self, i):
        if i == 7:
            raise KeyError(f"sample {i} is missing")
        return np.float32(i), i


def test_worker_exception_is_raised_with_the_worker_traceback():
    with pytest.raises(KeyError) as err:
        list(DataLoader(Boom(), batch_size=2, num_workers=2))
    text = str(err.value)
    assert "Caught KeyError in DataLoader worker process 1" in text  # batch 3 ([6, 7]) is worker 1's
    assert "Original Traceback" in text and 'raise KeyError(f"sample {i} is missing")' in text


def _loader_children():
    return [p for p in mp.active_children() if p.name.startswith("cvprimer-loader")]


def test_workers_stop_on_break_and_after_the_epoch():
    loader = DataLoader(ArrayDataset(X, Y), batch_size=2, num_workers=2)
    for _ in loader:
        assert len(_loader_children()) == 2
        break
    gc.collect()
    assert _loader_children() == []
    list(loader)
    assert _loader_children() == []


class WhoBuilt:
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return np.int64(info.id), np.int64(info.num_workers), np.int64(info.seed)


def test_worker_info_seeds_and_init_fn():
    seen = mp.get_context().Queue()
    loader = DataLoader(WhoBuilt(), batch_size=2, num_workers=2, generator=3, worker_init_fn=seen.put)
    batches = list(loader)
    assert [int(b[0].data[0]) for b in batches] == [0, 1, 0, 1]  # batch b from worker b % 2
    assert all(int(b[1].data[0]) == 2 for b in batches)
    seeds = {int(b[2].data[0]) - int(b[0].data[0]) for b in batches}
    assert len(seeds) == 1  # seed = base_seed + worker id, as in PyTorch
    assert sorted(seen.get(timeout=5) for _ in range(2)) == [0, 1]
    assert get_worker_info() is None


class Dies:
    def __len__(self):
        return 4

    def __getitem__(self, i):
        os._exit(3)


def test_a_dead_worker_is_reported():
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid \d+\) exited unexpectedly with exit code 3"):
        list(DataLoader(Dies(), batch_size=2, num_workers=1))


def test_spawn_start_method():
    ref = [(x.data, y.data) for x, y in DataLoader(ArrayDataset(X, Y), batch_size=6, shuffle=True, generator=1)]
    got = [(x.data, y.data) for x, y in DataLoader(ArrayDataset(X, Y), batch_size=6, shuffle=True, generator=1,
                                                   num_workers=1, multiprocessing_context="spawn")]
    _same([ref], [got])


@pytest.mark.parametrize("kw,msg", [
    (dict(num_workers=-1), "num_workers must be an int >= 0"),
    (dict(prefetch_factor=2), "prefetch_factor and persistent_workers need num_workers > 0"),
    (dict(batch_sampler=[[0]], batch_size=4), "batch_sampler is mutually exclusive"),
    (dict(shuffle=True, sampler=SequentialSampler(23)), "sampler and shuffle=True are mutually exclusive"),
    (dict(num_workers=1, prefetch=1), "prefetch \\(a background thread\\) is for num_workers=0"),
    (dict(rng=1, generator=1), "give generator or rng"),
])
def test_bad_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg):
        DataLoader(ArrayDataset(X, Y), **kw)


def test_samplers_iterate_like_torch():
    assert list(SequentialSampler(range(5))) == list(tud.SequentialSampler(range(5)))
    assert list(BatchSampler(SequentialSampler(7), 3, drop_last=False)) == \
        list(tud.BatchSampler(tud.SequentialSampler(range(7)), 3, drop_last=False))
    assert list(BatchSampler(range(7), 3, drop_last=True)) == list(tud.BatchSampler(range(7), 3, drop_last=True))
    perm = list(RandomSampler(range(9), generator=0))
    assert sorted(perm) == list(range(9)) and perm != list(range(9))
    assert len(list(RandomSampler(range(4), num_samples=10))) == 10 == len(tud.RandomSampler(range(4),
                                                                                           num_samples=10))
    w = list(WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 50, generator=1))
    assert set(w) == {1, 3} and len(w) == 50
    # a torch-style sampler (only __iter__ and __len__) drives the loader
    xs = [int(y.data[0]) for _, y in DataLoader(ArrayDataset(X, Y), sampler=tud.SequentialSampler(range(23)))]
    assert xs == Y.tolist()


def test_datasets_and_random_split_like_torch():
    ds, tds = TensorDataset(X, Y), tud.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
    for i in (0, 5, -1):
        np.testing.assert_array_equal(ds[i][0], tds[i][0].numpy())
    sub, tsub = Subset(ds, [4, 2, 9]), tud.Subset(tds, [4, 2, 9])
    assert len(sub) == len(tsub) and int(sub[1][1]) == int(tsub[1][1])
    cat, tcat = ConcatDataset([ds, sub]), tud.ConcatDataset([tds, tsub])
    assert len(cat) == len(tcat) and int(cat[24][1]) == int(tcat[24][1])
    for lengths in ([0.5, 0.3, 0.2], [0.34, 0.33, 0.33], [10, 13]):
        ours = random_split(ds, lengths, generator=0)
        theirs = tud.random_split(tds, lengths, generator=torch.Generator().manual_seed(0))
        assert [len(s) for s in ours] == [len(s) for s in theirs]
        assert sorted(np.concatenate([s.indices for s in ours]).tolist()) == list(range(23))
    with pytest.raises(ValueError, match="random_split: the lengths"):
        random_split(ds, [10, 10])
    # a Subset is gathered with one fancy index: its batches equal the rows it selects
    (x, y), = list(DataLoader(sub, batch_size=3))
    np.testing.assert_array_equal(x.data, X[[4, 2, 9]])
