"""The compiled activation kernels (``activation/_kernels.py``, settings.numba) against the NumPy
reference path and PyTorch: exact GELU, SiLU and softmax on both paths, float32 and float64,
split over two workers or not, gradcheck, extremes and non-finite inputs."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.core import jit
from cvprimer.core.settings import settings
from cvprimer.functional.activation.rectifier import relu as relu_at
from parity import check_grad, parity, randn

NUMBA = [False, True] if jit.available() else [False]
OPS = {"gelu": (F.gelu, TF.gelu), "silu": (F.silu, TF.silu)}
needs_numba = pytest.mark.skipif(not jit.available(), reason="numba not installed")


@pytest.fixture(params=NUMBA, ids=lambda v: f"numba={v}")
def path(request):
    with settings.override(numba=request.param):
        yield request.param


def both(fn, x, gy):
    """y and x.grad of ``fn`` on the compiled path and on the NumPy path."""
    out = []
    for numba in (True, False):
        with settings.override(numba=numba):
            t = cp.Tensor(x.copy(), requires_grad=True)
            y = fn(t)
            y.backward(cp.Tensor(gy))
            out.append((y.data, t.grad.data))
    return out


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5), (2, 3, 4, 5), ()])
def test_agrees_with_torch(path, name, shape, split):
    with settings.override(threads=2, min_chunk_elements=1 if split else 10**12):
        a = randn(*shape, seed=3) * 4 if shape else np.array(0.7)
        parity(OPS[name][0], OPS[name][1], a, dtypes=[np.float32])
        parity(OPS[name][0], OPS[name][1], a, dtypes=[np.float64], noncontig=bool(shape))


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradcheck(path, name):
    check_grad(OPS[name][0], randn(2, 3, 4, seed=5) * 3)


def test_gelu_float64_full_precision_on_both_paths(path):
    parity(F.gelu, TF.gelu, np.linspace(-8, 8, 1601), dtypes=[np.float64])


@needs_numba
@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("name", sorted(OPS))
def test_compiled_matches_numpy_path_float32(name, split):
    """float32: the compiled kernels' own erfc/exp approximations stay within a few float32 ulps of
    the NumPy path (float64 inside, rounded) over the whole range, tails included."""
    x = np.linspace(-13, 15, 100003).astype(np.float32)
    gy = randn(x.size, seed=1).astype(np.float32)
    with settings.override(threads=2, min_chunk_elements=1 if split else 10**12):
        (y, gx), (y_ref, gx_ref) = both(OPS[name][0], x, gy)
    assert y.dtype == gx.dtype == np.float32
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-37)
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-5, atol=1e-6)
    near = np.abs(x) < 6  # away from the tails: float32 rounding of x^2 in exp(-x^2/2) costs little
    np.testing.assert_allclose(y[near], y_ref[near], rtol=4e-6, atol=1e-37)


@needs_numba
@pytest.mark.parametrize("name", sorted(OPS))
def test_compiled_matches_numpy_path_float64(name):
    x = np.concatenate([np.linspace(-40, 40, 20001), [0.0, -0.0, 1e-300, -1e-300, 5e-324]])
    gy = randn(x.size, seed=2)
    (y, gx), (y_ref, gx_ref) = both(OPS[name][0], x, gy)
    # the NumPy erfc is good to 3e-13 relative in the far tail (its documented bound), libm's to ~1e-16
    np.testing.assert_allclose(y, y_ref, rtol=3e-13, atol=1e-300)
    # (gx crosses zero near x = -0.75, where Phi + x phi cancels: an absolute floor there)
    np.testing.assert_allclose(gx, gx_ref, rtol=3e-13, atol=1e-15)


@needs_numba
def test_gelu_float32_kernel_against_math_erfc():
    """The fitted erfc of the float32 kernel: GELU within 4e-6 relative of the float64 value
    x erfc(-x / sqrt 2) / 2 for |x| < 6, and within 4e-6 + 1e-7 x^2 (x^2/2 rounded to float32 in the
    exponential) wherever it is a normal float32 of any size (x > -13)."""
    x = np.linspace(-13, 13, 52001).astype(np.float32)
    with settings.override(numba=True):
        y = F.gelu(cp.Tensor(x)).data
    ref = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in x.astype(np.float64)])
    near = np.abs(x) < 6
    assert np.all(np.abs(y - ref)[near] <= 4e-6 * np.abs(ref[near]) + 1e-38)
    x2 = x.astype(np.float64) ** 2
    assert np.all(np.abs(y - ref) <= (4e-6 + 1e-7 * x2) * np.abs(ref) + 1e-38)


@needs_numba
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPS))
def test_non_finite_and_extremes_as_numpy_path(name, dt):
    x = np.array([np.nan, np.inf, -np.inf, -1e30, 1e30, -200.0, 200.0, -88.0, 88.0, 0.0], dtype=dt)
    gy = np.ones_like(x)
    with np.errstate(all="ignore"):
        (y, gx), (y_ref, gx_ref) = both(OPS[name][0], x, gy)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(y_ref))
    np.testing.assert_allclose(y, y_ref, rtol=1e-6, atol=1e-30)
    np.testing.assert_array_equal(np.isnan(gx), np.isnan(gx_ref))
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-6, atol=1e-30)


# every activation with float32 kernels: (ours, kinks where the exact values of both paths are compared)
MORE = {
    "gelu_tanh": (lambda t: F.gelu(t, approximate="tanh"), []),
    "elu": (lambda t: F.elu(t, 1.7), [0.0]),
    "selu": (F.selu, [0.0]),
    "celu": (lambda t: F.celu(t, 0.6), [0.0]),
    "softplus": (lambda t: F.softplus(t, beta=2.0, threshold=3.0), [1.5]),
    "softplus_neg_beta": (lambda t: F.softplus(t, beta=-0.5), []),
    "mish": (F.mish, []),
    "hardsigmoid": (F.hardsigmoid, [-3.0, 3.0]),
    "hardswish": (F.hardswish, [-3.0, 3.0]),
    "leaky_relu": (lambda t: F.leaky_relu(t, 0.2), [0.0]),
    "leaky_relu_neg": (lambda t: F.leaky_relu(t, -0.3), [0.0]),
    "hardtanh": (lambda t: F.hardtanh(t, -0.5, 1.5), [-0.5, 1.5]),
    "relu6": (F.relu6, [0.0, 6.0]),
    "relu_at_zero": (lambda t: relu_at(t, grad_at_zero=0.5), [0.0, -0.0]),
}


@needs_numba
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(MORE))
def test_more_kernels_match_numpy_path(name, dt):
    """float32 kernels against the NumPy path run in float64 (the NumPy float32 path itself loses
    digits where it cancels, e.g. 1 + tanh(u) of the tanh GELU for x < -4), float64 kernels against
    the NumPy path in float64; gradients at the kinks exactly the NumPy path's in the same dtype."""
    fn, kinks = MORE[name]
    x = np.concatenate([np.linspace(-30, 30, 60001), kinks, [0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0]]).astype(dt)
    gy = randn(x.size, seed=9).astype(dt)
    with settings.override(threads=2, min_chunk_elements=1 << 12):
        (y, gx), (y_ref, gx_ref) = both(fn, x, gy)
        (_, _), (y64, gx64) = both(fn, x.astype(np.float64), gy.astype(np.float64))
    assert y.dtype == gx.dtype == dt
    if dt == np.float32:
        # (atol: the float64 tanh GELU's 1 + tanh(u) is itself only good to ~1e-16 absolute)
        np.testing.assert_allclose(y, y64, rtol=4e-6, atol=1e-15)
        np.testing.assert_allclose(gx, gx64, rtol=4e-6, atol=4e-7)
    else:
        np.testing.assert_allclose(y, y_ref, rtol=1e-15, atol=1e-300)
        np.testing.assert_allclose(gx, gx_ref, rtol=1e-15, atol=1e-300)
    k = slice(60001, 60001 + len(kinks))
    np.testing.assert_array_equal(gx[k], gx_ref[k])


@pytest.mark.parametrize("name", sorted(MORE))
def test_more_kernels_gradcheck_and_torch(path, name):
    check_grad(MORE[name][0], randn(2, 3, 4, seed=6) * 3)


@needs_numba
@pytest.mark.parametrize("name", sorted(MORE))
def test_more_kernels_non_finite_as_numpy_path(name):
    x = np.array([np.nan, np.inf, -np.inf, -1e30, 1e30, -1e4, 1e4, 0.0], dtype=np.float32)
    with np.errstate(all="ignore"):
        (y, gx), (y_ref, gx_ref) = both(MORE[name][0], x, np.ones_like(x))
    np.testing.assert_array_equal(np.isnan(y), np.isnan(y_ref))
    np.testing.assert_allclose(y, y_ref, rtol=1e-6, atol=1e-30)
    fin = np.isfinite(x) & (np.abs(x) < 1e5)  # gradients of +-inf / 1e30: 0 * inf forms differ
    np.testing.assert_allclose(gx[fin], gx_ref[fin], rtol=1e-6, atol=1e-30)


def test_other_dtypes_fall_back():
    """A float16 array (no kernel) still runs through the NumPy path with the switch on."""
    x = np.array([-2.0, -0.5, 0.0, 1.5], dtype=np.float16)
    with settings.override(numba=jit.available()):
        y = F.gelu(cp.Tensor(x)).data
    assert y.dtype == np.float16
    ref = TF.gelu(torch.tensor(x.astype(np.float32))).numpy()
    np.testing.assert_allclose(y.astype(np.float32), ref, rtol=2e-3, atol=1e-3)


# ---------------------------------------------------------------- softmax (compiled over the last axis)

SOFTMAX_CASES = [((7,), 0), ((3, 5), -1), ((3, 5), 0), ((2, 3, 4, 5), -1), ((2, 3, 4, 5), 1), ((4, 65), 1),
                 ((2, 1, 1), -1)]


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("shape,dim", SOFTMAX_CASES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_agrees_with_torch(path, name, shape, dim, split):
    with settings.override(threads=2, min_chunk_elements=1 if split else 10**12):
        a = randn(*shape, seed=len(shape) + 7) * 5
        parity(lambda x: getattr(F, name)(x, dim), lambda x: getattr(torch, name)(x, dim), a,
               dtypes=[np.float32])
        parity(lambda x: getattr(F, name)(x, dim), lambda x: getattr(torch, name)(x, dim), a,
               dtypes=[np.float64], noncontig=True)


@pytest.mark.parametrize("dim", [-1, 1])
def test_softmax_gradcheck(path, dim):
    check_grad(lambda x: F.softmax(x, dim), randn(2, 3, 5, seed=8) * 2)


def test_softmax_zero_dim(path):
    parity(lambda x: F.softmax(x, 0), lambda x: torch.softmax(x, 0), np.array(1.5))


@needs_numba
@pytest.mark.parametrize("dim", [-1, 1, 0])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_compiled_softmax_matches_numpy_path(dt, name, dim):
    x = (randn(30, 11, 77, seed=4) * 20).astype(dt)
    gy = randn(30, 11, 77, seed=5).astype(dt)
    with settings.override(threads=2, min_chunk_elements=1 << 10):
        (y, gx), (y_ref, gx_ref) = both(lambda t: getattr(F, name)(t, dim), x, gy)
    assert y.dtype == gx.dtype == dt
    rtol = 4e-6 if dt == np.float32 else 1e-14
    # float32 softmax: exp below -87.3 (relative to the group's max) is 0 instead of a value under 1.2e-38;
    # log_softmax: log(sum) differs by the sums' rounding, an absolute ulp or so of the order-one terms
    atol = 1e-37 if name == "softmax" else 4e-7 if dt == np.float32 else 2e-15
    np.testing.assert_allclose(y, y_ref, rtol=rtol, atol=atol)
    # (log_softmax: gx = gy - e^y sum(gy), the sum of 77 terms of order one carries ~1e-6 absolute)
    atol = (4e-7 if name == "softmax" else 2e-6) if dt == np.float32 else 1e-14
    np.testing.assert_allclose(gx, gx_ref, rtol=rtol, atol=atol)


@needs_numba
@pytest.mark.parametrize("dim", [-1, 0])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_compiled_softmax_non_finite_groups_fall_back(name, dim):
    """A group with a non-finite maximum (NaN, +-inf) gives what the NumPy path gives."""
    inf, nan = np.inf, np.nan
    x = np.array([[-inf, -inf, -inf], [0.0, -inf, 1.0], [nan, 1.0, 2.0], [1.0, inf, 2.0], [1.0, 2.0, 3.0]])
    x = x if dim == -1 else x.T.copy()
    with np.errstate(all="ignore"):
        (y, gx), (y_ref, gx_ref) = both(lambda t: getattr(F, name)(t, dim), x, np.ones_like(x))
    np.testing.assert_array_equal(np.isnan(y), np.isnan(y_ref))
    np.testing.assert_allclose(y, y_ref, rtol=1e-12)
    np.testing.assert_array_equal(np.isnan(gx), np.isnan(gx_ref))
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-12, atol=1e-15)


@needs_numba
@pytest.mark.parametrize("zero_empty", [False, True])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_compiled_softmax_non_finite_rows_as_numpy_path(dt, zero_empty):
    from cvprimer.functional.activation.softmax import SoftmaxFn

    inf, nan = np.inf, np.nan
    x = np.array([[-inf, -inf, -inf], [0.0, -inf, 1.0], [nan, 1.0, 2.0], [1.0, inf, 2.0],
                  [inf, inf, 0.0], [-inf, nan, -inf], [1e30, -1e30, 0.0], [300.0, 200.0, -1.0],
                  [-1e4, -1e4, -1e4]], dtype=dt)
    gy = np.ones_like(x)
    with np.errstate(all="ignore"):
        (y, gx), (y_ref, gx_ref) = both(lambda t: SoftmaxFn.apply(t, -1, zero_empty), x, gy)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(y_ref))
    np.testing.assert_allclose(y, y_ref, rtol=1e-6, atol=1e-37)
    np.testing.assert_array_equal(np.isnan(gx), np.isnan(gx_ref))
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- the NumPy erf (Cody's rational approximations)

def test_erf_over_blocks_and_in_the_far_tail():
    """erf/erfc of an array longer than one block (the blocked loop and its ragged end), the range
    beyond 4 with its split e^{-a^2}, every sign, and the special values."""
    from cvprimer.functional.activation import _erf

    x = np.concatenate([np.linspace(-27, 27, 3 * _erf._BLOCK + 17), [4.0, -4.0, 0.46875, -0.46875]])
    ref = np.array([math.erf(v) for v in x])
    refc = np.array([math.erfc(v) for v in x])
    assert np.all(np.abs(F.activation.erf(x) - ref) <= 1e-15 * np.abs(ref))
    normal = refc > 2.3e-308
    assert np.all(np.abs(F.activation.erfc(x) - refc)[normal] <= 4e-15 * refc[normal])
    special = np.array([np.inf, -np.inf, np.nan, -0.0, 1e300, -1e300])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is the answer
        e, ec = F.activation.erf(special), F.activation.erfc(special)
    np.testing.assert_array_equal(e, [1.0, -1.0, np.nan, -0.0, 1.0, -1.0])
    assert np.signbit(e[3])
    np.testing.assert_array_equal(ec, [0.0, 2.0, np.nan, 1.0, 0.0, 2.0])
    assert F.activation.erfc(x.astype(np.float32).reshape(-1, 1)).dtype == np.float32
    assert F.activation.erfc(x.reshape(-1, 1)).shape == (x.size, 1)


# ---------------------------------------------------------------- kernels offered to the core sigmoid/tanh/relu

@needs_numba
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_core_op_kernels_match_their_numpy_formulas(dt):
    from cvprimer.functional.activation import _kernels

    x = np.concatenate([np.linspace(-30, 30, 20001), [0.0, -0.0, np.nan, np.inf, -np.inf, 1e30]]).astype(dt)
    gy = randn(x.size, seed=3).astype(dt)
    gy[-6:] = 1.0
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(x))
        s_ref = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(dt)  # core SigmoidFn's forward
        s = _kernels.map_unary("sigmoid", x)
        np.testing.assert_allclose(s, s_ref, rtol=4e-7 if dt == np.float32 else 1e-15, atol=1e-37)
        np.testing.assert_array_equal(_kernels.map_binary("sigmoid", s_ref, gy), gy * s_ref * (1 - s_ref))
        t = np.tanh(x)
        np.testing.assert_array_equal(_kernels.map_binary("tanh", t, gy), gy * (1 - t * t))
        r = np.maximum(x, 0)
        # PyTorch's threshold_backward: zero where y <= 0, so a NaN passes the gradient (issue 29)
        np.testing.assert_array_equal(_kernels.map_binary("relu", r, gy), np.where(r <= 0, 0, gy))
    assert _kernels.map_unary("tanh", x) is None  # no compiled forward: NumPy's


# ---------------------------------------------------------------- prelu

PRELU_CASES = [((2, 3, 4, 5), 3), ((2, 3, 4, 5), 1), ((4, 3), 3), ((6,), 1), ((2, 5, 7), 5)]


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("shape,n", PRELU_CASES)
def test_prelu_both_paths_agree_with_torch(path, shape, n, split):
    with settings.override(threads=2, min_chunk_elements=1 if split else 10**12):
        x, w = randn(*shape, seed=2), np.linspace(-0.4, 0.6, n)
        parity(F.prelu, TF.prelu, x, w, dtypes=[np.float32])
        parity(F.prelu, TF.prelu, x, w, dtypes=[np.float64], noncontig=True)
        check_grad(F.prelu, randn(*shape, seed=3), w)


@needs_numba
@pytest.mark.parametrize("needs", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_compiled_prelu_matches_numpy_path(dt, needs):
    x = randn(8, 6, 9, 11, seed=5).astype(dt)
    x[0, 0, 0, :3] = [0.0, -0.0, np.nan]
    w = np.linspace(-0.5, 0.5, 6).astype(dt)
    gy = randn(*x.shape, seed=6).astype(dt)
    out = []
    for numba in (True, False):
        with settings.override(numba=numba, threads=2, min_chunk_elements=1 << 8):
            xt, wt = cp.Tensor(x, requires_grad=needs[0]), cp.Tensor(w, requires_grad=needs[1])
            y = F.prelu(xt, wt)
            y.backward(cp.Tensor(gy))
            out.append((y.data, None if xt.grad is None else xt.grad.data, None if wt.grad is None else wt.grad.data))
    (y, gx, gw), (y_ref, gx_ref, gw_ref) = out
    np.testing.assert_array_equal(y, y_ref)
    if needs[0]:
        np.testing.assert_array_equal(gx, gx_ref)
    else:
        assert gx is None and gx_ref is None
    if needs[1]:
        assert gw.dtype == dt and np.isnan(gw[0]) and np.isnan(gw_ref[0])  # the NaN input is in channel 0
        np.testing.assert_allclose(gw[1:], gw_ref[1:], rtol=1e-5 if dt == np.float32 else 1e-12)


def test_byte_swapped_arrays_take_the_numpy_path(path):
    x = (randn(3, 4, seed=1) * 3).astype(">f4")
    for fn in (F.gelu, F.silu, F.elu, lambda t: F.softmax(t, -1), lambda t: F.log_softmax(t, 0)):
        y = fn(cp.Tensor(x)).data
        with settings.override(numba=False):
            ref = fn(cp.Tensor(x.astype(np.float32))).data
        np.testing.assert_allclose(y.astype(np.float32), ref, rtol=1e-6, atol=1e-7)
