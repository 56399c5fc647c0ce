"""interpolate's bicubic and area modes: PyTorch parity (forward and backward, float32 and float64,
both align_corners for bicubic, odd sizes, sizes and scale factors up and down), float64 gradcheck,
adjointness, the cubic weights' partition of unity, errors and the analyzer's cost."""

import numpy as np
import pytest
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.functional.sampling._separable import cubic_weights
from parity import check_grad, parity, randn

CASES = [  # (input H, W), size or None, scale_factor or None
    ((5, 7), (11, 13), None),
    ((9, 6), (4, 5), None),
    ((7, 7), None, 2),
    ((7, 5), None, 1.7),
    ((13, 11), None, 0.6),
    ((3, 8), (3, 8), None),
    ((1, 4), (3, 1), None),
]


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("hw,size,scale", CASES)
def test_bicubic_parity(hw, size, scale, align):
    x = randn(2, 3, *hw, seed=1)
    parity(lambda t: F.interpolate(t, size=size, scale_factor=scale, mode="bicubic", align_corners=align),
           lambda t: TF.interpolate(t, size=size, scale_factor=scale, mode="bicubic", align_corners=align), x)


@pytest.mark.parametrize("hw,size,scale", CASES)
def test_area_parity(hw, size, scale):
    x = randn(2, 3, *hw, seed=2)
    parity(lambda t: F.interpolate(t, size=size, scale_factor=scale, mode="area"),
           lambda t: TF.interpolate(t, size=size, scale_factor=scale, mode="area"), x)


@pytest.mark.parametrize("mode,kw", [("bicubic", {"align_corners": False}), ("bicubic", {"align_corners": True}),
                                     ("area", {})])
def test_gradcheck_float64(mode, kw):
    check_grad(lambda t: F.interpolate(t, size=(7, 4), mode=mode, **kw), randn(1, 2, 5, 6, seed=3))


@pytest.mark.parametrize("mode", ["bicubic", "area"])
def test_backward_is_the_adjoint(mode):
    x, g = randn(2, 3, 6, 5, seed=5), randn(2, 3, 9, 4, seed=6)
    t = cp.Tensor(x, requires_grad=True)
    y = F.interpolate(t, size=(9, 4), mode=mode)
    y.backward(cp.Tensor(g))
    np.testing.assert_allclose(np.sum(y.detach().numpy() * g), np.sum(x * t.grad.numpy()), rtol=1e-12)


def test_cubic_weights_sum_to_one_and_interpolate():
    t = np.linspace(0, 1, 11)
    w = cubic_weights(t)
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(w[0], [0, 1, 0, 0], atol=1e-12)  # t = 0 hits the sample exactly
    assert (w[1:-1, 0] < 0).all() and (w[1:-1, 3] < 0).all()  # the outer taps are negative: overshoot


def test_constant_is_preserved_and_bicubic_overshoots_a_step():
    c = cp.Tensor(np.full((1, 1, 4, 5), 3.0))
    for mode in ("bicubic", "area"):
        np.testing.assert_allclose(F.interpolate(c, size=(9, 7), mode=mode).numpy(), 3.0, rtol=1e-12)
    step = np.zeros((1, 1, 1, 8))
    step[..., 4:] = 1.0
    y = F.interpolate(cp.Tensor(step), size=(1, 32), mode="bicubic").numpy()
    assert y.max() > 1.0 and y.min() < 0.0


def test_errors():
    x = cp.Tensor(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="align_corners can only be set with the linear, bilinear, bicubic"):
        F.interpolate(x, size=2, mode="area", align_corners=True)


def test_cost():
    from cvprimer.functional.sampling import interpolate_cost
    assert interpolate_cost((2, 3, 4, 5), scale_factor=2, mode="bicubic") == dict(
        macs=16 * 2 * 3 * 8 * 10, flops=0, bytes=(120 + 480) * 4)
    # area 4x4 -> 2x2: each output sums a 2x2 bin (4 adds) and divides once: 5 FLOPs per output
    assert interpolate_cost((1, 1, 4, 4), size=2, mode="area") == dict(macs=0, flops=4 * 5, bytes=(16 + 4) * 4)
    # 5 -> 3 overlapping bins [0,2) [1,4) [3,5): 2 + 3 + 2 = 7 inputs per axis
    assert interpolate_cost((1, 1, 5, 5), size=3, mode="area")["flops"] == 7 * 7 + 9
    with pytest.raises(ValueError, match="mode must be one of"):
        interpolate_cost((1, 1, 4, 4), size=2, mode="lanczos")

def test_resample_matrix_matches_the_op():
    from cvprimer.functional.sampling._separable import resample_matrix
    x = randn(1, 1, 6, 5, seed=8)
    for mode, align in (("nearest", False), ("bilinear", True), ("bicubic", False), ("area", False)):
        Ah = resample_matrix(mode, 6, 9, align, None, np.float64)
        Aw = resample_matrix(mode, 5, 3, align, None, np.float64)
        kw = {"align_corners": align} if mode in ("bilinear", "bicubic") else {}
        y = F.interpolate(cp.Tensor(x), size=(9, 3), mode=mode, **kw).numpy()[0, 0]
        np.testing.assert_allclose(y, Ah @ x[0, 0] @ Aw.T, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="unknown mode"):
        resample_matrix("lanczos", 3, 4, False, None, np.float64)
