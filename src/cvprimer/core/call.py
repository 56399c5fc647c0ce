r"""One op call as the analyzer's protocol sees it: the :class:`Call` record.

An op declares ``forward`` and ``backward`` and, optionally, three methods that describe a call without
running it, each taking one :class:`Call` and nothing else::

    infer(call) -> (shape, dtype) | [(shape, dtype), ...]     # call.outputs is None: not computed yet
    cost(call) -> Cost                                        # MACs, other FLOPs, bytes (core.cost)
    geometry(call) -> Geometry | None                         # output-to-input positions (core.geometry)

``call.inputs`` are the positional values ``forward`` receives after ``Function.apply`` unwrapped the Tensors
(arrays, and the options as they were passed), ``call.kwargs`` its keyword options (read-only) and
``call.outputs`` the arrays it returned (a tuple, one per output; None while inferring). So a formula reads
``x, w = call.inputs[:2]`` and ``call.out_shapes``, the same way in all three methods, and a new op with all
three lives in its own file. ``Function.__init_subclass__`` refuses a method written with another signature.

The generic geometry declarations shared by many ops (elementwise: :func:`pointwise`; an op that keeps or folds
away H and W: :func:`spatial_kept`) are here too; the generic ``infer`` and ``cost`` forms are in
:mod:`cvprimer.core.cost`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from cvprimer.core.geometry import POINTWISE, Global, Pointwise

_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Call:
    """One call of an op: its positional ``inputs`` (arrays and options, as ``forward`` receives them), its
    keyword options ``kwargs`` (a read-only mapping) and its ``outputs`` (a tuple of arrays; None while the
    shape-only trace infers them)."""

    inputs: tuple[Any, ...]
    kwargs: Mapping[str, Any] = field(default_factory=lambda: _NO_OPTIONS)
    outputs: tuple[np.ndarray, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        if not isinstance(self.kwargs, MappingProxyType):
            object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))
        if self.outputs is not None:
            object.__setattr__(self, "outputs", tuple(self.outputs))

    def with_outputs(self, outputs: tuple[np.ndarray, ...]) -> Call:
        """The same call with its ``outputs`` filled in."""
        return replace(self, outputs=tuple(outputs))

    @property
    def x(self) -> Any:
        """The first input (the activation, for most ops)."""
        return self.inputs[0]

    def arg(self, index: int, name: str, default: Any = None) -> Any:
        """Forward's argument ``name`` at position ``index``: passed positionally, by keyword, or ``default``."""
        if index < len(self.inputs):
            return self.inputs[index]
        return self.kwargs.get(name, default)

    @property
    def arrays(self) -> tuple[np.ndarray, ...]:
        """The array inputs, in order (options left out)."""
        return tuple(a for a in self.inputs if isinstance(a, np.ndarray))

    @property
    def outs(self) -> tuple[np.ndarray, ...]:
        """The outputs, typed as known (ValueError while inferring)."""
        if self.outputs is None:
            raise ValueError("Call: the outputs are not known yet (the call is being inferred, not run)")
        return self.outputs

    @property
    def out(self) -> np.ndarray:
        """The first output (ValueError while inferring)."""
        return self.outs[0]

    @property
    def out_shapes(self) -> tuple[tuple[int, ...], ...]:
        """The shape of every output."""
        return tuple(tuple(np.shape(o)) for o in self.outs)

    @property
    def itemsize(self) -> int:
        """Bytes per element of the first output: the unit of every ``bytes`` count."""
        return int(np.asarray(self.out).dtype.itemsize)


def pointwise(call: Call) -> Pointwise:
    """``geometry`` of an elementwise op: every output position reads the same position of its inputs."""
    return POINTWISE


def spatial_kept(call: Call) -> Pointwise | Global:
    """``geometry`` of an op that keeps H and W (pointwise) or folds them away (global): a reduction, softmax,
    a reshape. Pointwise when the output is 4-D with the first array input's (H, W), else global."""
    x = next((a for a in call.inputs if isinstance(a, np.ndarray)), None)
    out = call.out_shapes[0]
    if x is not None and x.ndim == 4 and len(out) == 4 and out[-2:] == x.shape[-2:]:
        return POINTWISE
    return Global()
