"""Normalization layers' functional forms, all built on one fused kernel (:mod:`._normalize`):
``batch_norm``, ``layer_norm``, ``instance_norm``, ``group_norm``."""

from cvprimer.functional.normalization.batch_norm import batch_norm  # noqa: F401
from cvprimer.functional.normalization.group_norm import group_norm  # noqa: F401
from cvprimer.functional.normalization.instance_norm import instance_norm  # noqa: F401
from cvprimer.functional.normalization.layer_norm import layer_norm  # noqa: F401
