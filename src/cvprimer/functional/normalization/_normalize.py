r"""The one normalize-over-axes kernel shared by batch, layer, instance and group norm.

Every normalization layer of the family computes, for a view ``xv`` of the input in which
the statistics are taken over the axes ``A`` (the "statistics set" of m elements) and the
affine parameters broadcast from a shape ``pview``::

    mu      = (1/m) sum_A xv                         (biased, i.e. population, statistics)
    var     = (1/m) sum_A (xv - mu)^2
    inv_std = 1 / sqrt(var + eps)
    x_hat   = (xv - mu) * inv_std
    y       = gamma * x_hat + beta

| layer          | input          | view              | A        | pview            |
|----------------|----------------|-------------------|----------|------------------|
| batch_norm     | (N, C, *)      | (N, C, L)         | (0, 2)   | (1, C, 1)        |
| instance_norm  | (N, C, *)      | (N, C, L)         | (2,)     | (1, C, 1)        |
| layer_norm     | (*, S...)      | (M, K = prod S)   | (1,)     | (1, K)           |
| group_norm     | (N, C, *)      | (N, G, C/G, L)    | (2, 3)   | (1, G, C/G, 1)   |

**Backward** (derivation, for one statistics set; g = gx_hat = gy * gamma). x enters x_hat
directly, through mu and through var:

    d x_hat_i / d x_j = inv_std (delta_ij - 1/m) - (x_i - mu) inv_std^3 (x_j - mu) / m
                      = (inv_std / m) (m delta_ij - 1 - x_hat_i x_hat_j)

(using d mu / d x_j = 1/m, d var / d x_j = 2 (x_j - mu) / m, d inv_std / d var =
-inv_std^3 / 2). Contracting with g gives the three-term form

    gx_j = (inv_std / m) (m g_j - sum_i g_i - x_hat_j sum_i g_i x_hat_i)

and the parameter gradients sum over all positions that share a parameter:
``ggamma = sum gy * x_hat``, ``gbeta = sum gy``.

When gamma is constant over each statistics set (batch and instance norm: per channel),
it factors out: sum_i g_i = gamma sum_i gy_i and sum_i g_i x_hat_i = gamma sum_i gy_i x_hat_i,
the very sums the parameter gradients need, so the whole backward is two reductions and one
elementwise pass, and no gy * gamma array is formed.

Saved for backward: x (an input, which the graph's node holds anyway), the per-set mean and
inv_std (plus the affine weight, an input); backward recomputes x_hat = (x - mu) inv_std. Keeping
x_hat instead would add one x-sized array per layer to a training step's memory.
"""

from __future__ import annotations

import math
import string
from typing import Any

import numpy as np

from cvprimer.core.call import pointwise
from cvprimer.core.cost import Cost, same_shape_infer
from cvprimer.core.function import Function
from cvprimer.core.saves import BOTH
from cvprimer.core.settings import settings
from cvprimer.functional.normalization import _norm_kernels as K


def _sum(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return np.add.reduce(a, axis=axes, keepdims=True)


def _sum_prod(a: np.ndarray, b: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """sum_A a * b with keepdims, without forming a * b (einsum's fused multiply-add)."""
    letters = string.ascii_lowercase[: a.ndim]
    out = "".join(c for i, c in enumerate(letters) if i not in axes)
    r = np.einsum(f"{letters},{letters}->{out}", a, b)
    return r.reshape(tuple(1 if i in axes else n for i, n in enumerate(a.shape)))


def moments(xv: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, centred x, biased variance) over ``axes`` (two-pass: no cancellation)."""
    m = math.prod(xv.shape[a] for a in axes)
    mean = _sum(xv, axes) / xv.dtype.type(m)
    xc = xv - mean
    var = _sum_prod(xc, xc, axes) / xv.dtype.type(m)
    return mean, xc, var


# the layout bounds are settings.norm_cols_max_length (batch norm: the ``cols`` layout of :mod:`._norm_kernels`,
# x as (N, C L), for planes of at most that many positions; longer planes the ``planes`` layout, x as (N, C, L)
# swept image by image) and
# settings.norm_rows_max_length (group norm: the ``rows`` layout, each group one contiguous row, gamma and beta
# repeated over each channel's positions). Instance norm keeps ``sets``: its gamma is one number per set, which that
# kernel factors out of gx (the float32 rows form loses accuracy where gx cancels)


def _layout(view: tuple[int, ...], axes: tuple[int, ...], pview: tuple[int, ...], dtype: np.dtype) -> Any:
    """The compiled kernels' layout for this view (see :mod:`._norm_kernels`): ("sets", 4-D shape,
    (G, P)), ("rows", (M, K), (G, P), L), ("cols", (N, C L), L) or ("planes", (N, C, L)); None: the NumPy path
    (numba off, another dtype)."""
    if not settings.numba or dtype not in (np.float32, np.float64):
        return None
    if len(view) == 3 and axes == (0, 2) and pview == (1, view[1], 1):  # batch norm
        n, c, length = view
        if length <= settings.norm_cols_max_length:  # short planes: sweep whole rows, not 64-byte runs per channel
            return ("cols", (n, c * length), length)
        return ("planes", view)
    if len(view) == 3 and axes == (2,) and pview == (1, view[1], 1):  # instance norm
        n, c, length = view
        return ("sets", (1, n * c, 1, length), (c, 1))
    if len(view) == 2 and axes == (1,) and pview == (1, view[1]):  # layer norm
        return ("rows", view, (1, view[1]), 1)
    if len(view) == 4 and axes == (2, 3) and pview == (1, view[1], view[2], 1):  # group norm
        n, g, cg, length = view
        if length <= settings.norm_rows_max_length:
            return ("rows", (n * g, cg * length), (g, cg), length)
        return ("sets", (1, n * g, cg, length), (g, cg))
    return None


def _contiguous(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.ascontiguousarray(a.reshape(shape))


class NormalizeFn(Function):
    r"""Fused normalize + affine over the axes ``axes`` of ``x.reshape(view)``.

    Parameters (forward): x, weight or None, bias or None (Tensors/arrays); view (shape to
    take statistics in), axes (statistics axes of the view), pview (shape the parameters
    broadcast from, in the view), eps; ``stats``: a dict (or None) that receives the batch
    ``mean`` and biased ``var`` (flattened), for running-statistics updates.

    Shapes: y has x's shape; gweight/gbias have the parameters' shapes.
    See the module docstring for the forward and backward math. With ``settings.numba`` the
    compiled kernels of :mod:`._norm_kernels` run batch, instance, group and layer norm; the
    NumPy code below is the reference. Both keep x (which the graph holds anyway), the mean
    and inv_std for backward, and recompute x_hat there.
    """

    saves_for_backward = BOTH  # x and gamma (plus per-set mean and inv_std)
    is_normalization = True

    @staticmethod
    def forward(ctx, x, weight, bias, view, axes, pview, eps, stats=None):
        ctx.axes, ctx.pview, ctx.shape, ctx.view = axes, pview, x.shape, view
        ctx.pshape = weight.shape if weight is not None else bias.shape if bias is not None else ()
        ctx.layout = lay = _layout(view, axes, pview, x.dtype)
        if lay is not None:
            kind, shape = lay[0], lay[1]
            if kind == "sets":
                y, mean, var, inv_std = K.sets_forward(_contiguous(x, shape), weight, bias, lay[2], eps)
            elif kind == "rows":
                y, mean, var, inv_std = K.rows_forward(_contiguous(x, shape), weight, bias, eps, *lay[2:])
            elif kind == "planes":
                y, mean, var, inv_std = K.planes_forward(_contiguous(x, shape), weight, bias, eps)
            else:
                y, mean, var, inv_std = K.cols_forward(_contiguous(x, shape), weight, bias, eps, lay[2])
            if stats is not None:
                stats["mean"], stats["var"] = mean.astype(x.dtype), var.astype(x.dtype)
            ctx.save_for_backward(x, mean, inv_std, weight)
            return y.reshape(x.shape)
        xv = x.reshape(view)
        mean, y, var = moments(xv, axes)  # y: x - mean, a fresh array turned into y in place
        inv_std = 1 / np.sqrt(var + xv.dtype.type(eps))
        if stats is not None:
            stats["mean"], stats["var"] = mean.reshape(-1), var.reshape(-1)
        w = None if weight is None else weight.reshape(pview)
        if w is None:
            y *= inv_std
        elif math.prod(np.broadcast_shapes(inv_std.shape, w.shape)) * 4 <= y.size:
            y *= inv_std * w  # gamma inv_std is small (per set or per channel): one pass
        else:  # gamma varies inside a set (layer norm): two in-place passes, no x-sized product
            y *= inv_std
            y *= w
        if bias is not None:
            y += bias.reshape(pview)
        ctx.save_for_backward(x, mean, inv_std, w)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, gy):
        x, mean, inv_std, w = ctx.saved_tensors
        lay = ctx.layout
        if lay is not None:
            kind, shape = lay[0], lay[1]
            xk, gyk = _contiguous(x, shape), _contiguous(gy, shape)
            want = ctx.needs_input_grad[0]
            if kind == "sets":
                gx, gw, gb = K.sets_backward(xk, gyk, w, lay[2], mean, inv_std, want)
            elif kind == "rows":
                gx, gw, gb = K.rows_backward(xk, gyk, w, mean, inv_std, want, *lay[2:])
            elif kind == "planes":
                gx, gw, gb = K.planes_backward(xk, gyk, w, mean, inv_std, want)
            else:
                gx, gw, gb = K.cols_backward(xk, gyk, w, mean, inv_std, want, lay[2])
            pdt = x.dtype if w is None else w.dtype
            gw = gw.reshape(ctx.pshape).astype(pdt) if ctx.needs_input_grad[1] else None
            gb = gb.reshape(ctx.pshape).astype(pdt) if ctx.needs_input_grad[2] else None
            return (None if gx is None else gx.reshape(ctx.shape)), gw, gb
        axes, pview = ctx.axes, ctx.pview
        xv = x.reshape(ctx.view)
        gy = gy.reshape(ctx.view)
        xc = xv - mean  # x - mu, recomputed (fresh): becomes x_hat or gx in place
        m = xv.dtype.type(math.prod(xv.shape[a] for a in axes))
        paxes = tuple(i for i, n in enumerate(pview) if n == 1)  # axes the parameters span
        factored = w is None or all(pview[a] == 1 for a in axes)
        gw = gb = gx = None
        if factored:
            # sum gy, sum gy x_hat per set; gamma factors out of gx_hat
            s1, s2 = _sum(gy, axes), _sum_prod(gy, xc, axes) * inv_std
            rest = tuple(a for a in paxes if a not in axes)
            if ctx.needs_input_grad[1]:
                gw = (_sum(s2, rest) if rest else s2).reshape(ctx.pshape)
            if ctx.needs_input_grad[2]:
                gb = (_sum(s1, rest) if rest else s1).reshape(ctx.pshape)
            if ctx.needs_input_grad[0]:
                a = inv_std if w is None else inv_std * w  # gamma inv_std, per set
                gx = xc
                gx *= -(inv_std * s2 / m)  # -x_hat sum(gy x_hat) / m
                gx += gy
                gx -= s1 / m
                gx *= a
        else:
            x_hat = xc
            x_hat *= inv_std
            if ctx.needs_input_grad[1]:
                gw = _sum_prod(gy, x_hat, paxes).reshape(ctx.pshape)
            if ctx.needs_input_grad[2]:
                gb = _sum(gy, paxes).reshape(ctx.pshape)
            if ctx.needs_input_grad[0]:
                gx = gy * w  # g = gx_hat, turned into gx in place
                s1, s2 = _sum(gx, axes), _sum_prod(gx, x_hat, axes)
                x_hat *= s2 / m  # x_hat is not needed any more
                gx -= s1 / m
                gx -= x_hat
                gx *= inv_std
        return (None if gx is None else gx.reshape(ctx.shape)), gw, gb

    @staticmethod
    def infer(call):
        """Output shape and dtype for the shape-only trace (the analyzer's protocol); ``stats``
        gets what the arithmetic would give on the all-zero placeholder input."""
        x, view, axes, stats = call.x, call.inputs[3], call.inputs[4], call.arg(7, "stats")
        if stats is not None:
            m = tuple(1 if i in axes else n for i, n in enumerate(view))
            stats["mean"] = np.zeros(m, x.dtype).reshape(-1)
            stats["var"] = np.zeros(m, x.dtype).reshape(-1)
        return x.shape, x.dtype

    @staticmethod
    def cost(call):
        """The analyzer's protocol: see the module-level :func:`cost`."""
        return cost(call.x.shape, affine=call.inputs[1] is not None, itemsize=call.itemsize)


class AffineStatsFn(Function):
    r"""Normalization with GIVEN statistics (eval-mode batch norm, instance norm with running
    statistics): an affine map of x.

    **Forward** y = gamma (x - mu) inv_std + beta = x * s + t, with s = gamma inv_std,
    t = beta - mu s, inv_std = 1 / sqrt(var + eps); mu, var are constants (pview-shaped).

    **Backward** gx = gy * s; ggamma = sum gy (x - mu) inv_std; gbeta = sum gy (sums over
    the axes the parameters are broadcast along). Saves x only when ggamma is needed.
    """

    geometry = staticmethod(pointwise)
    saves_for_backward = BOTH  # x and gamma
    is_normalization = True
    infer = staticmethod(same_shape_infer)

    @staticmethod
    def forward(ctx, x, weight, bias, mean, var, view, pview, eps):
        xv = x.reshape(view)
        inv_std = (1 / np.sqrt(var.reshape(pview) + eps)).astype(x.dtype, copy=False)
        mu = mean.reshape(pview).astype(x.dtype, copy=False)
        s = inv_std if weight is None else inv_std * weight.reshape(pview)
        t = -mu * s if bias is None else bias.reshape(pview) - mu * s
        y = xv * s
        y += t
        ctx.save_for_backward(xv if ctx.needs_input_grad[1] else None, mu, inv_std, s)
        ctx.view, ctx.pview, ctx.shape = view, pview, x.shape
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, gy):
        xv, mu, inv_std, s = ctx.saved_tensors
        gy = gy.reshape(ctx.view)
        paxes = tuple(i for i, n in enumerate(ctx.pview) if n == 1)
        gx = (gy * s).reshape(ctx.shape) if ctx.needs_input_grad[0] else None
        gw = (_sum_prod(gy, xv - mu, paxes) * inv_std).reshape(-1) if ctx.needs_input_grad[1] else None
        gb = _sum(gy, paxes).reshape(-1) if ctx.needs_input_grad[2] else None
        return gx, gw, gb

    @staticmethod
    def cost(call):
        """The analyzer's protocol: see :func:`affine_cost`."""
        return affine_cost(call.x.shape, itemsize=call.itemsize)


def cost(shape: tuple[int, ...], affine: bool = True, itemsize: int = 4) -> Cost:
    """Training-mode cost of a normalization over an input of ``shape`` (forward only).

    Per element: subtract the mean, square, accumulate (variance), accumulate (mean),
    scale by inv_std, and with affine one multiply-add. Bytes: read x twice (mean, then
    centre), write y. The per-set sqrt/divide is negligible and not counted.
    """
    n = int(np.prod(shape))
    return Cost(n if affine else 0, 5 * n, 3 * n * itemsize)


def affine_cost(shape: tuple[int, ...], itemsize: int = 4) -> Cost:
    """Cost of a normalization with given statistics (eval-mode batch norm): one multiply-add per
    element; read x, write y."""
    n = int(np.prod(shape))
    return Cost(n, 0, 2 * n * itemsize)


def check_param(op: str, name: str, t: Any, shape: tuple[int, ...], x: Any) -> None:
    """Validate an optional affine parameter / running statistic: a Tensor of ``shape``; the
    affine ``weight``/``bias`` must also have x's dtype (as PyTorch; running statistics may
    differ, e.g. float32 buffers for a float64 input, and are cast)."""
    from cvprimer.core.tensor import Tensor

    if t is None:
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(t).__name__}")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(
            f"{op}: {name} has shape {tuple(t.shape)} but input {tuple(x.shape)} needs {tuple(shape)}"
        )
    if name in ("weight", "bias") and t.dtype != x.dtype:
        raise TypeError(f"{op}: {name} has dtype {t.dtype} but input {tuple(x.shape)} has dtype {x.dtype}; "
                        "expected the same dtype")


def check_input(op: str, x: Any, min_ndim: int, what: str) -> None:
    from cvprimer.core.tensor import Tensor

    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim < min_ndim:
        raise ValueError(f"{op}: expected input {what}, got shape {tuple(x.shape)}")


def check_eps(op: str, eps: Any) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)) or eps < 0:
        raise ValueError(f"{op}: eps must be a non-negative number, got {eps!r}")
    return float(eps)
