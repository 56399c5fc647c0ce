"""The engine's automatic thread budget (issue 27): it follows the other processes' load, the BLAS gets
the same budget (one budget for pool and BLAS), a user's own BLAS setting is left alone, settings.threads
wins, and the pool's caller runs the spans that no worker has started (a worker without a core costs
nothing but the hand-off)."""

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from cvprimer.core import pool
from cvprimer.core.settings import current, settings

pytestmark = pytest.mark.skipif(not pool.BLAS.available(), reason="no BLAS thread control found")


@pytest.fixture
def blas_restored():
    pool.BLAS.available()
    before = [(put, int(get())) for get, put in pool.BLAS.libs]
    yield
    for put, n in before:
        put(n)


def test_ctypes_blas_control_matches_threadpoolctl(blas_restored):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    info = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert pool.BLAS.get() == info[0]["num_threads"]
    pool.BLAS.set(1)
    assert [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"][0] == 1
    assert pool.BLAS.get() == 1


def test_every_openblas_is_found_also_one_loaded_later(blas_restored):
    """SciPy (which numba imports) brings a second OpenBLAS with its own threads: found after the import,
    and the pool's split holds both to one thread."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pytest.importorskip("scipy.linalg")
    paths = {i["filepath"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}
    assert pool.BLAS.available() and len(pool.BLAS.libs) == len(paths)
    pool.BLAS.set(2)
    inside = []
    with settings.override(threads=2):
        pool.pool_map(lambda a, b: inside.append(pool.BLAS.counts()), [(0, 1), (1, 2)])
    assert inside and all(c == [1] * len(paths) for c in inside)
    assert pool.BLAS.counts() == [2] * len(paths)


def test_budget_follows_the_load_and_sets_the_blas(monkeypatch, blas_restored):
    monkeypatch.setattr(pool, "cpus", lambda: 2)
    pool.BLAS.set(2)
    b = pool._Budget()
    assert b.sample(others=0.0) == 2 and pool.BLAS.get() == 2  # quiet: every CPU, BLAS too
    assert b.sample(others=1.0) == 2  # mean load 0.5 over the window: 1.5 free, rounds to 2
    for _ in range(6):
        b.sample(others=2.0)  # mean load -> 2
    assert b.value == 1 and pool.BLAS.counts() == [1] * len(pool.BLAS.libs)  # both busy: one thread, BLAS too
    b.samples.clear()
    assert b.sample(others=0.0) == 2 and pool.BLAS.get() == 2  # the load went away


def test_budget_window_forgets_old_samples(monkeypatch, blas_restored):
    monkeypatch.setattr(pool, "cpus", lambda: 4)
    b = pool._Budget()
    b.samples.append((time.monotonic() - 10 * pool.WINDOW_S, 100.0))  # long ago: ignored
    assert b.sample(others=1.0) == 3
    monkeypatch.setattr(pool, "cpus", lambda: 16)
    assert b.sample(others=0.0) == pool.MAX_WORKERS  # never more than MAX_WORKERS


def test_a_process_pinned_to_part_of_the_machine_counts_its_share_of_the_load(monkeypatch, blas_restored):
    monkeypatch.setattr(pool, "cpus", lambda: 4)
    monkeypatch.setattr(pool.os, "cpu_count", lambda: 64)
    b = pool._Budget()
    assert b.sample(others=32.0) == 2  # 32 runnable over 64 CPUs: 2 of our 4 busy
    monkeypatch.setattr(pool.os, "cpu_count", lambda: 4)
    b.samples.clear()
    assert b.sample(others=32.0) == 1


def test_blas_ceiling_and_a_users_own_setting_are_respected(monkeypatch, blas_restored):
    monkeypatch.setattr(pool, "cpus", lambda: 4)
    pool.BLAS.set(2)  # e.g. OPENBLAS_NUM_THREADS=2: a ceiling
    b = pool._Budget()
    assert b.sample(others=0.0) == 4 and pool.BLAS.get() == 2
    pool.BLAS.set(3)  # the user (threadpoolctl) takes the BLAS over
    b.samples.clear()
    b.sample(others=4.0)
    assert b.value == 1 and pool.BLAS.get() == 3 and not b.manage_blas


def test_blas_is_not_touched_inside_a_split(monkeypatch, blas_restored):
    monkeypatch.setattr(pool, "cpus", lambda: 2)
    pool.BLAS.set(2)
    b = pool._Budget()
    b.sample(others=0.0)
    seen = []

    def span(a, c):
        b.samples.clear()
        b.sample(others=0.0)  # a sample taken while the pool holds the BLAS at one thread
        seen.append(pool.BLAS.get())

    with settings.override(threads=2):
        pool.pool_map(span, [(0, 1), (1, 2)])
    assert seen == [1, 1] and pool.BLAS.get() == 2 and b.manage_blas


def test_settings_threads_wins_over_the_budget():
    with settings.override(threads=3):
        assert pool.workers() == 3
        three = pool.batch_spans(1000, 1 << 20)
    with settings.override(threads=1):
        # the same spans (a function of the size alone), all run by the calling thread
        assert pool.batch_spans(1000, 1 << 20) == three and len(three) == pool.MAX_SPANS
        names = pool.pool_map(lambda a, b: threading.current_thread().name, three)
        assert names == [threading.current_thread().name] * len(three)


def test_real_load_brings_the_budget_to_one(blas_restored):
    """cpus() busy processes: the /proc sample sees them and the budget falls to 1 (it can only fall
    further if the machine is busier still)."""
    assert pool.others_running() is not None and pool.others_running() >= 0
    procs = [subprocess.Popen([sys.executable, "-S", "-c", "while True: pass"]) for _ in range(pool.cpus())]
    try:
        time.sleep(0.5)
        b = pool._Budget()
        for _ in range(5):
            b.sample()
            time.sleep(0.05)
        assert b.value == 1
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(5)


def test_caller_runs_the_spans_no_worker_started():
    """A pool whose only worker is stuck (as a worker without a core would be): the caller runs every span
    at once instead of waiting for it."""
    p = pool._Pool(2)
    release = threading.Event()
    blocker = pool._Job(lambda a, b: release.wait(5), [(0, 0), (0, 0)], current())
    p.tasks.put(blocker)
    t0 = time.monotonic()
    while blocker.next < 2 and time.monotonic() - t0 < 5:  # the worker took the blocking span
        time.sleep(0.001)
    try:
        t0 = time.monotonic()
        names = p.map(lambda a, b: (threading.current_thread().name, a, b), [(0, 1), (1, 2), (2, 3)])
        took = time.monotonic() - t0
    finally:
        release.set()
    me = threading.current_thread().name
    assert names == [(me, 0, 1), (me, 1, 2), (me, 2, 3)]
    assert took < 1.0


def test_spans_run_on_workers_when_they_are_free():
    """A free worker takes part: with a slow first span, the worker runs the others (and results keep
    span order, exceptions still reach the caller)."""
    def fn(a, b):
        if a == 0:
            time.sleep(0.05)
        return threading.current_thread().name, a

    with settings.override(threads=2):
        out = pool.pool_map(fn, [(0, 1), (1, 2), (2, 3)])
    assert [a for _, a in out] == [0, 1, 2]
    assert out[0][0] == threading.current_thread().name
    assert any(name.startswith("cvprimer-") for name, _ in out[1:])
    with settings.override(threads=2), pytest.raises(ZeroDivisionError):
        pool.pool_map(lambda a, b: 1 / (a - 1), [(0, 1), (1, 2)])


def test_a_split_conv_matches_one_thread():
    """End to end: a conv split over the pool under the automatic budget equals the one-thread result."""
    import cvprimer as cp
    import cvprimer.functional as F

    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 8, 32, 32)).astype(np.float32)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    with settings.override(threads=1):
        ref = F.conv2d(cp.tensor(x), cp.tensor(w), padding=1).data
    with settings.override(threads=2, min_chunk_elements=1024):
        got = F.conv2d(cp.tensor(x), cp.tensor(w), padding=1).data
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_each_backward_refreshes_the_budget():
    """A model without batch-split ops (an MLP) still follows the load: backward takes a sample when the
    last one is older than SAMPLE_EVERY_S (and not under settings.threads)."""
    import cvprimer as cp

    w = cp.tensor(np.ones((4, 3), np.float32), requires_grad=True)
    pool._BUDGET.last = -1e9
    (cp.tensor(np.ones((2, 4), np.float32)) @ w).sum().backward()
    assert pool._BUDGET.last > time.monotonic() - 5
    with settings.override(threads=1):
        pool._BUDGET.last = -1e9
        (cp.tensor(np.ones((2, 4), np.float32)) @ w).sum().backward()
        assert pool._BUDGET.last == -1e9


def test_the_automatic_pool_keeps_two_threads_under_load_while_the_blas_falls_to_one(monkeypatch, blas_restored):
    """Every core busy: the load budget (the BLAS's threads) falls to 1, the pool keeps MIN_POOL = 2 threads (its
    workers block rather than spin, and the caller runs any span no worker started); one CPU: one thread."""
    monkeypatch.setattr(pool, "cpus", lambda: 2)
    b = pool._Budget()
    monkeypatch.setattr(pool, "_BUDGET", b)
    for _ in range(6):
        b.sample(others=2.0)
    b.last = time.monotonic() + 1e6  # no new /proc sample during the test
    assert b.value == 1 and pool.BLAS.counts() == [1] * len(pool.BLAS.libs)
    assert pool.MIN_POOL == 2 and pool.workers() == 2
    with settings.override(threads=1):
        assert pool.workers() == 1
    monkeypatch.setattr(pool, "cpus", lambda: 1)
    assert pool.workers() == 1
