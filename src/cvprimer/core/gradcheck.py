r"""Numerical gradient checks, public so users can verify their own ops.

``gradcheck`` compares, for every differentiable input element x_j, the analytic
vector-Jacobian product (what backward computes) with a central difference:

    numeric_j = ( <v, f(x + eps e_j)> - <v, f(x - eps e_j)> ) / (2 eps)
    analytic_j = (J^T v)_j       (one backward pass with upstream gradient v)

where ``v`` is a fixed random upstream gradient (not all ones, which would hide errors
that cancel in a plain sum). Using a random ``v`` instead of the full Jacobian costs two
forwards per input element and one backward, and catches any wrong Jacobian entry unless
``v`` happens to be orthogonal to the error (probability zero). Central differences have
error O(eps^2) plus rounding O(macheps / eps), hence float64 and eps = 1e-6.

``directional_gradcheck`` (Chainer's check) perturbs all inputs at once along one random
direction d: (<v, f(x + eps d)> - <v, f(x - eps d)>) / (2 eps) must equal sum_j d_j (J^T v)_j.
Two forwards only, so it suits larger shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cvprimer.core.function import no_grad
from cvprimer.core.tensor import Tensor


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def _as_outputs(out: Any) -> list[Tensor]:
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind in "fc"]


def _prepare(inputs: Sequence[Any]) -> list[Any]:
    prepared = []
    for x in inputs:
        if isinstance(x, Tensor) and x.dtype.kind == "f":
            t = Tensor(x.data.astype(np.float64, copy=True), requires_grad=x.requires_grad)
            prepared.append(t)
        else:
            prepared.append(x)
    return prepared


def _op_name(outs: list[Tensor], fn: Callable[..., Any]) -> str:
    for o in outs:
        if o.grad_fn is not None:
            return o.grad_fn.name
    return getattr(fn, "__name__", "fn")


def _analytic(fn: Callable[..., Any], xs: list[Any], vs: list[np.ndarray] | None, rng: np.random.Generator):
    for x in xs:
        if isinstance(x, Tensor):
            x.grad = None
    outs = _as_outputs(fn(*xs))
    if not outs:
        raise ValueError("gradcheck: fn returned no floating-point Tensor")
    if vs is None:
        vs = [rng.standard_normal(o.shape) for o in outs]
    live = [(o, v) for o, v in zip(outs, vs, strict=True) if o.requires_grad]
    if live:
        from cvprimer.core.function import run_backward

        run_backward([o for o, _ in live], [v.astype(o.dtype) for o, v in live])
    return outs, vs


def _objective(fn: Callable[..., Any], xs: list[Any], vs: list[np.ndarray]) -> float:
    with no_grad():
        outs = _as_outputs(fn(*xs))
    return float(sum(np.sum(o.data.astype(np.float64) * v) for o, v in zip(outs, vs, strict=True)))


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check ``fn``'s backward against central differences, element by element, in float64.

    Parameters
    ----------
    fn : callable
        Takes the inputs, returns a Tensor or a tuple of Tensors.
    inputs : sequence
        Tensors (floating ones are copied to float64; those with ``requires_grad`` are
        checked) and any other arguments, passed through.
    eps, atol, rtol : float
        Step and tolerance: element j passes when |analytic - numeric| <= atol + rtol |numeric|.
    seed : int
        Seed of the random upstream gradient.

    Returns
    -------
    True when every element passes; otherwise raises :class:`GradcheckError` naming the op,
    the input, the worst element and its relative error (or returns False when
    ``raise_exception=False``).
    """
    rng = np.random.default_rng(seed)
    xs = _prepare(inputs)
    checked = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    outs, vs = _analytic(fn, xs, None, rng)
    name = _op_name(outs, fn)
    for i in checked:
        x = xs[i]
        ana = x.grad.data if x.grad is not None else np.zeros_like(x.data)
        num = np.zeros_like(x.data)
        flat = x.data.reshape(-1)  # a view: perturb in place
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            fp = _objective(fn, xs, vs)
            flat[j] = old - eps
            fm = _objective(fn, xs, vs)
            flat[j] = old
            num.reshape(-1)[j] = (fp - fm) / (2 * eps)
        err = np.abs(ana - num)
        bad = err > atol + rtol * np.abs(num)
        rel = err / np.maximum(np.abs(num), 1e-12)
        k = int(np.argmax(np.where(bad, rel, -1) if bad.any() else rel))
        idx = np.unravel_index(k, x.shape) if x.ndim else ()
        msg = (
            f"gradcheck failed for op {name}: input {i} (shape {x.shape}), worst element {tuple(map(int, idx))}: "
            f"analytic {ana.reshape(-1)[k]:.8g} vs numeric {num.reshape(-1)[k]:.8g}, "
            f"relative error {rel.reshape(-1)[k]:.3g} ({int(bad.sum())} of {x.numel()} elements outside "
            f"atol={atol}, rtol={rtol})"
        )
        if bad.any():
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def directional_gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    seed: int = 0,
) -> bool:
    """One random direction, two forwards (Chainer's check); float64; raises on mismatch."""
    rng = np.random.default_rng(seed)
    xs = _prepare(inputs)
    checked = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("directional_gradcheck: no input has requires_grad=True")
    outs, vs = _analytic(fn, xs, None, rng)
    dirs = {i: rng.standard_normal(xs[i].shape) for i in checked}
    ana = sum(
        float(np.sum((xs[i].grad.data if xs[i].grad is not None else 0.0) * dirs[i])) for i in checked
    )
    base = {i: xs[i].data.copy() for i in checked}
    vals = []
    for sgn in (1.0, -1.0):
        for i in checked:
            xs[i].data[...] = base[i] + sgn * eps * dirs[i]
        vals.append(_objective(fn, xs, vs))
    for i in checked:
        xs[i].data[...] = base[i]
    num = (vals[0] - vals[1]) / (2 * eps)
    if abs(ana - num) > atol + rtol * abs(num):
        raise GradcheckError(
            f"directional gradcheck failed for op {_op_name(outs, fn)}: analytic {ana:.10g} vs numeric "
            f"{num:.10g} (difference {abs(ana - num):.3g})"
        )
    return True
