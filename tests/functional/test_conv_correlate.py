"""correlate2d / convolve2d on plain images: SciPy parity in every mode, the flip identity
(deep learning's "convolution" is a cross-correlation), gradients, errors."""

import numpy as np
import pytest
import scipy.signal as ss

import cvprimer as cp
import cvprimer.functional as F
from parity import check_grad, randn

SHAPES = [((6, 7), (3, 3)), ((5, 5), (2, 4)), ((4, 6), (4, 3)), ((5, 4), (1, 1)), ((3, 3), (3, 3)),
          ((2, 5), (4, 2))]  # the last: kernel taller than the image ("same"/"full" only)


@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("img,ker", SHAPES)
def test_matches_scipy(img, ker, mode):
    x, k = randn(*img, seed=1), randn(*ker, seed=2)
    if mode == "valid" and (ker[0] > img[0] or ker[1] > img[1]):
        for ours, ref in ((F.correlate2d, ss.correlate2d), (F.convolve2d, ss.convolve2d)):
            with pytest.raises(ValueError):
                ref(x, k, mode)
            with pytest.raises(ValueError, match="larger than the image"):
                ours(cp.tensor(x), cp.tensor(k), mode)
        return
    for ours, ref in ((F.correlate2d, ss.correlate2d), (F.convolve2d, ss.convolve2d)):
        y = ours(cp.tensor(x), cp.tensor(k), mode)
        np.testing.assert_allclose(y.data, ref(x, k, mode), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["valid", "full"])
@pytest.mark.parametrize("img,ker", SHAPES[:4])
def test_convolution_is_correlation_with_the_flipped_kernel(img, ker, mode):
    x, k = randn(*img, seed=3), randn(*ker, seed=4)
    a = F.convolve2d(cp.tensor(x), cp.tensor(k), mode).data
    b = F.correlate2d(cp.tensor(x), cp.tensor(np.ascontiguousarray(k[::-1, ::-1])), mode).data
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # and it is what conv2d (deep learning's "conv") computes with the flipped kernel
    c = F.conv2d(cp.tensor(x[None, None]), cp.tensor(np.ascontiguousarray(k[::-1, ::-1])[None, None]),
                 padding=0 if mode == "valid" else (ker[0] - 1, ker[1] - 1)).data[0, 0]
    np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["valid", "same", "full"])
def test_gradients(mode):
    x, k = randn(5, 4, seed=5), randn(2, 3, seed=6)
    check_grad(lambda x, k: F.correlate2d(x, k, mode), x, k)
    check_grad(lambda x, k: F.convolve2d(x, k, mode), x, k)


def test_float32_stays_float32():
    y = F.convolve2d(cp.tensor(randn(4, 4).astype(np.float32)), cp.tensor(randn(2, 2).astype(np.float32)))
    assert y.dtype == np.float32 and y.shape == (3, 3)


def test_errors():
    x, k = cp.tensor(randn(4, 4)), cp.tensor(randn(2, 2))
    with pytest.raises(ValueError, match=r"correlate2d: mode must be one of"):
        F.correlate2d(x, k, "circular")
    with pytest.raises(ValueError, match=r"convolve2d: expected a 2-D image and a 2-D kernel, got shapes \(1, 4, 4\)"):
        F.convolve2d(cp.tensor(randn(1, 4, 4)), k)
    with pytest.raises(ValueError, match=r"correlate2d: kernel \(5, 2\) is larger than the image \(4, 4\)"):
        F.correlate2d(x, cp.tensor(randn(5, 2)))
    with pytest.raises(TypeError, match=r"convolve2d: image and kernel must share one floating dtype"):
        F.convolve2d(x, cp.tensor(randn(2, 2).astype(np.float32)))
