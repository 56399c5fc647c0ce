r"""Diagnose a training run from its history (canon questions 4, 23, 46).

``diagnose(history, monitors=None)`` returns :class:`Finding`s, each with the evidence
that triggered it and the remedies that apply. The rules, with their thresholds as
keyword arguments:

- **divergence**: a non-finite loss, a final training loss above ``diverge_ratio`` times
  the first one, or a per-step loss that spiked above ``spike_ratio`` times the first step's
  (a blow-up after which the network may sit dead at chance level) -> the learning rate is too
  high (or the data has NaNs).
- **overfitting**: validation loss reached its minimum at epoch e* and has risen by more
  than ``overfit_rise`` (relative) since, for at least ``patience`` epochs, while the
  training loss kept falling; the finding names the epoch it began (e* + 1).
- **underfitting**: the final training accuracy is below ``target_acc`` and the
  train/validation gap is small: the model (or the training time) is too small.

Where the history holds the exact training metrics (``train_loss_exact`` / ``train_acc_exact``: the epoch's final
weights over the training split, ``train_eval="exact"``), the overfitting and underfitting rules compare those with
the validation metrics, which are measured the same way; the running means (``train_loss`` / ``train_acc``, averaged
over the epoch's batches while the weights moved, in train mode) lag behind them. The divergence, stall and
oscillation rules read the running loss, which every run logs.
- **stall**: the training loss moved less than ``stall_tol`` (relative) over the run ->
  learning rate too low, dead units or a bad initialisation.
- **oscillation**: per-step (or per-epoch) losses whose successive differences change sign
  more than ``osc_sign_frac`` of the time with an amplitude above ``osc_amp`` of the mean
  loss, without a downward trend -> learning rate too high or batches too small.
- **vanishing / exploding gradients** (needs ``monitors["grad_norms"]``: layer name -> list
  of norms, ordered from input to output): the input-side norm below ``vanish_ratio`` times
  the output-side norm; a non-finite norm or one above ``explode_norm``.
- **dead units** (``monitors["dead_fraction"]``: layer -> fraction of ReLUs never active).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

REMEDIES = {
    "divergence": ["lower the learning rate (e.g. by 10x)", "add learning-rate warmup",
                   "clip gradients by global norm", "check the data for NaN/Inf"],
    "overfitting": ["early stopping at the best validation epoch", "more data or data augmentation",
                    "L2 weight decay / L1 penalty", "dropout", "a smaller model", "batch normalisation",
                    "clean mislabelled samples"],
    "underfitting": ["a larger model (depth/width)", "train longer", "raise the learning rate",
                     "less regularisation", "better features / normalised inputs"],
    "stall": ["raise the learning rate", "check for dead ReLUs (use leaky ReLU / better init)",
              "use He/Xavier initialisation", "normalise inputs", "add batch normalisation"],
    "oscillation": ["lower the learning rate", "use a larger batch", "use momentum / Adam",
                    "use a decaying schedule"],
    "vanishing_gradients": ["ReLU-family activations instead of sigmoid/tanh", "residual connections",
                            "batch normalisation", "He/Xavier initialisation"],
    "exploding_gradients": ["gradient clipping", "lower the learning rate", "batch normalisation",
                            "smaller initial weights"],
    "dead_units": ["lower the learning rate", "leaky ReLU / ELU", "He initialisation", "lower weight decay"],
}


@dataclass
class Finding:
    kind: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    remedies: list[str] = field(default_factory=list)
    epoch: int | None = None

    def __str__(self) -> str:
        where = f" (from epoch {self.epoch})" if self.epoch is not None else ""
        return f"{self.kind}{where}: {self.message}; try: " + "; ".join(self.remedies)


def _columns(history: Any) -> dict[str, np.ndarray]:
    """Per-epoch records (list of dicts) or a dict of lists -> dict of float arrays."""
    if isinstance(history, dict):
        cols = history
    else:
        keys = {k for rec in history for k in rec}
        cols = {k: [rec.get(k, np.nan) for rec in history] for k in keys}
    return {k: np.asarray(v, dtype=np.float64) for k, v in cols.items() if k != "epoch"}


def _finding(kind: str, message: str, epoch: int | None = None, **evidence: Any) -> Finding:
    return Finding(kind, message, evidence, list(REMEDIES[kind]), epoch)


def diagnose(
    history: Any,
    monitors: dict[str, Any] | None = None,
    step_losses: Any = None,
    *,
    diverge_ratio: float = 1.5,
    spike_ratio: float = 10.0,
    overfit_rise: float = 0.05,
    patience: int = 2,
    target_acc: float = 0.8,
    gap_tol: float = 0.05,
    stall_tol: float = 0.01,
    osc_sign_frac: float = 0.6,
    osc_amp: float = 0.1,
    vanish_ratio: float = 1e-3,
    explode_norm: float = 1e3,
    dead_frac: float = 0.5,
) -> list[Finding]:
    """Findings about a run; an empty list means nothing looked wrong. See the module docstring."""
    cols = _columns(history)
    out: list[Finding] = []
    tl = cols.get("train_loss")
    vl = cols.get("val_loss")
    if tl is None or tl.size == 0:
        raise ValueError("diagnose: history needs a 'train_loss' per epoch")
    bad = ~np.isfinite(tl)
    if bad.any():
        e = int(np.argmax(bad)) + 1
        out.append(_finding("divergence", f"training loss became non-finite at epoch {e}", e, first_nan_epoch=e))
        return out
    if tl.size >= 2 and tl[-1] > diverge_ratio * tl[0]:
        out.append(_finding("divergence", f"training loss rose from {tl[0]:.4g} to {tl[-1]:.4g}", None,
                            first=float(tl[0]), last=float(tl[-1])))
        return out
    steps = np.asarray(step_losses, dtype=np.float64) if step_losses is not None else None
    if steps is not None and steps.size >= 2:
        if not np.isfinite(steps).all():
            s = int(np.argmax(~np.isfinite(steps)))
            out.append(_finding("divergence", f"step loss became non-finite at step {s}", None, step=s))
            return out
        if steps.max() > spike_ratio * max(steps[0], 1e-12):
            s = int(np.argmax(steps))
            out.append(_finding("divergence", f"step loss spiked from {steps[0]:.4g} to {steps[s]:.4g} at step {s}",
                                None, step=s, first=float(steps[0]), peak=float(steps[s])))
            return out
    exact_loss = cols.get("train_loss_exact")
    if exact_loss is not None and exact_loss.size == tl.size and np.isfinite(exact_loss).all():
        tl_fit = exact_loss  # the final weights of each epoch, as the validation loss sees them
    else:
        tl_fit = tl
    if vl is not None and np.isfinite(vl).all() and vl.size >= patience + 1:
        e_best = int(np.argmin(vl))
        rise = (vl[-1] - vl[e_best]) / max(abs(vl[e_best]), 1e-12)
        if vl.size - 1 - e_best >= patience and rise > overfit_rise and tl_fit[-1] < tl_fit[e_best]:
            out.append(_finding(
                "overfitting",
                f"validation loss bottomed at epoch {e_best + 1} ({vl[e_best]:.4g}) and rose {100 * rise:.0f}% "
                f"while training loss fell from {tl_fit[e_best]:.4g} to {tl_fit[-1]:.4g}",
                e_best + 2, best_epoch=e_best + 1, val_rise=float(rise)))
    ta, va = cols.get("train_acc"), cols.get("val_acc")
    exact_acc = cols.get("train_acc_exact")
    if exact_acc is not None and exact_acc.size and np.isfinite(exact_acc[-1]):
        ta = exact_acc
    if ta is not None and ta.size and np.isfinite(ta[-1]) and ta[-1] < target_acc:
        gap = abs(ta[-1] - va[-1]) if va is not None and va.size and np.isfinite(va[-1]) else 0.0
        if gap <= gap_tol:
            out.append(_finding("underfitting", f"training accuracy only {ta[-1]:.3f} (< {target_acc}) with a "
                                f"train/validation gap of {gap:.3f}", None, train_acc=float(ta[-1]), gap=float(gap)))
    if tl.size >= 3 and abs(tl[-1] - tl[0]) <= stall_tol * max(abs(tl[0]), 1e-12):
        out.append(_finding("stall", f"training loss barely moved ({tl[0]:.4g} -> {tl[-1]:.4g})", None,
                            first=float(tl[0]), last=float(tl[-1])))
    series = steps if steps is not None else tl
    if series.size >= 6 and np.isfinite(series).all():
        d = np.diff(series)
        flips = np.mean(np.sign(d[1:]) != np.sign(d[:-1]))
        amp = np.std(d) / max(abs(np.mean(series)), 1e-12)
        half = series.size // 2
        trend = np.mean(series[half:]) < 0.8 * np.mean(series[:half])
        if flips > osc_sign_frac and amp > osc_amp and not trend:
            out.append(_finding("oscillation", f"loss changes direction {100 * flips:.0f}% of steps with relative "
                                f"amplitude {amp:.2f} and no downward trend", None, sign_flips=float(flips),
                                amplitude=float(amp)))
    out.extend(_gradient_findings(monitors or {}, vanish_ratio, explode_norm, dead_frac))
    return out


def _gradient_findings(monitors: dict[str, Any], vanish_ratio: float, explode_norm: float,
                       dead_frac: float) -> list[Finding]:
    out: list[Finding] = []
    norms = monitors.get("grad_norms")
    if norms:
        names = list(norms)
        last = {n: np.asarray(norms[n], dtype=np.float64).reshape(-1) for n in names}
        nonfinite = [n for n in names if not np.isfinite(last[n]).all()]
        big = [n for n in names if np.isfinite(last[n]).all() and last[n].max(initial=0) > explode_norm]
        if nonfinite or big:
            worst = (nonfinite or big)[0]
            out.append(_finding("exploding_gradients", f"gradient norm of {worst} is "
                                f"{'non-finite' if nonfinite else f'{last[worst].max():.3g}'}", None,
                                layers=nonfinite or big))
        elif len(names) >= 2:
            first, final = last[names[0]][-1], last[names[-1]][-1]
            if final > 0 and first / final < vanish_ratio:
                out.append(_finding("vanishing_gradients", f"gradient norm falls from {final:.3g} at {names[-1]} to "
                                    f"{first:.3g} at {names[0]} (ratio {first / final:.2g})", None,
                                    ratio=float(first / final), per_layer={n: float(last[n][-1]) for n in names}))
    dead = {k: float(v) for k, v in (monitors.get("dead_fraction") or {}).items() if float(v) > dead_frac}
    if dead:
        out.append(_finding("dead_units", f"layers with more than {dead_frac:.0%} ReLUs never active: {dead}", None,
                            layers=dead))
    return out
