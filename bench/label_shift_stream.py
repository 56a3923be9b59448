"""Benchmark: ``labelwise adapt``'s closed-form correction on real text, Banking77 (77 intents), a stream whose
intent mix shifted (label shift only; the inputs are the test split's own texts).

    python bench/label_shift_stream.py [--seeds 0,1,2] [--alphas 0.3,1] [--rows 3000] [--batch-size 256]

Per seed: TF-IDF (1-2 grams) + logistic regression (C=10) fitted on 70 % of the training split; the other 30 % is
the source (held out, so calibration may use it). The stream: ``--rows`` test texts drawn with replacement under a
class prior ~ Dirichlet(alpha) (smaller alpha, stronger shift), in batches of ``--batch-size``. Arms, all through
:func:`labelwise.adapt_stream.adapt_stream` (what the command runs): the model as is; the EM prior with momentum 0.9
(default) and corrected predictions; the same after bias-corrected temperature scaling on the source
(``--calibrate``); one EM step per batch (``--prior-update online``); and the correction with the true prior (the
ceiling). Prints accuracy and the last estimate's L1 error, mean +- std over seeds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "banking77"
ARMS = ("none", "em", "em+calibrate", "online", "true prior")


def run(seed: int, alpha: float, rows: int, batch_size: int) -> dict:
    import pandas as pd
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline

    from labelwise.adapt_stream import adapt_stream
    from labelwise.learn.adapt import adjust_proba

    train, test = pd.read_csv(DATA / "train.csv"), pd.read_csv(DATA / "test.csv")
    fit, source = train_test_split(train, test_size=0.3, random_state=seed, stratify=train["category"])
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                          LogisticRegression(C=10.0, max_iter=1000)).fit(fit["text"], fit["category"])
    rng = np.random.default_rng(seed)
    classes = model.classes_
    prior = rng.dirichlet(np.full(len(classes), alpha))
    labels = rng.choice(len(classes), size=rows, p=prior)
    by_class = {c: np.flatnonzero(test["category"].to_numpy() == c) for c in classes}
    stream = test.iloc[[rng.choice(by_class[classes[j]]) for j in labels]].reset_index(drop=True)
    truth = stream["category"].to_numpy()
    out = {}
    for arm, options in (("em", {}), ("em+calibrate", {"calibrate": True}), ("online", {"prior_update": "online"})):
        result = adapt_stream(model, source, stream, label="category", text="text", batch_size=batch_size, **options)
        out[arm] = (float(np.mean(result.predictions["prediction"].to_numpy() == truth)),
                    float(np.abs(result.prior - result.stream_prior).sum()))
        if arm == "em":
            out["none"] = (float(np.mean(result.predictions["source_prediction"].to_numpy() == truth)),
                           float(np.abs(result.source_prior - result.stream_prior).sum()))
            probs = model.predict_proba(stream["text"])
            corrected = adjust_proba(probs, result.stream_prior, result.source_prior)
            out["true prior"] = (float(np.mean(classes[corrected.argmax(axis=1)] == truth)), 0.0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--alphas", default="0.3,1")
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--batch-size", type=int, default=256)
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    start = time.perf_counter()
    print(f"Banking77, TF-IDF + logistic regression, stream of {args.rows} test rows under a Dirichlet(alpha) prior, "
          f"batches of {args.batch_size}, {len(seeds)} seeds")
    print(f"{'alpha':>5}  {'arm':<13} {'accuracy':>15} {'prior L1 (last)':>16}")
    for alpha in [float(a) for a in args.alphas.split(",")]:
        runs = [run(seed, alpha, args.rows, args.batch_size) for seed in seeds]
        for arm in ARMS:
            acc = [r[arm][0] for r in runs]
            l1 = [r[arm][1] for r in runs]
            print(f"{alpha:>5g}  {arm:<13} {np.mean(acc):>7.3f} +- {np.std(acc):.3f} {np.mean(l1):>8.3f} +- "
                  f"{np.std(l1):.3f}")
        print()
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
