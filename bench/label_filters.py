"""Benchmark: which rows should the audit flag? Every filter of ``find_label_issues`` against known label errors.

    python bench/label_filters.py [--datasets banking77,nlupp,20news,imdb,cifar10,mnist] [--seeds 0,1,2]
                                  [--rates 0.05,0.1,0.2] [--noises uniform,confusable] [--learner c1|audit]
                                  [--no-turk] [--json bench/results/label_filters.json]
    python bench/label_filters.py --report bench/results/label_filters.json   # reprint an earlier run's tables

Filters: all of :data:`labelwise.audit.label_errors.FILTERS` (cleanlab's seven and the two ``*_calibrated`` ones:
the lowest-scoring rows up to the calibrated estimate of the number of errors). Each one is also run through
cleanlab 2.9 on the same arrays (its ``filter.find_label_issues``; for the ``*_calibrated`` ones cleanlab's
documented recipe, ``rank.get_label_quality_scores`` cut at ``count.num_label_issues(estimation_method=
"off_diagonal_calibrated")``) and the largest Jaccard distance between the two flagged sets is printed.

Part A, synthetic flips (truth: the flipped rows), ``--seeds`` repeats of every (dataset, noise, rate):

- noise ``uniform``: ``round(rate * n)`` rows, drawn uniformly, get a class drawn uniformly from the others
  (``labelwise.data.flip_labels``); ``confusable`` (class-conditional, asymmetric): the same number of rows, each
  moved to its class's most confusable class (nearest class centroid by cosine for the embedded sets; for the
  published sets the class with the highest mean predicted probability among the class's rows). With 2 classes
  (IMDB) both are the same, so only ``uniform`` runs.
- ``banking77`` (train, 10,003 queries, 77 intents) and ``nlupp`` (NLU++ banking and hotels utterances with exactly
  one intent: 706 rows, 60 intents; NLU++ is multi-label, this is its single-label view) are embedded with the
  audit's default encoder (MiniLM, from the on-disk cache after the first run) and get 5-fold out-of-fold
  probabilities **trained on the noisy labels** from ``LogisticRegression(C=1)`` (the audit's default learner
  chooses C by inner cross-validation, 15x the cost; C=1 keeps this benchmark CPU-cheap; ``--learner audit`` uses
  it).
- ``20news``, ``imdb``, ``cifar10``, ``mnist``: the paper's published out-of-fold probabilities. There are no
  features to retrain on, so the flips are applied on top of the given labels and the probabilities are kept: they
  were computed on the original labels, i.e. from a model that never saw the flips. This favours every filter (the
  model is not pulled towards the wrong labels) and the original sets' own errors (1-3%) count as false positives
  for every filter alike.

Part B, the published sets' own errors (truth: ``bench/data/label_errors_truth.json``, the Mechanical Turk
validations, see ``bench/label_errors_truth.py``). The paper only sent to Turk the rows its own confident-learning
run flagged (cleanlab 1.0: the lowest normalised margins, as many as the uncalibrated off-diagonal count), so
recall is relative to that candidate set, a flagged row that was never reviewed is of unknown status, and the
set favours margin-ranked filters. Printed: flagged, confirmed errors found, flagged rows reviewed and rejected,
flagged rows never reviewed, precision among reviewed flagged rows, recall of the confirmed errors.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
TRUTH = REPO / "bench" / "data" / "label_errors_truth.json"
EMBEDDED = ("banking77", "nlupp")
PUBLISHED = ("20news", "imdb", "cifar10", "mnist")


def embedded(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(MiniLM embeddings (n, 384), labels (n,) int), loaded as bench/default_learner.py loads them."""
    spec = importlib.util.spec_from_file_location("default_learner", REPO / "bench" / "default_learner.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load(f"{name}-minilm")


def published(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(given labels (n,) int, published out-of-fold probabilities (n, k), rows renormalised from float16)."""
    folder = SHARED / "label-errors"
    probs = np.load(folder / f"{name}_test_set_pyx.npy").astype(np.float64)
    labels = np.load(folder / f"{name}_test_set_original_labels.npy").astype(np.int64)
    return labels, probs / probs.sum(axis=1, keepdims=True)


def most_confusable(labels: np.ndarray, k: int, *, features=None, probs=None) -> np.ndarray:
    """(k,) int: for each class, the other class it is most easily mistaken for."""
    if probs is not None:
        closeness = np.stack([probs[labels == c].mean(axis=0) for c in range(k)])
    else:
        centroids = np.stack([features[labels == c].mean(axis=0) for c in range(k)])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        closeness = centroids @ centroids.T
    np.fill_diagonal(closeness, -np.inf)
    return closeness.argmax(axis=1)


def flip(labels: np.ndarray, rate: float, noise: str, confusable: np.ndarray, seed: int):
    """(noisy labels (n,), flipped (n,) bool) with ``round(rate * n)`` rows changed."""
    from labelwise.data import flip_labels

    if noise == "uniform":
        return flip_labels(labels, rate, n_classes=len(confusable), random_state=seed)
    rng = np.random.default_rng(seed)
    flipped = np.zeros(labels.shape[0], dtype=bool)
    flipped[rng.choice(labels.shape[0], round(rate * labels.shape[0]), replace=False)] = True
    noisy = labels.copy()
    noisy[flipped] = confusable[labels[flipped]]
    return noisy, flipped


def cleanlab_flags(labels: np.ndarray, probs: np.ndarray, filter_by: str) -> np.ndarray:
    """The same filter computed by cleanlab 2.9: (n,) bool."""
    from cleanlab.count import num_label_issues
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    if not filter_by.endswith("_calibrated"):
        return find_label_issues(labels, probs, filter_by=filter_by, n_jobs=1)
    scores = get_label_quality_scores(labels, probs, method=filter_by[4:].removesuffix("_calibrated"))
    mask = np.zeros(labels.shape[0], dtype=bool)
    mask[np.argsort(scores)[: num_label_issues(labels, probs, estimation_method="off_diagonal_calibrated")]] = True
    return mask


def scores(flagged: np.ndarray, truth: np.ndarray) -> dict:
    hits = int((flagged & truth).sum())
    precision, recall = hits / max(int(flagged.sum()), 1), hits / max(int(truth.sum()), 1)
    return {"flagged": int(flagged.sum()), "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / max(precision + recall, 1e-12)}


def jaccard_distance(a: np.ndarray, b: np.ndarray) -> float:
    union = int((a | b).sum())
    return 1.0 - int((a & b).sum()) / union if union else 0.0


def run_filters(labels: np.ndarray, probs: np.ndarray, truth: np.ndarray) -> tuple[list[dict], dict]:
    """One scored row per filter, and each filter's flagged rows ((n,) bool) by name."""
    from labelwise.audit.label_errors import FILTERS, find_label_issues

    rows, flagged = [], {}
    for filter_by in FILTERS:
        flagged[filter_by] = ours = find_label_issues(labels, probs, filter_by=filter_by)
        rows.append({"filter": filter_by, **scores(ours, truth),
                     "jaccard_vs_cleanlab": jaccard_distance(ours, cleanlab_flags(labels, probs, filter_by))})
    return rows, flagged


def learner(kind: str, n_rows: int, seed: int):
    """``c1``: LogisticRegression(C=1); ``audit``: the audit's default learner (C by inner cross-validation)."""
    from sklearn.linear_model import LogisticRegression

    from labelwise.audit.out_of_fold import default_classifier

    if kind == "audit":
        return default_classifier("dense", n_rows=n_rows, random_state=seed)
    return LogisticRegression(C=1.0, max_iter=1000, random_state=seed)


def synthetic(names, seeds, rates, folds, learner_kind="c1", noises=("uniform", "confusable")) -> list[dict]:
    from labelwise.audit.out_of_fold import out_of_fold_probabilities

    runs = []
    for name in names:
        started = time.perf_counter()
        if name in EMBEDDED:
            features, clean = embedded(name)
            k, fixed_probs = int(clean.max()) + 1, None
            confusable = most_confusable(clean, k, features=features)
        else:
            clean, fixed_probs = published(name)
            k = fixed_probs.shape[1]
            confusable = most_confusable(clean, k, probs=fixed_probs)
        print(f"{name}: {clean.shape[0]:,} rows, {k} classes (loaded in {time.perf_counter() - started:.0f} s)",
              flush=True)
        for noise in noises[:1] if k == 2 else noises:
            for rate in rates:
                for seed in seeds:
                    noisy, flipped = flip(clean, rate, noise, confusable, seed)
                    probs = fixed_probs
                    if probs is None:
                        probs = out_of_fold_probabilities(features, noisy, n_classes=k, n_folds=folds,
                                                          classifier=learner(learner_kind, len(noisy), seed),
                                                          random_state=seed)
                    rows, _ = run_filters(noisy, probs, flipped)
                    runs.extend({"dataset": name, "noise": noise, "rate": rate, "seed": seed, **row} for row in rows)
                    best = max(rows, key=lambda r: r["f1"])
                    print(f"  {noise:<10} {rate:>4.0%} seed {seed}: best F1 {best['f1']:.3f} ({best['filter']})",
                          flush=True)
    return runs


def summarise(runs: list[dict]) -> list[dict]:
    """Mean over seeds per (dataset, noise, rate, filter), each filter's rank within its setting (1 = best F1)."""
    settings = sorted({(r["dataset"], r["noise"], r["rate"]) for r in runs}, key=str)
    table = []
    for dataset, noise, rate in settings:
        mine = [r for r in runs if (r["dataset"], r["noise"], r["rate"]) == (dataset, noise, rate)]
        means = []
        for filter_by in dict.fromkeys(r["filter"] for r in mine):
            of = [r for r in mine if r["filter"] == filter_by]
            means.append({"dataset": dataset, "noise": noise, "rate": rate, "filter": filter_by, "seeds": len(of),
                          **{key: float(np.mean([r[key] for r in of])) for key in ("flagged", "precision", "recall",
                                                                                    "f1")},
                          "max_jaccard_vs_cleanlab": max(r["jaccard_vs_cleanlab"] for r in of)})
        order = sorted(means, key=lambda m: -m["f1"])
        for m in means:
            m["rank"] = 1 + sum(other["f1"] > m["f1"] + 1e-12 for other in order)
        table.extend(means)
    return table


def turk(names) -> list[dict]:
    truth_file = json.loads(TRUTH.read_text())
    out = []
    for name in names:
        labels, probs = published(name)
        reviewed = np.zeros(labels.shape[0], dtype=bool)
        reviewed[truth_file["sets"][name]["reviewed"]] = True
        errors = np.zeros(labels.shape[0], dtype=bool)
        errors[truth_file["sets"][name]["errors"]] = True
        scored, masks = run_filters(labels, probs, errors)
        for row in scored:
            flagged = masks[row["filter"]]
            found, seen = int((flagged & errors).sum()), int((flagged & reviewed).sum())
            out.append({"dataset": name, "filter": row["filter"], "flagged": int(flagged.sum()),
                        "confirmed_found": found, "reviewed_rejected": seen - found,
                        "never_reviewed": int((flagged & ~reviewed).sum()),
                         "precision_among_reviewed": found / max(seen, 1), "recall": row["recall"],
                        "confirmed_total": int(errors.sum()), "jaccard_vs_cleanlab": row["jaccard_vs_cleanlab"]})
    return out


def groups(table: list[dict]) -> dict[str, list[dict]]:
    """The settings (dataset, noise, rate) split the ways the choice is judged: all, per dataset, per noise,
    trained models vs published probabilities."""
    out = {"all": table}
    for name in dict.fromkeys(m["dataset"] for m in table):
        out[name] = [m for m in table if m["dataset"] == name]
    for noise in dict.fromkeys(m["noise"] for m in table):
        out[noise] = [m for m in table if m["noise"] == noise]
    out["trained"] = [m for m in table if m["dataset"] in EMBEDDED]
    out["published"] = [m for m in table if m["dataset"] in PUBLISHED]
    return {name: rows for name, rows in out.items() if rows}


def overall(table: list[dict]) -> list[dict]:
    """Per filter over the given settings: mean F1/precision/recall/rank, settings won, mean and worst gap to the
    setting's best F1, largest Jaccard distance to cleanlab's set."""
    best = {}
    for m in table:
        key = (m["dataset"], m["noise"], m["rate"])
        best[key] = max(best.get(key, 0.0), m["f1"])
    rows = []
    for f in dict.fromkeys(m["filter"] for m in table):
        mine = [m for m in table if m["filter"] == f]
        gaps = [m["f1"] - best[(m["dataset"], m["noise"], m["rate"])] for m in mine]
        rows.append({"filter": f, "settings": len(mine), **{key: float(np.mean([m[key] for m in mine])) for key in
                                                          ("f1", "precision", "recall", "rank")},
                     "won": sum(m["rank"] == 1 for m in mine), "mean_gap": float(np.mean(gaps)),
                     "worst_gap": float(min(gaps)),
                     "max_jaccard_vs_cleanlab": max(m["max_jaccard_vs_cleanlab"] for m in mine)})
    return rows


def report(table: list[dict], validated: list[dict], seeds) -> dict:
    """Print part A (per setting, then per group of settings) and part B; return the group summaries."""
    print(f"\nA. synthetic flips: F1 (mean over seeds {seeds}) per setting; * = best in the row")
    filters = list(dict.fromkeys(m["filter"] for m in table))
    short = {f: f.replace("low_normalized_margin", "low_nm").replace("low_self_confidence", "low_sc")
             .replace("_calibrated", "_cal").replace("prune_by_", "pb_").replace("confident_learning", "cl")
             .replace("predicted_neq_given", "argmax") for f in filters}
    print(f"{'dataset':<10}{'noise':<11}{'rate':>5} " + "".join(f"{short[f]:>11}" for f in filters))
    settings = list(dict.fromkeys((m["dataset"], m["noise"], m["rate"]) for m in table))
    for setting in settings:
        cells = {m["filter"]: m for m in table if (m["dataset"], m["noise"], m["rate"]) == setting}
        print(f"{setting[0]:<10}{setting[1]:<11}{setting[2]:>5.0%} " + "".join(
            f"{cells[f]['f1']:>10.3f}{'*' if cells[f]['rank'] == 1 else ' '}" for f in filters))
    summaries = {name: overall(rows) for name, rows in groups(table).items()}
    print("\nmean F1 per group of settings (number of settings)")
    print(f"{'filter':<34}" + "".join(f"{name[:10]:>11}" for name in summaries))
    print(f"{'':<34}" + "".join(f"{'(' + str(rows[0]['settings']) + ')':>11}" for rows in summaries.values()))
    for i, f in enumerate(filters):
        print(f"{f:<34}" + "".join(f"{rows[i]['f1']:>11.3f}" for rows in summaries.values()))
    print(f"\nover all {len(settings)} settings: mean F1, precision, recall, rank; settings won; mean and worst F1 "
          "minus the setting's best; largest Jaccard distance to cleanlab's set")
    for o in summaries["all"]:
        print(f"  {o['filter']:<34} F1 {o['f1']:.3f}  P {o['precision']:.3f}  R {o['recall']:.3f}  rank "
              f"{o['rank']:4.1f}  won {o['won']:2d}  gap {o['mean_gap']:+.3f} worst {o['worst_gap']:+.3f}  "
              f"Jaccard {o['max_jaccard_vs_cleanlab']:.4f}")
    if validated:
        print("\nB. the published sets' Turk-validated errors (recall relative to the paper's reviewed candidates)")
        print(f"{'dataset':<9}{'filter':<34}{'flagged':>8}{'found':>7}{'rejected':>9}{'unreviewed':>11}"
              f"{'prec(reviewed)':>15}{'recall':>8}{'Jaccard':>8}")
    for r in validated:
        print(f"{r['dataset']:<9}{r['filter']:<34}{r['flagged']:>8,}{r['confirmed_found']:>7}"
              f"{r['reviewed_rejected']:>9}{r['never_reviewed']:>11}{r['precision_among_reviewed']:>15.3f}"
              f"{r['recall']:>8.3f}{r['jaccard_vs_cleanlab']:>8.4f}")
    return summaries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(EMBEDDED + PUBLISHED))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rates", default="0.05,0.1,0.2")
    parser.add_argument("--noises", default="uniform,confusable")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--learner", choices=("c1", "audit"), default="c1",
                        help="for banking77/nlupp: LogisticRegression(C=1), or the audit's default learner (15x slower)")
    parser.add_argument("--no-turk", action="store_true", help="skip part B")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (the machine is shared)")
    parser.add_argument("--json", default="bench/results/label_filters.json")
    parser.add_argument("--report", metavar="JSON", help="print the tables of an earlier run's JSON, compute nothing")
    args = parser.parse_args()
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        report(saved["means"], saved["turk"], saved["seeds"])
        return
    from threadpoolctl import threadpool_limits

    warnings.filterwarnings("ignore")
    threadpool_limits(limits=args.threads)
    names = args.datasets.split(",")
    unknown = set(names) - set(EMBEDDED + PUBLISHED)
    if unknown:
        raise SystemExit(f"unknown datasets {sorted(unknown)}; choose from {', '.join(EMBEDDED + PUBLISHED)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    rates = [float(r) for r in args.rates.split(",")]

    runs = synthetic(names, seeds, rates, args.folds, args.learner, tuple(args.noises.split(",")))
    table = summarise(runs)
    validated = turk([n for n in names if n in PUBLISHED and not args.no_turk])
    summaries = report(table, validated, seeds)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"seeds": seeds, "rates": rates, "folds": args.folds, "learner": args.learner,
                               "runs": runs, "means": table, "summaries": summaries, "turk": validated},
                              indent=1) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
