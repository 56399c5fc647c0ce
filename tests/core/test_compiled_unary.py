"""The core sigmoid / tanh / relu with the compiled kernels that core registers itself
(``core.ops.unary_kernels``, named by the ops' ``kernels`` attribute; nothing above core is imported) and
without them (``settings.numba`` off): the same values and gradients as each other and as PyTorch, on float32
and float64, odd layouts and byte orders."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer.core import jit
from cvprimer.core.ops import unary
from cvprimer.core.settings import settings

NUMBA = [False, True] if jit.available() else [False]
OPS = {"sigmoid": (lambda t: t.sigmoid(), torch.sigmoid), "tanh": (lambda t: t.tanh(), torch.tanh),
       "relu": (lambda t: t.relu(), torch.relu)}


def _run(op, x, gy, numba):
    with settings.override(numba=numba):
        t = cp.tensor(x, requires_grad=True)
        y = OPS[op][0](t)
        y.backward(cp.tensor(gy))
        return y.detach().numpy(), t.grad.numpy()


def test_core_registers_its_own_kernels():
    for cls in (unary.SigmoidFn, unary.TanhFn, unary.ReLUFn):
        assert cls.kernels == "cvprimer.core.ops.unary_kernels"


@pytest.mark.skipif(not jit.available(), reason="numba not installed: no kernels to run")
def test_core_kernels_run_without_functional_imported():
    """In a fresh process that imports only core, sigmoid's forward and backward run core's kernels (spies in
    core's table count the calls) and cvprimer.functional is never imported."""
    code = textwrap.dedent("""
        import sys
        import numpy as np
        import cvprimer as cp
        from cvprimer.core.ops import unary_kernels as k
        from cvprimer.core.settings import settings
        calls = []
        fwd, grad = k.KERNELS["sigmoid"][np.float32]
        k.KERNELS["sigmoid"] = {np.float32: (lambda *a: calls.append("f") or fwd(*a),
                                             lambda *a: calls.append("g") or grad(*a))}
        with settings.override(numba=True, numba_min_elements=0):
            x = cp.tensor(np.linspace(-3, 3, 50, dtype=np.float32), requires_grad=True)
            x.sigmoid().sum().backward()
        print(sorted(set(calls)), "cvprimer.functional" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["['f',", "'g']", "False"]


@pytest.mark.parametrize("numba", NUMBA)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", sorted(OPS))
def test_against_torch(op, dtype, numba):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((7, 33, 5)) * 6).astype(dtype)
    x[0, :4, 0] = [0.0, -0.0, 80.0, -120.0]  # relu's kink, sigmoid's saturated tails
    gy = rng.standard_normal(x.shape).astype(dtype)
    y, gx = _run(op, x, gy, numba)
    xt = torch.tensor(x, requires_grad=True)
    yt = OPS[op][1](xt)
    yt.backward(torch.tensor(gy))
    # float32: NumPy's and PyTorch's tanh differ by an ulp of y ~ 1, which 1 - y^2 turns into ~3e-7 absolute
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(y, yt.detach().numpy(), **tol)
    np.testing.assert_allclose(gx, xt.grad.numpy(), **tol)


@pytest.mark.skipif(not jit.available(), reason="numba not installed: one path only")
@pytest.mark.parametrize("op", sorted(OPS))
def test_compiled_matches_numpy_on_odd_layouts(op):
    rng = np.random.default_rng(4)
    base = rng.standard_normal((6, 10, 9)).astype(np.float32) * 4
    for x in (base[:, ::2, 1:], base.transpose(2, 0, 1), base.astype(">f4"), base[:0]):
        gy = np.ones(x.shape, np.float32)
        y0, g0 = _run(op, x, gy, False)
        y1, g1 = _run(op, x, gy, True)
        np.testing.assert_allclose(y1, y0, rtol=2e-7, atol=1e-7)
        np.testing.assert_array_equal(g1, g0) if op != "sigmoid" else np.testing.assert_allclose(g1, g0, rtol=1e-6,
                                                                                                  atol=1e-7)
        assert y1.dtype == y0.dtype and g1.shape == x.shape


def test_integer_relu_stays_on_numpy():
    t = cp.tensor(np.array([-2, 0, 3]))
    assert t.relu().numpy().tolist() == [0, 0, 3]
