"""Run under ``mpiexec -n 2`` by test_overlap_mpi.py: data-parallel SGD steps with the overlapped reducer
(Iallreduce started during backward) against the blocking one, float64; rank 0 writes JSON."""

import json
import sys

import numpy as np

import cvprimer as cp
import cvprimer.functional as F
import cvprimer.nn as nn
from cvprimer import optim
from cvprimer.distributed import DataParallel, init

comm = init()
W, R = comm.world_size, comm.rank


def net() -> nn.Module:
    rng = np.random.default_rng(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=rng), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3, padding=1, rng=rng), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 3, rng=rng)).double()


def train(overlap: bool, steps: int = 4) -> tuple[np.ndarray, list[int]]:
    model = DataParallel(net(), comm, bucket_bytes=512, overlap=overlap)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(10 + R)  # each rank its own data
    launched = []
    for _ in range(steps):
        x, y = rng.standard_normal((4, 1, 8, 8)), rng.integers(0, 3, 4)
        opt.zero_grad()
        F.cross_entropy(model(cp.tensor(x)), cp.tensor(y)).backward()
        model.allreduce_gradients()
        launched.append(model.overlapped.launched_in_backward if overlap else 0)
        opt.step()
    flat = np.concatenate([p.data.ravel() for p in model.parameters()])
    return flat, launched


with_overlap, launched = train(True)
without, _ = train(False)
both = comm.allgather(with_overlap)
buckets = len(DataParallel(net(), comm, bucket_bytes=512, overlap=True).overlapped.buckets)
if R == 0:
    out = {"world_size": W, "buckets": buckets, "launched_in_backward": launched,
           "overlap_equals_blocking": float(np.array_equal(with_overlap, without)),
           "ranks_identical": float(np.array_equal(both[0], both[1])),
           "moved": float(np.abs(with_overlap - np.concatenate([p.data.ravel() for p in net().parameters()])).max())}
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(out, f)
