r"""Helpers shared by the activation modules. The ops themselves are
:class:`cvprimer.core.pointwise.PointwiseFn` subclasses (``f`` and its slope ``df``), registered with
:func:`cvprimer.functional.activation.registry.activation`."""

from __future__ import annotations

from typing import Any

import numpy as np

#: the module whose ``KERNELS`` table holds the activations' compiled kernels (``PointwiseFn.kernels``)
KERNELS = "cvprimer.functional.activation._kernels"


def check_float(op: str, name: str, value: Any) -> float:
    """A real scalar option as a Python float (TypeError naming ``op`` otherwise)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: {name} must be a real number, got {type(value).__name__}")
    return float(value)
