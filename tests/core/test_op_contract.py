"""The op contract: every ``Function`` subclass of the package describes itself truthfully.

The op classes are found by importing every module of the package and walking ``Function.__subclasses__()``;
each one is run through ``apply`` on the small inputs of :mod:`op_examples` (recorded from one public call per
op) and checked against its own declarations:

* what its backward context really holds (arrays on ``ctx``: saved values and attributes) matches its
  ``saves_for_backward`` (:class:`cvprimer.core.saves.Saves`): the same arguments and outputs kept, and fresh
  arrays of the declared total size. Only activation-sized arrays take part (at least a quarter of the
  largest argument or output), so per-channel statistics and small operators are left out on both sides;
* it has ``infer`` or says why not (``no_infer``); ``infer(call)``, given the call without its outputs, agrees
  with forward's shapes and dtypes;
* it has ``cost`` or says why not (``uncounted``); ``cost(call)`` is a :class:`~cvprimer.core.cost.Cost` of
  non-negative integers whose MACs are positive exactly for the ``is_gemm`` ops (a few other formulas count
  multiply-adds, listed with their reason, and the analyzer turns those into FLOPs); for the multiply-accumulate
  families (conv, transposed conv, linear, matmul, attention) the MACs equal a brute-force count of the products
  the definition performs on the small input;
* ``geometry(call)`` is None or one of the :mod:`cvprimer.core.geometry` types;
* the protocol's three methods take the one :class:`~cvprimer.core.call.Call`: a class written with any other
  signature is refused when it is created.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
import sys
import typing
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cvprimer
from cvprimer.analysis.cost import op_cost
from cvprimer.analysis.trace import InputRef, OpRecord
from cvprimer.core.call import Call
from cvprimer.core.cost import Cost
from cvprimer.core.function import _CTX_KEEP, Function, observe_ops
from cvprimer.core.geometry import Geometry, Transposed, Window
from cvprimer.core.saves import as_saves
from cvprimer.core.tensor import Tensor

sys.path.insert(0, str(Path(__file__).parent))
from op_examples import CALLS  # noqa: E402


def _all_function_classes() -> list[type]:
    for m in pkgutil.walk_packages(cvprimer.__path__, "cvprimer."):
        if ".lab" in m.name or m.name.endswith("__main__"):
            continue
        importlib.import_module(m.name)
    seen: list[type] = []
    stack = list(Function.__subclasses__())
    while stack:
        c = stack.pop()
        if c in seen:
            continue
        seen.append(c)
        stack.extend(c.__subclasses__())
    return [c for c in seen if c.__module__.startswith("cvprimer.") and ".lab." not in c.__module__]


CLASSES = _all_function_classes()


def _record() -> dict[type, tuple[list[Any], dict[str, Any]]]:
    got: dict[type, tuple[list[Any], dict[str, Any]]] = {}

    def cb(fn: type, call: Call) -> None:
        got.setdefault(fn, ([a.copy() if isinstance(a, np.ndarray) else a for a in call.inputs], dict(call.kwargs)))

    with observe_ops(cb):
        for call in CALLS.values():
            call(np.random.default_rng(0))
    return got


EXAMPLES = _record()


def _leaf(c: type) -> bool:
    """A class meant to be applied (not only a base of others)."""
    return c in EXAMPLES or not c.__subclasses__()


def test_every_op_class_is_exercised():
    missing = sorted(c.__qualname__ for c in CLASSES if _leaf(c) and c not in EXAMPLES)
    assert not missing, f"add a call to tests/core/op_examples.py for {missing}"
    assert len(EXAMPLES) >= 80


def _run(fn: type) -> tuple[list[Any], dict[str, Any], tuple[Any, ...], Function]:
    """Apply ``fn`` to its recorded example with gradients on: the arguments as forward received them, the
    keyword options, the output arrays and the graph node."""
    raw, kw = EXAMPLES[fn]
    args = [Tensor(a.copy(), requires_grad=True) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
            for a in raw]
    out = fn.apply(*args, **kw)
    outs = out if isinstance(out, tuple) else (out,)
    node = next(o._node for o in outs if o._node is not None)
    raw_now = [a.data if isinstance(a, Tensor) else a for a in args]
    return raw_now, kw, tuple(o.data for o in outs), node


def _held(ctx: Function) -> list[np.ndarray]:
    vals = list(ctx._saved or ()) + [v for k, v in ctx.__dict__.items() if k not in _CTX_KEEP]
    out = []
    while vals:
        v = vals.pop()
        if isinstance(v, np.ndarray) and v.dtype != object:
            out.append(v)
        elif isinstance(v, (tuple, list)):
            vals.extend(v)
        elif isinstance(v, dict):
            vals.extend(v.values())
    return out


OPS = sorted((c for c in CLASSES if c in EXAMPLES), key=lambda c: c.__qualname__)


@pytest.mark.parametrize("fn", OPS, ids=lambda c: c.__qualname__)
def test_saves_for_backward_matches_what_backward_keeps(fn):
    raw, kw, outs, ctx = _run(fn)
    arrays = [a for a in raw if isinstance(a, np.ndarray)] + list(outs)
    floor = max(a.size for a in arrays) / 4
    # what the context holds: views of arguments, views of outputs, fresh arrays
    ins, outs_kept, fresh, seen = set(), set(), 0, []
    for h in _held(ctx):
        if h.size < floor or any(np.shares_memory(h, s) for s in seen):
            continue
        seen.append(h)
        i = next((i for i, a in enumerate(raw) if isinstance(a, np.ndarray) and np.shares_memory(h, a)), None)
        j = next((j for j, o in enumerate(outs) if np.shares_memory(h, o)), None)
        if i is not None:
            ins.add(i)
        elif j is not None:
            outs_kept.add(j)
        else:
            fresh += h.nbytes
    # what the class declares, on the same footing
    s = as_saves(fn.saves_for_backward)
    d_ins = {i for i in s.input_indices(raw) if raw[i].size >= floor}
    d_outs = {j for j in s.outputs if j < len(outs) and outs[j].size >= floor}
    d_fresh = sum(e.nbytes(raw, outs) for e in s.extra
                  if np.asarray(raw[e.index] if e.like == "input" else outs[e.index]).size >= floor)
    name = fn.__qualname__
    assert ins == d_ins, f"{name} keeps arguments {sorted(ins)}, declares {sorted(d_ins)}"
    assert outs_kept == d_outs, f"{name} keeps outputs {sorted(outs_kept)}, declares {sorted(d_outs)}"
    if any(e.lowered for e in s.extra):  # a lowered copy: its size up to k_h k_w (padding included) times
        g = fn.geometry(Call(raw, kw, outs))
        bound = math.prod(getattr(g, "kernel", (1, 1))) * 2
        assert d_fresh <= fresh <= bound * d_fresh, f"{name} keeps {fresh} fresh bytes, declares {d_fresh}"
    else:
        assert fresh == d_fresh, f"{name} keeps {fresh} fresh bytes, declares {d_fresh}"


#: ops that are not GEMMs but whose formula counts multiply-adds (the analyzer converts them to 2 FLOPs each, so
#: they never reach the MAC headline); any other non-GEMM op reporting MACs fails the contract
NON_GEMM_MACS = {
    "NormalizeFn": "the affine y = x_hat gamma + beta: one multiply-add per element",
    "AffineStatsFn": "evaluation batch norm's folded scale and shift: one multiply-add per element",
    "SyncBatchNormFn": "as NormalizeFn",
    "InterpolateFn": "(bi)linear/bicubic interpolation: the neighbours times their weights, as PyTorch counts",
    "InterpolateNdFn": "as InterpolateFn, for 1-D and 3-D inputs",
}


@pytest.mark.parametrize("fn", OPS, ids=lambda c: c.__qualname__)
def test_infer_cost_and_geometry_describe_the_call(fn):
    assert fn.infer is not None or fn.no_infer, f"{fn.__qualname__}: give it infer or say why not (no_infer)"
    assert fn.cost is not None or fn.uncounted, f"{fn.__qualname__}: give it cost or say why not (uncounted)"
    raw, kw, outs, _ = _run(fn)
    name = fn.__qualname__
    if fn.infer is not None:  # inferred from the call before it ran: no outputs yet
        meta = fn.infer(Call(raw, kw))
        metas = meta if isinstance(meta, list) else [meta]
        assert [(tuple(s), np.dtype(d)) for s, d in metas] == [(o.shape, o.dtype) for o in outs], name
    call = Call(raw, kw, outs)
    if fn.cost is not None:
        c = fn.cost(call)
        assert isinstance(c, Cost), f"{name}.cost returned {type(c).__name__}, not a Cost"
        assert all(type(v) is int and v >= 0 for v in (c.macs, c.flops, c.bytes)), f"{name}: {c}"
        assert c.bytes > 0 or fn.is_view or c == Cost(), f"{name}: a counted op that moves no bytes ({c})"
        if fn.is_gemm:
            assert c.macs > 0, f"{name} is a GEMM with no MACs ({c})"
        elif c.macs:
            assert name in NON_GEMM_MACS, f"{name} is not is_gemm but reports {c.macs} MACs: count them as FLOPs"
            refs = [InputRef("activation", np.shape(a)) if isinstance(a, np.ndarray) else InputRef("option")
                    for a in raw]
            counted = op_cost(OpRecord(0, fn, -1, refs, call))
            assert counted.macs == 0 and counted.flops == c.flops + 2 * c.macs, name
    g = fn.geometry(call)
    assert g is None or isinstance(g, typing.get_args(Geometry)), f"{name}.geometry returned {g!r}"


def test_the_non_gemm_mac_list_names_real_ops():
    names = {c.__qualname__ for c in CLASSES}
    assert set(NON_GEMM_MACS) <= names, sorted(set(NON_GEMM_MACS) - names)


def _old_style(**methods: Any) -> type:
    return type("OldStyleFn", (Function,), {"forward": staticmethod(lambda ctx, x: x), **methods})


@pytest.mark.parametrize("name, method", [
    ("infer", staticmethod(lambda *raw, **kw: (raw[0].shape, raw[0].dtype))),
    ("infer", staticmethod(lambda x, w, b, geom: None)),
    ("cost", staticmethod(lambda inputs, outputs, **kw: {"macs": 0, "flops": 0, "bytes": 0})),
    ("geometry", staticmethod(lambda raw_inputs, kwargs, out_shapes: None)),
    ("geometry", classmethod(lambda cls, raw_inputs, kwargs, out_shapes: None)),
    ("cost", staticmethod(lambda: Cost())),
    ("cost", staticmethod(lambda call, outputs=None: Cost())),
])
def test_an_op_with_another_protocol_signature_is_refused_at_class_creation(name, method):
    with pytest.raises(TypeError, match=rf"OldStyleFn\.{name}: the op protocol's methods take one Call"):
        _old_style(**{name: method})


def test_the_one_call_signature_is_accepted_in_every_form():
    def infer(call: Call) -> Any:
        return call.x.shape, call.x.dtype

    ok = _old_style(infer=staticmethod(infer), cost=staticmethod(lambda call: Cost(flops=call.x.size)),
                    geometry=classmethod(lambda cls, call: None))
    sub = type("SubFn", (ok,), {"cost": None})  # a subclass may drop a method
    assert ok.cost(Call((np.zeros(3),))) == Cost(0, 3, 0) and sub.cost is None
    assert ok.infer(Call((np.zeros((2, 3)),))) == ((2, 3), np.float64)


GEMM = [c for c in OPS if c.is_gemm]


@pytest.mark.parametrize("fn", GEMM, ids=lambda c: c.__qualname__)
def test_gemm_cost_equals_a_brute_force_count(fn):
    raw, kw, outs, _ = _run(fn)
    call = Call(raw, kw, outs)
    macs = fn.cost(call).macs
    count = 0
    geom = fn.geometry(call)
    if isinstance(geom, (Window, Transposed)):
        x, w = raw[0], raw[1]
        taps = list(np.ndindex(*w.shape[1:]))  # (C/g, k_h, k_w): the products one filter application makes
        # conv: every output element applies its filter (zero padding included, the convention);
        # transposed conv: every input element is spread through every tap of its filters
        for _ in np.ndindex(*(x.shape if isinstance(geom, Transposed) else outs[0].shape)):
            count += len(taps)
    elif fn.__qualname__ == "AttentionFn":
        q, k, v = raw[:3]
        count = q.shape[-2] * k.shape[-2] * q.shape[-1] * math.prod(q.shape[:-2]) \
            + q.shape[-2] * k.shape[-2] * v.shape[-1] * math.prod(q.shape[:-2])
    else:  # linear / matmul: one product per (output element, reduced index)
        a = raw[0]
        for _ in np.ndindex(*outs[0].shape):
            count += a.shape[-1]
    assert macs == count, f"{fn.__qualname__}: cost says {macs} MACs, brute force {count}"


@pytest.mark.parametrize("k, s, p", [(3, 2, 1), (2, 2, 0), (3, 1, 1)])
def test_avg_pool_cost_counts_the_separable_sum_it_computes(k, s, p, monkeypatch):
    # count every element added by the op's own window sum (one add per element per extra tap) and one
    # divide per output: the cost formula must give the same number
    ap = importlib.import_module("cvprimer.functional.pooling.avg_pool")
    counted = [0]
    inner = ap._window_sum

    def counting(a, k_, s_, n, axis):
        out = inner(a, k_, s_, n, axis)
        counted[0] += (k_ - 1) * out.size
        return out

    monkeypatch.setattr(ap, "_window_sum", counting)
    recs = []
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 9, 8)))
    with observe_ops(lambda fn, call: recs.append((fn, call))):
        y = ap.avg_pool2d(x, k, s, p)
    fn, call = recs[-1]
    assert fn.cost(call).flops == counted[0] + y.data.size


def test_max_unpool_cost_counts_indices_at_their_own_itemsize():
    import cvprimer.functional as F

    recs = []
    y, idx = F.max_pool2d(Tensor(np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)), 2,
                          return_indices=True)
    with observe_ops(lambda fn, call: recs.append((fn, call))):
        out = F.max_unpool2d(y, idx, 2)
    fn, call = recs[-1]
    # float32 values and int64 indices read, float32 output written
    assert fn.cost(call).bytes == y.data.size * (4 + 8) + out.data.size * 4
