r"""Model registry: torchvision-like names -> builder functions.

``get_model("resnet20", num_classes=10)`` calls the builder with the keyword configuration;
``list_models()`` gives the sorted names. Builders are plain callables (no string parsing), registered by their
own model file with :func:`register_model`.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from typing import Any, TypeVar

B = TypeVar("B", bound=Callable[..., Any])

#: name -> builder, filled by :func:`register_model` as the model modules are imported
_MODELS: dict[str, Callable[..., Any]] = {}


def register_model(builder: B) -> B:
    """Make ``builder`` known under its ``__name__`` to :func:`get_model`, :func:`list_models`, ``cvprimer train
    --model`` and ``cvprimer analyze``: ``@register_model`` above a builder function in its model file, or called on
    a generated one (``resnet20 = register_model(_cifar(20))``). A model is one file of ``cvprimer.models`` (found
    by :func:`_discover`) plus its test; nothing else lists it. A name taken by another builder is a ValueError."""
    name = builder.__name__
    old = _MODELS.get(name)
    if old is not None and (old.__module__, old.__qualname__) != (builder.__module__, builder.__qualname__):
        raise ValueError(f"register_model: {name!r} is already registered by {old.__module__}.{old.__qualname__}; "
                         f"cannot register {builder.__module__}.{builder.__qualname__}")
    _MODELS[name] = builder
    return builder


def unregister_model(name: str) -> None:
    """Forget the builder registered as ``name`` (for tests that register a toy model)."""
    if _MODELS.pop(name, None) is None:
        raise ValueError(f"unregister_model: unknown model {name!r}")


@functools.cache
def _discover() -> None:
    """Import every model module of the package once, so that their registrations have run."""
    import cvprimer.models as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("_") and info.name != "registry":
            importlib.import_module(f"{pkg.__name__}.{info.name}")


def list_models() -> list[str]:
    """The registered model names, sorted."""
    _discover()
    return sorted(_MODELS)


def get_model(name: str, **cfg: Any) -> Any:
    r"""Build the model registered as ``name`` with keyword configuration ``cfg``
    (e.g. ``num_classes``, ``in_channels``, ``rng``, ``width_mult``).

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    TypeError
        If ``name`` is not a string.

    Example
    -------
    >>> from cvprimer.models import get_model
    >>> get_model("resnet20", num_classes=10).fc.weight.shape
    (10, 64)
    """
    if not isinstance(name, str):
        raise TypeError(f"get_model: name must be a str, got {type(name).__name__}")
    _discover()
    builder = _MODELS.get(name)
    if builder is None:
        raise ValueError(f"get_model: unknown model {name!r}; known models: {', '.join(list_models())}")
    return builder(**cfg)
