"""Tensor's methods come by inheritance (issue 28 point 4): every public method and operator is declared on a
mixin class of ``core.tensor_methods`` (visible to a type checker), none is attached later with setattr, and
each gives what its function gives. Also: the activation names that ``F`` and ``nn`` generate at import time
are declared statically for the checker, and that static list equals the registry's."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest
import torch

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.core import tensor_methods
from cvprimer.core.tensor import Tensor
from cvprimer.functional.activation import registry
from cvprimer.nn.layers.activation import LAYERS

SRC = Path(cp.__file__).resolve().parent

MIXINS = [c for c in Tensor.__mro__ if c.__module__ == tensor_methods.__name__]
# what each mixin must provide (a sample of PyTorch's Tensor API, operators included)
EXPECTED = (
    "__add__ __radd__ __sub__ __rsub__ __mul__ __rmul__ __truediv__ __rtruediv__ __floordiv__ __rfloordiv__ "
    "__pow__ __rpow__ __matmul__ __rmatmul__ __neg__ __abs__ __getitem__ __lt__ __le__ __gt__ __ge__ eq ne "
    "add sub mul div pow matmul exp log sqrt abs sign clamp clip relu sigmoid tanh maximum minimum sum mean max "
    "min amax amin argmax argmin var std logsumexp reshape view permute transpose t T flatten squeeze unsqueeze "
    "expand broadcast_to split chunk astype clone add_ sub_ mul_ div_ pow_ clamp_ clip_ neg_ abs_ exp_ log_ "
    "sqrt_ relu_ sigmoid_ tanh_ zero_ fill_ copy_ to cpu cuda device is_cuda type_as is_floating_point "
    "element_size nelement new_tensor new_full new_zeros new_ones new_empty float double half long int short "
    "bool byte char register_hook register_post_accumulate_grad_hook"
).split()


def test_every_method_is_declared_on_a_mixin_class() -> None:
    assert len(MIXINS) == 8
    declared = {name: c for c in MIXINS for name in vars(c)}
    missing = [n for n in EXPECTED if n not in declared]
    assert missing == []
    # Tensor's attribute lookup finds the mixin's own definition (nothing replaced it on Tensor later)
    for n in EXPECTED:
        assert inspect.getattr_static(Tensor, n) is vars(declared[n])[n], n
        assert n not in vars(Tensor), f"{n} is set on Tensor itself"


def test_no_setattr_binding_left_in_core() -> None:
    for f in ("api.py", "inplace.py", "device.py", "tensor_hooks.py", "tensor.py", "tensor_methods.py"):
        text = (SRC / "core" / f).read_text()
        assert "setattr(T" not in text and "def _bind" not in text, f
        assert "Tensor." + "register_hook =" not in text


def test_mixins_keep_tensor_slotted() -> None:
    assert all(vars(c).get("__slots__") == () for c in MIXINS)
    with pytest.raises(AttributeError):
        cp.tensor([1.0]).some_new_attribute = 1  # type: ignore[attr-defined]


def test_methods_match_pytorch() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32) + 3.0
    x, y = cp.tensor(a, requires_grad=True), cp.tensor(b)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b)
    cases = [  # (torch has no derivative for //: it is applied to a detached tensor)
        (lambda u, v: (2 - u) * v / 3 + u ** 2, None),
        (lambda u, v: (u.detach() // 0.5) + (-u).abs(), None),
        (lambda u, v: u @ v.T + 1, None),
        (lambda u, v: u.clamp(-0.5, 0.5).relu().sum(1), None),
        (lambda u, v: u.max(1).values + u.amin(0, keepdim=True).mean(), None),
        (lambda u, v: u.reshape(4, 3).transpose(0, 1).flatten()[2:7], None),
        (lambda u, v: u.view(2, 6).unsqueeze(0).squeeze(0).std(1) + u.logsumexp(1).sum(), None),
        (lambda u, v: u.double().float() * (u > 0).float(), None),
    ]
    for f, _ in cases:
        ours, theirs = f(x, y), f(tx, ty)
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-5, atol=1e-5)
        x.grad, tx.grad = None, None


def test_inplace_device_and_hook_methods() -> None:
    t = cp.tensor([1.0, -2.0, 3.0])
    assert t.add_(1).mul_(2).clamp_(max=5.0) is t
    np.testing.assert_array_equal(t.data, [4.0, -2.0, 5.0])
    assert t.to(cp.float64).dtype == np.float64 and t.long().dtype == np.int64 and t.bool().dtype == bool
    assert t.new_zeros(2, 3).shape == (2, 3) and t.nelement() == 3 and str(t.device) == "cpu" and not t.is_cuda
    w = cp.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_hook(lambda g: seen.append(g.data.copy()))
    (w * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])


def _type_checking_names(path: Path) -> set[str]:
    """The names a module binds inside its ``if TYPE_CHECKING:`` blocks."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in ast.walk(node):
                if isinstance(stmt, ast.ImportFrom):
                    names |= {a.asname or a.name for a in stmt.names}
    return names


def test_static_activation_names_equal_the_registry() -> None:
    registered = {n for rec in registry.records() for n in (rec.name, *rec.aliases)}
    assert {"relu", "gelu", "softmax", "swish"} <= registered
    assert _type_checking_names(SRC / "functional" / "__init__.py") >= registered
    assert _type_checking_names(SRC / "functional" / "activation" / "__init__.py") >= registered
    layers = _type_checking_names(SRC / "nn" / "__init__.py")
    assert {"ReLU", "GELU", "PReLU"} <= set(LAYERS)
    assert {n for n in layers if n in LAYERS or n[0].isupper()} >= set(LAYERS)
    # and nothing declared that the registry no longer has
    static_acts = {n for n in _type_checking_names(SRC / "functional" / "__init__.py")}
    assert static_acts == registered
    assert layers == set(LAYERS)
    for n in registered:
        assert callable(getattr(F, n))
    for n in LAYERS:
        assert getattr(nn, n) is LAYERS[n]
