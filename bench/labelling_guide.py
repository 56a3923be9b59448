"""Labelling instructions (paper 16, Chang et al., "Thinking Like an Annotator", 2023): how well do a few real
examples per class instruct a proxy annotator? Held-out mAP by 5-fold cross-validation.

    python bench/labelling_guide.py [--folds 5] [--pool 60] [--json bench/results/labelling_guide.json]

Data: Banking77 train (10,003 queries, 77 intents), embedded with labelwise's packaged MiniLM (int8 ONNX), and, as a
second, non-text check, sklearn's digits (PCA(32, whiten) of the pixels; 10 classes). Per class, K examples are
chosen from the training folds only; the proxy annotator scores every held-out row by its maximum cosine to a
class's examples, and AP ranks all held-out rows (all classes) with the class's rows as positives; macro mean over
classes, mean and std over folds. Methods: random K (the paper's unoptimised baseline), centrality (the K most
typical rows), MMR (centrality + diversity, lambda 0.5 and two other settings), k-center, k-medoids, greedy-AP (the
paper's search, candidate pool --pool; since issue 14 with labelwise's shortcuts, hard negatives and a binned AP,
which bench/guide_speed.py compares with the exact search), and the class mean (a reference that ranks well but is not a real row, so
it is not a valid instruction).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from labelwise.generate.instructions import cross_validated_map

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "banking77"
METHODS = ["random", "centrality", "mmr", "k-center", "k-medoids", "greedy-ap"]


def banking77() -> tuple[np.ndarray, np.ndarray]:
    from labelwise.features import TextEncoder

    train = pd.read_csv(SHARED / "train.csv")
    classes = sorted(train["category"].unique())
    codes = np.searchsorted(classes, train["category"].to_numpy())
    return TextEncoder().encode(train["text"].astype(str).tolist()), codes


def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    data = load_digits()
    return PCA(32, whiten=True, random_state=0).fit_transform(data.data), data.target


def run(name: str, x: np.ndarray, y: np.ndarray, ks: list, folds: int, pool: int) -> list:
    rows = []
    plan = [(m, k, {}) for k in ks for m in METHODS]
    plan += [("mmr", k, {"lambda_": lam}) for k in ks for lam in (0.3, 0.7)]
    plan += [("class-mean", 1, {})]
    for method, k, options in plan:
        t0 = time.perf_counter()
        per_fold = cross_validated_map(x, y, method, k, folds, random_state=0, candidate_pool=pool, **options)
        label = method + (f" (lambda {options['lambda_']})" if options else "")
        rows.append({"data": name, "method": label, "k": k, "map_mean": float(per_fold.mean()),
                     "map_std": float(per_fold.std()), "per_fold": [float(v) for v in per_fold],
                     "seconds": time.perf_counter() - t0})
        print(f"{name:<9} {label:<20} K={k}  mAP {per_fold.mean():.3f} ± {per_fold.std():.3f}  "
              f"{rows[-1]['seconds']:6.1f} s", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--pool", type=int, default=60)
    parser.add_argument("--json", default="bench/results/labelling_guide.json")
    args = parser.parse_args()

    t0 = time.perf_counter()
    x, y = banking77()
    embed_seconds = time.perf_counter() - t0
    rows = run("banking77", x, y, [3, 5], args.folds, args.pool)
    rows += run("digits", *digits(), [3], args.folds, args.pool)

    print("\n| data | method | K | held-out mAP | vs random | seconds |\n|---|---|---|---|---|---|")
    for r in rows:
        base = next((b for b in rows if b["data"] == r["data"] and b["method"] == "random" and b["k"] == r["k"]),
                    None)
        ratio = f"{r['map_mean'] - base['map_mean']:+.3f}" if base else ""
        print(f"| {r['data']} | {r['method']} | {r['k']} | {r['map_mean']:.3f} ± {r['map_std']:.3f} | {ratio} | "
              f"{r['seconds']:.1f} |")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"folds": args.folds, "pool": args.pool, "embed_seconds": embed_seconds,
                               "rows": rows}, indent=2) + "\n")
    print(f"\nembedding Banking77: {embed_seconds:.1f} s; wrote {out}")


if __name__ == "__main__":
    main()
