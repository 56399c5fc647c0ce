"""Normalization on randomized shapes (hypothesis): torch parity, invariants, directional checks."""

import numpy as np
import pytest
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import cvprimer as cp
import cvprimer.functional as F
from parity import parity, randn

SETTINGS = settings(max_examples=15, deadline=None)


@st.composite
def nc_shapes(draw, min_spatial=0):
    n = draw(st.integers(1, 4))
    c = draw(st.integers(1, 5))
    spatial = draw(st.lists(st.integers(1, 4), min_size=min_spatial, max_size=2))
    return (n, c, *spatial)


@SETTINGS
@given(shape=nc_shapes(), seed=st.integers(0, 1000))
def test_batch_norm_random_shapes_parity(shape, seed):
    if np.prod(shape) // shape[1] < 2:
        shape = (shape[0] + 1,) + shape[1:]
    x = randn(*shape, seed=seed) * 2 + 1
    rng = np.random.default_rng(seed)
    w, b = rng.uniform(0.5, 1.5, shape[1]), rng.standard_normal(shape[1])
    parity(lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True),
           lambda t, g, h: TF.batch_norm(t, None, None, g, h, training=True), x, w, b, dtypes=[np.float64])


@SETTINGS
@given(shape=nc_shapes(min_spatial=1), data=st.data())
def test_group_norm_random_shapes_parity_and_invariants(shape, data):
    groups = data.draw(st.sampled_from([g for g in range(1, shape[1] + 1) if shape[1] % g == 0]))
    if np.prod(shape[1:]) // groups < 2:
        shape = shape[:-1] + (shape[-1] + 1,)
    x = randn(*shape, seed=data.draw(st.integers(0, 1000))) * 3 - 2
    rng = np.random.default_rng(0)
    w, b = rng.uniform(0.5, 1.5, shape[1]), rng.standard_normal(shape[1])
    parity(lambda t, g, h: F.group_norm(t, groups, g, h),
           lambda t, g, h: TF.group_norm(t, groups, g, h), x, w, b, dtypes=[np.float64])
    # without affine, every (n, group) set has mean 0 and variance var / (var + eps)
    y = F.group_norm(cp.Tensor(x), groups, eps=0.0).numpy().reshape(shape[0], groups, -1)
    np.testing.assert_allclose(y.mean(axis=2), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=2), 1.0, rtol=1e-10)


@SETTINGS
@given(lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
       norm=st.lists(st.integers(1, 4), min_size=1, max_size=2), seed=st.integers(0, 1000))
def test_layer_norm_random_shapes_parity(lead, norm, seed):
    norm = tuple(norm)
    if np.prod(norm) < 2:
        norm = norm[:-1] + (2,)
    x = randn(*lead, *norm, seed=seed)
    rng = np.random.default_rng(seed)
    w, b = rng.uniform(0.5, 1.5, norm), rng.standard_normal(norm)
    parity(lambda t, g, h: F.layer_norm(t, norm, g, h),
           lambda t, g, h: TF.layer_norm(t, norm, g, h), x, w, b, dtypes=[np.float64])


@pytest.mark.parametrize("fn", [
    lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True),
    lambda t, g, h: F.instance_norm(t, weight=g, bias=h),
    lambda t, g, h: F.group_norm(t, 2, g, h),
    lambda t, g, h: F.layer_norm(t, (6, 5), g.reshape(6, 1) * cp.ones((6, 5), dtype=np.float64),
                                 h.reshape(6, 1) * cp.ones((6, 5), dtype=np.float64)),
], ids=["batch", "instance", "group", "layer"])
def test_directional_gradcheck_larger_shape(fn):
    rng = np.random.default_rng(3)
    x = cp.Tensor(randn(4, 6, 5, seed=4) * 2 + 1, requires_grad=True)
    w = cp.Tensor(rng.uniform(0.5, 1.5, 6), requires_grad=True)
    b = cp.Tensor(rng.standard_normal(6), requires_grad=True)
    assert cp.directional_gradcheck(fn, [x, w, b])


def test_affine_dtype_must_match_input():
    x = cp.Tensor(randn(4, 3, 2).astype(np.float32))
    with pytest.raises(TypeError, match=r"batch_norm: weight has dtype float64 but input \(4, 3, 2\) has "
                                        r"dtype float32"):
        F.batch_norm(x, None, None, cp.ones(3, dtype=np.float64), training=True)
    # running statistics of another dtype are fine (cast), the output keeps x's dtype
    y = F.batch_norm(x, cp.zeros(3, dtype=np.float64), cp.ones(3, dtype=np.float64))
    assert y.dtype == np.float32
