"""Run under ``mpiexec`` by test_distributed_faults.py: ``python mpi_worker_faults.py MODE RUN_DIR [OUT_JSON]``.

MODE: ``raise`` (rank 1 raises in epoch 2), ``kill`` (rank 1 SIGKILLs itself in epoch 2), ``full`` (three
epochs, no fault), ``resume`` (continue RUN_DIR/last.npz to epoch 3). Rank 0 writes the final parameters
to OUT_JSON in ``full`` and ``resume``.
"""

import json
import os
import signal
import sys

import numpy as np

import cvprimer.functional as F
import cvprimer.nn as nn
from cvprimer import optim
from cvprimer.data import ArrayDataset, DataLoader
from cvprimer.distributed import DistributedSampler, convert_sync_batchnorm, init
from cvprimer.train import Callback, ModelCheckpoint, Trainer

mode, run_dir = sys.argv[1], sys.argv[2]
comm = init()
rng = np.random.default_rng(123)
X, Y = rng.standard_normal((48, 1, 8, 8)), rng.integers(0, 3, 48)
BATCH = 8  # global


class Fault(Callback):
    def on_batch_end(self, trainer, logs):
        if trainer.epoch == 2 and trainer.global_step == 7 and comm.rank == 1:
            if mode == "raise":
                raise ValueError("planted failure on rank 1")
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)


r = np.random.default_rng(0)
model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=r), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(64, 3, rng=r)).double()
if comm.world_size > 1:
    model = convert_sync_batchnorm(model, comm)
opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
train = DataLoader(ArrayDataset(X[:40], Y[:40]), batch_size=BATCH // comm.world_size,
                   sampler=DistributedSampler(40, comm), rng=np.random.default_rng(7))
val = DataLoader(ArrayDataset(X[40:], Y[40:]), batch_size=4,
                 sampler=DistributedSampler(8, comm, shuffle=False, pad=False))
ckpt = ModelCheckpoint(run_dir, monitor="val_loss")
trainer = Trainer(model, F.cross_entropy, opt, callbacks=[ckpt, Fault()], distributed=comm)
last = os.path.join(run_dir, "last.npz")
history = trainer.fit(train, val, epochs=3, resume=last if mode == "resume" else None)
if comm.is_main and len(sys.argv) > 3:
    with open(sys.argv[3], "w", encoding="utf-8") as f:
        json.dump({"epochs": [h["epoch"] for h in history], "world_size": comm.world_size,
                   "params": np.concatenate([v.ravel() for v in model.state_dict().values()]).tolist()}, f)
