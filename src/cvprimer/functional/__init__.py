"""Differentiable functions with ``torch.nn.functional`` names (``import cvprimer.functional as F``)."""

from cvprimer.core.api import pad, relu, sigmoid, tanh  # noqa: F401
