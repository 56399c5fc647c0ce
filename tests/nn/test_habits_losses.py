"""Loss modules vs torch.nn's loss modules built with the same constructor arguments: forward and the
gradient of every differentiable input (float64, a random upstream gradient for reduction='none')."""

import numpy as np
import pytest
import torch

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from parity import assert_close

TOL = dict(rtol=1e-9, atol=1e-11)
R = np.random.default_rng(0)
T = torch.nn
pytestmark = pytest.mark.filterwarnings("ignore:size_average and reduce args")


def _logits(*shape):
    return R.standard_normal(shape)


def _labels(n, c, ignore=None):
    y = R.integers(0, c, size=n)
    if ignore is not None:
        y[::3] = ignore
    return y


def _probs(*shape):
    return R.uniform(0.05, 0.95, size=shape)


def _soft(n, c):
    p = R.uniform(0.1, 1.0, size=(n, c))
    return p / p.sum(1, keepdims=True)


def _logsoftmax(n, c):
    z = R.standard_normal((n, c))
    return z - np.log(np.exp(z).sum(1, keepdims=True))


W4 = np.array([0.5, 2.0, 1.0, 0.25])

# (id, kwargs shared by both constructors, our class, torch class, inputs, which inputs are differentiable)
CASES = [
    ("l1", {}, nn.L1Loss, T.L1Loss, [_logits(3, 4), _logits(3, 4)], (0, 1)),
    ("l1_sum", {"reduction": "sum"}, nn.L1Loss, T.L1Loss, [_logits(3, 4), _logits(3, 4)], (0, 1)),
    ("mse_none", {"reduction": "none"}, nn.MSELoss, T.MSELoss, [_logits(2, 3, 2), _logits(2, 3, 2)], (0, 1)),
    ("smooth_l1_beta", {"beta": 0.3}, nn.SmoothL1Loss, T.SmoothL1Loss, [_logits(5, 3), _logits(5, 3)], (0, 1)),
    ("smooth_l1_legacy", {"size_average": False}, nn.SmoothL1Loss, T.SmoothL1Loss,
     [_logits(5, 3), _logits(5, 3)], (0,)),
    ("huber_delta", {"delta": 0.4, "reduction": "sum"}, nn.HuberLoss, T.HuberLoss,
     [_logits(6, 2), _logits(6, 2)], (0, 1)),
    ("ce", {}, nn.CrossEntropyLoss, T.CrossEntropyLoss, [_logits(6, 4), _labels(6, 4)], (0,)),
    ("ce_all_options", {"weight": W4, "ignore_index": 2, "label_smoothing": 0.15},
     nn.CrossEntropyLoss, T.CrossEntropyLoss, [_logits(7, 4), _labels(7, 4, ignore=2)], (0,)),
    ("ce_spatial_none", {"reduction": "none", "label_smoothing": 0.1}, nn.CrossEntropyLoss, T.CrossEntropyLoss,
     [_logits(2, 4, 3, 2), R.integers(0, 4, size=(2, 3, 2))], (0,)),
    ("ce_soft_targets", {"weight": W4, "reduction": "sum"}, nn.CrossEntropyLoss, T.CrossEntropyLoss,
     [_logits(5, 4), _soft(5, 4)], (0,)),
    ("nll_weight_ignore", {"weight": W4, "ignore_index": 0}, nn.NLLLoss, T.NLLLoss,
     [_logsoftmax(8, 4), _labels(8, 4, ignore=0)], (0,)),
    ("nll_legacy_reduce", {"reduce": False}, nn.NLLLoss, T.NLLLoss, [_logsoftmax(5, 4), _labels(5, 4)], (0,)),
    ("bce_weight", {"weight": R.uniform(0.5, 2.0, size=(3,))}, nn.BCELoss, T.BCELoss,
     [_probs(4, 3), _probs(4, 3)], (0,)),
    ("bce_logits_pos_weight", {"pos_weight": np.array([0.5, 3.0, 1.5]), "reduction": "sum"},
     nn.BCEWithLogitsLoss, T.BCEWithLogitsLoss, [_logits(4, 3), _probs(4, 3)], (0,)),
    ("bce_logits_weight_none", {"weight": R.uniform(0.5, 2.0, size=(4, 1)), "reduction": "none"},
     nn.BCEWithLogitsLoss, T.BCEWithLogitsLoss, [_logits(4, 3), _probs(4, 3)], (0,)),
    ("kl_batchmean", {"reduction": "batchmean"}, nn.KLDivLoss, T.KLDivLoss, [_logsoftmax(4, 5), _soft(4, 5)], (0, 1)),
    ("kl_log_target", {"log_target": True, "reduction": "sum"}, nn.KLDivLoss, T.KLDivLoss,
     [_logsoftmax(4, 5), _logsoftmax(4, 5)], (0, 1)),
    ("multi_margin_p2", {"p": 2, "margin": 0.7, "weight": W4}, nn.MultiMarginLoss, T.MultiMarginLoss,
     [_logits(6, 4), _labels(6, 4)], (0,)),
    ("cosine_embedding", {"margin": 0.2, "reduction": "none"}, nn.CosineEmbeddingLoss, T.CosineEmbeddingLoss,
     [_logits(5, 3), _logits(5, 3), np.array([1, -1, 1, -1, -1])], (0, 1)),
]


def _torch_arg(v):
    if isinstance(v, np.ndarray):
        return torch.from_numpy(v.copy())
    return v


@pytest.mark.parametrize("name,kw,ours_cls,theirs_cls,inputs,diff", CASES, ids=[c[0] for c in CASES])
def test_loss_module_matches_torch(name, kw, ours_cls, theirs_cls, inputs, diff):
    ours = ours_cls(**kw)
    theirs = theirs_cls(**{k: _torch_arg(v) for k, v in kw.items()})
    xs = [cp.Tensor(a.copy(), requires_grad=i in diff) if a.dtype.kind == "f" else a for i, a in enumerate(inputs)]
    ts = [torch.tensor(a.copy(), requires_grad=i in diff) if a.dtype.kind == "f" else torch.from_numpy(a)
          for i, a in enumerate(inputs)]
    yc, yt = ours(*xs), theirs(*ts)
    assert_close(yc.data, yt.detach().numpy(), f"{name} forward", **TOL)
    gy = np.asarray(np.random.default_rng(1).standard_normal(yc.shape) + 2.0)
    yc.backward(gy)
    yt.backward(torch.from_numpy(gy))
    for i in diff:
        assert_close(xs[i].grad.data, ts[i].grad.numpy(), f"{name} grad of input {i}", **TOL)


def test_weights_are_buffers_and_follow_dtype():
    ce = nn.CrossEntropyLoss(weight=[1, 2, 3])  # ints become float, as a float buffer
    assert set(ce.state_dict()) == {"weight"} == set(T.CrossEntropyLoss(weight=torch.ones(3)).state_dict())
    ce.double()
    assert ce.weight.dtype == np.float64
    bce = nn.BCEWithLogitsLoss(pos_weight=np.ones(2))
    assert set(bce.state_dict()) == {"pos_weight"}
    assert "reduction='sum'" in repr(nn.MSELoss(reduction="sum"))


@pytest.mark.parametrize("gamma", [0.0, 1.5])
def test_focal_modules_forward_to_the_functional_ops(gamma):
    x = _logits(5, 4)
    y = _labels(5, 4, ignore=1)
    a = np.array([0.25, 0.5, 1.0, 2.0])
    xc = cp.Tensor(x, requires_grad=True)
    ref = cp.Tensor(x, requires_grad=True)
    got = nn.SoftmaxFocalLoss(alpha=a, gamma=gamma, ignore_index=1, reduction="sum")(xc, y)
    want = F.softmax_focal_loss(ref, y, alpha=a, gamma=gamma, ignore_index=1, reduction="sum")
    got.backward()
    want.backward()
    np.testing.assert_allclose(got.data, want.data, rtol=1e-12)
    np.testing.assert_allclose(xc.grad.data, ref.grad.data, rtol=1e-12)
    t = _probs(5, 4).round()
    s = nn.SigmoidFocalLoss(alpha=0.25, gamma=gamma)(cp.Tensor(x), t)
    np.testing.assert_allclose(s.data, F.sigmoid_focal_loss(cp.Tensor(x), t, alpha=0.25, gamma=gamma).data,
                               rtol=1e-12)


def test_focal_gamma_zero_is_cross_entropy_in_torch():
    x, y = _logits(6, 3), _labels(6, 3)
    got = nn.SoftmaxFocalLoss(gamma=0.0)(cp.Tensor(x), y).item()
    want = T.CrossEntropyLoss()(torch.from_numpy(x), torch.from_numpy(y)).item()
    assert abs(got - want) < 1e-12


@pytest.mark.parametrize("make,msg", [
    (lambda: nn.MSELoss(reduction="avg"), "MSELoss: reduction must be one of"),
    (lambda: nn.CrossEntropyLoss(reduction="batchmean"), "CrossEntropyLoss: reduction"),
    (lambda: nn.MultiMarginLoss(p=3), "MultiMarginLoss: p must be 1 or 2"),
    (lambda: nn.SoftmaxFocalLoss(gamma=-1), "SoftmaxFocalLoss: gamma must be >= 0"),
    (lambda: nn.BCELoss(weight=np.array(["a"])), "BCELoss: weight must be a numeric"),
])
def test_bad_constructor_arguments(make, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        make()


def test_ce_module_on_wrong_target_names_the_op():
    with pytest.raises(TypeError, match="cross_entropy: class-index target must have an integer dtype"):
        nn.CrossEntropyLoss()(cp.Tensor(_logits(3, 4)), np.array([0.0, 1.0, 2.0]))
