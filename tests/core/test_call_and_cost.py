"""The op protocol's two records: :class:`~cvprimer.core.call.Call` (one op call) and
:class:`~cvprimer.core.cost.Cost` (its work), and the way ``Function.apply`` hands the call around."""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.core.call import Call
from cvprimer.core.cost import Cost, copy_cost, elementwise_cost
from cvprimer.core.function import Function, observe_ops, shape_only


def test_cost_reads_by_attribute_and_as_a_read_only_mapping():
    c = Cost(macs=6, flops=2, bytes=40)
    assert (c.macs, c.flops, c.bytes) == (6, 2, 40)
    assert c["macs"] == 6 and c.get("flops") == 2 and "bytes" in c and "params" not in c
    assert list(c.keys()) == ["macs", "flops", "bytes"] and dict(c) == {"macs": 6, "flops": 2, "bytes": 40}
    assert dict(c.items()) == dict(c) and len(c) == 3
    assert c == {"macs": 6, "flops": 2, "bytes": 40} and c != {"macs": 6, "flops": 2, "bytes": 41}
    assert c != {"macs": 6, "flops": 2}  # a mapping missing a field is not the same cost
    with pytest.raises(KeyError):
        c["params"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.macs = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        c["macs"] = 1  # type: ignore[index]
    assert hash(c) == hash(Cost(6, 2, 40)) and len({c, Cost(6, 2, 40)}) == 1


def test_cost_adds_field_by_field_and_sums():
    a, b = Cost(1, 2, 3), Cost(10, 20, 30)
    assert a + b == Cost(11, 22, 33)
    assert sum([a, b, a]) == Cost(12, 24, 36) and sum([], Cost()) == Cost()
    with pytest.raises(TypeError):
        a + {"macs": 1, "flops": 0, "bytes": 0}  # type: ignore[operator]


@pytest.mark.parametrize("bad", [1.5, "3", None, True])
def test_cost_refuses_a_non_integer_count(bad):
    with pytest.raises(TypeError, match="Cost: flops must be an integer"):
        Cost(flops=bad)


def test_cost_accepts_numpy_integers_as_python_ints():
    c = Cost(np.int64(4), np.int32(2), np.prod((2, 3)))
    assert c == Cost(4, 2, 6) and all(type(v) is int for v in (c.macs, c.flops, c.bytes))


def test_call_is_read_only_and_its_helpers_read_positional_or_keyword_arguments():
    x, w = np.zeros((2, 3), np.float32), np.ones((4, 3), np.float64)
    kw = {"mode": "reflect"}
    call = Call([x, w, 2], kw)
    kw["mode"] = "changed"  # the call keeps its own copy
    assert call.inputs == (x, w, 2) and call.x is x and call.arrays == (x, w)
    assert call.kwargs["mode"] == "reflect" and call.outputs is None
    assert call.arg(2, "pad") == 2 and call.arg(3, "mode") == "reflect" and call.arg(4, "value", 0.5) == 0.5
    with pytest.raises(TypeError):
        call.kwargs["mode"] = "x"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.outputs = ()  # type: ignore[misc]
    with pytest.raises(ValueError, match="not known yet"):
        _ = call.out_shapes
    done = call.with_outputs([np.zeros((2, 4), np.float64), np.zeros(5, np.int64)])
    assert done.out_shapes == ((2, 4), (5,)) and done.itemsize == 8 and done.out.shape == (2, 4)
    assert done.inputs is call.inputs and call.outputs is None


def test_apply_hands_infer_the_call_without_outputs_and_observers_the_call_with_them():
    seen = []

    class Twice(Function):
        @staticmethod
        def forward(ctx, x, k, scale=1.0):
            return x * k * scale

        @staticmethod
        def backward(ctx, gy):
            return gy

        @staticmethod
        def infer(call):
            seen.append(("infer", call.outputs, call.arg(1, "k"), call.arg(2, "scale", 1.0)))
            return call.x.shape, call.x.dtype

        cost = staticmethod(elementwise_cost(2))

    x = cp.tensor(np.arange(6.0).reshape(2, 3))
    with observe_ops(lambda fn, call: seen.append(("observe", fn, call))):
        y = Twice.apply(x, 3, scale=0.5)
        with shape_only():
            z = Twice.apply(x, 3, scale=0.5)
    np.testing.assert_array_equal(y.numpy(), np.arange(6.0).reshape(2, 3) * 1.5)
    assert z.shape == (2, 3) and z.data.strides == (0, 0)  # inferred, not computed
    assert seen[1] == ("infer", None, 3, 0.5)  # the shape-only call: infer before any output exists
    (_, fn1, run), (_, fn2, inferred) = seen[0], seen[2]
    assert fn1 is fn2 is Twice and run.inputs[1:] == (3,) and dict(run.kwargs) == {"scale": 0.5}
    assert run.out_shapes == inferred.out_shapes == ((2, 3),)
    assert Twice.cost(run) == Cost(0, 12, (6 + 6) * 8)  # 2 FLOPs per output; x read, y written, float64


def test_the_public_formulas_return_a_cost_that_old_code_reads_as_before():
    conv = importlib.import_module("cvprimer.functional.conv.conv2d")
    c = conv.cost((1, 4, 8, 8), (4, 1, 3, 3), groups=4, bias=False)
    assert isinstance(c, Cost) and c["macs"] == c.macs == 4 * 6 * 6 * 9
    assert F.pooling.global_pool2d_cost((2, 3, 4, 5)) == dict(macs=0, flops=2 * 3 * 20, bytes=(120 + 6) * 4)
    # a generic form on a call, and the same numbers as the hand count
    a = np.zeros((3, 4), np.float32)
    assert copy_cost(Call((a, a), outputs=(np.zeros((6, 4), np.float32),))) == Cost(0, 0, (24 + 24) * 4)
