r"""``Optimizer``: the base class of every optimizer (param groups, per-parameter state, state_dict).

A subclass sets its hyper-parameter defaults and implements ``_update(p, g, group, state)``
for one parameter; the base class walks the groups, skips parameters without a gradient,
applies the shared gradient pre-processing (coupled L2 ``weight_decay`` and the ``l1_decay``
penalty) and runs everything under ``no_grad`` on ``p.data`` in place, bumping each updated parameter's
version counter (so a backward through a graph recorded before the step raises, as in PyTorch).

Regularization options shared by all optimizers (distinct, and stated once here):

* ``weight_decay`` (coupled L2): ``g <- g + lambda * theta`` *before* the optimizer's own
  statistics see the gradient (PyTorch's meaning for SGD, Adam, ...). For adaptive methods this
  is not the same as weight decay; see AdamW for the decoupled form ``theta <- theta(1 - gamma lambda)``.
* ``l1_decay`` (ours, not in torch.optim): ``g <- g + l1 * sign(theta)``, the subgradient of
  ``l1 * ||theta||_1`` (sign(0) = 0), added after the L2 term.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from cvprimer.core.function import enable_grad, no_grad
from cvprimer.core.tensor import Tensor


class Optimizer:
    r"""Base class. ``params``: an iterable of Tensors, or of dicts ``{"params": [...], **overrides}``
    (param groups with their own hyper-parameters)."""

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name}: params must be an iterable of Tensors or of dicts, got a "
                            f"single Tensor of shape {params.shape}; wrap it in a list")
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    @property
    def _name(self) -> str:
        return type(self).__name__

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters; missing hyper-parameters come from ``defaults``."""
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(f"{self._name}: a param group must be a dict with a 'params' key")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{self._name}: can't optimize a non-leaf Tensor (shape {p.shape})")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{self._name}: a parameter appears more than once in one param group")
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & {id(p) for p in params}:
            raise ValueError(f"{self._name}: some parameters appear in more than one param group")
        group = {k: v for k, v in param_group.items() if k != "params"}
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self._validate(group)
        group["params"] = params
        self.param_groups.append(group)

    def _validate(self, group: dict[str, Any]) -> None:
        """Check hyper-parameters; subclasses extend with ``super()._validate(group)``.

        Every number in the group (``lr``, ``momentum``, ``betas``, ``eps``, ``weight_decay``, ...; flags such as
        ``nesterov`` aside) must be finite: a NaN passes every ``<`` test and would turn the weights into NaN at
        the first step. Differences from PyTorch: torch.optim accepts ``lr=nan``; we refuse it.
        """
        n = self._name
        for k, v in group.items():
            if k == "params":
                continue
            for x in v if isinstance(v, (tuple, list)) else (v,):
                if isinstance(x, (int, float, np.number)) and not isinstance(x, (bool, np.bool_)) \
                        and not np.isfinite(x):
                    what = f"finite numbers, got {x}" if isinstance(v, (tuple, list)) else "a finite number"
                    raise ValueError(f"{n}: invalid {k} {v!r} (expected {what})")
        if group.get("lr", 0.0) < 0:
            raise ValueError(f"{n}: invalid learning rate {group['lr']} (expected lr >= 0)")
        if group.get("weight_decay", 0.0) < 0:
            raise ValueError(f"{n}: invalid weight_decay {group['weight_decay']} (expected >= 0)")
        if group.get("l1_decay", 0.0) < 0:
            raise ValueError(f"{n}: invalid l1_decay {group['l1_decay']} (expected >= 0)")
        if group.get("eps", 0.0) < 0:
            raise ValueError(f"{n}: invalid eps {group['eps']} (expected >= 0)")
        if "betas" in group:
            b = group["betas"]
            if len(b) != 2 or not (0.0 <= b[0] < 1.0 and 0.0 <= b[1] < 1.0):
                raise ValueError(f"{n}: invalid betas {b} (expected two values in [0, 1))")
            group["betas"] = (float(b[0]), float(b[1]))

    # -- the loop ----------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all optimized parameters (to None, or zeros in place)."""
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def _grad(self, p: Tensor, group: dict[str, Any]) -> np.ndarray:
        """The gradient after the coupled L2 and L1 terms (a new array; ``p.grad`` untouched)."""
        assert p.grad is not None  # step() passes only parameters with a gradient
        g = p.grad.data
        wd = group.get("weight_decay", 0.0)
        if wd and not group.get("decoupled_weight_decay", False):
            g = g + wd * p.data
        l1 = group.get("l1_decay", 0.0)
        if l1:
            g = g + l1 * np.sign(p.data)
        return g

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient. ``closure`` (optional) re-evaluates
        the model and returns the loss, which is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state.setdefault(p, {})
                    self._update(p, self._grad(p, group), group, state)
                    p._bump_version()  # an in-place change: a graph that saved p's old values refuses backward
        return loss

    def _update(self, p: Tensor, g: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        raise NotImplementedError  # pragma: no cover

    # -- checkpointing -----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {name: array or number}}, "param_groups": [{hyper-params, "params":
        [indices]}]}``; parameters are numbered in group order. Arrays are copies."""
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**copy.deepcopy({k: v for k, v in g.items() if k != "params"}), "params": ids})
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state:
                    state[index[id(p)]] = {
                        k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and state saved by :meth:`state_dict` (same parameter layout)."""
        groups = state_dict.get("param_groups")
        if not isinstance(groups, list) or "state" not in state_dict:
            raise ValueError(f"{self._name}.load_state_dict: expected keys 'state' and 'param_groups'")
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{self._name}.load_state_dict: {len(groups)} param groups in the state dict, "
                             f"the optimizer has {len(self.param_groups)}")
        sizes_saved = [len(g["params"]) for g in groups]
        sizes_here = [len(g["params"]) for g in self.param_groups]
        if sizes_saved != sizes_here:
            raise ValueError(f"{self._name}.load_state_dict: group sizes {sizes_saved} differ from the "
                             f"optimizer's {sizes_here}")
        for n, (saved, g) in enumerate(zip(groups, self.param_groups, strict=True)):
            _check_hyper(self, n, saved, g)
        by_index: dict[int, Tensor] = {}
        for saved, g in zip(groups, self.param_groups, strict=True):
            for i, p in zip(saved["params"], g["params"], strict=True):
                by_index[int(i)] = p
        new_state: dict[Tensor, dict[str, Any]] = {}
        for i, st in state_dict["state"].items():
            p = by_index.get(int(i))
            if p is None:
                raise ValueError(f"{self._name}.load_state_dict: state for unknown parameter index {i}")
            entry = {}
            for k, v in st.items():
                if isinstance(v, np.ndarray) and v.shape == p.shape:
                    v = v.astype(p.dtype, copy=True)
                elif isinstance(v, np.ndarray):
                    v = v.copy()
                entry[k] = v
            new_state[p] = entry
        for saved, g in zip(groups, self.param_groups, strict=True):
            for k, v in saved.items():
                if k != "params":
                    g[k] = tuple(v) if isinstance(v, list) and k == "betas" else copy.deepcopy(v)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(k for k in g if k != "params"):
                lines.append(f"    {k}: {g[k]}")
        return "\n".join(lines) + "\n)"


def check_range(name: str, op: str, value: float, lo: float, hi: float, hi_open: bool = False) -> None:
    """Raise ``ValueError`` unless ``lo <= value <= hi`` (``< hi`` with ``hi_open``)."""
    ok = lo <= value < hi if hi_open else lo <= value <= hi
    if not ok:
        bracket = ")" if hi_open else "]"
        raise ValueError(f"{op}: invalid {name} {value} (expected a value in [{lo}, {hi}{bracket})")




def _kind(v: Any) -> str:
    """A hyper-parameter's kind, for checking loaded values: bool, number, sequence, str or None."""
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return "number"
    if isinstance(v, (list, tuple)):
        return "sequence"
    return "None" if v is None else type(v).__name__


def _check_hyper(opt: Optimizer, n: int, saved: dict[str, Any], group: dict[str, Any]) -> None:
    """A loaded param group's hyper-parameters must be of the kinds the optimizer's own have and pass its
    ``_validate`` (a checkpoint holding ``lr="fast"`` is refused at load time, not a step later)."""
    cand = {k: v for k, v in group.items() if k != "params"}
    for k, v in saved.items():
        if k == "params":
            continue
        if k in cand and _kind(v) != _kind(cand[k]):
            raise ValueError(f"{opt._name}.load_state_dict: param group {n} hyper-parameter {k!r} is {v!r}, "
                             f"expected a {_kind(cand[k])} like {cand[k]!r}")
        cand[k] = v
    try:
        opt._validate(cand)
    except TypeError as e:
        raise ValueError(f"{opt._name}.load_state_dict: param group {n}: {e}") from None
