r"""Monitors: per-layer gradient statistics and dead ReLUs (GradientMonitor), and the NaN/Inf guard.

GradientMonitor records, every ``every`` steps and per layer (a parameter's owning module):

- the gradient norm ||g||_2 over the layer's parameters;
- the update/weight ratio ||theta_after - theta_before|| / ||theta_before|| (a healthy value for SGD is
  around 1e-3; much smaller means the layer barely learns, much larger means it is thrashing);
- for every ReLU-family module, the fraction of its units that were never positive over the batch
  ("dead" for that batch).

``monitors()`` returns them in the format :func:`cvprimer.train.diagnose.diagnose` reads, with
layers ordered from input to output, so vanishing gradients show as norms shrinking toward the input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from cvprimer.train.callbacks import Callback

if TYPE_CHECKING:
    from cvprimer.nn.module import Module


class NonFiniteError(FloatingPointError):
    """Training produced NaN/Inf; the message names the step and the first layer involved."""


def _layer_of(param_name: str) -> str:
    return param_name.rsplit(".", 1)[0] if "." in param_name else "(root)"


class GradientMonitor(Callback):
    """Per-layer gradient norms, update/weight ratios and dead-ReLU fractions (see module docstring)."""

    def __init__(self, every: int = 1, relu_types: tuple[type[Module], ...] | None = None) -> None:
        """``relu_types``: the module classes whose outputs are checked for dead units (default: ``nn.ReLU``,
        ``nn.ReLU6``, ``nn.LeakyReLU`` and their subclasses), matched with ``isinstance``, never by name."""
        if every < 1:
            raise ValueError(f"GradientMonitor: every must be >= 1, got {every}")
        if relu_types is None:
            from cvprimer import nn

            relu_types = (nn.ReLU, nn.ReLU6, nn.LeakyReLU)
        if not all(isinstance(t, type) for t in relu_types):
            raise TypeError(f"GradientMonitor: relu_types must be module classes, got {relu_types!r}")
        self.every = every
        self.relu_types = relu_types
        self.grad_norms: dict[str, list[float]] = {}
        self.update_ratios: dict[str, list[float]] = {}
        self.dead_fraction: dict[str, float] = {}
        self._before: dict[str, np.ndarray] | None = None
        self._handles: list[Any] = []
        self._active = False

    def _due(self, trainer: Any) -> bool:
        return trainer.global_step % self.every == 0

    def on_fit_start(self, trainer: Any) -> None:
        for name, mod in trainer.model.named_modules():
            if isinstance(mod, self.relu_types):
                self._handles.append(mod.register_forward_hook(self._relu_hook(name)))

    def _relu_hook(self, name: str) -> Any:
        def hook(module: Any, inputs: Any, output: Any) -> None:
            if not self._active:
                return
            y = output.data
            alive = (y > 0).any(axis=0) if y.ndim > 1 else (y > 0)
            self.dead_fraction[name] = float(1.0 - alive.mean())

        return hook

    def on_epoch_start(self, trainer: Any, epoch: int) -> None:
        self._active = True

    def on_after_backward(self, trainer: Any) -> None:
        if not self._due(trainer):
            return
        sq: dict[str, float] = {}
        for name, p in trainer.model.named_parameters():
            if p.grad is not None:
                g = p.grad.data.astype(np.float64)
                sq[_layer_of(name)] = sq.get(_layer_of(name), 0.0) + float(np.sum(g * g))
        for layer, s in sq.items():
            self.grad_norms.setdefault(layer, []).append(float(np.sqrt(s)))
        self._before = {n: p.data.copy() for n, p in trainer.model.named_parameters()}

    def on_after_step(self, trainer: Any) -> None:
        if self._before is None:
            return
        num: dict[str, float] = {}
        den: dict[str, float] = {}
        for name, p in trainer.model.named_parameters():
            b = self._before[name].astype(np.float64)
            layer = _layer_of(name)
            num[layer] = num.get(layer, 0.0) + float(np.sum((p.data - b) ** 2))
            den[layer] = den.get(layer, 0.0) + float(np.sum(b * b))
        for layer in num:
            self.update_ratios.setdefault(layer, []).append(float(np.sqrt(num[layer] / max(den[layer], 1e-30))))
        self._before = None

    def on_fit_end(self, trainer: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._active = False

    def monitors(self) -> dict[str, Any]:
        """``{"grad_norms": {layer: [norms]}, "update_ratio": {...}, "dead_fraction": {...}}``."""
        return {"grad_norms": dict(self.grad_norms), "update_ratio": dict(self.update_ratios),
                "dead_fraction": dict(self.dead_fraction)}


class NaNGuard(Callback):
    r"""Stop at the first non-finite loss or gradient with :class:`NonFiniteError`, naming the step
    and the first layer whose output (forward) or parameter gradient (backward) was non-finite.

    Checkpoints are written only at the end of finite epochs, so the last one on disk stays finite.
    Costs one ``isfinite`` scan per layer output per step (forward hooks).
    """

    def __init__(self) -> None:
        self._first_bad: str | None = None
        self._handles: list[Any] = []

    def on_fit_start(self, trainer: Any) -> None:
        for name, mod in trainer.model.named_modules():
            if name and not any(True for _ in mod.children()):
                self._handles.append(mod.register_forward_hook(self._hook(name)))

    def _hook(self, name: str) -> Any:
        def hook(module: Any, inputs: Any, output: Any) -> None:
            outs = output if isinstance(output, (tuple, list)) else (output,)
            if self._first_bad is None and any(
                    hasattr(o, "data") and not np.isfinite(o.data).all() for o in outs):
                self._first_bad = f"{name} ({type(module).__name__})"

        return hook

    def on_after_forward(self, trainer: Any, outputs: Any, loss: Any) -> None:
        if not np.isfinite(loss.data).all():
            where = self._first_bad or "the loss itself (all layer outputs were finite)"
            raise NonFiniteError(f"non-finite loss ({loss.item()}) at epoch {trainer.epoch}, step "
                                 f"{trainer.global_step}; first non-finite output: {where}")
        self._first_bad = None

    def on_after_backward(self, trainer: Any) -> None:
        for name, p in trainer.model.named_parameters():
            if p.grad is not None and not np.isfinite(p.grad.data).all():
                raise NonFiniteError(f"non-finite gradient at epoch {trainer.epoch}, step {trainer.global_step}: "
                                     f"first in parameter {name} (shape {p.shape})")

    def on_fit_end(self, trainer: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
