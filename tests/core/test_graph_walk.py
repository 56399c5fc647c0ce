"""The public graph walk (issue 28 point 6: q16 and q31 no longer read the engine's private graph)."""

import numpy as np
import pytest

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.core import graph


def test_walk_orders_producers_first_and_names_ops_inputs_and_shapes():
    x = cp.tensor(np.ones((2, 1, 6, 6), np.float32))
    conv = nn.Conv2d(1, 3, 3)
    h = F.relu(conv(x))
    y = F.max_pool2d(h, 2).reshape(2, -1)
    loss = (y + y).sum()
    nodes = graph.walk(loss)
    assert [n.op for n in nodes] == ["conv2d", "relu", "maxpool2d", "reshape", "add", "sum"]
    c = nodes[0]
    assert c.gemm and not c.view and c.out_shapes == ((2, 3, 4, 4),)
    leaves = [i for i in c.inputs if isinstance(i, graph.Leaf)]
    assert leaves[0].tensor is x and {id(p) for p in (conv.weight, conv.bias)} <= {id(i.tensor) for i in leaves}
    assert nodes[3].view and nodes[4].inputs == [nodes[3], nodes[3]]
    readers = graph.consumers(nodes)
    assert readers[id(nodes[3])] == [nodes[4], nodes[4]] and readers[id(nodes[5])] == []
    assert nodes[1].saved_shapes == ((2, 3, 4, 4),)  # relu keeps its output for the backward mask
    assert nodes[5].saved_shapes == ()  # sum keeps nothing


def test_walk_several_outputs_shares_nodes_and_reads_a_freed_graph():
    a = cp.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    u, v = b.exp(), b.log()
    nodes = graph.walk((u, [v]))
    assert sorted(n.op for n in nodes) == ["exp", "log", "mul"] and nodes[0].op == "mul"
    (u.sum() + v.sum()).backward()
    after = graph.walk(u)
    assert [n.op for n in after] == ["mul", "exp"] and after[1].saved_shapes == ()


def test_walk_of_a_leaf_is_empty_and_bad_input_is_refused():
    assert graph.walk(cp.tensor([1.0])) == []
    with pytest.raises(TypeError, match="graph.walk: expects Tensors"):
        graph.walk(np.ones(2))
