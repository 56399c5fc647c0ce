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
* ``threads`` -- worker threads of the engine's pool and NumPy's BLAS threads (None: the automatic
  budget of :mod:`cvprimer.core.pool`: the CPUs this process may use, at most 4, minus the cores
  other processes keep busy, re-sampled every 0.25 s; 1 when every core is busy, for the BLAS; the
  pool keeps 2 threads even then, ``cvprimer.core.pool.MIN_POOL``). Convolution, linear layers,
  normalization and the other batch-split kernels share that pool; the BLAS runs one thread inside the
  engine's ops while the pool has several and the budget outside them.
* ``min_chunk_elements`` -- a batch is cut into spans of about this many elements of work or more
  (``cvprimer.core.pool.spans``: 1, 2 or 4 of them, a function of the size alone, so that results do
  not depend on the thread count), which the workers share out (262144: handing a chunk to a
  sleeping worker costs ~0.05-0.4 ms on a 2-core VM, so a chunk must carry about a millisecond of
  work; measured on 2-thread training steps, interleaved, against 32768: LeNet-5 133 -> 103 ms,
  MobileNet v2 545 -> 427, ResNet-20 1278 -> 1180, U-Net 352 -> 327, ViT-tiny 818 -> 783).
* ``conv_phases`` -- strided convs: polyphase stride-1 pieces where they are faster (True: the
  input gradient, and everything when the im2col columns would not be kept) or the im2col/col2im
  reference lowering throughout (False).
* ``conv_phases_grad_input_from`` -- strided convs with at least this many input channels per
  group take the input gradient from the polyphase pieces; fewer take col2im.
* ``conv_one_gemm_below`` -- convs with at most this many output pixels per image (late stages:
  4x4, 2x2 maps) run one GEMM per group over the columns of the whole batch instead of one per
  image.
* ``conv_dw_stack_below`` -- compiled depthwise convs with at most this many output pixels per
  image run channels last inside each image (``_depthwise_nhwc``) instead of plane by plane.
* ``conv_s2d`` -- strided convs with k a multiple of s (d = 1): one stride-1 conv on the
  space-to-depth image (True).
* ``conv_strided_jit`` -- other strided convs (float32/float64, columns small enough to keep), with
  ``numba``: one GEMM per group over the batch's columns, gathered and scattered by compiled loops
  (``functional/conv/_strided.py``; True).
* ``conv_keep_cols_bytes`` -- lowered inputs larger than this are not kept for backward (x is kept
  and they are rebuilt).
* ``conv_rows_block_bytes`` -- operand + accumulator bytes per block of the shifted-GEMM sums.
* ``conv_dw_block_bytes`` -- padded input bytes per block of the NumPy depthwise kernels.
* ``conv_cols_below`` -- stride-1 convs with at most this many inputs per output (C_in/g k_h k_w:
  first layers on RGB or grey images) take the im2col columns instead of the shifted GEMMs.
* ``conv_cols_jit_below`` -- stride-1 convs above ``conv_cols_below`` inputs per output with fewer than this many
  input channels per group (e.g. LeNet-5's 6 -> 16, 5x5), with ``numba``: the batch columns gathered and scattered by
  compiled loops (``functional/conv/_strided.py``) instead of the shifted GEMMs (12; 0 turns it off).
* ``conv_fuse_below`` -- the shifted-GEMM forward lays the k_w taps of a kernel row side by side
  (k_w copies of the input, one wider GEMM per kernel row) when C_in/g is below this.
* ``conv_gw_fuse_max`` -- the stride-1 weight gradient widens an unfused saved operand to the k_w
  row copies (a transient) when C_in/g is at most this.
* ``conv_shared_padding`` -- stride-1 lowering: neighbouring images and rows share their zero
  borders (True) or each gets its own (False; the simple reference layout).
* ``conv_winograd`` -- 3x3 stride-1 convs (one group, padding 0-2) run Winograd F(2x2, 3x3) with the
  compiled kernels (``functional/conv/_winograd.py``; only while ``numba`` is True), where
  ``conv_winograd_min_channels`` (4) channels in and out and ``conv_winograd_min_tiles`` (128) 2x2 output
  tiles in the batch make it pay (measured in ``functional/conv/_kernels.py``).
* ``conv_winograd_block_bytes`` -- transformed input and output tile bytes per block of images (768 KiB:
  with the vectorised transforms 2-7% faster than 1 MiB in 10 of 12 interleaved pairs on ResNet-20's shapes,
  forward + both gradients, 1 thread).

* ``norm_cols_max_length`` -- batch norm over planes of at most this many positions runs the compiled
  ``cols`` layout (x as (N, C L) rows); longer planes the ``planes`` layout (x as (N, C, L), swept image by
  image; 32: measured on 8x8 planes, planes/cols 0.66-0.73 of the f+b time, equal on 4x4 to 6x6 planes).
* ``norm_rows_max_length`` -- group norm over planes of at most this many positions runs the compiled
  ``rows`` layout (each (sample, group) one contiguous row); longer planes the ``sets`` layout.

The settings are **frozen and context-local**: ``settings`` reads the values in force in the current
context (thread or task); ``with settings.override(...)`` changes them for this context only (a
``ContextVar``), so a user's threads and the engine's own workers never see each other's overrides;
``settings.set(...)`` changes the process-wide defaults. Assigning a field (``settings.threads = 2``)
raises. Every op that records a graph node keeps the ``Settings`` in force at its forward
(:func:`current`), and the backward runs under that same snapshot: a decision taken in forward (a
convolution's lowering, a normalization layout) is never re-read from other values in backward.

Setting an unknown field, or a value of the wrong type, raises ``ValueError`` naming the field.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, fields
from typing import Any


def _numba_default() -> bool:
    if os.environ.get("CVPRIMER_NUMBA", "1").strip() in ("0", "false", "no", "off"):
        return False
    from cvprimer.core import jit

    return jit.available()


@dataclass(frozen=True)
class Settings:
    """One immutable set of the engine's switches (see the module docstring for each field); checked
    when made, so a ``Settings`` that exists is valid."""

    numba: bool = False
    numba_min_elements: int = 4096
    threads: int | None = None
    min_chunk_elements: int = 1 << 18
    conv_phases: bool = True
    conv_s2d: bool = True
    conv_strided_jit: bool = True
    conv_keep_cols_bytes: int = 1 << 28
    conv_rows_block_bytes: int = 1 << 20
    conv_dw_block_bytes: int = 1 << 20
    conv_cols_below: int = 32
    conv_cols_jit_below: int = 12
    conv_fuse_below: int = 16
    conv_gw_fuse_max: int = 64
    conv_shared_padding: bool = True
    conv_phases_grad_input_from: int = 16
    conv_one_gemm_below: int = 16
    conv_dw_stack_below: int = 64
    conv_winograd: bool = True
    conv_winograd_min_channels: int = 4
    conv_winograd_min_tiles: int = 128
    conv_winograd_block_bytes: int = 3 << 18
    norm_cols_max_length: int = 32
    norm_rows_max_length: int = 64

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_value(f.name, getattr(self, f.name), f.default)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (unknown fields and bad values raise ``ValueError`` naming the field)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"settings: unknown field {unknown[0]!r}; the fields are {sorted(known)}")
        if changes.get("numba") is True and not self.numba:
            from cvprimer.core import jit

            if not jit.available():
                raise ValueError("settings: numba=True but numba is not installed (pip install 'cvprimer[fast]')")
        return dataclasses.replace(self, **changes)


def _check_value(name: str, value: Any, default: Any) -> None:
    if name == "threads":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"settings: threads must be None or an int >= 1, got {value!r}")
    elif isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"settings: {name} must be True or False, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"settings: {name} must be an int >= 0, got {value!r}")


_DEFAULTS: list[Settings] = [Settings(numba=_numba_default())]  # the process-wide values (settings.set)
_CURRENT: ContextVar[Settings | None] = ContextVar("cvprimer_settings", default=None)


def current() -> Settings:
    """The ``Settings`` in force in this context: an override's, else the process-wide ones."""
    s = _CURRENT.get()
    return _DEFAULTS[0] if s is None else s


@contextlib.contextmanager
def use(snapshot: Settings) -> Iterator[Settings]:
    """Run a block under exactly ``snapshot`` (the engine's backward uses the snapshot its forward saw)."""
    if not isinstance(snapshot, Settings):
        raise TypeError(f"settings.use: expected a Settings, got {type(snapshot).__name__}")
    token = _CURRENT.set(snapshot)
    try:
        yield snapshot
    finally:
        _CURRENT.reset(token)


class _SettingsView:
    """``settings``: read-only attribute access to :func:`current`, plus ``set``, ``override``, ``use``."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        return getattr(current(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"settings are frozen: use `with settings.override({name}=...)` for a block or "
                             f"settings.set({name}=...) for the process")

    def __repr__(self) -> str:
        return f"settings -> {current()!r}"

    @staticmethod
    def current() -> Settings:
        return current()

    @staticmethod
    def use(snapshot: Settings) -> contextlib.AbstractContextManager[Settings]:
        return use(snapshot)

    @staticmethod
    def set(**changes: Any) -> None:
        """Change the process-wide values for good (checked first: nothing changes when one value is
        wrong). An ``override`` active in this context still wins inside its block."""
        _DEFAULTS[0] = _DEFAULTS[0].replace(**changes)

    @staticmethod
    @contextlib.contextmanager
    def override(**changes: Any) -> Iterator[Settings]:
        """Change fields inside a ``with`` block, for this context only; the previous values come back on
        exit, even on an exception."""
        with use(current().replace(**changes)) as s:
            yield s


settings = _SettingsView()
