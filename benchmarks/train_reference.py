"""Reference training run: LeNet-5 on the MNIST sample (4,000 train / 1,000 validation).

Equivalent command line:

    cvprimer train --model lenet5 --dataset mnist_sample --resize 32 --epochs 15 --batch-size 64 \
        --optimizer momentum --lr 0.05 --schedule cosine --warmup-epochs 1 --weight-decay 5e-4 \
        --augment affine --seed 0 --run-dir runs/lenet5_reference

    python benchmarks/train_reference.py [--run-dir DIR]
"""

from __future__ import annotations

import argparse

from cvprimer.train.run import TrainConfig, run_training


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", default="runs/lenet5_reference")
    args = ap.parse_args()
    cfg = TrainConfig(model="lenet5", dataset="mnist_sample", resize=32, epochs=15, batch_size=64,
                      optimizer="momentum", lr=0.05, schedule="cosine", warmup_epochs=1, weight_decay=5e-4,
                      augment=["affine"], seed=0)
    s = run_training(cfg, run_dir=args.run_dir)
    print(f"best validation accuracy {s['best_val_acc']:.4f} (target >= 0.975) in {s['wall_time_s']:.0f}s")


if __name__ == "__main__":
    main()
