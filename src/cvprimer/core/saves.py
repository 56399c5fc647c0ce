r"""What an op's backward keeps: the structured ``saves_for_backward`` declaration.

An op class declares, with one :class:`Saves`, which of its forward arguments (by position) and outputs (by
index) its backward context holds, and which fresh arrays it adds (each sized like one argument or output,
with its dtype or a fixed one: int64 arg-max indices, a float mask). The analyzer's "kept for backward" memory
is computed from it (:mod:`cvprimer.analysis.memory`), and a contract test runs every op and compares what its
context really holds with the declaration (``tests/core/test_op_contract.py``), so the two cannot drift.

Only arrays as large as an activation matter; small per-channel statistics (a mean, an inverse standard
deviation, 1-D resampling operators) are not declared. Parameters an op keeps (a conv's weight) are declared
with the arguments but not counted as activation memory.

Example: ``ReLUFn.saves_for_backward = Saves(outputs=(0,))`` (the slope is a function of y);
``MaxPool2dFn``: ``Saves(extra=(Extra("output", 0, "int64"),))`` (the arg-max of every window).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Extra:
    """``count`` fresh arrays kept for backward, each with the shape of argument / output ``index`` (``like`` =
    "input" or "output") and dtype ``dtype``: None for that array's own dtype, "float" for the dtype of the op's
    first output (a float array shaped like integer targets), or a NumPy dtype name ("int64", "bool").
    ``lowered``: a lowered copy of the input (a conv's padded or im2col form), at least its size and at most
    ``k_h k_w`` times that (plus padding); counted at its size."""

    like: str
    index: int = 0
    dtype: str | None = None
    count: int = 1
    lowered: bool = False

    def nbytes(self, raw_inputs: Sequence[Any], outputs: Sequence[Any]) -> int:
        """Bytes of these arrays for one call (``raw_inputs``/``outputs`` as the op received and returned them)."""
        ref = np.asarray(raw_inputs[self.index] if self.like == "input" else outputs[self.index])
        if self.dtype is None:
            dt = ref.dtype
        elif self.dtype == "float":
            dt = np.asarray(outputs[0]).dtype
        else:
            dt = np.dtype(self.dtype)
        return self.count * int(ref.size) * dt.itemsize


@dataclass(frozen=True)
class Saves:
    """Arrays an op's backward keeps: forward arguments by position (``all_inputs``: every array argument, for
    ops taking any number of them), outputs by index, fresh ``extra`` arrays."""

    inputs: tuple[int, ...] = ()
    outputs: tuple[int, ...] = ()
    extra: tuple[Extra, ...] = ()
    all_inputs: bool = False

    def input_indices(self, raw_inputs: Sequence[Any]) -> list[int]:
        """Positions of the array arguments kept, for one call."""
        if self.all_inputs:
            return [i for i, a in enumerate(raw_inputs) if isinstance(a, np.ndarray)]
        return [i for i in self.inputs if i < len(raw_inputs) and isinstance(raw_inputs[i], np.ndarray)]

    def keeps_input(self, i: int = 0) -> bool:
        return i in self.inputs

    def keeps_output(self, j: int = 0) -> bool:
        return j in self.outputs


NOTHING = Saves()
INPUT = Saves(inputs=(0,))
OUTPUT = Saves(outputs=(0,))
BOTH = Saves(inputs=(0, 1))

_LEGACY = {
    "none": NOTHING, "in": INPUT, "out": OUTPUT, "in+out": Saves(inputs=(0,), outputs=(0,)),
    "new": Saves(extra=(Extra("output"),)), "idx": Saves(extra=(Extra("output", 0, "int64"),)),
}


def as_saves(decl: Saves | str) -> Saves:
    """The :class:`Saves` of a declaration; the old free-form strings ("none", "in", "out", "in+out", "new",
    "idx") of ops defined outside the package are still read."""
    if isinstance(decl, Saves):
        return decl
    if decl in _LEGACY:
        return _LEGACY[decl]
    raise ValueError(f"saves_for_backward: expected a Saves declaration, got {decl!r}")
