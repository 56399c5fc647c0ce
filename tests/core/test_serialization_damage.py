"""cp.load on damaged and hostile files (issue 25, point 6): one ValueError naming the file, never a traceback
of another kind or a MemoryError, and nothing allocated for what a header merely claims."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

import cvprimer as cp


def _good(tmp_path):
    p = tmp_path / "good.npz"
    cp.save({"w": np.arange(12, dtype=np.float32).reshape(3, 4), "n": np.array(3), "s": np.array('{"a": 1}')}, p)
    return p


def _lying_npz(path, shape, compress=zipfile.ZIP_STORED, data=b"\0" * 16):
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f8", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", compress) as zf:
        zf.writestr("x.npy", head.getvalue() + data)
    return path


@pytest.mark.parametrize("compress", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_header_claiming_a_terabyte_is_refused_before_allocating(tmp_path, compress):
    p = _lying_npz(tmp_path / "huge.npz", (10**12,), compress)
    assert p.stat().st_size < 400
    with pytest.raises(ValueError, match=r"huge\.npz.*\(1000000000000,\)"):
        cp.load(p)


def test_header_claiming_less_than_stored_is_refused(tmp_path):
    p = _lying_npz(tmp_path / "short.npz", (1,), data=b"\0" * 64)
    with pytest.raises(ValueError, match=r"short\.npz.*holds 64 bytes"):
        cp.load(p)


def test_empty_random_and_truncated_files(tmp_path):
    good = _good(tmp_path).read_bytes()
    cases = {"empty.npz": b"", "random.npz": np.random.default_rng(0).bytes(3000),
             "head.npz": good[: len(good) // 2], "tail.npz": good[len(good) // 2:], "cut.npz": good[:-30]}
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(ValueError, match=rf"load: '.*{name}' cannot be read"):
            cp.load(tmp_path / name)


def test_every_flipped_byte_loads_or_raises_one_value_error(tmp_path):
    p = _good(tmp_path)
    good = p.read_bytes()
    ref = cp.load(p)
    failures = 0
    for i in range(len(good)):
        blob = bytearray(good)
        blob[i] ^= 0xFF
        q = tmp_path / "flip.npz"
        q.write_bytes(bytes(blob))
        try:
            out = cp.load(q)
        except ValueError as e:
            assert "flip.npz" in str(e) and "\n" not in str(e), (i, e)
            failures += 1
            continue
        # a flip in a field nobody checks (a timestamp, a file comment) must leave the values intact
        assert set(out) == set(ref), i
        for k in ref:
            np.testing.assert_array_equal(out[k], ref[k])
    assert failures > len(good) // 2  # CRCs and header checks catch most flips
