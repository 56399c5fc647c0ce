"""Activation functions (``torch.nn.functional`` names) and their derivatives.

One family a module: ``rectifier`` (relu, relu6, leaky_relu, prelu, hardtanh),
``exponential`` (elu, selu, celu, softplus), ``smooth`` (gelu, silu/swish, mish, softsign, and the core
sigmoid and tanh), ``hard`` (hardsigmoid, hardswish), ``maxout``, ``softmax`` (softmax, log_softmax).

Every pointwise activation maps a tensor of any shape to one of the same shape and dtype, is one
:class:`~cvprimer.core.pointwise.PointwiseFn` with a hand-written backward (``f`` and its slope ``df``), and
states the slope it takes at its kinks (PyTorch's). Each public function is declared once with
``@activation(...)`` (:mod:`.registry`); the names this package and ``cvprimer.functional`` export, the
``nn`` layer classes and ``ACTIVATIONS[name] = (function, derivative)`` are derived from those
registrations. Every module of this package is imported here (the four families first: the registry's
order), so a new activation is one new or edited module plus its test.
"""

import importlib
import pkgutil
from typing import TYPE_CHECKING

from cvprimer.functional.activation import registry
from cvprimer.functional.activation._erf import erf, erfc  # noqa: F401
from cvprimer.functional.activation.registry import ACTIVATIONS, activation, derivative  # noqa: F401

_FIRST = ("rectifier", "exponential", "smooth", "hard")


def _import_modules() -> None:
    names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_") and m.name != "registry"]
    for n in sorted(names, key=lambda n: (_FIRST.index(n) if n in _FIRST else len(_FIRST), n)):
        importlib.import_module(f"{__name__}.{n}")


_import_modules()
__all__: list[str] = []
registry.export_functions(globals())  # relu, gelu, ... (a function replaces its module's name: softmax)

# the registered activations spelled out for a type checker (a test keeps this list equal to the registry)
if TYPE_CHECKING:
    from cvprimer.core.api import sigmoid, tanh  # noqa: F401
    from cvprimer.functional.activation.exponential import celu, elu, selu, softplus  # noqa: F401
    from cvprimer.functional.activation.hard import hardsigmoid, hardswish  # noqa: F401
    from cvprimer.functional.activation.maxout import maxout  # noqa: F401
    from cvprimer.functional.activation.rectifier import hardtanh, leaky_relu, prelu, relu, relu6  # noqa: F401
    from cvprimer.functional.activation.smooth import gelu, mish, silu, softsign  # noqa: F401
    from cvprimer.functional.activation.smooth import silu as swish  # noqa: F401
    from cvprimer.functional.activation.softmax import log_softmax, softmax  # noqa: F401
