r"""Receptive-field helpers shared by the lab's field experiments (q03, q06, q21).

- :func:`conv_stack`: a float64 ``nn.Sequential`` of single-channel convolutions (and optional pooling) from a
  list of layer specs, so the same model feeds the analyzer (theory) and autograd (measurement).
- :func:`measured_support`: the input pixels one output unit depends on, found by autograd
  (``|d y[unit] / d x|`` non-zero), summarised as a bounding box, its size and how densely it is filled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import nn
from cvprimer.lab._convnets import input_support

# a layer spec: ("conv", k, s, p, d), ("pool", k, s, p, 1) (max pooling) or ("avg", k, s, p, 1) (average pooling:
# same geometry, but its gradient reaches every pixel of the window, so autograd shows the whole field);
# k may be an int or (kh, kw)
Spec = tuple[Any, ...]


def conv_stack(specs: Sequence[Spec], channels: int = 1, rng: np.random.Generator | None = None,
               relu: bool = True) -> Any:
    """``nn.Sequential`` of float64 layers (conv, then ReLU when ``relu``; or pooling) from ``specs``."""
    layers: list[Any] = []
    for kind, k, s, p, d in specs:
        if kind in ("pool", "avg"):
            layers.append((nn.MaxPool2d if kind == "pool" else nn.AvgPool2d)(k, stride=s, padding=p))
            continue
        layers.append(nn.Conv2d(channels, channels, k, stride=s, padding=p, dilation=d, dtype=np.float64, rng=rng))
        if relu:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@dataclass
class Support:
    """Where ``grad`` (an (H, W) map) is non-zero: inclusive rows/cols of its bounding box, its height and width,
    the number of non-zero pixels and the fill (non-zero pixels / box area)."""

    rows: tuple[int, int]
    cols: tuple[int, int]
    count: int

    @property
    def height(self) -> int:
        return self.rows[1] - self.rows[0] + 1

    @property
    def width(self) -> int:
        return self.cols[1] - self.cols[0] + 1

    @property
    def fill(self) -> float:
        return self.count / (self.height * self.width)


def support_of(grad: np.ndarray) -> Support:
    """The :class:`Support` of a 2-D gradient map (raises ``ValueError`` when it is all zero)."""
    nz = np.argwhere(np.asarray(grad) != 0)
    if nz.size == 0:
        raise ValueError("support_of: the gradient is zero everywhere; the unit sees no input pixel")
    (r0, c0), (r1, c1) = nz.min(axis=0), nz.max(axis=0)
    return Support((int(r0), int(r1)), (int(c0), int(c1)), int(len(nz)))


def grad_map(model: Any, hw: tuple[int, int], unit: tuple[int, int] | None = None, channels: int = 1,
             x: np.ndarray | None = None) -> np.ndarray:
    """``|d y[0, 0, i, j] / d x|`` summed over input channels, an (H, W) map; ``unit`` defaults to the centre
    of the output. ``x`` defaults to ones (so every ReLU passes on a positive-weight stack)."""
    x = np.ones((1, channels) + tuple(hw)) if x is None else x
    out_hw = model(cp.tensor(x)).shape[-2:]
    i, j = unit if unit is not None else (out_hw[0] // 2, out_hw[1] // 2)
    return input_support(model, x, (0, 0, i, j)).sum(axis=(0, 1))


def measured_support(model: Any, hw: tuple[int, int], unit: tuple[int, int] | None = None,
                     channels: int = 1) -> Support:
    """The :class:`Support` of one output unit (default: the centre) measured by autograd."""
    return support_of(grad_map(model, hw, unit, channels))


def positive_weights_(model: Any, rng: np.random.Generator) -> Any:
    """Set every conv weight to a random value in [0.5, 1.5) and biases to 0 (in place): with an input of ones
    no ReLU is ever off and no two paths cancel, so the autograd support is exactly the structural field."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.data[...] = rng.uniform(0.5, 1.5, m.weight.data.shape)
            if m.bias is not None:
                m.bias.data[...] = 0.0
    return model
