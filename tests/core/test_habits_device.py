"""Devices, dtypes, ``to``, ``inference_mode`` and NumPy's reductions on tensors (issue 26), each compared with
PyTorch in the same test."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import cvprimer as cp


def test_device_spellings_match_torch() -> None:
    for spec in ("cpu", "cpu:0"):
        d, td = cp.device(spec), torch.device(spec)
        assert (str(d), repr(d), d.type, d.index) == (str(td), repr(td), td.type, td.index)
    assert cp.device("cpu", 0) == cp.device("cpu:0") and torch.device("cpu", 0) == torch.device("cpu:0")
    assert cp.device(cp.device("cpu")) == cp.device("cpu")
    assert (cp.device("cpu") == cp.device("cpu:0")) is (torch.device("cpu") == torch.device("cpu:0"))
    assert len({cp.device("cpu"), cp.device("cpu")}) == 1
    x, tx = cp.tensor([1.0]), torch.tensor([1.0])
    assert x.device == cp.device("cpu") and str(x.device) == str(tx.device) and x.is_cuda is tx.is_cuda is False


@pytest.mark.parametrize("spec", ["cuda", "cuda:1", "mps", "xla"])
def test_other_devices_are_refused_in_one_line(spec: str) -> None:
    with pytest.raises(RuntimeError, match=f"'{spec}' is not available: cvprimer computes with NumPy on the CPU"):
        cp.device(spec)
    with pytest.raises(RuntimeError, match="not available"):
        cp.tensor([1.0]).to(spec)
    with pytest.raises(RuntimeError, match="device type at start of device string"):
        cp.device("gpu")
    with pytest.raises(RuntimeError, match="CPU only"):
        cp.tensor([1.0]).cuda()


def test_cuda_queries_match_a_machine_without_cuda() -> None:
    assert cp.cuda.is_available() is False and cp.cuda.device_count() == 0
    cp.cuda.manual_seed_all(0)  # does nothing, as torch's does without CUDA
    device = "cuda" if cp.cuda.is_available() else "cpu"  # the PyTorch idiom runs unchanged
    assert cp.zeros(2).to(device).device == cp.device("cpu")


def test_dtype_names_are_numpy_dtypes_with_torch_spellings() -> None:
    pairs = [(cp.float32, torch.float32), (cp.float64, torch.float64), (cp.float16, torch.float16),
             (cp.int64, torch.int64), (cp.int32, torch.int32), (cp.int8, torch.int8), (cp.uint8, torch.uint8),
             (cp.bool, torch.bool), (cp.float, torch.float), (cp.double, torch.double), (cp.long, torch.long),
             (cp.int, torch.int), (cp.half, torch.half), (cp.short, torch.short)]
    for mine, theirs in pairs:
        assert isinstance(mine, np.dtype)
        assert mine.name == str(theirs).removeprefix("torch.") and mine.itemsize == theirs.itemsize
        assert cp.zeros(2, dtype=mine).dtype == mine
    assert cp.ones(2).dtype == cp.float32 and cp.float64 == np.float64


def test_to_overloads_match_torch_values_dtypes_and_gradients() -> None:
    a = np.array([0.5, -1.25, 2.0], dtype=np.float32)
    x, tx = cp.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    other, tother = cp.zeros(1, dtype=cp.float64), torch.zeros(1, dtype=torch.float64)
    calls = [
        (lambda t, lib, o: t.to(lib.float64)),
        (lambda t, lib, o: t.to("cpu", lib.float64)),
        (lambda t, lib, o: t.to(device="cpu", dtype=lib.float64)),
        (lambda t, lib, o: t.to(lib.device("cpu"), dtype=lib.float64)),
        (lambda t, lib, o: t.to(o)),
        (lambda t, lib, o: t.double()),
    ]
    for call in calls:
        x.grad, tx.grad = None, None
        y, ty = call(x, cp, other), call(tx, torch, tother)
        assert y.dtype == np.float64 and ty.dtype == torch.float64
        np.testing.assert_array_equal(y.data, ty.detach().numpy())
        (y * y * y).sum().backward()
        (ty * ty * ty).sum().backward()
        assert x.grad.dtype == np.float32
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    for same in (lambda t, lib: t.to("cpu"), lambda t, lib: t.to(lib.float32), lambda t, lib: t.cpu(),
                 lambda t, lib: t.float(), lambda t, lib: t.to(lib.device("cpu"))):
        assert same(x, cp) is x and same(tx, torch) is tx  # nothing changes: the tensor itself
    c, tc = x.to("cpu", copy=True), tx.to("cpu", copy=True)
    assert c is not x and tc is not tx and c.requires_grad and tc.requires_grad
    assert x.to(np.float64).dtype == x.to("float64").dtype == np.float64
    assert x.detach().long().dtype == cp.int64 and (x > 0).int().dtype == cp.int32
    assert cp.tensor([0.0, 2.0]).bool().dtype == np.bool_
    np.testing.assert_array_equal(cp.tensor([0.0, 2.0]).bool().numpy(), torch.tensor([0.0, 2.0]).bool().numpy())
    with pytest.raises(TypeError, match="neither a device"):
        x.to(3.5)


def test_numpy_reductions_on_tensors_match_numpy() -> None:
    rng = np.random.default_rng(3)
    p, y = rng.integers(0, 3, 40), rng.integers(0, 3, 40)
    acc = np.mean(cp.tensor(p) == cp.tensor(y))
    assert isinstance(acc, cp.Tensor) and acc.dtype == np.float32
    assert abs(acc.item() - np.mean(p == y)) < 1e-7 and 0 < acc.item() < 1
    hits, thits = (cp.tensor(p) == cp.tensor(y)).sum(), (torch.tensor(p) == torch.tensor(y)).sum()
    assert hits.item() == thits.item() and hits.dtype == np.int64 and thits.dtype == torch.int64
    assert np.sum(cp.tensor(p) == cp.tensor(y)).item() == int(np.sum(p == y))
    x = rng.standard_normal((3, 4)).astype(np.float32)
    m, tm = cp.tensor(x).mean(dtype=cp.float64), torch.tensor(x).mean(dtype=torch.float64)
    assert m.dtype == np.float64 and abs(m.item() - tm.item()) < 1e-12
    with pytest.raises(TypeError, match="out= is not supported"):
        np.mean(cp.tensor(x), out=np.zeros(()))


def test_inference_mode_matches_torch() -> None:
    w, tw = cp.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    for lib, t in ((cp, w), (torch, tw)):
        with lib.inference_mode():
            y = t * 2
            assert lib.is_inference_mode_enabled() and not lib.is_grad_enabled()
            with lib.inference_mode(False):
                z = t * 2
                assert not lib.is_inference_mode_enabled() and lib.is_grad_enabled()
        assert not y.requires_grad and y.grad_fn is None and z.requires_grad
        assert not lib.is_inference_mode_enabled() and lib.is_grad_enabled()

        @lib.inference_mode()
        def called(a):
            return a * 2

        @lib.inference_mode
        def bare(a):
            return a * 2

        assert not called(t).requires_grad and not bare(t).requires_grad and bare.__name__ == "bare"


def test_inference_mode_is_per_thread() -> None:
    seen = []
    started, release = threading.Event(), threading.Event()

    def worker() -> None:
        started.set()
        release.wait(5)
        seen.append((cp.is_inference_mode_enabled(), cp.is_grad_enabled()))

    th = threading.Thread(target=worker)
    th.start()
    started.wait(5)
    with cp.inference_mode():
        release.set()
        th.join(5)
    assert seen == [(False, True)]


def test_module_to_cpu_float_double_match_torch() -> None:
    from cvprimer import nn, optim

    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3))
    m = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    tm = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    tm.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in m.state_dict().items()})
    opt = optim.SGD(m.parameters(), lr=0.1)
    c = rng.standard_normal((4, 2))  # a weighted sum: a plain sum of a batch norm's output has zero gradient
    (m(cp.tensor(x, dtype=cp.float32)) * cp.tensor(c, dtype=cp.float32)).sum().backward()
    (tm(torch.tensor(x, dtype=torch.float32)) * torch.tensor(c, dtype=torch.float32)).sum().backward()
    weight = m[0].weight
    for lib, mod in ((cp, m), (torch, tm)):
        assert mod.to(lib.device("cpu")) is mod and mod.cpu() is mod and mod.to("cpu") is mod
        assert mod.to("cpu", lib.float64) is mod
    assert m[0].weight is weight  # the same Parameter objects: the optimizer still holds them
    for (name, p), (_, tp) in zip(m.named_parameters(), tm.named_parameters(), strict=True):
        assert p.dtype == np.float64 and tp.dtype == torch.float64, name
        assert p.grad.dtype == np.float64 and tp.grad.dtype == torch.float64, name  # gradients cast too
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-6)
        assert name == "0.bias" or np.abs(tp.grad.numpy()).max() > 1e-2, name  # (a bias before BN: 0)
    assert m[1].running_var.dtype == np.float64 and tm[1].running_var.dtype == torch.float64
    assert m[1].num_batches_tracked.dtype == np.int64 and tm[1].num_batches_tracked.dtype == torch.int64
    opt.step()  # the optimizer steps the cast parameters
    y, ty = m(cp.tensor(x)), tm(torch.tensor(x))
    assert y.dtype == np.float64 and ty.dtype == torch.float64
    m.float()
    tm.float()
    assert m[0].weight.dtype == np.float32 and tm[0].weight.dtype == torch.float32
    m.double()
    tm.double()
    assert m[0].bias.dtype == np.float64 and tm[0].bias.dtype == torch.float64
    with pytest.raises(TypeError, match="only accepts floating point or complex dtypes"):
        tm.to(torch.int64)
    with pytest.raises(TypeError, match="only accepts floating point or complex dtypes"):
        m.to(cp.int64)
    with pytest.raises(RuntimeError, match="not available"):
        m.to("cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        m.cuda()


def test_factories_take_device_like_torch() -> None:
    dev, tdev = cp.device("cpu"), torch.device("cpu")
    pairs = [
        (cp.zeros(2, 3, device=dev), torch.zeros(2, 3, device=tdev)),
        (cp.ones(2, device="cpu"), torch.ones(2, device="cpu")),
        (cp.full((2,), 1.5, device=dev), torch.full((2,), 1.5, device=tdev)),
        (cp.arange(5, device=dev), torch.arange(5, device=tdev)),
        (cp.eye(3, device=dev), torch.eye(3, device=tdev)),
        (cp.linspace(0, 1, 5, device=dev), torch.linspace(0, 1, 5, device=tdev)),
        (cp.tensor([1.0, 2.0], device=dev), torch.tensor([1.0, 2.0], device=tdev)),
        (cp.as_tensor(np.ones(2), device=dev), torch.as_tensor(np.ones(2), device=tdev)),
        (cp.zeros_like(cp.ones(2), device=dev), torch.zeros_like(torch.ones(2), device=tdev)),
    ]
    for mine, theirs in pairs:
        assert mine.device == dev and str(theirs.device) == "cpu"
        assert mine.dtype.name == str(theirs.dtype).removeprefix("torch.")
        np.testing.assert_allclose(mine.data, theirs.numpy(), rtol=1e-6)
    assert cp.randn(2, 3, device=dev).shape == tuple(torch.randn(2, 3, device=tdev).shape)
    with pytest.raises(RuntimeError, match="zeros: device: 'cuda' is not available"):
        cp.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="tensor: device: 'cuda:0' is not available"):
        cp.tensor([1.0], device="cuda:0")


def test_new_factories_and_dtype_queries_match_torch() -> None:
    x, tx = cp.tensor([1.5, 2.5], dtype=cp.float64), torch.tensor([1.5, 2.5], dtype=torch.float64)
    pairs = [
        (x.new_zeros(2, 3), tx.new_zeros(2, 3)), (x.new_ones((3,)), tx.new_ones((3,))),
        (x.new_full((2,), 7.0), tx.new_full((2,), 7.0)), (x.new_tensor([1, 2]), tx.new_tensor([1, 2])),
        (x.new_zeros(2, dtype=cp.int64), tx.new_zeros(2, dtype=torch.int64)),
        (x.new_empty(4).new_zeros(1), tx.new_empty(4).new_zeros(1)),
        (cp.tensor([1, 2]).type_as(x), torch.tensor([1, 2]).type_as(tx)),
    ]
    for mine, theirs in pairs:
        assert mine.dtype.name == str(theirs.dtype).removeprefix("torch.") and mine.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
        assert not mine.requires_grad and not theirs.requires_grad
    assert x.new_ones(2, requires_grad=True).requires_grad
    for t, tt in ((x, tx), (cp.tensor([1]), torch.tensor([1])), (cp.zeros(3), torch.zeros(3))):
        assert t.is_floating_point() is tt.is_floating_point()
        assert t.element_size() == tt.element_size() and t.nelement() == tt.nelement()
    w, tw = cp.tensor([0.5, 2.0], requires_grad=True), torch.tensor([0.5, 2.0], requires_grad=True)
    (w.type_as(x) ** 2).sum().backward()
    (tw.type_as(tx) ** 2).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy())
    with pytest.raises(RuntimeError, match="Tensor.new_zeros: device: 'cuda' is not available"):
        x.new_zeros(2, device="cuda")
