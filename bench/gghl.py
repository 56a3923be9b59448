"""Benchmark: GGHL's oriented Gaussian label assignment (paper 33) against the centre-point baseline, the notes'
learning check (section 4b) at CPU scale.

    python bench/gghl.py [--seeds 0,1] [--train 2000] [--test 300] [--steps 1500] [--arms centre,gaussian]
                         [--json bench/results/gghl.json]

Data: ``labelwise.testing.box_scenes.oriented_scenes``, 64 x 64 images with 1-3 rotated rectangles and ellipses
(2 classes), long side 12-30 px, aspect 1-6. Per seed: a training set and three test sets drawn with other seeds:
"all" (aspect 1-6), "elongated" (every object aspect 3-6) and "compact" (aspect 1-2). The same
``HeatmapDetector`` (stride 4, same network, JOL loss, steps, batch, learning rate and decoding) is trained twice,
with ``assigner="centre"`` (CenterNet-like: one positive per object, isotropic heat) and ``assigner="gaussian"``
(OLA, tau 0.3); the seed sets the training scenes, the initialisation and the batch order, identical for both arms.
Metric: rotated-IoU COCO AP via ``labelwise.assign.box_metrics.detection_ap`` on 5-column boxes (AP50 and
AP@[.5:.95]), and ``centre_iou``: the mean rotated IoU of the box each net regresses at the true centre cells
(``HeatmapDetector.boxes_at``: localisation alone, apart from scoring and NMS). Prints mean +- std over seeds, each
seed's figures and the gaps; writes JSON. ``--claim-test`` runs the claim test's small setting
(tests/learn/test_heatmap_detector.py) over the seeds. Ablations of the OLA arm
by ``--arms``: ``gaussian-soft`` (the heat as the class label instead of the smoothed one-hot),
``gaussian-norefine`` (objectness weighted by the Gaussian alone, no adaptive label refinement).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

ARMS = ("centre", "gaussian")
#: every arm the script knows: the detector's parameters (same network, loss, budget and decoding otherwise)
ARM_PARAMS = {"centre": {"assigner": "centre"}, "gaussian": {"assigner": "gaussian"},
              "gaussian-soft": {"assigner": "gaussian", "soft_class_targets": True},
              "gaussian-norefine": {"assigner": "gaussian", "refine": False}}
TEST_SETS = {"all": (1.0, 6.0), "elongated": (3.0, 6.0), "compact": (1.0, 2.0)}


def run_seed(seed: int, args) -> dict:
    from labelwise.assign.box_metrics import detection_ap
    from labelwise.learn.heatmap_detector import HeatmapDetector
    from labelwise.testing.box_scenes import oriented_scenes

    from labelwise.assign.box_geometry import oriented_box_iou

    if args.claim_test:  # the claim test's scenes, the same for every seed (the seed moves the model only)
        kw = {"size": 48, "long_px": (10, 21)}
        train = oriented_scenes(args.train, seed=11, **kw)
        tests = {name: oriented_scenes(args.test, aspect=aspect, seed=12 + i, **kw)
                 for i, (name, aspect) in enumerate(TEST_SETS.items())}
    else:
        train = oriented_scenes(args.train, seed=1000 + seed)
        tests = {name: oriented_scenes(args.test, aspect=aspect, seed=2000 + 10 * seed + i)
                 for i, (name, aspect) in enumerate(TEST_SETS.items())}
    out = {}
    for arm in args.arms:
        t0 = time.perf_counter()
        det = HeatmapDetector(**ARM_PARAMS[arm], steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                              width=args.width, random_state=seed).fit(train.images, train.boxes, train.classes)
        fit_s = time.perf_counter() - t0
        targets = det.targets(train.boxes, train.classes, det.img_size_, det.n_classes_)
        positives = np.concatenate([t[0]["positives"] for t in targets])
        row = {"fit_s": round(fit_s, 1), "positives_per_object": float(positives.mean()),
               "final_loss": float(np.mean(det.losses_[-50:]))}
        for name, scenes in tests.items():
            boxes, scores, classes = det.predict(scenes.images)
            ap = detection_ap(boxes, scores, classes, scenes.boxes, scenes.classes)
            at = det.boxes_at(scenes.images, [b[:, :2] for b in scenes.boxes])
            iou = np.concatenate([np.diag(oriented_box_iou(p, g)) for p, g in zip(at, scenes.boxes)])
            row[name] = {"AP50": float(ap["AP50"]), "AP": float(ap["AP"]), "AP75": float(ap["AP75"]),
                         "centre_iou": float(iou.mean())}
        out[arm] = row
        print(f"  seed {seed} {arm:17s} " + "  ".join(f"{n} AP50 {row[n]['AP50']:.3f} AP {row[n]['AP']:.3f} "
                                                    f"cIoU {row[n]['centre_iou']:.3f}" for n in TEST_SETS)
              + f"  ({fit_s:.0f} s, {row['positives_per_object']:.1f} positives / object)", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--test", type=int, default=300)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--claim-test", action="store_true",
                    help="the claim test's setting: 48 x 48 scenes (long side 10-21 px), training scenes of seed 11 "
                         "and test scenes of seed 12 for every seed, 500 / 80 scenes, 150 steps of 16, width 16, "
                         "lr 5e-3 (overrides those options)")
    ap.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, from {', '.join(ARM_PARAMS)}")
    ap.add_argument("--json", default=str(Path(__file__).resolve().parent / "results" / "gghl.json"))
    args = ap.parse_args()
    args.arms = args.arms.split(",")
    if args.claim_test:
        args.train, args.test, args.steps, args.batch_size, args.width, args.lr = 500, 80, 150, 16, 16, 5e-3
    if "centre" not in args.arms or any(a not in ARM_PARAMS for a in args.arms):
        ap.error(f"--arms must include centre (the gaps are taken against it) and only {', '.join(ARM_PARAMS)}")

    import torch

    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"GGHL vs centre-point on oriented scenes: train {args.train}, test {args.test} per set, "
          f"{args.steps} steps x batch {args.batch_size}, seeds {seeds}", flush=True)
    t_all = time.perf_counter()
    per_seed = {seed: run_seed(seed, args) for seed in seeds}

    def stats(arm, test, metric):
        v = np.array([per_seed[s][arm][test][metric] for s in seeds])
        return v.mean(), (v.std(ddof=1) if len(v) > 1 else 0.0)

    print(f"\nrotated-IoU AP, mean +- std over {len(seeds)} seeds")
    others = [a for a in args.arms if a != "centre"]
    print(f"{'test set':10s} {'metric':10s} " + " ".join(f"{a:>17s}" for a in args.arms)
          + "".join(f" {'gap ' + a:>22s} {'per seed':>15s}" for a in others))
    summary = {}
    for test in TEST_SETS:
        for metric in ("AP50", "AP", "centre_iou"):
            cells = [stats(a, test, metric) for a in args.arms]
            row = {a: round(c[0], 4) for a, c in zip(args.arms, cells)}
            line = f"{test:10s} {metric:10s} " + " ".join(f"{m:.3f} +- {s:.3f}".rjust(17) for m, s in cells)
            for arm in others:
                gaps = [per_seed[s][arm][test][metric] - per_seed[s]["centre"][test][metric] for s in seeds]
                row[f"gap_{arm}_per_seed"] = [round(g, 4) for g in gaps]
                line += f" {np.mean(gaps):+22.3f} " + " ".join(f"{g:+.3f}" for g in gaps).rjust(15)
            summary[f"{test}/{metric}"] = row
            print(line)
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")
    result = {"config": vars(args) | {"seeds": seeds}, "summary": summary,
              "per_seed": {str(s): r for s, r in per_seed.items()}}
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
