"""A PyTorch user's constructor call works: every ``cvprimer.nn`` class named like a ``torch.nn`` class accepts every
argument name PyTorch's constructor accepts (``device``/``dtype`` placement aside), except the gaps declared here,
each with its reason. The list must be exact: a gap closed or opened fails the test until the list says so."""

from __future__ import annotations

import inspect

import pytest
import torch

import cvprimer.nn as nn

#: torch.nn class -> the constructor arguments we do not take, and why
GAPS: dict[str, tuple[set[str], str]] = {
    "MultiheadAttention": ({"add_bias_kv", "add_zero_attn", "kdim", "vdim"},
                           "learned extra key/value rows and separate key/value widths are not implemented"),
    "Hardtanh": ({"min_value", "max_value"}, "PyTorch's deprecated spellings of min_val / max_val"),
}
_PLACEMENT = {"self", "device", "dtype", "args", "kwargs"}


def _pairs() -> list[tuple[str, type, type]]:
    out = []
    for name in sorted(dir(nn)):
        ours, theirs = getattr(nn, name), getattr(torch.nn, name, None)
        if inspect.isclass(ours) and inspect.isclass(theirs) and issubclass(theirs, torch.nn.Module):
            out.append((name, ours, theirs))
    return out


def _params(cls: type) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters) - _PLACEMENT


def test_there_are_classes_to_compare():
    assert len(_pairs()) >= 40


@pytest.mark.parametrize("name,ours,theirs", _pairs(), ids=[p[0] for p in _pairs()])
def test_every_torch_constructor_argument_is_taken(name, ours, theirs):
    missing = _params(theirs) - _params(ours)
    expected = GAPS.get(name, (set(), ""))[0]
    assert missing == expected, f"nn.{name}: does not take {sorted(missing)}; declared gaps {sorted(expected)}"
