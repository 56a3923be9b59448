"""Benchmark: LDAM (paper 23) on the synthetic EHR, the notes' experiment (§23.4).

    python bench/ldam.py [--seeds 0,1,2] [--n 1000] [--threads 1] [--json out.json]

Data: labelwise.testing.ehr.synthetic_ehr(n, seed): templated notes (evidence phrases are synonyms, never the label
names; negated and family-history distractors) and 24 x 6 vitals with per-condition signatures at random onsets;
K = 4 conditions. The first 70 % of patients train, the rest test. MiniLM token states (TextEncoder.encode_tokens);
label embeddings = the condition names embedded by the same encoder.
Methods (same data and seeds):
  (1) text mean-pool + one-vs-rest logistic regression;
  (2) text mean-pool + vitals mean and last step (standardised) + one-vs-rest logistic regression;
  (3) LDAM without the time series;
  (4) LDAM, full (text + vitals);
  (5) (4) with attention="self": one learned query for every label (non-label-dependent attention);
  (6) (4) with per_label=False: LEAM's shared max-over-labels attention.
Metrics: macro-AUROC on the test patients; evidence precision (the notes' "evidence precision@3"): among test
(patient, condition) pairs with the condition present and planted evidence, the share whose top-3 attended words
hold a planted evidence word (words@3), whose top attended word is one (word@1), or whose top-3 attended steps fall
in the signature window (steps@3; chance about 0.44: 3 of 24 steps against a 4-step window).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def ehr_tokens(n: int, seed: int):
    """(data, token states, label vectors) for synthetic_ehr(n, seed)."""
    from labelwise.features import TextEncoder
    from labelwise.testing.ehr import synthetic_ehr

    data = synthetic_ehr(n, seed=seed)
    enc = TextEncoder()
    return data, enc.encode_tokens(data.texts), enc.encode(list(data.label_names))


def pooled_features(data, tokens, tr, with_series: bool) -> np.ndarray:
    """Mean token state, plus the standardised vitals' mean and last step."""
    X = tokens.mean()
    if not with_series:
        return X
    flat = data.series[tr].reshape(-1, data.series.shape[2])
    S = (data.series - flat.mean(0)) / flat.std(0)
    return np.hstack([X, S.mean(1), S[:, -1]])


def logistic_scores(X, Y, tr, te) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    return OneVsRestClassifier(LogisticRegression(C=1.0, max_iter=2000)).fit(X[tr], Y[tr]).predict_proba(X[te])


def evidence_precision(model, data, tokens, te, series) -> tuple[float, float, float]:
    """(words@3, word@1, steps@3) evidence precision of ``model.explain`` on the test rows (nan: nothing to
    score)."""
    ex = model.explain(tokens[te], None if series is None else series[te], top_k=3)
    words, first, steps = [], [], []
    for j, i in enumerate(te):
        for k in range(data.Y.shape[1]):
            if not data.Y[i, k]:
                continue
            if data.evidence[i][k]:
                words.append(bool(set(ex[j][k]["word_positions"]) & set(data.evidence[i][k])))
                first.append(ex[j][k]["word_positions"][0] in data.evidence[i][k])
            if series is not None and data.onset[i, k] >= 0:
                o = data.onset[i, k]
                steps.append(any(o <= t < o + data.signature_length for t in ex[j][k]["time_steps"]))
    return tuple(float(np.mean(v)) if v else float("nan") for v in (words, first, steps))


METHODS = {
    "(1) text mean-pool + logistic": None,
    "(2) text + vitals mean/last + logistic": None,
    "(3) LDAM, text only": dict(series=False),
    "(4) LDAM, full": dict(series=True),
    "(5) self attention (not label-dependent)": dict(series=True, attention="self"),
    "(6) LDAM, shared attention": dict(series=True, per_label=False),
}


def run_seed(seed: int, n: int, threads: int) -> dict[str, dict[str, float]]:
    from sklearn.metrics import roc_auc_score

    from labelwise.learn import LabelAttentionModel

    data, tokens, labels = ehr_tokens(n, seed)
    cut = int(0.7 * n)
    tr, te = np.arange(cut), np.arange(cut, n)
    out = {}
    for name, kw in METHODS.items():
        t0 = time.perf_counter()
        if kw is None:
            X = pooled_features(data, tokens, tr, with_series=name.startswith("(2)"))
            scores, prec = logistic_scores(X, data.Y, tr, te), (float("nan"),) * 3
        else:
            kw = dict(kw)
            series = data.series if kw.pop("series") else None
            model = LabelAttentionModel(label_embeddings=labels, random_state=seed, n_threads=threads, **kw)
            model.fit(tokens[tr], data.Y[tr], series=None if series is None else series[tr])
            scores = model.predict_proba(tokens[te], None if series is None else series[te])
            prec = evidence_precision(model, data, tokens, te, series)
        out[name] = {"auroc": float(roc_auc_score(data.Y[te], scores, average="macro")), "words@3": prec[0],
                     "word@1": prec[1], "steps@3": prec[2], "fit_s": time.perf_counter() - t0}
        print(f"seed {seed} {name}: {out[name]}", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    results = [run_seed(s, args.n, args.threads) for s in seeds]
    print(f"\nLDAM on the synthetic EHR (n={args.n}, 70/30 split, K=4), mean +- std over seeds {seeds}\n")
    print(f"{'method':42s} {'macro-AUROC':>15s} {'words@3':>15s} {'word@1':>15s} {'steps@3':>15s} {'fit s':>6s}")
    for name in METHODS:
        cols = []
        for key in ("auroc", "words@3", "word@1", "steps@3"):
            v = np.array([r[name][key] for r in results])
            cols.append("-" if np.isnan(v).all() else f"{np.nanmean(v):.3f} +- {np.nanstd(v):.3f}")
        fit = np.mean([r[name]["fit_s"] for r in results])
        print(f"{name:42s} {cols[0]:>15s} {cols[1]:>15s} {cols[2]:>15s} {cols[3]:>15s} {fit:6.1f}")
    names = list(METHODS)

    def diff(a: str, b: str) -> np.ndarray:
        return np.array([r[a]["auroc"] - r[b]["auroc"] for r in results])

    for a, b in ((names[3], names[1]), (names[3], names[2]), (names[3], names[0])):
        d = diff(a, b)
        print(f"AUROC {a[:3]} - {b[:3]}: {d.mean():+.3f} (per seed {np.round(d, 3).tolist()})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
