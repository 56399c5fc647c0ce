"""cp.save / cp.load: round trip, atomic replacement, no pickle, clear errors."""

import os
import pickle

import numpy as np
import pytest

import cvprimer as cp


def test_round_trip_dtypes_and_tensors(tmp_path):
    data = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "t": cp.tensor([1.0, 2.0]),
            "n": np.array(3, np.int64), "b": np.array([True, False]), "file": np.zeros(1),
            "layer.0.weight": np.ones((2, 2), np.float64), "names": np.array(["a", "bc"])}
    p = tmp_path / "ckpt.npz"
    cp.save(data, p)
    out = cp.load(p)
    assert list(out) == list(data)
    for k, v in data.items():
        ref = v.data if isinstance(v, cp.Tensor) else v
        assert out[k].dtype == ref.dtype and out[k].shape == ref.shape
        np.testing.assert_array_equal(out[k], ref)
    assert cp.load(str(p))["n"].item() == 3  # str paths too; no .npz suffix is appended
    cp.save({"x": np.ones(1)}, tmp_path / "noext")
    assert os.path.exists(tmp_path / "noext")


def test_overwrite_is_atomic_and_leaves_no_temp(tmp_path, monkeypatch):
    p = tmp_path / "c.npz"
    cp.save({"v": np.zeros(3)}, p)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", boom)
    with pytest.raises(OSError, match="disk full"):
        cp.save({"v": np.ones(3)}, p)
    monkeypatch.undo()
    np.testing.assert_array_equal(cp.load(p)["v"], np.zeros(3))  # the old file survives intact
    assert sorted(os.listdir(tmp_path)) == ["c.npz"]  # the temp file was removed


def test_refuses_objects_and_pickles(tmp_path):
    with pytest.raises(TypeError, match=r"key 'o' has dtype object"):
        cp.save({"o": np.array([{}, 1], dtype=object)}, tmp_path / "o.npz")
    bad = tmp_path / "pickled.npz"
    np.savez(bad, o=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="unpickling"):
        cp.load(bad)
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="not an .npz archive"):
        cp.load(raw)


@pytest.mark.parametrize("obj,exc,match", [  # lists and int keys are stored since trees (test_habits_save.py)
    ([object()], TypeError, r"obj\[0\] has type object; only tensors, arrays"),
    ({1.5: np.ones(1)}, TypeError, "has a key 1.5 of type float"),
    ({"": np.ones(1)}, TypeError, "keys must be non-empty strings"),
])
def test_save_errors(tmp_path, obj, exc, match):
    with pytest.raises(exc, match=match):
        cp.save(obj, tmp_path / "x.npz")


def test_missing_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        cp.load(tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cp.save({"a": np.ones(1)}, tmp_path / "nodir" / "x.npz")


def test_atomic_write_gives_ordinary_file_permissions(tmp_path):
    import os

    from cvprimer.core.serialization import atomic_write

    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (os.stat(tmp_path / "a.txt").st_mode & 0o777) == 0o644
