"""Benchmark: FILTER (paper 17), translate-train vs the fusion encoder vs self-teaching on a synthetic language pair
(the notes' section 17.4).

    python bench/filter_self_teaching.py [--seeds 0,1,2] [--train 3000] [--test 500] [--epochs 5]
                                         [--batch-size 32] [--lr 2e-3]
                                         [--projection position|aligner] [--no-ceiling] [--json FILE]

Per seed (tests/learn/filter_experiment.py, which the claim test runs at a smaller size): 300-word source
language, 4 entity types in BIO, 8-14 tokens; the target is a bijective lexicon map with chunk swaps (p 0.5), an
entity moved to the end (p 0.3) and 5% inserted particles. ``--projection position`` (the notes): the target's
training tags are copied by position from the source; ``aligner``: each target token's tag is the position-copied
one with probability 0.4, else the gold one (an aligner that errs at random). Every arm: a 4-layer, 64-wide
transformer trained from scratch, Adam (lr 2e-3, batch 32 unless given), the same epochs, torch on one thread.
Prints the mean +- std over seeds of the exact-span F1 on the test targets (gold tags) and each seed's figures.
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
    ap.add_argument("--train", type=int, default=3000)
    ap.add_argument("--test", type=int, default=500)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--projection", default="position", choices=["position", "aligner"])
    ap.add_argument("--no-ceiling", action="store_true", help="skip the arm trained on gold target tags")
    ap.add_argument("--json", default=None, help="also write the per-seed figures here")
    args = ap.parse_args()

    from tests.learn.filter_experiment import ARMS, Config, run_seed

    cfg = Config(n_train=args.train, n_test=args.test, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                 projection=args.projection,
                 ceiling=not args.no_ceiling)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        r = run_seed(seed, cfg)
        r["seed"], r["seconds"] = seed, time.perf_counter() - t0
        rows.append(r)
        print(f"seed {seed}: " + "  ".join(f"{k} {v:.3f}" for k, v in r.items() if k not in ("seed",)), flush=True)
    print(f"\nFILTER on the synthetic pair: {cfg.n_train} training / {cfg.n_test} test pairs, {cfg.epochs} epochs, "
          f"batch {cfg.batch_size}, lr {cfg.lr}, projection={cfg.projection}, seeds {seeds}")
    print(f"projected training tags: {np.mean([r['noise_rate'] for r in rows]):.1%} of tokens wrong, span F1 "
          f"{np.mean([r['projected_f1'] for r in rows]):.3f} against gold")
    print(f"{'arm':<34}{'span F1 (test, gold)':>22}")
    names = {"translate_train": "(1) translate-train", "filter": "(2) FILTER alpha=0",
             "filter_self_teaching": f"(3) FILTER + self-teaching a={cfg.alpha}",
             "gold_ceiling": "(ref) FILTER on gold target tags"}
    for arm in ARMS:
        if arm in rows[0]:
            v = np.array([r[arm] for r in rows])
            print(f"{names[arm]:<34}{v.mean():>14.3f} +- {v.std():.3f}")
    agree = np.array([r["teacher_agrees_with_projection"] for r in rows])
    print(f"teacher (2) vs the projected training tags: span F1 {agree.mean():.3f} (1.0: it learned the projection)")
    d1 = np.array([r["filter"] - r["translate_train"] for r in rows])
    d2 = np.array([r["filter_self_teaching"] - r["filter"] for r in rows])
    print(f"(2) - (1): {d1.mean():+.3f} (seeds {', '.join(f'{x:+.3f}' for x in d1)});  "
          f"(3) - (2): {d2.mean():+.3f} (seeds {', '.join(f'{x:+.3f}' for x in d2)})")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
