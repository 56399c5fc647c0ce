"""The machine's peak is measured once per machine and cached (issue 26): a JSON file in a temporary cache
folder (never the real home), keyed by the machine, written atomically; a damaged file is ignored and
rewritten; --peak-gflops sets the peak without measuring it; --remeasure-peak measures again."""

from __future__ import annotations

import json
import os

import pytest

from cvprimer.analysis import machine_cache as mc
from cvprimer.cli import main


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A temporary cache folder and counters of the (stubbed, instant) measurements."""
    monkeypatch.setenv("CVPRIMER_CACHE_DIR", str(tmp_path / "cache"))
    calls = {"peak": 0, "bandwidth": 0}
    figures = {"peak": 50e9, "bandwidth": 5e9}

    def peak(**kw):
        calls["peak"] += 1
        return figures["peak"]

    def bandwidth(**kw):
        calls["bandwidth"] += 1
        return figures["bandwidth"]

    monkeypatch.setattr(mc, "measure_peak", peak)
    monkeypatch.setattr(mc, "measure_bandwidth", bandwidth)
    return tmp_path / "cache" / "peak.json", calls, figures


def test_measured_once_then_read_from_the_cache(cache):
    path, calls, figures = cache
    first = mc.machine_profile()
    assert calls == {"peak": 1, "bandwidth": 1} and "measured now" in first.name
    data = json.loads(path.read_text())
    [entry] = data["machines"].values()
    assert entry["key"] == mc.machine_key() and entry["peak_flops"] == 50e9 and entry["bandwidth"] == 5e9
    figures["peak"] = 1.0  # a second measurement would give this
    second = mc.machine_profile()
    assert calls == {"peak": 1, "bandwidth": 1}
    assert (second.peak_flops, second.bandwidth) == (50e9, 5e9) and second.name.startswith("cached")
    assert sorted(os.listdir(path.parent)) == ["peak.json"]  # atomic: no temporary file left


def test_the_key_names_the_machine_and_its_blas(cache, monkeypatch):
    path, calls, _ = cache
    key = mc.machine_key()
    assert {"host", "cpu", "cores", "usable_cores", "numpy", "blas", "threads"} <= set(key)
    assert key["cores"] >= key["usable_cores"] >= 1
    mc.machine_profile()
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # another BLAS setting is another machine
    assert mc.machine_key()["threads"] == {"OPENBLAS_NUM_THREADS": "1"}
    mc.machine_profile()
    assert calls["peak"] == 2 and len(json.loads(path.read_text())["machines"]) == 2
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    mc.machine_profile()
    assert calls["peak"] == 2


@pytest.mark.parametrize("damage", [
    b"", b"\x00\xff garbage", b"[1, 2]", b'{"format": 99, "machines": {}}', b'{"format": 1, "machines": []}',
    "bad-entry", "negative", "nan",
])
def test_a_damaged_cache_is_ignored_and_rewritten(cache, damage):
    path, calls, _ = cache
    mc.machine_profile()
    if isinstance(damage, bytes):
        path.write_bytes(damage)
    else:
        data = json.loads(path.read_text())
        kid = next(iter(data["machines"]))
        entry = data["machines"][kid]
        if damage == "bad-entry":
            data["machines"][kid] = "oops"
        else:
            entry["peak_flops"] = -1.0 if damage == "negative" else float("nan")
        path.write_text(json.dumps(data))
    pf = mc.machine_profile()
    assert calls["peak"] == 2 and pf.peak_flops == 50e9
    [entry] = json.loads(path.read_text())["machines"].values()
    assert entry["peak_flops"] == 50e9


def test_given_figures_are_not_measured_nor_cached(cache):
    path, calls, _ = cache
    pf = mc.machine_profile(peak_gflops=123.0, bandwidth_gbs=4.0)
    assert (pf.peak_flops, pf.bandwidth) == (123e9, 4e9) and calls == {"peak": 0, "bandwidth": 0}
    assert not path.exists()
    pf = mc.machine_profile(peak_gflops=123.0)  # no cache yet: the bandwidth alone is measured, nothing written
    assert pf.peak_flops == 123e9 and pf.bandwidth == 5e9 and calls == {"peak": 0, "bandwidth": 1}
    assert not path.exists()
    mc.machine_profile()
    pf = mc.machine_profile(peak_gflops=7.0)  # with a cache: its bandwidth, the given peak, no measuring
    assert (pf.peak_flops, pf.bandwidth) == (7e9, 5e9) and calls == {"peak": 1, "bandwidth": 2}
    assert json.loads(path.read_text())["machines"].popitem()[1]["peak_flops"] == 50e9


def test_remeasure_updates_the_entry(cache):
    path, calls, figures = cache
    mc.machine_profile()
    figures["peak"] = 80e9
    pf = mc.machine_profile(remeasure=True)
    assert calls["peak"] == 2 and pf.peak_flops == 80e9
    assert json.loads(path.read_text())["machines"].popitem()[1]["peak_flops"] == 80e9


def test_an_unwritable_cache_still_gives_a_profile(cache, tmp_path, monkeypatch):
    _, calls, _ = cache
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("CVPRIMER_CACHE_DIR", str(tmp_path / "file" / "sub"))
    pf = mc.machine_profile()
    assert pf.peak_flops == 50e9 and "not cached" in pf.name


def test_xdg_cache_home_is_the_default_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("CVPRIMER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mc.cache_path() == str(tmp_path / "xdg" / "cvprimer" / "peak.json")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mc.cache_path() == str(tmp_path / "home" / ".cache" / "cvprimer" / "peak.json")


def test_cli_measures_once_and_takes_given_figures(cache, capsys):
    path, calls, _ = cache
    args = ["analyze", "lenet5", "--input", "1x32x32"]
    assert main(args) == 0 and main(args) == 0
    out = capsys.readouterr().out
    assert calls["peak"] == 1 and "measured now, cached in" in out and "(cached " in out
    assert main([*args, "--peak-gflops", "123", "--bandwidth-gbs", "4"]) == 0
    assert "machine: peak 123.0 GFLOP/s, bandwidth 4.0 GB/s" in capsys.readouterr().out
    assert main([*args, "--remeasure-peak"]) == 0 and calls["peak"] == 2
    with pytest.raises(SystemExit) as e:
        main([*args, "--peak-gflops", "0"])
    assert e.value.code == 2 and "--peak-gflops: expected a finite number > 0" in capsys.readouterr().err
