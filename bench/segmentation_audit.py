"""Benchmark: the segmentation label audit against cleanlab 2.9's ``segmentation`` module, and how well the audit
finds corrupted masks.

    python bench/segmentation_audit.py [--repeats 3] [--sizes 300x64x11,200x128x21] [--seeds 0,1,2]
                                       [--skip-quality] [--default-n-jobs-images 20]
                                       [--json bench/results/segmentation_audit.json]

Part A, speed and parity: for each size N x S x K (N images of S x S pixels, K classes), labels and float32
pred_probs (a softmax of Gaussian logits with the true class raised by 2.5; 10 % of the pixels relabelled at
random), then every function of ``labelwise.audit.segmentation`` and cleanlab's same-named function on the same
arrays, ``--repeats`` times each, best time; cleanlab with ``n_jobs=1`` (its fastest setting here: with its default
n_jobs it starts a process pool per image batch; that setting is timed once, on ``--default-n-jobs-images`` images
of the first size) and ``verbose=False``; the ratio; and whether the results are
identical (masks and tables) or equal within 1e-12 (softmin scores). Parity is asserted: the script fails otherwise.

Part B, does the audit find corrupted masks: digit scenes (``labelwise.testing.digit_scenes``, 120 images of 32 x 32,
test pool of digits), 30 % of the masks corrupted by ``labelwise.testing.segmentation_noise.corrupt_masks`` (shift,
wrong class, missing digit, spurious blob in turn). Probabilities from (1) ``out_of_fold_pixel_probs`` (5 folds,
trained on the corrupted masks) and (2) "true" probabilities: the clean masks blurred with multiplicative noise, as
a good segmentation model would give. Per source: AUROC of the softmin image scores for "image corrupted",
precision and recall of the flagged pixels against the changed pixels, recall per corruption kind; mean over seeds.
"""

from __future__ import annotations

import argparse
import json
import time
import timeit
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def inputs(n: int, size: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """labels (n, S, S) int64, pred_probs (n, K, S, S) float32 (see the module docstring)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, (n, size, size))
    probs = rng.normal(0, 1, (n, k, size, size)).astype(np.float32)
    np.put_along_axis(probs, truth[:, None], np.take_along_axis(probs, truth[:, None], 1) + 2.5, axis=1)
    np.exp(probs, out=probs)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = np.where(rng.random(truth.shape) < 0.1, rng.integers(0, k, truth.shape), truth)
    return labels, probs


def best_time(fn, repeats: int) -> tuple[float, object]:
    """(best of ``repeats`` timed calls, the result of an untimed first call that also warms caches)."""
    out = fn()
    return min(timeit.repeat(fn, number=1, repeat=repeats)), out


def same(a, b) -> bool:
    import pandas as pd

    if isinstance(a, pd.DataFrame):
        return a.to_dict("list") == b.to_dict("list")
    if isinstance(a, tuple):
        return all(same(x, y) for x, y in zip(a, b))
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f":
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-12, atol=1e-12))
    return bool(np.array_equal(a, b))


def speed(labels: np.ndarray, probs: np.ndarray, repeats: int) -> list[dict]:
    from cleanlab.segmentation import filter as c_filter
    from cleanlab.segmentation import rank as c_rank
    from cleanlab.segmentation import summary as c_summary

    from labelwise.audit.segmentation import filter, rank, summary

    issues = filter.find_label_issues(labels, probs)
    cases = [
        ("filter.find_label_issues", lambda: filter.find_label_issues(labels, probs),
         lambda: c_filter.find_label_issues(labels, probs, n_jobs=1, verbose=False)),
        ("filter.find_label_issues(downsample=4)", lambda: filter.find_label_issues(labels, probs, downsample=4),
         lambda: c_filter.find_label_issues(labels, probs, downsample=4, n_jobs=1, verbose=False)),
        ("rank.get_label_quality_scores(softmin)", lambda: rank.get_label_quality_scores(labels, probs),
         lambda: c_rank.get_label_quality_scores(labels, probs, verbose=False)),
        ("rank.get_label_quality_scores(num_pixel_issues)",
         lambda: rank.get_label_quality_scores(labels, probs, method="num_pixel_issues"),
         lambda: c_rank.get_label_quality_scores(labels, probs, method="num_pixel_issues", n_jobs=1,
                                                 verbose=False)),
        ("summary.common_label_issues",
         lambda: summary.common_label_issues(issues, labels, probs, verbose=False),
         lambda: c_summary.common_label_issues(issues, labels, probs, verbose=False)),
    ]
    rows = []
    for name, ours, theirs in cases:
        t_ours, out_ours = best_time(ours, repeats)
        t_theirs, out_theirs = best_time(theirs, repeats)
        rows.append({"function": name, "labelwise_s": t_ours, "cleanlab_s": t_theirs,
                     "ratio": t_theirs / t_ours, "same": same(out_ours, out_theirs)})
    return rows


def default_n_jobs(labels: np.ndarray, probs: np.ndarray) -> dict:
    """cleanlab's ``find_label_issues`` with its default ``n_jobs`` (a process pool per image batch on Linux) and
    with ``n_jobs=1``, once each, against labelwise, on a few images."""
    from cleanlab.segmentation import filter as c_filter

    from labelwise.audit.segmentation import filter

    times = {}
    for name, fn in (("labelwise", lambda: filter.find_label_issues(labels, probs)),
                     ("cleanlab default n_jobs", lambda: c_filter.find_label_issues(labels, probs, verbose=False)),
                     ("cleanlab n_jobs=1", lambda: c_filter.find_label_issues(labels, probs, n_jobs=1,
                                                                               verbose=False))):
        start = time.perf_counter()
        fn()
        times[name] = time.perf_counter() - start
    return times


def true_probs(clean: np.ndarray, k: int, seed: int) -> np.ndarray:
    from scipy import ndimage

    onehot = (clean[:, None] == np.arange(k)[None, :, None, None]).astype(np.float64)
    probs = ndimage.gaussian_filter(onehot, sigma=(0, 0, 1, 1)) + 0.02
    probs *= np.exp(0.5 * np.random.default_rng(seed).normal(size=probs.shape))
    return (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)


def quality(seed: int) -> dict:
    from sklearn.metrics import roc_auc_score

    from labelwise.audit.segmentation import find_label_issues, get_label_quality_scores
    from labelwise.audit.segmentation.pixel_model import out_of_fold_pixel_probs
    from labelwise.testing.digit_scenes import NUM_CLASSES, digit_scenes
    from labelwise.testing.mosaics import split_digits
    from labelwise.testing.segmentation_noise import KINDS, corrupt_masks

    data = digit_scenes(120, size=32, pool=split_digits()[1], seed=100 + seed)
    noisy = corrupt_masks(data.masks, NUM_CLASSES, fraction=0.3, seed=seed)
    start = time.perf_counter()
    model = out_of_fold_pixel_probs(data.images, noisy.masks, NUM_CLASSES, n_splits=5, random_state=seed)
    seconds = time.perf_counter() - start
    out = {"pixel_model_s": seconds, "changed_share": float(noisy.changed.mean())}
    for name, probs in (("pixel model (out of fold)", model), ("true probabilities", true_probs(data.masks,
                                                                                                  NUM_CLASSES, seed))):
        issues = find_label_issues(noisy.masks, probs)
        scores, _ = get_label_quality_scores(noisy.masks, probs)
        hits = issues & noisy.changed
        row = {"auroc": roc_auc_score(noisy.corrupted, -scores),
               "precision": hits.sum() / max(1, issues.sum()), "recall": hits.sum() / noisy.changed.sum()}
        for kind in KINDS:
            mine = noisy.kinds == kind
            row[f"recall_{kind}"] = hits[mine].sum() / max(1, noisy.changed[mine].sum())
        out[name] = row
    return out


def main() -> None:
    from threadpoolctl import threadpool_limits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="300x64x11,200x128x21")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--default-n-jobs-images", type=int, default=20)
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "segmentation_audit.json")
    args = parser.parse_args()
    results = {"speed": {}, "quality": {}}
    n, side, k = (int(v) for v in args.sizes.split(",")[0].split("x"))
    labels, probs = inputs(args.default_n_jobs_images, side, k)
    results["default_n_jobs"] = default_n_jobs(labels, probs)
    print(f"find_label_issues on {args.default_n_jobs_images} images of {side}x{side}, K = {k}, once: " + ", ".join(
        f"{name} {seconds:.3f}s" for name, seconds in results["default_n_jobs"].items()))
    for size in args.sizes.split(","):
        n, side, k = (int(v) for v in size.split("x"))
        labels, probs = inputs(n, side, k)
        rows = speed(labels, probs, args.repeats)
        results["speed"][size] = rows
        print(f"\nA. {n} images of {side}x{side}, K = {k}: labelwise.audit.segmentation vs cleanlab 2.9 "
              f"(n_jobs=1), best of {args.repeats}")
        print(f"{'function':48s} {'labelwise':>10s} {'cleanlab':>10s} {'ratio':>7s}  same")
        for r in rows:
            print(f"{r['function']:48s} {r['labelwise_s']:9.3f}s {r['cleanlab_s']:9.3f}s {r['ratio']:6.1f}x  "
                  f"{'yes' if r['same'] else 'NO'}")
        assert all(r["same"] for r in rows), "parity with cleanlab broken"
        del labels, probs
    if not args.skip_quality:
        seeds = [int(s) for s in args.seeds.split(",")]
        with threadpool_limits(1):  # several BLAS threads oversubscribe a shared machine
            per_seed = {seed: quality(seed) for seed in seeds}
        results["quality"] = per_seed
        print(f"\nB. digit scenes (120 x 32x32, 30 % of masks corrupted), mean of {len(seeds)} seeds; pixel model "
              f"{np.mean([q['pixel_model_s'] for q in per_seed.values()]):.1f}s per run, changed pixels "
              f"{np.mean([q['changed_share'] for q in per_seed.values()]):.3f}")
        keys = ["auroc", "precision", "recall", "recall_shift", "recall_wrong_class", "recall_missing",
                "recall_blob"]
        print(f"{'probabilities':28s} " + " ".join(f"{key.replace('recall_', 'rec ')[:11]:>11s}" for key in keys))
        for name in ("pixel model (out of fold)", "true probabilities"):
            print(f"{name:28s} " + " ".join(f"{np.mean([q[name][key] for q in per_seed.values()]):11.3f}"
                                            for key in keys))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
