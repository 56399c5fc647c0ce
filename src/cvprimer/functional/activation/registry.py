r"""The activation registry: an activation is declared once, with :func:`activation`, next to its definition.

The decorator records the public function under its name (and aliases); everything else is derived from
the records, so that a new activation is one file (its ``PointwiseFn`` with ``f`` and ``df``, its public
function, the decorator) plus its test:

* ``cvprimer.functional`` (``F.<name>``) and ``cvprimer.functional.activation`` export every registered name
  (:func:`export_functions`), also those registered after the import;
* ``cvprimer.nn`` has a layer class for every registration that names one (``layer="GELU"``): a thin
  module whose constructor takes the function's keyword options and whose ``forward`` calls the function
  (:mod:`cvprimer.nn.layers.activation` builds them through :func:`subscribe`; a layer that needs more, as PReLU's
  learnable slope, is declared there by hand and named here with ``layer=None``);
* ``ACTIVATIONS[name] = (function, derivative)`` for the pointwise ones (``pointwise=False`` for softmax,
  log_softmax and maxout, whose output is not one value per input value): ``derivative(x, **opts)`` is the
  slope f'(x) as a NumPy array, obtained by running the op's own backward with gy = 1 on the NumPy path, so
  a plot of it shows what autograd does, kinks and non-finite conventions included, and no slope is written
  twice.

Example
-------
>>> import numpy as np
>>> derivative("leaky_relu", np.array([-1.0, 2.0]), negative_slope=0.1).tolist()
[0.1, 1.0]
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cvprimer.core.function import enable_grad
from cvprimer.core.settings import settings
from cvprimer.core.tensor import Tensor

Derivative = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Activation:
    """One registration: ``function`` under ``name`` (and ``aliases``); ``layer``: the nn class name to
    generate, or None; ``layer_options``: the keyword options the layer takes (default: every keyword of
    ``function`` after the input); ``pointwise``: listed in ``ACTIVATIONS`` with a derivative;
    ``call(function, t, **opts)``: how the derivative calls the function (prelu turns its slope into a Tensor)."""

    name: str
    function: Callable[..., Any]
    layer: str | None = None
    aliases: tuple[str, ...] = ()
    layer_options: tuple[str, ...] | None = None
    pointwise: bool = True
    call: Callable[..., Any] | None = None

    def options(self) -> list[inspect.Parameter]:
        """The function's parameters after the input (the layer's constructor arguments)."""
        params = list(inspect.signature(self.function).parameters.values())[1:]
        if self.layer_options is not None:
            params = [p for p in params if p.name in self.layer_options]
        return params


_REGISTERED: dict[str, Activation] = {}
#: (added, removed) callbacks of :func:`subscribe`: the modules that export what is registered
_SINKS: list[tuple[Callable[[Activation], None], Callable[[Activation], None] | None]] = []
#: name (aliases included) -> (the public function, its derivative); pointwise activations only
ACTIVATIONS: dict[str, tuple[Callable[..., Any], Derivative]] = {}


def activation(name: str | None = None, *, layer: str | None = None, aliases: tuple[str, ...] = (),
               layer_options: tuple[str, ...] | None = None, pointwise: bool = True,
               call: Callable[..., Any] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    r"""Decorator registering a public activation function (returned unchanged).

    Parameters
    ----------
    name : the name in ``F`` and in the registry (default: the function's ``__name__``).
    layer : the ``nn`` class to generate (``"GELU"``), or None.
    aliases : further names of the same function (``("swish",)`` for silu).
    layer_options : the keyword options the layer keeps (default: all of the function's).
    pointwise : False for activations that are not one value per input value (no derivative entry).
    call : ``call(function, t, **opts)`` used by the derivative, where the options are not the function's
        own keywords (prelu's slope is a Tensor argument).

    A name registered twice is an error (ValueError naming both functions).
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        rec = Activation(name or fn.__name__, fn, layer, tuple(aliases), layer_options, pointwise, call)
        for n in (rec.name, *rec.aliases):
            old = _REGISTERED.get(n)
            if old is not None and old.function is not fn:
                raise ValueError(f"activation: {n!r} is already registered (by {old.function.__module__}."
                                 f"{old.function.__qualname__}); cannot register {fn.__module__}.{fn.__qualname__}")
        for n in (rec.name, *rec.aliases):
            _REGISTERED[n] = rec
            if pointwise:
                ACTIVATIONS[n] = (fn, _slope_of(rec))
        for added, _ in _SINKS:
            added(rec)
        return fn

    return register


def unregister(name: str) -> None:
    """Remove the registration ``name`` and its aliases (for tests that register a toy activation)."""
    rec = _REGISTERED.get(name)
    if rec is None:
        raise ValueError(f"unregister: unknown activation {name!r}; known: {sorted(_REGISTERED)}")
    for n in (rec.name, *rec.aliases):
        _REGISTERED.pop(n, None)
        ACTIVATIONS.pop(n, None)
    for _, removed in _SINKS:
        if removed is not None:
            removed(rec)


def records() -> list[Activation]:
    """Every registration once (aliases share their function's record), in registration order."""
    out: list[Activation] = []
    for rec in _REGISTERED.values():
        if rec not in out:
            out.append(rec)
    return out


def subscribe(added: Callable[[Activation], None], removed: Callable[[Activation], None] | None = None) -> None:
    """Call ``added(record)`` for every registration made so far and every later one (``removed(record)`` on
    :func:`unregister`): how ``F`` and ``nn`` derive their exports from the registry."""
    for rec in records():
        added(rec)
    _SINKS.append((added, removed))


def export_functions(namespace: dict[str, Any]) -> None:
    """Keep ``namespace`` (a module's globals) holding every registered name and alias -> its function, and its
    ``__all__`` list (if it has one) naming them."""

    names = namespace.get("__all__")

    def added(rec: Activation) -> None:
        for n in (rec.name, *rec.aliases):
            namespace[n] = rec.function
            if names is not None and n not in names:
                names.append(n)

    def removed(rec: Activation) -> None:
        for n in (rec.name, *rec.aliases):
            namespace.pop(n, None)
            if names is not None and n in names:
                names.remove(n)

    subscribe(added, removed)


def functions() -> dict[str, Callable[..., Any]]:
    """Every registered name and alias -> its public function (what ``F`` exports)."""
    return {n: rec.function for n, rec in _REGISTERED.items()}


def _slope_of(rec: Activation) -> Derivative:
    def slope(x: np.ndarray, **opts: Any) -> np.ndarray:
        # the op's own backward with gy = 1 is f'(x) (gy * f' = f'); NumPy's reference path, recorded even
        # inside no_grad
        t = Tensor(x, requires_grad=True)
        with settings.override(numba=False), enable_grad():
            y = rec.call(rec.function, t, **opts) if rec.call is not None else rec.function(t, **opts)
            y.backward(Tensor(np.ones(y.shape, y.dtype)))
        assert t.grad is not None
        return t.grad.data

    slope.__name__ = slope.__qualname__ = f"{rec.name}_slope"
    slope.__doc__ = f"f'(x) of {rec.name}: its backward with gy = 1 (NumPy path)."
    return slope


def derivative(name: str, x: Any, **opts: Any) -> np.ndarray:
    r"""The slope f'(x) of activation ``name`` at the points ``x`` (a NumPy array of x's shape).

    Options are the activation's own keywords (``negative_slope``, ``alpha``, ``beta``,
    ``threshold``, ``approximate``, ``min_val``/``max_val``; ``weight`` for prelu). Integer
    input is evaluated in float64. At kinks the value is the one backward uses (PyTorch's).
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"derivative: unknown activation {name!r}; known: {sorted(ACTIVATIONS)}")
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return np.asarray(ACTIVATIONS[name][1](arr, **opts))
