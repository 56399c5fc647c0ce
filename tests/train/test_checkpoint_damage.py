"""Damaged and hostile checkpoints (issue 25, point 6): ``load_checkpoint`` and ``cvprimer train --resume``
(plain and ``--epochs``) give one line naming the file, exit 2, never a traceback or a MemoryError."""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import numpy as np
import pytest

import cvprimer as cp
from conftest import TinyMLP
from cvprimer import optim
from cvprimer.cli import main
from cvprimer.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

TINY = ["--model", "lenet5", "--dataset", "digits", "--resize", "32", "--batch-size", "128", "--quiet"]


def _huge(path):
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("__meta__.npy", head.getvalue() + b"\0" * 16)


def _rewrite_meta(path, meta):
    arrays = cp.load(path)
    arrays["__meta__"] = meta
    cp.save(arrays, path)


def _damage(path, how):
    blob = path.read_bytes()
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(blob[: len(blob) * 2 // 3])
    elif how == "random":
        path.write_bytes(np.random.default_rng(1).bytes(len(blob)))
    elif how == "flipped":  # a byte inside the first member's data: its CRC no longer matches
        b = bytearray(blob)
        b[200] ^= 0x55
        path.write_bytes(bytes(b))
    elif how == "huge":
        _huge(path)
    elif how == "not-json":
        _rewrite_meta(path, np.array("{not json"))
    elif how == "json-list":
        _rewrite_meta(path, np.array("[1, 2]"))
    elif how == "meta-array":
        _rewrite_meta(path, np.zeros(3))
    else:
        info = json.loads(str(cp.load(path)["__meta__"]))
        if how == "epoch-str":
            info["epoch"] = "two"
        elif how == "no-scalars":
            del info["optimizer"]["scalars"]
        elif how == "bad-rng":
            info["rngs"] = {k: {"bit_generator": "PCG64", "state": "x"} for k in info["rngs"]}
        elif how == "bad-lr":
            info["optimizer"]["param_groups"][0]["lr"] = "fast"
        _rewrite_meta(path, np.array(json.dumps(info)))


CASES = ["empty", "truncated", "random", "flipped", "huge", "not-json", "json-list", "meta-array", "epoch-str",
         "no-scalars", "bad-rng", "bad-lr"]


@pytest.mark.parametrize("how", CASES)
def test_load_checkpoint_gives_one_line_naming_the_file(tmp_path, how):
    model = TinyMLP()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    p = tmp_path / "last.npz"
    save_checkpoint(p, model, opt, epoch=2, rngs={"data": np.random.default_rng(0)})
    load_checkpoint(p, TinyMLP(), optim.SGD(TinyMLP().parameters(), lr=0.1, momentum=0.9))  # intact: loads
    _damage(p, how)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(p, TinyMLP(), optim.SGD(TinyMLP().parameters(), lr=0.1, momentum=0.9),
                        rngs={"data": np.random.default_rng(0)})
    msg = str(e.value)
    assert "last.npz" in msg and "\n" not in msg, msg


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", *TINY, "--epochs", "1", "--run-dir", str(run)]) == 0
    return run


@pytest.mark.parametrize("how", ["empty", "truncated", "random", "flipped", "huge", "not-json", "epoch-str",
                                 "bad-rng"])
@pytest.mark.parametrize("extend", [False, True])
def test_resume_with_a_damaged_last_checkpoint_is_one_line_exit_2(tmp_path, capsys, finished_run, how, extend):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    _damage(run / "checkpoints" / "last.npz", how)
    capsys.readouterr()
    rc = main(["train", "--resume", str(run), "--quiet", *(["--epochs", "2"] if extend else [])])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2, err
    assert len(err) == 1 and err[0].startswith("cvprimer train:") and "last.npz" in err[0], err
