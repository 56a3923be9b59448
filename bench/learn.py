"""Benchmark: labelwise.learn's four claims on real (and one documented synthetic) data, several seeds.

    python bench/learn.py [--quick] [--seeds 0,1,2] [--threads 2] [--json out.json] [--only pu,noise,conr,head]

1. PU-MLC (NLU++ BANKING intents, 48 labels; "large" setting: 18 folds train, 2 folds test, one fold pair per
   seed; half of the training positives hidden at random): PU-MLC vs BCE treating missing labels as negatives
   (and BCE with per-label thresholds tuned on a validation split of the same partial labels). Micro-F1 at 0.5 and
   macro mAP on the clean test labels.
2. ALDR-KL (Banking77, 40 % symmetric label noise on train, clean test): ALDR-KL vs LDR-KL vs CE vs GCE (q=0.7),
   test accuracy. Same MLP, early stopping on a noisy validation split. ALDR-KL at the paper code's defaults
   (lam0=10, l1 score normalisation) and at lam0=1 with l1 and with softplus normalisation.
3. ConR (synthetic long-tailed regression, documented below, because no bundled offline dataset is long-tailed
   enough): L1 + ConR (beta=4, window=2, t=0.2, e=0.01) vs plain L1 with the same two-view noise. MAE overall and
   in the few-shot region (target bins of width 1 with < 20 training examples).
4. PTEC-style head (NLU++ BANKING, "large" and "low" settings): MultiLabelHead (linear per-label head, max-ratio
   pos_weight, per-label Platt + tuned thresholds) vs one-vs-rest logistic regression (C=10) at 0.5 and at the
   NLU++ notes' fixed 0.3; micro- and macro-F1.

Features for text: labelwise.features.TextEncoder (all-MiniLM-L6-v2 int8 ONNX, offline, cached on disk).
Prints one table per claim with mean +- std over seeds and the ratio/difference, and writes JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def embed(texts: list[str]) -> np.ndarray:
    from labelwise.features import TextEncoder

    return TextEncoder().encode(texts)


def micro_macro_f1(Y: np.ndarray, P: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import f1_score

    return (float(f1_score(Y, P, average="micro", zero_division=0)),
            float(f1_score(Y, P, average="macro", zero_division=0)))


def macro_map(Y: np.ndarray, S: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    keep = Y.sum(0) > 0
    return float(average_precision_score(Y[:, keep], S[:, keep], average="macro"))


def nlupp_banking():
    """NLU++ BANKING: the table, MiniLM embeddings (n, 384) and the (n, 48) intent matrix."""
    from labelwise.data.nlupp import intent_matrix, load_nlupp, load_nlupp_ontology, nlupp_intent_names

    root = SHARED / "nlupp"
    table = load_nlupp(root, domains=("banking",))
    names = nlupp_intent_names(load_nlupp_ontology(root), "banking")
    return table, embed(table["text"].tolist()), intent_matrix(table["intents"], names)


# --------------------------------------------------------------------------------------------------- 1. PU-MLC
def bench_pu(seeds: list[int], quick: bool, threads: int) -> dict:
    from labelwise.data.nlupp import nlupp_splits
    from labelwise.learn import MultiLabelClassifier, hide_positives

    table, X, Y = nlupp_banking()
    runs = nlupp_splits(table, "banking", "large")
    epochs = 60 if quick else 150
    common = dict(hidden=(256,), epochs=epochs, lr=3e-3, patience=15, n_threads=threads)
    methods = {
        "BCE (missing = negative)": dict(loss="bce"),
        "BCE + tuned thresholds": dict(loss="bce", threshold="tuned"),
        "PU-MLC": dict(loss="pu_mlc"),
        "BCE, all labels (ceiling)": dict(loss="bce", _clean=True),
    }
    if quick:
        methods.pop("BCE + tuned thresholds")
    out: dict = {m: {"micro_f1": [], "mAP": []} for m in methods}
    for s in seeds:
        tr, te = runs[s % len(runs)]
        Yp = hide_positives(Y[tr], 0.5, random_state=s)
        for m, kw in methods.items():
            kw = dict(kw)
            target = Y[tr] if kw.pop("_clean", False) else Yp
            clf = MultiLabelClassifier(**common, **kw, random_state=s).fit(X[tr], target)
            mi, _ = micro_macro_f1(Y[te], clf.predict(X[te]))
            out[m]["micro_f1"].append(mi)
            out[m]["mAP"].append(macro_map(Y[te], clf.predict_proba(X[te])))
    return out


# --------------------------------------------------------------------------------------------------- 2. ALDR-KL
def bench_noise(seeds: list[int], quick: bool, threads: int) -> dict:
    import pandas as pd

    from labelwise.data import flip_labels
    from labelwise.learn import NoisyLabelClassifier

    train = pd.read_csv(SHARED / "banking77" / "train.csv")
    test = pd.read_csv(SHARED / "banking77" / "test.csv")
    classes, y_tr = np.unique(train["category"], return_inverse=True)
    y_te = np.searchsorted(classes, test["category"])
    Xtr, Xte = embed(train["text"].tolist()), embed(test["text"].tolist())
    if quick:  # a 4,000-row training subset, fewer epochs
        keep = np.random.default_rng(0).permutation(len(y_tr))[:4000]
        Xtr, y_tr = Xtr[keep], y_tr[keep]
    epochs = 30 if quick else 60
    losses = {"ce": {}, "gce (q=0.7)": dict(loss="gce"), "ldr (lam=10)": dict(loss="ldr"),
              "aldr (lam0=10)": dict(loss="aldr"), "aldr (lam0=1)": dict(loss="aldr", lam0=1.0),
              "aldr (lam0=1, softplus)": dict(loss="aldr", lam0=1.0, normalize="softplus_mean")}
    if quick:
        losses.pop("aldr (lam0=1)")
        losses.pop("aldr (lam0=1, softplus)")
    out: dict = {m: {"accuracy": []} for m in losses}
    for s in seeds:
        noisy, _ = flip_labels(y_tr, 0.4, len(classes), random_state=s)
        for m, kw in losses.items():
            clf = NoisyLabelClassifier(**{"loss": "ce", **kw}, hidden=(256,), epochs=epochs, batch_size=256, lr=3e-3,
                                       patience=8, random_state=s, n_threads=threads).fit(Xtr, noisy)
            out[m]["accuracy"].append(float((clf.predict(Xte) == y_te).mean()))
    return out


# --------------------------------------------------------------------------------------------------- 3. ConR
def long_tailed_regression(seed: int, n_head: int = 5500, n_uniform: int = 500, n_test: int = 2000, d: int = 32
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic imbalanced regression (the ConR notes' revised toy).

    Train targets: ``n_head`` draws of Exp(scale 25) plus ``n_uniform`` draws of U(0, 100), clipped to [0, 100);
    test targets: U(0, 100) (balanced). Features: ``x = tanh(phi(y) W1) W2 + 0.5 * noise`` (32-d), with
    ``phi(y)`` = sin/cos of ``2 pi y / P`` for ``P`` in (10, 25, 50, 100) plus ``y/100`` and ``(y/100)**2``, and
    ``W1 (10, 64)``, ``W2 (64, 32)`` Gaussian, drawn from ``seed``.
    """
    rng = np.random.default_rng(seed)
    y_tr = np.concatenate([rng.exponential(25.0, n_head), rng.uniform(0, 100, n_uniform)])
    y_tr = np.clip(y_tr, 0, 99.999)
    y_te = rng.uniform(0, 100, n_test)
    W1 = rng.normal(size=(10, 64))
    W2 = rng.normal(size=(64, d)) / 8.0

    def feats(y: np.ndarray) -> np.ndarray:
        cols = []
        for period in (10, 25, 50, 100):
            cols += [np.sin(2 * np.pi * y / period), np.cos(2 * np.pi * y / period)]
        cols += [y / 100, (y / 100) ** 2]
        phi = np.stack(cols, 1)
        return (np.tanh(phi @ W1) @ W2 + 0.5 * rng.normal(size=(len(y), d))).astype(np.float32)

    return feats(y_tr), y_tr.astype(np.float32), feats(y_te), y_te.astype(np.float32)


def bench_conr(seeds: list[int], quick: bool, threads: int) -> dict:
    from labelwise.learn import ImbalancedRegressor, shot_metrics

    epochs = 10 if quick else 20
    out: dict = {m: {"all": [], "many": [], "median": [], "few": []} for m in ("L1", "L1 + ConR")}
    for s in seeds:
        Xtr, ytr, Xte, yte = long_tailed_regression(s)
        for m, conr in (("L1", False), ("L1 + ConR", True)):
            reg = ImbalancedRegressor(conr=conr, beta=4.0, window=2.0, epochs=epochs, validation_fraction=0.0,
                                      random_state=s, n_threads=threads).fit(Xtr, ytr)
            res = shot_metrics(yte, reg.predict(Xte), ytr)
            for k in out[m]:
                out[m][k].append(res[k])
    return out


# --------------------------------------------------------------------------------------------------- 4. head
BASE = "OvR logreg C=10 @0.5"
BASE_03 = "OvR logreg C=10 @0.3 (notes)"

def bench_head(seeds: list[int], quick: bool, threads: int) -> dict:
    from labelwise.data.nlupp import nlupp_splits
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    from labelwise.learn import MultiLabelHead

    table, X, Y = nlupp_banking()
    out: dict = {}
    for setting in ("large",) if quick else ("large", "low"):
        runs = nlupp_splits(table, "banking", setting)
        res = {m: {"micro_f1": [], "macro_f1": []} for m in (BASE, BASE_03, "MultiLabelHead")}
        for s in seeds:
            tr, te = runs[s % len(runs)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ovr = OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=2000)).fit(X[tr], Y[tr])
            head = MultiLabelHead(random_state=s, n_threads=threads, epochs=100 if quick else 200).fit(X[tr], Y[tr])
            p_ovr = ovr.predict_proba(X[te])
            for m, pred in ((BASE, (p_ovr >= 0.5).astype(int)), (BASE_03, (p_ovr >= 0.3).astype(int)),
                            ("MultiLabelHead", head.predict(X[te]))):
                mi, ma = micro_macro_f1(Y[te], pred)
                res[m]["micro_f1"].append(mi)
                res[m]["macro_f1"].append(ma)
        out[setting] = res
    return out


# --------------------------------------------------------------------------------------------------- table
def fmt(vals: list[float], scale: float = 100.0) -> str:
    a = np.asarray(vals, dtype=float) * scale
    return f"{a.mean():6.2f} ± {a.std():4.2f}"


def print_table(title: str, res: dict, scale: float = 100.0, baseline: str | None = None) -> None:
    metrics = list(next(iter(res.values())))
    print(f"\n{title}")
    print(f"{'method':32s} " + " ".join(f"{m:>16s}" for m in metrics))
    for name, r in res.items():
        row = f"{name:32s} " + " ".join(f"{fmt(r[m], scale):>16s}" for m in metrics)
        if baseline and name != baseline:
            row += "   diff vs " + baseline.split(" (")[0] + ": " + ", ".join(
                f"{m} {scale * (np.mean(r[m]) - np.mean(res[baseline][m])):+.2f}" for m in metrics)
        print(row)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 seed, fewer epochs and rows (about 2-3 minutes)")
    ap.add_argument("--seeds", default=None, help="comma-separated seeds (default 0,1,2; --quick: 0)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per fit (1: fastest on a loaded 2-core box)")
    ap.add_argument("--only", default="pu,noise,conr,head")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    seeds = [int(s) for s in (args.seeds or ("0" if args.quick else "0,1,2")).split(",")]
    if not SHARED.exists():
        print(f"shared datasets not found at {SHARED}", file=sys.stderr)
        return 2
    results: dict = {"seeds": seeds, "quick": args.quick}
    todo = args.only.split(",")
    t_all = time.perf_counter()
    if "pu" in todo:
        t0 = time.perf_counter()
        results["pu"] = r = bench_pu(seeds, args.quick, args.threads)
        title = f"1. NLU++ banking intents, 50% positives hidden (large setting); % ({time.perf_counter() - t0:.0f}s)"
        print_table(title, r, baseline="BCE (missing = negative)")
    if "noise" in todo:
        t0 = time.perf_counter()
        results["noise"] = r = bench_noise(seeds, args.quick, args.threads)
        title = f"2. Banking77, 40% symmetric train noise, clean test accuracy %; ({time.perf_counter() - t0:.0f}s)"
        print_table(title, r, baseline="ce")
    if "conr" in todo:
        t0 = time.perf_counter()
        results["conr"] = r = bench_conr(seeds, args.quick, args.threads)
        title = f"3. Synthetic long-tailed regression, test MAE (lower is better); ({time.perf_counter() - t0:.0f}s)"
        print_table(title, r, scale=1.0, baseline="L1")
    if "head" in todo:
        t0 = time.perf_counter()
        results["head"] = r = bench_head(seeds, args.quick, args.threads)
        for setting, rr in r.items():
            print_table(f"4. NLU++ banking intents, {setting} setting, F1 %; ({time.perf_counter() - t0:.0f} s)", rr,
                        baseline=BASE)
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s, seeds {seeds}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
