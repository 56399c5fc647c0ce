"""A model is one file plus its test: ``@register_model`` in the model's own module is the only step that makes it known
to ``get_model``, ``list_models`` and ``cvprimer train --model``; the registry lists no model itself."""

from __future__ import annotations

import ast
import inspect
import pkgutil

import pytest

import cvprimer.models as models
from cvprimer import nn
from cvprimer.models import registry
from cvprimer.models.registry import get_model, list_models, register_model, unregister_model
from cvprimer.train.config import RunError, TrainConfig


def test_a_model_registered_in_its_own_file_is_found_everywhere():
    @register_model
    def toy_net(num_classes: int = 10, **kwargs):
        return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))

    try:
        assert "toy_net" in list_models()
        assert get_model("toy_net", num_classes=3)[1].weight.shape == (3, 64)
        TrainConfig(model="toy_net", dataset="digits").validate()
    finally:
        unregister_model("toy_net")
    assert "toy_net" not in list_models()
    with pytest.raises(RunError, match="--model 'toy_net' is unknown"):
        TrainConfig(model="toy_net", dataset="digits").validate()


def test_a_name_taken_by_another_builder_is_refused():
    def resnet20(**kwargs):
        return None

    with pytest.raises(ValueError, match="'resnet20' is already registered by cvprimer.models.resnet"):
        register_model(resnet20)
    assert get_model("resnet20").fc.weight.shape == (10, 64)


def test_every_builder_is_registered_by_the_module_that_defines_it():
    names = list_models()
    assert len(names) >= 45
    for name in names:
        builder = registry._MODELS[name]
        assert builder.__module__.startswith("cvprimer.models."), name
        assert builder.__module__ != "cvprimer.models.registry", name


def test_the_registry_module_names_no_model():
    """No model module is imported or listed by the registry: discovery is by package walk."""
    tree = ast.parse(inspect.getsource(registry))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "cvprimer.models"
                for a in n.names}
    modules = {m.name for m in pkgutil.iter_modules(models.__path__)}
    assert not imported & modules
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert not strings & set(list_models())
