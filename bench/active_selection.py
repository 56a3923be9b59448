"""Labels needed to reach a target accuracy on Banking77 with each selection strategy of labelwise.generate.select.

    python bench/active_selection.py [--seeds 2] [--start 100] [--batch 200] [--max-labels 1100]
                                     [--target 0.70,0.80] [--json out.json]
    python bench/active_selection.py --summarise out.json [--target ...]   # the table again, other targets

Pool: Banking77 train (10,003 queries, 77 intents); evaluation: Banking77 test (3,080). Features: MiniLM embeddings
(labelwise.features.TextEncoder, the audit's default encoder; cached on disk after the first run). Learner:
LogisticRegression(C=10, max_iter=300), refit from scratch after each batch. Annotators simulated from the true labels:
each answer is correct with probability 0.9, else uniform over the 76 other classes (an independent draw per row,
fixed per seed, so every strategy sees the same answer for the same row). Each seed starts from the same ``--start``
random rows for every strategy, then adds ``--batch`` rows per round chosen by: random, least confidence, margin,
entropy, k-center (greedy, seeded with the labelled rows) and RAD (margin gains, teacher_error = 0.1, the annotators'
error rate). Printed per strategy: test accuracy at each budget, labels to reach each ``--target`` (first budget on the
grid with mean-over-seeds accuracy >= target; '>max' when never reached), and the area under the learning curve
(mean accuracy over the grid, trapezoid rule), mean +- std over seeds.
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
STRATEGIES = ("random", "least_confidence", "margin", "entropy", "k_center", "rad")
ANNOTATOR_ACCURACY = 0.9


def load():
    import pandas as pd

    from labelwise.features import TextEncoder

    train = pd.read_csv(SHARED / "banking77" / "train.csv")
    test = pd.read_csv(SHARED / "banking77" / "test.csv")
    names, y_train = np.unique(train["category"].to_numpy(), return_inverse=True)
    y_test = np.searchsorted(names, test["category"].to_numpy())
    encoder = TextEncoder()
    x_train = encoder.encode(train["text"].astype(str).tolist())
    x_test = encoder.encode(test["text"].astype(str).tolist())
    return x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64), len(names)


def annotate(truth: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Each answer correct with probability 0.9, else uniform over the other k - 1 classes."""
    rng = np.random.default_rng([seed, 77])
    wrong = rng.random(len(truth)) >= ANNOTATOR_ACCURACY
    shift = rng.integers(1, k, len(truth))
    return np.where(wrong, (truth + shift) % k, truth)


def fit_predict(x, y, x_pool, x_test, k):
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(C=10.0, max_iter=300).fit(x, y)
    cols = np.asarray(model.classes_, dtype=np.int64)
    proba = np.zeros((len(x_pool), k))
    proba[:, cols] = model.predict_proba(x_pool)
    return proba, cols[model.predict_proba(x_test).argmax(axis=1)]


def curve(strategy, x, answers, x_test, y_test, k, *, seed, start, batch, max_labels):
    from labelwise.generate.select import select_next

    labelled = np.random.default_rng([seed, 1]).choice(len(x), size=start, replace=False)
    sizes, accs = [], []
    while True:
        proba, pred = fit_predict(x[labelled], answers[labelled], x, x_test, k)
        sizes.append(len(labelled))
        accs.append(float((pred == y_test).mean()))
        if len(labelled) >= max_labels:
            return sizes, accs
        chosen = select_next(proba, x, strategy=strategy, budget=batch, labelled=labelled,
                             random_state=seed * 1000 + len(labelled), teacher_error=1 - ANNOTATOR_ACCURACY)
        labelled = np.concatenate([labelled, chosen])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--start", type=int, default=100)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--max-labels", type=int, default=1100)
    parser.add_argument("--target", default="0.70,0.80", help="accuracy targets, comma-separated")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--json", help="write the curves here")
    parser.add_argument("--summarise", help="print the table of curves a previous run wrote with --json")
    args = parser.parse_args(argv)
    targets = [float(t) for t in args.target.split(",")]
    if args.summarise:
        with open(args.summarise) as f:
            return summarise(json.load(f), targets)
    x, y, x_test, y_test, k = load()
    full = fit_predict(x, annotate(y, k, 0), x[:1], x_test, k)[1]
    print(f"Banking77: pool {len(y)}, test {len(y_test)}, {k} classes; annotators correct with p={ANNOTATOR_ACCURACY},"
          f" else uniform; LogisticRegression on MiniLM; all {len(y)} noisy labels: test accuracy "
          f"{(full == y_test).mean():.3f}")
    results = {}
    for strategy in args.strategies.split(","):
        start = time.perf_counter()
        runs = [curve(strategy, x, annotate(y, k, s), x_test, y_test, k, seed=s, start=args.start,
                      batch=args.batch, max_labels=args.max_labels) for s in range(args.seeds)]
        sizes = np.array(runs[0][0])
        accs = np.array([r[1] for r in runs])
        results[strategy] = dict(sizes=sizes.tolist(), acc=accs.tolist(), seconds=time.perf_counter() - start)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return summarise(results, targets)


def summarise(results: dict, targets: list) -> dict:
    sizes = np.array(next(iter(results.values()))["sizes"])
    print(f"\n{'strategy':<17} " + " ".join(f"{'acc@' + str(s):>9}" for s in sizes)
          + "".join(f" {'labels to ' + format(t, '.2f'):>15}" for t in targets) + f" {'AULC':>15}")
    for strategy, r in results.items():
        acc = np.array(r["acc"])
        mean = acc.mean(axis=0)
        reached = []
        for t in targets:
            hit = np.flatnonzero(mean >= t)
            reached.append(str(sizes[hit[0]]) if len(hit) else f">{sizes[-1]}")
        aulc = np.trapezoid(acc, sizes, axis=1) / (sizes[-1] - sizes[0])
        r.update(labels_to_target=dict(zip(map(str, targets), reached)), aulc_mean=float(aulc.mean()),
                 aulc_std=float(aulc.std()))
        print(f"{strategy:<17} " + " ".join(f"{a:>9.3f}" for a in mean)
              + "".join(f" {x:>15}" for x in reached) + f" {aulc.mean():>8.3f}+-{aulc.std():.3f}")
    return results


if __name__ == "__main__":
    main()
