"""The graph keeps what ops save, not every intermediate array: nodes hold edges (``Link``) to the
outputs of other ops, so an activation that no op saved is freed during the forward once the caller
drops it, and gradients, broadcasting, dtype casts and ``retain_grad`` work as before."""

import gc
import weakref

import numpy as np
import torch

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.core.function import Link


def _rng(seed=0):
    return np.random.default_rng(seed)


def test_unsaved_intermediate_arrays_are_freed_before_backward():
    rng = _rng()
    x = cp.tensor(rng.standard_normal((4, 3, 8, 8)).astype(np.float32))
    w = cp.tensor(rng.standard_normal((5, 3, 3, 3)).astype(np.float32), requires_grad=True)
    h = F.conv2d(x, w, padding=1)  # ReLU saves its output, not its input
    h_arr = weakref.ref(h.data)
    y = F.relu(h)
    loss = (y * y).sum()
    del h, y
    gc.collect()
    assert h_arr() is None, "the conv output outlived its Tensor although no op saved it"
    loss.backward()
    assert w.grad is not None and np.isfinite(w.grad.numpy()).all()


def test_nodes_hold_links_for_op_outputs_and_tensors_for_leaves():
    a = cp.tensor(_rng().standard_normal((3, 4)), requires_grad=True)
    b = a.exp()
    c = b * a
    node = c._node
    assert isinstance(node.inputs[0], Link) and node.inputs[0]._node is b._node
    assert node.inputs[0].shape == (3, 4) and node.inputs[0].dtype == np.float64
    assert node.inputs[1] is a
    assert node.inputs[0].tensor is b
    del b
    gc.collect()
    assert node.inputs[0].tensor is None  # the edge does not keep the Tensor alive


def test_gradients_through_links_match_torch_with_broadcast_and_retain_grad():
    rng = _rng(1)
    xa, wa = rng.standard_normal((3, 1)), rng.standard_normal((3, 4))
    x = cp.tensor(xa, requires_grad=True)
    w = cp.tensor(wa, requires_grad=True)
    h = (x * 2.0).tanh()          # non-leaf (3, 1), broadcast against (3, 4) below
    h.retain_grad()
    z = (h + w).sigmoid() * h     # h used twice: the two gradients are summed
    z.sum().backward()
    xt = torch.tensor(xa, requires_grad=True)
    wt = torch.tensor(wa, requires_grad=True)
    ht = (xt * 2.0).tanh()
    ht.retain_grad()
    ((ht + wt).sigmoid() * ht).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), ht.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-12)


def test_gradient_is_cast_to_the_linked_inputs_dtype():
    x = cp.tensor(_rng(2).standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    h = x * 3.0                     # float32 non-leaf
    y = (h.double() ** 2).sum()     # the float64 gradient flows back into a float32 edge
    y.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), 18.0 * x.data, rtol=1e-5)


def test_retained_graph_backward_twice_through_links():
    x = cp.tensor(_rng(3).standard_normal(5), requires_grad=True)
    y = (x.exp() * 2.0).sum()
    y.backward(retain_graph=True)
    g1 = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * g1)
