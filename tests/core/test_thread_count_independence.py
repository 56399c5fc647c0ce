"""The same inputs give bit-identical outputs whatever the thread count (issue 27).

The engine's pool cuts a batch into spans that depend on the problem size alone
(``cvprimer.core.pool.spans``), runs them on however many workers there are, and every sum over
spans adds the partials in span order. So forward and backward of the batch-split ops are the same
bits under ``threads=1``, ``2``, ``4`` and the automatic budget (``threads=None``). The spans are made
small (``min_chunk_elements``) so that every op here really is cut into several spans, and each case
checks that it is (a test that could not split could not fail).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.core import jit, pool
from cvprimer.core.settings import settings
from cvprimer.functional.conv._geometry import conv_geometry
from cvprimer.functional.conv._kernels import plan

THREADS = (1, 2, 4, None)
CHUNK = 1 << 11  # elements per span at least: several spans on the small inputs below


def _leaves(arrays: dict[str, np.ndarray]) -> dict[str, cp.Tensor]:
    return {k: cp.tensor(v, requires_grad=True) for k, v in arrays.items()}


def _run(fn: Callable[..., cp.Tensor], arrays: dict[str, np.ndarray], threads: int | None,
         **extra: object) -> dict[str, np.ndarray]:
    """The forward output and every input's gradient of ``(fn(**leaves) * r).sum()`` (r a fixed random
    weighting, so the upstream gradient is not a constant)."""
    with settings.override(threads=threads, min_chunk_elements=CHUNK, **extra):
        t = _leaves(arrays)
        y = fn(**t)
        r = np.random.default_rng(99).standard_normal(y.shape).astype(y.dtype)
        (y * cp.tensor(r)).sum().backward()
        out = {"y": y.data.copy()}
        out.update({f"grad {k}": v.grad.data.copy() for k, v in t.items()})
    return out


def _same_bits_for_every_thread_count(fn: Callable[..., cp.Tensor], arrays: dict[str, np.ndarray],
                                      **extra: object) -> None:
    ref = _run(fn, arrays, 1, **extra)
    for n in THREADS[1:]:
        got = _run(fn, arrays, n, **extra)
        for key, want in ref.items():
            assert np.array_equal(got[key].view(np.uint8), want.view(np.uint8)), (
                f"{key} with threads={n} differs from threads=1 by up to {np.abs(got[key] - want).max():g}")


def _rand(shape: tuple[int, ...], seed: int, dtype: type = np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# (name of the lowering choose() takes, x shape, w shape, stride, padding, groups, settings)
CONV = [
    ("rows", (12, 8, 12, 12), (8, 8, 3, 3), 1, 1, 1, {"numba": False}),
    ("winograd", (12, 8, 12, 12), (8, 8, 3, 3), 1, 1, 1, {"numba": True}),
    ("columns", (12, 3, 12, 12), (8, 3, 3, 3), 1, 1, 1, {}),
    ("s2d", (12, 8, 12, 12), (8, 8, 4, 4), 2, 1, 1, {}),
    ("columns_jit", (12, 16, 12, 12), (8, 16, 3, 3), 2, 1, 1, {"numba": True}),
    ("columns_jit", (12, 6, 14, 14), (16, 6, 5, 5), 1, 0, 1, {"numba": True}),  # stride 1, few channels
    ("strided", (12, 16, 12, 12), (8, 16, 3, 3), 2, 1, 1, {"conv_strided_jit": False}),
    ("phases", (12, 16, 12, 12), (8, 16, 3, 3), 2, 1, 1, {"conv_keep_cols_bytes": 0}),
    ("columns", (12, 8, 12, 12), (8, 8, 3, 3), 2, 1, 1, {"conv_s2d": False, "conv_phases": False}),
    ("columns_one_gemm", (24, 8, 6, 6), (8, 8, 3, 3), 2, 1, 1, {"conv_strided_jit": False}),
    ("columns", (12, 16, 12, 12), (8, 4, 1, 1), 1, 0, 4, {}),  # grouped pointwise
    ("depthwise", (12, 8, 12, 12), (8, 1, 3, 3), 1, 1, 8, {"numba": False}),
    ("depthwise_jit", (12, 8, 12, 12), (8, 1, 3, 3), 2, 1, 8, {"numba": True}),
]


@pytest.mark.parametrize("name,xs,ws,stride,padding,groups,extra", CONV, ids=[c[0] for c in CONV])
def test_conv2d_forward_and_gradients_do_not_depend_on_the_thread_count(name, xs, ws, stride, padding, groups,
                                                                           extra):
    if extra.get("numba") and not jit.available():
        pytest.skip("numba not installed")
    with settings.override(**extra):
        g = conv_geometry("conv2d", xs[2:], ws[2:], stride, padding, 1, groups)
        assert plan(xs, ws, g, 4).name == name
    with settings.override(min_chunk_elements=CHUNK):  # really split
        assert len(pool.spans(xs[0], int(np.prod(xs[1:])) * ws[2] * ws[3])) > 1
    arrays = {"x": _rand(xs, 0), "w": _rand(ws, 1), "b": _rand(ws[:1], 2)}
    _same_bits_for_every_thread_count(
        lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding, groups=groups), arrays, **extra)


@pytest.mark.parametrize("numba", [False, True])
def test_pooling_softmax_attention_and_norms_do_not_depend_on_the_thread_count(numba):
    if numba and not jit.available():
        pytest.skip("numba not installed")
    x = _rand((16, 8, 16, 16), 3)
    with settings.override(min_chunk_elements=CHUNK):
        assert len(pool.spans(16, 8 * 16 * 16)) > 1
    cases: list[tuple[Callable[..., cp.Tensor], dict[str, np.ndarray]]] = [
        (lambda x: F.max_pool2d(x, 3, 2, 1), {"x": x}),
        (lambda x: F.softmax(x, dim=1), {"x": x}),
        (lambda x: F.log_softmax(x.reshape(16 * 8 * 16, 16), dim=-1), {"x": x}),
        (lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
         {"q": _rand((16, 4, 32, 16), 4), "k": _rand((16, 4, 32, 16), 5), "v": _rand((16, 4, 32, 16), 6)}),
        (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
         {"x": x, "w": _rand((8,), 7), "b": _rand((8,), 8)}),
        (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),  # long planes: the per-channel layout
         {"x": _rand((16, 8, 24, 24), 9), "w": _rand((8,), 7), "b": _rand((8,), 8)}),
        (lambda x, w, b: F.group_norm(x, 2, w, b), {"x": x, "w": _rand((8,), 10), "b": _rand((8,), 11)}),
        (lambda x, w, b: F.layer_norm(x, (16,), w, b), {"x": x, "w": _rand((16,), 12), "b": _rand((16,), 13)}),
    ]
    for fn, arrays in cases:
        _same_bits_for_every_thread_count(fn, arrays, numba=numba)


def test_a_resnet_block_step_does_not_depend_on_the_thread_count():
    """A few layers end to end (conv, batch norm, relu, a strided conv, pooling): the parameters' gradients."""
    from cvprimer import nn

    def build() -> nn.Module:
        cp.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                             nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 4 * 4, 10))

    x = _rand((32, 3, 16, 16), 20)
    grads = {}
    for n in THREADS:
        with settings.override(threads=n, min_chunk_elements=CHUNK):
            m = build()
            F.cross_entropy(m(cp.tensor(x)), cp.tensor(np.arange(32) % 10)).backward()
            grads[n] = [p.grad.data.copy() for p in m.parameters()]
    for n in THREADS[1:]:
        for a, b in zip(grads[1], grads[n], strict=True):
            assert np.array_equal(a, b), f"threads={n}: a gradient differs from threads=1"


def test_linear_does_not_depend_on_the_thread_count():
    """F.linear's three GEMMs are cut over the longer side of their output by the pool (core.pool.gemm): same bits with
    1, 2, 4 threads and the automatic budget, 2-D and 3-D (ViT-like) inputs."""
    for xs in ((64, 48), (4, 16, 48)):
        m = int(np.prod(xs[:-1]))
        with settings.override(min_chunk_elements=CHUNK):
            assert len(pool.spans(m, 48 * 40, pool.GEMM_SPANS)) > 1  # the forward and the input gradient split
            assert len(pool.spans(48, 40 * m, pool.GEMM_SPANS)) > 1  # the weight gradient (40, 48): its columns
        _same_bits_for_every_thread_count(lambda x, w, b: F.linear(x, w, b),
                                          {"x": _rand(xs, 14), "w": _rand((40, 48), 15), "b": _rand((40,), 16)})
