"""Initializers: fans and gains equal torch's; sample statistics match the formulas (and torch's
samples) within a few standard errors of the estimate; PyTorch's default layer inits."""

import math

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer import nn
from cvprimer.nn import init

Z = 5.0  # standard errors allowed: a false failure has probability < 1e-6 per check


def _std_se(sigma, n, kurtosis):
    """Standard error of a sample std: sigma * sqrt((kurtosis - 1) / (4 n))."""
    return sigma * math.sqrt((kurtosis - 1) / (4 * n))


UNIFORM_K, NORMAL_K = 1.8, 3.0


def _check_uniform(a, bound):
    n = a.size
    assert np.abs(a).max() <= bound
    assert np.abs(a).max() >= bound * (1 - 20 / n)  # P(max < b(1 - 20/n)) ~ exp(-10)
    sigma = bound / math.sqrt(3)
    assert abs(a.mean()) < Z * sigma / math.sqrt(n)
    assert abs(a.std() - sigma) < Z * _std_se(sigma, n, UNIFORM_K)


def _check_normal(a, sigma):
    n = a.size
    assert abs(a.mean()) < Z * sigma / math.sqrt(n)
    assert abs(a.std() - sigma) < Z * _std_se(sigma, n, NORMAL_K)


SHAPES = [(300, 200), (64, 32, 3, 3), (100, 40, 5)]


@pytest.mark.parametrize("shape", SHAPES + [(7, 3, 2, 2, 2)])
def test_fans_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(cp.zeros(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


@pytest.mark.parametrize("nl", ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                                "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"])
def test_gain_matches_torch(nl):
    assert init.calculate_gain(nl) == pytest.approx(torch.nn.init.calculate_gain(nl), rel=1e-15)
    if nl == "leaky_relu":
        for slope in (0.2, 1, math.sqrt(5)):
            assert init.calculate_gain(nl, slope) == pytest.approx(torch.nn.init.calculate_gain(nl, slope), rel=1e-15)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"])
def test_variance_scaling(shape, kind):
    fi, fo = init._calculate_fan_in_and_fan_out(cp.zeros(*shape))
    for kw in ([{"gain": 1.0}, {"gain": 2.0}] if "xavier" in kind else
               [{}, {"a": 0.2, "mode": "fan_out"}, {"nonlinearity": "relu"}, {"a": math.sqrt(5)}]):
        ours = getattr(init, kind)(cp.zeros(*shape, dtype=np.float64), rng=np.random.default_rng(0), **kw).data
        theirs = getattr(torch.nn.init, kind)(torch.zeros(shape, dtype=torch.float64), **kw).numpy()
        if "xavier" in kind:
            spread = kw["gain"] * math.sqrt(2.0 / (fi + fo))  # the std
        else:
            fan = fo if kw.get("mode") == "fan_out" else fi
            spread = init.calculate_gain(kw.get("nonlinearity", "leaky_relu"), kw.get("a", 0)) / math.sqrt(fan)
        uniform = "uniform" in kind
        for a in (ours, theirs):  # both samples satisfy the same formula
            _check_uniform(a, spread * math.sqrt(3)) if uniform else _check_normal(a, spread)
        se = _std_se(spread, ours.size, UNIFORM_K if uniform else NORMAL_K)
        assert abs(ours.std() - theirs.std()) < Z * math.sqrt(2) * se


def test_uniform_normal_constant():
    t = cp.zeros(200, 300, dtype=np.float64)
    a = init.uniform_(t, -2.0, 3.0, rng=np.random.default_rng(1)).data
    assert a.min() >= -2 and a.max() < 3
    assert abs(a.mean() - 0.5) < Z * (5 / math.sqrt(12)) / math.sqrt(a.size)
    _check_normal(init.normal_(t, 0.0, 0.3, rng=np.random.default_rng(2)).data, 0.3)
    assert (init.constant_(t, 1.5).data == 1.5).all() and (init.zeros_(t).data == 0).all()
    assert (init.ones_(t).data == 1).all()


def test_trunc_normal_matches_truncated_normal_moments():
    from scipy.stats import truncnorm

    mean, std, a, b = 0.5, 1.0, -0.5, 2.0
    x = init.trunc_normal_(cp.zeros(400, 250, dtype=np.float64), mean, std, a, b, rng=np.random.default_rng(5)).data
    assert x.min() >= a and x.max() <= b
    ref = truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    n = x.size
    assert abs(x.mean() - ref.mean()) < Z * ref.std() / math.sqrt(n)
    kurt = ref.stats(moments="k") + 3  # scipy gives the excess kurtosis
    assert abs(x.std() - ref.std()) < Z * _std_se(ref.std(), n, float(kurt))
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(cp.zeros(2), a=1.0, b=0.0)


def test_rng_reproducible_and_dtype_kept():
    a = init.kaiming_normal_(cp.zeros(5, 4), rng=np.random.default_rng(3))
    b = init.kaiming_normal_(cp.zeros(5, 4), rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.data, b.data)
    assert a.dtype == np.float32


@pytest.mark.parametrize("shape", [(6, 10), (10, 6), (8, 3, 2, 2)])
def test_orthogonal(shape):
    w = init.orthogonal_(cp.zeros(*shape, dtype=np.float64), gain=2.0, rng=np.random.default_rng(0)).data
    m = w.reshape(shape[0], -1) / 2.0
    small = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(small, np.eye(small.shape[0]), atol=1e-12)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: init.xavier_uniform_(cp.zeros(5)), ValueError, "fewer than 2 dimensions"),
    (lambda: init.kaiming_uniform_(cp.zeros(3, 3), mode="fan_avg"), ValueError, "mode"),
    (lambda: init.calculate_gain("swish"), ValueError, "unsupported nonlinearity"),
    (lambda: init.calculate_gain("leaky_relu", "x"), ValueError, "negative_slope"),
    (lambda: init.uniform_(cp.zeros(2), 1.0, 0.0), ValueError, "a <= b"),
    (lambda: init.orthogonal_(cp.zeros(4)), ValueError, "2 or more"),
    (lambda: init.zeros_(np.zeros(2)), TypeError, "expected a Tensor"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_default_layer_inits():
    rng = np.random.default_rng(0)
    lin = nn.Linear(400, 300, dtype=np.float64, rng=rng)
    _check_uniform(lin.weight.data, 1 / math.sqrt(400))
    _check_uniform(lin.bias.data, 1 / math.sqrt(400))
    conv = nn.Conv2d(16, 64, 3, dtype=np.float64, rng=rng)
    _check_uniform(conv.weight.data, 1 / math.sqrt(16 * 9))
    assert np.abs(conv.bias.data).max() <= 1 / math.sqrt(16 * 9)
    convt = nn.ConvTranspose2d(64, 32, 4, groups=2, dtype=np.float64, rng=rng)  # weight (64, 16, 4, 4)
    assert convt.weight.shape == (64, 16, 4, 4)
    _check_uniform(convt.weight.data, 1 / math.sqrt(16 * 16))
    bn = nn.BatchNorm2d(8)
    assert (bn.weight.data == 1).all() and (bn.bias.data == 0).all()
    assert (bn.running_mean.data == 0).all() and (bn.running_var.data == 1).all()
    assert (nn.PReLU(3).weight.data == 0.25).all()
    mha = nn.MultiheadAttention(64, 4, dtype=np.float64, rng=rng)
    _check_uniform(mha.in_proj_weight.data, math.sqrt(6 / (64 + 3 * 64)))
    assert not mha.in_proj_bias.data.any() and not mha.out_proj.bias.data.any()
    _check_uniform(mha.out_proj.weight.data, 1 / math.sqrt(64))
    a, b = nn.Linear(5, 5, rng=np.random.default_rng(4)), nn.Linear(5, 5, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
