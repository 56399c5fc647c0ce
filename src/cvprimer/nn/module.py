r"""``Module``: the base class of every layer and model (PyTorch's ``nn.Module`` conventions).

A module owns three kinds of named state, registered by plain attribute assignment:

* parameters (:class:`~cvprimer.nn.Parameter`): learnable, yielded by ``parameters()``;
* buffers (``register_buffer``): Tensors that are state but not learned (BatchNorm's running
  statistics); ``persistent=False`` keeps one out of ``state_dict``;
* sub-modules: any ``Module`` assigned to an attribute.

``state_dict()`` flattens all of it into ``{"conv1.weight": array, "bn1.running_mean": array,
...}`` (dotted names, copies as NumPy arrays so a checkpoint cannot alias live weights), and
``load_state_dict`` copies such a dict back in place, checking names and shapes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, Self

import numpy as np

from cvprimer.core.tensor import Tensor
from cvprimer.nn.hooks import RemovableHandle, wire_inputs, wire_outputs
from cvprimer.nn.parameter import Parameter
from cvprimer.nn.state import StateMixin


class Module(StateMixin):
    r"""Base class of layers and models: subclass it, assign parameters and sub-modules in
    ``__init__``, compute in ``forward``; call the module (``m(x)``) to run hooks + forward.

    Example
    -------
    >>> import numpy as np, cvprimer as cp
    >>> from cvprimer import nn
    >>> class TwoLayer(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc1 = nn.Linear(4, 8, rng=np.random.default_rng(0))
    ...         self.fc2 = nn.Linear(8, 2, rng=np.random.default_rng(1))
    ...     def forward(self, x):
    ...         return self.fc2(self.fc1(x).relu())
    >>> m = TwoLayer()
    >>> [n for n, _ in m.named_parameters()]
    ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    >>> m(cp.randn(3, 4)).shape
    (3, 2)
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_pre_hooks", OrderedDict())

    # -- registration ------------------------------------------------------------------
    def _check_init(self, name: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: cannot assign {name!r} before Module.__init__() is called "
                "(call super().__init__() first in your __init__)"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Parameter):
            self._check_init(name)
            self._remove_name(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._check_init(name)
            self._remove_name(name)
            self._modules[name] = value
        elif "_parameters" in self.__dict__ and name in self._parameters:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to parameter "
                    f"{name!r} (expected a Parameter or None)"
                )
            self._parameters[name] = None
        elif "_buffers" in self.__dict__ and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                value = Tensor(np.asarray(value))
            self._buffers[name] = value
        elif "_modules" in self.__dict__ and name in self._modules:
            if value is not None:
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} to "
                                f"sub-module {name!r} (expected a Module or None)")
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def _remove_name(self, name: str) -> None:
        for d in (self._parameters, self._buffers, self._modules):
            d.pop(name, None)
        self._non_persistent.discard(name)
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a None placeholder, e.g. ``bias=False``) under ``name``."""
        self._check_init(name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, "
                            f"got {type(param).__name__}")
        if "." in name or not name:
            raise ValueError(f"register_parameter: invalid name {name!r} (non-empty, no '.')")
        self._remove_name(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Add a non-learned state Tensor (e.g. running statistics). ``persistent=False``
        keeps it out of ``state_dict``."""
        self._check_init(name)
        if "." in name or not name:
            raise ValueError(f"register_buffer: invalid name {name!r} (non-empty, no '.')")
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(np.asarray(tensor))
        self._remove_name(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        self._check_init(name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        self._remove_name(name)
        self._modules[name] = module

    register_module = add_module

    # -- traversal ---------------------------------------------------------------------
    def named_modules(self, prefix: str = "", memo: set[int] | None = None) -> Iterator[tuple[str, Module]]:
        """``(dotted_name, module)`` for this module and every descendant, each once
        (iterative, pre-order)."""
        memo = set() if memo is None else memo
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in memo:
                continue
            memo.add(id(m))
            yield name, m
            kids = [(f"{name}.{k}" if name else k, c) for k, c in m._modules.items() if c is not None]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for k, c in self._modules.items():
            if c is not None and id(c) not in seen:
                seen.add(id(c))
                yield k, c

    def children(self) -> Iterator[Module]:
        for _, c in self.named_children():
            yield c

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted_name, parameter)``; a parameter shared by several modules is yielded once
        (under its first name)."""
        seen: set[int] = set()
        mods = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mname, m in mods:
            for k, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{k}" if mname else k), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mname, m in mods:
            for k, b in m._buffers.items():
                if b is None or id(b) in seen:
                    continue
                seen.add(id(b))
                yield (f"{mname}.{k}" if mname else k), b

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # -- modes, gradients, conversion --------------------------------------------------
    def train(self, mode: bool = True) -> Self:
        """Set training mode on this module and all descendants (dropout, batch norm)."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Self:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Self:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad`` (to None, or to zeros in place)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def apply(self, fn: Callable[[Module], Any]) -> Self:
        """Call ``fn(m)`` on every sub-module (children first) and then on self."""
        for c in self.children():
            c.apply(fn)
        fn(self)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Self:
        """PyTorch's ``Module.to``: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)`` (its
        dtype), ``non_blocking`` ignored. Casts floating parameters, their gradients and floating buffers to the
        dtype, in place (the Parameter objects stay the same, so an optimizer holding them keeps working); the
        only device is the CPU (``to('cuda')`` raises). Returns self."""
        from cvprimer.core.device import _parse_to

        dt, _ = _parse_to(args, dict(kwargs))
        if dt is None:
            return self
        if dt.kind not in "fc":
            raise TypeError(f"{type(self).__name__}.to: only accepts floating point or complex dtypes, but got "
                            f"desired dtype={dt}")
        for p in self.parameters():
            if p.data.dtype.kind == "f" and p.data.dtype != dt:
                p.data = p.data.astype(dt)
                if p.grad is not None:
                    p.grad.data = p.grad.data.astype(dt)
        for b in self.buffers():
            if b.data.dtype.kind == "f" and b.data.dtype != dt:
                b.data = b.data.astype(dt)
        return self

    def double(self) -> Self:
        """Floating parameters and buffers to float64 (``to(cp.float64)``)."""
        return self.to(np.float64)

    def float(self) -> Self:
        """Floating parameters and buffers to float32 (``to(cp.float32)``)."""
        return self.to(np.float32)

    def cpu(self) -> Self:
        """Self: cvprimer's modules always live on the CPU."""
        return self

    def cuda(self, device: Any = None) -> Module:
        """Refused: cvprimer computes with NumPy on the CPU only."""
        raise RuntimeError(f"{type(self).__name__}.cuda: cvprimer computes with NumPy on the CPU only "
                           "(cvprimer.cuda.is_available() is False)")

    # -- calling -----------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # the one place a module's input is converted: NumPy arrays given positionally become Tensors
        # (no copy, dtype kept), so every layer takes arrays as well as Tensors, as a loader may yield either
        args = tuple(Tensor(a) if isinstance(a, np.ndarray) else a for a in args)
        for hook in list(self._forward_pre_hooks.values()):
            res = hook(self, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
        bw = self.__dict__.get("_backward_hooks") or self.__dict__.get("_backward_pre_hooks")
        state = None
        if bw:
            args, state = wire_inputs(self, args)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            res = hook(self, args, out)
            if res is not None:
                out = res
        return wire_outputs(state, out) if bw else out

    def register_forward_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(module, inputs) -> None or new inputs`` runs before ``forward``."""
        h = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[h.id] = hook
        return h

    def register_forward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(module, inputs, output) -> None or new output`` runs after ``forward``."""
        h = RemovableHandle(self._forward_hooks)
        self._forward_hooks[h.id] = hook
        return h

    def register_full_backward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        r"""``hook(module, grad_input, grad_output) -> None or new grad_input`` runs when the gradients
        with respect to the module's inputs have been computed (PyTorch's semantics).

        ``grad_input`` has one entry per positional Tensor input (None for an input that does not
        require grad), ``grad_output`` one per Tensor output; both are tuples of Tensors. A returned
        tuple (same length, None allowed) replaces ``grad_input`` for the rest of the backward pass.
        When no input requires grad the hook still runs, with ``grad_input`` all None. Hooks registered
        after a forward do not apply to that forward's graph.

        Differences from PyTorch: an output that requires grad but receives none appears as zeros in
        ``grad_output`` (PyTorch: None), and an input that does not require grad is always None.
        """
        h = RemovableHandle(self._backward_hooks)
        self._backward_hooks[h.id] = hook
        return h

    def register_full_backward_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        r"""``hook(module, grad_output) -> None or new grad_output`` runs when the gradients with respect
        to the module's outputs are known, before the module's own backward (PyTorch's semantics)."""
        h = RemovableHandle(self._backward_pre_hooks)
        self._backward_pre_hooks[h.id] = hook
        return h

    # -- repr --------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text between the parentheses of this module's repr (override in layers)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for k, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"({k}): {body}")
        name = type(self).__name__
        if not self._modules:
            return f"{name}({extra})" if len(lines) <= 1 else name + "(\n  " + "\n  ".join(lines) + "\n)"
        return name + "(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))
