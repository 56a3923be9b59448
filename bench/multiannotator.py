"""Many annotators: labelwise.audit.multiannotator against cleanlab 2.9 and crowd-kit on the same inputs, and the
accuracy of each consensus on Banking77 with simulated annotators.

    python bench/multiannotator.py [--sizes 10000,100000] [--annotators 5,50] [--skip-accuracy] [--json out.json]

Speed: random labels (K = 10 classes, each annotator labels an example with probability 0.2, i.e. 80% of the
matrix is NaN; annotator accuracies uniform in [0.5, 0.9], errors uniform) and pred_probs (Dirichlet noise around
the true class). Timed once each, in this one process, with the peers' defaults:
``get_label_quality_multiannotator`` (best_quality, crowdlab), ``get_majority_vote_label``,
``get_active_learning_scores`` (labeled + 1,000 unlabeled rows), and Dawid-Skene (100 iterations at most,
tol 1e-5) against crowd-kit's ``DawidSkene`` (with a long table as its input, built outside the timing). The
labels are checked equal before a time is printed.

Accuracy: Banking77 train (10,003 queries, 77 intents; the true label is the dataset's). 20 simulated annotators
(labelwise.testing.annotators): accuracy uniform in [0.5, 0.9], each labels an example with probability 0.15 (about
3 labels per example), errors uniform over the other classes ("uniform") or Dirichlet(0.3) over them, a different
draw per annotator and class ("confusion"). pred_probs: 5-fold out-of-fold LogisticRegression(C=1) on MiniLM
embeddings (the audit's default encoder), trained on the majority-vote labels (what a user without true labels
has). Printed: consensus accuracy against the true labels for majority vote, CROWDLAB and Dawid-Skene (and the
model alone), and the Spearman correlation of each method's annotator quality with the true accuracies.
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

from labelwise.audit import multiannotator as ma
from labelwise.data.atomic import write_text_atomic
from labelwise.testing.annotators import simulate_annotators

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def synthetic(n: int, m: int, k: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    labels = simulate_annotators(truth, m, n_classes=k, accuracy=(0.5, 0.9), density=0.2, random_state=seed).labels
    probs = rng.dirichlet(np.ones(k), n) * 0.5
    probs[np.arange(n), truth] += 0.5
    return labels, probs


def speed(sizes, annotators) -> list:
    import pandas as pd
    from cleanlab import multiannotator as cm

    try:
        from crowdkit.aggregation import DawidSkene
    except ImportError:
        DawidSkene = None
    rows = []
    print(f"{'n':>7} {'m':>3} {'function':<34} {'labelwise s':>11} {'peer s':>9} {'ratio':>7}")
    for n in sizes:
        for m in annotators:
            labels, probs = synthetic(n, m)
            unlabeled = probs[:1000]
            pairs = [
                ("get_label_quality_multiannotator", lambda f, L=labels, P=probs: f(L, P),
                 ma.get_label_quality_multiannotator, cm.get_label_quality_multiannotator,
                 lambda a, b: np.array_equal(a["label_quality"]["consensus_label"],
                                             b["label_quality"]["consensus_label"])),
                ("get_majority_vote_label", lambda f, L=labels, P=probs: f(L, P),
                 ma.get_majority_vote_label, cm.get_majority_vote_label, np.array_equal),
                # cleanlab's ActiveLab calibrates with its float-label count bug, so its scores differ slightly
                ("get_active_learning_scores", lambda f, L=labels, P=probs, U=unlabeled: f(L, P, U),
                 ma.get_active_learning_scores, cm.get_active_learning_scores, None),
            ]
            for name, call, ours_fn, peer_fn, same in pairs:
                ours, t_ours = timed(call, ours_fn)
                theirs, t_peer = timed(call, peer_fn)
                if same is not None and not same(ours, theirs):
                    raise SystemExit(f"{name} differs from cleanlab at n={n}, m={m}")
                rows.append(dict(n=n, m=m, function=name, labelwise_s=t_ours, peer="cleanlab 2.9", peer_s=t_peer))
                print(f"{n:>7} {m:>3} {name:<34} {t_ours:>11.3f} {t_peer:>9.3f} {t_peer / t_ours:>6.1f}x")
            if DawidSkene is not None:
                r, c = np.nonzero(~np.isnan(labels))
                table = pd.DataFrame({"task": r, "worker": c, "label": labels[r, c].astype(int)})
                ours, t_ours = timed(ma.dawid_skene, labels)
                theirs, t_peer = timed(DawidSkene(n_iter=100, tol=1e-5).fit, table)
                agree = (theirs.labels_.sort_index().to_numpy() == ours.labels).mean()
                rows.append(dict(n=n, m=m, function="dawid_skene", labelwise_s=t_ours, peer="crowd-kit 1.4",
                                 peer_s=t_peer, label_agreement=float(agree)))
                print(f"{n:>7} {m:>3} {'dawid_skene (crowd-kit DawidSkene)':<34} {t_ours:>11.3f} {t_peer:>9.3f} "
                      f"{t_peer / t_ours:>6.1f}x   labels equal on {agree:.4%}")
    return rows


def banking77_accuracy() -> list:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from labelwise.audit.out_of_fold import out_of_fold_probabilities
    from labelwise.features import TextEncoder

    frame = pd.read_csv(SHARED / "banking77" / "train.csv")
    truth = np.unique(frame["category"].to_numpy(), return_inverse=True)[1].astype(np.int64)
    k = int(truth.max()) + 1
    features = TextEncoder().encode(frame["text"].astype(str).tolist())
    rows = []
    print(f"\nBanking77 train, n={len(truth)}, K={k}, 20 annotators, accuracy U(0.5, 0.9), density 0.15")
    print(f"{'errors':<10} {'labels/ex':>9} {'model':>7} {'majority':>9} {'CROWDLAB':>9} {'Dawid-Skene':>12}"
          f" {'rho CROWDLAB':>13} {'rho DS':>7}")
    for errors in ("uniform", "confusion"):
        sim = simulate_annotators(truth, 20, n_classes=k, accuracy=(0.5, 0.9), density=0.15, errors=errors,
                                  random_state=0)
        vote = ma.majority_vote_label(sim.labels)
        probs = out_of_fold_probabilities(features, vote, n_classes=k,
                                          classifier=LogisticRegression(C=1.0, max_iter=1000), random_state=0)
        crowdlab = ma.get_label_quality_multiannotator(sim.labels, probs)
        vote = ma.get_majority_vote_label(sim.labels, probs)
        ds = ma.dawid_skene(sim.labels, n_classes=k)
        stats = crowdlab["annotator_stats"].sort_index()
        ds_accuracy = np.einsum("c,jcc->j", ds.priors, ds.confusion)
        rho = lambda q: float(pd.Series(q).corr(pd.Series(sim.accuracy), method="spearman"))  # noqa: E731
        row = dict(errors=errors, labels_per_example=float((~np.isnan(sim.labels)).sum(axis=1).mean()),
                   model=float((probs.argmax(axis=1) == truth).mean()), majority_vote=float((vote == truth).mean()),
                   crowdlab=float((crowdlab["label_quality"]["consensus_label"].to_numpy() == truth).mean()),
                   dawid_skene=float((ds.labels == truth).mean()),
                   rho_crowdlab=rho(stats["annotator_quality"].to_numpy()), rho_dawid_skene=rho(ds_accuracy))
        rows.append(row)
        print(f"{errors:<10} {row['labels_per_example']:>9.2f} {row['model']:>7.3f} {row['majority_vote']:>9.3f} "
              f"{row['crowdlab']:>9.3f} {row['dawid_skene']:>12.3f} {row['rho_crowdlab']:>13.3f} "
              f"{row['rho_dawid_skene']:>7.3f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--annotators", default="5,50")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = {}
    if not args.skip_speed:
        result["speed"] = speed([int(s) for s in args.sizes.split(",")], [int(s) for s in args.annotators.split(",")])
    if not args.skip_accuracy:
        result["banking77"] = banking77_accuracy()
    if args.json:
        write_text_atomic(args.json, json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
