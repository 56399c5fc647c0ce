r"""The engine's tuning switches in one place, with a context manager to change them for a while.

Every performance choice that tests and benchmarks need to flip lives here instead of in module
globals, so that a test says ``with settings.override(conv_phases=False): ...`` and the previous
values come back on exit, even on an exception::

    from cvprimer.core.settings import settings
    settings.numba            # compiled kernels in use (numba installed and not switched off)
    with settings.override(numba=False, threads=1):
        ...                   # the NumPy reference path, on one worker thread

Fields (the defaults are the measured best on a 2-core x86 machine; see ``benchmarks/``):

* ``numba`` -- use the compiled kernels of :mod:`cvprimer.core.jit` where an op has one. Starts
  True when numba imports and the environment variable ``CVPRIMER_NUMBA`` is not ``0``; the
  NumPy code stays the reference and every parity test runs on both paths.
* ``numba_min_elements`` -- ops whose NumPy code is about as fast as their kernel on small arrays
  (the core sigmoid/tanh/relu, softmax) take the NumPy path below this many elements, where the
  compiled call's fixed cost (~15 us) outweighs it (measured f+b: relu and softmax on 1024 values
  ~75 and ~190 us compiled, ~55 and ~130 us NumPy; a small MLP's step is made of such ops). The
  test suite sets it to 0 so that the kernels are tested on small arrays too.
* ``threads`` -- worker threads of the engine's pool (None: the CPUs this process may use, at
  most 4). Convolution, normalization and the other batch-split kernels share that pool.
* ``min_chunk_elements`` -- a batch is split over the workers only when each chunk still has at
  least this many input elements (262144: handing a chunk to a sleeping worker costs ~0.05-0.4 ms
  on a 2-core VM, so a chunk must carry about a millisecond of work; measured on 2-thread training
  steps, interleaved, against 32768: LeNet-5 133 -> 103 ms, MobileNet v2 545 -> 427, ResNet-20
  1278 -> 1180, U-Net 352 -> 327, ViT-tiny 818 -> 783).
* ``conv_phases`` -- strided convs: polyphase stride-1 pieces where they are faster (True: the
  input gradient, and everything when the im2col columns would not be kept) or the im2col/col2im
  reference lowering throughout (False).
* ``conv_phases_grad_input_from`` -- strided convs with at least this many input channels per
  group take the input gradient from the polyphase pieces; fewer take col2im.
* ``conv_one_gemm_below`` -- convs with at most this many output pixels per image (late stages:
  4x4, 2x2 maps) run one GEMM per group over the columns of the whole batch instead of one per
  image.
* ``conv_dw_stack_below`` -- compiled depthwise convs with at most this many output pixels per
  image run each tap once over the whole batch (``_depthwise_stacks``) instead of plane by plane.
* ``conv_s2d`` -- strided convs with k a multiple of s (d = 1): one stride-1 conv on the
  space-to-depth image (True).
* ``conv_keep_cols_bytes`` -- lowered inputs larger than this are not kept for backward (x is kept
  and they are rebuilt).
* ``conv_rows_block_bytes`` -- operand + accumulator bytes per block of the shifted-GEMM sums.
* ``conv_dw_block_bytes`` -- padded input bytes per block of the NumPy depthwise kernels.
* ``conv_cols_below`` -- stride-1 convs with at most this many inputs per output (C_in/g k_h k_w:
  first layers on RGB or grey images) take the im2col columns instead of the shifted GEMMs.
* ``conv_fuse_below`` -- the shifted-GEMM forward lays the k_w taps of a kernel row side by side
  (k_w copies of the input, one wider GEMM per kernel row) when C_in/g is below this.
* ``conv_gw_fuse_max`` -- the stride-1 weight gradient widens an unfused saved operand to the k_w
  row copies (a transient) when C_in/g is at most this.
* ``conv_shared_padding`` -- stride-1 lowering: neighbouring images and rows share their zero
  borders (True) or each gets its own (False; the simple reference layout).

Setting an unknown field, or a value of the wrong type, raises ``ValueError`` naming the field.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any


def _numba_default() -> bool:
    if os.environ.get("CVPRIMER_NUMBA", "1").strip() in ("0", "false", "no", "off"):
        return False
    from cvprimer.core import jit

    return jit.available()


@dataclass
class Settings:
    """The engine's switches (see the module docstring for each field)."""

    numba: bool = False
    numba_min_elements: int = 4096
    threads: int | None = None
    min_chunk_elements: int = 1 << 18
    conv_phases: bool = True
    conv_s2d: bool = True
    conv_keep_cols_bytes: int = 1 << 28
    conv_rows_block_bytes: int = 1 << 20
    conv_dw_block_bytes: int = 1 << 20
    conv_cols_below: int = 32
    conv_fuse_below: int = 16
    conv_gw_fuse_max: int = 64
    conv_shared_padding: bool = True
    conv_phases_grad_input_from: int = 16
    conv_one_gemm_below: int = 16
    conv_dw_stack_below: int = 64

    def _check(self, name: str, value: Any) -> Any:
        known = {f.name: f for f in fields(self)}
        if name not in known:
            raise ValueError(f"settings: unknown field {name!r}; the fields are {sorted(known)}")
        if name == "threads":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"settings: threads must be None or an int >= 1, got {value!r}")
        elif isinstance(getattr(self, name), bool):
            if not isinstance(value, bool):
                raise ValueError(f"settings: {name} must be True or False, got {value!r}")
            if name == "numba" and value:
                from cvprimer.core import jit

                if not jit.available():
                    raise ValueError("settings: numba=True but numba is not installed "
                                     "(pip install 'cvprimer[fast]')")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"settings: {name} must be an int >= 0, got {value!r}")
        return value

    def set(self, **changes: Any) -> None:
        """Change fields for good (checked first: nothing changes when one value is wrong)."""
        checked = {k: self._check(k, v) for k, v in changes.items()}
        for k, v in checked.items():
            object.__setattr__(self, k, v)

    @contextlib.contextmanager
    def override(self, **changes: Any) -> Iterator[Settings]:
        """Change fields inside a ``with`` block; the previous values come back on exit."""
        before = {k: getattr(self, k) for k in changes if hasattr(self, k)}
        self.set(**changes)
        try:
            yield self
        finally:
            for k, v in before.items():
                object.__setattr__(self, k, v)


settings = Settings(numba=_numba_default())
