"""Peak memory of a training step, cvprimer vs PyTorch CPU, each in a fresh process.

Usage::

    python -m benchmarks.memory [--only resnet20] [--steps 3]

For each model of :mod:`benchmarks.steps` and each framework, a child process builds the model
and the batch, runs one warm-up step (one-time costs stay outside the figure: numba compiling or
loading its kernels, PyTorch's lazy initialisation, the optimizer's state), resets the kernel's
peak-RSS mark (``/proc/self/clear_refs``) after handing the heap's free memory back to the system
(``malloc_trim``, so that the resident set before the steps is what is live), runs ``--steps``
training steps and reports

* **step peak**: the peak resident set during those steps minus the resident set just before them
  (what a step in steady state needs on top of the model, the batch and the optimizer: the
  activations kept for backward, the gradients and every temporary; an allocator that keeps
  freed memory counts it once, at its peak);
* **kept for backward**: the bytes of the distinct arrays the graph holds for backward after the
  forward and the loss (ours: every node's saved arrays, counted once by their memory block;
  PyTorch: the tensors its ``saved_tensors_hooks`` see, counted once by storage).

Writes a table to stdout and JSON to ``benchmarks/results/memory.json``. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "memory.json"
ROOT = Path(__file__).resolve().parent.parent


def _status(field: str) -> int:
    """A ``/proc/self/status`` size field in bytes (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _trim() -> None:
    """Return the C heap's free memory to the system (glibc ``malloc_trim``; no-op elsewhere)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def _arrays(obj: Any, out: dict[int, int]) -> None:
    """Record the memory blocks behind the arrays in ``obj`` (a view keeps its whole base alive)."""
    if isinstance(obj, np.ndarray):
        root = obj
        while isinstance(root.base, np.ndarray):
            root = root.base
        out[id(root)] = root.nbytes
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            _arrays(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _arrays(o, out)


def ours_kept(loss: Any, params: Any) -> int:
    """Bytes of the distinct arrays (parameters excepted) that the graph behind ``loss`` keeps for backward."""
    from cvprimer.core.function import _CTX_KEEP, iter_nodes

    blocks: dict[int, int] = {}
    for node in iter_nodes(loss):
        _arrays(node._saved, blocks)
        for k, v in vars(node).items():
            if k not in _CTX_KEEP:
                _arrays(v, blocks)
    skip: dict[int, int] = {}
    _arrays([p.data for p in params], skip)
    return sum(b for k, b in blocks.items() if k not in skip)


def child(framework: str, name: str, steps: int) -> dict[str, Any]:
    """Runs in the child process: build, warm up, measure."""
    from benchmarks.steps import specs

    spec = next(s for s in specs() if s["name"] == name)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(spec["input"]).astype(np.float32)
    n = spec["input"][0]
    y = rng.integers(0, spec["classes"], (n,) + spec["input"][2:] if spec.get("dense") else (n,))
    if framework == "ours":
        import cvprimer as cp
        import cvprimer.functional as F

        model = spec["ours"](rng)
        model.train()
        opt = cp.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        xc, yc = cp.tensor(x), cp.tensor(y)
        kept = [0]

        def step() -> None:
            opt.zero_grad()
            loss = F.cross_entropy(model(xc), yc)
            kept[0] = ours_kept(loss, model.parameters())
            loss.backward()
            opt.step()
    else:
        import torch

        torch.set_num_threads(2)
        model = spec["theirs"]()
        model.train()
        topt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        kept = [0]

        def step() -> None:
            storages: dict[int, int] = {}

            def pack(t: torch.Tensor) -> torch.Tensor:
                st = t.untyped_storage()
                storages[st.data_ptr()] = st.nbytes()
                return t

            topt.zero_grad()
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                loss = torch.nn.functional.cross_entropy(model(xt), yt)
            params = {p.untyped_storage().data_ptr() for p in model.parameters()}
            kept[0] = sum(b for ptr, b in storages.items() if ptr not in params)
            loss.backward()
            topt.step()

    step()  # warm-up: one-time costs (numba compiling or loading kernels, lazy initialisation) stay outside
    _trim()  # freed heap memory back to the system, so that "before" is what is live
    before = _status("VmRSS")
    _reset_peak()
    for _ in range(steps):
        step()
    peak = _status("VmHWM")
    return {"step_peak_bytes": max(0, peak - before), "kept_bytes": kept[0], "rss_before": before}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="models whose name contains this text")
    ap.add_argument("--steps", type=int, default=3, help="measured steps after the warm-up")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--child", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.steps)))
        return 0
    from benchmarks.ops import write_json
    from benchmarks.steps import specs

    mib = 1 / 2**20
    print(f"peak memory of a training step (fresh process each; {args.steps} steps after one warm-up), MiB")
    print(f"{'model, input, batch':<32} {'ours peak':>10} {'torch peak':>11} {'ratio':>6} {'ours kept':>10} "
          f"{'torch kept':>11} {'ratio':>6}")
    rows = []
    for spec in specs():
        if args.only and args.only not in spec["name"]:
            continue
        res = {}
        for fw in ("ours", "torch"):
            cmd = [sys.executable, "-m", "benchmarks.memory", "--steps", str(args.steps), "--child", fw, spec["name"]]
            out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
            res[fw] = json.loads(out.strip().splitlines()[-1])
        row = dict(name=spec["name"], ours=res["ours"], torch=res["torch"],
                   peak_ratio=res["ours"]["step_peak_bytes"] / max(1, res["torch"]["step_peak_bytes"]),
                   kept_ratio=res["ours"]["kept_bytes"] / max(1, res["torch"]["kept_bytes"]))
        rows.append(row)
        print(f"{spec['name']:<32} {res['ours']['step_peak_bytes'] * mib:10.1f} "
              f"{res['torch']['step_peak_bytes'] * mib:11.1f} {row['peak_ratio']:6.2f} "
              f"{res['ours']['kept_bytes'] * mib:10.1f} {res['torch']['kept_bytes'] * mib:11.1f} "
              f"{row['kept_ratio']:6.2f}")
        sys.stdout.flush()
    write_json(args.out, {"command": " ".join(["python -m benchmarks.memory"] + (argv or sys.argv[1:])),
                          "python": platform.python_version(), "rows": rows})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
