"""pixel_shuffle, pixel_unshuffle, channel_shuffle: parity, index formulas, round trips, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import cvprimer as cp
import cvprimer.functional as F
from parity import check_grad, parity, randn


@pytest.mark.parametrize("shape,r", [((2, 8, 3, 4), 2), ((1, 9, 2, 1), 3), ((12, 2, 2), 2), ((1, 3, 1, 1), 1),
                                     ((2, 1, 4, 3, 5), 2)])
def test_pixel_shuffle_parity(shape, r):
    x = randn(*shape, seed=1)
    parity(lambda t: F.pixel_shuffle(t, r), lambda t: TF.pixel_shuffle(t, r), x, noncontig=True)
    y = F.pixel_shuffle(cp.Tensor(x), r).numpy()
    parity(lambda t: F.pixel_unshuffle(t, r), lambda t: TF.pixel_unshuffle(t, r), y, noncontig=True)


def test_pixel_shuffle_index_formula_and_gradcheck():
    x = randn(1, 8, 2, 3, seed=2)
    y = F.pixel_shuffle(cp.Tensor(x), 2).numpy()
    for c, h, w, i, j in [(0, 0, 0, 0, 0), (1, 1, 2, 1, 0), (1, 0, 1, 1, 1), (0, 1, 0, 0, 1)]:
        assert y[0, c, h * 2 + i, w * 2 + j] == x[0, c * 4 + i * 2 + j, h, w]
    check_grad(lambda t: F.pixel_shuffle(t, 2), x)
    check_grad(lambda t: F.pixel_unshuffle(t, 2), y)


@pytest.mark.parametrize("shape,g", [((2, 6, 3, 2), 2), ((2, 6, 3, 2), 3), ((1, 8, 4), 4), ((1, 5, 2, 2), 1)])
def test_channel_shuffle_parity(shape, g):
    x = randn(*shape, seed=3)
    parity(lambda t: F.channel_shuffle(t, g), lambda t: torch.channel_shuffle(t, g), x, noncontig=True)
    check_grad(lambda t: F.channel_shuffle(t, g), x)


def test_channel_shuffle_interleaves_groups():
    x = cp.arange(6.0).reshape(1, 6, 1, 1)
    assert F.channel_shuffle(x, 3).numpy().ravel().tolist() == [0.0, 2.0, 4.0, 1.0, 3.0, 5.0]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 3), w=st.integers(1, 3), r=st.integers(1, 3))
def test_shuffle_round_trips(n, c, h, w, r):
    x = cp.Tensor(np.arange(n * c * r * r * h * w, dtype=np.int64).reshape(n, c * r * r, h, w))
    np.testing.assert_array_equal(F.pixel_unshuffle(F.pixel_shuffle(x, r), r).numpy(), x.numpy())
    xs = cp.Tensor(np.arange(n * c * r * h, dtype=np.int64).reshape(n, c * r, h))
    np.testing.assert_array_equal(F.channel_shuffle(F.channel_shuffle(xs, r), c).numpy(), xs.numpy())


def test_shuffle_errors():
    x = cp.Tensor(np.zeros((1, 6, 4, 4)))
    with pytest.raises(ValueError, match=r"channels 6 of input \(1, 6, 4, 4\) are not divisible by "
                                         r"upscale_factor\^2 = 4"):
        F.pixel_shuffle(x, 2)
    with pytest.raises(ValueError, match=r"spatial size \(4, 4\) .* not divisible by downscale_factor 3"):
        F.pixel_unshuffle(x, 3)
    with pytest.raises(ValueError, match="channels 6 .* not divisible by groups 4"):
        F.channel_shuffle(x, 4)
    for fn in (F.pixel_shuffle, F.pixel_unshuffle, F.channel_shuffle):
        with pytest.raises(ValueError, match="must be a positive int"):
            fn(x, 0)
        with pytest.raises(ValueError, match=r"got shape \(6, 4\)"):
            fn(cp.Tensor(np.zeros((6, 4))), 1)
    assert F.sampling.shuffle_cost((2, 3, 4, 5)) == dict(macs=0, flops=0, bytes=2 * 120 * 4)
