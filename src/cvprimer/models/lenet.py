r"""LeNet-5: the common modern variant and LeCun et al.'s 1998 original with its sparse C3 table.

References
----------
Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-based learning applied to document
recognition", Proc. IEEE 86(11), 1998 (Sec. II.B, Table I).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.core.random import get_rng
from cvprimer.models._utils import check_input, check_int
from cvprimer.models.registry import register_model

# Table I of LeCun et al. (1998): the S2 feature maps (0..5) read by each C3 map (0..15).
C3_TABLE: tuple[tuple[int, ...], ...] = (
    *(tuple((i + j) % 6 for j in range(3)) for i in range(6)),   # maps 0-5: 3 contiguous inputs
    *(tuple((i + j) % 6 for j in range(4)) for i in range(6)),   # maps 6-11: 4 contiguous inputs
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),                    # maps 12-14: 4 discontinuous
    (0, 1, 2, 3, 4, 5),                                          # map 15: all six
)


class LeNet5(nn.Module):
    r"""The modern LeNet-5: conv(5x5, 6) -> ReLU -> max-pool 2 -> conv(5x5, 16) -> ReLU -> max-pool 2
    -> 400 -> 120 -> 84 -> ``num_classes`` (ReLU between the fully connected layers).

    Parameters
    ----------
    num_classes : int
        Output logits (default 10).
    in_channels : int
        Input channels (default 1).
    input_size : int
        28 (MNIST: the first convolution pads by 2) or 32 (the paper's size, no padding); any even
        size <= 32 works, padded to 32.
    rng : np.random.Generator, optional
        Initialisation randomness (PyTorch's default layer initialisation).

    Shape
    -----
    ``(N, in_channels, input_size, input_size) -> (N, num_classes)``; 61,706 parameters for 10 classes.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 32,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        num_classes = check_int("LeNet5", "num_classes", num_classes)
        in_channels = check_int("LeNet5", "in_channels", in_channels)
        input_size = check_int("LeNet5", "input_size", input_size)
        if input_size > 32 or input_size % 2:
            raise ValueError(f"LeNet5: input_size must be even and <= 32 (28 or 32), got {input_size}")
        rng = get_rng(rng)
        self.in_channels, self.input_size = in_channels, input_size
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=(32 - input_size) // 2, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120, rng=rng), nn.ReLU(),
            nn.Linear(120, 84, rng=rng), nn.ReLU(),
            nn.Linear(84, num_classes, rng=rng),
        )

    def forward(self, x: Any) -> Any:
        check_input("LeNet5", x, self.in_channels)
        if x.shape[2:] != (self.input_size, self.input_size):
            raise ValueError(f"LeNet5: built for {self.input_size}x{self.input_size} inputs, got {tuple(x.shape)}")
        return self.classifier(self.features(x).flatten(1))


def scaled_tanh(x: Any) -> Any:
    r"""LeCun's squashing function ``f(a) = A tanh(S a)`` with ``A = 1.7159``, ``S = 2/3`` (Appendix A)."""
    return F.tanh(x * (2.0 / 3.0)) * 1.7159


class Subsampling(nn.Module):
    r"""LeNet's S-layers: each 2x2 block is summed, multiplied by a trainable coefficient and shifted
    by a trainable bias per map, then squashed: ``y = f(c_k * sum_{2x2} x + b_k)`` (2 params a map).
    Composite (average pooling times 4, then a per-channel affine map)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.coefficient = nn.Parameter(np.full((channels,), 0.25, np.float32))
        self.bias = nn.Parameter(np.zeros((channels,), np.float32))

    def forward(self, x: Any) -> Any:
        s = F.avg_pool2d(x, 2) * 4.0
        return scaled_tanh(s * self.coefficient.reshape(1, -1, 1, 1) + self.bias.reshape(1, -1, 1, 1))


class C3(nn.Module):
    r"""LeNet-5's partially connected C3 layer: 6 -> 16 maps, 5x5 kernels, following :data:`C3_TABLE`.

    The 16 maps are computed as four grouped convolutions over gathered input channels: six maps
    of 3 contiguous inputs (groups=6 over 18 gathered channels), six of 4 contiguous, three of 4
    discontinuous, one of all 6, concatenated in map order. Only the 60 connections of the table
    carry weights: ``60 * 25 + 16 = 1,516`` trainable parameters (a dense layer would have 2,416).
    """

    def __init__(self, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.pieces = nn.ModuleList()
        self._gather: list[np.ndarray] = []
        for lo, hi in ((0, 6), (6, 12), (12, 15), (15, 16)):
            rows = C3_TABLE[lo:hi]
            fan = len(rows[0])
            self._gather.append(np.array([c for r in rows for c in r], dtype=np.int64))
            self.pieces.append(nn.Conv2d(fan * (hi - lo), hi - lo, 5, groups=hi - lo, rng=rng))

    def forward(self, x: Any) -> Any:
        return cp.cat([conv(x[:, idx]) for conv, idx in zip(self.pieces, self._gather, strict=True)], dim=1)


class LeNet5Original(nn.Module):
    r"""LeNet-5 as LeCun et al. (1998) define it, for 32x32 single-channel inputs.

    C1 conv 5x5 (6 maps) -> S2 trainable subsampling -> C3 sparse conv (:class:`C3`) -> S4
    subsampling -> C5 conv 5x5 (120) -> F6 full (84), squashed by ``1.7159 tanh(2a/3)`` -> output
    Euclidean RBF units ``y_i = sum_j (x_j - w_ij)^2``. The forward returns ``-y`` (so the nearest
    class code has the largest logit and ``cross_entropy`` applies; the paper trains on ``y``
    directly with its MAP criterion).

    Parameter count: C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164: 60,000 trainable, as the
    paper states. The RBF centres are fixed, not trained (the paper hand-picks 7x12 bitmaps of the
    ASCII characters; we draw a fixed random +-1 code per class from ``rng`` instead, as a buffer).

    Shape
    -----
    ``(N, in_channels, 32, 32) -> (N, num_classes)``
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        num_classes = check_int("LeNet5Original", "num_classes", num_classes)
        self.in_channels = check_int("LeNet5Original", "in_channels", in_channels)
        rng = get_rng(rng)
        self.c1 = nn.Conv2d(in_channels, 6, 5, rng=rng)
        self.s2 = Subsampling(6)
        self.c3 = C3(rng=rng)
        self.s4 = Subsampling(16)
        self.c5 = nn.Conv2d(16, 120, 5, rng=rng)
        self.f6 = nn.Linear(120, 84, rng=rng)
        codes = rng.choice(np.array([-1.0, 1.0], np.float32), size=(num_classes, 84))
        self.register_buffer("rbf_centers", codes.astype(np.float32))

    def forward(self, x: Any) -> Any:
        check_input("LeNet5Original", x, self.in_channels)
        if x.shape[2:] != (32, 32):
            raise ValueError(f"LeNet5Original: expected (N, {self.in_channels}, 32, 32), got {tuple(x.shape)}")
        x = self.s2(scaled_tanh(self.c1(x)))
        x = self.s4(scaled_tanh(self.c3(x)))
        x = scaled_tanh(self.c5(x)).flatten(1)
        x = scaled_tanh(self.f6(x))                                   # (N, 84)
        diff = x.unsqueeze(1) - self.rbf_centers.unsqueeze(0)         # (N, classes, 84)
        return -(diff * diff).sum(dim=-1)


@register_model
def lenet5(**kwargs: Any) -> LeNet5:
    return LeNet5(**kwargs)


@register_model
def lenet5_original(**kwargs: Any) -> LeNet5Original:
    return LeNet5Original(**kwargs)
