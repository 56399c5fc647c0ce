r"""Helpers shared by the lab's architecture-and-cost experiments (q14, q15, q17, q39, q44, q45, q54).

- :func:`cost`: parameters, MACs, bytes and receptive field of a model from the analyzer (one shape-only
  trace), as a small dict, so an experiment quotes the analyzer rather than its own arithmetic.
- :func:`mnist_net`: one small CNN for the MNIST sample whose two middle stages are a pluggable *block*
  (standard, depthwise-separable, stacked 3x3, 5x5, ...), so compared nets differ only in that block.
- :func:`train_nets`: train several such nets on the same stratified split from the same seed.
- :func:`input_support`: the input pixels (and channels) that one output unit depends on, found by autograd.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import nn
from cvprimer.analysis import MachineProfile, analyze

# A nominal machine for reports whose roofline columns are not used (skips the micro-benchmark).
NOMINAL = MachineProfile(1e11, 1e10, "nominal (roofline columns unused)")

Block = Callable[[int, int], list[Any]]


def cost(model: Any, input_shape: tuple[int, ...], profile: MachineProfile | None = NOMINAL) -> dict[str, Any]:
    """``{"params", "macs", "flops", "bytes", "rf", "report"}`` of ``model`` on ``input_shape`` (analyzer).

    ``rf`` is the output's receptive-field size along H (``None`` when not local, e.g. after a global pool).
    ``profile=None`` measures this machine (needed only when the roofline columns matter).
    """
    rep = analyze(model, input_shape, profile=profile) if profile is not None else analyze(model, input_shape)
    t = rep.totals
    rf = t["output_rf"].get("rf_size")
    return {"params": int(t["params"]["total"]), "macs": int(t["macs"]), "flops": int(t["flops"]),
            "bytes": int(t["bytes"]), "rf": None if rf is None else float(rf[0]), "report": rep}


def standard_block(ci: int, co: int) -> list[Any]:
    """A 3x3 convolution (padding 1, no bias) and batch normalization."""
    return [nn.Conv2d(ci, co, 3, padding=1, bias=False), nn.BatchNorm2d(co)]


def mnist_net(block: Block = standard_block, widths: tuple[int, int, int] = (16, 32, 32),
              act: Callable[[], Any] = nn.ReLU) -> Any:
    """A small CNN for 1x28x28 inputs: a 3x3 stem to ``widths[0]``, then two stages ``block(c_in, c_out)``,
    each followed by the activation and a 2x2 max-pool, a last pool and a linear classifier (10 classes).

    Only the two ``block`` stages change between compared nets; the stem stays a standard 3x3 conv
    (a depthwise conv on one input channel would be meaningless).
    """
    c0, c1, c2 = widths
    return nn.Sequential(
        nn.Conv2d(1, c0, 3, padding=1), act(), nn.MaxPool2d(2),   # 14x14
        *block(c0, c1), act(), nn.MaxPool2d(2),                    # 7x7
        *block(c1, c2), act(), nn.MaxPool2d(2),                    # 3x3
        nn.Flatten(), nn.Linear(c2 * 9, 10))


def train_nets(builders: Mapping[str, Callable[[], Any]], data: Any, epochs: int, seed: int,
               rng: np.random.Generator, lr: float = 3e-3, batch_size: int = 64) -> dict[str, Any]:
    """Build each net after ``cp.manual_seed(seed)`` and train it with :func:`cvprimer.lab.common.fit` on
    ``data`` (shuffling from a copy of the same generator state, so every net sees the same batches).
    Returns ``{name: Fit}``."""
    from cvprimer.lab.common import fit

    state = rng.bit_generator.state
    out = {}
    for name, build in builders.items():
        cp.manual_seed(seed)
        model = build()
        gen = np.random.default_rng()
        gen.bit_generator.state = state
        out[name] = fit(model, data, epochs, gen, lr=lr, batch_size=batch_size)
    return out


def input_support(fn: Callable[[Any], Any], x: np.ndarray, index: tuple[int, ...]) -> np.ndarray:
    """``|d fn(x)[index] / d x|`` as an array shaped like ``x`` (float64): where it is non-zero, the output
    unit ``index`` depends on the input."""
    xt = cp.tensor(np.asarray(x, np.float64), requires_grad=True)
    y = fn(xt)
    mask = np.zeros(y.shape)
    mask[index] = 1.0
    (y * cp.tensor(mask)).sum().backward()
    assert xt.grad is not None  # xt requires grad and feeds y
    return np.abs(xt.grad.data)
