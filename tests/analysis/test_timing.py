"""analysis.timing: interleaving order, warm-up, medians and ratios on a fake clock; thread pinning restored."""

import pytest

from cvprimer.analysis import timing
from cvprimer.core import pool
from cvprimer.core.settings import settings


class FakeClock:
    """A clock that only advances when a fake workload says so."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def work(self, seconds, log=None, name=None):
        def fn():
            if log is not None:
                log.append(name)
            self.now += seconds() if callable(seconds) else seconds
        return fn


def test_interleaved_order_and_warmup():
    clock, log = FakeClock(), []
    fns = {"a": clock.work(1.0, log, "a"), "b": clock.work(2.0, log, "b")}
    samples = timing.time_samples(fns, repeat=3, warmup=2, clock=clock)
    assert log == ["a", "b"] * 2 + ["a", "b"] * 3  # warm-up rounds, then interleaved rounds
    assert samples == {"a": [1.0] * 3, "b": [2.0] * 3}


def test_median_ignores_outliers_and_ratios():
    clock = FakeClock()
    seq = iter([1.0, 100.0, 1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 3.0, 300.0])
    fns = {"fast": clock.work(lambda: next(seq)), "slow": clock.work(lambda: next(seq))}
    # warm-up consumes 1.0 (fast) and 100.0 (slow); then fast: 1, 1, 3, 3 ... interleaved
    med = timing.time_interleaved(fns, repeat=4, warmup=1, clock=clock)
    assert med == {"fast": 2.0, "slow": 3.0}
    assert timing.ratios(med, "fast") == {"fast": 1.0, "slow": 1.5}
    clock2 = FakeClock()
    assert timing.median_time(clock2.work(0.25), repeat=3, clock=clock2) == 0.25


def test_pause_is_outside_the_timed_span():
    clock, slept = FakeClock(), []

    def sleep(s):
        slept.append(s)
        clock.now += 10.0  # would ruin the sample if it were timed

    med = timing.time_interleaved({"x": clock.work(0.5)}, repeat=3, warmup=0, clock=clock, pause=0.1, sleep=sleep)
    assert med == {"x": 0.5} and slept == [0.1] * 3


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one"):
        timing.time_samples({})
    with pytest.raises(ValueError, match="repeat"):
        timing.time_samples({"a": lambda: None}, repeat=0)
    with pytest.raises(TypeError, match="not callable"):
        timing.time_samples({"a": 3})
    with pytest.raises(ValueError, match="baseline"):
        timing.ratios({"a": 1.0}, "b")
    with pytest.raises(ValueError, match="positive"):
        timing.ratios({"a": 0.0}, "a")
    with pytest.raises(ValueError, match="n must be"):
        with timing.blas_threads(0):
            pass


def test_blas_threads_pins_and_restores():
    before_blas, before_pool = timing.current_blas_threads(), settings.threads
    with timing.blas_threads(1) as n:
        assert n == 1 and timing.current_blas_threads() == 1 and pool.workers() == 1
    assert timing.current_blas_threads() == before_blas and settings.threads == before_pool
    with pytest.raises(RuntimeError):
        with timing.blas_threads(1):
            raise RuntimeError("boom")
    assert timing.current_blas_threads() == before_blas and settings.threads == before_pool
    with timing.blas_threads(None) as n:
        assert n == before_blas and settings.threads == before_pool
