"""Benchmark: the box-label audit against cleanlab 2.9's ``object_detection`` module, and how well the audit finds
corrupted box labels.

    python bench/object_detection_audit.py [--repeats 3] [--sizes 200x48x3x1-3,300x640x20x5-20] [--seeds 0,1]
                                           [--skip-quality] [--skip-speed]
                                           [--json bench/results/object_detection_audit.json]

Part A, speed and parity: for each size N x S x K x A-B (N images of S x S pixels, K classes, A to B objects per
image), random true boxes (sides 8-25 % of S), predictions of a simulated good detector
(``labelwise.testing.box_noise.simulate_predictions``: each object found with pred_prob in [0.96, 1) and boxes
jittered by 1 % of S, a low-confidence box of another class for 30 % of the objects, on average one low-confidence
false positive per image), labels with 30 % of the images corrupted (``corrupt_boxes``: a box dropped, its class
changed or shifted by half its size, in turn). Every function of ``labelwise.audit.object_detection`` and cleanlab's
same-named function on the same inputs, ``--repeats`` times each, best time, and the ratio. cleanlab runs as a user
calls it (``find_label_issues`` and ``calculate_per_class_metrics`` start a process pool per class and IoU
threshold, ``num_procs=1``), and once more with that pool replaced by a plain loop in the same process (its fastest
setting: the ratio against it is the one that counts). Parity is checked and printed: identical flags and counts,
scores within 1e-12; the script fails otherwise. labelwise uses no process pool or threads.

Part B, does the audit find the corruptions: shape scenes (``labelwise.testing.box_scenes.shape_scenes``, 300
images of 48 x 48, 1-3 objects of 3 classes), 30 % of the images corrupted as above, the simulated predictions made
from the clean boxes. Per seed: AUROC of the image scores for "image corrupted", precision of the flagged images
and their recall per corruption kind, the AUROC of each per-box score for "this box was corrupted" and the
recall / false-flag rate of ``box_issue_types(..., threshold=0.3)``; the median score of the corrupted boxes and
the range of ``find_label_issues``' per-class cuts (0.8 x 0.25 x the class's AP). cleanlab's results are the same
(part A).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
import warnings
from pathlib import Path

import numpy as np

from labelwise.audit import object_detection as od
from labelwise.audit.object_detection import summary
from labelwise.audit.object_detection._inputs import flatten
from labelwise.audit.object_detection.matching import per_class_ap
from labelwise.audit.object_detection.rank import box_issue_types
from labelwise.testing.box_noise import KINDS, corrupt_boxes, simulate_predictions
from labelwise.testing.box_scenes import shape_scenes
from labelwise.testing.serial_pool import SerialPool

REPO = Path(__file__).resolve().parents[1]


def random_scene_boxes(n: int, size: int, k: int, objects: tuple, seed: int) -> tuple[list, list]:
    """``n`` images' true boxes ``(k_i, 4)`` xyxy (sides 8-25 % of ``size``) and classes ``(k_i,)``."""
    rng = np.random.default_rng(seed)
    boxes, classes = [], []
    for _ in range(n):
        m = int(rng.integers(objects[0], objects[1] + 1))
        wh = rng.uniform(0.08, 0.25, (m, 2)) * size
        xy = rng.uniform(0, 1, (m, 2)) * (size - wh)
        boxes.append(np.round(np.hstack([xy, xy + wh]), 1))
        classes.append(rng.integers(0, k, m))
    return boxes, classes


def inputs(n: int, size: int, k: int, objects: tuple, seed: int = 0) -> tuple[list, list]:
    boxes, classes = random_scene_boxes(n, size, k, objects, seed)
    predictions = simulate_predictions(boxes, classes, k, size=size, jitter=0.01 * size, false_positives=1.0,
                                       seed=seed + 1)
    return corrupt_boxes(boxes, classes, k, fraction=0.3, seed=seed + 2).labels, predictions


def quiet(fn, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def best_time(fn, repeats: int) -> tuple[float, object]:
    """(best of ``repeats`` timed calls, the last result)."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def same(a, b) -> bool:
    if isinstance(a, np.ndarray) and a.dtype == bool:
        return np.array_equal(a, np.asarray(b, dtype=bool))
    if isinstance(a, list) and a and isinstance(a[0], np.ndarray):
        return len(a) == len(b) and all(x.shape == y.shape and np.allclose(x, y, rtol=1e-12, atol=1e-15,
                                                                           equal_nan=True) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.allclose(a, b, rtol=1e-12, atol=1e-15)
    if isinstance(a, dict):
        return list(a) == list(b) and all(np.allclose(list(a[key].values()), list(b[key].values()), equal_nan=True,
                                                      rtol=0, atol=0) for key in a)
    return a == b


def speed(labels: list, predictions: list, repeats: int) -> list[dict]:
    from cleanlab.object_detection import filter as cl_filter
    from cleanlab.object_detection import rank as cl_rank
    from cleanlab.object_detection import summary as cl_summary

    calls = {
        "filter.find_label_issues": (lambda: od.find_label_issues(labels, predictions),
                                     lambda: cl_filter.find_label_issues(labels, predictions)),
        "rank.get_label_quality_scores": (lambda: od.get_label_quality_scores(labels, predictions),
                                          lambda: quiet(cl_rank.get_label_quality_scores, labels, predictions)),
    }
    for name in ("compute_overlooked_box_scores", "compute_badloc_box_scores", "compute_swap_box_scores"):
        calls[f"rank.{name}"] = (lambda name=name: getattr(od, name)(labels=labels, predictions=predictions),
                                 lambda name=name: getattr(cl_rank, name)(labels=labels, predictions=predictions))
    calls["summary.calculate_per_class_metrics"] = (
        lambda: summary.calculate_per_class_metrics(labels, predictions),
        lambda: quiet(cl_summary.calculate_per_class_metrics, labels, predictions))
    calls["summary.bounding_box_size_distribution"] = (
        lambda: summary.bounding_box_size_distribution(labels, predictions),
        lambda: cl_summary.bounding_box_size_distribution(labels, predictions))
    pooled = {"filter.find_label_issues", "summary.calculate_per_class_metrics"}
    rows = []
    for name, (ours, theirs) in calls.items():
        ours_s, ours_out = best_time(ours, repeats)
        row = {"function": name, "labelwise_s": ours_s}
        if name in pooled:
            row["cleanlab_pool_s"], _ = best_time(theirs, repeats)
        originals = cl_filter.Pool, cl_summary.Pool
        cl_filter.Pool = cl_summary.Pool = SerialPool
        try:
            row["cleanlab_s"], theirs_out = best_time(theirs, repeats)
        finally:
            cl_filter.Pool, cl_summary.Pool = originals
        if name == "summary.bounding_box_size_distribution":
            row["same"] = all(list(x) == list(y) and all(np.allclose(x[c], y[c]) for c in x)
                              for x, y in zip(ours_out, theirs_out))
        else:
            row["same"] = bool(same(ours_out, theirs_out))
        row["ratio"] = row["cleanlab_s"] / ours_s
        rows.append(row)
    return rows


def auroc(truth: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(truth, score))


def quality(seed: int) -> dict:
    data = shape_scenes(300, seed=seed)
    predictions = simulate_predictions(data.boxes, data.classes, 3, seed=seed + 1)
    corrupted = corrupt_boxes(data.boxes, data.classes, 3, fraction=0.3, seed=seed + 2)
    labels = corrupted.labels
    scores = od.get_label_quality_scores(labels, predictions)
    flagged = od.find_label_issues(labels, predictions)
    out = {"image_auroc": auroc(corrupted.kind != "", -scores), "flagged": int(flagged.sum()),
           "flagged_precision": float(np.mean(corrupted.kind[flagged] != "")) if flagged.any() else float("nan")}
    for kind in KINDS:
        out[f"image_recall_{kind}"] = float(flagged[corrupted.kind == kind].mean())
    default, loose = box_issue_types(labels, predictions), box_issue_types(labels, predictions, threshold=0.3)
    for kind, key in (("swapped", "swap"), ("badloc", "badloc")):
        truth = np.concatenate([np.arange(len(t[key])) == (corrupted.box[i] if corrupted.kind[i] == kind else -1)
                                for i, t in enumerate(default)])
        score = np.concatenate([t[f"{key}_score"] for t in default])
        flag = np.concatenate([t[key] for t in loose])
        out[f"box_auroc_{kind}"] = auroc(truth, -score)
        out[f"box_recall_{kind}@0.3"] = float(flag[truth].mean())
        out[f"box_false_flags_{kind}@0.3"] = float(flag[~truth].mean())
        out[f"median_score_{kind}"] = float(np.median(score[truth]))
    cuts = per_class_ap(flatten(labels, predictions)) * 0.25 * 0.8
    out["cut_min"], out["cut_max"] = float(cuts.min()), float(cuts.max())
    found = [t["overlooked"].any() for i, t in enumerate(loose) if corrupted.kind[i] == "overlooked"]
    out["image_recall_overlooked@0.3"] = float(np.mean(found))
    out["false_overlooked@0.3"] = float(np.mean([t["overlooked"].any() for i, t in enumerate(loose)
                                                  if corrupted.kind[i] != "overlooked"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="200x48x3x1-3,300x640x20x5-20")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "object_detection_audit.json")
    args = parser.parse_args()
    results: dict = {"repeats": args.repeats, "speed": {}, "quality": {}}
    failed = False
    for spec in [] if args.skip_speed else args.sizes.split(","):
        n, size, k, objects = spec.split("x")
        low, high = (int(v) for v in objects.split("-"))
        labels, predictions = inputs(int(n), int(size), int(k), (low, high))
        boxes = sum(len(label["labels"]) for label in labels)
        preds = sum(sum(len(p) for p in prediction) for prediction in predictions)
        print(f"\nA. {n} images of {size}x{size}, K = {k}, {boxes} label boxes, {preds} predicted boxes: "
              f"labelwise.audit.object_detection vs cleanlab 2.9, best of {args.repeats}")
        print(f"{'function':40s} {'labelwise':>10s} {'cleanlab':>10s} {'ratio':>7s} {'cl. pool':>10s} {'ratio':>7s}"
              f"  same")
        rows = speed(labels, predictions, args.repeats)
        for r in rows:
            pool = (f"{r['cleanlab_pool_s']:9.3f}s {r['cleanlab_pool_s'] / r['labelwise_s']:6.1f}x"
                    if "cleanlab_pool_s" in r else f"{'':10s} {'':7s}")
            print(f"{r['function']:40s} {r['labelwise_s']:9.3f}s {r['cleanlab_s']:9.3f}s {r['ratio']:6.1f}x {pool}  "
                  f"{'yes' if r['same'] else 'NO'}")
            failed |= not r["same"]
        results["speed"][spec] = {"label_boxes": boxes, "predicted_boxes": preds, "rows": rows}
    if not args.skip_quality:
        seeds = [int(s) for s in args.seeds.split(",")]
        per_seed = {seed: quality(seed) for seed in seeds}
        results["quality"] = per_seed
        print(f"\nB. shape scenes (300 x 48x48), 30 % of the images corrupted, simulated predictions; seeds {seeds}")
        for key in per_seed[seeds[0]]:
            print(f"{key:32s} " + " ".join(f"{per_seed[s][key]:8.3f}" for s in seeds))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, default=float) + "\n")
    if failed:
        raise SystemExit("labelwise and cleanlab disagree (see 'same' above)")


if __name__ == "__main__":
    main()
