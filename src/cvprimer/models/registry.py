r"""Model registry: torchvision-like names -> builder functions.

``get_model("resnet20", num_classes=10)`` calls the builder with the keyword configuration;
``list_models()`` gives the sorted names. Builders are plain callables (no string parsing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cvprimer.models import (
    alexnet,
    dcgan,
    densenet,
    googlenet,
    lenet,
    mobilenet,
    resnet,
    segmentation,
    senet,
    shufflenet,
    squeezenet,
    vgg,
    vit,
)

_MODELS: dict[str, Callable[..., Any]] = {
    "lenet5": lenet.lenet5,
    "lenet5_original": lenet.lenet5_original,
    "alexnet": alexnet.alexnet,
    "googlenet": googlenet.googlenet,
    "mobilenet_v1": mobilenet.mobilenet_v1,
    "mobilenet_v2": mobilenet.mobilenet_v2,
    "squeezenet1_0": squeezenet.squeezenet1_0,
    "squeezenet1_1": squeezenet.squeezenet1_1,
    "unet": segmentation.unet,
    "fcn": segmentation.fcn,
    "dcgan_generator": dcgan.dcgan_generator,
    "dcgan_discriminator": dcgan.dcgan_discriminator,
    "vit_tiny": vit.vit_tiny,
    "vit_b_16": vit.vit_b_16,
}
for _d in (11, 13, 16, 19):
    _MODELS[f"vgg{_d}"] = getattr(vgg, f"vgg{_d}")
    _MODELS[f"vgg{_d}_bn"] = getattr(vgg, f"vgg{_d}_bn")
for _d in (18, 34, 50, 101, 152):
    _MODELS[f"resnet{_d}"] = getattr(resnet, f"resnet{_d}")
    _MODELS[f"se_resnet{_d}"] = getattr(senet, f"se_resnet{_d}")
for _d in (20, 32, 44, 56, 110):
    _MODELS[f"resnet{_d}"] = getattr(resnet, f"resnet{_d}")
for _d in (121, 161, 169, 201):
    _MODELS[f"densenet{_d}"] = getattr(densenet, f"densenet{_d}")
for _w in ("0_5", "1_0", "1_5", "2_0"):
    _MODELS[f"shufflenet_v2_x{_w}"] = getattr(shufflenet, f"shufflenet_v2_x{_w}")


def list_models() -> list[str]:
    """The registered model names, sorted."""
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
    builder = _MODELS.get(name)
    if builder is None:
        raise ValueError(f"get_model: unknown model {name!r}; known models: {', '.join(list_models())}")
    return builder(**cfg)
