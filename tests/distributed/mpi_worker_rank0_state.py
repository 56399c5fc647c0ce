"""Run under ``mpiexec`` by test_reliability2_rank0_state.py: ``python mpi_worker_rank0_state.py MODE DIR OUT [FAULT]``.

MODE ``train``: two epochs with a ModelCheckpoint in DIR; every rank writes ``OUT.r<rank>.json`` with its default
generator's state at each epoch end (recorded just before the checkpoint is written; rank 1 then waits 0.5 s, so
a rank 1 that also wrote checkpoints would write last). MODE ``resume``: continue DIR/last.npz to epoch 3, where
rank 1's optimizer state is changed after loading (a rank that read a stale file); every rank writes its final
parameters to ``OUT.r<rank>.json``.

FAULT plants the bug the test must catch: ``all_ranks_write`` (every rank writes checkpoints), ``skip_bcast``
(rank 0's optimizer state is not broadcast on resume).
"""

import json
import sys
import time

import numpy as np

import cvprimer.functional as F
import cvprimer.nn as nn
from cvprimer import optim
from cvprimer.core.random import default_generator
from cvprimer.data import ArrayDataset, DataLoader
from cvprimer.distributed import DistributedSampler, init
from cvprimer.train import Callback, ModelCheckpoint, Trainer
from cvprimer.train import trainer as trainer_mod

mode, folder, out = sys.argv[1], sys.argv[2], sys.argv[3]
fault = sys.argv[4] if len(sys.argv) > 4 else ""
comm = init()

if fault == "all_ranks_write":  # the round-1 fault: the rank-0 guard gone
    def save_everywhere(self, path, epoch):
        meta = {"callbacks": {f"{i}:{type(cb).__name__}": cb.state_dict() for i, cb in enumerate(self.callbacks)},
                "global_step": self.global_step}
        trainer_mod.save_checkpoint(path, self.model, self.optimizer, self.scheduler, epoch,
                                    self._rngs(saving=True), meta=meta)

    trainer_mod.Trainer.save_checkpoint = save_everywhere
if fault == "skip_bcast":
    import cvprimer.distributed.parallel as parallel

    parallel.broadcast_optimizer = lambda *a, **k: None

rng = np.random.default_rng(5)
X, Y = rng.standard_normal((48, 1, 6, 6)), rng.integers(0, 3, 48)
r = np.random.default_rng(0)
model = nn.Sequential(nn.Conv2d(1, 3, 3, rng=r), nn.ReLU(), nn.Flatten(), nn.Linear(48, 3, rng=r)).double()
opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
train = DataLoader(ArrayDataset(X[:40], Y[:40]), batch_size=8 // comm.world_size,
                   sampler=DistributedSampler(40, comm), rng=np.random.default_rng(7))
val = DataLoader(ArrayDataset(X[40:], Y[40:]), batch_size=4,
                 sampler=DistributedSampler(8, comm, shuffle=False, pad=False))
states: list = []


class Record(Callback):
    def on_epoch_end(self, trainer, epoch, logs):
        states.append(default_generator().bit_generator.state)


class Late(Callback):
    def on_epoch_end(self, trainer, epoch, logs):
        if comm.rank == 1:
            time.sleep(0.5)


trainer = Trainer(model, F.cross_entropy, opt, callbacks=[Record(), Late(), ModelCheckpoint(folder, "val_loss")],
                  distributed=comm)
if mode == "resume":
    own_load = trainer.load_checkpoint

    def load_then_drift(path):
        epoch = own_load(path)
        if comm.rank == 1:  # this rank's local optimizer state is not rank 0's
            for st in opt.state.values():
                if "momentum_buffer" in st:
                    st["momentum_buffer"] *= 3.0
        return epoch

    trainer.load_checkpoint = load_then_drift
    trainer.fit(train, val, epochs=3, resume=f"{folder}/last.npz")
    doc = {"params": np.concatenate([v.ravel() for v in model.state_dict().values()]).tolist()}
else:
    trainer.fit(train, val, epochs=2)
    doc = {"states": states}
with open(f"{out}.r{comm.rank}.json", "w", encoding="utf-8") as f:
    json.dump(doc, f)
