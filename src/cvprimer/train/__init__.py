"""Training: metrics, diagnosis (the trainer, callbacks and checkpoints build on these)."""

from cvprimer.train import metrics  # noqa: F401
from cvprimer.train.diagnose import Finding, diagnose  # noqa: F401
