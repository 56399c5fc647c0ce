"""Label-noise finder on the MNIST sample: flip 5% of the labels, report precision and recall.

    python benchmarks/label_noise.py [--fraction 0.05] [--folds 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from cvprimer.data import load_dataset
from cvprimer.train.noise import find_label_noise


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fraction", type=float, default=0.05)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    ds = load_dataset("mnist_sample")
    x, y = ds.images, ds.labels
    rng = np.random.default_rng(args.seed)
    flip = rng.choice(len(y), size=int(round(args.fraction * len(y))), replace=False)
    noisy = y.copy()
    noisy[flip] = (y[flip] + rng.integers(1, 10, size=flip.size)) % 10
    t0 = time.perf_counter()
    rep = find_label_noise(x, noisy, 10, folds=args.folds, rng=np.random.default_rng(args.seed))
    found = np.intersect1d(rep.flagged, flip).size
    out = {"samples": int(len(y)), "flipped": int(flip.size), "flagged": int(rep.flagged.size),
           "true_positives": int(found), "precision": found / max(rep.flagged.size, 1), "recall": found / flip.size,
           "precision_at_flipped_count": float(np.isin(rep.flagged[:flip.size], flip).mean()),
           "seconds": time.perf_counter() - t0}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
