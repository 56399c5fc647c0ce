"""Changing an op's input in place after its forward never yields a silently wrong gradient: for every op of the
contract's examples (and the conv lowerings that keep their input), backward either refuses with PyTorch's "modified
by an inplace operation" error or returns exactly the gradients computed without the change."""

from __future__ import annotations

import numpy as np
import pytest
from test_op_contract import EXAMPLES, OPS

import cvprimer.functional as F
from cvprimer.core.settings import settings
from cvprimer.core.tensor import Tensor


def _grads(fn, raw, kw, mutate: int | None, gys):
    """Grads of sum(out_k * gy_k) w.r.t. every float input; ``mutate``: the float input changed in place (x *= 2,
    recorded) after the forward. Returns the grads or the RuntimeError's text."""
    leaves, args = [], []
    for a in raw:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            leaf = Tensor(a.copy(), requires_grad=True)
            leaves.append(leaf)
            args.append(leaf * 1.0)  # not a leaf: an in-place change is allowed and recorded
        else:
            args.append(a)
            leaves.append(None)
    out = fn.apply(*args, **kw)
    outs = out if isinstance(out, tuple) else (out,)
    if mutate is not None:
        try:
            args[mutate].mul_(2.0)
        except RuntimeError as e:  # refused at once (an input that shares storage with a view of it)
            return str(e)
    total = None
    for o, gy in zip(outs, gys, strict=False):
        if o.requires_grad:
            term = (o * Tensor(gy)).sum()
            total = term if total is None else total + term
    try:
        total.backward()
    except RuntimeError as e:
        return str(e)
    return [None if leaf is None or leaf.grad is None else leaf.grad.numpy() for leaf in leaves]


def _check(fn, raw, kw):
    rng = np.random.default_rng(1)
    probe = fn.apply(*[Tensor(a.copy()) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in raw],
                     **kw)
    outs = probe if isinstance(probe, tuple) else (probe,)
    gys = [rng.standard_normal(o.shape) for o in outs]
    ref = _grads(fn, raw, kw, None, gys)
    assert not isinstance(ref, str), ref
    for i, a in enumerate(raw):
        if not (isinstance(a, np.ndarray) and a.dtype.kind == "f"):
            continue
        got = _grads(fn, raw, kw, i, gys)
        if isinstance(got, str):
            assert "modified by an inplace operation" in got or "shares its storage with a view" in got, got
            continue
        for k, (g, r) in enumerate(zip(got, ref, strict=True)):
            if r is not None:
                np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12, err_msg=f"{fn.__qualname__}: input {i} "
                                           f"changed in place after forward, gradient of input {k} silently wrong")


def _float64(raw):
    return [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in raw]


@pytest.mark.parametrize("fn", OPS, ids=lambda c: c.__qualname__)
def test_every_op_refuses_or_stays_right(fn):
    raw, kw = EXAMPLES[fn]
    if not any(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in raw):
        pytest.skip("no float input")
    _check(fn, _float64(raw), kw)


CONVS = {  # lowerings that may keep the input itself for the weight gradient
    "depthwise": ((2, 4, 9, 8), (4, 1, 3, 3), {"padding": 1, "groups": 4}),
    "depthwise_s2": ((2, 4, 9, 8), (8, 1, 3, 3), {"padding": 1, "groups": 4, "stride": 2}),
    "pointwise": ((2, 4, 9, 8), (5, 4, 1, 1), {}),
    "dense": ((2, 4, 9, 8), (5, 4, 3, 3), {"padding": 1}),
    "strided": ((2, 4, 9, 8), (5, 4, 3, 3), {"padding": 1, "stride": 2}),
}


@pytest.mark.parametrize("numba", [False, True])
@pytest.mark.parametrize("case", sorted(CONVS))
def test_conv_lowerings_refuse_or_stay_right(case, numba):
    xs, ws, opts = CONVS[case]
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    seen = []
    from cvprimer.core.function import observe_ops

    with settings.override(numba=numba), observe_ops(lambda fn, call: seen.append((fn, call))):
        F.conv2d(Tensor(x), Tensor(w), **opts)
    fn, call = seen[-1]
    with settings.override(numba=numba):
        _check(fn, list(call.inputs), dict(call.kwargs))


def test_conv_that_keeps_its_input_for_lack_of_room_refuses():
    """Columns above settings.conv_keep_cols_bytes: the forward keeps x itself for the weight gradient."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((5, 4, 3, 3))
    seen = []
    from cvprimer.core.function import observe_ops

    with settings.override(conv_keep_cols_bytes=0), observe_ops(lambda fn, call: seen.append((fn, call))):
        F.conv2d(Tensor(x), Tensor(w), padding=1)
        fn, call = seen[-1]
        _check(fn, list(call.inputs), dict(call.kwargs))
