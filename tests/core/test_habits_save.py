"""``cp.save`` / ``cp.load`` of nested objects as ``torch.save`` / ``torch.load`` take them (issue 26): the
same structure, types and values come back; compared with PyTorch's round trip in the same test."""

from __future__ import annotations

import math
import zipfile
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest
import torch

import cvprimer as cp
from cvprimer import nn, optim


def _same(a: Any, b: Any) -> None:
    """Structural equality with exact values and matching types."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, cp.Tensor):
        assert a.dtype == b.dtype and a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a.data, b.data)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def _trained(lib: Any, seed: int = 0) -> tuple[Any, Any]:
    """A Linear layer and an SGD-with-momentum optimizer after one step, in either library."""
    rng = np.random.default_rng(seed)
    w, b, x = rng.standard_normal((3, 4)), rng.standard_normal(3), rng.standard_normal((2, 4))
    model = lib.nn.Linear(4, 3).double() if lib is torch else nn.Linear(4, 3, dtype=cp.float64)
    with lib.no_grad():
        model.weight.copy_(lib.tensor(w))
        model.bias.copy_(lib.tensor(b))
    opt = (torch.optim if lib is torch else optim).SGD(model.parameters(), lr=0.05, momentum=0.9)
    model(lib.tensor(x)).sum().backward()
    opt.step()
    return model, opt


def test_nested_checkpoint_round_trips_like_torch(tmp_path: Any) -> None:
    model, opt = _trained(cp)
    tmodel, topt = _trained(torch)
    obj = {"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 3, "note": "best"}
    tobj = {"model": tmodel.state_dict(), "opt": topt.state_dict(), "epoch": 3, "note": "best"}
    cp.save(obj, tmp_path / "c.npz")
    torch.save(tobj, tmp_path / "c.pt")
    back, tback = cp.load(tmp_path / "c.npz"), torch.load(tmp_path / "c.pt")
    _same(obj, back)
    assert back["epoch"] == tback["epoch"] == 3 and back["note"] == tback["note"] == "best"
    assert back["opt"]["param_groups"][0]["lr"] == tback["opt"]["param_groups"][0]["lr"] == 0.05
    assert sorted(back["opt"]["state"]) == sorted(tback["opt"]["state"]) == [0, 1]  # int keys stay ints
    for k in ("weight", "bias"):
        np.testing.assert_allclose(np.asarray(back["model"][k]), tback["model"][k].numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(back["opt"]["state"][0]["momentum_buffer"]),
                               tback["opt"]["state"][0]["momentum_buffer"].numpy(), rtol=1e-12)
    fresh = nn.Linear(4, 3, dtype=cp.float64)
    fresh.load_state_dict(back["model"])
    fresh_opt = optim.SGD(fresh.parameters(), lr=0.05, momentum=0.9)
    fresh_opt.load_state_dict(back["opt"])
    assert bool((fresh.weight == model.weight).all())


def test_leaves_and_containers_keep_their_types_and_values(tmp_path: Any) -> None:
    t = cp.tensor([1.5, -2.0], requires_grad=True)
    obj = {
        "ints": [0, -7, 2**70], "floats": (0.1, 1e-300, float("inf"), float("nan")), "flags": [True, False, None],
        "text": "naïve ✓", "empty": {"d": {}, "l": [], "t": ()}, "ord": OrderedDict([("b", 1), ("a", 2)]),
        "arr": np.arange(6, dtype=np.int16).reshape(2, 3), "strs": np.array(["x", "yz"]),
        "np_scalar": np.float32(0.25), "t": t, "t64": cp.zeros(2, 2, dtype=cp.float64), 5: "int key",
    }
    p = tmp_path / "tree.npz"
    cp.save(obj, p)
    back = cp.load(p)
    _same(obj, back)
    assert isinstance(back["np_scalar"], np.float32) and back["t"].requires_grad and back["t"].is_leaf
    # torch keeps the same Python-level values
    torch.save({k: v for k, v in obj.items() if k not in ("arr", "strs", "np_scalar", "t", "t64")}, tmp_path / "p")
    tback = torch.load(tmp_path / "p", weights_only=False)
    for k in ("ints", "flags", "text", "empty", "ord", 5):
        assert tback[k] == back[k]


def test_shared_tensors_load_as_one_object_like_torch(tmp_path: Any) -> None:
    a, ta = cp.ones(3), torch.ones(3)
    cp.save({"x": a, "y": [a]}, tmp_path / "s.npz")
    torch.save({"x": ta, "y": [ta]}, tmp_path / "s.pt")
    back, tback = cp.load(tmp_path / "s.npz"), torch.load(tmp_path / "s.pt")
    assert (back["x"] is back["y"][0]) and (tback["x"] is tback["y"][0])
    with zipfile.ZipFile(tmp_path / "s.npz") as zf:
        assert sorted(zf.namelist()) == ["0.npy", "__tree__.npy"]  # stored once


def test_flat_array_dicts_keep_their_layout(tmp_path: Any) -> None:
    sd = nn.Linear(2, 2).state_dict()
    cp.save(sd, tmp_path / "f.npz")
    with zipfile.ZipFile(tmp_path / "f.npz") as zf:
        assert sorted(zf.namelist()) == ["bias.npy", "weight.npy"]
    back = cp.load(tmp_path / "f.npz")
    assert type(back) is dict and all(isinstance(v, np.ndarray) for v in back.values())
    np.testing.assert_array_equal(back["weight"], sd["weight"])


@pytest.mark.parametrize("obj,match", [
    ({"f": lambda: 0}, r"obj\['f'\] has type function"),
    ({"m": {"k": {1, 2}}}, r"obj\['m'\]\['k'\] has type set"),
    ({(1, 2): 0}, r"has a key \(1, 2\) of type tuple"),
    ({"o": np.array([None], dtype=object)}, "has dtype object"),
])
def test_what_cannot_be_stored_without_pickling_is_named(tmp_path: Any, obj: Any, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        cp.save(obj, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_a_damaged_tree_is_one_clear_error(tmp_path: Any) -> None:
    p = tmp_path / "bad.npz"
    with zipfile.ZipFile(p, "w") as zf:
        with zf.open("__tree__.npy", "w") as f:
            np.lib.format.write_array(f, np.array('{"T": "9"}'))
    with pytest.raises(ValueError, match="cannot be read.*missing member '9'"):
        cp.load(p)


def test_torch_load_keywords_are_accepted(tmp_path: Any) -> None:
    p, tp = tmp_path / "m.npz", tmp_path / "m.pt"
    cp.save({"w": cp.ones(2)}, p)
    torch.save({"w": torch.ones(2)}, tp)
    for loc in (None, "cpu", cp.device("cpu"), {"cuda:0": "cpu"}, lambda storage, where: storage):
        back = cp.load(p, map_location=loc, weights_only=True)
        tloc = torch.device("cpu") if isinstance(loc, cp.device) else loc
        tback = torch.load(tp, map_location=tloc, weights_only=True)
        np.testing.assert_array_equal(back["w"].numpy(), tback["w"].numpy())
    with pytest.raises(RuntimeError, match="load: map_location: device: 'cuda' is not available"):
        cp.load(p, map_location="cuda")
