"""Activation functions (``torch.nn.functional`` names) and their derivatives.

One family a module: ``rectifier`` (relu, relu6, leaky_relu, prelu, hardtanh),
``exponential`` (elu, selu, celu, softplus), ``smooth`` (gelu, silu/swish, mish, softsign),
``hard`` (hardsigmoid, hardswish), ``maxout``; ``softmax`` (softmax, log_softmax) is
engineer D's. ``registry`` pairs each pointwise activation with its derivative:
``ACTIVATIONS[name] = (function, derivative)`` and ``derivative(name, x, **opts)``.

Every pointwise activation maps a tensor of any shape to one of the same shape and dtype,
is one ``Function`` with a hand-written backward (``_base.PointwiseFn``: ``f`` and its slope
``df``), and states the slope it takes at its kinks (PyTorch's).
"""

from typing import Any

from cvprimer.core.api import sigmoid, tanh  # noqa: F401 - the core ops, re-exported
from cvprimer.functional.activation._erf import erf, erfc  # noqa: F401
from cvprimer.functional.activation.exponential import celu, elu, selu, softplus  # noqa: F401
from cvprimer.functional.activation.hard import hardsigmoid, hardswish  # noqa: F401
from cvprimer.functional.activation.maxout import maxout  # noqa: F401
from cvprimer.functional.activation.rectifier import hardtanh, leaky_relu, prelu, relu, relu6  # noqa: F401
from cvprimer.functional.activation.registry import ACTIVATIONS, derivative  # noqa: F401
from cvprimer.functional.activation.smooth import gelu, mish, silu, softsign, swish  # noqa: F401
from cvprimer.functional.activation.softmax import log_softmax, softmax  # noqa: F401


def _register_core_kernels() -> None:
    """Give the core sigmoid/tanh/relu ops (``cvprimer.core.ops.unary``) their compiled kernels.
    The kernels module (and numba) is imported on the first call, not here."""
    from cvprimer.core.ops import unary

    def kernels() -> Any:
        from cvprimer.functional.activation import _kernels

        return _kernels

    unary.COMPILED.update({
        "sigmoid": lambda x: kernels().map_unary("sigmoid", x),
        "sigmoid_grad": lambda y, gy: kernels().map_binary("sigmoid", y, gy),
        "tanh_grad": lambda y, gy: kernels().map_binary("tanh", y, gy),
        "relu_grad": lambda y, gy: kernels().map_binary("relu", y, gy),
    })


_register_core_kernels()
