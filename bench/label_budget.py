"""Label budget planner (paper 26, Mallen & Belrose 2024): the three regimes, weak labels vs oracle labels.

Digits (binary: digit >= 5): the weak labeller is a logistic regression (C = 0.05) on 10 PCA components trained on
60 true labels of a disjoint split of 300; pool 997, test 500; a linear head on 20 PCA components (PCA fitted on
unlabelled data); cost ratio r = 0.1; budgets 4, 16, 64, 256; f in 1, 0.5, 0.25, 0.1, 0; 5 seeds (notes 26.4).

    PYTHONPATH=src python bench/label_budget.py [--seeds 5] [--banking77]

Prints accuracy per budget and mix, the regime per budget (mixed: a mix beats both pure strategies by > 0.02),
and writes bench/results/label_budget.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from labelwise.generate.budget import LabelBudgetPlanner, classify_regime, pareto_frontier


def digits_task(seed: int = 0):
    """(X_pool, y_pool, y_weak, X_test, y_test, weak accuracy on the pool): the notes' 26.4 set-up."""
    X, y = load_digits(return_X_y=True)
    y = (y >= 5).astype(int)
    perm = np.random.default_rng(seed).permutation(len(y))
    weak_split, pool, test = perm[:300], perm[300:1297], perm[1297:]
    pca_weak = PCA(10, random_state=seed).fit(X[weak_split])
    labelled = weak_split[:60]
    weak = LogisticRegression(C=0.05, max_iter=1000).fit(pca_weak.transform(X[labelled]), y[labelled])
    y_weak = weak.predict(pca_weak.transform(X[pool]))
    pca = PCA(20, random_state=seed).fit(X[np.concatenate([pool, weak_split])])  # unlabelled data only
    scale = pca.transform(X[pool]).std()
    F = lambda rows: pca.transform(X[rows]) / scale
    return F(pool), y[pool], y_weak, F(test), y[test], float((y_weak == y[pool]).mean())


def banking77_task(seed: int = 0, n_weak_train: int = 3, n_pool: int = 3000, n_test: int = 2000):
    """The text version: Banking77 (77 intents) embedded with the packaged MiniLM. The weak labeller is a logistic
    regression trained on ``n_weak_train`` true labels per intent from a disjoint part of the training split; the pool
    is ``n_pool`` other training rows, the test ``n_test`` rows of the test split."""
    import pandas as pd

    from labelwise.features.text import TextEncoder

    root = Path(__file__).parents[1] / ".." / "shared" / "datasets" / "banking77"
    train, test = pd.read_csv(root / "train.csv"), pd.read_csv(root / "test.csv")
    classes = sorted(train["category"].unique())
    code = {c: i for i, c in enumerate(classes)}
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(train))
    weak_rows = np.concatenate([g.index.to_numpy()[:n_weak_train]
                                for _, g in train.iloc[perm].groupby("category", sort=True)])
    pool_rows = perm[~np.isin(perm, weak_rows)][:n_pool]
    test = test.iloc[rng.permutation(len(test))[:n_test]]
    enc = TextEncoder()
    F_weak, F_pool, F_test = (np.asarray(enc.encode(t["text"].tolist())) for t in
                              (train.loc[weak_rows], train.loc[pool_rows], test))
    y = lambda t: t["category"].map(code).to_numpy()
    weak = LogisticRegression(C=1.0, max_iter=1000).fit(F_weak, y(train.loc[weak_rows]))
    y_pool, y_weak = y(train.loc[pool_rows]), weak.predict(F_pool)
    return F_pool, y_pool, y_weak, F_test, y(test), float((y_weak == y_pool).mean())


def table(result) -> str:
    frame = result.to_frame()
    fracs = sorted(frame["oracle_frac"].unique(), reverse=True)
    front = pareto_frontier(result, margin=0.02).set_index("budget")
    lines = ["| budget | " + " | ".join(f"f = {f:g}" for f in fracs) + " | regime |",
             "|---" * (len(fracs) + 2) + "|"]
    for budget, g in frame.groupby("budget"):
        acc = dict(zip(g["oracle_frac"], g["accuracy"]))
        lines.append(f"| {budget:g} | " + " | ".join(f"{acc[f]:.3f}" for f in fracs)
                     + f" | {front.loc[budget, 'regime']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--splits", default="0,1,2,3,4,5", help="data splits (each a new weak labeller, pool and test)")
    ap.add_argument("--banking77", action="store_true", help="also the text version (MiniLM embeddings)")
    args = ap.parse_args()
    out = {}
    for split in (int(s) for s in args.splits.split(",")):
        X_pool, y_pool, y_weak, X_test, y_test, weak_acc = digits_task(split)
        t0 = time.perf_counter()
        res = LabelBudgetPlanner(cost_oracle=1.0, cost_weak=0.1, budgets=[4, 16, 64, 256], n_seeds=args.seeds,
                                 random_state=0).run(X_pool, y_pool, y_weak, X_test, y_test)
        secs = time.perf_counter() - t0
        print(f"\ndigits >= 5, split {split}: weak labeller accuracy on the pool {weak_acc:.3f}; pool {len(y_pool)}, "
              f"test {len(y_test)}; {args.seeds} seeds, {secs:.1f} s")
        print(table(res))
        print("regimes:", classify_regime(res, margin=0.02))
        out[f"digits_split{split}"] = {"weak_accuracy": weak_acc, "seconds": secs,
                                       "summary": res.to_frame().to_dict("records"),
                                       "regimes": classify_regime(res, margin=0.02)}
    if args.banking77:
        X_pool, y_pool, y_weak, X_test, y_test, weak_acc = banking77_task()
        t0 = time.perf_counter()
        res = LabelBudgetPlanner(cost_oracle=1.0, cost_weak=0.1, budgets=[16, 64, 256, 1024, 2048],
                                 n_seeds=args.seeds, random_state=0).run(X_pool, y_pool, y_weak, X_test, y_test)
        secs = time.perf_counter() - t0
        print(f"\nBanking77 (77 intents, MiniLM): weak labeller accuracy on the pool {weak_acc:.3f}; pool "
              f"{len(y_pool)}, test {len(y_test)}; {args.seeds} seeds, {secs:.1f} s")
        print(table(res))
        print("regimes:", classify_regime(res, margin=0.02))
        out["banking77"] = {"weak_accuracy": weak_acc, "seconds": secs,
                            "summary": res.to_frame().to_dict("records"), "regimes": classify_regime(res, margin=0.02)}
    path = Path(__file__).parent / "results" / "label_budget.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
