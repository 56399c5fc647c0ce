r"""Helpers shared by the model zoo: channel rounding, argument checks, initialisation schemes.

The initialisers re-fill the weights of an already built model in place, walking
``model.modules()`` once, so each architecture states its scheme in one line (as torchvision's
``__init__`` loops do) instead of repeating it per layer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cvprimer import nn


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    r"""Round a channel count ``v`` to the nearest multiple of ``divisor``, never going down by
    more than 10% (the rule of MobileNet v2 / TensorFlow's ``_make_divisible``).

    ``new = max(min_value, floor((v + divisor/2) / divisor) * divisor)``; if ``new < 0.9 v`` then
    ``new += divisor``. ``min_value`` defaults to ``divisor``.

    Example
    -------
    >>> make_divisible(32 * 0.75), make_divisible(37), make_divisible(3), make_divisible(90, 64)
    (24, 40, 8, 128)
    """
    if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor < 1:
        raise ValueError(f"make_divisible: divisor must be a positive int, got {divisor!r}")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
        raise ValueError(f"make_divisible: v must be a positive number, got {v!r}")
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def check_int(model: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, else a ValueError naming the model and the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{model}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_positive(model: str, name: str, value: Any) -> float:
    """``value`` as a float > 0, else a ValueError naming the model and the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
        raise ValueError(f"{model}: {name} must be a positive finite number, got {value!r}")
    return float(value)


def check_choice(model: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{model}: {name} must be one of {list(choices)}, got {value!r}")
    return value


def check_input(model: str, x: Any, channels: int, min_size: int = 1) -> None:
    """Raise a ValueError unless ``x`` is ``(N, channels, H, W)`` with ``H, W >= min_size``."""
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 4 or shape[1] != channels or min(shape[2:]) < min_size:
        raise ValueError(f"{model}: expected input of shape (N, {channels}, H, W) with H, W >= {min_size}, "
                         f"got {shape}")


def _is(m: Any, name: str) -> bool:
    cls = getattr(nn, name, None)
    return cls is not None and isinstance(m, cls)


def init_weights(model: Any, rng: np.random.Generator, conv: str = "default", linear: str = "default",
                 conv_mode: str = "fan_out", linear_std: float = 0.01, conv_std: float = 0.01) -> None:
    r"""Re-initialise every Conv2d/ConvTranspose2d, BatchNorm2d and Linear of ``model`` in place.

    ``conv``: ``"kaiming_normal"`` (N(0, 2/fan), ``fan = conv_mode``, ReLU gain; bias 0),
    ``"kaiming_uniform"`` (U(-b, b), b = sqrt(6/fan_in); bias 0), ``"normal"`` (N(0, conv_std^2); bias 0)
    or ``"default"`` (keep the layer's own PyTorch default). ``linear``: ``"normal"``
    (N(0, linear_std^2), bias 0), ``"zero_bias"`` (keep the weight, bias 0) or ``"default"``.
    BatchNorm: weight 1, bias 0 (as the layers already do; re-stated because torchvision does).
    """
    init = nn.init
    for m in model.modules():
        if _is(m, "Conv2d") or _is(m, "ConvTranspose2d"):
            if conv == "kaiming_normal":
                init.kaiming_normal_(m.weight, mode=conv_mode, nonlinearity="relu", rng=rng)
            elif conv == "kaiming_uniform":
                init.kaiming_uniform_(m.weight, rng=rng)
            elif conv == "normal":
                init.normal_(m.weight, 0.0, conv_std, rng=rng)
            if conv != "default" and m.bias is not None:
                init.zeros_(m.bias)
        elif _is(m, "BatchNorm2d"):
            if m.weight is not None:
                init.ones_(m.weight)
                init.zeros_(m.bias)
        elif _is(m, "Linear"):
            if linear == "normal":
                init.normal_(m.weight, 0.0, linear_std, rng=rng)
            if linear != "default" and m.bias is not None:
                init.zeros_(m.bias)


def conv_bn_act(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: str = "relu",
                rng: np.random.Generator | None = None, dilation: int = 1, eps: float = 1e-5) -> Any:
    r"""``Sequential(Conv2d(bias=False, padding=d(k-1)/2), BatchNorm2d, act)``; ``act`` is
    ``"relu"``, ``"relu6"`` or ``"none"`` (torchvision's ``Conv2dNormActivation``)."""
    layers = [nn.Conv2d(cin, cout, k, stride=stride, padding=dilation * (k - 1) // 2, dilation=dilation,
                        groups=groups, bias=False, rng=rng),
              nn.BatchNorm2d(cout, eps=eps)]
    if act == "relu":
        layers.append(nn.ReLU())
    elif act == "relu6":
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


def num_parameters(model: Any, trainable_only: bool = True) -> int:
    """Total number of scalar parameters (``requires_grad`` ones only by default)."""
    return int(sum(p.data.size for p in model.parameters() if p.requires_grad or not trainable_only))
