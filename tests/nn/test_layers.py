"""Layers vs torch.nn layers after copying torch's weights: outputs, input and parameter gradients
(float64), matching state_dict names/shapes, and running statistics after training-mode calls."""

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer import nn
from parity import assert_close, away_from_zero, distinct, randn

TOL = dict(rtol=1e-9, atol=1e-11)


def layer_parity(ours, theirs, x, train=True, seed=0, tol=TOL):
    """Copy torch's state into ours, run both in float64, compare output, grads and state after."""
    theirs = theirs.double().train(train)
    ours = ours.double().train(train)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    xc = cp.Tensor(x.copy(), requires_grad=True)
    xt = torch.tensor(x.copy(), requires_grad=True)
    yc, yt = ours(xc), theirs(xt)
    assert_close(yc.data, yt.detach().numpy(), "output", **TOL)
    gy = np.random.default_rng(seed).standard_normal(yc.shape)
    yc.backward(gy)
    yt.backward(torch.from_numpy(gy))
    assert_close(xc.grad.data, xt.grad.numpy(), "grad x", **tol)
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad.data, tp[name].grad.numpy(), f"grad {name}", **TOL)
    for (k, v), (k2, w) in zip(ours.state_dict().items(), theirs.state_dict().items(), strict=True):
        assert k == k2
        assert_close(v, w.numpy(), f"state {k}", **TOL)


T = torch.nn
X4 = randn(2, 4, 7, 6, seed=1)

CASES = [
    ("linear", lambda: nn.Linear(6, 3), lambda: T.Linear(6, 3), randn(2, 5, 6)),
    ("linear_nobias", lambda: nn.Linear(6, 3, bias=False), lambda: T.Linear(6, 3, bias=False), randn(4, 6)),
    ("conv1d", lambda: nn.Conv1d(4, 6, 3, stride=2, padding=1), lambda: T.Conv1d(4, 6, 3, stride=2, padding=1),
     randn(2, 4, 9)),
    ("conv1d_same_circular", lambda: nn.Conv1d(4, 3, 4, padding="same", dilation=2, padding_mode="circular"),
     lambda: T.Conv1d(4, 3, 4, padding="same", dilation=2, padding_mode="circular"), randn(2, 4, 11)),
    ("conv2d", lambda: nn.Conv2d(4, 6, 3, stride=(2, 1), padding=1, groups=2),
     lambda: T.Conv2d(4, 6, 3, stride=(2, 1), padding=1, groups=2), X4),
    ("conv2d_same_dil", lambda: nn.Conv2d(4, 2, (3, 2), padding="same", dilation=2),
     lambda: T.Conv2d(4, 2, (3, 2), padding="same", dilation=2), X4),
    *[(f"conv2d_{m}", (lambda m=m: nn.Conv2d(4, 3, 3, padding=(1, 2), padding_mode=m)),
       (lambda m=m: T.Conv2d(4, 3, 3, padding=(1, 2), padding_mode=m)), X4)
      for m in ("reflect", "replicate", "circular")],
    ("conv2d_same_reflect", lambda: nn.Conv2d(4, 3, 4, padding="same", padding_mode="reflect"),
     lambda: T.Conv2d(4, 3, 4, padding="same", padding_mode="reflect"), X4),
    ("conv_transpose2d", lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
     lambda: T.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), X4),
    ("maxpool", lambda: nn.MaxPool2d(3, 2, 1), lambda: T.MaxPool2d(3, 2, 1), distinct(2, 3, 7, 6)),
    ("avgpool", lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
     lambda: T.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), X4),
    ("adaptive", lambda: nn.AdaptiveAvgPool2d((3, 4)), lambda: T.AdaptiveAvgPool2d((3, 4)), X4),
    ("gap", lambda: nn.GlobalAvgPool2d(), lambda: T.AdaptiveAvgPool2d(1), X4),
    ("gmp", lambda: nn.GlobalMaxPool2d(), lambda: T.AdaptiveMaxPool2d(1), distinct(2, 3, 5, 4)),
    ("upsample", lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
     lambda: T.Upsample(scale_factor=2, mode="bilinear", align_corners=False), X4),
    ("upsample_nearest", lambda: nn.Upsample(size=(9, 11)), lambda: T.Upsample(size=(9, 11)), X4),
    ("pixel_shuffle", lambda: nn.PixelShuffle(2), lambda: T.PixelShuffle(2), X4),
    ("pixel_unshuffle", lambda: nn.PixelUnshuffle(2), lambda: T.PixelUnshuffle(2), randn(2, 3, 4, 6)),
    ("channel_shuffle", lambda: nn.ChannelShuffle(2), lambda: T.ChannelShuffle(2), X4),
    ("bn1d", lambda: nn.BatchNorm1d(4), lambda: T.BatchNorm1d(4), randn(8, 4, 3)),
    ("bn1d_2d", lambda: nn.BatchNorm1d(4, momentum=None), lambda: T.BatchNorm1d(4, momentum=None), randn(8, 4)),
    ("bn2d", lambda: nn.BatchNorm2d(4, momentum=0.3), lambda: T.BatchNorm2d(4, momentum=0.3), X4),
    ("bn2d_noaffine", lambda: nn.BatchNorm2d(4, affine=False), lambda: T.BatchNorm2d(4, affine=False), X4),
    ("bn2d_nobias", lambda: nn.BatchNorm2d(4, bias=False), lambda: T.BatchNorm2d(4, bias=False), X4),
    ("groupnorm_nobias", lambda: nn.GroupNorm(2, 4, bias=False), lambda: T.GroupNorm(2, 4, bias=False), X4),
    ("instancenorm_nobias", lambda: nn.InstanceNorm2d(4, affine=True, bias=False),
     lambda: T.InstanceNorm2d(4, affine=True, bias=False), X4),
    ("avgpool_divisor", lambda: nn.AvgPool2d(3, 2, 1, divisor_override=5),
     lambda: T.AvgPool2d(3, 2, 1, divisor_override=5), X4),
    ("upsample_recompute", lambda: nn.Upsample(scale_factor=1.7, recompute_scale_factor=True),
     lambda: T.Upsample(scale_factor=1.7, recompute_scale_factor=True), X4),
    ("bn2d_nostats", lambda: nn.BatchNorm2d(4, track_running_stats=False),
     lambda: T.BatchNorm2d(4, track_running_stats=False), X4),
    ("layernorm", lambda: nn.LayerNorm((7, 6)), lambda: T.LayerNorm((7, 6)), X4),
    ("instancenorm", lambda: nn.InstanceNorm2d(4, affine=True, track_running_stats=True),
     lambda: T.InstanceNorm2d(4, affine=True, track_running_stats=True), X4),
    ("groupnorm", lambda: nn.GroupNorm(2, 4), lambda: T.GroupNorm(2, 4), X4),
    ("prelu", lambda: nn.PReLU(4), lambda: T.PReLU(4), away_from_zero(2, 4, 3, 3)),
    ("flatten", lambda: nn.Flatten(), lambda: T.Flatten(), X4),
    ("unflatten", lambda: nn.Unflatten(1, (2, 2)), lambda: T.Unflatten(1, (2, 2)), X4),
    ("identity", lambda: nn.Identity(3, k=1), lambda: T.Identity(3, k=1), X4),
    ("softmax", lambda: nn.Softmax(dim=1), lambda: T.Softmax(dim=1), X4),
    ("log_softmax", lambda: nn.LogSoftmax(dim=-1), lambda: T.LogSoftmax(dim=-1), X4),
]

# CELU alpha is a float32 number: torch rounds alpha to float32 in its backward (see F.celu)
ACTS = [("ReLU", {}), ("ReLU6", {}), ("LeakyReLU", dict(negative_slope=0.2)), ("ELU", dict(alpha=0.7)),
        ("SELU", {}), ("CELU", dict(alpha=1.25)), ("GELU", {}), ("GELU", dict(approximate="tanh")), ("SiLU", {}),
        ("Mish", {}), ("Softplus", dict(beta=2.0, threshold=3.0)), ("Softsign", {}),
        ("Hardtanh", dict(min_val=-0.5, max_val=2.0)), ("Hardsigmoid", {}), ("Hardswish", {}), ("Sigmoid", {}),
        ("Tanh", {})]


@pytest.mark.parametrize("name,make,make_t,x", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("train", [True, False])
def test_layer_parity(name, make, make_t, x, train):
    torch.manual_seed(0)
    t = make_t()
    if name.startswith("bn") or name == "instancenorm":
        with torch.no_grad():  # non-trivial running stats and affine parameters
            for v in t.state_dict().values():
                if v.dtype.is_floating_point:
                    v.copy_(torch.rand(v.shape) + 0.5)
    layer_parity(make(), t, x, train=train)


@pytest.mark.parametrize("name,kw", ACTS, ids=[a[0] + str(i) for i, a in enumerate(ACTS)])
def test_activation_layers(name, kw):
    x = away_from_zero(3, 5, 4) * 2.5
    x = np.where(np.isclose(np.abs(x), 3.0, atol=0.05), x + 0.1, x)  # off the hard kinks at +-3
    # torch's float64 hardsigmoid backward multiplies by float32(1/6) (see F.hardsigmoid): 3e-8 relative
    tol = dict(rtol=1e-7, atol=1e-11) if name == "Hardsigmoid" else TOL
    layer_parity(getattr(nn, name)(**kw), getattr(T, name)(**kw), x, tol=tol)


def test_maxout():
    x = distinct(2, 6, 3, 2)
    y = nn.Maxout(3)(cp.Tensor(x))
    np.testing.assert_array_equal(y.data, x.reshape(2, 2, 3, 3, 2).max(axis=2))


def test_multihead_attention_parity():
    torch.manual_seed(0)
    for batch_first in (False, True):
        t = T.MultiheadAttention(8, 2, batch_first=batch_first).double()
        m = nn.MultiheadAttention(8, 2, batch_first=batch_first).double()
        m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
        q, k = randn(5, 3, 8, seed=1), randn(4, 3, 8, seed=2)  # (L, N, E), (S, N, E)
        if batch_first:
            q, k = q.transpose(1, 0, 2).copy(), k.transpose(1, 0, 2).copy()
        mask = np.zeros((3, 4), bool)
        mask[1, 2:] = True
        qc, kc = cp.Tensor(q, requires_grad=True), cp.Tensor(k, requires_grad=True)
        qt, kt = torch.tensor(q, requires_grad=True), torch.tensor(k, requires_grad=True)
        oc, wc = m(qc, kc, kc, key_padding_mask=mask)
        ot, wt = t(qt, kt, kt, key_padding_mask=torch.tensor(mask))
        assert_close(oc.data, ot.detach().numpy(), "mha out", **TOL)
        assert_close(wc.data, wt.detach().numpy(), "mha weights", **TOL)
        gy = np.random.default_rng(3).standard_normal(oc.shape)
        oc.backward(gy)
        ot.backward(torch.from_numpy(gy))
        assert_close(qc.grad.data, qt.grad.numpy(), "mha grad query", **TOL)
        assert_close(kc.grad.data, kt.grad.numpy(), "mha grad key/value", **TOL)
        tp = dict(t.named_parameters())
        for name, p in m.named_parameters():
            assert_close(p.grad.data, tp[name].grad.numpy(), f"mha grad {name}", **TOL)


def test_depthwise_separable_matches_two_torch_convs():
    torch.manual_seed(0)
    t = T.Sequential(T.Conv2d(4, 8, 3, padding=1, groups=4), T.Conv2d(8, 5, 1))
    m = nn.DepthwiseSeparableConv2d(4, 5, 3, padding=1, depth_multiplier=2)
    names = {"depthwise": "0", "pointwise": "1"}
    sd = {k: v.detach().numpy() for k, v in t.double().state_dict().items()}
    m.double().load_state_dict({k: sd[names[k.split(".")[0]] + "." + k.split(".")[1]] for k in m.state_dict()})
    assert_close(m(cp.Tensor(X4)).data, t(torch.tensor(X4)).detach().numpy(), "dwsep", **TOL)
    n_params = sum(p.numel() for p in m.parameters())
    assert n_params == 4 * 2 * 9 + 8 + 8 * 5 + 5


def test_squeeze_excite_and_spatial_gate_against_torch_composition():
    m = nn.SqueezeExcite(8, reduction=4).double()
    x = randn(2, 8, 5, 5)
    w1, b1, w2, b2 = (torch.tensor(p.data) for p in (m.fc1.weight, m.fc1.bias, m.fc2.weight, m.fc2.bias))
    xt = torch.tensor(x)
    s = torch.sigmoid(torch.relu(xt.mean((2, 3)) @ w1.T + b1) @ w2.T + b2)
    assert_close(m(cp.Tensor(x)).data, (xt * s[:, :, None, None]).numpy(), "se", **TOL)
    g = nn.SpatialGate(7).double()
    a = torch.cat([xt.mean(1, keepdim=True), xt.amax(1, keepdim=True)], 1)
    ref = xt * torch.sigmoid(torch.nn.functional.conv2d(a, torch.tensor(g.weight.data), torch.tensor(g.bias.data),
                                                        padding=3))
    assert_close(g(cp.Tensor(x)).data, ref.numpy(), "spatial gate", **TOL)


def test_dropout_layers_train_vs_eval():
    x = cp.ones(4, 3, 5, 5)
    d = nn.Dropout(0.5, rng=np.random.default_rng(0))
    y = d(x).data
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < (y == 0).mean() < 1
    d.eval()
    assert d(x) is x or np.array_equal(d(x).data, x.data)
    d2 = nn.Dropout2d(0.5, rng=np.random.default_rng(0))
    y2 = d2(x).data
    per_channel = y2.reshape(4, 3, -1)
    assert (per_channel.min(-1) == per_channel.max(-1)).all()  # whole channels kept or dropped


def test_max_unpool_layer_round_trip():
    x = cp.Tensor(distinct(1, 2, 4, 4))
    y, idx = nn.MaxPool2d(2, return_indices=True)(x)
    up = nn.MaxUnpool2d(2)(y, idx)
    yt, it = torch.nn.functional.max_pool2d(torch.tensor(x.data), 2, return_indices=True)
    np.testing.assert_array_equal(up.data, torch.nn.functional.max_unpool2d(yt, it, 2).numpy())


@pytest.mark.parametrize("make,match", [
    (lambda: nn.Conv2d(3, 4, 3, groups=2), "divisible by groups"),
    (lambda: nn.Conv2d(2, 4, 3, padding_mode="mirror"), "padding_mode"),
    (lambda: nn.Conv2d(2, 4, 3, padding="full"), "'same' or 'valid'"),
    (lambda: nn.ConvTranspose2d(2, 4, 3, padding_mode="reflect"), "padding_mode='zeros'"),
    (lambda: nn.GroupNorm(3, 4), "divisible by num_groups"),
    (lambda: nn.MultiheadAttention(6, 4), "divisible by num_heads"),
    (lambda: nn.Dropout(1.5), "p must be in"),
    (lambda: nn.Hardtanh(1.0, -1.0), "max_val"),
    (lambda: nn.SpatialGate(4), "odd"),
    (lambda: nn.BatchNorm2d(4)(cp.randn(2, 4)), "expected a 4-D input"),
    (lambda: nn.BatchNorm1d(4)(cp.randn(2, 4, 3, 3)), "expected a 2-D or 3-D input"),
])
def test_layer_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
