r"""Checkpoints: model, optimizer, scheduler, RNG states, epoch and callback state in one ``.npz``.

Layout (one flat archive, written atomically by :func:`cvprimer.save`, read with
``allow_pickle=False``):

- ``model/<name>``: every entry of ``model.state_dict()`` (parameters and buffers);
- ``optim/<index>/<key>``: the optimizer's per-parameter state arrays (scalars as 0-d arrays);
- ``extra/<name>``: further arrays (e.g. early stopping's best weights);
- ``__meta__``: one JSON string with everything else: format version, epoch, the optimizer's
  param groups, the scheduler's state, the bit-generator states of the named RNGs (PCG64 state
  is a 128-bit integer, which JSON holds exactly), callback states and the history so far.

Loading checks the model's keys and shapes first and reports every mismatch at once, so a
checkpoint of a different model is a clear error rather than a half-loaded network.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from cvprimer.core.serialization import load, save, write_error

FORMAT = "cvprimer-checkpoint-1"


class CheckpointError(RuntimeError):
    """A checkpoint could not be written or does not fit the model it is loaded into."""


class CheckpointWriteError(CheckpointError):
    """A checkpoint could not be written (a full disk, a path that is a folder): the earlier file is intact."""


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"checkpoint: cannot store a value of type {type(obj).__name__} in the JSON metadata")


def save_checkpoint(path: str | os.PathLike[str], model: Any, optimizer: Any = None, scheduler: Any = None,
                    epoch: int = 0, rngs: dict[str, np.random.Generator] | None = None,
                    meta: dict[str, Any] | None = None, extra_arrays: dict[str, np.ndarray] | None = None) -> None:
    """Write everything needed to resume training to ``path`` (atomic: old file intact on failure)."""
    arrays: dict[str, Any] = {f"model/{k}": v for k, v in model.state_dict().items()}
    info: dict[str, Any] = {"format": FORMAT, "epoch": int(epoch), "model_class": type(model).__name__}
    if optimizer is not None:
        sd = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for idx, st in sd["state"].items():
            for key, v in st.items():
                if isinstance(v, np.ndarray):
                    arrays[f"optim/{idx}/{key}"] = v
                else:
                    scalars.setdefault(str(idx), {})[key] = _jsonable(v)
        info["optimizer"] = {"class": type(optimizer).__name__, "param_groups": _jsonable(sd["param_groups"]),
                             "scalars": scalars}
    if scheduler is not None:
        info["scheduler"] = {"class": type(scheduler).__name__, "state": _jsonable(scheduler.state_dict())}
    info["rngs"] = {name: _jsonable(g.bit_generator.state) for name, g in (rngs or {}).items()}
    info["meta"] = _jsonable(meta or {})
    for k, v in (extra_arrays or {}).items():
        arrays[f"extra/{k}"] = v
    arrays["__meta__"] = np.array(json.dumps(info))
    try:
        save(arrays, path)
    except OSError as e:
        raise CheckpointWriteError(f"checkpoint: {write_error(path, e)}; the previous checkpoint at that path, if "
                                   "any, is intact") from e


def _check_meta(where: str, info: Any) -> None:
    """The ``__meta__`` entries that loading uses must have the types :func:`save_checkpoint` wrote."""
    if not isinstance(info, dict):
        raise CheckpointError(f"{where}: bad metadata (a JSON {type(info).__name__}, expected an object)")
    if info.get("format") != FORMAT:
        raise CheckpointError(f"{where} has format {info.get('format')!r}, expected {FORMAT}")
    expect = {"epoch": int, "rngs": dict, "meta": dict, "optimizer": dict, "scheduler": dict, "model_class": str}
    for key, typ in expect.items():
        if key in info and (not isinstance(info[key], typ) or isinstance(info[key], bool)):
            raise CheckpointError(f"{where}: bad metadata: {key!r} is a {type(info[key]).__name__}, expected "
                                  f"{typ.__name__}")
    for key in ("epoch", "rngs"):
        if key not in info:
            raise CheckpointError(f"{where}: bad metadata: no {key!r} entry")
    if info["epoch"] < 0:
        raise CheckpointError(f"{where}: bad metadata: epoch {info['epoch']} < 0")
    o = info.get("optimizer")
    if o is not None and not (isinstance(o.get("param_groups"), list) and isinstance(o.get("scalars"), dict)
                              and all(isinstance(g, dict) for g in o["param_groups"])
                              and all(isinstance(d, dict) for d in o["scalars"].values())):
        raise CheckpointError(f"{where}: bad metadata: the optimizer entry lacks its param_groups or scalars")
    sch = info.get("scheduler")
    if sch is not None and not isinstance(sch.get("state"), dict):
        raise CheckpointError(f"{where}: bad metadata: the scheduler entry has no state object")
    if not all(isinstance(v, dict) for v in info["rngs"].values()):
        raise CheckpointError(f"{where}: bad metadata: a random-generator state is not an object")


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON metadata and the arrays of a checkpoint file (validated).

    Every way a file can be damaged (empty, truncated, random bytes, a flipped byte, a header that claims more
    data than the file holds, metadata that is not JSON or not of the written types) is a
    :class:`CheckpointError` naming the file, in one line.
    """
    where = f"checkpoint: {os.fspath(path)!r}"
    try:
        arrays = load(path)
    except (ValueError, OSError) as e:
        raise CheckpointError(f"checkpoint: {str(e).removeprefix('load: ')}") from None
    if "__meta__" not in arrays:
        raise CheckpointError(f"{where} is not a cvprimer checkpoint (no __meta__ entry)")
    meta = arrays.pop("__meta__")
    if meta.shape != () or meta.dtype.kind != "U":
        raise CheckpointError(f"{where}: bad metadata (__meta__ is {meta.dtype} of shape {meta.shape}, expected "
                              "one JSON string)")
    try:
        info = json.loads(str(meta))
    except ValueError as e:
        raise CheckpointError(f"{where}: bad metadata (not JSON: {e})") from None
    _check_meta(where, info)
    return info, arrays


def _check_optimizer(path: Any, saved: dict[str, Any], optimizer: Any) -> None:
    """The checkpoint's optimizer must be of the same class, with the same groups and hyper-parameter names."""
    where = f"checkpoint: {os.fspath(path)!r}"
    if saved.get("class") != type(optimizer).__name__:
        raise CheckpointError(f"{where} holds {saved.get('class')} state but the optimizer is "
                              f"{type(optimizer).__name__}; resume with the optimizer the run was started with")
    groups, own = saved.get("param_groups", []), optimizer.state_dict()["param_groups"]
    if len(groups) != len(own):
        raise CheckpointError(f"{where} has {len(groups)} parameter groups, the optimizer {len(own)}")
    for i, (g, h) in enumerate(zip(groups, own, strict=True)):
        if set(g) - {"initial_lr"} != set(h) - {"initial_lr"}:  # initial_lr is added by a scheduler
            raise CheckpointError(f"{where}: parameter group {i} has hyper-parameters {sorted(set(g) - set(h))} "
                                  f"that the optimizer lacks and lacks {sorted(set(h) - set(g))}")
        if len(g.get("params", [])) != len(h.get("params", [])):
            raise CheckpointError(f"{where}: parameter group {i} holds {len(g.get('params', []))} parameters, "
                                  f"the optimizer {len(h.get('params', []))}")


def load_checkpoint(path: str | os.PathLike[str], model: Any, optimizer: Any = None, scheduler: Any = None,
                    rngs: dict[str, np.random.Generator] | None = None) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote, in place; returns the metadata dict
    (with ``"extra"``: the extra arrays)."""
    info, arrays = read_checkpoint(path)
    try:  # metadata of the right types may still hold values that do not fit: one line, naming the file
        state = {k[6:]: v for k, v in arrays.items() if k.startswith("model/")}
        own = model.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        shapes = sorted(f"{k}: checkpoint {state[k].shape} vs model {own[k].shape}"
                        for k in set(own) & set(state) if state[k].shape != own[k].shape)
        if missing or unexpected or shapes:
            raise CheckpointError(
                f"checkpoint: {os.fspath(path)!r} (saved from {info.get('model_class')}) does not fit this "
                f"{type(model).__name__}: missing keys {missing}, unexpected keys {unexpected}, "
                f"shape mismatches {shapes}")
        if scheduler is not None or "scheduler" in info:
            saved = info.get("scheduler", {}).get("class")
            given = type(scheduler).__name__ if scheduler is not None else None
            if saved != given:
                raise CheckpointError(f"checkpoint: {os.fspath(path)!r} was saved with scheduler {saved} but is being "
                                      f"loaded with {given}; resume with the schedule the run was started with")
        if optimizer is not None and "optimizer" in info:  # every check before anything is changed
            _check_optimizer(path, info["optimizer"], optimizer)
        if optimizer is not None and "optimizer" not in info:
            raise CheckpointError(f"checkpoint: {os.fspath(path)!r} holds no optimizer state")
        _restore(info, arrays, state, model, optimizer, scheduler, rngs)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as e:
        msg = " ".join(str(e).split())
        raise CheckpointError(f"checkpoint: {os.fspath(path)!r}: bad contents ({type(e).__name__}: {msg})") from None
    info["extra"] = {k[6:]: v for k, v in arrays.items() if k.startswith("extra/")}
    return info


def _restore(info: dict[str, Any], arrays: dict[str, np.ndarray], state: dict[str, np.ndarray], model: Any,
             optimizer: Any, scheduler: Any, rngs: dict[str, np.random.Generator] | None) -> None:
    """Put a checked checkpoint's values into the model, optimizer, scheduler and generators."""
    model.load_state_dict(state)
    if optimizer is not None:
        o = info["optimizer"]
        st: dict[int, dict[str, Any]] = {}
        for k, v in arrays.items():
            if k.startswith("optim/"):
                _, idx, key = k.split("/", 2)
                st.setdefault(int(idx), {})[key] = v
        for idx, d in o["scalars"].items():
            st.setdefault(int(idx), {}).update(d)
        optimizer.load_state_dict({"state": st, "param_groups": o["param_groups"]})
    if scheduler is not None:
        scheduler.load_state_dict(info["scheduler"]["state"])
    for name, g in (rngs or {}).items():
        if name in info["rngs"]:
            g.bit_generator.state = info["rngs"][name]
