r"""The Trainer's live progress: a ``tqdm.auto`` bar per epoch, or a plain line without tqdm.

``tqdm.auto`` picks a notebook widget inside Jupyter (it updates live in the cell) and a text bar on a terminal;
with ``disable=None`` it stays silent when stderr is neither (a log file, a pipe), so logs hold only the
per-epoch lines. tqdm comes with the ``lab`` extra; without it the bar is one hand-written line, rewritten in
place on a terminal and absent elsewhere.
"""

from __future__ import annotations

import sys
import time
from typing import Any


def _tqdm() -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


class EpochProgress:
    r"""Progress of one epoch: ``update(loss, acc, lr)`` after each batch, ``close()`` at the end.

    Shows the batch (of ``total`` when known), the running loss and accuracy, the learning rate, elapsed time
    and the time left. ``initial`` batches are counted as already done (a run resumed mid-epoch).
    """

    def __init__(self, epoch: int, total: int | None, initial: int = 0, enabled: bool = True) -> None:
        self.epoch, self.total, self.done = epoch, total, initial
        self._t0, self._initial = time.perf_counter(), initial
        self._bar: Any = None
        self._line = False
        if not enabled:
            return
        tqdm = _tqdm()
        if tqdm is not None:
            self._bar = tqdm(total=total, initial=initial, desc=f"epoch {epoch}", unit="batch", file=sys.stderr,
                             leave=False, disable=None, dynamic_ncols=True)
            if getattr(self._bar, "disable", False):  # neither a terminal nor a notebook: nothing to draw
                self._bar.close()
                self._bar = None
        else:
            self._line = sys.stderr.isatty()

    def update(self, loss: float, acc: float | None, lr: float) -> None:
        """One more batch done; ``loss``/``acc`` are the epoch's running means so far."""
        self.done += 1
        if self._bar is not None:
            post = {"loss": f"{loss:.4f}", **({"acc": f"{acc:.3f}"} if acc is not None else {}), "lr": f"{lr:.3g}"}
            self._bar.set_postfix(post, refresh=False)
            self._bar.update(1)
        elif self._line:
            elapsed = time.perf_counter() - self._t0
            run = self.done - self._initial
            eta = f" eta {elapsed / run * (self.total - self.done):.0f}s" if self.total and run else ""
            metric = f" acc {acc:.3f}" if acc is not None else ""
            of = f"/{self.total}" if self.total else ""
            sys.stderr.write(f"\repoch {self.epoch} batch {self.done}{of} loss {loss:.4f}{metric} lr {lr:.3g} "
                             f"{elapsed:.0f}s{eta}   ")
            sys.stderr.flush()

    def close(self) -> None:
        """Remove the bar (or the line), so the epoch's summary line prints on a clean line."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._line:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()
            self._line = False
