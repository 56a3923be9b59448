"""Benchmark: LAD, label-assisted distillation (paper 8), the notes' digit-scene experiment (section 8.4).

    python bench/lad.py [--seeds 0,1,2] [--train 500] [--test 200] [--epochs 20] [--json FILE]

Per seed (tests/learn/lad_experiment.py, which the claim test runs at a smaller size): 32 x 32 digit scenes, 11
classes, training and test digits from disjoint pools; the same DilatedFCN (4 input channels, width 32, first layer
stride 2, dilations 1-2-4-2, main + aux head) for every net, Adam (lr 3e-3, batch 8) + poly schedule, the same
epochs for teachers and students. Arms: (a) CE-only student (also the plain teacher of (b)); (b) plain teacher ->
CWD student; (c) LAD teacher -> CWD student; (c') LAD teacher without the consistency term -> CWD student; (c1) a
diagnostic outside the paper: the LAD teacher with the label channel x1 instead of x100 -> CWD student. Teacher mIoU: the LAD
teachers read the test masks through the fixed encoding; student mIoU: images only. Also: the LAD teacher (c) fed
another scene's mask and a zero label channel (does it read the channel?). Prints mean +- std over seeds and each
seed's figures.
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
    ap.add_argument("--train", type=int, default=500)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=20, help="epochs of every teacher and student")
    ap.add_argument("--json", default=None, help="also write the per-seed figures here")
    args = ap.parse_args()

    import torch

    from tests.learn.lad_experiment import ARMS, Config, run_seed

    torch.set_num_threads(1)
    cfg = Config(n_train=args.train, n_test=args.test, teacher_epochs=args.epochs, student_epochs=args.epochs)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"LAD on digit scenes: {cfg}", flush=True)
    t_all = time.perf_counter()
    results = [run_seed(cfg, seed, log=lambda line: print("  " + line, flush=True)) for seed in seeds]

    def cell(values):
        v = np.asarray(values)
        return f"{v.mean():.3f} +- {v.std(ddof=1) if len(v) > 1 else 0:.3f}"

    print(f"\nmIoU on {cfg.n_test} test scenes, mean +- std over {len(seeds)} seeds")
    print(f"{'arm':42s} {'teacher':>16s} {'student':>16s}")
    names = {"a": "(a) student, CE only", "b": "(b) plain teacher -> CWD student",
             "c": "(c) LAD teacher -> CWD student", "c'": "(c') LAD teacher, no consistency -> CWD",
             "c1": "(c1) LAD teacher, label x1 -> CWD"}
    for arm in ARMS:
        teacher = cell([r.teacher[arm] for r in results]) if arm in results[0].teacher else "-"
        print(f"{names[arm]:42s} {teacher:>16s} {cell([r.student[arm] for r in results]):>16s}")
    for a, b in (("c", "a"), ("c", "b"), ("c", "c'"), ("c1", "a")):
        d = np.array([r.student[a] - r.student[b] for r in results])
        print(f"student {a} - {b}: {d.mean():+.3f} (per seed {', '.join(f'{x:+.3f}' for x in d)})")
    for arm in ("c", "c'", "c1"):
        d = np.array([r.teacher[arm] - r.teacher["b"] for r in results])
        print(f"teacher {arm} - b: {d.mean():+.3f} (per seed {', '.join(f'{x:+.3f}' for x in d)})")
    if "c" in results[0].teacher:
        print(f"LAD teacher (c) fed the true mask {cell([r.teacher['c'] for r in results])}, another scene's mask "
              f"{cell([r.reads_label['other mask'] for r in results])}, a zero label channel "
              f"{cell([r.reads_label['zero channel'] for r in results])}")
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in results], indent=1))


if __name__ == "__main__":
    main()
