"""Benchmark: the audit's default learner with C chosen by inner cross-validation vs a fixed C=1.

    python bench/default_learner.py [--datasets banking77-minilm,nlupp-minilm,digits,banking77-tfidf:0]
                                    [--seeds 0,1,2] [--json bench/results/default_learner.json]

For each dataset and seed, 10% of the labels are flipped uniformly to another class (``flip_labels``, that seed);
5-fold out-of-fold probabilities (``out_of_fold_probabilities``, the same folds for both learners) go through
confident learning (``find_label_issues``, ``prune_by_noise_rate``, the audit's default), and the flagged rows are
scored against the flipped ones. The two learners:

- ``C=1``: ``LogisticRegression(C=1)``, the audit's default learner before issue 13;
- ``inner CV``: ``default_classifier`` now, ``LogisticRegressionCV`` choosing C from ``C_GRID`` by
  ``INNER_FOLDS``-fold log-loss inside each outer fold.

Datasets: Banking77 train (10,003 queries, 77 intents) as MiniLM embeddings and as TF-IDF (``../shared/datasets``);
NLU++ banking and hotels utterances that carry exactly one intent, as MiniLM embeddings; scikit-learn's bundled
digits (1,797 images, pixels / 16). Embeddings come from the on-disk cache (``LABELWISE_CACHE_DIR``) after the
first run. ``name:0/1`` runs a dataset with its own seeds (the default gives TF-IDF one seed: its 23,608-column
multinomial fits are the slowest here). Prints one row per dataset, seed and learner, then the means over seeds
with the time ratio (inner CV / C=1, measured in this process, BLAS limited to ``--threads``), and the C that
inner CV chose on all rows of the first seed.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
DATASETS = ("banking77-minilm", "nlupp-minilm", "digits", "banking77-tfidf:0")


def load(name: str):
    """(features (n, d) dense or sparse, labels (n,) int) for one dataset."""
    import pandas as pd

    if name == "digits":
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        return (x / 16.0).astype(np.float32), y.astype(np.int64)
    if name.startswith("banking77"):
        frame = pd.read_csv(SHARED / "banking77" / "train.csv")
        texts, names = frame["text"].astype(str).tolist(), frame["category"].to_numpy()
    elif name == "nlupp-minilm":
        from labelwise.data.nlupp import load_nlupp

        table = load_nlupp(SHARED / "nlupp")
        table = table[table["intents"].map(len) == 1]
        texts, names = table["text"].astype(str).tolist(), table["intents"].map(lambda v: v[0]).to_numpy()
    else:
        raise SystemExit(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    labels = np.unique(names, return_inverse=True)[1].astype(np.int64)
    if name.endswith("tfidf"):
        from labelwise.features import TfidfEncoder

        return TfidfEncoder().fit_transform(texts), labels
    from labelwise.features import TextEncoder

    return TextEncoder().encode(texts), labels


def learners(n_rows: int, seed: int) -> dict:
    from sklearn.linear_model import LogisticRegression

    from labelwise.audit.out_of_fold import default_classifier

    fixed = LogisticRegression(C=1.0, max_iter=1000, tol=1e-3 if n_rows >= 50_000 else 1e-4, random_state=seed)
    return {"C=1": fixed, "inner CV": default_classifier("dense", n_rows=n_rows, random_state=seed)}


def scores(flagged: np.ndarray, truth: np.ndarray) -> dict:
    hits = int((flagged & truth).sum())
    precision, recall = hits / max(int(flagged.sum()), 1), hits / max(int(truth.sum()), 1)
    return {"flagged": int(flagged.sum()), "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / max(precision + recall, 1e-12)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads for both learners (1: timings that a busy shared machine does not skew)")
    parser.add_argument("--json", default="bench/results/default_learner.json")
    args = parser.parse_args()

    from labelwise.audit.label_errors import find_label_issues
    from labelwise.audit.out_of_fold import C_GRID, INNER_FOLDS, out_of_fold_probabilities
    from labelwise.data import flip_labels

    from threadpoolctl import threadpool_limits

    warnings.filterwarnings("ignore")
    threadpool_limits(limits=args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    plan = {}
    for spec in args.datasets.split(","):
        name, _, own = spec.partition(":")
        plan[name] = [int(s) for s in own.split("/")] if own else seeds
    print(f"C grid {C_GRID}, {INNER_FOLDS} inner folds, {args.folds} outer folds, 10% uniform flips; seeds {plan}")
    rows, chosen = [], {}
    header = f"{'dataset':<18}{'seed':>5}  {'learner':<9}{'seconds':>9}{'accuracy':>10}{'flagged':>9}" \
             f"{'precision':>11}{'recall':>8}{'F1':>7}"
    print(header)
    for name, own_seeds in plan.items():
        x, clean = load(name)
        k = int(clean.max()) + 1
        for seed in own_seeds:
            noisy, flipped = flip_labels(clean, 0.10, n_classes=k, random_state=seed)
            for learner, model in learners(x.shape[0], seed).items():
                started = time.perf_counter()
                probs = out_of_fold_probabilities(x, noisy, n_classes=k, classifier=model, n_folds=args.folds,
                                                  random_state=seed)
                seconds = time.perf_counter() - started
                row = {"dataset": name, "rows": int(x.shape[0]), "classes": k, "seed": seed, "learner": learner,
                       "seconds": seconds, "accuracy": float(np.mean(probs.argmax(1) == clean)),
                       **scores(find_label_issues(noisy, probs, filter_by="prune_by_noise_rate"), flipped)}
                rows.append(row)
                print(f"{name:<18}{seed:>5}  {learner:<9}{seconds:>9.1f}{row['accuracy']:>10.3f}{row['flagged']:>9,}"
                      f"{row['precision']:>11.3f}{row['recall']:>8.3f}{row['f1']:>7.3f}", flush=True)
            if seed == own_seeds[0]:
                model = learners(x.shape[0], seed)["inner CV"].fit(x, noisy)
                chosen[name] = float(np.ravel(model.C_)[0])

    print("\nmeans over each dataset's seeds (time ratio: inner CV seconds / C=1 seconds, same process)")
    print(f"{'dataset':<18}{'learner':<10}{'seeds':>6}{'seconds':>9}{'ratio':>7}{'accuracy':>10}{'precision':>11}"
          f"{'recall':>8}{'F1':>7}{'F1 sd':>7}{'C chosen':>10}")
    summary = []
    for name in plan:
        base = np.mean([r["seconds"] for r in rows if r["dataset"] == name and r["learner"] == "C=1"])
        for learner in ("C=1", "inner CV"):
            mine = [r for r in rows if r["dataset"] == name and r["learner"] == learner]
            mean = {key: float(np.mean([r[key] for r in mine])) for key in
                    ("seconds", "accuracy", "precision", "recall", "f1")}
            mean.update(dataset=name, learner=learner, seeds=len(mine), ratio=mean["seconds"] / base,
                        f1_sd=float(np.std([r["f1"] for r in mine])),
                        c_chosen=1.0 if learner == "C=1" else chosen[name])
            summary.append(mean)
            print(f"{name:<18}{learner:<10}{len(mine):>6}{mean['seconds']:>9.1f}{mean['ratio']:>7.1f}"
                  f"{mean['accuracy']:>10.3f}"
                  f"{mean['precision']:>11.3f}{mean['recall']:>8.3f}{mean['f1']:>7.3f}{mean['f1_sd']:>7.3f}"
                  f"{mean['c_chosen']:>10g}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"c_grid": list(C_GRID), "inner_folds": INNER_FOLDS, "outer_folds": args.folds,
                               "runs": rows, "means": summary}, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
