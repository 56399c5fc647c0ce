"""Modules, layers and initializers (``torch.nn``'s names): ``from cvprimer import nn``."""

from typing import TYPE_CHECKING

from cvprimer.nn import init, utils  # noqa: F401
from cvprimer.nn.containers import ModuleDict, ModuleList, Sequential
from cvprimer.nn.layers.activation import export_layers
from cvprimer.nn.layers.attention import MultiheadAttention, SpatialGate, SqueezeExcite
from cvprimer.nn.layers.conv import Conv1d, Conv2d, ConvTranspose2d, DepthwiseSeparableConv2d
from cvprimer.nn.layers.dropout import Dropout, Dropout2d
from cvprimer.nn.layers.linear import Linear
from cvprimer.nn.layers.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    MultiMarginLoss,
    NLLLoss,
    SigmoidFocalLoss,
    SmoothL1Loss,
    SoftmaxFocalLoss,
)
from cvprimer.nn.layers.misc import Flatten, Identity, Unflatten
from cvprimer.nn.layers.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm
from cvprimer.nn.layers.pooling import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    GlobalAvgPool2d,
    GlobalMaxPool2d,
    MaxPool2d,
    MaxUnpool2d,
)
from cvprimer.nn.layers.sampling import ChannelShuffle, PixelShuffle, PixelUnshuffle, Upsample
from cvprimer.nn.module import Module, RemovableHandle
from cvprimer.nn.parameter import Parameter

__all__ = [
    "AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d",
    "ChannelShuffle", "Conv1d", "Conv2d", "ConvTranspose2d", "DepthwiseSeparableConv2d", "Dropout", "Dropout2d",
    "Flatten", "GlobalAvgPool2d", "GlobalMaxPool2d", "GroupNorm",
    "Identity", "InstanceNorm2d", "LayerNorm", "Linear", "MaxPool2d", "MaxUnpool2d",
    "Module", "ModuleDict", "ModuleList", "MultiheadAttention", "Parameter",
    "PixelShuffle", "PixelUnshuffle", "RemovableHandle", "Sequential",
    "SpatialGate", "SqueezeExcite", "Unflatten", "Upsample", "init", "utils",
    "BCELoss", "BCEWithLogitsLoss", "CosineEmbeddingLoss", "CrossEntropyLoss", "HuberLoss", "KLDivLoss", "L1Loss",
    "MSELoss", "MultiMarginLoss", "NLLLoss", "SigmoidFocalLoss", "SmoothL1Loss", "SoftmaxFocalLoss",
]
export_layers(globals())  # the activation layers (ReLU, GELU, Softmax, ...), derived from the activation registry

# the activation layers spelled out for a type checker (a test keeps this list equal to LAYERS)
if TYPE_CHECKING:
    from cvprimer.nn.layers.activation import GeneratedLayer as CELU  # noqa: F401
    from cvprimer.nn.layers.activation import GeneratedLayer as ELU  # noqa: F401
    from cvprimer.nn.layers.activation import GeneratedLayer as GELU  # noqa: F401
    from cvprimer.nn.layers.activation import GeneratedLayer as Hardsigmoid  # noqa: F401
    from cvprimer.nn.layers.activation import GeneratedLayer as Hardswish  # noqa: F401
    from cvprimer.nn.layers.activation import GeneratedLayer as LeakyReLU  # noqa: F401
    from cvprimer.nn.layers.activation import GeneratedLayer as LogSoftmax  # noqa: F401
    from cvprimer.nn.layers.activation import GeneratedLayer as Maxout  # noqa: F401
    from cvprimer.nn.layers.activation import GeneratedLayer as Mish  # noqa: F401
    from cvprimer.nn.layers.activation import GeneratedLayer as ReLU6  # noqa: F401
    from cvprimer.nn.layers.activation import GeneratedLayer as SELU  # noqa: F401
    from cvprimer.nn.layers.activation import GeneratedLayer as SiLU  # noqa: F401
    from cvprimer.nn.layers.activation import GeneratedLayer as Sigmoid  # noqa: F401
    from cvprimer.nn.layers.activation import GeneratedLayer as Softmax  # noqa: F401
    from cvprimer.nn.layers.activation import GeneratedLayer as Softplus  # noqa: F401
    from cvprimer.nn.layers.activation import GeneratedLayer as Softsign  # noqa: F401
    from cvprimer.nn.layers.activation import GeneratedLayer as Tanh  # noqa: F401
    from cvprimer.nn.layers.activation import Hardtanh, PReLU, ReLU  # noqa: F401
