"""q31 (a page): the graph walker, the layered drawing and the input-dependent control flow."""

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.lab.experiments.q31_pytorch_vs_tensorflow import PyTorchVsTensorFlow as E
from cvprimer.lab.experiments.q31_pytorch_vs_tensorflow import (
    count_nodes,
    draw_graph,
    halve_until_small,
    record_graph,
)


def test_page_declaration():
    E.check()
    assert E.kind == "page" and "tf.function" in E.t("body", "en") and "tf.function" in E.t("body", "zh")


def test_record_graph_of_a_two_layer_net():
    cp.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    names = {id(p): n for n, p in m.named_parameters()}
    loss = F.cross_entropy(m(cp.tensor(np.ones((2, 4), np.float32))), cp.tensor(np.array([0, 1])))
    g = record_graph(loss, names)
    ops = sorted(n.label.split(" ")[0] for n in g if n.kind == "op")
    assert ops == ["crossentropy", "linear", "linear", "relu"]
    assert sorted(n.label.split("\n")[0] for n in g if n.kind == "param") == ["0.bias", "0.weight", "2.bias",
                                                                              "2.weight"]
    assert sum(n.kind == "input" for n in g) == 1
    by_label = {n.label.split("\n")[0]: n for n in g}
    assert by_label["input"].depth == 4 and "saves 2x8" in by_label["relu -> 2x8"].label
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    draw_graph(ax, g)
    assert sum(bool(t.get_text()) for t in ax.texts) == len(g)  # one box per node (arrows are empty)
    plt.close(fig)


def test_control_flow_changes_the_graph():
    small = cp.tensor(np.array([0.5, -0.2], np.float32), requires_grad=True)
    big = cp.tensor(np.array([5.0, 1.0], np.float32), requires_grad=True)
    assert count_nodes(halve_until_small(small)) == 2  # mul (square) and sum
    assert count_nodes(halve_until_small(big)) == 2 + 3  # three halvings first


def _torch_nodes(fn) -> int:
    """Op nodes torch's define-by-run autograd records behind ``fn()`` (leaf accumulators not counted)."""
    seen, stack = set(), [fn().grad_fn]
    while stack:
        n = stack.pop()
        if n is None or n in seen:
            continue
        seen.add(n)
        stack.extend(m for m, _ in n.next_functions)
    return sum(type(n).__name__ != "AccumulateGrad" for n in seen)


def test_run_counts_match_torch():
    """The demo's node counts, recomputed by running the same function on torch tensors and walking torch's graph;
    the table caption is built from them."""
    import torch

    from cvprimer.lab.experiments.q31_pytorch_vs_tensorflow import LARGE_INPUT, SMALL_INPUT
    from labcheck import run_tiny

    res = run_tiny(E)
    f = res.values()
    for key, inp in (("loop_nodes_small_input", SMALL_INPUT), ("loop_nodes_large_input", LARGE_INPUT)):
        def fn(inp=inp):
            h = torch.tensor(inp, requires_grad=True)
            while float(h.detach().abs().max()) > 1.0:
                h = h * 0.5
            return (h * h).sum()
        assert f[key] == _torch_nodes(fn)
    cap = res.tables[0].caption
    assert f"{int(f['loop_nodes_large_input'])} for the second" in cap["en"] and "differ" in cap["en"]
    assert f["graph_op_nodes"] == 4 and f["graph_leaves"] == 5
