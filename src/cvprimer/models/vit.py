r"""Vision Transformer (ViT): patch embedding by a strided convolution, a class token, learned
position embeddings, pre-norm transformer encoder blocks, a linear head on the class token.

References
----------
A. Dosovitskiy et al., "An image is worth 16x16 words: transformers for image recognition at
scale", ICLR 2021, arXiv:2010.11929 (Eq. 1-4; Table 1 for ViT-B/16). Layout and initialisation
follow torchvision's ``VisionTransformer`` (``vit_b_16``: 86,567,656 parameters).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer import nn
from cvprimer.core.random import get_rng
from cvprimer.models._utils import check_input, check_int
from cvprimer.models.registry import register_model


class MLPBlock(nn.Sequential):
    """Linear(D, mlp_dim) -> GELU -> Dropout -> Linear(mlp_dim, D) -> Dropout; xavier-uniform weights,
    N(0, 1e-6^2) biases (torchvision's)."""

    def __init__(self, dim: int, mlp_dim: int, dropout: float, rng: np.random.Generator) -> None:
        super().__init__(nn.Linear(dim, mlp_dim, rng=rng), nn.GELU(), nn.Dropout(dropout, rng=rng),
                         nn.Linear(mlp_dim, dim, rng=rng), nn.Dropout(dropout, rng=rng))
        for m in (self[0], self[3]):
            nn.init.xavier_uniform_(m.weight, rng=rng)
            nn.init.normal_(m.bias, 0.0, 1e-6, rng=rng)


class EncoderBlock(nn.Module):
    r"""Pre-norm transformer block: ``x = x + Dropout(MHA(LN(x)))``; ``x = x + MLP(LN(x))``.
    Shape ``(N, L, D) -> (N, L, D)``."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, dropout: float, attention_dropout: float,
                 rng: np.random.Generator) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(dim, num_heads, dropout=attention_dropout, batch_first=True,
                                                    rng=rng)
        self.dropout = nn.Dropout(dropout, rng=rng)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLPBlock(dim, mlp_dim, dropout, rng)

    def forward(self, x: Any) -> Any:
        h = self.ln_1(x)
        h, _ = self.self_attention(h, h, h, need_weights=False)
        x = x + self.dropout(h)
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    r"""Position embedding (added), dropout, the blocks, a final LayerNorm: ``(N, L, D) -> (N, L, D)``."""

    def __init__(self, seq_len: int, depth: int, dim: int, num_heads: int, mlp_dim: int, dropout: float,
                 attention_dropout: float, rng: np.random.Generator) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter((rng.standard_normal((1, seq_len, dim)) * 0.02).astype(np.float32))
        self.dropout = nn.Dropout(dropout, rng=rng)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(dim, num_heads, mlp_dim, dropout, attention_dropout, rng))
            for i in range(depth)))
        self.ln = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: Any) -> Any:
        return self.ln(self.layers(self.dropout(x + self.pos_embedding)))


class VisionTransformer(nn.Module):
    r"""ViT: ``z_0 = [x_class; x_p^1 E; ...; x_p^L E] + E_pos`` (patches embedded by a
    ``patch_size``-strided ``patch_size x patch_size`` convolution), ``depth`` pre-norm encoder
    blocks, a final LayerNorm, and a linear head on the class token.

    Parameters
    ----------
    image_size, patch_size : int
        ``image_size`` must be divisible by ``patch_size``; ``L = (image_size / patch_size)^2`` tokens.
    embed_dim, depth, num_heads, mlp_dim : int
        Width D, number of blocks, heads (D divisible by it), MLP hidden width (default 4 D).
    dropout, attention_dropout : float
    num_classes, in_channels, rng : as usual.

    Initialisation (torchvision's): patch conv N(0, 1/fan_in) (torchvision truncates at +-2, dozens of
    sigma: the same), bias 0; class token 0; position embedding N(0, 0.02^2); head weight and bias 0.
    Parameter names follow torchvision's (``encoder.layers.encoder_layer_0.ln_1.weight``, ...).

    Shape
    -----
    ``(N, in_channels, image_size, image_size) -> (N, num_classes)``.
    """

    def __init__(self, image_size: int = 32, patch_size: int = 4, num_classes: int = 10, in_channels: int = 3,
                 embed_dim: int = 192, depth: int = 6, num_heads: int = 3, mlp_dim: int | None = None,
                 dropout: float = 0.0, attention_dropout: float = 0.0, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.image_size = check_int("VisionTransformer", "image_size", image_size)
        self.patch_size = check_int("VisionTransformer", "patch_size", patch_size)
        if image_size % patch_size:
            raise ValueError(f"VisionTransformer: image_size ({image_size}) must be divisible by patch_size "
                             f"({patch_size})")
        num_classes = check_int("VisionTransformer", "num_classes", num_classes)
        self.in_channels = check_int("VisionTransformer", "in_channels", in_channels)
        embed_dim = check_int("VisionTransformer", "embed_dim", embed_dim)
        depth = check_int("VisionTransformer", "depth", depth)
        num_heads = check_int("VisionTransformer", "num_heads", num_heads)
        if embed_dim % num_heads:
            raise ValueError(f"VisionTransformer: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        mlp_dim = 4 * embed_dim if mlp_dim is None else check_int("VisionTransformer", "mlp_dim", mlp_dim)
        rng = get_rng(rng)
        seq_len = (image_size // patch_size) ** 2 + 1
        self.conv_proj = nn.Conv2d(in_channels, embed_dim, patch_size, stride=patch_size, rng=rng)
        nn.init.normal_(self.conv_proj.weight, 0.0, math.sqrt(1.0 / (in_channels * patch_size**2)), rng=rng)
        nn.init.zeros_(self.conv_proj.bias)
        self.class_token = nn.Parameter(np.zeros((1, 1, embed_dim), np.float32))
        self.encoder = Encoder(seq_len, depth, embed_dim, num_heads, mlp_dim, dropout, attention_dropout, rng)
        head = nn.Linear(embed_dim, num_classes, rng=rng)
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
        self.heads = nn.Sequential(OrderedDict(head=head))   # torchvision's names: heads.head.weight

    def forward(self, x: Any) -> Any:
        check_input("VisionTransformer", x, self.in_channels)
        if tuple(x.shape[2:]) != (self.image_size, self.image_size):
            raise ValueError(f"VisionTransformer: expected (N, {self.in_channels}, {self.image_size}, "
                             f"{self.image_size}), got {tuple(x.shape)}")
        n = x.shape[0]
        tokens = self.conv_proj(x).flatten(2).transpose(1, 2)                  # (N, L, D)
        tokens = cp.cat([self.class_token.expand(n, -1, -1), tokens], dim=1)  # (N, L + 1, D)
        return self.heads(self.encoder(tokens)[:, 0])


@register_model
def vit_tiny(**kwargs: Any) -> VisionTransformer:
    """A small ViT for 32x32 images: patch 4, D = 192, 6 blocks, 3 heads (about 2.7M parameters)."""
    return VisionTransformer(**kwargs)


@register_model
def vit_b_16(**kwargs: Any) -> VisionTransformer:
    """ViT-B/16 (224x224, patch 16, D = 768, 12 blocks, 12 heads, MLP 3072; 1000 classes)."""
    cfg: dict[str, Any] = dict(image_size=224, patch_size=16, embed_dim=768, depth=12, num_heads=12, mlp_dim=3072,
               num_classes=1000)
    cfg.update(kwargs)
    return VisionTransformer(**cfg)
