"""Benchmark: FedLabel (paper 3), the notes' experiment (section 3.4) at full size.

    python bench/fedlabel.py [--seeds 0,1,2] [--rounds 40] [--clients 10] [--alpha 0.3] [--label-share 0.1]
                             [--arms a,b,...] [--trace] [--json FILE]

Per seed (tests/learn/fedlabel_experiment.py, which the claim test runs at a smaller size): scikit-learn's digits,
360 balanced test images, the rest over the clients with Dirichlet(alpha) label skew, label_share of each client
labelled with another class skew than its data. Arms (same 64-128-10 MLP, rounds, local epochs, steps per epoch,
seeds and data): FedAvg on the labels only; FixMatch with the global model's pseudo-labels; with the local
model's; FedLabel (selective + consistency); FedLabel without the consistency term; FedAvg with every label (the
upper bound). Prints the global model's test accuracy, mean +- std over seeds, and each seed's figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--alpha", type=float, default=0.3)
    ap.add_argument("--label-share", type=float, default=0.1)
    ap.add_argument("--arms", default=None, help="comma-separated subset of the arms (default: all)")
    ap.add_argument("--trace", action="store_true", help="also print every 4th round's test accuracy, mask rate "
                    "and local share (accuracy/mask/local) of each arm and seed")
    ap.add_argument("--json", default=None, help="also write the per-seed figures here")
    args = ap.parse_args()

    import torch

    from tests.learn.fedlabel_experiment import ARMS, Config, run_arm

    torch.set_num_threads(1)
    cfg = Config(n_clients=args.clients, alpha=args.alpha, label_share=args.label_share, rounds=args.rounds)
    seeds = [int(s) for s in args.seeds.split(",")]
    arms = args.arms.split(",") if args.arms else list(ARMS)
    results = {}
    print(f"digits, {cfg.n_clients} clients, Dirichlet({cfg.alpha}), {cfg.label_share:.0%} labelled, "
          f"{cfg.rounds} rounds x {cfg.local_epochs} local epochs, seeds {seeds}", flush=True)
    for arm in arms:
        start = time.perf_counter()
        runs = [run_arm(arm, cfg, seed, history=True) for seed in seeds]
        results[arm] = [accuracy for accuracy, _ in runs]
        acc = np.asarray(results[arm])
        print(f"{arm:<26} {acc.mean():.3f} +- {acc.std():.3f}   per seed {' '.join(f'{a:.3f}' for a in acc)}"
              f"   ({time.perf_counter() - start:.0f} s)", flush=True)
        for seed, (_, history) in zip(seeds, runs) if args.trace else ():
            print(f"    seed {seed}, rounds 1, 5, 9, ...: " + " ".join(
                f"{h['accuracy']:.2f}/{h['mask_rate']:.2f}/{h['local_share']:.2f}" for h in history[::4]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"config": vars(cfg), "seeds": seeds, "accuracy": results}, indent=1))


if __name__ == "__main__":
    main()
