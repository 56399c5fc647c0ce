r"""Attention layers: MultiheadAttention, SqueezeExcite (channel attention), SpatialGate (CBAM)."""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.random import get_rng
from cvprimer.core.tensor import Tensor
from cvprimer.functional.attention import multi_head_attention, spatial_gate, squeeze_excitation
from cvprimer.nn import init
from cvprimer.nn.layers.linear import Linear, default_reset, empty_param
from cvprimer.nn.module import Module


class MultiheadAttention(Module):
    r"""Multi-head attention (Vaswani et al., arXiv:1706.03762) with PyTorch's parameter layout:
    ``in_proj_weight`` (3E, E) = [W_q; W_k; W_v], ``in_proj_bias`` (3E,), ``out_proj`` (Linear E -> E).

    Init as PyTorch: xavier_uniform_ in_proj_weight, zero biases, out_proj weight Linear's default.
    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True) -> (output, weights or None)``; dropout on the attention weights
    only in training mode.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False, dtype: Any = None, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1), got {dropout}")
        rng = get_rng(rng)
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        self.rng = rng
        self.in_proj_weight = empty_param(3 * embed_dim, embed_dim, dtype=dtype)
        self.register_parameter("in_proj_bias", empty_param(3 * embed_dim, dtype=dtype) if bias else None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype, rng=rng)
        init.xavier_uniform_(self.in_proj_weight, rng=rng)
        if bias:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True) -> tuple[Tensor, Tensor | None]:
        return multi_head_attention(
            query, key, value, self.num_heads, self.in_proj_weight, self.in_proj_bias, self.out_proj.weight,
            self.out_proj.bias, key_padding_mask=key_padding_mask, attn_mask=attn_mask, dropout_p=self.dropout,
            need_weights=need_weights, average_attn_weights=average_attn_weights, training=self.training,
            batch_first=self.batch_first, rng=self.rng)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"


class SqueezeExcite(Module):
    r"""Squeeze-and-excitation block (Hu et al., arXiv:1709.01507): global average pool, ``fc1``
    (C -> C_r, ReLU), ``fc2`` (C_r -> C, sigmoid), scale the channels. ``C_r = max(1, C // reduction)``
    unless ``reduced_channels`` is given. fc1/fc2 are Linear layers (default init)."""

    def __init__(self, channels: int, reduction: int = 16, reduced_channels: int | None = None, dtype: Any = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        cr = reduced_channels if reduced_channels is not None else max(1, channels // reduction)
        rng = get_rng(rng)
        self.fc1 = Linear(channels, cr, dtype=dtype, rng=rng)
        self.fc2 = Linear(cr, channels, dtype=dtype, rng=rng)

    def forward(self, x: Tensor) -> Tensor:
        return squeeze_excitation(x, self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias)


class SpatialGate(Module):
    r"""CBAM spatial attention (Woo et al., arXiv:1807.06521): [mean_C, max_C] -> k x k conv (2 -> 1)
    -> sigmoid -> scale every channel. ``weight`` (1, 2, k, k), ``bias`` (1,), Conv2d's default init."""

    def __init__(self, kernel_size: int = 7, bias: bool = True, dtype: Any = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if kernel_size % 2 == 0 or kernel_size <= 0:
            raise ValueError(f"SpatialGate: kernel_size must be a positive odd int, got {kernel_size}")
        self.kernel_size = kernel_size
        self.weight = empty_param(1, 2, kernel_size, kernel_size, dtype=dtype)
        self.register_parameter("bias", empty_param(1, dtype=dtype) if bias else None)
        default_reset(self.weight, self.bias, get_rng(rng))

    def forward(self, x: Tensor) -> Tensor:
        return spatial_gate(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}"
