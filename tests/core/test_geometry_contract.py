"""The geometry contract: what an op's declared geometry says it reads is what its computation reads.

Independent of the formulas in :mod:`cvprimer.core.geometry`: every op family that declares a geometry is run on
randomized shapes and options (float64, positive inputs and all-positive weights, so no tap cancels); one output
position ``(n, i, j)`` gets a gradient (random positive weights on its channels, nothing elsewhere), and the input
rows and columns with a non-zero gradient (the position's *support*) are compared with what the op declares, read
through the analyzer (:func:`cvprimer.analysis.trace`, then
:func:`~cvprimer.analysis.receptive_field.declared_geometry`):

* the support lies inside ``input_rows(axis, i, i)`` (clipped to the input: padding reads no pixel), and where
  the op reads every tap of its window (not a max, not an index, not dropout) it reaches both ends of it whenever
  those lie inside the input. A max or an unpooling reads one tap per draw: the union of the supports of many
  random inputs must fill the declared interval;
* a geometry with ``context`` (normalization) is pointwise plus statistics: the support holds the position
  itself, and for a normalization over H and W of this very input it is the whole map;
* the receptive field the analyzer composes with the geometry's ``field`` (an envelope, clipped to pixels) holds
  the support, and is tight: along each axis some interior unit reaches each end of it.

Then fields composed through 2-4 random layers: windows, pads and crops (every unit reads the same window) must
give exactly the support of the central unit; with a transposed conv or a resampling in the stack the field must
hold the support of every unit near the centre; in both the exact region (:func:`cvprimer.analysis.unit_region`,
the declared ``input_rows`` composed backwards) must equal it. Last, every op class either declares a geometry or
is listed in :data:`NO_GEOMETRY` with the reason.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import cvprimer
import cvprimer.functional as F
from cvprimer import nn
from cvprimer.analysis import input_region, trace, unit_region
from cvprimer.analysis.receptive_field import ReceptiveFields, declared_geometry
from cvprimer.core.function import Function
from cvprimer.core.tensor import Tensor

Interval = tuple[int, int]


class _Net(nn.Module):
    """A model running ``fn(x)`` (the analyzer traces modules)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        super().__init__()
        object.__setattr__(self, "fn", fn)

    def forward(self, x: Any) -> Any:
        return self.fn(x)


@dataclass
class Case:
    """One randomized call: ``build(rng)`` gives the function of the input (a new one per draw where the op's
    data-dependent part, e.g. unpooling indices, is drawn too), ``shape`` its input's.

    ``exact``: the op reads every tap it declares (no max, no index), so the support reaches the declared ends;
    ``draws``: random inputs whose supports are united (a max reads one tap per draw); ``stats``: the op
    normalizes over this input's H and W, so every position is in the support; ``whole``: a linear or cubic
    resampling whose source coordinates are all whole numbers on some axis, so the outer taps weigh 0 for every
    unit and no unit reaches the field's envelope (``taps`` wide): only containment is checked; ``copies``: a
    reflect, replicate or circular pad, whose border units copy rows from across the map, outside the receptive
    field (a lattice describes the interior): there the exact rows are checked, the field only inside."""

    build: Callable[[np.random.Generator], Callable[[Any], Any]]
    shape: tuple[int, int, int, int]
    exact: bool = True
    draws: int = 1
    stats: bool = False
    whole: bool = False
    copies: bool = False


def _positive(rng: np.random.Generator, *shape: int) -> Tensor:
    return Tensor(rng.uniform(0.5, 1.5, shape))


def _fixed(fn: Callable[[Any], Any]) -> Callable[[np.random.Generator], Callable[[Any], Any]]:
    return lambda rng: fn


def _hw(rng: np.random.Generator, lo: int = 5, hi: int = 14) -> tuple[int, int]:
    return int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))


def _pairs(rng: np.random.Generator, lo: int, hi: int) -> tuple[int, int]:
    return int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))


# -- the op families, each drawn at random from a seed ----------------------------------------------------
def _conv(rng: np.random.Generator) -> Case:
    while True:
        g = int(rng.integers(1, 3))
        cin, cout = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
        k, s, p, d = _pairs(rng, 1, 4), _pairs(rng, 1, 3), _pairs(rng, 0, 2), _pairs(rng, 1, 3)
        H, W = _hw(rng)
        if all((n + 2 * p[a] - d[a] * (k[a] - 1) - 1) // s[a] + 1 >= 2 for a, n in enumerate((H, W))):
            break
    w = _positive(rng, cout, cin // g, *k)
    return Case(_fixed(lambda x: F.conv2d(x, w, None, s, p, d, g)), (2, cin, H, W))


def _conv_same(rng: np.random.Generator) -> Case:
    k, d = _pairs(rng, 1, 4), _pairs(rng, 1, 2)  # even kernels pad unequally: more after than before
    w = _positive(rng, 2, 2, *k)
    return Case(_fixed(lambda x: F.conv2d(x, w, None, 1, "same", d)), (1, 2, *_hw(rng)))


def _conv_transpose(rng: np.random.Generator) -> Case:
    while True:
        g = int(rng.integers(1, 3))
        cin, cout = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
        k, s, d = _pairs(rng, 1, 4), _pairs(rng, 1, 3), _pairs(rng, 1, 2)
        p = tuple(int(rng.integers(0, d[a] * (k[a] - 1) + 1)) for a in range(2))
        op = tuple(int(rng.integers(0, max(s[a], d[a]))) for a in range(2))
        H, W = _hw(rng, 3, 8)
        if all((n - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + op[a] + 1 >= 2 for a, n in enumerate((H, W))):
            break
    w = _positive(rng, cin, cout // g, *k)
    return Case(_fixed(lambda x: F.conv_transpose2d(x, w, None, s, p, op, g, d)), (2, cin, H, W))


def _pool_options(rng: np.random.Generator, dilated: bool) -> tuple[Any, ...]:
    while True:
        k, s = _pairs(rng, 1, 4), _pairs(rng, 1, 3)
        p = tuple(int(rng.integers(0, k[a] // 2 + 1)) for a in range(2))
        d = _pairs(rng, 1, 2) if dilated else (1, 1)
        ceil = bool(rng.integers(2))
        H, W = _hw(rng)
        if all(n + 2 * p[a] >= d[a] * (k[a] - 1) + 1 for a, n in enumerate((H, W))):
            return k, s, p, d, ceil, (H, W)


def _max_pool(rng: np.random.Generator) -> Case:
    k, s, p, d, ceil, hw = _pool_options(rng, dilated=True)
    return Case(_fixed(lambda x: F.max_pool2d(x, k, s, p, d, ceil)), (2, 2, *hw), exact=False, draws=40)


def _avg_pool(rng: np.random.Generator) -> Case:
    k, s, p, _, ceil, hw = _pool_options(rng, dilated=False)
    include = bool(rng.integers(2))
    return Case(_fixed(lambda x: F.avg_pool2d(x, k, s, p, ceil, include)), (2, 2, *hw))


def _adaptive(rng: np.random.Generator) -> Case:
    H, W = _hw(rng)
    out = (int(rng.integers(1, H + 1)), int(rng.integers(1, W + 1)))
    return Case(_fixed(lambda x: F.adaptive_avg_pool2d(x, out)), (2, 2, H, W))


def _global_avg(rng: np.random.Generator) -> Case:
    return Case(_fixed(F.global_avg_pool2d), (2, 2, *_hw(rng)))


def _global_max(rng: np.random.Generator) -> Case:
    return Case(_fixed(F.global_max_pool2d), (2, 2, *_hw(rng, 3, 6)), exact=False, draws=80)


def _unpool(rng: np.random.Generator) -> Case:
    k, s, p, _, _, (H, W) = _pool_options(rng, dilated=False)
    pooled = F.max_pool2d(Tensor(np.zeros((2, 2, H, W))), k, s, p).shape

    def build(r: np.random.Generator) -> Callable[[Any], Any]:  # indices of a max pooling of random data
        _, idx = F.max_pool2d(Tensor(r.uniform(size=(2, 2, H, W))), k, s, p, return_indices=True)
        return lambda x: F.max_unpool2d(x, idx, k, s, p, output_size=(H, W))
    return Case(build, pooled, exact=False, draws=40)


def _interpolate(rng: np.random.Generator, mode: str, align: bool | None) -> Case:
    H, W = _hw(rng, 3, 12)
    if rng.integers(2):
        kw: dict[str, Any] = {"size": _hw(rng, 2, 20)}
    else:
        kw = {"scale_factor": float(rng.choice([0.5, 1.5, 2.0, 3.0]))}
    fn = _fixed(lambda x: F.interpolate(x, mode=mode, align_corners=align, **kw))
    out = fn(rng)(Tensor(np.zeros((1, 1, H, W)))).shape[2:]
    whole = mode in ("bilinear", "bicubic") and any(
        _whole_sources(n, m, bool(align), kw.get("scale_factor")) for n, m in zip((H, W), out, strict=True))
    return Case(fn, (2, 2, H, W), whole=whole)


def _whole_sources(n_in: int, n_out: int, align: bool, scale: float | None) -> bool:
    """Whether every output's source coordinate is a whole number (PyTorch's rule: ``o (n_in - 1) / (n_out - 1)``
    aligned, else ``(o + 1/2) r - 1/2`` with r = 1 / scale_factor when given, else n_in / n_out)."""
    o = np.arange(n_out, dtype=np.float64)
    if align:
        c = o * (n_in - 1) / (n_out - 1) if n_out > 1 else o
    else:
        c = (o + 0.5) * (1 / scale if scale else n_in / n_out) - 0.5
    return bool(np.allclose(c, np.round(c)))


def _pixel_shuffle(rng: np.random.Generator) -> Case:
    r = int(rng.integers(2, 4))
    return Case(_fixed(lambda x: F.pixel_shuffle(x, r)), (2, 2 * r * r, *_hw(rng, 2, 6)))


def _pixel_unshuffle(rng: np.random.Generator) -> Case:
    r = int(rng.integers(2, 4))
    H, W = _hw(rng, 2, 5)
    return Case(_fixed(lambda x: F.pixel_unshuffle(x, r)), (2, 2, H * r, W * r))


def _pad(rng: np.random.Generator, mode: str) -> Case:
    H, W = _hw(rng, 4, 10)
    lo = -1 if mode == "constant" else 0  # a negative width crops
    pads = [int(rng.integers(lo, 4)) for _ in range(4)]
    return Case(_fixed(lambda x: F.pad(x, pads, mode)), (2, 2, H, W), copies=mode != "constant")


def _slice(rng: np.random.Generator) -> Case:
    H, W = _hw(rng, 6, 14)
    rows = slice(int(rng.integers(0, 3)), int(rng.integers(H - 2, H + 1)), int(rng.integers(1, 4)))
    cols = slice(int(rng.integers(0, 3)), int(rng.integers(W - 2, W + 1)), int(rng.integers(1, 4)))
    return Case(_fixed(lambda x: x[:, :, rows, cols]), (2, 2, H, W))


def _group_norm(rng: np.random.Generator) -> Case:
    return Case(_fixed(lambda x: F.group_norm(x, 2)), (2, 4, *_hw(rng)), exact=False, stats=True)


def _batch_norm(rng: np.random.Generator, training: bool) -> Case:
    c = 3
    mean, var = Tensor(np.zeros(c)), Tensor(np.ones(c))
    return Case(_fixed(lambda x: F.batch_norm(x, mean, var, training=training)), (2, c, *_hw(rng)),
                exact=False, stats=training)


def _pointwise(rng: np.random.Generator, fn: Callable[[Any], Any]) -> Case:
    return Case(_fixed(fn), (2, 4, *_hw(rng)))


def _dropout(rng: np.random.Generator) -> Case:
    return Case(lambda r: lambda x: F.dropout(x, 0.5, rng=r), (2, 2, *_hw(rng)), exact=False, draws=10)


FAMILIES: dict[str, Callable[[np.random.Generator], Case]] = {
    "conv2d": _conv,
    "conv2d_same": _conv_same,
    "conv_transpose2d": _conv_transpose,
    "max_pool2d": _max_pool,
    "avg_pool2d": _avg_pool,
    "adaptive_avg_pool2d": _adaptive,
    "global_avg_pool2d": _global_avg,
    "global_max_pool2d": _global_max,
    "max_unpool2d": _unpool,
    "nearest": lambda r: _interpolate(r, "nearest", None),
    "nearest_exact": lambda r: _interpolate(r, "nearest-exact", None),
    "bilinear": lambda r: _interpolate(r, "bilinear", False),
    "bilinear_aligned": lambda r: _interpolate(r, "bilinear", True),
    "bicubic": lambda r: _interpolate(r, "bicubic", False),
    "bicubic_aligned": lambda r: _interpolate(r, "bicubic", True),
    "area": lambda r: _interpolate(r, "area", None),
    "pixel_shuffle": _pixel_shuffle,
    "pixel_unshuffle": _pixel_unshuffle,
    "pad_constant": lambda r: _pad(r, "constant"),
    "pad_reflect": lambda r: _pad(r, "reflect"),
    "pad_replicate": lambda r: _pad(r, "replicate"),
    "pad_circular": lambda r: _pad(r, "circular"),
    "slice": _slice,
    "group_norm": _group_norm,
    "batch_norm_train": lambda r: _batch_norm(r, True),
    "batch_norm_eval": lambda r: _batch_norm(r, False),
    "relu": lambda r: _pointwise(r, F.relu),
    "mul": lambda r: _pointwise(r, lambda x: x * Tensor(np.full((1, 4, 1, 1), 2.0))),
    "softmax_c": lambda r: _pointwise(r, lambda x: F.softmax(x, 1)),
    "channel_shuffle": lambda r: _pointwise(r, lambda x: F.channel_shuffle(x, 2)),
    "maxout": lambda r: _pointwise(r, lambda x: F.maxout(x, 2)),
    "dropout": _dropout,
}
SEEDS = range(4)


# -- the measurement --------------------------------------------------------------------------------------
def _support(fn: Callable[[Any], Any], x: np.ndarray, unit: tuple[int, int, int],
             rng: np.random.Generator) -> tuple[Interval, Interval] | None:
    """Input rows and columns where the gradient of output position ``unit`` = (n, i, j) is non-zero (over every
    sample and channel of the input); None if none. The position's channels get random positive weights (a
    geometry is per position: pixel unshuffle spreads its window over channels; a sum over a softmax's channels
    would have a zero gradient)."""
    xt = Tensor(x.copy(), requires_grad=True)
    y = fn(xt)
    g = np.zeros(y.shape)
    n, i, j = unit
    g[n, :, i, j] = rng.uniform(0.5, 1.5, y.shape[1])
    y.backward(Tensor(g))
    assert xt.grad is not None
    reach = np.abs(xt.grad.data).sum(axis=(0, 1)) > 0
    rows, cols = np.nonzero(reach.any(axis=1))[0], np.nonzero(reach.any(axis=0))[0]
    if rows.size == 0:
        return None
    return (int(rows.min()), int(rows.max())), (int(cols.min()), int(cols.max()))


def _union(a: tuple[Interval, Interval] | None, b: tuple[Interval, Interval] | None) -> Any:
    if a is None or b is None:
        return a or b
    return tuple((min(a[k][0], b[k][0]), max(a[k][1], b[k][1])) for k in range(2))


def _the_op(tr: Any) -> Any:
    """The op that made the traced model's output; it must read the model input itself (one op per case)."""
    rec = tr.ops[tr.producers[tr.output_ids[0]][0]]
    first = next(ref for ref in rec.inputs if ref.kind in ("activation", "input"))
    assert first.kind == "input", f"the case runs more than one op before {rec.name}"
    return rec


def _units(out_shape: tuple[int, ...], rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """The corners, the centre and a few random positions (n, i, j) of the output."""
    N, _, H, W = out_shape
    picks = {(0, 0), (H - 1, W - 1), (0, W - 1), (H - 1, 0), (H // 2, W // 2)}
    picks |= {(int(rng.integers(H)), int(rng.integers(W))) for _ in range(3)}
    return [(int(rng.integers(N)), i, j) for i, j in sorted(picks)]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_declared_geometry_holds_what_the_op_reads(family: str, seed: int) -> None:
    rng = np.random.default_rng(1000 * seed + sorted(FAMILIES).index(family))
    case = FAMILIES[family](rng)
    fn = case.build(rng)
    tr = trace(_Net(fn), case.shape, dtype=np.float64)
    rec = _the_op(tr)
    g = declared_geometry(rec)
    assert g is not None, f"{family}: {rec.name} declares no geometry"
    out_shape = tuple(rec.outputs[0].shape)
    assert len(out_shape) == 4, f"{family}: {rec.name} gives a {len(out_shape)}-D output"
    rf = ReceptiveFields(tr).output()
    assert rf is not None
    hw = case.shape[2:]
    fns = [fn] + [case.build(rng) for _ in range(case.draws - 1)]
    for unit in _units(out_shape, rng):
        support = None
        for f in fns:
            support = _union(support, _support(f, rng.uniform(0.5, 1.5, case.shape), unit, rng))
        where = f"{family} (seed {seed}): unit {unit} of {out_shape} from input {case.shape}, geometry {g}"
        if g.context:  # pointwise plus statistics over positions
            assert support is not None and all(support[a][0] <= unit[1 + a] <= support[a][1] for a in range(2)), \
                f"{where}: the unit's own position is not read, support {support}"
            if case.stats:
                assert support == ((0, hw[0] - 1), (0, hw[1] - 1)), f"{where}: statistics should reach everything"
            continue
        declared = [g.input_rows(a, unit[1 + a], unit[1 + a]) for a in range(2)]
        if support is None:  # only a unit whose window lies (partly) in the padding, or is empty, may read nothing
            assert not ((case.exact or case.draws > 1) and all(0 <= lo <= hi < n for (lo, hi), n in
                                                                zip(declared, hw, strict=True))), \
                f"{where}: reads nothing, declared {declared}"
            continue
        for a, (lo, hi) in enumerate(declared):
            clipped = (max(lo, 0), min(hi, hw[a] - 1))
            got = support[a]
            assert clipped[0] <= got[0] and got[1] <= clipped[1], \
                f"{where}: axis {a} reads {got}, outside the declared {(lo, hi)} (clipped {clipped})"
            if (case.exact or case.draws > 1) and 0 <= lo and hi < hw[a]:
                assert got == (lo, hi), f"{where}: axis {a} reads {got}, the declared window is {(lo, hi)}"
        # the analyzer's receptive field (composed with the geometry's field()) holds the support
        if rf.kind == "global":
            assert g.reach == "global", f"{where}: a global field from a {g.reach} geometry"
        elif support is not None and "unequal" not in rf.note:
            assert rf.kind == "local", f"{where}: field {rf}"
            free = input_region(rf, unit[1], unit[2])
            if case.copies and not all(0 <= free[a][0] and free[a][1] <= hw[a] - 1 for a in range(2)):
                continue
            env = input_region(rf, unit[1], unit[2], hw)
            assert env is not None and all(env[a][0] <= support[a][0] and support[a][1] <= env[a][1]
                                           for a in range(2)), f"{where}: the field's envelope {env} misses {support}"
    if case.exact and case.draws == 1 and rf.kind == "local" and "unequal" not in rf.note and not case.whole:
        _check_envelope_is_tight(family, fn, case, rf, out_shape, rng)


def _check_envelope_is_tight(family: str, fn: Callable[[Any], Any], case: Case, rf: Any,
                             out_shape: tuple[int, ...], rng: np.random.Generator) -> None:
    """The field is the envelope of the units' supports: along each axis, over the units whose envelope lies inside
    the input, some unit's support reaches its envelope's first row and some its last (so a formula that grows
    the field too much fails; the units of one period may each read less, e.g. a zero-weight tap)."""
    x = rng.uniform(0.5, 1.5, case.shape)
    for a in range(2):
        excess: list[tuple[float, float]] = []
        for u in range(out_shape[2 + a]):
            i, j = (u, out_shape[3] // 2) if a == 0 else (out_shape[2] // 2, u)
            free = input_region(rf, i, j)
            if not (free[a][0] > -1 and free[a][1] < case.shape[2 + a]):
                continue
            support = _support(fn, x, (0, i, j), rng)
            if support is None:  # a transposed conv's dilated taps can all miss the input
                continue
            env = input_region(rf, i, j, case.shape[2:])
            excess.append((support[a][0] - env[a][0], env[a][1] - support[a][1]))
        if excess:
            assert min(min(e) for e in excess) >= 0, f"{family}: axis {a}: the field {rf} misses a unit's support"
            assert min(e[0] for e in excess) == 0 and min(e[1] for e in excess) == 0, \
                f"{family}: axis {a}: the field {rf} passes every interior unit's support by {min(excess)} rows"


# -- receptive fields composed through random stacks ------------------------------------------------------
REGULAR = ("conv", "conv", "avg_pool", "unshuffle", "pad", "crop")  # the same window for every unit
RESAMPLING = ("conv_transpose", "bilinear", "nearest", "bicubic")  # neighbouring units read shifted windows


def _layer(rng: np.random.Generator, kind: str, c: int, hw: tuple[int, ...]) -> tuple[str, Callable[[Any], Any]]:
    """One random layer of ``kind`` on c channels of size hw: (description, function)."""
    if kind == "conv":
        k, s, p, d = _pairs(rng, 1, 5), _pairs(rng, 1, 2), _pairs(rng, 0, 2), _pairs(rng, 1, 2)
        w = _positive(rng, 2, c, *k)
        return f"conv k{k} s{s} p{p} d{d}", lambda x: F.conv2d(x, w, None, s, p, d)
    if kind == "avg_pool":
        k = _pairs(rng, 2, 3)
        s, p = _pairs(rng, 1, 2), tuple(int(rng.integers(0, k[a] // 2 + 1)) for a in range(2))
        return f"avg_pool k{k} s{s} p{p}", lambda x: F.avg_pool2d(x, k, s, p)
    if kind == "unshuffle" and hw[0] % 2 == 0 and hw[1] % 2 == 0:
        return "pixel_unshuffle 2", lambda x: F.pixel_unshuffle(x, 2)
    if kind == "pad":
        pads = [int(v) for v in rng.integers(0, 3, 4)]
        return f"pad {pads}", lambda x: F.pad(x, pads)
    if kind == "conv_transpose":
        k, s = _pairs(rng, 2, 4), _pairs(rng, 1, 2)
        p = tuple(int(rng.integers(0, k[a])) for a in range(2))
        w = _positive(rng, c, 2, *k)
        return f"conv_transpose k{k} s{s} p{p}", lambda x: F.conv_transpose2d(x, w, None, s, p)
    if kind in ("bilinear", "nearest", "bicubic"):
        return f"{kind} x2", lambda x: F.interpolate(x, scale_factor=2, mode=kind)
    return "crop", lambda x: x[:, :, 1:-1, 2:]


def _stack(rng: np.random.Generator, kinds: tuple[str, ...], shape: tuple[int, ...]) -> tuple[str, Any]:
    """2-4 random layers drawn from ``kinds``: (description, function)."""
    layers, x = [], Tensor(np.zeros(shape))
    for _ in range(int(rng.integers(2, 5))):
        name, f = _layer(rng, str(rng.choice(kinds)), x.shape[1], x.shape[2:])
        layers.append((name, f))
        x = f(x)

    def fn(x: Any) -> Any:
        for _, f in layers:
            x = f(x)
        return x
    return " -> ".join(n for n, _ in layers), fn


SHAPE = (1, 1, 48, 48)


@pytest.mark.parametrize("seed", range(12))
def test_composed_field_equals_the_support_of_the_central_unit(seed: int) -> None:
    """Windows, pads and crops: every unit reads the same window, so the composed field is exact."""
    rng = np.random.default_rng(seed)
    stack, fn = _stack(rng, REGULAR, SHAPE)
    tr = trace(_Net(fn), SHAPE, dtype=np.float64)
    rf = ReceptiveFields(tr).output()
    assert rf is not None and rf.kind == "local", rf
    H, W = tr.ops[-1].outputs[0].shape[-2:]
    i, j = H // 2, W // 2
    support = _support(fn, rng.uniform(0.5, 1.5, SHAPE), (0, i, j), rng)
    env = input_region(rf, i, j)
    assert support is not None and all(0 < env[a][0] and env[a][1] < SHAPE[2 + a] - 1 for a in range(2)), \
        f"{stack}: the central unit's field {env} touches the border; make the input larger"
    assert input_region(rf, i, j, SHAPE[2:]) == support, f"{stack}: field {rf} gives {env}, the support is {support}"
    assert unit_region(tr, i, j) == support, f"{stack}: the exact region misses the support {support}"


@pytest.mark.parametrize("seed", range(12))
def test_composed_field_with_resampling_holds_every_units_support(seed: int) -> None:
    """With a transposed conv or a resampling in the stack, units of one output period read shifted windows: the
    field is their envelope (it holds each unit's support) and the exact region is each unit's support."""
    rng = np.random.default_rng(100 + seed)
    stack, fn = _stack(rng, REGULAR + RESAMPLING + RESAMPLING, SHAPE)
    tr = trace(_Net(fn), SHAPE, dtype=np.float64)
    rf = ReceptiveFields(tr).output()
    assert rf is not None and rf.kind == "local", rf
    H, W = tr.ops[-1].outputs[0].shape[-2:]
    x = rng.uniform(0.5, 1.5, SHAPE)
    for i in range(H // 2 - 2, H // 2 + 2):
        for j in (W // 2 - 1, W // 2):
            support = _support(fn, x, (0, i, j), rng)
            env = input_region(rf, i, j, SHAPE[2:])
            assert support is not None and env is not None
            assert all(env[a][0] <= support[a][0] and support[a][1] <= env[a][1] for a in range(2)), \
                f"{stack}: unit {(i, j)}: the field {rf} gives {env}, the support is {support}"
            assert unit_region(tr, i, j) == support, f"{stack}: unit {(i, j)}: the exact region misses {support}"


# -- every op class declares a geometry, or says why not ---------------------------------------------------
#: op classes that declare no geometry, with the reason (an op class added without geometry fails below)
NO_GEOMETRY: dict[str, str] = {
    **{name: "a loss: reduces its (N, C) or (N, C, H, W) inputs to a scalar or per-sample values, after which no "
             "spatial field is asked for" for name in (
        "BCEWithLogitsFn", "BinaryCrossEntropyFn", "CosineEmbeddingLossFn", "CrossEntropyFn", "CrossEntropyIndexFn",
        "HuberLossFn", "KLDivFn", "L1LossFn", "LpPenaltyFn", "MSELossFn", "MultiMarginLossFn", "NLLLossFn",
        "SigmoidFocalLossFn", "SmoothL1LossFn", "SoftmaxFocalLossFn")},
    "AttentionFn": "attention over tokens (N, L, E): no (H, W) axes; a vision model reshapes to tokens first "
                   "(a reshape, which declares Global)",
    "LinearFn": "a matrix product over the last axis: on an (N, C, H, W) tensor it would mix W, which no model "
                "in the zoo does; flatten (Global) comes first",
    "MatMulFn": "a matrix product over the last two axes: not a spatial map",
    "InterpolateNdFn": "1-D and 3-D resampling ((N, C, L) or (N, C, D, H, W)); the analyses describe (N, C, H, W)",
    "BackwardHookInputFn": "an identity node inserted only while gradients are recorded (never in the analyzer's "
                           "no-grad trace)",
    "BackwardHookOutputFn": "an identity node inserted only while gradients are recorded (never in the analyzer's "
                            "no-grad trace)",
}


def _op_classes() -> list[type]:
    for m in pkgutil.walk_packages(cvprimer.__path__, "cvprimer."):
        if ".lab" not in m.name and not m.name.endswith("__main__"):
            importlib.import_module(m.name)
    seen: list[type] = []
    stack = list(Function.__subclasses__())
    while stack:
        c = stack.pop()
        if c not in seen:
            seen.append(c)
            stack.extend(c.__subclasses__())
    return [c for c in seen if c.__module__.startswith("cvprimer.") and ".lab." not in c.__module__]


def _leaf(cls: type) -> bool:
    """A class meant to be applied, not only a base of others (a base's subclasses are checked)."""
    return not any(c.__module__.startswith("cvprimer.") for c in cls.__subclasses__())


def _declares(cls: type) -> bool:
    """Whether the class (or a base other than Function) defines ``geometry``, or gets the normalization default."""
    owner = next(k for k in cls.__mro__ if "geometry" in k.__dict__)
    return owner is not Function or bool(getattr(cls, "is_normalization", False))


def test_every_op_class_declares_geometry_or_says_why_not() -> None:
    classes = [c for c in _op_classes() if _leaf(c)]
    names = {c.__qualname__ for c in classes}
    silent = sorted(c.__qualname__ for c in classes if not _declares(c) and c.__qualname__ not in NO_GEOMETRY)
    assert not silent, f"declare a geometry (cvprimer.core.geometry) or list the reason in NO_GEOMETRY: {silent}"
    declared_anyway = sorted(n for n in NO_GEOMETRY if any(c.__qualname__ == n and _declares(c) for c in classes))
    assert not declared_anyway, f"these declare a geometry now; remove them from NO_GEOMETRY: {declared_anyway}"
    gone = sorted(set(NO_GEOMETRY) - names)
    assert not gone, f"NO_GEOMETRY names classes that no longer exist: {gone}"
