"""Argument checking and geometry resolution shared by the conv family (clear errors, one copy)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from cvprimer.core.tensor import Tensor
from cvprimer.functional._conv_utils import _pair, out_size


class Geom(NamedTuple):
    """Resolved geometry of a 2-D convolution (all pairs are (h, w)).

    ``out`` is (H_out, W_out) of the convolution (not of the transposed op):
    ``H_out = floor((H + p_top + p_bottom - d_h (k_h - 1) - 1) / s_h) + 1``.
    """

    k: tuple[int, int]
    s: tuple[int, int]
    d: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, bottom, left, right
    groups: int
    out: tuple[int, int]  # H_out, W_out of the convolution (not of the transposed op)

    @property
    def pointwise(self) -> bool:
        """1x1 kernel without padding: the columns are the (strided) input itself."""
        return self.k == (1, 1) and not any(self.pads)

    def depthwise(self, c_in: int, w_shape: tuple[int, ...]) -> bool:
        """One input channel per group (``groups == C_in > 1``)."""
        return self.groups > 1 and self.groups == c_in and w_shape[1] == 1

    @property
    def rows(self) -> bool:
        """Stride-1, non-pointwise: the row-lowering path."""
        return self.s == (1, 1) and not self.pointwise


def conv_padding(op: str, padding: Any, k: tuple[int, int], s: tuple[int, int],
                 d: tuple[int, int]) -> tuple[int, int, int, int]:
    """Resolve a conv ``padding`` argument to ``(top, bottom, left, right)``.

    ``padding`` is an int, a pair ``(p_h, p_w)``, ``"valid"`` (no padding) or ``"same"``
    (output size = input size; stride 1 only, as PyTorch). For ``"same"`` the total
    ``d (k - 1)`` is split as PyTorch does: ``total // 2`` before, the rest (one more when
    the total is odd) after.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            if s != (1, 1):
                raise ValueError(f"{op}: padding='same' is only supported for stride 1, got stride {s}")
            th, tw = d[0] * (k[0] - 1), d[1] * (k[1] - 1)
            return th // 2, th - th // 2, tw // 2, tw - tw // 2
        raise ValueError(f"{op}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer, tuple, list)):
        raise TypeError(f"{op}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    ph, pw = _pair(padding, "padding", op)
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: padding must be >= 0, got {(ph, pw)}")
    return ph, ph, pw, pw


def as_tensor(op: str, name: str, v: Any) -> Tensor:
    if isinstance(v, Tensor):
        return v
    if isinstance(v, np.ndarray):
        return Tensor(v)
    raise TypeError(f"{op}: {name} must be a Tensor or a NumPy array, got {type(v).__name__}")


def positive_pair(op: str, name: str, v: Any) -> tuple[int, int]:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer, tuple, list)):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    p = _pair(v, name, op)
    if p[0] < 1 or p[1] < 1:
        raise ValueError(f"{op}: {name} must be >= 1, got {p}")
    return p


def check_operands(op: str, x: Tensor, w: Tensor, b: Tensor | None, spatial: int, groups: Any,
                   transposed: bool = False) -> None:
    """Ranks, dtypes and channel/group consistency of a conv's ``x``, ``weight``, ``bias``.

    ``spatial`` is the number of spatial axes (2 for conv2d, 1 for conv1d). For a plain conv
    the weight is (C_out, C_in/g, k...), for a transposed one (C_in, C_out/g, k...).
    """
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if x.ndim not in (spatial + 1, spatial + 2):
        raise ValueError(
            f"{op}: expected a {spatial + 2}-D input (N, C_in{', L' if spatial == 1 else ', H, W'}) "
            f"or an unbatched {spatial + 1}-D one, got shape {x.shape}"
        )
    if w.ndim != spatial + 2:
        raise ValueError(f"{op}: expected a {spatial + 2}-D weight, got shape {w.shape}")
    dts = {x.dtype, w.dtype} | ({b.dtype} if b is not None else set())
    if len(dts) != 1 or x.dtype.kind != "f":
        raise TypeError(
            f"{op}: input, weight and bias must share one floating dtype, got input {x.dtype}, "
            f"weight {w.dtype}" + (f", bias {b.dtype}" if b is not None else "")
        )
    c_in = x.shape[-spatial - 1]
    if c_in % groups:
        raise ValueError(f"{op}: input channels {c_in} (input shape {x.shape}) not divisible by groups={groups}")
    if transposed:
        if w.shape[0] != c_in:
            raise ValueError(
                f"{op}: weight shape {w.shape} expects {w.shape[0]} input channels (C_in, C_out/groups, "
                f"k...), got input shape {x.shape}"
            )
        c_out = w.shape[1] * groups
    else:
        c_out = w.shape[0]
        if c_out % groups:
            raise ValueError(
                f"{op}: output channels {c_out} (weight shape {w.shape}) not divisible by groups={groups}"
            )
        if w.shape[1] * groups != c_in:
            raise ValueError(
                f"{op}: weight shape {w.shape} expects C_in/groups = {w.shape[1]}, i.e. {w.shape[1] * groups} "
                f"input channels with groups={groups}, got input shape {x.shape}"
            )
    if b is not None and b.shape != (c_out,):
        raise ValueError(f"{op}: bias must have shape ({c_out},) (C_out), got {b.shape}")


def conv_geometry(op: str, hw: tuple[int, int], k: tuple[int, int], stride: Any, padding: Any,
                  dilation: Any, groups: int) -> Geom:
    """Resolve stride/padding/dilation and the output size of a conv on an ``hw`` image."""
    s = positive_pair(op, "stride", stride)
    d = positive_pair(op, "dilation", dilation)
    pads = conv_padding(op, padding, k, s, d)
    out = []
    for ax, (n, kk, ss, dd, p0, p1) in enumerate(
        zip(hw, k, s, d, pads[0::2], pads[1::2], strict=True)
    ):
        ext = dd * (kk - 1) + 1
        if ext > n + p0 + p1:
            raise ValueError(
                f"{op}: kernel extent {ext} (kernel {kk}, dilation {dd}) along {'HW'[ax]} is larger than "
                f"the padded input {n + p0 + p1} (input {hw}, padding {pads[:2] if ax == 0 else pads[2:]})"
            )
        out.append(out_size(op, n + p0 + p1, kk, ss, 0, dd))
    return Geom(k, s, d, pads, int(groups), (out[0], out[1]))
