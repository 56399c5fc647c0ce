"""A public, read-only walk over the graph that autograd recorded behind some tensors.

PyTorch users read ``t.grad_fn`` and ``grad_fn.next_functions``; analysis code here (the lab's q16 and q31,
notebooks) wants the same without touching the engine's private attributes (``Tensor._node``, a node's
``inputs`` of Tensors and ``Link`` edges, ``out_meta``). :func:`walk` returns plain :class:`OpNode` records:

* ``op``: the op's name (``conv2d``, ``add``, ``maxpool2d``; :attr:`Function.name`);
* ``view`` / ``gemm`` / ``normalization``: what the op declares about itself (a reshape-like view, a
  multiply-accumulate op, a batch/layer/group/instance norm);
* ``inputs``: per input position an :class:`OpNode` (another op's output), a :class:`Leaf` (a tensor made by
  the user: an input or a parameter) or None (an argument that is not a tensor, or a tensor without gradient
  that was not kept);
* ``out_shapes`` and ``saved_shapes``: the shapes of the outputs and of the arrays kept for backward.

Nodes come in topological order, producers before consumers; :func:`consumers` inverts the edges. The walk
reads the graph as it is when called (after a backward that freed it, saved shapes are empty), never changes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cvprimer.core.tensor import Tensor


@dataclass(eq=False)
class Leaf:
    """A tensor the graph starts from (no producing op): ``tensor`` itself, so callers may test its type
    (e.g. ``isinstance(leaf.tensor, nn.Parameter)``)."""

    tensor: Tensor

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.tensor.shape)


@dataclass(eq=False)
class OpNode:
    """One recorded op (see the module docstring). Compared by identity."""

    op: str
    view: bool
    gemm: bool
    normalization: bool
    out_shapes: tuple[tuple[int, ...], ...]
    saved_shapes: tuple[tuple[int, ...], ...]
    inputs: list[OpNode | Leaf | None] = field(default_factory=list)


def walk(*outputs: Any) -> list[OpNode]:
    """The ops recorded behind ``outputs`` (Tensors, or tuples/lists of them), each once, producers first.

    Shapes: ``out_shapes[i]`` is output i's shape; ``saved_shapes`` lists the arrays the op keeps for its
    backward. Tensors that no op produced appear only as :class:`Leaf` inputs."""
    roots: list[Tensor] = []
    todo: list[Any] = list(outputs)
    while todo:
        o = todo.pop()
        if isinstance(o, Tensor):
            roots.append(o)
        elif isinstance(o, (tuple, list)):
            todo.extend(o)
        else:
            raise TypeError(f"graph.walk: expects Tensors (or tuples/lists of them), got {type(o).__name__}")
    fns: dict[int, Any] = {}
    post: list[Any] = []
    stack: list[tuple[Any, bool]] = [(t._node, False) for t in roots if t._node is not None]
    while stack:  # iterative depth-first post-order: every producer before its consumers
        fn, expanded = stack.pop()
        if expanded:
            post.append(fn)
            continue
        if id(fn) in fns:
            continue
        fns[id(fn)] = fn
        stack.append((fn, True))
        for i in fn.inputs:
            producer = getattr(i, "_node", None)
            if producer is not None and id(producer) not in fns:
                stack.append((producer, False))
    nodes: dict[int, OpNode] = {}
    leaves: dict[int, Leaf] = {}
    for fn in post:
        cls = type(fn)
        saved = tuple(tuple(np.shape(s)) for s in (fn._saved or ()) if isinstance(s, np.ndarray))
        node = OpNode(fn.name, bool(cls.is_view), bool(cls.is_gemm), bool(cls.is_normalization),
                      tuple(tuple(shape) for shape, _ in fn.out_meta), saved)
        for i in fn.inputs:
            producer = getattr(i, "_node", None)
            if producer is not None:
                node.inputs.append(nodes[id(producer)])
            elif isinstance(i, Tensor):
                node.inputs.append(leaves.setdefault(id(i), Leaf(i)))
            else:
                node.inputs.append(None)
        nodes[id(fn)] = node
    return [nodes[id(fn)] for fn in post]


def consumers(nodes: list[OpNode]) -> dict[int, list[OpNode]]:
    """``id(node) -> the nodes that read one of its outputs`` (in ``nodes`` order; an op reading the same
    producer twice is listed twice). Nodes nobody reads map to ``[]``."""
    out: dict[int, list[OpNode]] = {id(n): [] for n in nodes}
    for n in nodes:
        for i in n.inputs:
            if isinstance(i, OpNode):
                out[id(i)].append(n)
    return out
