"""Autograd semantics: graph shapes, accumulation, modes, freeing, errors, anomaly mode."""

import numpy as np
import pytest
import torch

import cvprimer as cp


def test_diamond_sums_both_paths():
    x = cp.tensor([1.5, -2.0], requires_grad=True)
    a = x * 3
    y = (a * a + a.exp()).sum()  # a used twice, then a third time
    y.backward()
    tx = torch.tensor([1.5, -2.0], requires_grad=True)
    ta = tx * 3
    (ta * ta + ta.exp()).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_same_leaf_used_as_both_operands():
    x = cp.tensor([3.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.item() == pytest.approx(6.0)


def test_deep_chain_has_no_recursion_limit():
    x = cp.tensor(np.array([0.5]), requires_grad=True)  # float64: the expected value is exact
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    assert x.grad.item() == pytest.approx(1.0001**10_000, rel=1e-4)


def test_gradients_accumulate_across_backward_calls():
    x = cp.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])
    x.zero_grad()
    assert x.grad is None


def test_leaf_grads_do_not_alias_each_other():
    # add's backward hands the same upstream array to both inputs; accumulating into one
    # leaf must not change the other
    a = cp.tensor([1.0], requires_grad=True)
    b = cp.tensor([1.0], requires_grad=True)
    (a + b).sum().backward()
    (a * 5).sum().backward()
    assert b.grad.item() == 1.0 and a.grad.item() == 6.0


def test_no_grad_records_nothing_and_restores_mode():
    x = cp.tensor([1.0], requires_grad=True)
    with cp.no_grad():
        y = x * 2
        assert not cp.is_grad_enabled()
        with cp.enable_grad():
            z = x * 2
    assert cp.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad


def test_no_grad_as_decorator():
    @cp.no_grad()
    def f(t):
        return t * 2

    assert not f(cp.tensor([1.0], requires_grad=True)).requires_grad


def test_detach_cuts_the_graph():
    x = cp.tensor([2.0], requires_grad=True)
    y = x * 3
    z = y.detach() * x
    z.sum().backward()
    assert x.grad.item() == pytest.approx(6.0)  # only the direct path
    assert not y.detach().requires_grad


def test_second_backward_refused_unless_retained():
    x = cp.tensor([2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    tx = torch.tensor([2.0], requires_grad=True)
    ty = (tx.exp() * tx).sum()
    ty.backward(retain_graph=True)
    ty.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_backward_on_non_scalar_needs_grad():
    x = cp.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"only for scalar outputs; got shape \(2,\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\), expected the output's shape \(2,\)"):
        y.backward(np.ones(3))
    y.backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 20.0])


def test_backward_without_graph_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cp.tensor([1.0]).sum().backward()


def test_retain_grad_on_intermediate():
    x = cp.tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.data)


def test_float64_stays_float64_and_grads_match_dtype():
    x = cp.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * 2.0 + 1).exp().sum()
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float64
    f = cp.tensor([1.0, 2.0], requires_grad=True)
    assert f.dtype == np.float32
    (f.double() * 3).sum().backward()
    assert f.grad.dtype == np.float32 and np.allclose(f.grad.numpy(), 3)


def test_anomaly_mode_names_the_op_in_forward_and_backward():
    x = cp.tensor([-1.0, 4.0], requires_grad=True)
    with cp.detect_anomaly(), pytest.raises(cp.AnomalyError, match=r"log: forward produced a non-finite"):
        cp.log(x)
    y = cp.sqrt(cp.tensor([0.0, 4.0], requires_grad=True)).sum()
    with cp.detect_anomaly(), pytest.raises(cp.AnomalyError, match=r"sqrt: backward produced a non-finite"):
        y.backward()
    cp.log(x)  # off by default: NaN passes silently, as in PyTorch


def test_repr_and_item():
    t = cp.tensor([[1.0, 2.0]], requires_grad=True)
    assert "requires_grad=True" in repr(t)
    assert "grad_fn=<MulFn>" in repr(t * 2)
    assert cp.tensor([3.5]).item() == 3.5
    with pytest.raises(ValueError, match="only one-element tensors"):
        t.item()
    with pytest.raises(RuntimeError, match="detach"):
        t.numpy()


def test_setitem_refused_on_graph_tensors_allowed_otherwise():
    t = cp.zeros(3)
    t[1] = 5.0
    assert t.tolist() == [0.0, 5.0, 0.0]
    g = cp.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place assignment"):
        g[0] = 1.0
    with cp.no_grad():
        g[0] = 1.0
    assert g.data[0] == 1.0


def test_reflected_operators_with_numpy_arrays():
    x = cp.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([2.0, 3.0], dtype=np.float32) * x + np.ones(2, np.float32)
    assert isinstance(y, cp.Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 3.0])


def test_comparisons_give_bool_tensors_without_grad():
    x = cp.tensor([1.0, -2.0], requires_grad=True)
    m = x > 0
    assert m.dtype == np.bool_ and not m.requires_grad
    assert cp.where(m, x, 0.0).sum().item() == 1.0


def test_observe_ops_sees_every_op_with_shapes():
    from cvprimer.core.function import observe_ops

    seen = []
    with observe_ops(lambda cls, call: seen.append((cls.__name__, [o.shape for o in call.outputs]))):
        (cp.randn(2, 3) @ cp.randn(3, 4)).relu().sum()
    assert seen == [("MatMulFn", [(2, 4)]), ("ReLUFn", [(2, 4)]), ("SumFn", [()])]


def test_shape_only_mode_skips_arithmetic_for_ops_with_infer():
    from cvprimer.core.call import Call
    from cvprimer.core.function import shape_only
    from cvprimer.core.ops.linalg import MatMulFn

    a = cp.Tensor(np.broadcast_to(np.zeros((), np.float32), (2, 5, 1000, 3000)))
    b = cp.Tensor(np.broadcast_to(np.zeros((), np.float32), (3000, 7)))
    with shape_only():
        y = a @ b
    assert y.shape == (2, 5, 1000, 7) and y.data.strides == (0, 0, 0, 0)
    for sa, sb in [((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 1, 3, 4), (5, 4, 2))]:
        with shape_only():
            meta = (cp.zeros(*sa) @ cp.zeros(*sb)).shape
        assert meta == (cp.zeros(*sa) @ cp.zeros(*sb)).shape
    c = MatMulFn.cost(Call((np.zeros((2, 3, 4)), np.zeros((4, 5))), outputs=(np.zeros((2, 3, 5), np.float32),)))
    assert c.macs == c["macs"] == 2 * 3 * 5 * 4 and c.bytes == 4 * (24 + 20 + 30)
