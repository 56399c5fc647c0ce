r"""Convolution layers over :mod:`cvprimer.functional.conv`: Conv1d, Conv2d, ConvTranspose2d,
DepthwiseSeparableConv2d."""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.api import pad
from cvprimer.core.random import get_rng
from cvprimer.core.tensor import Tensor
from cvprimer.functional._conv_utils import _pair
from cvprimer.functional.conv import conv1d, conv2d, conv_transpose2d
from cvprimer.nn.layers.linear import default_reset, empty_param
from cvprimer.nn.module import Module

_PAD_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _nd = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any, groups: int, bias: bool, padding_mode: str, dtype: Any,
                 rng: np.random.Generator | None, transposed: bool = False, output_padding: Any = 0) -> None:
        super().__init__()
        name = type(self).__name__
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                             f"divisible by groups ({groups})")
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PAD_MODES}, got {padding_mode!r}")
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"{name}: padding string must be 'same' or 'valid', got {padding!r}")
        tup = (lambda v: (int(v),) if isinstance(v, int) else tuple(v)) if self._nd == 1 else _pair
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.dilation = tup(kernel_size), tup(stride), tup(dilation)
        self.padding = padding if isinstance(padding, str) else tup(padding)
        self.padding_mode, self.transposed, self.output_padding = padding_mode, transposed, tup(output_padding)
        shape = ((in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups))
        self.weight = empty_param(*shape, *self.kernel_size, dtype=dtype)
        self.register_parameter("bias", empty_param(out_channels, dtype=dtype) if bias else None)
        self.reset_parameters(rng)

    def reset_parameters(self, rng: np.random.Generator | None = None) -> None:
        default_reset(self.weight, self.bias, get_rng(rng))

    def _explicit_pad(self, x: Tensor) -> tuple[Tensor, Any]:
        """Non-zero padding modes pad first (F.pad) and convolve unpadded, as PyTorch."""
        if self.padding_mode == "zeros":
            return x, self.padding
        if self.padding == "valid":
            return x, 0
        if self.padding == "same":
            widths = []
            for k, d in zip(reversed(self.kernel_size), reversed(self.dilation), strict=True):
                total = d * (k - 1)
                widths += [total // 2, total - total // 2]
        else:
            widths = [w for p in reversed(self.padding) for w in (p, p)]
        return pad(x, widths, mode=self.padding_mode), 0

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    r"""1-D convolution over (N, C_in, L) with weight (C_out, C_in/groups, k); see ``F.conv1d``."""

    _nd = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 dtype: Any = None, rng: np.random.Generator | None = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, dtype, rng)

    def forward(self, x: Tensor) -> Tensor:
        x, p = self._explicit_pad(x)
        p = p if isinstance(p, str) else (p if isinstance(p, int) else p[0])
        return conv1d(x, self.weight, self.bias, self.stride[0], p, self.dilation[0], self.groups)


class Conv2d(_ConvNd):
    r"""2-D convolution over (N, C_in, H, W) with weight (C_out, C_in/groups, k_h, k_w).

    ``padding`` int, pair, "same" or "valid"; ``padding_mode`` zeros, reflect, replicate or circular.
    Output: ``H_out = floor((H + 2p - d(k-1) - 1)/s) + 1`` (see ``F.conv2d``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 dtype: Any = None, rng: np.random.Generator | None = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, dtype, rng)

    def forward(self, x: Tensor) -> Tensor:
        x, p = self._explicit_pad(x)
        return conv2d(x, self.weight, self.bias, self.stride, p, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    r"""Transposed 2-D convolution, weight (C_in, C_out/groups, k_h, k_w); see ``F.conv_transpose2d``.

    ``H_out = (H - 1)s - 2p + d(k - 1) + output_padding + 1``. Only zero padding (as PyTorch).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", dtype: Any = None, rng: np.random.Generator | None = None) -> None:
        if padding_mode != "zeros" or isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: only padding_mode='zeros' and numeric padding are supported, "
                             f"got padding_mode={padding_mode!r}, padding={padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, dtype, rng, transposed=True, output_padding=output_padding)

    def forward(self, x: Tensor) -> Tensor:
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                self.groups, self.dilation)


class DepthwiseSeparableConv2d(Module):
    r"""Depthwise k x k convolution (groups = C_in, ``depth_multiplier`` filters per channel) followed
    by a pointwise 1 x 1 convolution to C_out (MobileNet, arXiv:1704.04861).

    Parameters: ``C_in k^2 m + C_in m C_out`` weights versus ``C_in C_out k^2`` for a full conv
    (m = depth_multiplier), i.e. about ``1/C_out + 1/k^2`` of them. Sub-modules ``depthwise`` and
    ``pointwise`` (Conv2d); ``bias`` applies to both.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, bias: bool = True, depth_multiplier: int = 1, padding_mode: str = "zeros",
                 dtype: Any = None, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        rng = get_rng(rng)
        mid = in_channels * depth_multiplier
        self.depthwise = Conv2d(in_channels, mid, kernel_size, stride, padding, dilation, groups=in_channels,
                                bias=bias, padding_mode=padding_mode, dtype=dtype, rng=rng)
        self.pointwise = Conv2d(mid, out_channels, 1, bias=bias, dtype=dtype, rng=rng)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))
