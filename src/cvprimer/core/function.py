r"""The ``Function`` base class: one differentiable op = one subclass.

An op defines two static methods working on plain NumPy arrays::

    class ExpFn(Function):
        @staticmethod
        def forward(ctx, x):            # arrays (and plain Python options) in
            y = np.exp(x)
            ctx.save_for_backward(y)    # save the minimum needed by backward
            return y                    # one array, or a tuple of arrays
        @staticmethod
        def backward(ctx, gy):          # one upstream gradient per output
            (y,) = ctx.saved_tensors
            return gy * y               # one gradient (or None) per forward argument
                                        # (trailing Nones may be left out)

``ExpFn.apply(t)`` unwraps Tensor arguments, runs ``forward``, wraps the result in
Tensors and, when gradients are being recorded, links the outputs to a graph node (the
``ctx`` itself). Non-Tensor arguments (ints, tuples, Python floats) pass through untouched
and receive no gradient.

Broadcasting is handled once, here: if ``backward`` returns a gradient whose shape differs
from its input's shape, :func:`unbroadcast` (defined here, beside the engine) sums it back. Gradients
are also cast to the input's dtype. So elementwise binary ops simply return ``gy * ...``.

``ctx.needs_input_grad[i]`` tells backward which gradients are wanted, so it can skip work
(and return None) for the others.
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from cvprimer.core.call import Call
from cvprimer.core.cost import Cost
from cvprimer.core.geometry import Geometry, Pointwise
from cvprimer.core.pool import refresh as refresh_thread_budget
from cvprimer.core.saves import NOTHING, Saves, as_saves
from cvprimer.core.settings import current as current_settings
from cvprimer.core.settings import use as use_settings

if TYPE_CHECKING:
    from cvprimer.core.tensor import Tensor

class _Modes(NamedTuple):
    """The recording modes in force: thread- and task-local (a ``ContextVar``), like PyTorch's grad mode, so
    ``no_grad`` in one of a user's threads never switches off recording in another."""

    grad: bool = True
    anomaly: bool = False
    shape_only: bool = False


_MODES: ContextVar[_Modes] = ContextVar("cvprimer_modes", default=_Modes())  # noqa: B039 (a NamedTuple: immutable)
_observers: list[Callable[..., None]] = []


def is_grad_enabled() -> bool:
    """Whether operations are currently recorded for backward (in this thread or task)."""
    return _MODES.get().grad


class _ModeSwitch(contextlib.ContextDecorator):
    """Set one field of :class:`_Modes` inside a ``with`` block (or a decorated call), for this context only."""

    _field = ""

    def __init__(self, value: bool) -> None:
        self.value = bool(value)
        self._tokens: list[Any] = []

    def _recreate_cm(self) -> _ModeSwitch:  # a fresh switch per decorated call: safe across threads
        return _recreate(self)

    def __enter__(self) -> None:
        self._tokens.append(_MODES.set(_MODES.get()._replace(**{self._field: self.value})))

    def __exit__(self, *exc: object) -> None:
        _MODES.reset(self._tokens.pop())


def _recreate(cm: _ModeSwitch) -> _ModeSwitch:
    new = object.__new__(type(cm))
    new.value, new._tokens = cm.value, []
    return new


class _GradMode(_ModeSwitch):
    _field = "grad"


def no_grad() -> _GradMode:
    """Context manager / decorator that stops graph recording (inference, optimizer steps)."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Context manager / decorator that turns graph recording back on inside ``no_grad``."""
    return _GradMode(True)


def set_grad_enabled(mode: bool) -> _GradMode:
    """Context manager / decorator setting graph recording to ``mode``."""
    return _GradMode(bool(mode))


class detect_anomaly(_ModeSwitch):
    """Opt-in check, like PyTorch's ``detect_anomaly``: raise as soon as an op turns
    finite inputs into a NaN/Inf output (forward), or finite upstream gradients into a
    non-finite input gradient (backward). The error names the op and the shapes.
    Costs one ``isfinite`` scan per array, so it is off by default."""

    _field = "anomaly"

    def __init__(self, enabled: bool = True) -> None:
        super().__init__(enabled)


def is_anomaly_enabled() -> bool:
    return _MODES.get().anomaly


class observe_ops(contextlib.ContextDecorator):
    """Call ``callback(fn_class, call)`` after every op (the analyzer's tracer): ``call`` is the op's
    :class:`~cvprimer.core.call.Call` (the arrays/options forward received, its keyword options and its
    outputs, a tuple of arrays)."""

    def __init__(self, callback: Callable[..., None]) -> None:
        self.callback = callback

    def __enter__(self) -> observe_ops:
        _observers.append(self.callback)
        return self

    def __exit__(self, *exc: object) -> None:
        _observers.remove(self.callback)


class shape_only(_ModeSwitch):
    """Shape-only execution: an op whose class defines ``infer(call)``
    (returning ``(shape, dtype)``, or a list of them for several outputs) skips its arithmetic and returns
    zero-stride arrays of that shape, which take no memory. Ops without ``infer`` run
    normally on those arrays (cheap for elementwise ops). Used to trace large models."""

    _field = "shape_only"

    def __init__(self) -> None:
        super().__init__(True)


def _placeholder(meta: Any) -> np.ndarray:
    shape, dtype = meta
    return np.broadcast_to(np.zeros((), dtype), tuple(shape))


class AnomalyError(FloatingPointError):
    """Raised in anomaly mode when an op produces a non-finite value from finite inputs."""


def _all_finite(arrays: Any) -> bool:
    for a in arrays:
        if isinstance(a, np.ndarray) and a.dtype.kind in "fc" and not np.isfinite(a).all():
            return False
    return True


def _describe(arrays: Any) -> str:
    return ", ".join(
        f"{a.shape}:{a.dtype}" if isinstance(a, np.ndarray) else type(a).__name__ for a in arrays
    )


class Link:
    """A node's edge to an input that another op produced: its producer and shape, not its values.

    A node that kept the input Tensor itself would keep that Tensor's array alive until the whole
    backward is over, whether or not the op needs it (a conv output feeding a batch norm that
    saves only its own normalized copy, say): every activation of the forward would then live
    through the backward. PyTorch's graph keeps only what an op saves; so does ours. The edge
    holds the producer node and output index (to route the gradient), the requires-grad flag,
    shape and dtype (to reduce and cast the gradient), and a weak reference to the Tensor, so
    that ``retain_grad()`` still works while the caller holds the Tensor.

    Leaf Tensors (inputs and parameters, no producer) are kept as they are: the caller holds them
    anyway and their ``.grad`` is the point of the sweep.
    """

    __slots__ = ("_node", "_out_index", "requires_grad", "shape", "dtype", "_ref")

    def __init__(self, t: Tensor) -> None:
        self._node = t._node
        self._out_index = t._out_index
        self.requires_grad = t.requires_grad
        self.shape = t.data.shape
        self.dtype = t.data.dtype
        self._ref = weakref.ref(t)

    @property
    def tensor(self) -> Tensor | None:
        """The Tensor itself while something else keeps it alive, else None."""
        return self._ref()

    def __repr__(self) -> str:
        return f"Link({self._node.name if self._node is not None else None}[{self._out_index}], shape={self.shape})"


class Function:
    """Base class of every differentiable op; subclasses implement ``forward``/``backward``.

    An instance is the context (``ctx``) of one call and, when gradients are recorded,
    the node of the graph: it keeps its inputs (``inputs``: leaf Tensors as they are, the outputs
    of other ops as :class:`Link` edges that do not hold their values), what forward saved,
    and the shapes/dtypes of its outputs.

    Class attribute ``float_only`` (default True): Tensor inputs must have a floating
    dtype; ops that also make sense on integers (shape ops, indexing) set it to False.

    **The op protocol.** An op declares ``forward`` and ``backward`` and, optionally, ``infer``, ``cost``
    and ``geometry``, each a static method taking one :class:`~cvprimer.core.call.Call` (the call's
    ``inputs`` as forward receives them, its ``kwargs``, its ``outputs``; None while inferring):

    * ``infer(call) -> (shape, dtype)`` (a list of them for several outputs): the outputs without computing,
      for the shape-only trace (an op without it says why in ``no_infer``);
    * ``cost(call) -> Cost`` (:class:`cvprimer.core.cost.Cost`: MACs, other FLOPs, bytes; an op without it
      says why in ``uncounted``);
    * ``geometry(call) -> Geometry | None`` (:mod:`cvprimer.core.geometry`): which input positions an output
      position reads (None: not declared).

    Besides these, flags: ``float_only``, ``is_view``, ``is_gemm``, ``is_normalization``, and the structured
    ``saves_for_backward`` (:mod:`cvprimer.core.saves`). All are declared by the op's own class, so a new op is
    run, traced and analysed without touching any other file; generic forms are in :mod:`cvprimer.core.cost`
    and :mod:`cvprimer.core.call`. A subclass whose ``infer``/``cost``/``geometry`` takes anything but the
    one call is refused when the class is created.
    """

    float_only: ClassVar[bool] = True
    # (typed Callable[..., R]: mypy binds the first parameter of a Callable class attribute as if it were self;
    # the one-Call signature is checked when a subclass is created, see __init_subclass__)
    #: optional ``infer(call) -> (shape, dtype) | list of them`` for shape_only mode
    infer: ClassVar[Callable[..., Any] | None] = None
    #: optional ``cost(call) -> Cost`` for the analyzer; an op without one is reported as uncounted
    cost: ClassVar[Callable[..., Cost] | None] = None
    #: the output is a view of an input (reshape, permute, expand, basic slicing, split): no new memory
    is_view: ClassVar[bool] = False
    #: a multiply-accumulate op (conv, linear, matmul, attention): its "macs" are the ones the
    #: "torchvision GFLOPS" convention counts; any other op's "macs" are converted to FLOPs
    is_gemm: ClassVar[bool] = False
    #: what backward keeps (the analyzer's "kept for backward" memory): a :class:`~cvprimer.core.saves.Saves`
    #: naming the forward arguments and outputs kept and the fresh arrays added, with their sizes; checked
    #: against what each op's context really holds by ``tests/core/test_op_contract.py``
    saves_for_backward: ClassVar[Saves | str] = NOTHING
    #: why an op has no ``infer`` (it then runs on the shape-only trace's zero-stride placeholders), e.g. a
    #: view or a reduction whose output is no larger than its input; an op needs ``infer`` or this reason
    no_infer: ClassVar[str] = ""
    #: why an op has no ``cost`` (the analyzer reports it as uncounted); an op needs ``cost`` or this reason
    uncounted: ClassVar[str] = ""
    #: a normalization op whose parameter inputs 1 and 2 are gamma/beta (counted as "norm_affine")
    is_normalization: ClassVar[bool] = False
    #: argument positions this call's forward kept beyond ``saves_for_backward`` (set per call by a forward whose
    #: saved operand may be an input itself, e.g. a conv lowering); their versions are checked at backward
    kept_inputs: tuple[int, ...] = ()

    @classmethod
    def geometry(cls, call: Call) -> Geometry | None:
        """How output positions map to input positions (a :mod:`cvprimer.core.geometry` type), for the
        receptive-field and input-region analyses; None: undeclared, the field is reported "unknown".
        The default: a normalization is pointwise with context (its statistics see every position)."""
        if cls.is_normalization:
            return Pointwise(context=True)
        return None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Refuse a protocol method written with another signature than ``method(call)`` (see the class
        docstring): the three once took three different argument lists."""
        super().__init_subclass__(**kwargs)
        for name in _PROTOCOL:
            if name in cls.__dict__:
                _check_protocol_method(cls, name, cls.__dict__[name])

    def __init__(self) -> None:
        self.inputs: tuple[Any, ...] = ()
        self.needs_input_grad: tuple[bool, ...] = ()
        self._saved: tuple[Any, ...] | None = ()
        self._freed = False
        #: the version of each Tensor whose data backward keeps: ``(counter box, version, ("input"|"output", i))``
        self._versions: tuple[tuple[list[int], int, tuple[str, int]], ...] = ()
        self.out_meta: list[tuple[tuple[int, ...], np.dtype]] = []

    if TYPE_CHECKING:
        # What an op's forward keeps on its context for backward (``ctx.x_shape = x.shape``, ``ctx.opts``, the
        # forward's settings ``ctx._settings``) is per-op state read back by that op alone (release() drops it):
        # to a type checker any such attribute is Any. Declared for the checker only; no cost at run time.
        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    # -- what ops call -------------------------------------------------------------
    def save_for_backward(self, *values: Any) -> None:
        """Keep arrays (or anything else) for backward; freed after backward unless retained."""
        self._saved = values

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        if self._freed:
            raise RuntimeError(
                f"{type(self).__name__}: trying to backward through the graph a second time "
                "(its saved values were freed after the first backward). Pass "
                "retain_graph=True to the first backward() if you need a second one."
            )
        return self._saved if self._saved is not None else ()

    def release(self) -> None:
        """Drop saved values (called after backward when the graph is not retained)."""
        self._saved = None
        self._freed = True
        self._versions = ()
        for k in [k for k in self.__dict__ if k not in _CTX_KEEP]:
            del self.__dict__[k]

    @property
    def name(self) -> str:
        """The op's name for messages: the class name without "Fn", lower-case."""
        n = type(self).__name__
        return (n[:-2] if n.endswith("Fn") else n).lower()

    # -- to override -------------------------------------------------------------------
    @staticmethod
    def forward(ctx: Function, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Function, *grads: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    # -- the machinery ---------------------------------------------------------------
    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run the op on Tensors/arrays/scalars and return Tensor output(s)."""
        Tensor = _TENSOR or _tensor_class()  # noqa: N806 - core.tensor imports this module: bound on first use
        ctx = cls()
        raw = []
        needs = []
        any_needs = False
        modes = _MODES.get()
        grad_on = modes.grad
        for a in args:
            if isinstance(a, Tensor):
                if cls.float_only and a.data.dtype.kind not in "fc":
                    raise TypeError(
                        f"{ctx.name}: expected floating-point tensors, got dtypes "
                        f"{[x.dtype.name for x in args if isinstance(x, Tensor)]} with shapes "
                        f"{[x.shape for x in args if isinstance(x, Tensor)]}; convert with .float()"
                    )
                raw.append(a.data)
                rg = a.requires_grad and grad_on
                needs.append(rg)
                any_needs = any_needs or rg
            else:
                # NumPy scalars are "strong" under NEP 50 and would upcast float32 to float64
                raw.append(float(a) if isinstance(a, np.floating) else a)
                needs.append(False)
        ctx.needs_input_grad = tuple(needs)
        out: Any  # an array, or a tuple of arrays for a multi-output op
        if modes.shape_only and cls.infer is not None:
            meta = cls.infer(Call(tuple(raw), kwargs))
            out = tuple(_placeholder(m) for m in meta) if isinstance(meta, list) else _placeholder(meta)
        else:
            out = cls.forward(ctx, *raw, **kwargs)
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        if _observers:
            call = Call(tuple(raw), kwargs, outs)
            for obs in _observers:
                obs(cls, call)
        if modes.anomaly and not _all_finite(outs) and _all_finite(raw):
            raise AnomalyError(
                f"{ctx.name}: forward produced a non-finite value from finite inputs "
                f"(inputs {_describe(raw)}; outputs {_describe(outs)})"
            )
        results = []
        if any_needs:
            # the settings this forward decided under: backward runs under the same ones (core.settings)
            ctx._settings = current_settings()
            # leaf Tensors as they are, other ops' outputs as Links (see Link), options as None
            ctx.inputs = tuple([(a if a._node is None else Link(a)) if isinstance(a, Tensor) else None
                                for a in args])
            for i, o in enumerate(outs):
                o = np.asarray(o)
                ctx.out_meta.append((o.shape, o.dtype))
                t = Tensor._wrap(o)
                if o.dtype.kind in "fc":
                    t.requires_grad = True
                    t._node = ctx
                    t._out_index = i
                results.append(t)
            ctx._versions = _saved_versions(cls, ctx, args, raw, outs, results)
        else:
            ctx._saved = None
            results = [Tensor._wrap(np.asarray(o)) for o in outs]
        if cls.is_view:  # a view shares its base's storage, hence its version counter (as in PyTorch)
            base = args[0] if args and isinstance(args[0], Tensor) else None
            if base is not None:
                for t in results:
                    if t.data.base is not None or t.data is base.data:  # not a fresh copy
                        t._vc = base._vc
                        if len(base._vc) == 1:  # marks the counter as shared by a view (core.inplace reads it)
                            base._vc.append(1)
        return tuple(results) if multi else results[0]


_PROTOCOL = ("infer", "cost", "geometry")


def _check_protocol_method(cls: type, name: str, member: Any) -> None:
    """TypeError unless ``member`` (a class attribute ``infer``/``cost``/``geometry``) is None or callable
    with exactly one positional argument, the :class:`~cvprimer.core.call.Call`."""
    if member is None:
        return
    bound = isinstance(member, classmethod)
    func = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
    if not callable(func):
        raise TypeError(f"{cls.__qualname__}.{name}: expected a static method {name}(call), got {member!r}")
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: trusted
        return
    if bound:  # a classmethod: cls is bound on access (a plain function on a class is not bound: cls.f is f)
        params = params[1:]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    others = [p for p in params if p not in positional and (p.kind is not p.KEYWORD_ONLY or p.default is p.empty)]
    if len(positional) != 1 or others or any(p.default is not p.empty for p in positional):
        shown = f"{name}({', '.join(str(p) for p in params)})"
        raise TypeError(
            f"{cls.__qualname__}.{name}: the op protocol's methods take one Call, {name}(call) "
            f"(its .inputs, .kwargs, .outputs; see cvprimer.core.call), got {shown}"
        )


_TENSOR: Any = None  # cvprimer.core.tensor.Tensor, bound by the first apply (no import statement per op)


def _tensor_class() -> Any:
    global _TENSOR
    from cvprimer.core.tensor import Tensor

    _TENSOR = Tensor
    return Tensor


_SAVES: dict[type, tuple[tuple[int, ...], bool, tuple[int, ...]]] = {}


def _declared(cls: type[Function]) -> tuple[tuple[int, ...], bool, tuple[int, ...]]:
    """``(input positions, all_inputs, output indices)`` of a class's ``saves_for_backward`` (cached)."""
    try:
        d = as_saves(cls.saves_for_backward)
    except ValueError:
        d = NOTHING
    _SAVES[cls] = r = (tuple(d.inputs), d.all_inputs, tuple(d.outputs))
    return r


def _saved_versions(cls: type[Function], ctx: Function, args: tuple[Any, ...], raw: list[Any],
                    outs: tuple[Any, ...], results: list[Tensor]) -> tuple[Any, ...]:
    """The version of every Tensor argument and output whose data ``ctx`` keeps for backward.

    Kept data: what the op's ``saves_for_backward`` declares (contract-tested against what contexts really
    hold, ``tests/core/test_op_contract.py``), plus the argument positions a forward lists in
    ``ctx.kept_inputs`` where what it keeps depends on the call (a conv lowering whose saved operand is its input
    itself); for an op that declares nothing (a user's own Function), the argument and output arrays passed to
    ``save_for_backward`` as they are. ``tests/core/test_inplace_after_forward.py`` changes every op's inputs in
    place after its forward and expects a refusal or the unchanged gradients. Cost: a cached declaration and a
    short loop per op; the result is a tuple of ``(box, version, where)``.
    """
    decl = _SAVES.get(cls) or _declared(cls)
    ins: Sequence[int]
    ins, all_in, outs_kept = decl
    saved = ctx._saved
    if saved and not (ins or all_in or outs_kept):
        ids = {id(v) for v in saved}
        ins = tuple(i for i, a in enumerate(raw) if id(a) in ids)
        outs_kept = tuple(j for j, o in enumerate(outs) if id(o) in ids)
    if all_in:
        ins = range(len(args))
    rec = []
    n = len(args)
    for i in ins:
        box = getattr(args[i], "_vc", None) if i < n else None  # a Tensor argument, not an option
        if box is not None:
            rec.append((box, box[0], ("input", i)))
    for i in ctx.kept_inputs:  # arguments this call's forward kept beyond the declaration (class default: none)
        box = getattr(args[i], "_vc", None) if i < n and i not in ins else None
        if box is not None:
            rec.append((box, box[0], ("input", i)))
    m = len(results)
    for j in outs_kept:
        if j < m:
            box = results[j]._vc
            rec.append((box, box[0], ("output", j)))
    return tuple(rec)


def check_versions(node: Function) -> None:
    """Raise PyTorch's RuntimeError if a Tensor whose data ``node`` saved was changed in place since forward."""
    for box, version, (kind, i) in node._versions:
        if box[0] != version:
            if kind == "input":
                t = node.inputs[i]
                shape, dtype = (t.shape, t.dtype) if isinstance(t, Link) else (t.data.shape, t.data.dtype)
            else:
                shape, dtype = node.out_meta[i]
            raise RuntimeError(
                f"{node.name}: one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{np.dtype(dtype).name} tensor of shape {tuple(shape)}], {kind} {i} of "
                f"{node.name}, is at version {box[0]}; expected version {version} instead. Hint: change it "
                "out of place (make a copy with cp.tensor(t) before writing), or write it before the forward."
            )


# attributes a node keeps after release (everything else is op-specific saved state)
_CTX_KEEP = {"inputs", "needs_input_grad", "_saved", "_freed", "out_meta", "_versions"}


def unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` over the axes that broadcasting added or stretched, giving ``shape``.

    ``g`` has the broadcast shape ``S`` (ndim >= len(shape)). Leading axes that ``shape``
    lacks are summed away; axes where ``shape`` has 1 and ``S`` does not are summed with
    keepdims.
    """
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    if lead < 0:
        raise ValueError(f"unbroadcast: gradient shape {g.shape} has fewer axes than {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1
    )
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if lead:
        g = g.reshape(g.shape[lead:])
    return g


def run_backward(
    roots: list[Tensor], root_grads: list[np.ndarray], retain_graph: bool = False
) -> None:
    """Reverse-mode sweep from ``roots`` (iterative: no recursion limit on deep graphs).

    Nodes are ordered topologically by an explicit-stack depth-first search, then visited
    in reverse; each node's output gradients are summed from all its consumers before its
    backward runs, so a tensor used twice (a diamond) gets the sum of both contributions.
    Leaf tensors that require grad accumulate into ``.grad``.

    Hooks, in PyTorch's order: a non-leaf tensor's hooks (``Tensor.register_hook``, kept on its node by
    output index) see the tensor's summed gradient just before its node's backward, and may replace it;
    ``retain_grad()`` stores the gradient after them. A leaf's contributions are summed first; once the last
    node that uses the leaf is done, its hooks see the sum (and may replace it), the result is accumulated
    into ``.grad``, then its post-accumulate hooks are called with the leaf.
    """
    refresh_thread_budget()  # once per backward: the thread budget follows the machine's load
    # -- topological order of the nodes reachable from the roots --------------------
    # (and, for the leaf hooks, how many nodes will deliver to each leaf: its gradient is complete at 0)
    order: list[Function] = []
    seen: set[int] = set()
    pending: dict[int, int] = {}
    leaf_edges: dict[int, list[int]] = {}
    for r in roots:
        if r._node is None or id(r._node) in seen:
            continue
        stack: list[tuple[Function, bool]] = [(r._node, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            needs = node.needs_input_grad
            for i, t in enumerate(node.inputs):
                if t is None:
                    continue
                if t._node is not None:
                    if id(t._node) not in seen:
                        stack.append((t._node, False))
                elif i < len(needs) and needs[i]:
                    k = id(t)
                    pending[k] = pending.get(k, 0) + 1
                    leaf_edges.setdefault(id(node), []).append(k)

    leaf_grads: dict[int, tuple[Tensor, np.ndarray]] = {}
    retained: dict[tuple[int, int], Tensor] = {}
    grads: dict[int, list[Any]] = {}
    anomaly = _MODES.get().anomaly

    def flush(leaf_id: int) -> None:
        entry = leaf_grads.pop(leaf_id, None)
        if entry is None:
            return
        leaf, g = entry
        hooks = getattr(leaf, "_hooks", None)  # (a Tensor unpickled from before hooks has no slot value)
        if hooks is not None and hooks[0]:
            from cvprimer.core.tensor_hooks import run_grad_hooks  # (only when a hook exists)

            g = run_grad_hooks(hooks[0], g, leaf.data.shape, leaf.data.dtype)
        leaf._accumulate(g)
        if hooks is not None and hooks[1]:
            for fn in list(hooks[1].values()):
                fn(leaf)

    def deliver(t: Tensor | Link, g: np.ndarray) -> None:
        if t._node is None:
            if t.requires_grad:
                prev = leaf_grads.get(id(t))
                # (a node-less t is a leaf Tensor, never a Link: the checker cannot see that)
                leaf_grads[id(t)] = (t, g if prev is None else prev[1] + g)  # type: ignore[assignment]
                if not pending.get(id(t)):
                    flush(id(t))
            return
        held = t.tensor if isinstance(t, Link) else t
        if held is not None and held._retains_grad:
            retained[(id(t._node), t._out_index)] = held
        slot = grads.setdefault(id(t._node), [None] * len(t._node.out_meta))
        i = t._out_index
        slot[i] = g if slot[i] is None else slot[i] + g

    def done_with(edges: list[int]) -> None:
        for k in edges:
            pending[k] -= 1
            if pending[k] == 0:
                flush(k)

    for r, g in zip(roots, root_grads, strict=True):
        deliver(r, g)

    for node in reversed(order):
        slot = grads.pop(id(node), None)
        if slot is None or all(g is None for g in slot):
            if not retain_graph:
                node.release()
            if leaf_edges and id(node) in leaf_edges:
                done_with(leaf_edges[id(node)])
            continue
        if node._freed:
            raise RuntimeError(
                f"{node.name}: trying to backward through the graph a second time (its saved "
                "values were freed by the first backward). Pass retain_graph=True to the first "
                "backward() if you need a second one."
            )
        hooks = node.__dict__.get("_tensor_hooks")
        if hooks or retained:
            for i, (shape, dtype) in enumerate(node.out_meta):
                if slot[i] is None:
                    continue
                if hooks and hooks.get(i):
                    from cvprimer.core.tensor_hooks import run_grad_hooks

                    slot[i] = run_grad_hooks(hooks[i], slot[i], shape, dtype)
                held = retained.pop((id(node), i), None) if retained else None
                if held is not None:
                    held._accumulate(slot[i])
        gys = [
            g if g is not None else np.zeros(shape, dtype)
            for g, (shape, dtype) in zip(slot, node.out_meta, strict=True)
        ]
        if getattr(node, "_versions", None):  # getattr: a user's Function may skip Function.__init__
            check_versions(node)
        snap = getattr(node, "_settings", None)
        if snap is None or snap is current_settings():
            gin = node.backward(node, *gys)
        else:  # a decision taken in forward (a lowering, a layout) is re-derived from the same values
            with use_settings(snap):
                gin = node.backward(node, *gys)
        if not isinstance(gin, tuple):
            gin = (gin,)
        if len(gin) > len(node.inputs):
            raise RuntimeError(
                f"{node.name}.backward returned {len(gin)} gradients for {len(node.inputs)} inputs"
            )
        if len(gin) < len(node.inputs):  # trailing non-Tensor options need no None
            gin = gin + (None,) * (len(node.inputs) - len(gin))
        if anomaly and _all_finite(gys) and not _all_finite([g for g in gin if g is not None]):
            raise AnomalyError(
                f"{node.name}: backward produced a non-finite gradient from finite upstream "
                f"gradients (upstream {_describe(gys)}; input gradients "
                f"{_describe([g for g in gin if g is not None])})"
            )
        for t, need, g in zip(node.inputs, node.needs_input_grad, gin, strict=True):
            if not need or g is None or t is None:
                continue
            g = np.asarray(g)
            shape, dtype = (t.shape, t.dtype) if isinstance(t, Link) else (t.data.shape, t.data.dtype)
            if g.shape != shape:
                g = unbroadcast(g, shape)
            if g.dtype != dtype:
                g = g.astype(dtype)
            deliver(t, g)
        if not retain_graph:
            node.release()
        if leaf_edges and id(node) in leaf_edges:
            done_with(leaf_edges[id(node)])
    for k in list(leaf_grads):  # leaves given as roots beside graphs that use them
        flush(k)


def iter_nodes(t: Tensor) -> Iterator[Function]:
    """Yield the graph nodes reachable from ``t`` (iterative, each once)."""
    stack = [t._node] if t._node is not None else []
    seen: set[int] = set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        yield n
        stack.extend(x._node for x in n.inputs if x is not None and x._node is not None)
