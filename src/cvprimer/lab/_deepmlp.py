r"""Helpers shared by the lab's gradient-flow experiments (q23, q43, q46, q47, q48): a configurable deep MLP
for the 8x8 digits, per-layer gradient norms, dead-ReLU fractions and a monitored training run that ends with
the trainer's own diagnosis.

- :class:`DeepMLP`: ``depth`` linear layers (input, ``depth - 2`` hidden blocks, output) with a chosen
  activation, optional batch normalization and optional residual connections ``h <- h + act(BN(W h))``;
  weights drawn with a named scheme (``default`` = PyTorch's, ``xavier``, ``he``) times a ``scale``.
- :func:`weight_grad_norms`: ||dL/dW|| of every linear layer, input side first, from one backward pass.
- :func:`dead_fraction`: per ReLU layer, the fraction of units never positive over a whole data set.
- :func:`monitored_fit`: :func:`cvprimer.lab.common.fit` with a :class:`~cvprimer.train.GradientMonitor`
  and per-step losses, then :func:`cvprimer.train.diagnose` on the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import cvprimer.functional as F
from cvprimer import nn
from cvprimer.core.function import no_grad
from cvprimer.core.tensor import Tensor
from cvprimer.train import Callback, GradientMonitor, diagnose

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
INITS = ("default", "xavier", "he")


class _Block(nn.Module):
    """One hidden layer: ``act(BN(W h + b))``, added to its input when ``residual``."""

    def __init__(self, width: int, act: str, bn: bool, residual: bool, rng: np.random.Generator | None) -> None:
        super().__init__()
        self.lin = nn.Linear(width, width, rng=rng)
        self.bn = nn.BatchNorm1d(width) if bn else nn.Identity()
        self.act = ACTIVATIONS[act]()
        self.residual = residual

    def forward(self, h: Tensor) -> Tensor:
        y = self.act(self.bn(self.lin(h)))
        return h + y if self.residual else y


class DeepMLP(nn.Module):
    r"""A multilayer perceptron for flattened inputs with ``depth`` linear layers (``depth >= 2``).

    ``init``: ``"default"`` (PyTorch's uniform, std = 1/sqrt(3 fan_in)), ``"xavier"`` (normal, gain 1) or
    ``"he"`` (normal, std = sqrt(2 / fan_in)); every weight matrix is then multiplied by ``scale``. The
    backward pass multiplies a gradient, per layer, by W^T diag(act'(z)); its typical gain
    sqrt(fan_in var(W) E[act'(z)^2]) raised to the depth is what vanishes or explodes.
    """

    def __init__(self, depth: int, width: int = 32, act: str = "relu", init: str = "default", scale: float = 1.0,
                 bn: bool = False, residual: bool = False, in_features: int = 64, classes: int = 10,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"DeepMLP: depth must be >= 2 (input and output layers), got {depth}")
        if act not in ACTIVATIONS or init not in INITS:
            raise ValueError(f"DeepMLP: act must be one of {sorted(ACTIVATIONS)} and init one of {INITS}, "
                             f"got {act!r} and {init!r}")
        self.inp = nn.Linear(in_features, width, rng=rng)
        self.inp_bn = nn.BatchNorm1d(width) if bn else nn.Identity()
        self.inp_act = ACTIVATIONS[act]()
        self.blocks = nn.ModuleList([_Block(width, act, bn, residual, rng) for _ in range(depth - 2)])
        self.out = nn.Linear(width, classes, rng=rng)
        for lin in self.linears():
            if init == "xavier":
                nn.init.xavier_normal_(lin.weight, rng=rng)
            elif init == "he":
                nn.init.kaiming_normal_(lin.weight, nonlinearity="relu", rng=rng)
            lin.weight.data *= np.float32(scale)

    def linears(self) -> list[Any]:
        """The linear layers, input side first."""
        return [self.inp] + [b.lin for b in self.blocks] + [self.out]

    def forward(self, x: Tensor) -> Tensor:
        h = self.inp_act(self.inp_bn(self.inp(x.reshape(x.shape[0], -1))))
        for b in self.blocks:
            h = b(h)
        return self.out(h)


def weight_grad_norms(model: DeepMLP, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """||dL/dW||_2 of each linear layer (input side first) for the mean cross-entropy on ``(x, y)``."""
    model.zero_grad()
    with np.errstate(all="ignore"):
        F.cross_entropy(model(Tensor(x)), Tensor(y)).backward()
    return np.array([np.linalg.norm(lin.weight.grad.data.astype(np.float64)) for lin in model.linears()])


def dead_fraction(model: Any, x: np.ndarray, batch_size: int = 500) -> dict[str, float]:
    """For each ``nn.ReLU`` module: the fraction of its units that are never positive on any row of ``x``."""
    alive: dict[str, np.ndarray] = {}
    handles = []
    for name, mod in model.named_modules():
        if isinstance(mod, nn.ReLU):
            def hook(m: Any, inp: Any, out: Any, name: str = name) -> None:
                a = (out.data > 0).reshape(out.shape[0], -1).any(axis=0)
                alive[name] = alive[name] | a if name in alive else a
            handles.append(mod.register_forward_hook(hook))
    was = model.training
    model.eval()
    try:
        with no_grad(), np.errstate(all="ignore"):
            for i in range(0, len(x), batch_size):
                model(Tensor(x[i:i + batch_size]))
    finally:
        model.train(was)
        for h in handles:
            h.remove()
    return {k: float(1.0 - v.mean()) for k, v in alive.items()}


class StepLosses(Callback):
    """Records the loss of every training step (``losses``)."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_batch_end(self, trainer: Any, logs: dict[str, Any]) -> None:
        self.losses.append(float(logs["loss"]))


@dataclass
class MonitoredRun:
    """A training run with its per-epoch history, per-step losses, monitors and the diagnosis."""

    fit: Any
    step_losses: np.ndarray
    monitors: dict[str, Any]
    findings: list[Any]

    @property
    def kinds(self) -> list[str]:
        return [f.kind for f in self.findings]

    def remedies(self) -> list[str]:
        return [r for f in self.findings for r in f.remedies]


def monitored_fit(model: Any, data: Any, epochs: int, rng: np.random.Generator, lr: float,
                  optimizer: Any = "sgd", every: int = 1, **fit_kw: Any) -> MonitoredRun:
    """Train with :func:`~cvprimer.lab.common.fit` plus a GradientMonitor (every ``every`` steps) and a step-loss
    log, then run :func:`~cvprimer.train.diagnose` on the history, monitors and step losses. Overflow warnings of
    a diverging run are silenced: divergence is a result here, not an error."""
    from cvprimer.lab.common import fit

    mon, steps = GradientMonitor(every=every), StepLosses()
    with np.errstate(all="ignore"):
        f = fit(model, data, epochs, rng, lr=lr, optimizer=optimizer, callbacks=[mon, steps], **fit_kw)
        monitors = mon.monitors()
        findings = diagnose(f.history, monitors, steps.losses)
    return MonitoredRun(f, np.asarray(steps.losses), monitors, findings)
