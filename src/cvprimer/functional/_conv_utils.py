"""Helpers shared by the convolution and pooling families (one copy of each, here).

Output size of a sliding window along one axis (PyTorch's formula)::

    L_out = floor((L_in + 2p - d (k - 1) - 1) / s) + 1        (ceil with ceil_mode)

The conv-only helpers (padding resolution, im2col/col2im, the flat channels-last layout) live
in ``functional/conv/_lowering.py`` and ``functional/conv/_geometry.py``.
"""

from __future__ import annotations

from typing import Any


def _pair(v: Any, name: str = "value", op: str = "op") -> tuple[int, int]:
    """An int or a pair of ints as a pair ``(v_h, v_w)``."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair, got {tuple(v)}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def out_size(op: str, length: int, k: int, s: int, p: int, d: int = 1, ceil_mode: bool = False) -> int:
    """Sliding-window output length with PyTorch's rules (see the module docstring).

    ``n = floor((L + 2p - d(k - 1) - 1 + (s - 1 if ceil_mode else 0)) / s) + 1`` (floor toward
    minus infinity, as PyTorch's ``div_rtn``); with ``ceil_mode`` the last window must start
    inside the input or the left padding, as PyTorch requires. So in ceil mode a kernel larger
    than the padded input can still give one window (PyTorch allows it for pooling); otherwise,
    or when the result is < 1, a ValueError names ``op``.
    """
    eff = d * (k - 1) + 1
    span = length + 2 * p - eff
    n = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (n - 1) * s >= length + p:
        n -= 1
    if n < 1:
        raise ValueError(
            f"{op}: kernel extent {eff} (kernel {k}, dilation {d}) is larger than the padded input "
            f"{length + 2 * p} (input {length}, padding {p})"
        )
    return n
