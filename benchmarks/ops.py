"""Time cvprimer's vision ops against PyTorch CPU: forward and forward+backward, same process.

Usage::

    python -m benchmarks.ops [--repeat 9] [--quick] [--only conv]
    python benchmarks/ops.py

Both libraries run the same float32 shapes with the same number of threads (PyTorch's intra-op
threads are set to NumPy's BLAS thread count, read with threadpoolctl when available;
``--threads n`` pins both, and cvprimer's depthwise worker pool, to n). Each cell is the median
of ``--repeat`` timed runs after one warm-up. The runs are interleaved in rounds (ours, theirs,
ours, theirs, ...) so that load from other processes hits both alike, with a short pause at
each switch, because each library's idle worker threads spin for a while after a call and would
otherwise steal the cores from the other. ``--cpu-time`` measures process CPU time instead of
wall time: with ``--threads 1`` that is insensitive to other processes on a shared machine. A
row whose cvprimer function does not exist yet is skipped with a note. The timing machinery
(thread pinning, warm-up, interleaved rounds, medians) is :mod:`cvprimer.analysis.timing`. Writes a table to
stdout and JSON to ``benchmarks/results/ops.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as TF

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.analysis.timing import blas_threads, current_blas_threads, time_interleaved

RESULTS = Path(__file__).resolve().parent / "results" / "ops.json"
PAUSE_S = 0.15


# name, cvprimer function name, (ours, theirs) builders from the input arrays
def _conv(stride: int = 1, padding: int = 0, dilation: int = 1, groups: int = 1) -> dict[str, Any]:
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return dict(fn="conv2d", ours=lambda x, w, b: F.conv2d(x, w, b, **kw),
                theirs=lambda x, w, b: TF.conv2d(x, w, b, **kw))


def cases() -> list[dict[str, Any]]:
    conv = [
        ("conv 64x16x32x32 -> 16, 3x3 p1", (64, 16, 32, 32), (16, 16, 3, 3), _conv(padding=1)),
        ("conv 64x64x16x16 -> 64, 3x3 p1", (64, 64, 16, 16), (64, 64, 3, 3), _conv(padding=1)),
        ("conv 32x128x8x8 -> 128, 3x3 p1", (32, 128, 8, 8), (128, 128, 3, 3), _conv(padding=1)),
        ("conv 64x3x32x32 -> 16, 3x3 p1", (64, 3, 32, 32), (16, 3, 3, 3), _conv(padding=1)),
        ("depthwise 64x64x32x32, 3x3 p1", (64, 64, 32, 32), (64, 1, 3, 3), _conv(padding=1, groups=64)),
        ("pointwise 64x64x32x32 -> 128", (64, 64, 32, 32), (128, 64, 1, 1), _conv()),
        ("dilated 64x32x32x32 -> 32, 3x3 d2 p2", (64, 32, 32, 32), (32, 32, 3, 3), _conv(padding=2, dilation=2)),
        ("resnet20 128x16x32x32 -> 16, 3x3 p1", (128, 16, 32, 32), (16, 16, 3, 3), _conv(padding=1)),
        ("resnet20 128x16x32x32 -> 32, 3x3 s2 p1", (128, 16, 32, 32), (32, 16, 3, 3), _conv(stride=2, padding=1)),
        ("resnet20 128x64x8x8 -> 64, 3x3 p1", (128, 64, 8, 8), (64, 64, 3, 3), _conv(padding=1)),
        ("vgg 8x512x4x4 -> 512, 3x3 p1", (8, 512, 4, 4), (512, 512, 3, 3), _conv(padding=1)),
        ("depthwise 64x144x16x16, 3x3 s2 p1", (64, 144, 16, 16), (144, 1, 3, 3),
         _conv(stride=2, padding=1, groups=144)),
        ("unet 16x1x64x64 -> 16, 3x3 p1", (16, 1, 64, 64), (16, 1, 3, 3), _conv(padding=1)),
    ]
    rows = [dict(name=n, shapes=[x, w, (w[0],)], **spec) for n, x, w, spec in conv]
    rows.append(dict(
        name="conv_transpose 64x32x16x16 -> 32x32, 4x4 s2 p1", fn="conv_transpose2d",
        shapes=[(64, 32, 16, 16), (32, 32, 4, 4), (32,)],
        ours=lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1),
        theirs=lambda x, w, b: TF.conv_transpose2d(x, w, b, stride=2, padding=1)))
    rows.append(dict(
        name="conv_transpose 32x100x1x1 -> 4x4 (DCGAN)", fn="conv_transpose2d",
        shapes=[(32, 100, 1, 1), (100, 256, 4, 4), (256,)],
        ours=lambda x, w, b: F.conv_transpose2d(x, w, b), theirs=lambda x, w, b: TF.conv_transpose2d(x, w, b)))
    rows += [
        dict(name="max_pool 2x2 on 64x64x32x32", fn="max_pool2d", shapes=[(64, 64, 32, 32)],
             ours=lambda x: F.max_pool2d(x, 2), theirs=lambda x: TF.max_pool2d(x, 2)),
        dict(name="max_pool 3x3/2 on 64x64x32x32", fn="max_pool2d", shapes=[(64, 64, 32, 32)],
             ours=lambda x: F.max_pool2d(x, 3, 2), theirs=lambda x: TF.max_pool2d(x, 3, 2)),
        dict(name="avg_pool 2x2 on 64x64x32x32", fn="avg_pool2d", shapes=[(64, 64, 32, 32)],
             ours=lambda x: F.avg_pool2d(x, 2), theirs=lambda x: TF.avg_pool2d(x, 2)),
        dict(name="bilinear x2 on 64x64x16x16", fn="interpolate", shapes=[(64, 64, 16, 16)],
             ours=lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
             theirs=lambda x: TF.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)),
        dict(name="batch_norm train 128x16x32x32", fn="batch_norm",
             shapes=[(128, 16, 32, 32), (16,), (16,), ("zeros", (16,)), ("ones", (16,))],
             ours=lambda x, w, b, m, v: F.batch_norm(x, m, v, w, b, training=True),
             theirs=lambda x, w, b, m, v: TF.batch_norm(x, m, v, w, b, training=True)),
        dict(name="batch_norm train 64x96x32x32", fn="batch_norm",
             shapes=[(64, 96, 32, 32), (96,), (96,), ("zeros", (96,)), ("ones", (96,))],
             ours=lambda x, w, b, m, v: F.batch_norm(x, m, v, w, b, training=True),
             theirs=lambda x, w, b, m, v: TF.batch_norm(x, m, v, w, b, training=True)),
        dict(name="layer_norm 64x65x192", fn="layer_norm", shapes=[(64, 65, 192), (192,), (192,)],
             ours=lambda x, w, b: F.layer_norm(x, 192, w, b), theirs=lambda x, w, b: TF.layer_norm(x, (192,), w, b)),
        dict(name="group_norm 32 groups 32x128x16x16", fn="group_norm", shapes=[(32, 128, 16, 16), (128,), (128,)],
             ours=lambda x, w, b: F.group_norm(x, 32, w, b), theirs=lambda x, w, b: TF.group_norm(x, 32, w, b)),
        dict(name="cross_entropy 256x1000", fn="cross_entropy", shapes=[(256, 1000), ("int", (256,), 1000)],
             ours=lambda x, t: F.cross_entropy(x, t), theirs=lambda x, t: TF.cross_entropy(x, t)),
        dict(name="cross_entropy dense 16x2x64x64", fn="cross_entropy",
             shapes=[(16, 2, 64, 64), ("int", (16, 64, 64), 2)],
             ours=lambda x, t: F.cross_entropy(x, t), theirs=lambda x, t: TF.cross_entropy(x, t)),
        dict(name="linear 64x65x192 -> 768", fn="linear", shapes=[(64, 65, 192), (768, 192), (768,)],
             ours=lambda x, w, b: F.linear(x, w, b), theirs=lambda x, w, b: TF.linear(x, w, b)),
        dict(name="attention 64x3x65x64", fn="scaled_dot_product_attention",
             shapes=[(64, 3, 65, 64), (64, 3, 65, 64), (64, 3, 65, 64)],
             ours=lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
             theirs=lambda q, k, v: TF.scaled_dot_product_attention(q, k, v)),
        dict(name="softmax 64x3x65x65", fn="softmax", shapes=[(64, 3, 65, 65)],
             ours=lambda x: F.softmax(x, -1), theirs=lambda x: TF.softmax(x, -1)),
    ]
    for act in ("relu", "gelu", "sigmoid", "tanh", "silu"):
        rows.append(dict(name=f"{act} 64x64x32x32", fn=act, shapes=[(64, 64, 32, 32)],
                         ours=getattr(F, act), theirs=getattr(TF, act)))
    return rows


def bench(case: dict[str, Any], repeat: int, clock: Callable[[], float]) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    ours_in, th_in = [], []
    for s in case["shapes"]:   # a float shape (input with a gradient), or ("zeros"/"ones"/"int", shape[, high])
        if isinstance(s[0], str):
            kind, shape = s[0], s[1]
            a = rng.integers(0, s[2], shape) if kind == "int" else getattr(np, kind)(shape, np.float32)
            ours_in.append(cp.tensor(a))
            th_in.append(torch.from_numpy(a.copy()))
        else:
            a = rng.standard_normal(s).astype(np.float32)
            ours_in.append(cp.tensor(a, requires_grad=True))
            th_in.append(torch.from_numpy(a.copy()).requires_grad_(True))
    with torch.no_grad():
        out_shape = tuple(case["theirs"](*th_in).shape)
    gy = rng.standard_normal(out_shape).astype(np.float32)
    gy_c, gy_t = cp.tensor(gy), torch.from_numpy(gy.copy())

    def ours_fwd() -> None:
        with cp.no_grad():
            case["ours"](*ours_in)

    def theirs_fwd() -> None:
        with torch.no_grad():
            case["theirs"](*th_in)

    def ours_fb() -> None:
        for t in ours_in:
            t.grad = None
        out = case["ours"](*ours_in)
        out.backward(gy_c if out.ndim else None)

    def theirs_fb() -> None:
        for t in th_in:
            t.grad = None
        out = case["theirs"](*th_in)
        out.backward(gy_t if out.ndim else None)

    cells = {"ours_fwd_ms": ours_fwd, "torch_fwd_ms": theirs_fwd, "ours_fb_ms": ours_fb, "torch_fb_ms": theirs_fb}
    # one warm-up, then interleaved rounds with a pause at each switch (cvprimer.analysis.timing)
    med = time_interleaved(cells, repeat=repeat, warmup=1, clock=clock, pause=PAUSE_S)
    res: dict[str, Any] = {k: 1e3 * v for k, v in med.items()}
    res["ratio_fwd"] = res["ours_fwd_ms"] / res["torch_fwd_ms"]
    res["ratio_fb"] = res["ours_fb_ms"] / res["torch_fb_ms"]
    return res


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Temporary name, fsync, rename: a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ops.", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9, help="timed runs per cell (median reported)")
    ap.add_argument("--quick", action="store_true", help="3 timed runs per cell (a smoke run)")
    ap.add_argument("--only", default="", help="run only rows whose name contains this text")
    ap.add_argument("--threads", type=int, default=0, help="pin BLAS, PyTorch and cvprimer to n threads")
    ap.add_argument("--cpu-time", action="store_true", help="process CPU time instead of wall time")
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON output path")
    args = ap.parse_args(argv)
    repeat = 3 if args.quick else max(1, args.repeat)
    with blas_threads(args.threads or None):
        return _run(args, argv, repeat)


def _run(args: argparse.Namespace, argv: list[str] | None, repeat: int) -> int:
    threads = current_blas_threads()
    torch.set_num_threads(threads)
    clock = time.process_time if args.cpu_time else time.perf_counter
    header = (f"cvprimer vs PyTorch {torch.__version__} CPU, float32, NumPy {np.__version__}; threads: "
              f"NumPy BLAS {threads}, torch {torch.get_num_threads()}; median of {repeat} runs "
              f"({'process CPU' if args.cpu_time else 'wall'} ms)")
    print(header)
    print(f"{'op / shape':<46} {'fwd ours':>9} {'torch':>8} {'ratio':>6}   {'f+b ours':>9} {'torch':>8} {'ratio':>6}")
    rows = []
    for case in cases():
        if args.only and args.only not in case["name"]:
            continue
        row: dict[str, Any] = {"name": case["name"], "shapes": case["shapes"]}
        if not hasattr(F, case["fn"]):
            row["note"] = f"skipped: cvprimer.functional.{case['fn']} does not exist yet"
            print(f"{case['name']:<46} {row['note']}")
        else:
            row.update(bench(case, repeat, clock))
            print(f"{case['name']:<46} {row['ours_fwd_ms']:9.2f} {row['torch_fwd_ms']:8.2f} "
                  f"{row['ratio_fwd']:6.2f}   {row['ours_fb_ms']:9.2f} {row['torch_fb_ms']:8.2f} "
                  f"{row['ratio_fb']:6.2f}")
        rows.append(row)
        sys.stdout.flush()
    write_json(args.out, {
        "header": header, "repeat": repeat, "clock": "process" if args.cpu_time else "wall",
        "command": " ".join(["python -m benchmarks.ops"] + (argv if argv is not None else sys.argv[1:])),
        "threads": {"numpy_blas": threads, "torch": torch.get_num_threads()},
        "versions": {"numpy": np.__version__, "torch": torch.__version__, "python": platform.python_version()},
        "env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
                if k in os.environ},
        "rows": rows,
    })
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
