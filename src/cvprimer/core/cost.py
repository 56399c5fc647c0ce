r"""The cost record and the generic forms of the ops' analyzer protocol (``infer`` and ``cost``), once.

An op declares ``forward`` and ``backward`` and, optionally, ``infer``, ``cost`` and ``geometry``, each
taking one :class:`~cvprimer.core.call.Call` (the call's inputs, keyword options and outputs) and nothing
else:

* ``infer(call) -> (shape, dtype)`` (or a list of them): the output(s) without computing, for the
  shape-only trace (``call.outputs`` is None);
* ``cost(call) -> Cost``: the op's work, a :class:`Cost` (MACs, other FLOPs, bytes moved);
* ``geometry(call) -> Geometry | None``: how output positions map to input positions
  (:mod:`cvprimer.core.geometry`).

An op family with its own formula keeps it in its file as a public module-level ``cost(...)`` from shapes
(``cvprimer.functional.conv.conv2d.cost(x_shape, w_shape, ...)``, which also returns a :class:`Cost`) and
translates the call to it there. The ops whose cost has one of the generic forms below (elementwise,
reduction, view, copy) take it from here::

    class AddFn(Function):
        cost = staticmethod(elementwise_cost(1))

Counting rules: a comparison, multiply, add or divide is one FLOP, and so is a transcendental
function (exp, log, erf, sqrt); bytes are the elements read plus written, at the output's itemsize.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from cvprimer.core.call import Call


@dataclass(frozen=True, slots=True, eq=False)
class Cost(Mapping[str, int]):
    """The work of one op call: ``macs`` (multiply-accumulates; the GEMM-like ops' are the headline ones),
    ``flops`` (every other floating-point operation) and ``bytes`` (read plus written).

    Read by attribute (``c.macs``); ``c1 + c2`` adds field by field. It is also a read-only mapping
    (``c["macs"]``, ``keys()``, ``items()``, ``dict(c)``) and compares equal to a mapping with the same three
    numbers, for code written against the earlier ``{"macs", "flops", "bytes"}`` dicts."""

    macs: int = 0
    flops: int = 0
    bytes: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"Cost: {f.name} must be an integer, got {v!r} ({type(v).__name__})")
            object.__setattr__(self, f.name, int(v))

    def __add__(self, other: Cost) -> Cost:
        if not isinstance(other, Cost):
            return NotImplemented
        return Cost(self.macs + other.macs, self.flops + other.flops, self.bytes + other.bytes)

    def __radd__(self, other: Any) -> Cost:  # sum(costs) starts from 0
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented

    def __getitem__(self, key: str) -> int:
        if key not in _KEYS:
            raise KeyError(key)
        return int(getattr(self, key))

    def __iter__(self) -> Iterator[str]:
        return iter(_KEYS)

    def __len__(self) -> int:
        return len(_KEYS)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return set(other) == set(_KEYS) and all(other[k] == self[k] for k in _KEYS)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.macs, self.flops, self.bytes))

    def __repr__(self) -> str:
        return f"Cost(macs={self.macs}, flops={self.flops}, bytes={self.bytes})"


_KEYS = ("macs", "flops", "bytes")


def numel(a: Any) -> int:
    """Number of elements of an array (or of anything ``np.size`` accepts)."""
    return int(np.size(a))


def array_numel(values: Sequence[Any]) -> int:
    """Total number of elements of the arrays among ``values`` (options are skipped)."""
    return sum(numel(a) for a in values if isinstance(a, np.ndarray))


def result_dtype(*values: Any) -> np.dtype:
    """NumPy's result dtype of the arrays among ``values``."""
    return np.result_type(*[a for a in values if isinstance(a, np.ndarray)])


def same_shape_infer(call: Call) -> tuple[tuple[int, ...], np.dtype]:
    """``infer`` of an op whose output has its first input's shape and dtype."""
    return call.x.shape, call.x.dtype


def broadcast_infer(call: Call) -> tuple[tuple[int, ...], np.dtype]:
    """``infer`` of an elementwise op: the broadcast shape of its array inputs and the floating dtype they
    promote to (boolean masks, as ``where``'s condition, take no part in the dtype; Python scalars are weak)."""
    arrays = call.arrays
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    typed = [a for a in arrays if a.dtype.kind != "b"] or list(arrays)
    return tuple(shape), np.result_type(*typed)


def elementwise_cost(flops_per_element: int) -> Callable[[Call], Cost]:
    """``cost`` of an elementwise op: ``flops_per_element`` FLOPs per output element; reads every
    array input, writes the output."""
    def cost(call: Call) -> Cost:
        n = numel(call.out)
        return Cost(0, flops_per_element * n, (array_numel(call.inputs) + n) * call.itemsize)
    return cost


def reduction_cost(flops_per_input: int) -> Callable[[Call], Cost]:
    """``cost`` of a reduction: ``flops_per_input`` FLOPs per element of the input; reads the input,
    writes the output."""
    def cost(call: Call) -> Cost:
        n = numel(call.x)
        return Cost(0, flops_per_input * n, (n + numel(call.out)) * call.itemsize)
    return cost


def view_cost(call: Call) -> Cost:
    """``cost`` of a view (reshape, permute, expand, basic slicing, split): no arithmetic, no data moved."""
    return Cost()


def copy_cost(call: Call) -> Cost:
    """``cost`` of a copy (cat, stack, pad, cast, clone): no arithmetic; reads the array inputs,
    writes the outputs."""
    written = sum(numel(o) for o in call.outs)
    return Cost(0, 0, (array_numel(call.inputs) + written) * call.itemsize)

