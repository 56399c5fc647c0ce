r"""Shape ops: reshape, permute/transpose, expand, concat, stack, split, pad.

All of them move values without arithmetic, so every backward is the inverse movement
of the gradient: reshape back, the inverse permutation, a sum over expanded axes, the
matching slices of a concatenation, and for padding the sum of every padded copy back
onto the element it was copied from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cvprimer.core.call import pointwise, spatial_kept
from cvprimer.core.cost import copy_cost, view_cost
from cvprimer.core.function import Function
from cvprimer.core.geometry import POINTWISE, Crop, Global, along
from cvprimer.core.saves import NOTHING


class ReshapeFn(Function):
    r"""y = x viewed with a new shape (same element count, C order).  Backward: gy reshaped
    to x's shape. Also serves flatten, squeeze, unsqueeze and view."""

    saves_for_backward = NOTHING
    no_infer = "a view: runs on the placeholder without allocating"
    geometry = staticmethod(spatial_kept)
    float_only = False
    is_view = True
    cost = staticmethod(view_cost)

    @staticmethod
    def forward(ctx, x, shape):
        try:
            y = x.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into "
                f"{tuple(shape)}"
            ) from None
        ctx.in_shape = x.shape
        return y

    @staticmethod
    def backward(ctx, gy):
        return gy.reshape(ctx.in_shape), None


class PermuteFn(Function):
    r"""y = x with axes reordered: y.shape[i] = x.shape[perm[i]].  Backward: gy permuted by
    the inverse permutation argsort(perm)."""

    saves_for_backward = NOTHING
    no_infer = "a view: runs on the placeholder without allocating"
    float_only = False
    is_view = True
    cost = staticmethod(view_cost)

    @staticmethod
    def geometry(call):
        """Pointwise when H and W stay the last two axes of a 4-D tensor, else global (the layout is lost)."""
        x, perm = call.inputs[:2]
        keep = getattr(x, "ndim", 0) == 4 and tuple(int(p) % 4 for p in perm)[2:] == (2, 3)
        return POINTWISE if keep else Global()

    @staticmethod
    def forward(ctx, x, perm):
        perm = tuple(int(p) % max(x.ndim, 1) for p in perm)
        if sorted(perm) != list(range(x.ndim)):
            raise ValueError(f"permute: {perm} is not a permutation of the {x.ndim} axes of {x.shape}")
        ctx.inv = tuple(np.argsort(perm))
        return np.transpose(x, perm)

    @staticmethod
    def backward(ctx, gy):
        return np.transpose(gy, ctx.inv), None


class ExpandFn(Function):
    r"""y = x broadcast to ``shape`` (a read-only view, no copy).  Backward: gy summed over
    the broadcast axes (done by the central unbroadcast)."""

    saves_for_backward = NOTHING
    no_infer = "a view: runs on the placeholder without allocating"
    float_only = False
    is_view = True
    cost = staticmethod(view_cost)

    geometry = staticmethod(pointwise)  # a broadcast 1 x 1 input is context

    @staticmethod
    def forward(ctx, x, shape):
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(
                f"expand: cannot broadcast shape {x.shape} to {tuple(shape)} (axes must match or be 1)"
            ) from None

    @staticmethod
    def backward(ctx, gy):
        return gy, None


class ConcatFn(Function):
    r"""y = concatenation of the inputs along ``dim``.  Backward: gy cut back into pieces
    of the inputs' sizes along ``dim``."""

    saves_for_backward = NOTHING
    float_only = False
    cost = staticmethod(copy_cost)

    @staticmethod
    def check(dim, xs):
        """The concatenation axis (made non-negative) after checking the shapes; ValueError otherwise."""
        if not xs:
            raise ValueError("cat: expected a non-empty sequence of tensors")
        nd = xs[0].ndim
        if not -nd <= dim < nd:
            raise ValueError(f"cat: dim {dim} out of range for {nd}-d tensors")
        dim %= nd
        for x in xs:
            if x.ndim != nd or x.shape[:dim] + x.shape[dim + 1 :] != xs[0].shape[:dim] + xs[0].shape[dim + 1 :]:
                raise ValueError(
                    f"cat: shapes {[a.shape for a in xs]} must match except along dim {dim}"
                )
        return dim

    @staticmethod
    def infer(call):
        dim, *xs = call.inputs
        dim = ConcatFn.check(dim, xs)
        shape = list(xs[0].shape)
        shape[dim] = sum(x.shape[dim] for x in xs)
        return tuple(shape), np.result_type(*xs)

    @staticmethod
    def geometry(call):
        """Pointwise along N or C (the inputs' fields merge); concatenating along H or W is not described."""
        return along(call.inputs[1] if len(call.inputs) > 1 else None, call.inputs[0], None)

    @staticmethod
    def forward(ctx, dim, *xs):
        dim = ConcatFn.check(dim, xs)
        ctx.dim = dim
        ctx.bounds = np.cumsum([x.shape[dim] for x in xs])[:-1]
        return np.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, gy):
        return (None, *np.split(gy, ctx.bounds, axis=ctx.dim))


class StackFn(Function):
    r"""y = the inputs stacked along a new axis ``dim``.  Backward: the slices of gy along
    ``dim``, one per input."""

    saves_for_backward = NOTHING
    geometry = staticmethod(spatial_kept)
    float_only = False
    cost = staticmethod(copy_cost)

    @staticmethod
    def check(dim, xs):
        """The new axis (made non-negative) after checking the shapes; ValueError otherwise."""
        if not xs:
            raise ValueError("stack: expected a non-empty sequence of tensors")
        if any(x.shape != xs[0].shape for x in xs):
            raise ValueError(f"stack: all tensors must have the same shape, got {[a.shape for a in xs]}")
        nd = xs[0].ndim + 1
        if not -nd <= dim < nd:
            raise ValueError(f"stack: dim {dim} out of range for the {nd}-d result")
        return dim % nd

    @staticmethod
    def infer(call):
        dim, *xs = call.inputs
        dim = StackFn.check(dim, xs)
        shape = list(xs[0].shape)
        shape.insert(dim, len(xs))
        return tuple(shape), np.result_type(*xs)

    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = StackFn.check(dim, xs)
        return np.stack(xs, axis=ctx.dim)

    @staticmethod
    def backward(ctx, gy):
        return (None, *(np.take(gy, i, axis=ctx.dim) for i in range(gy.shape[ctx.dim])))


class SplitFn(Function):
    r"""Several outputs: consecutive pieces of x along ``dim`` with the given sizes.
    Backward: the pieces' gradients concatenated (a piece nobody used contributes zeros)."""

    saves_for_backward = NOTHING
    no_infer = "a view: runs on the placeholder without allocating"
    float_only = False
    is_view = True
    cost = staticmethod(view_cost)

    @staticmethod
    def geometry(call):
        """Pointwise along N or C; splitting along H or W is not described."""
        return along(call.inputs[0], call.inputs[2], None)

    @staticmethod
    def forward(ctx, x, sizes, dim):
        ctx.dim = dim
        bounds = np.cumsum(sizes)[:-1]
        return tuple(np.split(x, bounds, axis=dim))

    @staticmethod
    def backward(ctx, *gys):
        return np.concatenate(gys, axis=ctx.dim), None, None


def split_sizes(name: str, length: int, split_size_or_sections: Any) -> list[int]:
    """PyTorch's rule: an int gives pieces of that size (the last may be smaller); a list
    gives the sizes, which must add up to the axis length."""
    if isinstance(split_size_or_sections, (int, np.integer)):
        s = int(split_size_or_sections)
        if s <= 0:
            raise ValueError(f"{name}: split size must be positive, got {s}")
        sizes = [s] * (length // s) + ([length % s] if length % s else [])
        return sizes or [0]
    sizes = [int(s) for s in split_size_or_sections]
    if sum(sizes) != length or any(s < 0 for s in sizes):
        raise ValueError(f"{name}: sizes {sizes} must be non-negative and sum to the axis length {length}")
    return sizes


_PAD_MODES: dict[str, Any] = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad_widths(name: str, shape: tuple[int, ...], pad: Sequence[int]) -> list[tuple[int, int]]:
    """Turn PyTorch's ``pad`` (last axis first: (left, right, top, bottom, ...)) into
    NumPy's per-axis ``[(before, after), ...]``."""
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > len(shape):
        raise ValueError(
            f"{name}: pad {tuple(pad)} must have an even length of at most 2 * ndim "
            f"= {2 * len(shape)} for an input of shape {shape}"
        )
    widths = [(0, 0)] * len(shape)
    for i in range(len(pad) // 2):
        widths[len(shape) - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return widths


def _pad_index(n: int, b: int, a: int, mode: str) -> np.ndarray:
    """Output index -> input index along one axis of length ``n`` padded by ``(b, a)`` in a non-constant
    ``mode``; a negative width crops, following PyTorch 2.13: ``reflect``/``replicate`` pad the whole
    axis first and then crop (so a crop on one side can keep values mirrored from it: reflect (2, -2) of
    [0, 1, 2, 3] is [2, 1, 0, 1]); ``circular`` crops first and wraps the cropped axis (circular (2, -1)
    of [0, 1, 2, 3] is [1, 2, 0, 1, 2])."""
    if mode == "circular":
        lo = max(-b, 0)
        kept = np.arange(lo, n - max(-a, 0))
        return np.pad(kept, (max(b, 0), max(a, 0)), mode="wrap")
    full = np.pad(np.arange(n), (max(b, 0), max(a, 0)), mode=_PAD_MODES[mode])
    return full[max(-b, 0):len(full) - max(-a, 0)]


class PadFn(Function):
    r"""Pad (or, with negative widths, crop) the trailing axes.

    Modes: ``constant`` (fill ``value``), ``reflect`` (mirror without repeating the edge,
    needs width < size), ``replicate`` (repeat the edge), ``circular`` (wrap around).
    A negative width removes that many entries from that side, in every mode, as PyTorch 2.13:
    constant, reflect and replicate index the padded axis as if it were padded by the positive widths
    and then cropped; circular crops first and wraps what is left (see :func:`_pad_index`).

    Backward: each output position is a copy of one input position (or a constant), so
    gx[j] = sum of gy over all output positions that copied x[j]. We build, per padded
    axis, the index map ``src`` (output index -> input index) and scatter-add along that
    axis with ``np.add.at``; constant padding only needs the central slice.
    """

    saves_for_backward = NOTHING
    float_only = False
    cost = staticmethod(copy_cost)

    @staticmethod
    def geometry(call):
        """A 4-D pad is a crop with a negative start: output row o reads input row o - top (o - left for
        columns). In ``constant`` mode the rows in the padding read no input pixel; in the other modes every
        output row copies one input row (mirrored, repeated or wrapped: :func:`_pad_index`), whose exact rows
        ``reads`` gives."""
        x, pad = call.inputs[0], [int(p) for p in call.inputs[1]] + [0] * 4
        if getattr(x, "ndim", 0) != 4:
            return None
        mode = call.arg(2, "mode", "constant")
        if mode == "constant":
            return Crop(start=(-pad[2], -pad[0]))
        maps = (_pad_index(x.shape[2], pad[2], pad[3], mode), _pad_index(x.shape[3], pad[0], pad[1], mode))

        def reads(axis: int, lo: int, hi: int) -> tuple[int, int]:
            rows = maps[axis][max(lo, 0):hi + 1]
            return (int(rows.min()), int(rows.max())) if rows.size else (0, -1)
        return Crop(start=(-pad[2], -pad[0]), reads=reads)

    @staticmethod
    def check(shape, pad, mode):
        """NumPy's per-axis widths after checking ``pad`` and ``mode`` against ``shape``; ValueError otherwise."""
        if mode not in _PAD_MODES:
            raise ValueError(f"pad: mode must be one of {sorted(_PAD_MODES)}, got {mode!r}")
        widths = pad_widths("pad", shape, pad)
        if mode == "constant":
            if any(n + b + a < 0 for n, (b, a) in zip(shape, widths, strict=True)):
                raise ValueError(f"pad: pad {tuple(pad)} crops more than the input shape {shape} holds")
            return widths
        for (b, a), n in zip(widths, shape, strict=True):
            if not (b or a):
                continue
            if n == 0:
                raise ValueError(f"pad: cannot {mode}-pad an empty axis (input shape {shape})")
            if n + b + a < 0:
                raise ValueError(f"pad: {mode} pad ({b}, {a}) crops more than the axis of size {n} holds "
                                 f"(input shape {shape})")
            if mode == "reflect" and (b >= n or a >= n):
                raise ValueError(
                    f"pad: reflect padding ({b}, {a}) must be smaller than the axis size {n} "
                    f"(input shape {shape})"
                )
            kept = n - max(-b, 0) - max(-a, 0)
            if mode == "circular" and (b > kept or a > kept):
                raise ValueError(f"pad: circular padding ({b}, {a}) would wrap around more than once: it must be "
                                 f"at most the {kept} entries left after cropping (input shape {shape})")
        return widths

    @staticmethod
    def infer(call):
        x, pad, mode = call.x, call.inputs[1], call.arg(2, "mode", "constant")
        widths = PadFn.check(x.shape, pad, mode)
        return tuple(n + b + a for n, (b, a) in zip(x.shape, widths, strict=True)), x.dtype

    @staticmethod
    def forward(ctx, x, pad, mode="constant", value=0.0):
        widths = PadFn.check(x.shape, pad, mode)
        ctx.meta = (x.shape, widths, mode)
        if mode == "constant":
            # negative widths crop: apply the crop as a slice, then pad the rest
            crop = tuple(slice(max(-b, 0), n - max(-a, 0)) for (b, a), n in zip(widths, x.shape, strict=True))
            pos = [(max(b, 0), max(a, 0)) for b, a in widths]
            return np.pad(x[crop], pos, mode="constant", constant_values=value)
        if all(b >= 0 and a >= 0 for b, a in widths):
            return np.pad(x, widths, mode=_PAD_MODES[mode])
        y = x
        for ax, ((b, a), n) in enumerate(zip(widths, x.shape, strict=True)):
            if b or a:
                y = np.take(y, _pad_index(n, b, a, mode), axis=ax)
        return y

    @staticmethod
    def backward(ctx, gy):
        shape, widths, mode = ctx.meta
        if mode == "constant":
            gx = np.zeros(shape, gy.dtype)
            dst = tuple(slice(max(-b, 0), n - max(-a, 0)) for (b, a), n in zip(widths, shape, strict=True))
            src = tuple(slice(max(b, 0), gy.shape[i] - max(a, 0)) for i, (b, a) in enumerate(widths))
            gx[dst] = gy[src]
            return gx, None, None, None
        g = gy
        for ax, ((b, a), n) in enumerate(zip(widths, shape, strict=True)):
            if not (b or a):
                continue
            src = _pad_index(n, b, a, mode)  # output -> input index
            moved = np.moveaxis(g, ax, 0)
            acc = np.zeros((n,) + moved.shape[1:], g.dtype)
            np.add.at(acc, src, moved)
            g = np.moveaxis(acc, 0, ax)
        return g, None, None, None
