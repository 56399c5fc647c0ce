"""argparse value types shared by the command-line verbs: each refuses a bad value with a message naming
what was expected (argparse adds the flag's name). Floats must be finite: ``nan`` and ``inf`` never pass."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _interval(lo: float, hi: float, lo_closed: bool, hi_closed: bool) -> str:
    if hi == math.inf:
        return f"{'>=' if lo_closed else '>'} {_num(lo)}"
    return f"in {'[' if lo_closed else '('}{_num(lo)}, {_num(hi)}{']' if hi_closed else ')'}"


def number(lo: float, hi: float = math.inf, lo_closed: bool = True, hi_closed: bool = False,
           integer: bool = False) -> Callable[[str], float | int]:
    """An argparse type accepting a finite number (an integer when ``integer``) in the given interval."""
    kind = "an integer" if integer else "a finite number"
    expected = f"{kind} {_interval(lo, hi, lo_closed, hi_closed)}"

    def parse(text: str) -> float | int:
        try:
            v: float | int = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        inside = (v >= lo if lo_closed else v > lo) and (v <= hi if hi_closed else v < hi)
        if not (math.isfinite(v) and inside):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return v

    return parse


positive_int = number(1, integer=True)
non_negative_int = number(0, integer=True)
positive_float = number(0, lo_closed=False)
non_negative_float = number(0)
seed_int = number(0, 2**32, integer=True)
fraction = number(0, 1, lo_closed=False)  # (0, 1)
probability = number(0, 1)  # [0, 1)
