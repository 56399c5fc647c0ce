r"""Hook handles (what ``Module.register_forward_hook`` and friends return), and the two identity
nodes that carry a module's full backward hooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cvprimer.core.call import Call
from cvprimer.core.cost import Cost
from cvprimer.core.function import Function


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict[int, Callable[..., Any]]) -> None:
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


# -- full backward hooks ----------------------------------------------------------------------
# PyTorch's design (torch.utils.hooks.BackwardHook), in our Function terms: the module's Tensor inputs
# that require grad pass through one identity node before forward, its Tensor outputs through another
# after it. Backward reaches the output node first (the gradients w.r.t. the outputs: grad_output, where
# the pre-hooks run) and the input node last (the gradients w.r.t. the inputs: grad_input, where the
# full hooks run and may replace them). When no input requires grad the full hooks run at the output
# node with grad_input all None, as in PyTorch.


class _HookState:
    __slots__ = ("grad_output", "module", "n_inputs", "out_wired", "n_outputs", "wired")

    def __init__(self, module: Any, n_inputs: int, wired: tuple[int, ...]) -> None:
        self.module, self.n_inputs, self.wired = module, n_inputs, wired
        self.n_outputs = 0
        self.out_wired: tuple[int, ...] = ()
        self.grad_output: tuple[Any, ...] | None = None


def _as_tuple(name: str, res: Any, n: int) -> tuple[Any, ...]:
    out = tuple(res) if isinstance(res, (tuple, list)) else (res,)
    if len(out) != n:
        raise ValueError(f"{name}: the hook returned {len(out)} gradients; expected {n} (one per "
                         f"{'input' if 'full_backward_hook' in name else 'output'}, None allowed)")
    return out


def _run_full_hooks(state: _HookState, grad_input: tuple[Any, ...]) -> tuple[Any, ...]:
    from cvprimer.core.tensor import Tensor

    m = state.module
    for hook in list(m._backward_hooks.values()):
        gin = tuple(None if g is None else Tensor(g) for g in grad_input)
        gout = tuple(None if g is None else Tensor(g) for g in (state.grad_output or ()))
        res = hook(m, gin, gout)
        if res is not None:
            new = _as_tuple(f"{type(m).__name__} full_backward_hook", res, len(grad_input))
            grad_input = tuple(None if g is None else np.asarray(g.data if isinstance(g, Tensor) else g)
                               for g in new)
    return grad_input


def _identity_infer(call: Call) -> list[tuple[tuple[int, ...], np.dtype]]:
    """The arrays after the hook state, unchanged."""
    return [(x.shape, x.dtype) for x in call.inputs[1:]]


def _no_cost(call: Call) -> Cost:
    return Cost()  # the outputs are the inputs' arrays: nothing computed or moved


class BackwardHookInputFn(Function):
    """Identity on the module's grad-requiring Tensor inputs; its backward runs the full backward hooks."""

    float_only = False
    is_view = True
    infer = staticmethod(_identity_infer)
    cost = staticmethod(_no_cost)

    @staticmethod
    def forward(ctx: Any, state: _HookState, *xs: np.ndarray) -> tuple[np.ndarray, ...]:
        ctx.state = state
        return tuple(xs)

    @staticmethod
    def backward(ctx: Any, *gys: np.ndarray) -> tuple[Any, ...]:
        state = ctx.state
        full: list[Any] = [None] * state.n_inputs
        for k, g in zip(state.wired, gys, strict=True):
            full[k] = g
        full_t = _run_full_hooks(state, tuple(full))
        return (None,) + tuple(full_t[k] for k in state.wired)


class BackwardHookOutputFn(Function):
    """Identity on the module's Tensor outputs; its backward records grad_output and runs the pre-hooks."""

    float_only = False
    is_view = True
    infer = staticmethod(_identity_infer)
    cost = staticmethod(_no_cost)

    @staticmethod
    def forward(ctx: Any, state: _HookState, *ys: np.ndarray) -> tuple[np.ndarray, ...]:
        ctx.state = state
        return tuple(ys)

    @staticmethod
    def backward(ctx: Any, *gys: np.ndarray) -> tuple[Any, ...]:
        from cvprimer.core.tensor import Tensor

        state = ctx.state
        m = state.module
        full: list[Any] = [None] * state.n_outputs  # None for the Tensor outputs that need no gradient
        for k, g in zip(state.out_wired, gys, strict=True):
            full[k] = g
        for hook in list(m._backward_pre_hooks.values()):
            res = hook(m, tuple(None if g is None else Tensor(g) for g in full))
            if res is not None:
                new = _as_tuple(f"{type(m).__name__} full_backward_pre_hook", res, len(full))
                full = [None if g is None else np.asarray(g.data if isinstance(g, Tensor) else g) for g in new]
        state.grad_output = tuple(full)
        if not state.wired:  # no input needs a gradient: the hooks fire here, with grad_input all None
            _run_full_hooks(state, (None,) * state.n_inputs)
        return (None,) + tuple(full[k] for k in state.out_wired)


def wire_inputs(module: Any, args: tuple[Any, ...]) -> tuple[tuple[Any, ...], _HookState | None]:
    """Route the grad-requiring Tensor arguments through a :class:`BackwardHookInputFn` (when recording)."""
    from cvprimer.core.function import is_grad_enabled
    from cvprimer.core.tensor import Tensor

    if not is_grad_enabled():
        return args, None
    pos = [k for k, a in enumerate(args) if isinstance(a, Tensor)]
    wired = tuple(j for j, k in enumerate(pos) if args[k].requires_grad)
    state = _HookState(module, len(pos), wired)
    if not wired:
        return args, state
    outs = BackwardHookInputFn.apply(state, *(args[pos[j]] for j in wired))
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    new = list(args)
    for j, o in zip(wired, outs, strict=True):
        new[pos[j]] = o
    return tuple(new), state


def wire_outputs(state: _HookState | None, out: Any) -> Any:
    """Route the grad-requiring Tensor outputs (one Tensor or a tuple/list of them) through a
    :class:`BackwardHookOutputFn`."""
    from cvprimer.core.tensor import Tensor

    if state is None:
        return out
    single = isinstance(out, Tensor)
    items = [out] if single else (list(out) if isinstance(out, (tuple, list)) else [])
    tensors = [k for k, a in enumerate(items) if isinstance(a, Tensor)]
    pos = [k for k in tensors if items[k].requires_grad]
    if not pos:
        return out
    state.n_outputs = len(tensors)
    state.out_wired = tuple(j for j, k in enumerate(tensors) if items[k].requires_grad)
    res = BackwardHookOutputFn.apply(state, *(items[k] for k in pos))
    res = res if isinstance(res, (tuple, list)) else (res,)
    for k, r in zip(pos, res, strict=True):
        items[k] = r
    return items[0] if single else type(out)(items)
