"""Question 31: PyTorch vs TensorFlow — a page on define-by-run vs graph-first, with a live demo.

Demo on our define-by-run engine: the autograd graph recorded while a small network computes its loss,
walked from the loss with the public graph walk (:func:`cvprimer.core.graph.walk`: ops, inputs, shapes) and drawn
as a layered figure (PNG for the report, SVG beside it) with op names, output shapes and what each node saved
for backward; then Python control flow (a loop whose trip count depends on the input) gives graphs of
different sizes for two inputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.core import graph as autograd_graph
from cvprimer.lab.experiment import Context, Experiment, Figure, Result, Table
from cvprimer.lab.plots import tr, tr_table

# the Chinese of this module's fixed plot text (the Chinese copy of each plot shows it; plots.tr_table)
PLOT_ZH = tr_table({
    "Autograd graph recorded for cross_entropy(Linear(4,8) -> ReLU -> Linear(8,3))":
        "为交叉熵(Linear(4,8) -> ReLU -> Linear(8,3)) 记录的自动求导计算图",
})


@dataclass
class GraphNode:
    """One box of the drawn graph: an op node or a leaf tensor."""

    key: int
    label: str
    kind: str  # "op", "param" or "input"
    parents: list[int] = field(default_factory=list)  # keys of the nodes whose outputs this one consumes
    depth: int = 0  # distance from the loss


def _shape(s: Any) -> str:
    return "x".join(map(str, s)) if len(s) else "scalar"


def record_graph(loss: Any, names: dict[int, str] | None = None) -> list[GraphNode]:
    """The graph behind ``loss``, read through the public walk :func:`cvprimer.core.graph.walk`, as
    :class:`GraphNode` s: op nodes labelled ``name -> shape`` and ``saves ...``, leaves labelled with the
    parameter name (``names``: id(param) -> name) or ``input``; ``depth`` is the longest distance from the loss."""
    names = names or {}
    ops = autograd_graph.walk(loss)
    nodes: dict[int, GraphNode] = {}
    for n in ops:
        label = f"{n.op} -> {_shape(n.out_shapes[0])}"
        if n.saved_shapes:
            label += "\nsaves " + ", ".join(_shape(s) for s in n.saved_shapes)
        nodes[id(n)] = GraphNode(id(n), label, "op")
    for n in ops:
        for i in n.inputs:
            if isinstance(i, autograd_graph.OpNode):
                nodes[id(n)].parents.append(id(i))
            elif isinstance(i, autograd_graph.Leaf):
                if id(i) not in nodes:
                    name = names.get(id(i.tensor))
                    nodes[id(i)] = GraphNode(id(i), f"{name or 'input'}\n{_shape(i.shape)}",
                                             "param" if name else "input")
                nodes[id(n)].parents.append(id(i))
    root = nodes[id(ops[-1])]
    frontier = [root]
    while frontier:  # longest path from the loss (the graph is a DAG)
        nxt = []
        for g in frontier:
            for p in g.parents:
                if nodes[p].depth < g.depth + 1:
                    nodes[p].depth = g.depth + 1
                    nxt.append(nodes[p])
        frontier = nxt
    return list(nodes.values())


def draw_graph(ax: Any, graph: list[GraphNode]) -> None:
    """Draw ``graph`` on a matplotlib axis: one column per depth (inputs left, loss right), boxes and arrows
    in the forward direction."""
    depth = max(g.depth for g in graph)
    cols: dict[int, list[GraphNode]] = {}
    for g in sorted(graph, key=lambda g: (g.kind != "op", g.label)):
        cols.setdefault(depth - g.depth, []).append(g)
    pos = {}
    for c, members in cols.items():
        for r, g in enumerate(members):
            pos[g.key] = (c, (len(members) - 1) / 2 - r)
    colors = {"op": "#dbe9f6", "param": "#fde2c4", "input": "#d9f0d3"}
    for g in graph:
        x, y = pos[g.key]
        for p in g.parents:
            px, py = pos[p]
            ax.annotate("", xy=(x - 0.36, y), xytext=(px + 0.36, py),
                        arrowprops=dict(arrowstyle="->", color="#555555", lw=1.0))
        label_zh = g.label.replace("\nsaves ", "\n保存 ").replace("scalar", "标量")
        label_zh = "输入" + label_zh[len("input"):] if g.kind == "input" else label_zh
        ax.text(x, y, tr(g.label, label_zh), ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round,pad=0.35", fc=colors[g.kind], ec="#333333", lw=0.8))
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(-0.6, depth + 0.6)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    ax.set_axis_off()


def count_nodes(loss: Any) -> int:
    """Number of op nodes recorded behind ``loss``."""
    return sum(g.kind == "op" for g in record_graph(loss))


def halve_until_small(x: Any) -> Any:
    """Python control flow inside the forward pass: halve ``x`` while its largest magnitude exceeds 1, then
    return the sum of squares. The loop runs a different number of times for different inputs, so every
    call records a different graph."""
    h = x
    while float(np.abs(h.detach().numpy()).max()) > 1.0:
        h = h * 0.5
    return (h * h).sum()


SMALL_INPUT, LARGE_INPUT = (0.3, -0.8, 0.5), (6.0, -3.0, 2.0)  # the two inputs of the control-flow demo


class PyTorchVsTensorFlow(Experiment):
    id = "q31-pytorch-vs-tensorflow"
    questions = (31,)
    topic = "beyond"
    kind = "page"
    stochastic = False
    key_term = {"en": "eager execution versus graph compilation", "zh": "即时执行与图编译"}
    answer = {"en": "The dynamic-versus-static contrast is out of date: both frameworks now run eagerly by default "
                "and both trace graphs on request (torch.compile, tf.function). Answer with defaults and "
                "ecosystems: PyTorch leads in research code, TensorFlow has a long deployment story.",
              "zh": "“动态图对静态图”的对比已经过时：两个框架现在默认都是即时执行，也都能按需追踪成图（"
                "torch.compile、tf.function）。回答时讲默认行为和生态：PyTorch 在研究代码中占主导，"
                "TensorFlow 的部署工具链历史更长。"}
    text = {
        "en": {
            "title": "PyTorch vs TensorFlow: building the graph while running, or before",
            "claim": "PyTorch builds its computation graph dynamically while the code runs, whereas TensorFlow "
                     "first defines a static graph and then executes it.",
            "method": "On our own define-by-run engine: record the autograd graph of a two-layer network's "
                      "cross-entropy loss, walk it from the loss through each tensor's grad-function node and "
                      "draw it (op names, output shapes, arrays saved for backward); then run a function whose "
                      "Python loop count depends on the input on two inputs and count the recorded nodes.",
            "body": "The classic contrast is define-by-run against define-then-run. PyTorch (and Chainer before "
                    "it, and this library) records the graph as the Python code executes: every operation on a "
                    "tensor that needs a gradient creates a node that remembers its inputs and what it must keep "
                    "for backward, and the graph is thrown away after backward. Ordinary Python if statements, "
                    "loops and debuggers therefore just work, and the graph can differ from one input to the "
                    "next.\n\n"
                    "TensorFlow 1 asked the user to describe a graph first (placeholders, then a session that "
                    "runs it), which let the framework optimize and deploy the whole graph but made control flow "
                    "and debugging awkward. TensorFlow 2 made eager execution the default, so day-to-day code "
                    "now looks much like PyTorch, and the graph comes back on request: tf.function traces a "
                    "Python function into a graph (retracing when input signatures change), and PyTorch 2's "
                    "torch.compile captures graphs from eager code too (TorchScript and torch.fx before it).\n\n"
                    "So the honest answer today is not static against dynamic but defaults and ecosystems: both "
                    "run eagerly by default and both can compile. PyTorch dominates research code; TensorFlow, "
                    "with Keras, TF Lite and TF Serving, has a long deployment story, while PyTorch's export "
                    "and ONNX paths have narrowed that gap. The figure below is the graph our engine records "
                    "for one call; the table counts the nodes it records for two inputs of one function with a "
                    "Python loop.",
        },
        "zh": {
            "title": "PyTorch 与 TensorFlow：边运行边建图，还是先建图再运行",
            "claim": "PyTorch 在代码运行时动态构建计算图，而 TensorFlow 先定义静态图再执行。",
            "method": "在我们自己的动态图（define-by-run）引擎上：记录一个两层网络交叉熵损失的自动求导图，"
                      "从损失出发沿每个张量的梯度函数节点遍历并画出来（算子名、输出形状、为反向传播保存的数组）；"
                      "再让一个循环次数取决于输入的 Python 函数分别处理两个输入，统计记录下的节点数。",
            "body": "经典的对比是“边运行边定义”与“先定义后运行”。PyTorch（更早的 Chainer，以及本库）"
                    "在 Python 代码执行时记录计算图：每个需要梯度的张量运算都会生成一个节点，"
                    "记住它的输入以及反向传播需要保留的内容，反向传播结束后图就被丢弃。"
                    "因此普通的 Python if 语句、循环和调试器都能直接使用，而且每个输入得到的图都可以不同。\n\n"
                    "TensorFlow 1 要求用户先描述一张图（占位符，再用会话去运行），"
                    "这让框架可以对整张图做优化和部署，但控制流和调试都很别扭。"
                    "TensorFlow 2 把即时执行（eager）设为默认，日常代码已经和 PyTorch 很像；"
                    "需要时再把图找回来：tf.function 把 Python 函数追踪成图（输入签名变化时会重新追踪），"
                    "PyTorch 2 的 torch.compile 也能从即时执行的代码中捕获图（在它之前有 TorchScript 和 "
                    "torch.fx）。\n\n"
                    "所以如今更准确的回答不是“静态对动态”，而是默认方式和生态的差别："
                    "两者默认都是即时执行，也都能编译。PyTorch 在研究代码中占主导；TensorFlow 借助 Keras、"
                    "TF Lite 和 TF Serving 在部署上积累更久，而 PyTorch 的导出和 ONNX 路线已经缩小了差距。"
                    "下图是我们的引擎一次调用所记录的计算图；表格统计了同一个带 Python 循环的函数在两个输入上"
                    "所记录的节点数。",
        },
    }

    # the report's figure labels (patterns: cvprimer.lab.report.zh)
    labels = {
        "loop_nodes_{s}_input": {"en": "graph nodes recorded by a data-dependent loop, {s} input",
                                 "zh": "依赖数据的循环记录的图节点数（{s}输入）"},
    }
    terms = {
        "small": {"en": "small", "zh": "小"},
        "large": {"en": "large", "zh": "大"},
    }

    def measure(self, ctx: Context) -> Result:
        cp.manual_seed(ctx.seed)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        names = {id(p): name for name, p in model.named_parameters()}
        x = cp.tensor(ctx.rng.standard_normal((2, 4)).astype(np.float32))
        loss = F.cross_entropy(model(x), cp.tensor(np.array([0, 2])))
        graph = record_graph(loss, names)
        small_x, large_x = np.array(SMALL_INPUT, np.float32), np.array(LARGE_INPUT, np.float32)
        small, large = cp.tensor(small_x, requires_grad=True), cp.tensor(large_x, requires_grad=True)
        n_small, n_large = count_nodes(halve_until_small(small)), count_nodes(halve_until_small(large))
        ops = sum(g.kind == "op" for g in graph)
        leaves = len(graph) - ops
        return Result(
            figures={
                "graph_op_nodes": Figure(ops, "nodes", {"en": "op nodes in the network's graph",
                                                         "zh": "网络计算图中的算子节点数"}),
                "graph_leaves": Figure(leaves, "tensors", {"en": "leaf tensors (input, parameters)",
                                                            "zh": "叶子张量（输入与参数）"}),
                "loop_nodes_small_input": Figure(n_small, "nodes"),
                "loop_nodes_large_input": Figure(n_large, "nodes"),
            },
            tables=[Table("control_flow", ["input", "max |x|", "op nodes recorded"],
                          [[str(SMALL_INPUT), float(np.abs(small_x).max()), n_small],
                           [str(LARGE_INPUT), float(np.abs(large_x).max()), n_large]],
                          {"en": f"halve_until_small records {n_small} op nodes for the first input and {n_large} "
                                 f"for the second: "
                                 f"{'the graphs differ' if n_small != n_large else 'the same number'}.",
                           "zh": f"“反复减半直到足够小”的循环对第一个输入记录了 {n_small} 个算子节点，对第二个输入记"
                                 f"录了 "
                                 f"{n_large} 个：{'两张图不同' if n_small != n_large else '节点数相同'}。"})],
            series={"graph": graph},
        )

    def draw(self, res: Result, ctx: Context) -> None:
        graph = res.series["graph"]
        fig, ax = ctx.figure(size=(12, 4.6))
        draw_graph(ax, graph)
        ax.set_title("Autograd graph recorded for cross_entropy(Linear(4,8) -> ReLU -> Linear(8,3))")
        if ctx.save_plots:
            os.makedirs(ctx.out_dir, exist_ok=True)
            fig.savefig(os.path.join(ctx.out_dir, "autograd_graph.svg"), format="svg", bbox_inches="tight")
        ctx.save_figure(fig, "autograd_graph", "The graph our engine recorded for the loss: green input, orange "
                        "parameters, blue op nodes with their output shapes and the arrays they saved for "
                        "backward; arrows point from inputs to the ops that consumed them. An SVG version is "
                        "written beside the PNG (autograd_graph.svg).",
                        "我们的引擎为该损失记录的计算图：绿色为输入，橙色为参数，蓝色为算子节点"
                        "（含输出形状和为反向传播保存的数组），箭头从输入指向使用它的算子。"
                        "同目录下另有同名的 SVG 版本。")
