"""``cvprimer <verb>``: argument parsing only; each verb calls the library."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cvprimer", description="CV deep-learning fundamentals, runnable.")
    sub = parser.add_subparsers(dest="verb", required=True)
    demo = sub.add_parser("demo", help="train a small network on scikit-learn's digits and print the loss")
    demo.add_argument("--epochs", type=int, default=15)
    demo.add_argument("--lr", type=float, default=0.1)
    demo.add_argument("--batch-size", type=int, default=64)
    demo.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.verb == "demo":
        from cvprimer.demo import run_demo

        run_demo(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
