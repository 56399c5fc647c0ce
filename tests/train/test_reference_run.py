"""The LeNet-5 reference run (benchmarks/train_reference.py) as a slow test: >= 97.5% validation accuracy on
the MNIST sample (4,000 train / 1,000 validation, stratified), with the exact configuration the benchmark uses."""

from __future__ import annotations

import pytest

from cvprimer.train.run import TrainConfig, run_training


@pytest.mark.slow
def test_lenet5_reference_run_reaches_97_5_percent(tmp_path):
    cfg = TrainConfig(model="lenet5", dataset="mnist_sample", resize=32, epochs=15, batch_size=64,
                      optimizer="momentum", lr=0.05, schedule="cosine", warmup_epochs=1, weight_decay=5e-4,
                      augment=["affine"], seed=0)
    summary = run_training(cfg, run_dir=str(tmp_path / "run"), verbose=False)
    assert summary["error"] is None
    assert summary["best_val_acc"] >= 0.975, summary["best_val_acc"]
