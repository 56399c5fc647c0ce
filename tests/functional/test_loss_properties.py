"""Invariants of softmax and the losses (hypothesis) and directional gradient checks on
larger shapes (one random direction, two forwards)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import cvprimer as cp
import cvprimer.functional as F
from parity import randn

shapes = st.tuples(st.integers(1, 4), st.integers(2, 6), st.integers(1, 3))


@settings(max_examples=25, deadline=None)
@given(shape=shapes, shift=st.floats(-1e3, 1e3), seed=st.integers(0, 10_000))
def test_softmax_shift_invariant_and_normalized(shape, shift, seed):
    z = randn(*shape, seed=seed) * 5
    a = F.softmax(cp.tensor(z, dtype="float64"), 1).data
    b = F.softmax(cp.tensor(z + shift, dtype="float64"), 1).data
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.sum(1), 1.0, rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(shape=shapes, eps=st.floats(0.0, 1.0), seed=st.integers(0, 10_000))
def test_cross_entropy_class_target_equals_its_one_hot_probability_target(shape, eps, seed):
    z = cp.tensor(randn(*shape, seed=seed), dtype="float64")
    t = np.random.default_rng(seed).integers(0, shape[1], (shape[0], shape[2]))
    onehot = np.moveaxis(np.eye(shape[1])[t], -1, 1)
    a = F.cross_entropy(z, t, label_smoothing=eps, reduction="none").data
    b = F.cross_entropy(z, cp.tensor(onehot), label_smoothing=eps, reduction="none").data
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert np.all(a >= -1e-12)


@settings(max_examples=20, deadline=None)
@given(gamma=st.floats(0.0, 5.0), seed=st.integers(0, 10_000))
def test_focal_never_exceeds_cross_entropy(gamma, seed):
    z = cp.tensor(randn(5, 4, seed=seed) * 4, dtype="float64")
    t = np.random.default_rng(seed).integers(0, 4, 5)
    focal = F.softmax_focal_loss(z, t, gamma=gamma, reduction="none").data
    ce = F.cross_entropy(z, t, reduction="none").data
    assert np.all(focal <= ce + 1e-12) and np.all(focal >= 0)


def test_directional_gradchecks_on_larger_shapes():
    z = randn(4, 10, 6, 5, seed=1)
    t = np.random.default_rng(2).integers(0, 10, (4, 6, 5))
    t[0, 0] = -100
    w = cp.tensor(np.linspace(0.5, 2.0, 10))
    cp.directional_gradcheck(lambda x: F.cross_entropy(x, t, w, label_smoothing=0.1),
                             [cp.tensor(z, requires_grad=True)])
    cp.directional_gradcheck(lambda x: F.softmax_focal_loss(x, t, gamma=0.5), [cp.tensor(z, requires_grad=True)])
    y = (randn(4, 10, 6, 5, seed=3) > 0).astype(np.float64)
    cp.directional_gradcheck(lambda x: F.sigmoid_focal_loss(x, cp.tensor(y), 0.25, 1.5),
                             [cp.tensor(z, requires_grad=True)])
    q, k, v = (cp.tensor(randn(2, 4, 9, 8, seed=s), requires_grad=True) for s in (4, 5, 6))
    cp.directional_gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True), [q, k, v])
