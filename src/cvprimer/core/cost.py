r"""The generic pieces of the ops' analyzer protocol (``Function.infer`` / ``Function.cost``), once.

Every op class may carry two static methods used by :mod:`cvprimer.analysis`:

* ``infer(*raw_inputs, **kwargs) -> (shape, dtype)`` (or a list of them): the output(s) without
  computing, for the shape-only trace;
* ``cost(raw_inputs, outputs, **kwargs) -> {"macs", "flops", "bytes"}``: the op's work.

An op family with its own formula keeps it in its file (a module-level ``cost(...)`` from
shapes) and translates the protocol to it there. The ops whose cost has one of the generic forms
below (elementwise, reduction, view, copy) take it from here::

    class AddFn(Function):
        cost = staticmethod(elementwise_cost(1))

Counting rules: a comparison, multiply, add or divide is one FLOP, and so is a transcendental
function (exp, log, erf, sqrt); bytes are the elements read plus written, at the output's itemsize.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Cost = dict[str, int]


def numel(a: Any) -> int:
    """Number of elements of an array (or of anything ``np.size`` accepts)."""
    return int(np.size(a))


def itemsize(outputs: Sequence[Any]) -> int:
    """Bytes per element of the op's first output: the unit of every ``bytes`` count."""
    return int(np.asarray(outputs[0]).dtype.itemsize)


def array_numel(values: Sequence[Any]) -> int:
    """Total number of elements of the arrays among ``values`` (options are skipped)."""
    return sum(numel(a) for a in values if isinstance(a, np.ndarray))


def result_dtype(*values: Any) -> np.dtype:
    """NumPy's result dtype of the arrays among ``values``."""
    return np.result_type(*[a for a in values if isinstance(a, np.ndarray)])


def same_shape_infer(x: np.ndarray, *args: Any, **kwargs: Any) -> tuple[tuple[int, ...], np.dtype]:
    """``infer`` of an op whose output has its first input's shape and dtype."""
    return x.shape, x.dtype


def broadcast_infer(*args: Any, **kwargs: Any) -> tuple[tuple[int, ...], np.dtype]:
    """``infer`` of an elementwise op: the broadcast shape of its array inputs and the floating dtype they
    promote to (boolean masks, as ``where``'s condition, take no part in the dtype; Python scalars are weak)."""
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    typed = [a for a in arrays if a.dtype.kind != "b"] or arrays
    return tuple(shape), np.result_type(*typed)


def elementwise_cost(flops_per_element: int) -> Callable[..., Cost]:
    """``cost`` of an elementwise op: ``flops_per_element`` FLOPs per output element; reads every
    array input, writes the output."""
    def cost(inputs: Sequence[Any], outputs: Sequence[Any], **kw: Any) -> Cost:
        n = numel(outputs[0])
        return {"macs": 0, "flops": flops_per_element * n, "bytes": (array_numel(inputs) + n) * itemsize(outputs)}
    return cost


def reduction_cost(flops_per_input: int) -> Callable[..., Cost]:
    """``cost`` of a reduction: ``flops_per_input`` FLOPs per element of the input; reads the input,
    writes the output."""
    def cost(inputs: Sequence[Any], outputs: Sequence[Any], **kw: Any) -> Cost:
        n = numel(inputs[0])
        return {"macs": 0, "flops": flops_per_input * n, "bytes": (n + numel(outputs[0])) * itemsize(outputs)}
    return cost


def view_cost(inputs: Sequence[Any], outputs: Sequence[Any], **kw: Any) -> Cost:
    """``cost`` of a view (reshape, permute, expand, basic slicing, split): no arithmetic, no data moved."""
    return {"macs": 0, "flops": 0, "bytes": 0}


def copy_cost(inputs: Sequence[Any], outputs: Sequence[Any], **kw: Any) -> Cost:
    """``cost`` of a copy (cat, stack, pad, cast, clone): no arithmetic; reads the array inputs,
    writes the outputs."""
    written = sum(numel(o) for o in outputs)
    return {"macs": 0, "flops": 0, "bytes": (array_numel(inputs) + written) * itemsize(outputs)}
