"""The engine's settings object and the optional numba kernels."""

from __future__ import annotations

import numpy as np
import pytest

from cvprimer.core import jit, pool
from cvprimer.core.settings import Settings, settings


def test_override_restores_even_on_error() -> None:
    before = (settings.threads, settings.conv_phases)
    with pytest.raises(RuntimeError):
        with settings.override(threads=1, conv_phases=not before[1]):
            assert settings.threads == 1 and pool.workers() == 1
            assert settings.conv_phases is (not before[1])
            raise RuntimeError("boom")
    assert (settings.threads, settings.conv_phases) == before


@pytest.mark.parametrize("changes, match", [
    (dict(nope=1), "unknown field 'nope'"),
    (dict(threads=0), "threads must be None or an int >= 1"),
    (dict(threads=True), "threads must be None"),
    (dict(conv_phases=1), "conv_phases must be True or False"),
    (dict(min_chunk_elements=-1), "min_chunk_elements must be an int >= 0"),
    (dict(conv_keep_cols_bytes=1.5), "conv_keep_cols_bytes must be an int"),
])
def test_bad_values_name_the_field_and_change_nothing(changes: dict, match: str) -> None:
    before = settings.current()
    with pytest.raises(ValueError, match=match):
        settings.set(**{"conv_s2d": False, **changes})
    with pytest.raises(ValueError, match=match):
        with settings.override(**{"conv_s2d": False, **changes}):
            pass
    assert settings.current() is before
    if "nope" not in changes:
        with pytest.raises(ValueError, match=match):
            Settings(**changes)  # a Settings that exists is valid


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError, match="frozen"):
        settings.threads = "many"
    with pytest.raises(AttributeError):
        settings.current().threads = 2  # type: ignore[misc]


def test_set_changes_the_process_defaults_and_an_override_wins_inside_its_block() -> None:
    import contextvars

    from cvprimer.core import settings as mod

    def body() -> tuple[int, int, int]:  # in a fresh context: no override of the suite's fixture applies
        settings.set(conv_cols_below=7)
        with settings.override(conv_cols_below=9):
            inside = settings.conv_cols_below
        return settings.conv_cols_below, inside, mod._DEFAULTS[0].conv_cols_below

    before = mod._DEFAULTS[0]
    try:
        assert contextvars.Context().run(body) == (7, 9, 7)
    finally:
        mod._DEFAULTS[0] = before
    assert contextvars.Context().run(lambda: settings.conv_cols_below) == before.conv_cols_below


def test_overrides_are_context_local_but_reach_the_engines_workers() -> None:
    import threading

    seen: dict[str, object] = {}
    with settings.override(conv_cols_below=5, threads=2, min_chunk_elements=0):
        t = threading.Thread(target=lambda: seen.setdefault("other", settings.conv_cols_below))
        t.start()
        t.join()
        spans = [(0, 1), (1, 2)]
        got = pool.pool_map(lambda a, b: settings.conv_cols_below, spans)
    assert seen["other"] == Settings().conv_cols_below  # a user's thread does not see this block's override
    assert got == [5, 5]  # the engine's pool runs each span under the caller's settings


def test_numba_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from cvprimer.core import settings as mod

    monkeypatch.setenv("CVPRIMER_NUMBA", "0")
    assert mod._numba_default() is False
    monkeypatch.setenv("CVPRIMER_NUMBA", "1")
    assert mod._numba_default() is jit.available()


def test_kernel_compiles_lazily_and_computes() -> None:
    if not jit.available():
        pytest.skip("numba not installed: the NumPy paths are the ones in use")

    @jit.kernel(cache=False)
    def axpy(a: float, x: np.ndarray, y: np.ndarray) -> None:
        for i in range(x.size):
            y[i] += a * x[i]

    assert axpy._compiled is None
    x, y = np.arange(5.0), np.ones(5)
    axpy(2.0, x, y)
    np.testing.assert_array_equal(y, 1 + 2 * np.arange(5.0))
    assert axpy._compiled is not None


def test_numba_true_without_numba_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jit, "_NUMBA", False)
    with pytest.raises(ValueError, match="numba is not installed"):
        Settings().replace(numba=True)
    k = jit.kernel(lambda x: x)
    with pytest.raises(RuntimeError, match="numba is not installed"):
        k(1)


def test_small_arrays_skip_the_kernels_of_ops_with_a_fast_numpy_path():
    """Below settings.numba_min_elements the core sigmoid/tanh/relu and softmax take the NumPy path
    (a spy in core's kernel table, core.ops.unary_kernels.KERNELS, sees no call), at and above it the kernels."""
    import numpy as np

    import cvprimer as cp
    import cvprimer.functional as F
    from cvprimer.core import jit
    from cvprimer.core.ops import unary_kernels

    if not jit.available():
        return
    calls = []
    real = unary_kernels.KERNELS["relu"]
    grad = real[np.float32][1]
    unary_kernels.KERNELS["relu"] = {np.float32: (None, lambda y, gy, gx: calls.append(y.size) or grad(y, gy, gx))}
    try:
        for n in (100, 200):
            with settings.override(numba=True, numba_min_elements=200):
                x = cp.tensor(np.linspace(-1, 1, n, dtype=np.float32), requires_grad=True)
                F.relu(x).sum().backward()
                np.testing.assert_array_equal(x.grad.numpy(), (x.detach().numpy() > 0).astype(np.float32))
    finally:
        unary_kernels.KERNELS["relu"] = real
    assert sum(calls) == 200  # the 200-value backward (maybe in spans over the worker pool), not the 100
