"""Differentiable functions with ``torch.nn.functional`` names (``import cvprimer.functional as F``)."""

from cvprimer.core.api import pad, relu, sigmoid, tanh  # noqa: F401
from cvprimer.functional.conv import conv1d, conv2d, conv_transpose2d, convolve2d, correlate2d  # noqa: F401
from cvprimer.functional.linear import linear  # noqa: F401
