"""Benchmark: the multi-label audit against cleanlab 2.9's ``multilabel_classification``, on NLU++ BANKING.

    python bench/multilabel_audit.py [--seeds 0,1,2] [--drop 150] [--add 150] [--repeats 3] [--json PATH]

Data: NLU++ BANKING (2,071 utterances, 48 intents, 2.25 intents per row), embedded with the audit's default encoder
(MiniLM, from the on-disk cache after the first run). Per seed, ``labelwise.data.drop_and_add_labels`` removes one
label from ``--drop`` rows (now *missing*) and adds one label to ``--add`` other rows (now *spurious*); 5-fold
out-of-fold probabilities are then trained **on the corrupted labels** by one-vs-rest ``LogisticRegression(C=1)``
on the embeddings, as the audit's multi-label path does (``labelwise.audit.out_of_fold``, one BLAS thread).

Part A, speed and parity: every function of ``labelwise.audit.multilabel`` and cleanlab's same-named function on
the same arrays, ``--repeats`` times each, best time; cleanlab with its default ``n_jobs`` (a process pool per
class, its default on Linux) and with ``n_jobs=1``; whether the results are identical.

Part B, does the tool name the right label in the right row: for each filter, the (row, label) annotations named
missing / spurious (``filter.missing_and_spurious`` of the per-class flags) against the planted ones: precision and
recall of each, mean over seeds. NLU++ has its own annotation gaps, so a named label that was not planted is not
always wrong: precisions are lower bounds.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
NLUPP = REPO.parent / "shared" / "datasets" / "nlupp"
FILTERS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given",
           "low_normalized_margin_calibrated")


def nlupp_banking() -> tuple[np.ndarray, np.ndarray]:
    """(MiniLM embeddings (n, 384), intents (n, 48) bool) of NLU++ BANKING."""
    from labelwise.data.nlupp import intent_matrix, load_nlupp, load_nlupp_ontology, nlupp_intent_names
    from labelwise.features import TextEncoder

    table = load_nlupp(NLUPP, domains=("banking",))
    Y = intent_matrix(table["intents"], nlupp_intent_names(load_nlupp_ontology(NLUPP), "banking")).astype(bool)
    return TextEncoder().encode(table["text"].tolist()), Y


def out_of_fold(X: np.ndarray, Y: np.ndarray, seed: int, folds: int = 5) -> np.ndarray:
    """One-vs-rest logistic regression, out of fold, one BLAS thread (several threads on a shared 2-core machine
    made each fit 30x slower)."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    from labelwise.audit.out_of_fold import out_of_fold_probabilities

    with threadpool_limits(1):
        return out_of_fold_probabilities(X, Y, n_classes=Y.shape[1], classifier=LogisticRegression(max_iter=1000),
                                         n_folds=folds, multi_label=True, random_state=seed)


def best_time(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def same(a, b) -> bool:
    import pandas as pd

    if isinstance(a, pd.DataFrame):
        try:
            pd.testing.assert_frame_equal(a, b)
            return True
        except AssertionError:
            return False
    if isinstance(a, dict):
        return all(same(a[k], b[k]) for k in a)
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def speed(Y: np.ndarray, P: np.ndarray, repeats: int) -> list[dict]:
    from cleanlab.multilabel_classification import dataset as c_dataset
    from cleanlab.multilabel_classification import filter as c_filter
    from cleanlab.multilabel_classification import rank as c_rank

    from labelwise.audit.multilabel import dataset, filter, rank

    lists = [list(np.flatnonzero(row)) for row in Y]
    calls = [  # (name, ours, cleanlab, cleanlab with n_jobs=1 or None)
        ("filter.find_label_issues", lambda: filter.find_label_issues(lists, P),
         lambda: c_filter.find_label_issues(lists, P), lambda: c_filter.find_label_issues(lists, P, n_jobs=1)),
        ("filter.find_multilabel_issues_per_class", lambda: filter.find_multilabel_issues_per_class(lists, P),
         lambda: c_filter.find_multilabel_issues_per_class(lists, P),
         lambda: c_filter.find_multilabel_issues_per_class(lists, P, n_jobs=1)),
        ("filter.find_label_issues(low_self_confidence)",
         lambda: filter.find_label_issues(lists, P, filter_by="low_self_confidence"),
         lambda: c_filter.find_label_issues(lists, P, filter_by="low_self_confidence"),
         lambda: c_filter.find_label_issues(lists, P, filter_by="low_self_confidence", n_jobs=1)),
        ("rank.get_label_quality_scores", lambda: rank.get_label_quality_scores(lists, P),
         lambda: c_rank.get_label_quality_scores(lists, P), None),
        ("rank.get_label_quality_scores_per_class", lambda: rank.get_label_quality_scores_per_class(lists, P),
         lambda: c_rank.get_label_quality_scores_per_class(lists, P), None),
        ("dataset.common_multilabel_issues", lambda: dataset.common_multilabel_issues(lists, P),
         lambda: c_dataset.common_multilabel_issues(lists, P), None),
        ("dataset.rank_classes_by_multilabel_quality", lambda: dataset.rank_classes_by_multilabel_quality(lists, P),
         lambda: c_dataset.rank_classes_by_multilabel_quality(lists, P), None),
        ("dataset.overall_multilabel_health_score", lambda: dataset.overall_multilabel_health_score(lists, P),
         lambda: c_dataset.overall_multilabel_health_score(lists, P), None),
        ("dataset.multilabel_health_summary", lambda: dataset.multilabel_health_summary(lists, P, verbose=False),
         lambda: c_dataset.multilabel_health_summary(lists, P, verbose=False), None),
    ]
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, ours, theirs, theirs_1 in calls:
            t_ours, a = best_time(ours, repeats)
            t_theirs, b = best_time(theirs, repeats)
            t_theirs_1 = best_time(theirs_1, repeats)[0] if theirs_1 is not None else None
            rows.append({"function": name, "labelwise_s": t_ours, "cleanlab_s": t_theirs, "cleanlab_n_jobs_1_s": t_theirs_1,
                         "identical": same(a, b)})
    return rows


def detection(Y_noisy: np.ndarray, P: np.ndarray, dropped: np.ndarray, added: np.ndarray) -> dict:
    from labelwise.audit import label_errors
    from labelwise.audit.multilabel.filter import missing_and_spurious

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for filter_by in FILTERS:
            issues = label_errors.find_label_issues_per_class(Y_noisy, P, filter_by=filter_by)
            missing, spurious = missing_and_spurious(Y_noisy, issues)
            found_m, found_s = (missing & dropped).sum(), (spurious & added).sum()
            named = missing.sum() + spurious.sum()
            out[filter_by] = {
                "missing_recall": found_m / dropped.sum(), "missing_precision": found_m / max(missing.sum(), 1),
                "spurious_recall": found_s / added.sum(), "spurious_precision": found_s / max(spurious.sum(), 1),
                "recall": (found_m + found_s) / (dropped.sum() + added.sum()),
                "precision": (found_m + found_s) / max(named, 1), "named": int(named),
                "rows_flagged": int(issues.any(axis=1).sum()),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--drop", type=int, default=150)
    parser.add_argument("--add", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from labelwise.data.corruption import drop_and_add_labels

    X, Y = nlupp_banking()
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"NLU++ banking: {Y.shape[0]:,} rows, {Y.shape[1]} intents, {Y.sum(1).mean():.2f} per row; "
          f"{args.drop} labels dropped, {args.add} added per seed; seeds {seeds}")
    results = {"speed": None, "detection": {}}
    for seed in seeds:
        noisy, dropped, added = drop_and_add_labels(Y, args.drop, args.add, random_state=seed)
        P = out_of_fold(X, noisy, seed)
        if results["speed"] is None:
            results["speed"] = speed(noisy, P, args.repeats)
        results["detection"][seed] = detection(noisy, P, dropped, added)

    print(f"\nA. labelwise.audit.multilabel vs cleanlab 2.9 (seed {seeds[0]}, best of {args.repeats})")
    print(f"{'function':48s} {'labelwise':>10s} {'cleanlab':>10s} {'ratio':>7s} {'cl n_jobs=1':>11s} {'ratio':>7s}  same")
    for r in results["speed"]:
        one = r["cleanlab_n_jobs_1_s"]
        print(f"{r['function']:48s} {r['labelwise_s']:9.4f}s {r['cleanlab_s']:9.4f}s "
              f"{r['cleanlab_s'] / r['labelwise_s']:6.1f}x "
              + (f"{one:10.4f}s {one / r['labelwise_s']:6.1f}x" if one is not None else f"{'':11s} {'':7s}")
              + f"  {'yes' if r['identical'] else 'NO'}")
    print(f"\nB. planted missing / spurious labels named in the right row (mean of {len(seeds)} seeds)")
    print(f"{'filter (per class, one-vs-rest)':34s} {'miss rec':>8s} {'miss prec':>9s} {'spur rec':>8s} "
          f"{'spur prec':>9s} {'recall':>7s} {'prec':>6s} {'named':>6s} {'rows':>5s}")
    for filter_by in FILTERS:
        m = {key: np.mean([results["detection"][s][filter_by][key] for s in seeds])
             for key in results["detection"][seeds[0]][filter_by]}
        print(f"{filter_by:34s} {m['missing_recall']:8.2f} {m['missing_precision']:9.2f} {m['spurious_recall']:8.2f} "
              f"{m['spurious_precision']:9.2f} {m['recall']:7.2f} {m['precision']:6.2f} {m['named']:6.0f} "
              f"{m['rows_flagged']:5.0f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
