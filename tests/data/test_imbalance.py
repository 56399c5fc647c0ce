"""Class weights, random under/over-sampling, SMOTE (geometry, counts, imbalanced-learn), samplers, guards."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvprimer.data import (
    ArrayDataset,
    ClassBalancedSampler,
    DataLoader,
    TrainSplit,
    class_weights,
    random_oversample,
    random_undersample,
    smote,
    split_arrays,
    weighted_sampler,
)


def _imbalanced(counts=(30, 8, 5), shape=(1, 3, 3), seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    x = (rng.random((y.size, *shape)) + y[:, None, None, None]).astype(np.float32)
    return x, y


def _on_segment(p, a, b, tol=1e-6):
    """Is p = a + u (b - a) for some u in [0, 1]?  Returns (ok, u)."""
    d = (b - a).ravel()
    denom = d @ d
    u = 0.0 if denom == 0 else float((p - a).ravel() @ d / denom)
    return (-tol <= u <= 1 + tol) and np.allclose(p.ravel(), (a + u * (b - a)).ravel(), atol=tol), u


def _check_smote_geometry(x, y, xs, ys, k, feats=None):
    n = y.size
    f = (x.reshape(n, -1) if feats is None else feats).astype(np.float64)
    for row in range(n, ys.size):
        c = ys[row]
        idx = np.flatnonzero(y == c)
        d = ((f[idx, None] - f[None, idx]) ** 2).sum(-1)
        np.fill_diagonal(d, np.inf)
        knn = np.argsort(d, axis=1, kind="stable")[:, :k]
        found = any(_on_segment(xs[row].astype(np.float64), x[idx[i]].astype(np.float64),
                                x[idx[j]].astype(np.float64), tol=1e-5)[0]
                    for i in range(idx.size) for j in knn[i])
        assert found, f"synthetic row {row} is on no segment between a class-{c} sample and its {k} neighbours"


def test_class_weights_match_sklearn():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.repeat([0, 1, 2, 3], [50, 7, 13, 1])
    np.testing.assert_allclose(class_weights(y), compute_class_weight("balanced", classes=np.arange(4), y=y))
    with pytest.raises(ValueError, match=r"classes \[1\] have no samples"):
        class_weights(np.array([0, 2, 2]))


def test_random_under_and_over_sampling_counts():
    x, y = _imbalanced()
    xu, yu = random_undersample(x, y, training=True, rng=0)
    np.testing.assert_array_equal(np.bincount(yu), [5, 5, 5])
    xo, yo = random_oversample(x, y, training=True, rng=0)
    np.testing.assert_array_equal(np.bincount(yo), [30, 30, 30])
    np.testing.assert_array_equal(xo[:y.size], x)  # originals first
    # every added row is a copy of a sample of its own class
    for row in range(y.size, yo.size):
        assert any(np.array_equal(xo[row], x[i]) for i in np.flatnonzero(y == yo[row]))
    xc, yc = random_oversample(x, y, training=True, target_counts={2: 12}, rng=0)
    np.testing.assert_array_equal(np.bincount(yc), [30, 8, 12])
    with pytest.raises(ValueError, match="target count 3 for class 1 \\(which has 8\\) must be >= 8"):
        random_oversample(x, y, training=True, target_counts={1: 3})


def test_smote_geometry_counts_and_seed():
    x, y = _imbalanced()
    xs, ys = smote(x, y, training=True, k_neighbors=3, rng=5)
    np.testing.assert_array_equal(np.bincount(ys), [30, 30, 30])
    assert xs.shape == (90, 1, 3, 3) and xs.dtype == np.float32
    np.testing.assert_array_equal(xs[:y.size], x)
    _check_smote_geometry(x, y, xs, ys, k=3)
    xs2, ys2 = smote(x, y, training=True, k_neighbors=3, rng=5)
    np.testing.assert_array_equal(xs, xs2)
    assert not np.array_equal(xs, smote(x, y, training=True, k_neighbors=3, rng=6)[0])


def test_smote_feature_space_mode():
    x, y = _imbalanced(counts=(20, 6), shape=(2, 4, 4))
    feats = np.random.default_rng(1).random((y.size, 3))  # embeddings unrelated to pixels
    xs, ys = smote(x, y, training=True, k_neighbors=2, features=feats, rng=0)
    np.testing.assert_array_equal(np.bincount(ys), [20, 20])
    _check_smote_geometry(x, y, xs, ys, k=2, feats=feats)


def test_smote_small_class():
    x, y = _imbalanced(counts=(20, 3))
    with pytest.raises(ValueError, match="class 1 has 3 samples; k_neighbors=5 needs at least 6"):
        smote(x, y, training=True)
    xs, ys = smote(x, y, training=True, reduce_k=True, rng=0)
    _check_smote_geometry(x, y, xs, ys, k=2)


def test_smote_vs_imbalanced_learn_tabular():
    from imblearn.over_sampling import SMOTE

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [60, 15, 9])
    x = rng.normal(size=(y.size, 4)) + 3 * y[:, None]
    xi, yi = SMOTE(k_neighbors=4, random_state=0).fit_resample(x, y)
    xs, ys = smote(x, y, training=True, k_neighbors=4, rng=0)
    np.testing.assert_array_equal(np.bincount(ys), np.bincount(yi))
    # imbalanced-learn also keeps the originals first; both sets of synthetic rows satisfy the segment rule
    np.testing.assert_array_equal(xi[:y.size], x)
    _check_smote_geometry(x, y, xs, ys, k=4)
    _check_smote_geometry(x, y, xi, yi, k=4)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4))
def test_smote_segment_property(seed, k):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], [12, 6])
    x = rng.normal(size=(y.size, 3))
    xs, ys = smote(x, y, training=True, k_neighbors=k, rng=rng)
    _check_smote_geometry(x, y, xs, ys, k=k)


def test_leakage_guards():
    x, y = _imbalanced()
    s = split_arrays(x, y, (0.6, 0.2, 0.2), rng=0)
    out = smote(s.train, k_neighbors=2, rng=0)
    assert isinstance(out, TrainSplit) and np.all(out.indices[len(s.train):] == -1)
    assert isinstance(random_undersample(s.train, rng=0), TrainSplit)
    for fn in (smote, random_oversample, random_undersample):
        with pytest.raises(TypeError, match="training split only"):
            fn(s.val)
        with pytest.raises(ValueError, match="needs an explicit training=True"):
            fn(x, y)


def test_class_balanced_sampler_blocks_are_balanced():
    _, y = _imbalanced(counts=(30, 8, 5))
    s = ClassBalancedSampler(y)
    idx = s.indices(np.random.default_rng(0))
    assert len(s) == idx.size == 90
    blocks = y[idx].reshape(-1, 3)
    assert np.all(np.sort(blocks, axis=1) == [0, 1, 2])
    # within a class every sample is used before any repeats: class 0 (30 samples) exactly once
    np.testing.assert_array_equal(np.sort(idx[y[idx] == 0]), np.flatnonzero(y == 0))
    x, _ = _imbalanced(counts=(30, 8, 5))
    loader = DataLoader(ArrayDataset(x, y), batch_size=6, sampler=s, rng=0)
    for _, yb in loader:
        np.testing.assert_array_equal(np.bincount(yb, minlength=3), [2, 2, 2])


def test_weighted_sampler_balances_in_expectation():
    _, y = _imbalanced(counts=(300, 60, 40))
    idx = weighted_sampler(y, num_samples=30000).indices(np.random.default_rng(0))
    frac = np.bincount(y[idx]) / idx.size
    np.testing.assert_allclose(frac, 1 / 3, atol=0.015)  # binomial std ~ 0.003


def test_smote_neighbours_match_sklearn_and_never_the_sample_itself():
    from sklearn.neighbors import NearestNeighbors

    from cvprimer.data.imbalance import _knn

    pts = np.random.default_rng(3).standard_normal((40, 6))
    for k in (1, 3, 7):
        ours = _knn(pts, k)
        _, theirs = NearestNeighbors(n_neighbors=k + 1).fit(pts).kneighbors(pts)
        np.testing.assert_array_equal(ours, theirs[:, 1:])  # column 0 of sklearn's answer is the point itself
        assert not (ours == np.arange(40)[:, None]).any()


def test_smote_synthetic_samples_are_never_copies():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((36, 1, 3, 3)).astype(np.float32)
    y = np.repeat([0, 1], [30, 6])
    xs, ys = smote(x, y, training=True, k_neighbors=3, rng=1)
    synth = xs[y.size:].reshape(ys.size - y.size, -1)
    dist = ((synth[:, None] - x.reshape(36, -1)[None]) ** 2).sum(-1).min(1)
    assert synth.shape[0] == 24 and dist.min() > 1e-8  # a sample paired with itself would give an exact copy
