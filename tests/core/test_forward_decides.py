"""The forward decides once and the backward keeps to it: every op with a settings-dependent path gives the same
gradients when the backward runs under other settings than its forward (the graph node carries the settings its
forward saw), and the grad / anomaly / shape-only modes are thread-local like PyTorch's."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.core import jit
from cvprimer.core.settings import settings

rng = np.random.default_rng(0)


def _x(*shape):
    return rng.standard_normal(shape).astype(np.float32)


# (name, op, input shapes, settings for the forward, other settings for the backward); each pair sends the two
# passes down different paths where the op has them (lowerings, layouts, compiled or NumPy kernels)
NUMBA = jit.available()
FLIP = dict(numba=False) if NUMBA else {}
CASES = [
    ("conv2d rows vs columns", lambda x, w: F.conv2d(x, w, padding=1), [(2, 4, 8, 8), (5, 4, 3, 3)],
     dict(conv_cols_below=0), dict(conv_cols_below=64)),
    ("conv2d strided vs phases", lambda x, w: F.conv2d(x, w, stride=2, padding=1), [(2, 16, 8, 8), (8, 16, 3, 3)],
     dict(conv_phases=True, conv_s2d=False, conv_phases_grad_input_from=1),
     dict(conv_phases=False, conv_keep_cols_bytes=0)),
    ("conv2d s2d vs columns", lambda x, w: F.conv2d(x, w, stride=2), [(2, 3, 8, 8), (4, 3, 4, 4)],
     dict(conv_s2d=True), dict(conv_s2d=False, conv_phases=False)),
    ("conv2d one GEMM vs per image", lambda x, w: F.conv2d(x, w), [(3, 8, 2, 2), (4, 8, 1, 1)],
     dict(conv_one_gemm_below=16), dict(conv_one_gemm_below=0)),
    ("conv2d split vs whole batch", lambda x, w: F.conv2d(x, w, padding=1), [(4, 4, 6, 6), (4, 4, 3, 3)],
     dict(threads=2, min_chunk_elements=1), dict(threads=1)),
    ("depthwise", lambda x, w: F.conv2d(x, w, padding=1, groups=4), [(2, 4, 6, 6), (4, 1, 3, 3)],
     {}, FLIP),
    ("conv_transpose2d", lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1), [(2, 4, 5, 5), (4, 3, 3, 3)],
     dict(conv_phases=True), dict(conv_phases=False, conv_cols_below=0)),
    ("batch_norm cols vs sets", lambda x: F.batch_norm(x, None, None, training=True), [(4, 3, 2, 2)],
     dict(norm_cols_max_length=64), dict(norm_cols_max_length=0, **FLIP)),
    ("group_norm rows vs sets", lambda x: F.group_norm(x, 2), [(2, 4, 3, 3)],
     dict(norm_rows_max_length=64), dict(norm_rows_max_length=0, **FLIP)),
    ("instance_norm", lambda x: F.instance_norm(x), [(2, 3, 4, 4)], {}, FLIP),
    ("layer_norm", lambda x: F.layer_norm(x, (6,)), [(3, 4, 6)], {}, FLIP),
    ("max_pool2d", lambda x: F.max_pool2d(x, 2), [(2, 3, 6, 6)], {}, FLIP),
    ("relu", lambda x: F.relu(x), [(5, 7)], dict(numba_min_elements=0), dict(numba_min_elements=10**9, **FLIP)),
    ("softmax", lambda x: F.softmax(x, dim=1), [(3, 5, 4)], dict(numba_min_elements=0),
     dict(numba_min_elements=10**9, **FLIP)),
    ("gelu", lambda x: F.gelu(x), [(4, 6)], {}, FLIP),
]


@pytest.mark.parametrize("name,op,shapes,fwd,bwd", CASES, ids=[c[0] for c in CASES])
def test_backward_under_other_settings_gives_the_forward_paths_gradients(name, op, shapes, fwd, bwd):
    arrays = [_x(*s) for s in shapes]
    gy = None

    def grads(bwd_settings):
        nonlocal gy
        ts = [cp.tensor(a, requires_grad=True) for a in arrays]
        with settings.override(**fwd):
            y = op(*ts)
        if gy is None:
            gy = _x(*y.shape)
        with settings.override(**bwd_settings):
            y.backward(cp.tensor(gy))
        return [t.grad.numpy() for t in ts]

    same, other = grads(fwd), grads(bwd)
    for a, b in zip(same, other, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_issue_repro_numpy_path():
    """conv2d forward on the shifted-GEMM rows, backward asked for the im2col columns: it used to crash."""
    x = cp.tensor(_x(2, 4, 8, 8), requires_grad=True)
    w = cp.tensor(_x(5, 4, 3, 3), requires_grad=True)
    with settings.override(numba=False):
        y = F.conv2d(x, w, padding=1)
    with settings.override(conv_cols_below=64, numba=False):
        y.sum().backward()
    assert w.grad.shape == (5, 4, 3, 3) and x.grad.shape == (2, 4, 8, 8)


def test_grad_mode_is_thread_local():
    seen = {}
    x = cp.tensor(_x(3), requires_grad=True)

    def other():
        seen["enabled"] = cp.is_grad_enabled()
        seen["records"] = (x * 2).requires_grad

    with cp.no_grad():
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert not cp.is_grad_enabled() and not (x * 2).requires_grad
    assert seen == {"enabled": True, "records": True}


def test_no_grad_as_a_decorator_is_safe_across_threads():
    @cp.no_grad()
    def step(out, i):
        out[i] = cp.is_grad_enabled()

    out = [None] * 8
    threads = [threading.Thread(target=step, args=(out, i)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [False] * 8 and cp.is_grad_enabled()
