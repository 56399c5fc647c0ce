"""The memory of the effective-receptive-field measurement is estimated before anything is allocated, and
a run that cannot fit is refused in one line with the figures (issue 25, point 9: analyze resnet18 --input
3x100000x100000 --erf 1 was a MemoryError traceback)."""

from __future__ import annotations

import os
import re
import tracemalloc

import numpy as np
import pytest

from cvprimer import models
from cvprimer.analysis import analyze
from cvprimer.analysis.effective import effective_receptive_field
from cvprimer.analysis.memory import available_memory, erf_memory_estimate
from cvprimer.analysis.roofline import MachineProfile
from cvprimer.cli import main

P = MachineProfile(1e11, 1e10)
GIVEN = ["--peak-gflops", "100", "--bandwidth-gbs", "10"]
REFUSAL = re.compile(r"needs ~([\d,.]+) GiB, more than the ([\d,.]+) GiB available")


def _erf_layer(rep):
    """The layer analyze measures the ERF of: the last module call with a 4-D output and a local field."""
    return [c for c in rep.trace.calls if c.name and c.out_shape is not None and len(c.out_shape) == 4
            and rep.rf.of_array(c.out_id).kind == "local"][-1]


@pytest.mark.parametrize("limit", [None, str(8 * 2**30)])
def test_huge_input_is_refused_in_one_line(monkeypatch, capsys, limit):
    if limit is None:
        monkeypatch.delenv("CVPRIMER_MEMORY_LIMIT", raising=False)  # this machine's real MemAvailable
    else:
        monkeypatch.setenv("CVPRIMER_MEMORY_LIMIT", limit)
    assert main(["analyze", "resnet18", "--input", "3x100000x100000", "--erf", "1", *GIVEN]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cvprimer analyze: the effective receptive field (erf_samples, "
                                               "--erf) on input (1, 3, 100000, 100000) needs ~")
    needed, avail = (float(v.replace(",", "")) for v in REFUSAL.search(err[0]).groups())
    # the forward outputs alone: 6.0 TiB at float32 (the shape-only analysis of the same input says so)
    assert 6000 < needed < 20000
    if limit is not None:
        assert avail == 8.0


def test_the_estimate_bounds_the_measured_peak():
    m = models.get_model("resnet20")
    rep = analyze(m, (1, 3, 64, 64), profile=P)
    layer = _erf_layer(rep)
    est = erf_memory_estimate(rep.trace, rep.totals, rep.trace.producers[layer.out_id][0])
    effective_receptive_field(m, (1, 3, 64, 64), layer=layer.name, n_samples=1, rng=np.random.default_rng(0))
    tracemalloc.start()
    try:
        effective_receptive_field(m, (1, 3, 64, 64), layer=layer.name, n_samples=1, rng=np.random.default_rng(0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= est <= 4 * peak


def test_the_limit_decides_both_ways():
    m = models.get_model("resnet20")
    rep = analyze(m, (1, 3, 32, 32), profile=P)
    layer = _erf_layer(rep)
    est = erf_memory_estimate(rep.trace, rep.totals, rep.trace.producers[layer.out_id][0])
    ok = analyze(m, (1, 3, 32, 32), profile=P, erf_samples=1, memory_limit=est, rng=np.random.default_rng(0))
    assert ok.totals["erf"]["layer"] == layer.name
    with pytest.raises(ValueError, match=REFUSAL.pattern):
        analyze(m, (1, 3, 32, 32), profile=P, erf_samples=1, memory_limit=est - 1)


@pytest.mark.skipif(not os.path.exists("/proc/meminfo"), reason="reads Linux's /proc/meminfo")
def test_available_memory(monkeypatch):
    monkeypatch.setenv("CVPRIMER_MEMORY_LIMIT", "12345")
    assert available_memory() == 12345
    monkeypatch.setenv("CVPRIMER_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="CVPRIMER_MEMORY_LIMIT must be a number of bytes, got 'lots'"):
        available_memory()
    monkeypatch.delenv("CVPRIMER_MEMORY_LIMIT")
    with open("/proc/meminfo") as f:
        mem_available = next(int(ln.split()[1]) * 1024 for ln in f if ln.startswith("MemAvailable:"))
    got = available_memory()
    assert got is not None and 0 < got <= 1.5 * mem_available


def test_out_of_memory_elsewhere_is_one_line(monkeypatch, capsys):
    import cvprimer.analysis as analysis

    def oom(*a, **k):
        raise MemoryError("Unable to allocate 74.5 GiB for an array with shape (100000, 100000)")

    monkeypatch.setattr(analysis, "analyze", oom)
    assert main(["analyze", "lenet5", *GIVEN]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ran out of memory analyzing 'lenet5'" in err[0] and "74.5 GiB" in err[0]
