"""Optimizers, gradient clipping and learning-rate schedules (``torch.optim``'s names)."""

from cvprimer.optim import lr_scheduler, schedules  # noqa: F401
from cvprimer.optim.adagrad import Adadelta, Adagrad
from cvprimer.optim.adam import Adam, Adamax, AdamW, NAdam, RAdam
from cvprimer.optim.clip import clip_grad_norm_, clip_grad_value_
from cvprimer.optim.lr_finder import LRRangeResult, lr_range_test
from cvprimer.optim.optimizer import Optimizer
from cvprimer.optim.proximal import prox_l1_, soft_threshold
from cvprimer.optim.rmsprop import RMSprop
from cvprimer.optim.sgd import SGD

__all__ = [
    "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "LRRangeResult", "NAdam", "Optimizer", "RAdam", "RMSprop",
    "clip_grad_norm_", "clip_grad_value_", "lr_range_test", "lr_scheduler", "prox_l1_", "schedules",
    "soft_threshold",
]
