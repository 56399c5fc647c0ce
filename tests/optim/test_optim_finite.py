"""Every optimizer refuses a non-finite hyper-parameter at construction (issue 25, point 17): ``SGD(lr=nan)``
used to be accepted and turned the weights into NaN at the first step."""

from __future__ import annotations

import math

import pytest

import cvprimer as cp
from cvprimer import optim

OPTIMIZERS = [optim.SGD, optim.Adagrad, optim.Adadelta, optim.Adam, optim.AdamW, optim.Adamax, optim.NAdam,
              optim.RAdam, optim.RMSprop]
BAD = [math.nan, math.inf, -math.inf]


def _numbers(cls: type) -> list[str]:
    w = cp.tensor([1.0], requires_grad=True)
    d = cls([w], lr=0.1).defaults
    return [k for k, v in d.items() if not isinstance(v, bool) and isinstance(v, (int, float, tuple))]


CASES = [(cls, k) for cls in OPTIMIZERS for k in _numbers(cls)]


def test_the_cases_cover_lr_momentum_betas_eps_and_weight_decay():
    names = {k for _, k in CASES}
    assert {"lr", "momentum", "betas", "eps", "weight_decay"} <= names
    assert (optim.SGD, "lr") in CASES and (optim.Adam, "betas") in CASES


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("cls,key", CASES, ids=[f"{c.__name__}-{k}" for c, k in CASES])
def test_a_non_finite_hyper_parameter_is_refused(cls, key, bad):
    w = cp.tensor([1.0], requires_grad=True)
    default = cls([w], lr=0.1).defaults[key]
    value = (default[0], bad) if isinstance(default, tuple) else bad
    kwargs = {"lr": 0.1, key: value}
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: invalid {key} .*finite"):
        cls([w], **kwargs)
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: invalid {key} .*finite"):  # a param group's own
        cls([{"params": [w], key: value}], lr=0.1)


def test_sgd_lr_nan_is_refused_with_a_clear_message():
    w = cp.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"^SGD: invalid lr nan \(expected a finite number\)$"):
        optim.SGD([w], lr=float("nan"))
