"""The engine's worker pool: results in span order, the caller runs a span itself, exceptions reach
the caller only after every span finished, nested calls run in place, several user threads at once,
and the BLAS thread limit comes back after the pool's single-threaded section."""

import threading
import time

import pytest

from cvprimer.core import pool
from cvprimer.core.settings import settings


def test_results_in_span_order_and_the_caller_takes_part():
    seen = []

    def fn(a, b):
        seen.append(threading.current_thread().name)
        time.sleep(0.01)
        return list(range(a, b))

    with settings.override(threads=3):
        spans = [(0, 2), (2, 5), (5, 6)]
        assert pool.pool_map(fn, spans) == [[0, 1], [2, 3, 4], [5]]
    assert threading.current_thread().name in seen
    assert any(name.startswith("cvprimer-") for name in seen)


def test_an_exception_is_raised_after_every_span_finished():
    done = []

    def fn(a, b):
        if a == 1:
            raise ValueError("span 1 failed")
        time.sleep(0.05)
        done.append(a)
        return a

    with settings.override(threads=3):
        with pytest.raises(ValueError, match="span 1 failed"):
            pool.pool_map(fn, [(0, 1), (1, 2), (2, 3)])
    assert sorted(done) == [0, 2]  # the other spans ran to the end before the raise
    with settings.override(threads=2):  # the pool still works afterwards
        assert pool.pool_map(lambda a, b: a + b, [(1, 2), (3, 4)]) == [3, 7]


def test_nested_calls_run_in_place():
    def inner(a, b):
        return threading.current_thread().name

    def outer(a, b):
        if a == 0:  # the caller's span: slow, so that the worker (not the caller, which takes spans no
            time.sleep(0.05)  # worker started) surely runs span 1
        return pool.pool_map(inner, [(0, 1), (1, 2)])

    with settings.override(threads=2):
        res = pool.pool_map(outer, [(0, 1), (1, 2)])
    assert res[1] == [res[1][0]] * 2 and res[1][0].startswith("cvprimer-")  # the worker ran both itself


def test_several_user_threads_at_once():
    out = {}

    def user(k):
        with settings.override(threads=2):
            out[k] = pool.pool_map(lambda a, b: (k, a, b), [(0, 5), (5, 9)])

    threads = [threading.Thread(target=user, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert out == {k: [(k, 0, 5), (k, 5, 9)] for k in range(6)}


def test_blas_limit_restored():
    ctl = pool._controller()
    if not ctl:
        pytest.skip("threadpoolctl not installed")
    blas = [lib for lib in ctl.lib_controllers if lib.user_api == "blas"]
    before = [lib.num_threads for lib in blas]
    inside = []
    with settings.override(threads=2):
        pool.pool_map(lambda a, b: inside.append([lib.num_threads for lib in blas]), [(0, 1), (1, 2)])
    assert all(n == 1 for row in inside for n in row)
    assert [lib.num_threads for lib in blas] == before


def test_spans_depend_on_the_size_alone():
    """The cut of a split never depends on the thread count; each span carries about min_chunk_elements or
    more (one span below twice that), a power of two of them, at most MAX_SPANS, contiguous, covering
    range(n) exactly."""
    with settings.override(min_chunk_elements=100):
        seen = []
        for threads in (1, 2, 3, 4, None):
            with settings.override(threads=threads):
                seen.append(pool.batch_spans(50, 7))
        assert all(s == seen[0] for s in seen)
        assert pool.spans(50, 7) == seen[0] == [(0, 25), (25, 50)]  # 350 elements: 2 spans (3 -> a power of 2)
        assert pool.spans(50, 3) == [(0, 50)]  # 150 elements: one span
        assert pool.spans(3, 1000) == [(0, 2), (2, 3)]  # never more spans than items
        assert len(pool.spans(1000, 1000)) == pool.MAX_SPANS
        for per_item, k in ((2, 2), (3, 2), (4, 4), (7, 4), (20, pool.MAX_SPANS)):  # 100 items
            sp = pool.spans(100, per_item)
            assert len(sp) == k and k & (k - 1) == 0
            assert sp[0][0] == 0 and sp[-1][1] == 100 and all(a[1] == b[0] for a, b in zip(sp, sp[1:], strict=False))
            assert all(0.9 * 100 <= (b - a) * per_item for a, b in sp)  # about min_chunk_elements each


def test_a_pool_larger_than_the_thread_count_uses_only_that_many_threads():
    """A pool made for 4 threads, then run with threads=2: at most 2 threads (the caller and one worker)
    take part in a split of many spans."""
    with settings.override(threads=4):
        pool.pool_map(lambda a, b: None, [(0, 1), (1, 2), (2, 3), (3, 4)])
    names = set()

    def fn(a, b):
        names.add(threading.current_thread().name)
        time.sleep(0.005)

    with settings.override(threads=2):
        pool.pool_map(fn, [(i, i + 1) for i in range(12)])
    assert threading.current_thread().name in names and 1 <= len(names) <= 2


def test_gemm_splits_rows_or_columns_and_matches_torch():
    """pool.gemm: a (M, K) @ b (K, N) with the longer output side (rows or columns) cut into spans; matches
    PyTorch's product (float64, to rounding), split or whole, with a strided operand (as gy.T in linear's
    weight gradient); a clear error on mismatched shapes."""
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((96, 40)), rng.standard_normal((40, 24))
    want = (torch.from_numpy(a) @ torch.from_numpy(b)).numpy()
    assert np.abs(want).max() > 1.0
    for chunk in (1 << 10, 1 << 30):  # 4 spans, 1 span
        with settings.override(threads=2, min_chunk_elements=chunk):
            assert len(pool.spans(96, 40 * 24, pool.GEMM_SPANS)) == (2 if chunk == 1 << 10 else 1)
            got = pool.gemm(a, b)
            got_f = pool.gemm(np.asfortranarray(a), b)
        assert got.shape == (96, 24) and got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got_f, want, rtol=1e-12, atol=1e-12)
    at, bt = np.ascontiguousarray(b.T), np.ascontiguousarray(a.T)  # (24, 40) @ (40, 96): cut over the columns
    with settings.override(threads=2, min_chunk_elements=1 << 10):
        assert len(pool.spans(96, 24 * 40, pool.GEMM_SPANS)) == 2
        np.testing.assert_allclose(pool.gemm(at, bt), want.T, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="gemm"):
        pool.gemm(a, b.T)  # (96, 40) @ (24, 40)


def test_blas_single_holds_the_blas_to_one_thread_only_with_several_workers():
    if not pool.BLAS.available():
        pytest.skip("no controllable BLAS")
    from cvprimer.analysis.timing import blas_threads

    with blas_threads(2):
        before = pool.BLAS.counts()
        assert before and all(n == 2 for n in before)
        with pool.blas_single():  # settings.threads is 2 here
            assert all(n == 1 for n in pool.BLAS.counts())
        assert pool.BLAS.counts() == before
        with settings.override(threads=1), pool.blas_single():  # one worker: the BLAS is left alone
            assert pool.BLAS.counts() == before
