"""Benchmark: StageInteractor's cross-stage label assigner vs per-stage one-to-one matching (paper 2, notes 2.4).

    python bench/stage_interactor.py [--seeds 0,1] [--iters 1000] [--eval-at 100,250,500] [--train 2000] [--test 300]
                                     [--arms one_to_one,cross_stage,own_filtered] [--json FILE]

Per seed (tests/learn/stage_interactor_experiment.py, which the claim test runs at a smaller size): 48 x 48 shape
scenes (1-3 of square / ring / digit; training and test digits from disjoint pools), the toy query detector
(3 convolutions, 12 queries, 3 decoder stages with iterative box refinement and deep supervision), every arm from
the same initial network on the same batches (batch 16, AdamW lr 1e-3, x0.1 at 2/3). Arms: one_to_one (each
stage's Hungarian matches are its class targets), cross_stage (the paper's assigner: IoU 0.5 of this stage's box,
own matches filtered, previous + later stages), own_filtered (the notes' pitfall control: the IoU filter on the
own matches, nothing gathered from other stages). Readout: AP@0.5 and AP@[.5:.95] of the last stage on 300 test
scenes (COCO-style, labelwise.assign.box_metrics.detection_ap), at the end and at the --eval-at iterations (early
convergence). Prints mean +- std over seeds and the paired differences to one_to_one; writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--eval-at", default="100,250,500")
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--test", type=int, default=300)
    ap.add_argument("--arms", default="one_to_one,cross_stage,own_filtered")
    ap.add_argument("--json", default=str(REPO / "bench" / "results" / "stage_interactor.json"))
    args = ap.parse_args()

    import torch

    from tests.learn.stage_interactor_experiment import ARMS, run_arm, scenes

    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    arms = args.arms.split(",")
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        sys.exit(f"unknown arm(s) {unknown}; choose from {', '.join(ARMS)}")
    eval_at = tuple(int(s) for s in args.eval_at.split(",") if s)
    points = sorted({*eval_at, args.iters})
    print(f"StageInteractor on shape scenes: {args.train} train / {args.test} test, {args.iters} iterations, "
          f"batch 16, seeds {seeds}, arms {arms}", flush=True)
    start = time.perf_counter()
    runs: dict = {arm: [] for arm in arms}
    for seed in seeds:
        data = scenes(args.train, args.test, seed)
        for arm in arms:
            runs[arm].append(run_arm(data, arm, seed, max_iter=args.iters, eval_at=eval_at,
                                     log=lambda line: print(f"  {line} [{time.perf_counter() - start:.0f} s]",
                                                            flush=True)))

    def cell(values) -> str:
        v = 100 * np.asarray(values)
        return f"{v.mean():5.1f} +- {v.std(ddof=1) if len(v) > 1 else 0:4.1f}"

    print(f"\nlast-stage AP x 100 on {args.test} test scenes, mean +- std over {len(seeds)} seeds")
    header = "".join(f"{f'AP50 @{p}':>16s}{f'AP @{p}':>16s}" for p in points)
    print(f"{'arm':14s}{header}")
    for arm in arms:
        print(f"{arm:14s}" + "".join(f"{cell([r['at'][p]['AP50'] for r in runs[arm]]):>16s}"
                                     f"{cell([r['at'][p]['AP'] for r in runs[arm]]):>16s}" for p in points))
    pairs = [(a, b) for a, b in (("cross_stage", "one_to_one"), ("own_filtered", "one_to_one"),
                                  ("cross_stage", "own_filtered")) if a in arms and b in arms]
    if pairs:
        print("\npaired differences (x 100), per seed, then the mean")
    for arm, base in pairs:
        parts = []
        for p in points:
            for metric in ("AP50", "AP"):
                diff = [100 * (r["at"][p][metric] - b["at"][p][metric]) for r, b in zip(runs[arm], runs[base])]
                parts.append(f"  {metric:>4s} @{p:<5d}: " + " ".join(f"{d:+5.1f}" for d in diff)
                             + f"  (mean {np.mean(diff):+.1f})")
        print(f"{arm} - {base}:\n" + "\n".join(parts))
    print("\nper-stage final AP x 100 (stage 0 / 1 / 2), mean over seeds")
    for arm in arms:
        per_stage = np.mean([[s["AP"] for s in r["stages"]] for r in runs[arm]], axis=0)
        print(f"  {arm:14s}" + " / ".join(f"{100 * v:.1f}" for v in per_stage))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")

    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps({"args": vars(args), "seeds": seeds, "runs": runs}, indent=1, default=str))
    os.replace(tmp, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
