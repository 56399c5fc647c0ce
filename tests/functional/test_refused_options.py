"""Options cvprimer used to refuse although PyTorch accepts them (issue 29, "refused cleanly"), each now
matching PyTorch 2.13 forward and backward in float32 and float64 on randomized shapes, with a float64
gradcheck where the math is new; and the ``dim=()`` reduction rule."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from parity import check_grad, parity


# -- negative padding in reflect / replicate / circular mode (PyTorch: crops) -------------------------------
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("seed", range(4))
def test_negative_pad_crops_like_pytorch(mode, seed):
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(4, 8, size=2))
    pad = [int(v) for v in rng.integers(-3, 4, size=4)]
    pad[int(rng.integers(4))] = -int(rng.integers(1, 3))  # at least one crop
    x = rng.standard_normal((2, 3, h, w))
    parity(lambda t: F.pad(t, pad, mode=mode), lambda t: TF.pad(t, pad, mode=mode), x)


@pytest.mark.parametrize(("mode", "pad", "want"), [
    ("reflect", (2, -2), [2, 1, 0, 1]),  # padded from the whole axis, then cropped
    ("reflect", (-2, 3), [2, 3, 2, 1, 0]),
    ("replicate", (-5, 2), [3]),
    ("circular", (2, -1), [1, 2, 0, 1, 2]),  # cropped first, then wrapped
    ("circular", (-1, 2), [1, 2, 3, 1, 2]),
])
def test_negative_pad_values_on_a_range(mode, pad, want):
    x = np.arange(4.0).reshape(1, 1, 4)
    assert TF.pad(torch.from_numpy(x), pad, mode=mode).flatten().tolist() == want
    assert F.pad(cp.tensor(x), pad, mode=mode).data.flatten().tolist() == want


def test_negative_pad_gradcheck_and_refusals():
    x = np.random.default_rng(1).standard_normal((1, 2, 5, 6))
    for mode, pad in [("reflect", (2, -3, -1, 2)), ("replicate", (-2, 3, 2, -4)), ("circular", (2, -2, -1, 3))]:
        check_grad(lambda t, mode=mode, pad=pad: F.pad(t, pad, mode=mode), x)
    with pytest.raises(ValueError, match="wrap around more than once"):
        F.pad(cp.tensor(x), (-4, 3), mode="circular")  # PyTorch fails on this too
    with pytest.raises(ValueError, match="crops more than"):
        F.pad(cp.tensor(x), (-4, -3), mode="replicate")


# -- reductions with dim=() -----------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "var", "std"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_empty_dim_reduces_every_axis(op, keepdim):
    x = np.random.default_rng(3).permutation(24).reshape(2, 3, 4) * 0.3 + 0.1  # tie-free for amax/amin
    tx = torch.from_numpy(x)
    every = getattr(torch, op)(tx, dim=(0, 1, 2), keepdim=keepdim)
    torch.testing.assert_close(getattr(torch, op)(tx, dim=(), keepdim=keepdim), every)  # PyTorch's forward rule
    # PyTorch 2.13's var/std backward treats dim=() as reducing nothing (n = 1: gradients +-inf), a bug we do
    # not copy: the gradient is compared with the all-axes reduction, whose forward dim=() equals
    parity(lambda t: getattr(cp, op)(t, dim=(), keepdim=keepdim),
           lambda t: getattr(torch, op)(t, dim=(0, 1, 2), keepdim=keepdim), x)


def test_empty_dim_logsumexp_is_refused_as_in_pytorch():
    x = np.ones((2, 3))
    with pytest.raises(RuntimeError):
        torch.logsumexp(torch.from_numpy(x), dim=())
    with pytest.raises(ValueError, match=r"logsumexp: dim=\(\)"):
        cp.logsumexp(cp.tensor(x), dim=())


# -- softmax / log_softmax(dtype=) -----------------------------------------------------------------------
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("to", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(3))
def test_softmax_dtype_computes_and_returns_in_that_dtype(op, to, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 6, size=int(rng.integers(1, 4))))
    dim = int(rng.integers(-len(shape), len(shape)))
    x = rng.standard_normal(shape) * 4
    tdt = {np.float32: torch.float32, np.float64: torch.float64}[to]
    tol = dict(rtol=1e-4, atol=1e-5) if to == np.float32 else {}  # a float64 input computed in float32
    parity(lambda t: getattr(F, op)(t, dim=dim, dtype=to), lambda t: getattr(TF, op)(t, dim=dim, dtype=tdt), x,
           **tol)


def test_softmax_dtype_float64_keeps_precision_and_refuses_int():
    x = np.array([[0.0, 1e-8, 30.0]], np.float32)
    y = F.log_softmax(cp.tensor(x), dim=1, dtype=np.float64)
    ref = TF.log_softmax(torch.from_numpy(x), dim=1, dtype=torch.float64)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.data, ref.numpy(), rtol=1e-12)
    with pytest.raises(TypeError, match="softmax: dtype must be a floating dtype"):
        F.softmax(cp.tensor(x), dim=1, dtype=np.int32)


# -- prelu with a 0-d weight -------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (2, 3, 4, 5)])
def test_prelu_0d_weight(shape):
    x = np.random.default_rng(4).standard_normal(shape) + 0.05  # away from the kink at 0
    x = np.where(np.abs(x) < 0.05, 0.3, x)
    w = np.array(0.3)
    parity(F.prelu, TF.prelu, x, w)
    check_grad(F.prelu, x, w)
    assert F.prelu(cp.tensor(x), cp.tensor(w, requires_grad=True)).shape == shape


# -- cross-entropy with probability targets that do not sum to 1 ------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", range(2))
def test_cross_entropy_unnormalized_probability_targets(reduction, eps, weighted, seed):
    rng = np.random.default_rng(seed)
    shape = [(5, 4), (2, 3, 4, 2), (6,)][seed + (reduction == "none")]
    z = rng.standard_normal(shape) * 2
    q = rng.uniform(-0.5, 1.5, shape)  # rows sum to anything, some entries negative
    c = shape[0] if len(shape) == 1 else shape[1]
    w = rng.uniform(0.2, 2.0, c) if weighted else None

    def ours(a, t):
        return F.cross_entropy(a, t, weight=None if w is None else cp.tensor(w.astype(a.dtype)),
                               reduction=reduction, label_smoothing=eps)

    def theirs(a, t):
        return TF.cross_entropy(a, t, weight=None if w is None else torch.from_numpy(w).to(a.dtype),
                                reduction=reduction, label_smoothing=eps)

    parity(ours, theirs, z, q)
    if seed == 0:
        check_grad(ours, z, q)


def test_cross_entropy_probability_target_closed_form():
    z = np.array([[1.0, -2.0, 0.5]])
    q = np.array([[0.3, 0.3, 0.9]])  # sums to 1.5
    logp = z - np.log(np.exp(z).sum())
    got = F.cross_entropy(cp.tensor(z), cp.tensor(q)).item()
    assert got == pytest.approx(-(q * logp).sum(), rel=1e-12)


# -- avg_pool2d(divisor_override=) ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_avg_pool2d_divisor_override(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 4))
    s = int(rng.integers(1, 3))
    p = int(rng.integers(0, k // 2 + 1))
    ceil, cip = bool(rng.integers(2)), bool(rng.integers(2))
    d = int(rng.choice([1, 3, 5, -2]))
    x = rng.standard_normal((2, 3) + tuple(int(v) for v in rng.integers(k + 1, 9, size=2)))
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=cip, divisor_override=d)
    parity(lambda t: F.avg_pool2d(t, **kw), lambda t: TF.avg_pool2d(t, **kw), x)
    if seed == 0:
        check_grad(lambda t: F.avg_pool2d(t, **kw), x[:1, :2])


def test_avg_pool2d_divisor_override_refuses_zero():
    with pytest.raises(ValueError, match="avg_pool2d: divisor_override must be a nonzero int"):
        F.avg_pool2d(cp.ones(1, 1, 4, 4), 2, divisor_override=0)


# -- div(rounding_mode=) -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["trunc", "floor"])
@pytest.mark.parametrize("seed", range(3))
def test_div_rounding_mode_floats(mode, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 5, size=int(rng.integers(1, 4))))
    a = rng.standard_normal(shape) * 10
    b = rng.standard_normal(shape[-1:]) * 3  # broadcasts
    # PyTorch: the rounded quotient is piecewise constant, gradients zero for both inputs
    parity(lambda x, y: cp.div(x, y, rounding_mode=mode), lambda x, y: torch.div(x, y, rounding_mode=mode), a, b)
    parity(lambda x: cp.div(x, 2.5, rounding_mode=mode), lambda x: torch.div(x, 2.5, rounding_mode=mode), a)


@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_div_rounding_mode_edges_and_integers(mode):
    a = np.array([7.5, -7.5, 1.0, -1.0, 0.0, 6.0, -6.0, 5.0])
    b = np.array([-2.0, 2.0, 0.0, 0.0, 0.0, 3.0, 3.0, np.inf])
    ref = torch.div(torch.from_numpy(a), torch.from_numpy(b), rounding_mode=mode).numpy()
    np.testing.assert_array_equal(cp.div(cp.tensor(a), cp.tensor(b), rounding_mode=mode).data, ref)
    for dt in (np.int32, np.int64, np.uint8):
        ia = np.arange(-9 if dt != np.uint8 else 0, 10).astype(dt)
        for d in (3, -4, 7) if dt != np.uint8 else (3, 7):
            got = cp.div(cp.tensor(ia), d, rounding_mode=mode)
            want = torch.div(torch.from_numpy(ia), d, rounding_mode=mode)
            assert got.dtype == np.dtype(str(want.dtype).replace("torch.", ""))
            np.testing.assert_array_equal(got.data, want.numpy())
    with pytest.raises(ZeroDivisionError, match="div: integer division by zero"):
        cp.div(cp.tensor(np.array([1, 2])), 0, rounding_mode=mode)
    with pytest.raises(ValueError, match="div: rounding_mode must be None, 'trunc' or 'floor'"):
        cp.div(cp.tensor(a), 2.0, rounding_mode="round")


# -- interpolate: 3-D and 5-D inputs, nearest-exact, recompute_scale_factor -----------------------------------
_INTERP_MODES = {1: ["linear", "nearest", "nearest-exact", "area"],
                 2: ["nearest-exact"],
                 3: ["trilinear", "nearest", "nearest-exact", "area"]}
_INTERP_CASES = [(k, m, seed) for k, modes in _INTERP_MODES.items() for m in modes for seed in range(3)]


def _interp_kwargs(rng, k, mode, in_sizes):
    kw = {}
    if rng.random() < 0.5:
        sizes = tuple(int(v) for v in rng.integers(1, 9, size=k))
        kw["size"] = sizes if rng.random() < 0.7 else sizes[0]
    else:
        sf = tuple(float(v) for v in np.round(rng.uniform(0.6, 2.6, size=k), 3))
        sf = tuple(max(f, 1.0 / n + 1e-3) for f, n in zip(sf, in_sizes, strict=True))  # never an empty output
        kw["scale_factor"] = sf if rng.random() < 0.6 else max(sf)
        if mode == "nearest" or rng.random() < 0.4:
            # PyTorch's 1-D/3-D nearest backward disagrees with its forward when the scale factor is used
            # (InterpolateNdFn, "Differences"): compare gradients with the recomputed scale
            kw["recompute_scale_factor"] = True
    if mode in ("linear", "bilinear", "trilinear"):
        kw["align_corners"] = bool(rng.integers(2))
    return kw


@pytest.mark.parametrize(("k", "mode", "seed"), _INTERP_CASES)
def test_interpolate_3d_5d_and_nearest_exact_match_pytorch(k, mode, seed):
    rng = np.random.default_rng(seed + 10 * k)
    in_sizes = tuple(int(v) for v in rng.integers(1, 7 if k < 3 else 5, size=k))
    kw = _interp_kwargs(rng, k, mode, in_sizes)
    x = rng.standard_normal((2, 3) + in_sizes)
    parity(lambda t: F.interpolate(t, mode=mode, **kw), lambda t: TF.interpolate(t, mode=mode, **kw), x)


@pytest.mark.parametrize(("k", "mode"), [(1, "linear"), (1, "nearest-exact"), (1, "area"), (3, "trilinear"),
                                         (3, "nearest"), (3, "area"), (2, "nearest-exact")])
def test_interpolate_new_modes_gradcheck(k, mode):
    x = np.random.default_rng(5).standard_normal((1, 2) + (3, 4, 3)[:k])
    size = (5, 2, 4)[:k] if mode != "area" else (2, 3, 2)[:k]
    check_grad(lambda t: F.interpolate(t, size=size, mode=mode), x)


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic", "area", "nearest-exact"])
@pytest.mark.parametrize("seed", range(2))
def test_interpolate_recompute_scale_factor_4d(mode, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2) + tuple(int(v) for v in rng.integers(3, 8, size=2)))
    kw = dict(scale_factor=tuple(float(v) for v in np.round(rng.uniform(0.7, 2.9, size=2), 3)),
              recompute_scale_factor=True)
    if mode in ("bilinear", "bicubic"):
        kw["align_corners"] = bool(seed)
    parity(lambda t: F.interpolate(t, mode=mode, **kw), lambda t: TF.interpolate(t, mode=mode, **kw), x)
    plain = F.interpolate(cp.tensor(x), mode=mode, **{**kw, "recompute_scale_factor": None})
    assert plain.shape == F.interpolate(cp.tensor(x), mode=mode, **kw).shape


def test_interpolate_nearest_1d_scale_difference_is_documented():
    # forward equal to PyTorch's; PyTorch's backward uses the identity shortcut its forward does not
    x = np.array([[[0.0, 1.0]]])
    tx, cx = torch.from_numpy(x).requires_grad_(), cp.tensor(x, requires_grad=True)
    ty, cy = TF.interpolate(tx, scale_factor=1.147), F.interpolate(cx, scale_factor=1.147)
    np.testing.assert_array_equal(cy.data, ty.detach().numpy())  # [0, 0]: both outputs read x[0]
    g = np.array([[[1.0, 10.0]]])
    ty.backward(torch.from_numpy(g))
    cy.backward(cp.tensor(g))
    np.testing.assert_array_equal(cx.grad.data, [[[11.0, 0.0]]])  # the transpose of the forward
    np.testing.assert_array_equal(tx.grad.numpy(), [[[1.0, 10.0]]])


def test_interpolate_refusals():
    with pytest.raises(ValueError, match="interpolate: mode 'linear' needs a 3-D input"):
        F.interpolate(cp.ones(1, 1, 4, 4), scale_factor=2, mode="linear")
    with pytest.raises(ValueError, match="interpolate: mode 'trilinear' needs a 5-D input"):
        F.interpolate(cp.ones(1, 1, 4), scale_factor=2, mode="trilinear")
    with pytest.raises(ValueError, match="recompute_scale_factor is not meaningful with an explicit size"):
        F.interpolate(cp.ones(1, 1, 4, 4), size=3, recompute_scale_factor=True)
    with pytest.raises(ValueError, match="expected a non-empty 3-D"):
        F.interpolate(cp.ones(2, 4), scale_factor=2)


# -- add/sub(alpha=) (already supported: checked here against PyTorch) ---------------------------------------
@pytest.mark.parametrize("op", ["add", "sub"])
@pytest.mark.parametrize("alpha", [2, -0.5, 1])
def test_add_sub_alpha(op, alpha):
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4,))
    parity(lambda x, y: getattr(cp, op)(x, y, alpha=alpha), lambda x, y: getattr(torch, op)(x, y, alpha=alpha), a, b)
    parity(lambda x: getattr(cp, op)(x, 1.5, alpha=alpha), lambda x: getattr(torch, op)(x, 1.5, alpha=alpha), a)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_arg_extremes_take_one_int_dim(op):
    x = cp.tensor(np.random.default_rng(0).standard_normal((2, 3)))
    with pytest.raises(TypeError, match=f"{op}: dim must be an int or None"):
        getattr(cp, op)(x, dim=())
    with pytest.raises(TypeError):
        getattr(torch, op)(torch.from_numpy(x.data), dim=())


def test_float_alpha_with_integer_operands_is_refused_like_pytorch():
    a = np.array([1, 2, 3])
    with pytest.raises(RuntimeError, match="alpha must not be a floating point number"):
        torch.add(torch.from_numpy(a), torch.from_numpy(a), alpha=2.5)
    with pytest.raises(TypeError, match="add: alpha=2.5 is a float but both operands are integers"):
        cp.add(cp.tensor(a), cp.tensor(a), alpha=2.5)
    assert cp.add(cp.tensor(a), cp.tensor(a), alpha=2).data.tolist() == [3, 6, 9]
    assert cp.add(cp.tensor(a), 1.5, alpha=2).data.tolist() == torch.add(torch.from_numpy(a), 1.5, alpha=2).tolist()


@pytest.mark.parametrize("seed", range(2))
def test_floordiv_operator_is_floor_division(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((3, 4)) * 10, rng.standard_normal(4) * 3
    # torch's // (floor_divide) has no derivative; ours is torch.div(rounding_mode='floor'), zero gradients
    parity(lambda x, y: x // y, lambda x, y: torch.div(x, y, rounding_mode="floor"), a, b)
    parity(lambda x: 7.5 // x, lambda x: torch.div(7.5, x, rounding_mode="floor"), b)
    want = (torch.from_numpy(a) // torch.from_numpy(b)).numpy()
    np.testing.assert_array_equal((cp.tensor(a) // cp.tensor(b)).data, want)
    ia = np.arange(-6, 6)
    np.testing.assert_array_equal((cp.tensor(ia) // 4).data, (torch.from_numpy(ia) // 4).numpy())
