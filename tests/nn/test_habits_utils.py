"""nn.utils vs torch.nn.utils: gradient clipping (one implementation behind both import paths) and
parameters_to_vector / vector_to_parameters."""

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer import nn, optim
from parity import assert_close


def test_one_clip_implementation_two_paths():
    assert optim.clip_grad_norm_ is nn.utils.clip_grad_norm_
    assert optim.clip_grad_value_ is nn.utils.clip_grad_value_


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_matches_torch_and_returns_a_loggable_norm(norm_type):
    rng = np.random.default_rng(0)
    gs = [rng.standard_normal(s) * 5 for s in [(3, 4), (6,)]]
    ours = [cp.Tensor(np.zeros_like(g), requires_grad=True) for g in gs]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in gs]
    for p, q, g in zip(ours, theirs, gs, strict=True):
        p.grad, q.grad = cp.Tensor(g.copy()), torch.tensor(g.copy())
    total = nn.utils.clip_grad_norm_(ours, 1.5, norm_type=norm_type, foreach=None)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, 1.5, norm_type=norm_type)
    assert abs(total.item() - total_t.item()) < 1e-10 * total_t.item()  # .item() as PyTorch users log it
    for p, q in zip(ours, theirs, strict=True):
        assert_close(p.grad.data, q.grad.numpy(), "clipped grad", rtol=1e-10, atol=1e-12)


def test_parameters_to_vector_and_back_match_torch():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)).double()
    ours = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    v, vt = nn.utils.parameters_to_vector(ours.parameters()), torch.nn.utils.parameters_to_vector(tm.parameters())
    assert_close(v.data, vt.detach().numpy(), "vector", rtol=0, atol=0)
    gy = np.random.default_rng(1).standard_normal(v.shape)
    (v * cp.Tensor(gy)).sum().backward()  # differentiable: each parameter's grad is its slice of gy
    (vt * torch.from_numpy(gy)).sum().backward()
    for (n, p), (_, q) in zip(ours.named_parameters(), tm.named_parameters(), strict=True):
        assert_close(p.grad.data, q.grad.numpy(), f"grad {n}", rtol=0, atol=0)
    new = np.arange(v.shape[0], dtype=np.float64)
    nn.utils.vector_to_parameters(cp.Tensor(new), ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.from_numpy(new), tm.parameters())
    for (n, p), (_, q) in zip(ours.named_parameters(), tm.named_parameters(), strict=True):
        assert_close(p.data, q.detach().numpy(), f"value {n}", rtol=0, atol=0)
        assert p.data.dtype == np.float64


def test_vector_to_parameters_checks_the_length():
    m = nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"vector_to_parameters: vec of shape \(5,\) does not match .* 6 elements"):
        nn.utils.vector_to_parameters(cp.Tensor(np.zeros(5, np.float32)), m.parameters())
