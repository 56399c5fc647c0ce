"""Run under ``mpiexec -n 2`` by test_distributed_equivalence.py; rank 0 writes the measured errors as JSON.

Everything is float64. The "big" reference is one process with the whole global batch, computed on
rank 0 without any communication; the data-parallel side gives rank r the samples r, r + W, ... of the
same global batch (what DistributedSampler does).
"""

import json
import sys

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
import cvprimer.nn as nn
from cvprimer import optim
from cvprimer.data import ArrayDataset, DataLoader
from cvprimer.distributed import (
    DataParallel,
    DistributedSampler,
    broadcast_optimizer,
    convert_sync_batchnorm,
    init,
)
from cvprimer.train import Trainer

comm = init()
W, R = comm.world_size, comm.rank
B = 4  # per-rank batch
data_rng = np.random.default_rng(123)
X = data_rng.standard_normal((48, 1, 8, 8))
Y = data_rng.integers(0, 3, 48)
out: dict[str, float] = {"world_size": W}


def net(bn: bool, seed: int = 0) -> nn.Module:
    rng = np.random.default_rng(seed)
    layers = [nn.Conv2d(1, 4, 3, padding=1, rng=rng)] + ([nn.BatchNorm2d(4)] if bn else [])
    layers += [nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3, rng=rng)]
    return nn.Sequential(*layers).double()


def flat(arrays) -> np.ndarray:
    return np.concatenate([np.asarray(a).ravel() for a in arrays])


def grads(model) -> np.ndarray:
    return flat(p.grad.data for p in model.parameters())


def params(model) -> np.ndarray:
    return flat(model.state_dict().values())


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def big_step(bn: bool, idx: np.ndarray, reduction: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """One process, whole global batch: (gradient, parameters and buffers after one SGD-momentum step)."""
    model = net(bn)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    F.cross_entropy(model(cp.tensor(X[idx])), cp.tensor(Y[idx]), reduction=reduction).backward()
    g = grads(model)
    opt.step()
    return g, params(model)


def dp_step(bn: bool, sync: bool, idx: np.ndarray, reduction: str = "mean", op: str = "mean"):
    """W ranks, rank R's share of the global batch: (communicated gradient, state after one step)."""
    base = net(bn, seed=R)  # different initialisations on purpose: the broadcast must fix them
    if sync:
        base = convert_sync_batchnorm(base, comm)
    model = DataParallel(base, comm)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    mine = idx[R::W]
    F.cross_entropy(model(cp.tensor(X[mine])), cp.tensor(Y[mine]), reduction=reduction).backward()
    model.allreduce_gradients(op)
    g = grads(model)
    opt.step()
    return g, params(model)


idx = np.arange(W * B)
for bn, sync, tag in ((False, False, "nobn"), (True, True, "syncbn"), (True, False, "plainbn")):
    g, p = dp_step(bn, sync, idx)
    g_all, p_all = comm.allgather(g), comm.allgather(p)
    out[f"{tag}_ranks_grad_identical"] = float((g_all == g_all[0]).all())
    out[f"{tag}_ranks_param_identical"] = float((p_all == p_all[0]).all())
    if R == 0:
        gb, pb = big_step(bn, idx)
        out[f"{tag}_grad_rel_err"] = rel(g, gb)
        out[f"{tag}_param_rel_err"] = rel(p, pb)  # parameters and (for BN) running statistics

# question 32: the communicated quantity is the mean of the per-rank gradients
for reduction in ("mean", "sum"):
    g_mean, _ = dp_step(False, False, idx, reduction, op="mean")
    g_sum, _ = dp_step(False, False, idx, reduction, op="sum")
    if R == 0:
        gb, _ = big_step(False, idx, reduction)
        out[f"{reduction}_loss_mean_vs_big"] = rel(g_mean, gb)
        out[f"{reduction}_loss_sum_vs_big"] = rel(g_sum, gb)
        out[f"{reduction}_loss_mean_times_W_vs_big"] = rel(g_mean * W, gb)

# optimizer state from rank 0: rank 0 has Adam moments after one step, the others a fresh Adam
model = DataParallel(net(False), comm)
adam = optim.Adam(model.parameters(), lr=0.01)
if R == 0:
    F.cross_entropy(model(cp.tensor(X[:4])), cp.tensor(Y[:4])).backward()
    adam.step()
broadcast_optimizer(adam, comm)
state = adam.state_dict()["state"]
moments = flat(state[i]["exp_avg_sq"] for i in sorted(state)) if state else np.zeros(1)
sizes = comm.allgather(np.array([moments.size]))
out["optimizer_state_sizes_equal"] = float((sizes == sizes[0]).all())
if (sizes == sizes[0]).all():
    m_all = comm.allgather(moments)
    out["optimizer_state_identical"] = float((m_all == m_all[0]).all() and np.abs(moments).max() > 0)


# a few epochs with the Trainer: ranks stay bit-identical and match one process with the global batch
def fit(distributed: bool, epochs: int = 3):
    model = net(True)
    if distributed:
        model = convert_sync_batchnorm(model, comm)
    opt = optim.Adam(model.parameters(), lr=0.01)
    tr, va = ArrayDataset(X[:40], Y[:40]), ArrayDataset(X[40:], Y[40:])
    if distributed:
        train = DataLoader(tr, batch_size=B, sampler=DistributedSampler(40, comm), rng=np.random.default_rng(7))
        val = DataLoader(va, batch_size=3, sampler=DistributedSampler(8, comm, shuffle=False, pad=False))
    else:
        train = DataLoader(tr, batch_size=W * B, shuffle=True, rng=np.random.default_rng(7))
        val = DataLoader(va, batch_size=3)
    trainer = Trainer(model, F.cross_entropy, opt, distributed=comm if distributed else None)
    history = trainer.fit(train, val, epochs=epochs)
    return model, history


model, hist = fit(True)
p = params(model)
p_all = comm.allgather(p)
out["trainer_ranks_bit_identical"] = float((p_all == p_all[0]).all())
if R == 0:
    ref, ref_hist = fit(False)
    out["trainer_param_rel_err"] = rel(p, params(ref))
    out["trainer_metric_abs_err"] = max(abs(h[k] - rh[k]) for h, rh in zip(hist, ref_hist, strict=True)
                                        for k in ("train_loss", "train_acc", "val_loss", "val_acc"))
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
