"""batch/layer/instance/group norm: PyTorch parity (outputs, all gradients, running stats), gradcheck."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from parity import check_grad, parity, randn

SHAPES = [(6, 3), (4, 3, 5), (3, 4, 5, 6)]


def data(shape, seed=0):
    """Input with a nonzero per-channel mean and scale (so centring and scaling both matter)."""
    c = shape[1]
    off = np.linspace(-2, 3, c).reshape((1, c) + (1,) * (len(shape) - 2))
    return randn(*shape, seed=seed) * 1.5 + off


def affine(c, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.5, c), rng.standard_normal(c)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("with_affine", [True, False])
def test_batch_norm_training_parity(shape, with_affine):
    x = data(shape)
    w, b = affine(shape[1])
    if with_affine:
        parity(lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True, eps=1e-3),
               lambda t, g, h: TF.batch_norm(t, None, None, g, h, training=True, eps=1e-3),
               x, w, b, noncontig=True)
    else:
        parity(lambda t: F.batch_norm(t, None, None, training=True),
               lambda t: TF.batch_norm(t, None, None, training=True), x)


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_running_stats_and_eval_match_torch(shape):
    c = shape[1]
    w, b = affine(c)
    for dt in (np.float32, np.float64):
        rm, rv = cp.zeros(c, dtype=dt), cp.ones(c, dtype=dt)
        trm, trv = torch.zeros(c, dtype=torch_dtype(dt)), torch.ones(c, dtype=torch_dtype(dt))
        for step in range(4):
            x = data(shape, seed=10 + step).astype(dt) * (1 + step)
            F.batch_norm(cp.Tensor(x), rm, rv, cp.Tensor(w.astype(dt)), cp.Tensor(b.astype(dt)),
                         training=True, momentum=0.3)
            TF.batch_norm(torch.from_numpy(x), trm, trv, torch.from_numpy(w.astype(dt)),
                          torch.from_numpy(b.astype(dt)), training=True, momentum=0.3)
        tol = 1e-5 if dt == np.float32 else 1e-12
        np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=tol, atol=tol)
        np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=tol, atol=tol)
        assert rm.dtype == dt and rv.dtype == dt
    # evaluation with the accumulated statistics: output and gradients of x, gamma, beta
    rmv, rvv = rm.numpy().astype(np.float64), rv.numpy().astype(np.float64)
    parity(lambda t, g, h, m, v: F.batch_norm(t, m, v, g, h, training=False),
           lambda t, g, h, m, v: TF.batch_norm(t, m, v, g, h, training=False),
           data(shape, seed=3), w, b, rmv, rvv, requires_grad=[True, True, True, False, False],
           noncontig=True)


def torch_dtype(dt):
    return getattr(torch, np.dtype(dt).name)


def test_batch_norm_gradcheck():
    w, b = affine(3)
    check_grad(lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True), data((3, 3, 2, 2)), w, b)
    check_grad(lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True), data((4, 3)), w, b)
    m, v = np.array([0.1, -0.2, 0.3]), np.array([1.5, 0.7, 2.0])
    check_grad(lambda t, g, h: F.batch_norm(t, cp.Tensor(m), cp.Tensor(v), g, h), data((2, 3, 2)), w, b)


def test_batch_norm_only_some_gradients_requested():
    x = data((4, 3, 5))
    w, b = affine(3)
    parity(lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True),
           lambda t, g, h: TF.batch_norm(t, None, None, g, h, training=True),
           x, w, b, requires_grad=[False, True, False], dtypes=[np.float64])
    parity(lambda t, g, h: F.batch_norm(t, None, None, g, h, training=True),
           lambda t, g, h: TF.batch_norm(t, None, None, g, h, training=True),
           x, w, b, requires_grad=[True, False, False], dtypes=[np.float64])


def test_batch_norm_large_offset_input():
    """Two-pass statistics: a mean 1e4 times the spread still normalizes like torch."""
    x = data((8, 3, 4, 4)) + 1e4
    parity(lambda t: F.batch_norm(t, None, None, training=True),
           lambda t: TF.batch_norm(t, None, None, training=True), x, dtypes=[np.float64])


def test_batch_norm_errors():
    x = cp.Tensor(data((4, 3, 5)))
    with pytest.raises(ValueError, match=r"batch_norm: Expected more than 1 value per channel when "
                                         r"training, got input size \(1, 3, 1\)"):
        F.batch_norm(cp.Tensor(data((1, 3, 1))), None, None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean has shape \(4,\) but input \(4, 3, 5\) "
                                         r"needs \(3,\)"):
        F.batch_norm(x, cp.zeros(4), cp.ones(3), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: weight has shape \(3, 1\)"):
        F.batch_norm(x, None, None, cp.ones((3, 1)), training=True)
    with pytest.raises(ValueError, match="batch_norm: running_mean and running_var must be given"):
        F.batch_norm(x, None, None)
    with pytest.raises(ValueError, match=r"batch_norm: expected input of at least 2 dims"):
        F.batch_norm(cp.Tensor(randn(5)), None, None, training=True)
    with pytest.raises(ValueError, match="batch_norm: momentum=None"):
        F.batch_norm(x, cp.zeros(3), cp.ones(3), training=True, momentum=None)
    with pytest.raises(TypeError, match="batch_norm: weight must be a Tensor"):
        F.batch_norm(x, None, None, np.ones(3), training=True)


@pytest.mark.parametrize("shape,norm", [((4, 7), (7,)), ((2, 3, 5), (5,)), ((2, 3, 4, 5), (4, 5)),
                                        ((3, 2, 4), (3, 2, 4))])
@pytest.mark.parametrize("with_affine", [True, False])
def test_layer_norm_parity(shape, norm, with_affine):
    x = data(shape)
    rng = np.random.default_rng(2)
    w, b = rng.uniform(0.5, 1.5, norm), rng.standard_normal(norm)
    if with_affine:
        parity(lambda t, g, h: F.layer_norm(t, norm, g, h, eps=1e-4),
               lambda t, g, h: TF.layer_norm(t, norm, g, h, eps=1e-4), x, w, b, noncontig=True)
    else:
        parity(lambda t: F.layer_norm(t, norm), lambda t: TF.layer_norm(t, norm), x)


def test_layer_norm_gradcheck_and_int_shape():
    w, b = affine(4)
    check_grad(lambda t, g, h: F.layer_norm(t, 4, g, h), data((2, 3, 4)), w, b)
    check_grad(lambda t: F.layer_norm(t, (3, 4)), data((2, 3, 4)))


@pytest.mark.parametrize("shape", [(2, 3, 7), (3, 4, 5, 6)])
@pytest.mark.parametrize("with_affine", [True, False])
def test_instance_norm_parity(shape, with_affine):
    x = data(shape)
    w, b = affine(shape[1])
    if with_affine:
        parity(lambda t, g, h: F.instance_norm(t, weight=g, bias=h),
               lambda t, g, h: TF.instance_norm(t, weight=g, bias=h), x, w, b, noncontig=True)
    else:
        parity(lambda t: F.instance_norm(t), lambda t: TF.instance_norm(t), x)


def test_instance_norm_running_stats_match_torch():
    c = 3
    rm, rv = cp.zeros(c, dtype=np.float64), cp.ones(c, dtype=np.float64)
    trm, trv = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
    for step in range(3):
        x = data((4, c, 5, 3), seed=20 + step)
        F.instance_norm(cp.Tensor(x), rm, rv, momentum=0.2)
        TF.instance_norm(torch.from_numpy(x), trm, trv, momentum=0.2)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-12, atol=1e-13)
    w, b = affine(c)
    parity(lambda t, g, h, m, v: F.instance_norm(t, m, v, g, h, use_input_stats=False),
           lambda t, g, h, m, v: TF.instance_norm(t, m, v, g, h, use_input_stats=False),
           data((2, c, 4)), w, b, rm.numpy(), rv.numpy(), requires_grad=[True, True, True, False, False])


def test_instance_norm_gradcheck_and_errors():
    w, b = affine(2)
    check_grad(lambda t, g, h: F.instance_norm(t, weight=g, bias=h), data((2, 2, 3, 2)), w, b)
    with pytest.raises(ValueError, match=r"instance_norm: expected input \(N, C, \*\)"):
        F.instance_norm(cp.Tensor(data((4, 3))))
    with pytest.raises(ValueError, match="instance_norm: Expected more than 1 spatial element"):
        F.instance_norm(cp.Tensor(data((4, 3, 1))))
    with pytest.raises(ValueError, match="instance_norm: use_input_stats=False needs"):
        F.instance_norm(cp.Tensor(data((4, 3, 2))), use_input_stats=False)


@pytest.mark.parametrize("shape,groups", [((2, 6, 5), 3), ((2, 4, 3, 3), 2), ((3, 4, 2, 2), 4), ((2, 6), 1)])
@pytest.mark.parametrize("with_affine", [True, False])
def test_group_norm_parity(shape, groups, with_affine):
    x = data(shape)
    w, b = affine(shape[1])
    if with_affine:
        parity(lambda t, g, h: F.group_norm(t, groups, g, h, eps=1e-3),
               lambda t, g, h: TF.group_norm(t, groups, g, h, eps=1e-3), x, w, b, noncontig=True)
    else:
        parity(lambda t: F.group_norm(t, groups), lambda t: TF.group_norm(t, groups), x)


def test_group_norm_gradcheck_and_errors():
    w, b = affine(4)
    check_grad(lambda t, g, h: F.group_norm(t, 2, g, h), data((2, 4, 3)), w, b)
    with pytest.raises(ValueError, match=r"group_norm: Expected number of channels in input \(2, 6, 3\) \(6\) to "
                                         r"be divisible by num_groups \(4\)"):
        F.group_norm(cp.Tensor(data((2, 6, 3))), 4)
    with pytest.raises(ValueError, match=r"group_norm: weight has shape \(3,\)"):
        F.group_norm(cp.Tensor(data((2, 6, 3))), 2, cp.ones(3))


def test_layer_norm_errors():
    x = cp.Tensor(data((2, 3, 4)))
    with pytest.raises(ValueError, match=r"layer_norm: input of shape \(2, 3, 4\) does not end in "
                                         r"normalized_shape \(3,\)"):
        F.layer_norm(x, 3)
    with pytest.raises(ValueError, match=r"layer_norm: weight has shape \(3,\) but input \(2, 3, 4\) needs \(4,\)"):
        F.layer_norm(x, 4, cp.ones(3))
    with pytest.raises(ValueError, match="layer_norm: eps"):
        F.layer_norm(x, 4, eps=-1.0)


def test_extreme_inputs_stay_finite():
    x = np.array([[-1e4, 1e4, 0.0, 5.0], [1e4, 1e4, -1e4, 3.0]])
    parity(lambda t: F.layer_norm(t, 4), lambda t: TF.layer_norm(t, (4,)), x)
    # no constant column for batch norm: there PyTorch's float32 statistics leave rounding
    # noise of 1e4 * 2^-24 that 1 / sqrt(eps) amplifies, where ours are exactly 0
    x = np.array([[-1e4, 1e4, 0.0, 5.0], [1e4, -1e4, 3.0, -2.0], [2.0, 1e4, -1e4, 1.0]])
    parity(lambda t: F.batch_norm(t, None, None, training=True),
           lambda t: TF.batch_norm(t, None, None, training=True), x)
