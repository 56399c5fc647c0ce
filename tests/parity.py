"""The PyTorch parity harness every op test uses (tinygrad's style: one call per case).

``parity(ours, theirs, *arrays)`` runs the same computation through cvprimer and PyTorch on
the same inputs, for each dtype, and compares the forward outputs and the gradient of every
floating input (with a random upstream gradient, not ones, so errors cannot cancel in a sum).

Tolerances, stated once per dtype (``TOL``): an element passes when
``|ours - torch| <= atol * scale + rtol * |torch|`` with ``scale = max(1, max|torch|)``, so the
absolute part grows with the magnitude of the tensor (long float32 sums round at that scale).
An op whose float32 error is larger by nature (e.g. long reductions) passes its own
``rtol``/``atol`` with a comment saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

import cvprimer as cp
from cvprimer.core.function import run_backward

torch.set_num_threads(1)

TOL = {
    np.dtype(np.float32): dict(rtol=1e-4, atol=1e-5),
    np.dtype(np.float64): dict(rtol=1e-9, atol=1e-11),
}
DTYPES = (np.float32, np.float64)


def noncontiguous(a: np.ndarray) -> np.ndarray:
    """The same values as ``a`` in a strided (non-contiguous) view."""
    if a.ndim == 0:
        return a
    big = np.zeros(a.shape[:-1] + (a.shape[-1] * 2,), a.dtype)
    view = big[..., ::2]
    view[...] = a
    return view


def _outs(o: Any) -> list[Any]:
    return list(o) if isinstance(o, (tuple, list)) else [o]


def assert_close(ours: np.ndarray, ref: np.ndarray, what: str, rtol: float, atol: float) -> None:
    ours = np.asarray(ours)
    ref = np.asarray(ref)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != PyTorch's {ref.shape}"
    if ref.dtype.kind == "b" or ref.dtype.kind in "iu":
        np.testing.assert_array_equal(ours, ref, err_msg=what)
        return
    scale = max(1.0, float(np.max(np.abs(ref[np.isfinite(ref)]), initial=0.0)))
    same_nonfinite = np.array_equal(np.isnan(ours), np.isnan(ref)) and np.array_equal(
        np.where(np.isinf(ref), ref, 0), np.where(np.isinf(ours), ours, 0)
    )
    assert same_nonfinite, f"{what}: NaN/Inf pattern differs from PyTorch's"
    fin = np.isfinite(ref)
    err = np.abs(ours[fin].astype(np.float64) - ref[fin].astype(np.float64))
    lim = atol * scale + rtol * np.abs(ref[fin].astype(np.float64))
    if err.size and not (err <= lim).all():
        k = int(np.argmax(err - lim))
        raise AssertionError(
            f"{what}: max violation at flat index {k}: ours {ours[fin][k]!r} vs torch {ref[fin][k]!r} "
            f"(|diff| {err[k]:.3g} > {lim[k]:.3g}; rtol={rtol}, atol={atol}, scale={scale:.3g}); "
            f"{int((err > lim).sum())} of {err.size} elements off"
        )


def parity(
    ours: Callable[..., Any],
    theirs: Callable[..., Any],
    *arrays: Any,
    requires_grad: Sequence[bool] | None = None,
    dtypes: Sequence[Any] = DTYPES,
    rtol: float | None = None,
    atol: float | None = None,
    noncontig: bool = False,
    grad: bool = True,
    seed: int = 0,
) -> None:
    """Compare ``ours(*cp_tensors)`` with ``theirs(*torch_tensors)``: outputs and input grads.

    ``arrays`` are NumPy arrays (floating ones are cast to each dtype in ``dtypes``; integer
    and boolean ones pass unchanged) or plain Python values passed to both functions as is.
    ``requires_grad[i]`` selects which floating inputs get gradients (default: all).
    """
    for dtype in dtypes:
        dtype = np.dtype(dtype)
        tol = dict(TOL[dtype])
        if rtol is not None:
            tol["rtol"] = rtol
        if atol is not None:
            tol["atol"] = atol
        cps, ths, tracked = [], [], []
        for i, a in enumerate(arrays):
            if isinstance(a, np.ndarray):
                floating = a.dtype.kind == "f"
                arr = a.astype(dtype) if floating else a
                if noncontig and floating:
                    arr = noncontiguous(arr)
                rg = grad and floating and (requires_grad is None or requires_grad[i])
                cps.append(cp.Tensor(arr, requires_grad=rg))
                ths.append(torch.from_numpy(np.array(arr) if not noncontig else arr).requires_grad_(rg))
                if rg:
                    tracked.append(i)
            else:
                cps.append(a)
                ths.append(a)
        out_c = _outs(ours(*cps))
        out_t = _outs(theirs(*ths))
        assert len(out_c) == len(out_t), f"{len(out_c)} outputs vs PyTorch's {len(out_t)}"
        for k, (oc, ot) in enumerate(zip(out_c, out_t, strict=True)):
            assert isinstance(oc, cp.Tensor), f"output {k} is {type(oc).__name__}, expected cp.Tensor"
            assert oc.dtype == np.dtype(str(ot.dtype).replace("torch.", "")), (
                f"output {k} dtype {oc.dtype} != PyTorch's {ot.dtype}"
            )
            assert_close(oc.data, ot.detach().numpy(), f"[{dtype}] output {k}", **tol)
        if not tracked:
            continue
        rng = np.random.default_rng(seed)
        live = [(oc, ot) for oc, ot in zip(out_c, out_t, strict=True) if oc.requires_grad]
        assert live, "no output requires grad although inputs do"
        gs = [rng.standard_normal(oc.shape).astype(oc.dtype) for oc, _ in live]
        run_backward([oc for oc, _ in live], gs)
        torch.autograd.backward([ot for _, ot in live], [torch.from_numpy(g.copy()) for g in gs])
        for i in tracked:
            gc, gt = cps[i].grad, ths[i].grad
            if gt is None:
                assert gc is None or not np.any(gc.data), f"[{dtype}] input {i}: PyTorch has no grad"
                continue
            assert gc is not None, f"[{dtype}] input {i}: no gradient from cvprimer"
            assert gc.dtype == cps[i].dtype, f"[{dtype}] input {i}: grad dtype {gc.dtype}"
            assert_close(gc.data, gt.numpy(), f"[{dtype}] grad of input {i}", **tol)


def check_grad(fn: Callable[..., Any], *arrays: Any, requires_grad: Sequence[bool] | None = None,
               **kw: Any) -> None:
    """float64 ``cp.gradcheck`` of ``fn`` on the given arrays (floating ones get requires_grad)."""
    ts = []
    for i, a in enumerate(arrays):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            rg = requires_grad is None or requires_grad[i]
            ts.append(cp.Tensor(a.astype(np.float64), requires_grad=rg))
        elif isinstance(a, np.ndarray):
            ts.append(cp.Tensor(a))
        else:
            ts.append(a)
    assert cp.gradcheck(fn, ts, **kw)


def randn(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def away_from_zero(*shape: int, seed: int = 0, gap: float = 0.1) -> np.ndarray:
    """Normal samples pushed at least ``gap`` away from 0 (for kinks at 0: relu, abs, sign)."""
    a = randn(*shape, seed=seed)
    return np.where(a >= 0, a + gap, a - gap)


def distinct(*shape: int, seed: int = 0) -> np.ndarray:
    """Values without ties (a shuffled, spaced range plus jitter): for max/min/sort tests."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.37 + rng.uniform(0, 0.1, n) - n * 0.18).reshape(shape)
