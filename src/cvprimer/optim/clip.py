r"""Gradient clipping, also importable from here (``optim.clip_grad_norm_``): the implementation is
:mod:`cvprimer.nn.utils`, PyTorch's home for it (``torch.nn.utils.clip_grad_norm_``)."""

from cvprimer.nn.utils import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
