"""The analyzer's trace is shape-only: no array of activation size is allocated, whatever the input size; and
every ``infer`` agrees with its op's forward (shape, dtype, and the errors it raises)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import cvprimer as cp
from cvprimer.analysis import analyze
from cvprimer.analysis.roofline import MachineProfile
from cvprimer.core.call import Call
from cvprimer.core.ops.arith import AddFn, DivFn, MaximumFn, MulFn, SubFn, WhereFn
from cvprimer.core.ops.shape import ConcatFn, PadFn, StackFn
from cvprimer.core.ops.unary import ClampFn, ExpFn, ReLUFn, SigmoidFn, TanhFn
from cvprimer.models import get_model

PROFILE = MachineProfile(1e11, 1e10)  # given, so the machine micro-benchmark does not run


@pytest.mark.parametrize("name, size", [("resnet18", 4096), ("densenet121", 1024), ("googlenet", 1024)])
def test_trace_allocates_nothing_of_activation_size(name, size):
    model = get_model(name)
    one_activation = 64 * (size // 2) ** 2 * 4  # the stem's output alone, in bytes
    tracemalloc.start()
    try:
        rep = analyze(model, (1, 3, size, size), profile=PROFILE)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rep.totals["macs"] > 0
    assert peak < min(32 * 2**20, one_activation // 8), f"{name} at {size}: peak {peak / 2**20:.1f} MiB"


def _forward(fn, *raw, **kwargs):
    """The op's real forward through ``Function.apply`` (arrays wrapped as tensors)."""
    args = [cp.Tensor(a) if isinstance(a, np.ndarray) else a for a in raw]
    with cp.no_grad():
        return fn.apply(*args, **kwargs).data


def _check_infer(fn, *raw, **kwargs):
    shape, dtype = fn.infer(Call(raw, kwargs))
    out = _forward(fn, *raw, **kwargs)
    assert (tuple(shape), np.dtype(dtype)) == (out.shape, out.dtype), fn.__name__


@pytest.mark.parametrize("fn", [AddFn, SubFn, MulFn, DivFn, MaximumFn])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_infer_broadcasts_like_forward(fn, dtype):
    rng = np.random.default_rng(0)
    a = rng.uniform(1, 2, (2, 1, 4)).astype(dtype)
    b = rng.uniform(1, 2, (3, 1)).astype(dtype)
    _check_infer(fn, a, b)
    _check_infer(fn, a, 2.0)


def test_unary_where_and_clamp_infer():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 5)).astype(np.float32)
    for fn in (ExpFn, ReLUFn, SigmoidFn, TanhFn):
        _check_infer(fn, x)
    _check_infer(ClampFn, x, -0.5, 0.5)
    _check_infer(WhereFn, x > 0, x, np.zeros((5,), np.float32))


def test_cat_stack_pad_infer_match_forward_and_refuse_the_same_inputs():
    x = np.zeros((2, 3, 4), np.float32)
    y = np.zeros((2, 5, 4), np.float32)
    _check_infer(ConcatFn, 1, x, y)
    _check_infer(ConcatFn, -1, x, x)
    _check_infer(StackFn, 0, x, x)
    _check_infer(PadFn, x, (1, 2, -1, 0))
    _check_infer(PadFn, x, (1, 1), "reflect")
    _check_infer(PadFn, x, (2, 0, 1, 1), "circular")
    _check_infer(PadFn, x, (-1, 2, 1, -2), "replicate")  # negative widths crop in every mode (PyTorch 2.13)
    for bad in [(ConcatFn, (1, x, np.zeros((3, 3, 4), np.float32)), {}), (StackFn, (0, x, y), {}),
                (PadFn, (x, (5, 0), "reflect"), {}), (PadFn, (x, (-2, 3), "circular"), {}),
                (PadFn, (x, (-3, -2)), {})]:
        fn, args, kw = bad
        with pytest.raises(ValueError):
            fn.infer(Call(args, kw))
        with pytest.raises(ValueError):
            _forward(fn, *args, **kw)


def test_shape_only_cat_of_placeholders_is_still_checked():
    from cvprimer.core.function import shape_only

    a = cp.Tensor(np.broadcast_to(np.zeros((), np.float32), (1, 2, 8, 8)))
    b = cp.Tensor(np.broadcast_to(np.zeros((), np.float32), (1, 3, 7, 8)))
    with shape_only(), pytest.raises(ValueError, match="must match except along dim 1"):
        cp.cat([a, b], dim=1)
