r"""The shape-only forward trace: every op a model runs, its shapes, its module, its producers.

:func:`trace` runs ``model`` once on a zero-stride placeholder input inside
:class:`~cvprimer.core.function.shape_only` (ops with ``infer`` skip their arithmetic) and
:class:`~cvprimer.core.function.observe_ops` (a callback after every op). Module forward
pre-/post-hooks keep a stack of the module calls in progress, so each op is attributed to the
innermost module *call* that ran it (a ``ReLU`` reused three times gives three calls).

Data flow is recovered from array identity: every op output is remembered by ``id``, and an op
input whose ``id`` is a known output is an edge of the graph. The trace keeps a reference to
every array so no ``id`` is reused while it lives. Parameters, buffers and the model input are
recognised the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cvprimer.core.call import Call
from cvprimer.core.function import Function, no_grad, observe_ops, shape_only
from cvprimer.core.tensor import Tensor


@dataclass
class InputRef:
    """One positional argument of an op: ``kind`` is "activation" (an earlier op's output:
    ``producer`` = (op index, output index)), "input" (the model input), "param", "buffer",
    "const" (any other array) or "option" (a non-array argument)."""

    kind: str
    shape: tuple[int, ...] = ()
    producer: tuple[int, int] | None = None
    name: str = ""


@dataclass
class OpRecord:
    """One executed op: its class ``fn``, the innermost module call that ran it (``module_call``, an index into
    ``Trace.calls``; -1 outside every module), what each positional argument was (``inputs``) and the call
    itself (``call``: the arguments, keyword options and outputs, what ``fn.infer``/``cost``/``geometry`` read)."""

    index: int
    fn: type[Function]
    module_call: int
    inputs: list[InputRef]
    call: Call

    @property
    def name(self) -> str:
        n = self.fn.__name__
        return (n[:-2] if n.endswith("Fn") else n).lower()

    @property
    def raw(self) -> tuple[Any, ...]:
        """The positional arguments forward received (``call.inputs``: arrays and options)."""
        return self.call.inputs

    @property
    def outputs(self) -> tuple[np.ndarray, ...]:
        """The op's output arrays (``call.outputs``)."""
        return self.call.outs

    @property
    def out_shapes(self) -> list[tuple[int, ...]]:
        return list(self.call.out_shapes)


@dataclass
class ModuleCall:
    """One call of a module: its dotted name, type, parent call, the shape of its first tensor argument
    (``in_shape``, None when it got no tensor) and of its first returned tensor."""

    index: int
    name: str
    type: str
    module: Any
    parent: int | None
    depth: int
    ops: list[int] = field(default_factory=list)
    out_shape: tuple[int, ...] | None = None
    out_id: int | None = None
    in_shape: tuple[int, ...] | None = None


@dataclass
class Trace:
    """What :func:`trace` returns."""

    model: Any
    input_shape: tuple[int, ...]
    ops: list[OpRecord]
    calls: list[ModuleCall]
    producers: dict[int, tuple[int, int]]  # id(array) -> (op index, output index)
    input_id: int
    output_ids: list[int]
    keep: list[Any]
    extra_inputs: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)  # (id, shape) of inputs 2, 3, ...


class TraceError(ValueError):
    """The model failed during the trace; the message names the layer and the last shapes."""


def _flatten_tensors(out: Any) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flatten_tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _flatten_tensors(o)]
    return []


def trace(model: Any, input_shape: tuple[int, ...], dtype: Any = np.float32,
          shape_only_mode: bool = True, extra_shapes: tuple[tuple[int, ...], ...] = ()) -> Trace:
    """Run ``model`` once on an input of ``input_shape`` and record every op.

    The model is put in evaluation mode for the trace (batch norm uses its running statistics,
    dropout is off, nothing is updated) and its mode restored afterwards. A model with several inputs gets
    ``extra_shapes`` for the second, third, ... (``model(x, *extras)``); the first input is the one receptive
    fields are measured on. Raises
    :class:`TraceError` naming the module that failed (e.g. an input too small for the network:
    the layer where the spatial size reaches zero) and the last output shape seen before it.
    """
    shape = tuple(int(s) for s in input_shape)
    names = {id(m): n for n, m in model.named_modules()}
    pnames = {id(p.data): n for n, p in model.named_parameters()}
    bnames = {id(b.data): n for n, b in model.named_buffers()}
    # a zero-stride placeholder takes no memory; a real run needs a real array
    x_arr = np.broadcast_to(np.zeros((), dtype=dtype), shape) if shape_only_mode else np.zeros(shape, dtype=dtype)
    x = Tensor(x_arr)
    x_id = id(x.data)
    extras = [Tensor(np.broadcast_to(np.zeros((), dtype=dtype), tuple(int(v) for v in s)) if shape_only_mode
                     else np.zeros(tuple(int(v) for v in s), dtype=dtype)) for s in extra_shapes]
    input_ids = {x_id} | {id(e.data) for e in extras}
    ops: list[OpRecord] = []
    calls: list[ModuleCall] = []
    stack: list[int] = []
    producers: dict[int, tuple[int, int]] = {}
    keep: list[Any] = [x, *extras]  # keep[0] is the first input and keep[-1] the output (the report relies on both)

    def pre_hook(mod: Any, args: Any) -> None:
        parent = stack[-1] if stack else None
        c = ModuleCall(len(calls), names.get(id(mod), "?"), type(mod).__name__, mod, parent, len(stack))
        ts = _flatten_tensors(args)
        c.in_shape = tuple(ts[0].shape) if ts else None
        calls.append(c)
        stack.append(c.index)

    def post_hook(mod: Any, args: Any, out: Any) -> None:
        c = calls[stack.pop()]
        ts = _flatten_tensors(out)
        if ts:
            c.out_shape = tuple(ts[0].shape)
            c.out_id = id(ts[0].data)
            keep.append(ts[0])

    def observer(fn: type, call: Call) -> None:
        refs = []
        for a in call.inputs:
            if isinstance(a, np.ndarray):
                i = id(a)
                if i in producers:
                    refs.append(InputRef("activation", a.shape, producers[i]))
                elif i in input_ids:
                    refs.append(InputRef("input", a.shape))
                elif i in pnames:
                    refs.append(InputRef("param", a.shape, name=pnames[i]))
                elif i in bnames:
                    refs.append(InputRef("buffer", a.shape, name=bnames[i]))
                else:
                    refs.append(InputRef("const", a.shape))
            else:
                refs.append(InputRef("option"))
        rec = OpRecord(len(ops), fn, stack[-1] if stack else -1, refs, call)
        for k, o in enumerate(call.outs):
            producers[id(o)] = (rec.index, k)
        if rec.module_call >= 0:
            calls[rec.module_call].ops.append(rec.index)
        ops.append(rec)

    handles = []
    for m in model.modules():
        handles.append(m.register_forward_pre_hook(pre_hook))
        handles.append(m.register_forward_hook(post_hook))
    was_training = bool(getattr(model, "training", False))
    model.eval()
    try:
        with no_grad(), observe_ops(observer):
            if shape_only_mode:
                with shape_only():
                    out = model(x, *extras)
            else:
                out = model(x, *extras)
    except (ValueError, IndexError, TypeError) as e:
        where = calls[stack[-1]] if stack else None
        if isinstance(e, TypeError) and "positional argument" in str(e) and where is not None and not where.depth:
            raise TraceError(f"analyze: {type(model).__name__}.forward does not take the {1 + len(extras)} input(s) "
                             f"given ({e})") from e
        last = next((o.out_shapes[0] for o in reversed(ops)), shape)
        layer = f"layer {where.name!r} ({where.type})" if where else "the model's own forward"
        raise TraceError(
            f"analyze: the model failed on input shape {shape} at {layer}; the last output shape "
            f"before it was {last} (if the input is too small for the network, this is the layer where "
            f"the spatial size reaches zero). Original error: {e}"
        ) from e
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    outs = _flatten_tensors(out)
    keep.extend(outs)
    return Trace(model, shape, ops, calls, producers, x_id, [id(t.data) for t in outs], keep,
                 [(id(e.data), tuple(e.shape)) for e in extras])
