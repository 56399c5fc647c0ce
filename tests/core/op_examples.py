"""One small public call per op, for the op contract test: running them under ``observe_ops`` records every
``Function`` subclass the package defines with real arguments (a composite call records all the ops it uses).

Shapes are chosen so that activations (which grow with N and C) are clearly larger than anything of fixed size
(per-channel statistics, 1-D resampling operators, parameters): the contract compares activation-sized arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
from cvprimer.distributed.comm import Communicator
from cvprimer.distributed.sync_batch_norm import SyncBatchNormFn
from cvprimer.functional.activation import ACTIVATIONS


def _t(rng: np.random.Generator, *shape: int, lo: float = -1.0, hi: float = 1.0) -> Any:
    return cp.tensor(rng.uniform(lo, hi, shape))


X = (8, 8, 8, 8)  # N, C, H, W of every image-like example

# name -> call(rng); the name is only for messages
CALLS: dict[str, Callable[[np.random.Generator], Any]] = {
    "arith": lambda r: ((_t(r, 64, 64) + _t(r, 64, 64)) - _t(r, 64, 64)) * _t(r, 64, 64) / _t(r, 64, 64, lo=1, hi=2),
    "pow": lambda r: _t(r, 64, 64, lo=1, hi=2) ** _t(r, 64, 64),
    "div_rounded": lambda r: cp.div(_t(r, 64, 64, hi=9), _t(r, 64, 64, lo=1, hi=2), rounding_mode="floor"),
    "maximum_minimum": lambda r: cp.maximum(_t(r, 64, 64), _t(r, 64, 64)) + cp.minimum(_t(r, 64, 64), _t(r, 64, 64)),
    "where": lambda r: cp.where(cp.tensor(r.uniform(size=(64, 64)) > 0.5), _t(r, 64, 64), _t(r, 64, 64)),
    "cast_clone": lambda r: _t(r, 64, 64).astype(np.float32).clone(),
    "unary": lambda r: (-_t(r, 64, 64)).exp().log().sqrt().abs().sign() + _t(r, 64, 64).clamp(-0.5, 0.5),
    "relu_sigmoid_tanh": lambda r: cp.relu(_t(r, 64, 64)).sigmoid().tanh(),
    "getitem": lambda r: _t(r, *X)[:, :, 1:7, ::2],
    "matmul": lambda r: _t(r, 64, 32) @ _t(r, 32, 64),
    "reductions": lambda r: (_t(r, 64, 64).sum(1), _t(r, 64, 64).mean(), _t(r, 64, 64).amax(1), _t(r, 64, 64).amin(0),
                             _t(r, 64, 64).var(1), _t(r, 64, 64).std(1), _t(r, 64, 64).logsumexp(1)),
    "shape": lambda r: (cp.cat([_t(r, 8, 64), _t(r, 8, 64)], 0), cp.stack([_t(r, 8, 64), _t(r, 8, 64)], 1),
                        _t(r, 8, 64).reshape(64, 8).permute(1, 0), _t(r, 1, 64).expand(8, 64),
                        _t(r, 8, 64).split(16, 1), F.pad(_t(r, *X), (1, 2, 0, 1))),
    # every registered pointwise activation with its default options (a new one needs no line here)
    "activations": lambda r: [fn(_t(r, 64, 64)) for n, (fn, _) in ACTIVATIONS.items() if n != "prelu"],
    "relu_at_zero": lambda r: F.relu(_t(r, 64, 64), grad_at_zero=0.5),
    "prelu": lambda r: F.prelu(_t(r, *X), cp.tensor(np.full(8, 0.25))),
    "maxout": lambda r: F.maxout(_t(r, *X), 2),
    "softmax": lambda r: (F.softmax(_t(r, 64, 64), 1), F.log_softmax(_t(r, 64, 64), 1)),
    "attention": lambda r: F.scaled_dot_product_attention(_t(r, 8, 16, 8), _t(r, 8, 16, 8), _t(r, 8, 16, 8)),
    "conv": lambda r: F.conv2d(_t(r, *X), _t(r, 4, 8, 3, 3), _t(r, 4), padding=1),
    "conv_transpose": lambda r: F.conv_transpose2d(_t(r, *X), _t(r, 8, 4, 3, 3), _t(r, 4), stride=2),
    "dropout": lambda r: F.dropout(_t(r, 64, 64), 0.5, rng=np.random.default_rng(0)),
    "linear": lambda r: F.linear(_t(r, 64, 16), _t(r, 8, 16), _t(r, 8)),
    "losses": lambda r: (
        F.binary_cross_entropy(_t(r, 64, 8, lo=0.1, hi=0.9), _t(r, 64, 8, lo=0, hi=1)),
        F.binary_cross_entropy_with_logits(_t(r, 64, 8), _t(r, 64, 8, lo=0, hi=1)),
        F.cross_entropy(_t(r, 64, 8), cp.tensor(r.integers(0, 8, 64))),
        F.cross_entropy(_t(r, 64, 8), cp.tensor(r.integers(0, 8, 64)), label_smoothing=0.1),  # general path
        F.nll_loss(_t(r, 64, 8), cp.tensor(r.integers(0, 8, 64))),
        F.sigmoid_focal_loss(_t(r, 64, 8), _t(r, 64, 8, lo=0, hi=1)),
        F.softmax_focal_loss(_t(r, 64, 8), cp.tensor(r.integers(0, 8, 64))),
        F.cosine_embedding_loss(_t(r, 64, 8), _t(r, 64, 8), cp.tensor(np.sign(r.uniform(-1, 1, 64)))),
        F.kl_div(_t(r, 64, 8), _t(r, 64, 8, lo=0.1, hi=1)),
        F.multi_margin_loss(_t(r, 64, 8), cp.tensor(r.integers(0, 8, 64))),
        F.l2_penalty([_t(r, 64, 8)]),
        F.huber_loss(_t(r, 64, 8), _t(r, 64, 8)), F.l1_loss(_t(r, 64, 8), _t(r, 64, 8)),
        F.mse_loss(_t(r, 64, 8), _t(r, 64, 8)), F.smooth_l1_loss(_t(r, 64, 8), _t(r, 64, 8))),
    "norms": lambda r: (F.batch_norm(_t(r, *X), None, None, _t(r, 8), _t(r, 8), training=True),
                        F.batch_norm(_t(r, *X), cp.tensor(np.zeros(8)), cp.tensor(np.ones(8)), _t(r, 8), _t(r, 8))),
    "sync_bn": lambda r: SyncBatchNormFn.apply(_t(r, *X), _t(r, 8), _t(r, 8), Communicator(), 1e-5),
    "pooling": lambda r: (F.adaptive_avg_pool2d(_t(r, *X), 3), F.avg_pool2d(_t(r, *X), 3, 2, 1),
                          F.global_avg_pool2d(_t(r, *X)), F.global_max_pool2d(_t(r, *X)),
                          F.max_unpool2d(*F.max_pool2d(_t(r, *X), 2, return_indices=True), 2)),
    "sampling": lambda r: [F.interpolate(_t(r, *X), scale_factor=2, mode=m) for m in ("nearest", "bilinear")]
    + [F.pixel_shuffle(_t(r, *X), 2), F.pixel_unshuffle(_t(r, *X), 2), F.channel_shuffle(_t(r, *X), 2)]
    + [F.interpolate(_t(r, 16, 16, 16), scale_factor=2, mode="linear"),
       F.interpolate(_t(r, 8, 8, 4, 8, 8), scale_factor=2, mode="trilinear")],
    "module_backward_hooks": lambda r: _hooked_linear(r),
}


def _hooked_linear(r: np.random.Generator) -> Any:
    """A module with a full backward hook routes its input and output through the two identity nodes."""
    from cvprimer import nn

    lin = nn.Linear(8, 8)
    lin.register_full_backward_hook(lambda m, gi, go: None)
    return lin(cp.Tensor(r.uniform(-1, 1, (64, 8)), requires_grad=True))
