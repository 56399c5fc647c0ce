r"""``cvprimer train --find-lr``: the learning-rate range test on the run's own model and data, then stop.

It builds exactly what ``cvprimer train`` would train (same configuration, data flow, model, optimizer and loss;
see :mod:`cvprimer.train.run`) and runs :func:`cvprimer.optim.lr_range_test` on the training loader: the lr grows
exponentially from ``start_lr`` to ``end_lr`` over ``num_steps`` batches, the loss is smoothed, and the suggested
lr is where the smoothed loss falls fastest against log(lr). Written into the run folder:

- ``config.json`` (the configuration tested);
- ``lr_finder.csv``: columns ``step,lr,loss,smoothed_loss``, one row per batch tried;
- ``lr_finder.png`` (with the ``plot`` extra): raw and smoothed loss against lr on a log axis, the suggestion
  marked.

Nothing is trained: the model and optimizer are restored after the test, and no checkpoint is written.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

import cvprimer as cp
from cvprimer.optim import lr_range_test
from cvprimer.train.run import TrainConfig, build_training, check_memory, load_splits
from cvprimer.train.rundir import RunLock, prepare_new, write_file


class _AsTensors:
    """A loader's (x, y) NumPy batches as Tensors, re-iterable (the range test cycles through it)."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def __iter__(self) -> Iterator[tuple[cp.Tensor, cp.Tensor]]:
        for xb, yb in self.loader:
            yield cp.Tensor(np.asarray(xb)), cp.Tensor(np.asarray(yb))


def _plot(res: Any, path: str, title: str) -> bool:
    try:  # a Figure of its own, no pyplot: the user's backend (a notebook's) is left as it is
        from matplotlib.figure import Figure
    except ImportError:
        return False
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.subplots()
    ax.plot(res.lrs, res.losses, color="0.7", lw=1, label="loss (batch)")
    ax.plot(res.lrs, res.smoothed, color="C0", lw=2, label="smoothed loss")
    if res.suggested_lr is not None:
        ax.axvline(res.suggested_lr, color="C3", ls="--", label=f"suggested lr {res.suggested_lr:.3g}")
    ax.set_xscale("log")
    finite = [v for v in res.smoothed if np.isfinite(v)]
    if finite:  # a diverging tail would squash the useful part of the curve
        lo, hi = min(finite), max(finite)
        ax.set_ylim(lo - 0.05 * (hi - lo + 1e-12), min(hi, 4 * finite[0]) + 0.05 * (hi - lo + 1e-12))
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    write_file(path, lambda f: fig.savefig(f, dpi=100, format="png"))
    return True


def run_find_lr(cfg: TrainConfig, run_dir: str | None = None, overwrite: bool = False, verbose: bool = True,
                start_lr: float = 1e-7, end_lr: float = 10.0, num_steps: int = 100) -> dict[str, Any]:
    """Run the range test for ``cfg`` and write its files (module docstring) into ``run_dir`` (default
    ``runs/<model>-<dataset>-lr-<time>``; new or empty, or a run folder with ``overwrite``). Returns
    ``{"run_dir", "suggested_lr", "diverged", "steps", "csv", "png"}`` (``png`` None without matplotlib)."""
    cfg.validate()
    check_memory(cfg)  # a --resize that cannot fit: refused with the figure before the folder is made
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = run_dir or os.path.join("runs", f"{cfg.model}-{os.path.basename(cfg.dataset)}-lr-{stamp}")
    prepare_new(run_dir, overwrite)
    with RunLock(run_dir):
        write_file(os.path.join(run_dir, "config.json"), json.dumps(dataclasses.asdict(cfg), indent=2))
        splits, num_classes = load_splits(cfg)
        su = build_training(cfg, splits, num_classes)
        res = lr_range_test(su.model, su.loss_fn, su.optimizer, _AsTensors(su.train_loader), start_lr=start_lr,
                            end_lr=end_lr, num_steps=num_steps)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["step", "lr", "loss", "smoothed_loss"])
        for i, (lr, loss, sm) in enumerate(zip(res.lrs, res.losses, res.smoothed, strict=True)):
            w.writerow([i, repr(lr), repr(loss), repr(sm)])
        csv_path = os.path.join(run_dir, "lr_finder.csv")
        write_file(csv_path, buf.getvalue())
        png_path = os.path.join(run_dir, "lr_finder.png")
        title = f"LR range test: {cfg.model} on {os.path.basename(cfg.dataset)} ({cfg.optimizer})"
        png = png_path if _plot(res, png_path, title) else None
    out = {"run_dir": run_dir, "suggested_lr": res.suggested_lr, "diverged": res.diverged, "steps": len(res.lrs),
           "csv": csv_path, "png": png}
    if verbose:
        sug = f"{res.suggested_lr:.3g}" if res.suggested_lr is not None else "none (too few finite points)"
        files = "lr_finder.csv" + (" and lr_finder.png" if png else " (no plot: pip install \"cvprimer[plot]\")")
        print(f"suggested lr {sug} (steepest fall of the smoothed loss over {len(res.lrs)} batches"
              f"{', stopped when the loss diverged' if res.diverged else ''}); {files} in {run_dir}")
    return out
