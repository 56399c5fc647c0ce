r"""The machine's roofline profile (peak FLOP/s, memory bandwidth), measured once and kept per machine.

A micro-benchmark takes a second or two and, on a loaded machine, swings by an order of magnitude from run
to run, flipping layers between memory- and compute-bound. ``cvprimer analyze`` therefore measures once and
keeps the result in a small JSON file in the user's cache folder::

    $XDG_CACHE_HOME/cvprimer/peak.json        (~/.cache/cvprimer/peak.json when XDG_CACHE_HOME is unset;
                                               $CVPRIMER_CACHE_DIR/peak.json when that is set)

    {"format": 1, "machines": {"<key id>": {"key": {...}, "peak_flops": 2.1e11, "bandwidth": 1.4e10,
                                            "measured": "2026-12-07T15:20:00+00:00"}}}

An entry is keyed by what changes the measurement: host name, CPU model, core counts (all and usable), NumPy's
version and BLAS build, and the BLAS thread-count variables; the key id is a hash of these, and the fields
are kept beside it for a human reader. The file is written atomically (temporary file, fsync, rename); a
damaged file or entry (not JSON, wrong types, a non-positive or non-finite figure) is ignored and rewritten,
and a cache folder that cannot be written only costs the next run a new measurement.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import platform
import socket
from typing import Any

import numpy as np

from cvprimer.analysis.roofline import MachineProfile, measure_bandwidth, measure_peak
from cvprimer.core.serialization import atomic_write

FORMAT = 1
CACHE_DIR_ENV = "CVPRIMER_CACHE_DIR"
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def cache_path() -> str:
    """``$CVPRIMER_CACHE_DIR/peak.json`` when that is set (the test suite points it at a temporary folder),
    else ``$XDG_CACHE_HOME/cvprimer/peak.json``, else ``~/.cache/cvprimer/peak.json`` (XDG's default)."""
    own = os.environ.get(CACHE_DIR_ENV)
    if own:
        return os.path.join(own, "peak.json")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "cvprimer", "peak.json")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> str:
    try:
        deps = np.show_config(mode="dicts").get("Build Dependencies", {})
        blas = deps.get("blas", {})
        return " ".join(str(blas.get(k, "")) for k in ("name", "version", "openblas configuration")).strip()
    except Exception:  # an older NumPy without mode="dicts": the version alone
        return ""


def machine_key() -> dict[str, Any]:
    """What the measurement depends on (see the module docstring)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    return {"host": socket.gethostname(), "cpu": _cpu_model(), "cores": os.cpu_count() or 1,
            "usable_cores": usable, "numpy": np.__version__, "blas": _blas(),
            "threads": {v: os.environ[v] for v in _THREAD_VARS if v in os.environ}}


def key_id(key: dict[str, Any]) -> str:
    """A short stable hash of a :func:`machine_key`."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def _positive(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def read_cache(path: str) -> dict[str, dict[str, Any]]:
    """The valid entries of the cache file by key id; a missing or damaged file reads as empty."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError, RecursionError):
        return {}
    machines = data.get("machines") if isinstance(data, dict) and data.get("format") == FORMAT else None
    if not isinstance(machines, dict):
        return {}
    return {k: e for k, e in machines.items() if isinstance(e, dict) and _positive(e.get("peak_flops"))
            and _positive(e.get("bandwidth")) and isinstance(e.get("key"), dict)}


def _write_cache(path: str, entries: dict[str, dict[str, Any]]) -> str:
    """Write ``entries`` atomically; returns "" or the reason it could not."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, json.dumps({"format": FORMAT, "machines": entries}, indent=1, sort_keys=True))
    except OSError as e:
        return e.strerror or str(e)
    return ""


def machine_profile(peak_gflops: float | None = None, bandwidth_gbs: float | None = None,
                    remeasure: bool = False, path: str | None = None) -> MachineProfile:
    """This machine's profile for the roofline: given figures first, then the cache, then a measurement.

    ``peak_gflops`` / ``bandwidth_gbs`` set the figures for this run (GFLOP/s, GB/s) and are not cached; with
    both given nothing is read, measured or written. Otherwise the cache entry of this machine is used, unless
    ``remeasure`` or there is none: then the machine is measured (only the bandwidth when ``peak_gflops`` is
    given) and a full measurement is written to the cache. ``path`` defaults to :func:`cache_path`. The
    profile's ``name`` says where each figure came from.
    """
    if peak_gflops is not None and bandwidth_gbs is not None:
        return MachineProfile(peak_gflops * 1e9, bandwidth_gbs * 1e9, "given by --peak-gflops and --bandwidth-gbs")
    path = path or cache_path()
    key = machine_key()
    kid = key_id(key)
    entries = read_cache(path)
    entry = None if remeasure else entries.get(kid)
    if entry is not None and entry.get("key") == key:
        peak = peak_gflops * 1e9 if peak_gflops is not None else float(entry["peak_flops"])
        bw = bandwidth_gbs * 1e9 if bandwidth_gbs is not None else float(entry["bandwidth"])
        given = " (peak from --peak-gflops)" if peak_gflops is not None else \
            (" (bandwidth from --bandwidth-gbs)" if bandwidth_gbs is not None else "")
        return MachineProfile(peak, bw, f"cached {entry.get('measured', '')[:10]} in {path}{given}; "
                                        "--remeasure-peak measures again")
    if peak_gflops is not None and not remeasure:
        return MachineProfile(peak_gflops * 1e9, measure_bandwidth(), "peak from --peak-gflops, bandwidth measured")
    peak, bw = measure_peak(n=768, repeats=5), measure_bandwidth(repeats=5)
    entries[kid] = {"key": key, "peak_flops": peak, "bandwidth": bw,
                    "measured": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
    problem = _write_cache(path, entries)
    note = f"measured now, cached in {path}" if not problem else f"measured now; not cached ({path}: {problem})"
    if peak_gflops is not None:
        peak, note = peak_gflops * 1e9, note + " (peak from --peak-gflops)"
    if bandwidth_gbs is not None:
        bw, note = bandwidth_gbs * 1e9, note + " (bandwidth from --bandwidth-gbs)"
    return MachineProfile(peak, bw, note)
