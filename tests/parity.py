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


def assert_no_worse_than_torch(ours: np.ndarray, ref32: np.ndarray, ref64: np.ndarray, what: str) -> None:
    """float32 elementwise check against the float64 truth, for tensors whose magnitudes differ widely.

    The scaled tolerance of :func:`assert_close` lets an element far below the tensor's largest magnitude be
    wrong by more than its own size. Here, for every element at least ``1e-4 x`` the largest, our error
    against the float64 reference (PyTorch on the same float32 inputs, computed in float64) must stay within
    ``4 x`` PyTorch's own float32 error on that element, plus ``4 x`` PyTorch's 90th-percentile error over the
    tensor (the rounding level of the computation, e.g. under cancellation), plus ``1e-3`` of the value.
    """
    truth = np.asarray(ref64, dtype=np.float64)
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(ref32, dtype=np.float64)
    fin = np.isfinite(truth) & np.isfinite(ours) & np.isfinite(theirs)
    if not fin.any():
        return
    top = float(np.abs(truth[fin]).max())
    sel = fin & (np.abs(truth) >= 1e-4 * top)
    if not sel.any():
        return
    e_ours = np.abs(ours[sel] - truth[sel])
    e_torch = np.abs(theirs[sel] - truth[sel])
    lim = 4 * e_torch + 4 * float(np.quantile(e_torch, 0.9)) + 1e-3 * np.abs(truth[sel])
    if not (e_ours <= lim).all():
        k = int(np.argmax(e_ours - lim))
        raise AssertionError(
            f"{what}: element error {e_ours[k]:.3g} vs the float64 truth exceeds {lim[k]:.3g} (ours "
            f"{ours[sel][k]!r}, torch float32 {theirs[sel][k]!r}, truth {truth[sel][k]!r}, largest |truth| "
            f"{top:.3g}); {int((e_ours > lim).sum())} of {e_ours.size} elements off")


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
        cps, ths, th64, tracked = [], [], [], []
        for i, a in enumerate(arrays):
            if isinstance(a, np.ndarray):
                floating = a.dtype.kind == "f"
                arr = a.astype(dtype) if floating else a
                if noncontig and floating:
                    arr = noncontiguous(arr)
                rg = grad and floating and (requires_grad is None or requires_grad[i])
                cps.append(cp.Tensor(arr, requires_grad=rg))
                ths.append(torch.from_numpy(np.array(arr) if not noncontig else arr).requires_grad_(rg))
                th64.append(torch.from_numpy(np.array(arr, dtype=np.float64) if floating else np.array(arr))
                            .requires_grad_(rg))
                if rg:
                    tracked.append(i)
            else:
                cps.append(a)
                ths.append(a)
                th64.append(a)
        out_c = _outs(ours(*cps))
        out_t = _outs(theirs(*ths))
        # float32: the float64 truth on the same (float32-rounded) inputs, for the elementwise check
        out_64 = _outs(theirs(*th64)) if dtype == np.float32 else None
        assert len(out_c) == len(out_t), f"{len(out_c)} outputs vs PyTorch's {len(out_t)}"
        for k, (oc, ot) in enumerate(zip(out_c, out_t, strict=True)):
            assert isinstance(oc, cp.Tensor), f"output {k} is {type(oc).__name__}, expected cp.Tensor"
            assert oc.dtype == np.dtype(str(ot.dtype).replace("torch.", "")), (
                f"output {k} dtype {oc.dtype} != PyTorch's {ot.dtype}"
            )
            assert oc.requires_grad == ot.requires_grad, (
                f"[{dtype}] output {k}: requires_grad {oc.requires_grad} != PyTorch's {ot.requires_grad}"
            )
            assert_close(oc.data, ot.detach().numpy(), f"[{dtype}] output {k}", **tol)
            if out_64 is not None and oc.dtype.kind == "f":
                assert_no_worse_than_torch(oc.data, ot.detach().numpy(), out_64[k].detach().numpy(),
                                           f"[{dtype}] output {k}")
        if not tracked:
            continue
        rng = np.random.default_rng(seed)
        live = [(oc, ot) for oc, ot in zip(out_c, out_t, strict=True) if oc.requires_grad]
        assert live, "no output requires grad although inputs do"
        gs = [rng.standard_normal(oc.shape).astype(oc.dtype) for oc, _ in live]
        run_backward([oc for oc, _ in live], gs)
        torch.autograd.backward([ot for _, ot in live], [torch.from_numpy(g.copy()) for g in gs])
        if out_64 is not None:
            live64 = [o for o, oc in zip(out_64, out_c, strict=True) if oc.requires_grad]
            torch.autograd.backward(live64, [torch.from_numpy(g.astype(np.float64)) for g in gs])
        for i in tracked:
            gc, gt = cps[i].grad, ths[i].grad
            if gt is None:
                assert gc is None or not np.any(gc.data), f"[{dtype}] input {i}: PyTorch has no grad"
                continue
            assert gc is not None, f"[{dtype}] input {i}: no gradient from cvprimer"
            assert gc.dtype == cps[i].dtype, f"[{dtype}] input {i}: grad dtype {gc.dtype}"
            assert_close(gc.data, gt.numpy(), f"[{dtype}] grad of input {i}", **tol)
            if out_64 is not None and th64[i].grad is not None:
                assert_no_worse_than_torch(gc.data, gt.numpy(), th64[i].grad.numpy(), f"[{dtype}] grad of input {i}")


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
