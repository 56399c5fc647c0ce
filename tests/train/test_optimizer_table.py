"""The train CLI's optimizer table (issue 28 point 5: generated, not 11 hand-written lambdas) builds exactly the
optimizer each name stands for, with the config's hyperparameters; and the GradientMonitor finds ReLUs by class."""

import dataclasses
import types

import numpy as np
import pytest

import cvprimer as cp
from cvprimer import nn, optim
from cvprimer.train.config import OPTIMIZER_NAMES, TrainConfig
from cvprimer.train.run import OPTIMIZERS

CFG = TrainConfig(lr=0.03, momentum=0.8, weight_decay=5e-4, l1=1e-5)
EXPECTED = {
    "sgd": (optim.SGD, {"momentum": 0.0, "nesterov": False}),
    "momentum": (optim.SGD, {"momentum": 0.8, "nesterov": False}),
    "nesterov": (optim.SGD, {"momentum": 0.8, "nesterov": True}),
    "adam": (optim.Adam, {}), "adamw": (optim.AdamW, {}), "rmsprop": (optim.RMSprop, {}),
    "adagrad": (optim.Adagrad, {}), "adadelta": (optim.Adadelta, {}), "adamax": (optim.Adamax, {}),
    "nadam": (optim.NAdam, {}), "radam": (optim.RAdam, {}),
}


def test_table_names_are_the_cli_choices():
    assert set(OPTIMIZERS) == set(OPTIMIZER_NAMES) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_choice_builds_its_optimizer_with_the_config(name):
    p = nn.Parameter(cp.zeros(3))
    opt = OPTIMIZERS[name]([p], CFG)
    cls, extra = EXPECTED[name]
    assert type(opt) is cls
    g = opt.param_groups[0]
    assert g["lr"] == 0.03 and g["weight_decay"] == 5e-4 and g["l1_decay"] == 1e-5
    for k, v in extra.items():
        assert g[k] == v, (name, k)


def test_adamw_decays_by_default_like_pytorch():
    p = nn.Parameter(cp.zeros(3))
    assert OPTIMIZERS["adamw"]([p], dataclasses.replace(CFG, weight_decay=0.0)).param_groups[0]["weight_decay"] == 1e-2
    assert OPTIMIZERS["adam"]([p], dataclasses.replace(CFG, weight_decay=0.0)).param_groups[0]["weight_decay"] == 0.0


def test_gradient_monitor_finds_relus_by_class_not_name():
    from cvprimer.train.monitors import GradientMonitor

    class ReLU(nn.Module):  # a user's module that only shares the name
        def forward(self, x):
            return x

    class Capped(nn.ReLU6):  # a subclass counts
        pass

    model = nn.Sequential(nn.Linear(2, 2), ReLU(), nn.ReLU(), Capped(), nn.LeakyReLU())
    mon = GradientMonitor()
    mon.on_fit_start(types.SimpleNamespace(model=model))
    mon.on_epoch_start(None, 0)
    model(cp.tensor(np.array([[1.0, -2.0], [-3.0, 0.5]], np.float32)))
    assert sorted(mon.dead_fraction) == ["2", "3", "4"]  # the look-alike "ReLU" (module 1) is not hooked
    with pytest.raises(TypeError, match="relu_types must be module classes"):
        GradientMonitor(relu_types=("ReLU",))
