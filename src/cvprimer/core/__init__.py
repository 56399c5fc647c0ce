"""The engine core: Tensor, Function, autograd, gradcheck, randomness, factories."""

from cvprimer.core import api, device, inplace, tensor_hooks  # noqa: F401  (loaded here: Tensor's methods call into them)
from cvprimer.core.function import (
    AnomalyError,
    Function,
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from cvprimer.core.gradcheck import GradcheckError, directional_gradcheck, gradcheck
from cvprimer.core.random import default_generator, get_rng, manual_seed
from cvprimer.core.tensor import DEFAULT_DTYPE, Tensor, as_tensor, is_tensor, tensor

__all__ = [
    "AnomalyError", "DEFAULT_DTYPE", "Function", "GradcheckError", "Tensor", "as_tensor",
    "default_generator", "detect_anomaly", "directional_gradcheck", "enable_grad", "get_rng",
    "gradcheck", "is_grad_enabled", "is_tensor", "manual_seed", "no_grad", "set_grad_enabled", "tensor",
]
