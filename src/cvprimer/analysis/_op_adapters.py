r"""``infer``/``cost`` adapters attached to the op classes at import (temporary home).

Each op family's file owns a ``cost(...)`` function with its own signature; the analyzer needs
the uniform protocol of :class:`~cvprimer.core.function.Function`:

* ``infer(*raw_inputs, **kwargs) -> (shape, dtype)`` (or a list of them) for the shape-only trace;
* ``cost(raw_inputs, outputs, **kwargs) -> {"macs", "flops", "bytes"}``.

The adapters below translate one into the other. They are attached ONLY where the class does
not define its own (``cls.infer is None`` / ``cls.cost is None``), so once the op files carry
their own static methods these adapters simply stop being used. An op class absent from
:data:`COSTS` keeps ``cost = None`` and the analyzer reports it as *uncounted*.

Transcendental functions (exp, log, erf, sqrt) are counted as one FLOP each; the per-element
counts of the activations are stated in :data:`POINTWISE_FLOPS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from cvprimer.core.ops import arith, index, reduce, shape, unary


def _mod(name: str) -> Any:
    # import_module: several op modules share their name with a re-exported function
    return importlib.import_module(f"cvprimer.functional.{name}")


attention, dropout, linear = _mod("attention"), _mod("dropout"), _mod("linear")
act_base, exponential, hard = _mod("activation._base"), _mod("activation.exponential"), _mod("activation.hard")
maxout, rectifier, smooth = _mod("activation.maxout"), _mod("activation.rectifier"), _mod("activation.smooth")
softmax_mod = _mod("activation.softmax")
conv_mod, convt_mod = _mod("conv.conv2d"), _mod("conv.conv_transpose")
binary, classification, focal = _mod("loss.binary"), _mod("loss.classification"), _mod("loss.focal")
margin, penalty, regression = _mod("loss.margin"), _mod("loss.penalty"), _mod("loss.regression")
_normalize, batch_norm = _mod("normalization._normalize"), _mod("normalization.batch_norm")
adaptive, avg_pool, global_pool = _mod("pooling.adaptive"), _mod("pooling.avg_pool"), _mod("pooling.global_pool")
max_pool, unpool = _mod("pooling.max_pool"), _mod("pooling.unpool")
interpolate, shuffle = _mod("sampling.interpolate"), _mod("sampling.shuffle")

Cost = dict[str, int]


def _n(a: Any) -> int:
    return int(np.size(a))


def _isz(outputs: tuple[np.ndarray, ...]) -> int:
    return int(np.asarray(outputs[0]).dtype.itemsize)


def _dt(*arrays: Any) -> np.dtype:
    return np.result_type(*[a for a in arrays if isinstance(a, np.ndarray)])


# ---------------------------------------------------------------- infer (shape-only trace)
def _conv_infer(x, w, b, geom):
    return (x.shape[0], w.shape[0]) + tuple(geom.out), _dt(x, w)


def _convt_infer(x, w, b, geom, out_shape):
    return tuple(out_shape), _dt(x, w)


def _linear_infer(x, weight, bias=None):
    return x.shape[:-1] + (weight.shape[0],), _dt(x, weight)


def _maxpool_infer(x, g):
    s = x.shape[:-2] + tuple(g["out"])
    return [(s, x.dtype), (s, np.dtype(np.int64))]


def _window_infer(x, g, *rest):
    return x.shape[:-2] + tuple(g["out"]), x.dtype


def _global_infer(x):
    return x.shape[:-2] + (1, 1), x.dtype


def _adaptive_infer(x, out):
    return x.shape[:-2] + tuple(out), x.dtype


def _interp_infer(x, mode, out, *rest):
    return x.shape[:-2] + tuple(out), x.dtype


def _same_infer(x, *args, **kwargs):
    return x.shape, x.dtype


def _normalize_infer(x, weight, bias, view, axes, pview, eps, stats=None):
    if stats is not None:  # what the arithmetic would give on the all-zero placeholder input
        m = tuple(1 if i in axes else n for i, n in enumerate(view))
        stats["mean"] = np.zeros(m, x.dtype).reshape(-1)
        stats["var"] = np.zeros(m, x.dtype).reshape(-1)
    return x.shape, x.dtype


def _attention_infer(q, k, v, mask=None, scale=1.0):
    lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    L, S = q.shape[-2], k.shape[-2]
    dt = _dt(q, k, v)
    return [(lead + (L, v.shape[-1]), dt), (lead + (L, S), dt)]


INFERS: dict[type, Callable[..., Any]] = {
    conv_mod.Conv2dFn: _conv_infer,
    convt_mod.ConvTranspose2dFn: _convt_infer,
    linear.LinearFn: _linear_infer,
    max_pool.MaxPool2dFn: _maxpool_infer,
    avg_pool.AvgPool2dFn: _window_infer,
    global_pool.GlobalAvgPool2dFn: _global_infer,
    global_pool.GlobalMaxPool2dFn: _global_infer,
    adaptive.AdaptiveAvgPool2dFn: _adaptive_infer,
    interpolate.InterpolateFn: _interp_infer,
    _normalize.NormalizeFn: _normalize_infer,
    _normalize.AffineStatsFn: _same_infer,
    attention.AttentionFn: _attention_infer,
}


# ---------------------------------------------------------------- cost
def _conv_cost(inputs, outputs, **kw) -> Cost:
    """MACs = N C_out H_out W_out (C_in/g) k_h k_w (A's formula, from the resolved geometry)."""
    x, w, b, geom = inputs[:4]
    y = outputs[0]
    macs = _n(y) * int(np.prod(w.shape[1:]))
    elems = _n(x) + _n(w) + (_n(b) if b is not None else 0) + _n(y)
    return {"macs": macs, "flops": _n(y) if b is not None else 0, "bytes": elems * _isz(outputs)}


def _convt_cost(inputs, outputs, **kw) -> Cost:
    """MACs = N C_in H W (C_out/g) k_h k_w: every input pixel meets every tap of its group."""
    x, w, b = inputs[:3]
    y = outputs[0]
    macs = _n(x) * int(np.prod(w.shape[1:]))
    elems = _n(x) + _n(w) + (_n(b) if b is not None else 0) + _n(y)
    return {"macs": macs, "flops": _n(y) if b is not None else 0, "bytes": elems * _isz(outputs)}


def _linear_cost(inputs, outputs, **kw) -> Cost:
    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    return linear.cost(x.shape, w.shape, bias=b is not None, itemsize=_isz(outputs))


def _maxpool_cost(inputs, outputs, **kw) -> Cost:
    x, g = inputs
    n_out = _n(outputs[0])
    return {"macs": 0, "flops": n_out * (g["k"][0] * g["k"][1] - 1),
            "bytes": _n(x) * x.dtype.itemsize + n_out * (x.dtype.itemsize + 8)}


def _avgpool_cost(inputs, outputs, **kw) -> Cost:
    x, g = inputs[:2]
    n_out = _n(outputs[0])
    return {"macs": 0, "flops": n_out * g["k"][0] * g["k"][1],  # k_h k_w - 1 adds + 1 divide
            "bytes": (_n(x) + n_out) * x.dtype.itemsize}


def _shape_cost(fn: Callable[..., Cost], *extra: Any) -> Callable[..., Cost]:
    def cost(inputs, outputs, **kw) -> Cost:
        return fn(np.shape(inputs[0]), *extra, itemsize=_isz(outputs))
    return cost


def _adaptive_cost(inputs, outputs, **kw) -> Cost:
    return adaptive.cost(inputs[0].shape, inputs[1], itemsize=_isz(outputs))


def _interp_cost(inputs, outputs, **kw) -> Cost:
    x, mode, out = inputs[:3]
    return interpolate.cost(x.shape, size=tuple(out), mode=mode, itemsize=_isz(outputs))


def _normalize_cost(inputs, outputs, **kw) -> Cost:
    return _normalize.cost(inputs[0].shape, affine=inputs[1] is not None, itemsize=_isz(outputs))


def _affine_stats_cost(inputs, outputs, **kw) -> Cost:
    return batch_norm.cost(inputs[0].shape, training=False, itemsize=_isz(outputs))


def _attention_cost(inputs, outputs, **kw) -> Cost:
    q, k, v = inputs[:3]
    return attention.cost(q.shape, k.shape, v.shape, itemsize=_isz(outputs))


def _unpool_cost(inputs, outputs, **kw) -> Cost:
    return {"macs": 0, "flops": 0, "bytes": (2 * _n(inputs[0]) + _n(outputs[0])) * _isz(outputs)}


def _maxout_cost(inputs, outputs, **kw) -> Cost:
    return maxout.cost(inputs[0].shape, inputs[1], itemsize=_isz(outputs))


def _loss_cost(fn: Callable[..., Cost]) -> Callable[..., Cost]:
    def cost(inputs, outputs, **kw) -> Cost:
        return fn(np.shape(inputs[0]), itemsize=_isz(outputs))
    return cost


def _penalty_cost(inputs, outputs, **kw) -> Cost:
    n = sum(_n(a) for a in inputs if isinstance(a, np.ndarray))
    return {"macs": 0, "flops": 2 * n, "bytes": n * _isz(outputs)}


def _elementwise(flops_per_element: int) -> Callable[..., Cost]:
    """Cost of an elementwise op: ``flops_per_element`` per output element; reads every array
    input, writes the output."""
    def cost(inputs, outputs, **kw) -> Cost:
        y = outputs[0]
        read = sum(_n(a) for a in inputs if isinstance(a, np.ndarray))
        return {"macs": 0, "flops": flops_per_element * _n(y), "bytes": (read + _n(y)) * _isz(outputs)}
    return cost


def _reduction(flops_per_input: int) -> Callable[..., Cost]:
    def cost(inputs, outputs, **kw) -> Cost:
        x = inputs[0]
        return {"macs": 0, "flops": flops_per_input * _n(x), "bytes": (_n(x) + _n(outputs[0])) * _isz(outputs)}
    return cost


def _view(inputs, outputs, **kw) -> Cost:
    """A view (reshape, permute, expand, basic slicing, split): no arithmetic, no data moved."""
    return {"macs": 0, "flops": 0, "bytes": 0}


def _copy(inputs, outputs, **kw) -> Cost:
    """A copy (cat, stack, pad, cast, clone): no arithmetic; reads the inputs, writes the output."""
    read = sum(_n(a) for a in inputs if isinstance(a, np.ndarray))
    return {"macs": 0, "flops": 0, "bytes": (read + sum(_n(o) for o in outputs)) * _isz(outputs)}


#: FLOPs per element of the pointwise activations (a comparison, multiply or add = 1; exp/log/erf = 1)
POINTWISE_FLOPS: dict[type, int] = {
    unary.ReLUFn: 1, unary.NegFn: 1, unary.AbsFn: 1, unary.SignFn: 1, unary.ClampFn: 2,
    unary.ExpFn: 1, unary.LogFn: 1, unary.SqrtFn: 1, unary.SigmoidFn: 3, unary.TanhFn: 1,
    rectifier.HardtanhFn: 2, rectifier.LeakyReLUFn: 2, rectifier.PReLUFn: 2,
    exponential.ELUFn: 4, exponential.SoftplusFn: 4, hard.HardsigmoidFn: 3, hard.HardswishFn: 4,
    smooth.GELUFn: 5, smooth.SiLUFn: 4, smooth.MishFn: 7, smooth.SoftsignFn: 3,
}

COSTS: dict[type, Callable[..., Cost]] = {
    conv_mod.Conv2dFn: _conv_cost,
    convt_mod.ConvTranspose2dFn: _convt_cost,
    linear.LinearFn: _linear_cost,
    attention.AttentionFn: _attention_cost,
    max_pool.MaxPool2dFn: _maxpool_cost,
    avg_pool.AvgPool2dFn: _avgpool_cost,
    global_pool.GlobalAvgPool2dFn: _shape_cost(global_pool.cost),
    global_pool.GlobalMaxPool2dFn: _shape_cost(global_pool.cost),
    adaptive.AdaptiveAvgPool2dFn: _adaptive_cost,
    unpool.MaxUnpool2dFn: _unpool_cost,
    interpolate.InterpolateFn: _interp_cost,
    shuffle.PixelShuffleFn: _shape_cost(shuffle.cost),
    shuffle.PixelUnshuffleFn: _shape_cost(shuffle.cost),
    shuffle.ChannelShuffleFn: _shape_cost(shuffle.cost),
    _normalize.NormalizeFn: _normalize_cost,
    _normalize.AffineStatsFn: _affine_stats_cost,
    softmax_mod.SoftmaxFn: _shape_cost(softmax_mod.cost),
    softmax_mod.LogSoftmaxFn: _shape_cost(softmax_mod.cost),
    dropout.DropoutFn: _shape_cost(dropout.cost),
    maxout.MaxoutFn: _maxout_cost,
    binary.BinaryCrossEntropyFn: _loss_cost(binary.cost),
    binary.BCEWithLogitsFn: _loss_cost(binary.cost),
    classification.CrossEntropyFn: _loss_cost(classification.cost),
    classification.NLLLossFn: _loss_cost(classification.cost),
    focal.SigmoidFocalLossFn: _loss_cost(focal.cost),
    focal.SoftmaxFocalLossFn: _loss_cost(focal.cost),
    margin.MultiMarginLossFn: _loss_cost(margin.cost),
    margin.KLDivFn: _loss_cost(margin.cost),
    regression.MSELossFn: _loss_cost(regression.cost),
    regression.L1LossFn: _loss_cost(regression.cost),
    regression.SmoothL1LossFn: _loss_cost(regression.cost),
    regression.HuberLossFn: _loss_cost(regression.cost),
    penalty.LpPenaltyFn: _penalty_cost,
    arith.AddFn: _elementwise(1), arith.SubFn: _elementwise(1), arith.MulFn: _elementwise(1),
    arith.DivFn: _elementwise(1), arith.PowFn: _elementwise(1), arith.MaximumFn: _elementwise(1),
    arith.MinimumFn: _elementwise(1), arith.WhereFn: _elementwise(1),
    arith.CastFn: _copy, arith.CloneFn: _copy,
    reduce.SumFn: _reduction(1), reduce.MeanFn: _reduction(1), reduce.MaxFn: _reduction(1),
    reduce.MinFn: _reduction(1), reduce.VarFn: _reduction(3), reduce.StdFn: _reduction(3),
    reduce.LogSumExpFn: _reduction(3),
    shape.ReshapeFn: _view, shape.PermuteFn: _view, shape.ExpandFn: _view, shape.SplitFn: _view,
    index.GetItemFn: _view, shape.ConcatFn: _copy, shape.StackFn: _copy, shape.PadFn: _copy,
}
for _cls, _f in POINTWISE_FLOPS.items():
    COSTS[_cls] = _shape_cost(act_base.cost, _f) if issubclass(_cls, act_base.PointwiseFn) else _elementwise(_f)

#: ops whose output is a view of an input (no new memory)
VIEW_OPS: frozenset[type] = frozenset(
    {shape.ReshapeFn, shape.PermuteFn, shape.ExpandFn, shape.SplitFn, index.GetItemFn})

#: multiply-accumulate ops: the ones the "torchvision GFLOPS" convention counts
GEMM_OPS: frozenset[type] = frozenset(
    {conv_mod.Conv2dFn, convt_mod.ConvTranspose2dFn, linear.LinearFn, attention.AttentionFn})


def attach() -> None:
    """Give every listed op class its ``infer``/``cost`` unless it already defines one."""
    for cls, f in INFERS.items():
        if getattr(cls, "infer", None) is None:
            cls.infer = staticmethod(f)
    for cls, f in COSTS.items():
        if getattr(cls, "cost", None) is None:
            cls.cost = staticmethod(f)
    for cls in act_base.PointwiseFn.__subclasses__():
        if cls.__dict__.get("infer") is None:
            cls.infer = staticmethod(_same_infer)


def gemm_class(fn: type) -> bool:
    """True for the multiply-accumulate ops (conv, transposed conv, linear, matmul, attention)."""
    from cvprimer.core.ops.linalg import MatMulFn

    return fn in GEMM_OPS or issubclass(fn, MatMulFn)


attach()
