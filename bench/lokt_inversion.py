"""LOKT (seed paper 20) at CPU scale: label-only model inversion vs its baselines on sklearn digits.

The notes' setup (docs/privacy.md): private classes 0-4; the target is an MLP trained on one half of them, the
independent evaluation model an RBF SVM trained on the other half; the attacker holds unlabelled digits 5-9 and the
target's hard labels only. Every method runs in the same process, with the same seeds and query budget.

    python bench/lokt_inversion.py [--seeds 0 1 2] [--iters 800] [--json out.json]

Prints attack accuracy (by the evaluation model), distance to the private class mean and to the nearest private
row (pixel units, 0-16 per pixel), and label queries, per method, mean over seeds.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from labelwise.audit.privacy.inversion import METHODS, label_only_inversion
from labelwise.testing.privacy import digits_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iters", type=int, default=800)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--max-queries", type=int, default=200_000)
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)  # small MLPs: one thread is fastest on a shared machine
    runs = []
    for seed in args.seeds:
        target, evaluator, X_private, y_private, X_public = digits_split(seed)
        started = time.perf_counter()
        audit = label_only_inversion(target.predict, X_public, X_private, y_private, evaluate=evaluator.predict,
                                     max_queries=args.max_queries, max_seconds=args.max_seconds, iters=args.iters,
                                     warmup_iters=args.warmup, lr=args.lr, alpha=args.alpha,
                                     inversion_steps=args.steps, random_state=seed)
        runs.append(audit.to_dict())
        print(f"seed {seed}: " + "; ".join(f"{m} {audit.scores[m].attack_accuracy:.2f}" for m in METHODS)
              + f" ({time.perf_counter() - started:.0f} s, stopped by {audit.stopped_by})", flush=True)
    print(f"\ndigits 0-4 private, 5-9 public; {len(args.seeds)} seeds; chance {runs[0]['chance']:.2f}; "
          f"T-ACGAN {args.iters} iterations (warm-up {args.warmup}), lr {args.lr}, alpha {args.alpha}")
    print(f"{'method':<16} {'attack acc':>10} {'per seed':>18} {'dist mean':>9} {'dist nearest':>12} {'queries':>9}")
    for m in METHODS:
        acc = [r["methods"][m]["attack_accuracy"] for r in runs]
        mean = lambda key: np.mean([r["methods"][m][key] for r in runs])  # noqa: E731
        print(f"{m:<16} {np.mean(acc):>10.3f} {' '.join(f'{a:.2f}' for a in acc):>18} "
              f"{mean('distance_to_class_mean'):>9.1f} {mean('distance_to_nearest'):>12.1f} "
              f"{mean('queries'):>9,.0f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
