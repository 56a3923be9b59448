"""LAF (paper 19, Label-Agnostic Forgetting) against the unlearning baselines on scikit-learn's digits: the notes'
experiment (papers-14-26.md, section 19.4) at full size, the same as tests/learn/test_unlearn.py runs smaller.

Tasks: forget every training row of class 0, and forget a random 10 % of the training rows. Every method starts from
the same original model (SplitMLP 64-256-64 | 32-10, 60 epochs) and uses the same seed; each seed draws its own
70/30 split. Prints mean and standard deviation over the seeds per task and method, writes JSON.

    python bench/laf_unlearning.py [--seeds 0,1,2] [--tasks class,random] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COLUMNS = ("forget_accuracy", "remain_accuracy", "test_accuracy", "test_accuracy_forgotten", "test_accuracy_retained",
           "mia_forget", "mia_test", "mia_auc", "seconds")
SHORT = ("D_f acc", "D_r acc", "test acc", "test forgot", "test kept", "MIA D_f", "MIA test", "MIA AUC", "sec")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--tasks", default="class,random")
    parser.add_argument("--methods", default=None, help="comma list (default: all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from tests.learn.laf_experiment import METHODS, run

    methods = tuple(args.methods.split(",")) if args.methods else METHODS
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict = {}
    start = time.perf_counter()
    for task in args.tasks.split(","):
        runs = [run(task, seed, methods=methods) for seed in seeds]
        results[task] = {m: [r[m] for r in runs] for m in methods}
        print(f"\ntask {task!r}: {len(seeds)} seeds (mean ± sd)")
        print(f"{'method':<16}" + "".join(f"{s:>14}" for s in SHORT))
        for m in methods:
            cells = []
            for c in COLUMNS:
                vals = [r[c] for r in results[task][m] if r[c] is not None]
                cells.append(f"{np.mean(vals):.3f}±{np.std(vals):.3f}" if vals else "-")
            print(f"{m:<16}" + "".join(f"{cell:>14}" for cell in cells), flush=True)
    print(f"\n{time.perf_counter() - start:.0f}s in all")
    if args.json:
        args.json.write_text(json.dumps({"seeds": seeds, "results": results}, indent=1))


if __name__ == "__main__":
    main()
