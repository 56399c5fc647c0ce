r"""Module state: ``state_dict`` / ``load_state_dict`` and the ``.npz`` ``save`` / ``load`` helpers.

A mixin of :class:`~cvprimer.nn.module.Module` (kept apart so each file stays readable).
``state_dict()`` flattens parameters and persistent buffers into ``{"conv1.weight": array,
"bn1.running_mean": array, ...}`` (dotted names in pre-order, a module's own entries before its
children's, as PyTorch), as NumPy *copies* so a checkpoint cannot alias live weights.

Differences from PyTorch: values are NumPy arrays, not tensors (``load_state_dict`` accepts
either, and also PyTorch tensors converted with ``.numpy()``).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, NamedTuple

import numpy as np

from cvprimer.core.tensor import Tensor


class IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


class StateMixin:
    """``state_dict``, ``load_state_dict``, ``save``, ``load`` for Module."""

    _parameters: dict[str, Any]
    _buffers: dict[str, Any]
    _non_persistent: set[str]
    named_modules: Any  # provided by Module

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Parameters and persistent buffers by dotted name, as NumPy copies."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for mname, m in self.named_modules():
            pre = f"{mname}." if mname else ""
            for k, p in m._parameters.items():
                if p is not None:
                    out[pre + k] = p.data.copy()
            for k, b in m._buffers.items():
                if b is not None and k not in m._non_persistent:
                    out[pre + k] = b.data.copy()
        return out

    def _state_targets(self) -> OrderedDict[str, Tensor]:
        out: OrderedDict[str, Tensor] = OrderedDict()
        for mname, m in self.named_modules():
            pre = f"{mname}." if mname else ""
            for k, p in m._parameters.items():
                if p is not None:
                    out[pre + k] = p
            for k, b in m._buffers.items():
                if b is not None and k not in m._non_persistent:
                    out[pre + k] = b
        return out

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> IncompatibleKeys:
        """Copy ``state_dict`` values (arrays or Tensors) into parameters and buffers in place.

        Shapes must match exactly. With ``strict=True`` a missing or unexpected key is an error
        listing all of them; with ``strict=False`` they are returned. Nothing is modified when
        an error is raised.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict: expected a mapping of name -> array, got "
                            f"{type(state_dict).__name__}")
        targets = self._state_targets()
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        errors = []
        if strict and (missing or unexpected):
            errors.append(f"missing keys {missing}, unexpected keys {unexpected}")
        values = {}
        for k, t in targets.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = v.data if isinstance(v, Tensor) else np.asarray(v)
            if arr.shape != t.data.shape:
                errors.append(f"shape mismatch for {k!r}: checkpoint {arr.shape}, model {t.data.shape}")
            values[k] = arr
        if errors:
            raise ValueError(f"{type(self).__name__}.load_state_dict: " + "; ".join(errors))
        for k, arr in values.items():
            t = targets[k]
            t.data[...] = arr.astype(t.data.dtype, copy=False)
            t._bump_version()  # an in-place copy, as an optimizer step
        return IncompatibleKeys(missing, unexpected)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``state_dict()`` to an ``.npz`` file (atomically; see :func:`cvprimer.save`)."""
        from cvprimer.core.serialization import save

        save(self.state_dict(), path)

    def load(self, path: str | os.PathLike[str], strict: bool = True) -> IncompatibleKeys:
        """Read an ``.npz`` written by :meth:`save` and ``load_state_dict`` it."""
        from cvprimer.core.serialization import load

        return self.load_state_dict(load(path), strict=strict)

