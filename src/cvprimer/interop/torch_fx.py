r"""``from_torch``: a ``torch.nn.Module`` made of standard layers -> an equivalent cvprimer Module.

How: ``torch.fx.symbolic_trace`` records the module's forward as a graph of placeholders, calls of
sub-modules (``call_module``), of functions (``call_function``: ``operator.add``, ``torch.flatten``,
``torch.cat``, ``F.relu``, ...) and of tensor methods (``call_method``: ``view``, ``flatten``, ``mean``,
...). Each leaf sub-module is rebuilt as our layer with its weights and buffers copied (float32 or float64
as in torch), under the *same dotted name* (``layer1.0.conv1``), so the analyzer's rows read like torch's
module tree. The returned :class:`FxModule` replays the graph in order with our ops.

Supported leaf layers: Conv2d (any stride, padding, dilation, groups; zeros padding), ConvTranspose2d, Linear,
BatchNorm1d/2d, LayerNorm, GroupNorm, ReLU, ReLU6, LeakyReLU, GELU, SiLU, Sigmoid, Tanh, Hardswish,
Hardsigmoid, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Dropout, Identity, Upsample. Anything else
raises :class:`UnsupportedLayerError` naming every unsupported layer and function in the model.

Differences: ``example_input`` is only used to check that both models give the same output shape; the
conversion itself is shape-free.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.nn.module import Module


class UnsupportedLayerError(ValueError):
    """The torch model uses layers or functions that have no cvprimer counterpart here (all are named)."""


def _np(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


def _copy(ours: Module, theirs: Any) -> Module:
    """Copy parameters and buffers by name (same names on both sides for the supported layers)."""
    params = dict(theirs.named_parameters(recurse=False))
    for name, p in list(ours._parameters.items()):
        if p is None:
            continue
        if name not in params:
            raise UnsupportedLayerError(f"from_torch: {type(theirs).__name__} has no parameter {name!r}")
        src = _np(params[name])
        if src.shape != p.data.shape:
            raise UnsupportedLayerError(f"from_torch: {type(theirs).__name__}.{name} has shape {src.shape}, "
                                        f"ours {p.data.shape}")
        p.data = src
    bufs = dict(theirs.named_buffers(recurse=False))
    for name in list(ours._buffers):
        if name in bufs and ours._buffers[name] is not None:
            src = _np(bufs[name])  # float buffers keep torch's precision; the final .float()/.double() sets it
            ours._buffers[name].data = src if src.dtype.kind == "f" else src.astype(ours._buffers[name].data.dtype)
    return ours


def _pair(v: Any) -> Any:
    return tuple(v) if isinstance(v, (tuple, list)) else v


def _layer_table(tnn: Any) -> list[tuple[type, Callable[[Any], Module]]]:
    """(torch layer class, builder of our layer) pairs; the builder copies hyper-parameters and weights."""

    def conv(m: Any) -> Module:
        if m.padding_mode != "zeros" or isinstance(m.padding, str):
            pad = m.padding
        else:
            pad = _pair(m.padding)
        layer = nn.Conv2d(m.in_channels, m.out_channels, _pair(m.kernel_size), _pair(m.stride), pad,
                          _pair(m.dilation), m.groups, m.bias is not None, m.padding_mode)
        return _copy(layer, m)

    def convt(m: Any) -> Module:
        layer = nn.ConvTranspose2d(m.in_channels, m.out_channels, _pair(m.kernel_size), _pair(m.stride),
                                   _pair(m.padding), _pair(m.output_padding), m.groups, m.bias is not None,
                                   _pair(m.dilation))
        return _copy(layer, m)

    def bn(cls: type) -> Callable[[Any], Module]:
        return lambda m: _copy(cls(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats), m)

    def pool(cls: type) -> Callable[[Any], Module]:
        def make(m: Any) -> Module:
            if cls is nn.MaxPool2d:
                return nn.MaxPool2d(_pair(m.kernel_size), _pair(m.stride), _pair(m.padding), _pair(m.dilation),
                                    ceil_mode=m.ceil_mode)
            return nn.AvgPool2d(_pair(m.kernel_size), _pair(m.stride), _pair(m.padding), m.ceil_mode,
                                m.count_include_pad)
        return make

    return [
        (tnn.Conv2d, conv), (tnn.ConvTranspose2d, convt),
        (tnn.Linear, lambda m: _copy(nn.Linear(m.in_features, m.out_features, m.bias is not None), m)),
        (tnn.BatchNorm2d, bn(nn.BatchNorm2d)), (tnn.BatchNorm1d, bn(nn.BatchNorm1d)),
        (tnn.LayerNorm, lambda m: _copy(nn.LayerNorm(tuple(m.normalized_shape), m.eps, m.elementwise_affine), m)),
        (tnn.GroupNorm, lambda m: _copy(nn.GroupNorm(m.num_groups, m.num_channels, m.eps, m.affine), m)),
        (tnn.ReLU, lambda m: nn.ReLU()), (tnn.ReLU6, lambda m: nn.ReLU6()),
        (tnn.LeakyReLU, lambda m: nn.LeakyReLU(m.negative_slope)),
        (tnn.GELU, lambda m: nn.GELU(m.approximate)), (tnn.SiLU, lambda m: nn.SiLU()),
        (tnn.Sigmoid, lambda m: nn.Sigmoid()), (tnn.Tanh, lambda m: nn.Tanh()),
        (tnn.Hardswish, lambda m: nn.Hardswish()), (tnn.Hardsigmoid, lambda m: nn.Hardsigmoid()),
        (tnn.MaxPool2d, pool(nn.MaxPool2d)), (tnn.AvgPool2d, pool(nn.AvgPool2d)),
        (tnn.AdaptiveAvgPool2d, lambda m: nn.AdaptiveAvgPool2d(_pair(m.output_size))),
        (tnn.Flatten, lambda m: nn.Flatten(m.start_dim, m.end_dim)),
        (tnn.Dropout, lambda m: nn.Dropout(m.p)), (tnn.Identity, lambda m: nn.Identity()),
        (tnn.Upsample, lambda m: nn.Upsample(size=m.size, scale_factor=m.scale_factor, mode=m.mode,
                                             align_corners=m.align_corners)),
    ]


def _flatten(x: Any, start_dim: int = 1, end_dim: int = -1) -> Any:
    return cp.flatten(x, start_dim, end_dim)


def _function_table(torch: Any) -> dict[Any, Callable[..., Any]]:
    tF = torch.nn.functional
    return {
        operator.add: operator.add, operator.iadd: operator.add, operator.mul: operator.mul,
        operator.sub: operator.sub, operator.truediv: operator.truediv, operator.getitem: operator.getitem,
        torch.add: lambda a, b: a + b, torch.mul: lambda a, b: a * b,
        torch.flatten: _flatten, torch.cat: lambda ts, dim=0: cp.cat(list(ts), dim=dim),
        torch.relu: F.relu, tF.relu: lambda x, inplace=False: F.relu(x),
        torch.sigmoid: F.sigmoid, torch.tanh: F.tanh,
        tF.adaptive_avg_pool2d: F.adaptive_avg_pool2d,
        tF.max_pool2d: lambda x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
        return_indices=False: F.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode),
        tF.avg_pool2d: F.avg_pool2d,
    }


_METHODS: dict[str, Callable[..., Any]] = {
    "view": lambda x, *s: x.reshape(*s), "reshape": lambda x, *s: x.reshape(*s), "flatten": _flatten,
    "relu": lambda x: F.relu(x), "mean": lambda x, *a, **k: x.mean(*a, **k), "size": lambda x, *a: x.size(*a),
    "sigmoid": lambda x: F.sigmoid(x), "permute": lambda x, *d: x.permute(*d), "contiguous": lambda x: x,
    "transpose": lambda x, a, b: x.transpose(a, b),
}


class FxModule(Module):
    """A cvprimer Module that replays a torch.fx graph with our layers and ops (see the module docstring)."""

    def __init__(self, steps: list[tuple[str, str, Any, tuple, dict]], output: Any) -> None:
        super().__init__()
        object.__setattr__(self, "_steps", steps)
        object.__setattr__(self, "_output", output)

    def _get(self, dotted: str) -> Module:
        m: Module = self
        for part in dotted.split("."):
            m = m._modules[part]
        return m

    def forward(self, *inputs: Any) -> Any:
        env: dict[str, Any] = {}
        feed = iter(inputs)

        def val(a: Any) -> Any:
            if isinstance(a, _Ref):
                return env[a.name]
            if isinstance(a, (list, tuple)):
                return type(a)(val(v) for v in a)
            if isinstance(a, dict):
                return {k: val(v) for k, v in a.items()}
            return a

        for name, op, target, args, kwargs in self._steps:
            a, k = val(args), val(kwargs)
            if op == "placeholder":
                env[name] = next(feed)
            elif op == "call_module":
                env[name] = self._get(target)(*a, **k)
            elif op == "call_function":
                env[name] = target(*a, **k)
            else:  # call_method
                env[name] = _METHODS[target](*a, **k)
        return val(self._output)


class _Ref:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _refs(a: Any, fx: Any) -> Any:
    if isinstance(a, fx.Node):
        return _Ref(a.name)
    if isinstance(a, (list, tuple)):
        return type(a)(_refs(v, fx) for v in a)
    if isinstance(a, dict):
        return {k: _refs(v, fx) for k, v in a.items()}
    return a


def _install(root: Module, dotted: str, layer: Module) -> None:
    """Register ``layer`` under ``dotted`` (``layer1.0.conv1``), creating plain containers on the way."""
    parts = dotted.split(".")
    m = root
    for p in parts[:-1]:
        if p not in m._modules:
            m._modules[p] = Module()
        m = m._modules[p]
    m._modules[parts[-1]] = layer


def from_torch(module: Any, example_input: Any = None, dtype: Any = None) -> FxModule:
    """Convert a ``torch.nn.Module`` of standard layers to a cvprimer Module with the same weights.

    Parameters
    ----------
    module : the torch model (put in eval mode for the comparison; our copy keeps torch's training flag).
    example_input : optional torch tensor (or tuple of tensors); when given, both models run on it in eval mode
        and their output shapes must agree.
    dtype : ``"float32"`` or ``"float64"`` for our copy; default: the dtype of torch's first parameter.

    Raises :class:`UnsupportedLayerError` naming every layer class, function and method without a counterpart.

    Example
    -------
    >>> import torch
    >>> ours = from_torch(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU()))
    >>> ours(cp.randn(1, 3, 8, 8)).shape
    (1, 8, 6, 6)
    """
    try:
        import torch
        import torch.fx as fx
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("from_torch needs PyTorch (pip install torch); the rest of cvprimer does not") from e
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    try:
        gm = fx.symbolic_trace(module)
    except Exception as e:  # fx raises many types for dynamic control flow
        raise UnsupportedLayerError(f"from_torch: torch.fx cannot trace {type(module).__name__} ({e}); models "
                                    f"with input-dependent control flow are not supported") from e
    layers, functions = _layer_table(torch.nn), _function_table(torch)
    root = FxModule([], None)
    steps: list[tuple[str, str, Any, tuple, dict]] = []
    bad: list[str] = []
    output: Any = None
    for node in gm.graph.nodes:
        args, kwargs = _refs(node.args, fx), _refs(dict(node.kwargs), fx)
        if node.op == "placeholder":
            steps.append((node.name, "placeholder", None, (), {}))
        elif node.op == "call_module":
            sub = gm.get_submodule(node.target)
            build = next((b for cls, b in layers if type(sub) is cls), None)
            if build is None:
                bad.append(f"layer {node.target} ({type(sub).__name__})")
                continue
            _install(root, node.target, build(sub))
            steps.append((node.name, "call_module", node.target, args, kwargs))
        elif node.op == "call_function":
            fn = functions.get(node.target)
            if fn is None:
                bad.append(f"function {getattr(node.target, '__name__', node.target)}")
                continue
            steps.append((node.name, "call_function", fn, args, kwargs))
        elif node.op == "call_method":
            if node.target not in _METHODS:
                bad.append(f"tensor method .{node.target}()")
                continue
            steps.append((node.name, "call_method", node.target, args, kwargs))
        elif node.op == "output":
            output = args[0]
        else:  # get_attr: a bare parameter or buffer used in forward
            bad.append(f"attribute {node.target} used directly in forward")
    if bad:
        raise UnsupportedLayerError(f"from_torch: {type(module).__name__} uses what cvprimer cannot convert: "
                                    f"{', '.join(dict.fromkeys(bad))}")
    object.__setattr__(root, "_steps", steps)
    object.__setattr__(root, "_output", output)
    first = next(module.parameters(), None)
    want = np.dtype(dtype) if dtype is not None else (np.dtype(str(first.dtype).replace("torch.", ""))
                                                      if first is not None else np.dtype(np.float32))
    root = root.double() if want == np.float64 else root.float()
    root.train(module.training)
    if example_input is not None:
        _check_shapes(module, root, example_input, torch)
    return root


def _check_shapes(module: Any, ours: Module, example: Any, torch: Any) -> None:
    xs = example if isinstance(example, (tuple, list)) else (example,)
    was_t, was_o = module.training, ours.training
    module.eval()
    ours.eval()
    try:
        with torch.no_grad(), cp.no_grad():
            t_out = module(*xs)
            o_out = ours(*[cp.tensor(_np(x)) for x in xs])
    finally:
        module.train(was_t)
        ours.train(was_o)
    if tuple(t_out.shape) != tuple(o_out.shape):
        raise UnsupportedLayerError(f"from_torch: the converted model gives shape {tuple(o_out.shape)} where "
                                    f"torch gives {tuple(t_out.shape)}")
