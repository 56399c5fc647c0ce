"""Receptive fields come from the ops' declared geometry, not from their names.

A renamed subclass of every spatial op (``class Renamed(Conv2dFn): pass``, used through ``apply`` by the public
function) must get exactly the field and the exact unit regions of the original; an op that declares no
geometry must be reported as "unknown" (and its region as the whole input), never as a 1 x 1 field.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from analysis_nets import Conv, Lambda

import cvprimer.functional as F
from cvprimer import nn
from cvprimer.analysis import trace, unit_region
from cvprimer.analysis.receptive_field import ReceptiveFields
from cvprimer.core.cost import same_shape_infer
from cvprimer.core.function import Function

api = importlib.import_module("cvprimer.core.api")
index = importlib.import_module("cvprimer.core.ops.index")
conv2d_mod = importlib.import_module("cvprimer.functional.conv.conv2d")
convt_mod = importlib.import_module("cvprimer.functional.conv.conv_transpose")
gn_mod = importlib.import_module("cvprimer.functional.normalization.group_norm")
adaptive = importlib.import_module("cvprimer.functional.pooling.adaptive")
avg_pool = importlib.import_module("cvprimer.functional.pooling.avg_pool")
global_pool = importlib.import_module("cvprimer.functional.pooling.global_pool")
max_pool = importlib.import_module("cvprimer.functional.pooling.max_pool")
unpool = importlib.import_module("cvprimer.functional.pooling.unpool")
interp_mod = importlib.import_module("cvprimer.functional.sampling.interpolate")
shuffle = importlib.import_module("cvprimer.functional.sampling.shuffle")

def _stem() -> nn.Module:
    return Conv(1, 4, 3, rng=np.random.default_rng(0))


# name -> (module holding the class the public function applies, class name, model after a 3x3 stem)
CASES = {
    "conv5x5": (conv2d_mod, "Conv2dFn", lambda self, x: F.conv2d(x, np.ones((2, 4, 5, 5), np.float32), padding=1)),
    "conv_dilated_strided": (conv2d_mod, "Conv2dFn",
                             lambda self, x: F.conv2d(x, np.ones((2, 4, 3, 3), np.float32), stride=2, dilation=2)),
    "conv_transpose": (convt_mod, "ConvTranspose2dFn",
                       lambda self, x: F.conv_transpose2d(x, np.ones((4, 1, 4, 4), np.float32), stride=2, padding=1)),
    "max_pool": (max_pool, "MaxPool2dFn", lambda self, x: F.max_pool2d(x, 3, 2, 1)),
    "avg_pool": (avg_pool, "AvgPool2dFn", lambda self, x: F.avg_pool2d(x, 3, 2, 1)),
    "adaptive": (adaptive, "AdaptiveAvgPool2dFn", lambda self, x: F.adaptive_avg_pool2d(x, (5, 4))),
    "global_avg": (global_pool, "GlobalAvgPool2dFn", lambda self, x: F.global_avg_pool2d(x)),
    "global_max": (global_pool, "GlobalMaxPool2dFn", lambda self, x: F.global_max_pool2d(x)),
    "unpool": (unpool, "MaxUnpool2dFn", lambda self, x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2)),
    "nearest": (interp_mod, "InterpolateFn", lambda self, x: F.interpolate(x, scale_factor=2)),
    "bilinear": (interp_mod, "InterpolateFn",
                 lambda self, x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)),
    "bicubic": (interp_mod, "InterpolateFn", lambda self, x: F.interpolate(x, scale_factor=2, mode="bicubic")),
    "area": (interp_mod, "InterpolateFn", lambda self, x: F.interpolate(x, size=(6, 7), mode="area")),
    "pixel_shuffle": (shuffle, "PixelShuffleFn", lambda self, x: F.pixel_shuffle(x, 2)),
    "pixel_unshuffle": (shuffle, "PixelUnshuffleFn", lambda self, x: F.pixel_unshuffle(x, 2)),
    "pad": (api, "PadFn", lambda self, x: F.pad(x, (2, 0, 1, 3))),
    "slice": (index, "GetItemFn", lambda self, x: x[:, :, 1::2, 2:9]),
    "group_norm": (gn_mod, "NormalizeFn", lambda self, x: F.group_norm(x, 2)),
}


def _model(fn) -> nn.Module:
    return Lambda(lambda self, x: fn(self, self.stem(x)), stem=_stem())


def _fields(model, shape=(1, 1, 20, 20)):
    tr = trace(model, shape)
    rf = ReceptiveFields(tr).output()
    hw = tr.ops[-1].outputs[0].shape[-2:]
    regions = [unit_region(tr, i, j) for i in range(min(hw[0], 3)) for j in range(min(hw[1], 3))] \
        if len(tr.ops[-1].outputs[0].shape) == 4 else []
    return tr, rf, regions


@pytest.mark.parametrize("name", sorted(CASES))
def test_renamed_subclass_gets_the_true_field(name, monkeypatch):
    holder, cls_name, fn = CASES[name]
    _, want, want_regions = _fields(_model(fn))
    original = getattr(holder, cls_name)
    renamed = type("Renamed", (original,), {})
    monkeypatch.setattr(holder, cls_name, renamed)
    tr, got, regions = _fields(_model(fn))
    assert any(r.fn is renamed for r in tr.ops), "the renamed class was not used"
    assert want.kind in ("local", "global")
    assert (got.kind, got.size, got.jump, got.start, got.context) == \
        (want.kind, want.size, want.jump, want.start, want.context)
    assert regions == want_regions


def test_true_fields_of_a_few_renamed_ops(monkeypatch):
    # the numbers themselves: a 3x3 stem then a 5x5 conv sees 7x7; a 2x pooling after it 8x8 with jump 2
    renamed = type("MyConv", (conv2d_mod.Conv2dFn,), {})
    monkeypatch.setattr(conv2d_mod, "Conv2dFn", renamed)
    _, rf, _ = _fields(_model(CASES["conv5x5"][2]))
    assert rf.kind == "local" and rf.size == (7.0, 7.0)
    _, rf, _ = _fields(_model(lambda self, x: F.max_pool2d(x, 2)))
    assert rf.size == (4.0, 4.0) and rf.jump == (2.0, 2.0)
    _, rf, _ = _fields(_model(CASES["global_avg"][2]))
    assert rf.kind == "global"
    _, rf, _ = _fields(_model(CASES["group_norm"][2]))
    assert rf.kind == "local" and rf.context and rf.size == (3.0, 3.0)


class Undeclared(Function):
    """Same-shaped output, no geometry declared: the analyzer cannot know what it reads."""

    infer = staticmethod(same_shape_infer)

    @staticmethod
    def forward(ctx, x):
        return x[:, :, ::-1].copy()

    @staticmethod
    def backward(ctx, gy):
        return gy[:, :, ::-1].copy()


def test_an_op_without_geometry_has_an_unknown_field():
    model = _model(lambda self, x: Undeclared.apply(x))
    tr, rf, _ = _fields(model)
    assert rf.kind == "unknown" and "declares no geometry" in rf.note
    # the exact region is then the whole input (a superset), never a 1 x 1 guess
    assert unit_region(tr, 0, 0) == ((0, 19), (0, 19))
    # what follows an unknown field stays unknown
    tr = trace(Lambda(lambda self, x: F.relu(Undeclared.apply(self.stem(x))), stem=_stem()), (1, 1, 20, 20))
    assert ReceptiveFields(tr).output().kind == "unknown"


AUTOGRAD = {  # the declared geometry against the support of d y[unit] / d x (exact for linear resampling)
    "bicubic": lambda self, x: F.interpolate(x, scale_factor=2, mode="bicubic"),
    "bicubic_aligned": lambda self, x: F.interpolate(x, size=(31, 29), mode="bicubic", align_corners=True),
    "area": lambda self, x: F.interpolate(x, size=(6, 7), mode="area"),
    "adaptive": lambda self, x: F.adaptive_avg_pool2d(x, (5, 4)),
    "unpool": lambda self, x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2),
}


@pytest.mark.parametrize("name", sorted(AUTOGRAD))
def test_declared_regions_against_autograd(name):
    from cvprimer.analysis import effective_receptive_field, input_region

    model = Lambda(lambda self, x: AUTOGRAD[name](self, self.stem(x)), stem=Conv(1, 1, 3, rng=np.random.default_rng(1)))
    shape = (1, 1, 18, 18)
    tr = trace(model, shape)
    rf = ReceptiveFields(tr).output()
    hw = tr.ops[-1].outputs[0].shape[-2:]
    rng = np.random.default_rng(3)
    for i, j in ((hw[0] // 2, hw[1] // 2), (hw[0] // 2 + 1, hw[1] // 2 - 1), (1, 1)):
        support = effective_receptive_field(model, shape, unit=(i, j), n_samples=1, rng=rng)["support"]
        region = unit_region(tr, i, j)
        env = input_region(rf, i, j, shape[2:])
        if name == "unpool":  # the field holds every position the index could name: a superset of the support
            if support is not None:
                assert all(region[a][0] <= support[a][0] and support[a][1] <= region[a][1] for a in range(2))
        else:
            assert region == support, (name, i, j)
        if "unequal" not in rf.note:  # bins of unequal size: the envelope shows the largest bin, not a bound
            assert all(env[a][0] <= region[a][0] and region[a][1] <= env[a][1] for a in range(2)), (name, env, region)
