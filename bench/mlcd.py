"""Benchmark: MLCD (An et al., ECCV 2024; labelwise.learn.mlcd), the three experiments of the paper notes
(papers-14-26.md, section 25.4) at full size, every arm with the same data, network, loop and seeds.

    python bench/mlcd.py [--seeds 0,1,2] [--only A,B,C,D] [--json out.json]

Data: two-object digit canvases (labelwise.testing.mosaics.digit_pairs, 8x16 pixels: one digit, or two different
digits side by side); train and test canvases are built from disjoint pools of handwritten digits.

A. Loss level, supervised. 4,000 train / 1,500 test canvases (30 % one digit). MLP 128 -> 256 -> 64, normalised
   features against normalised prototypes, s = 16, 25 epochs, Adam 1e-3, batch 64. Losses: MLCD's decoupled loss
   (all classes, and half of them sampled per step: with 10 labels nearly every batch of 64 has a positive of every
   label and sampling keeps those, so this arm only checks that sampling costs nothing), the coupled pairwise loss,
   softmax with several positives, BCE on s * cos. Test mAP, and macro-F1 and exact-set accuracy at the untuned
   threshold cos > 0.
B. Assignment level. 5,000 unlabelled canvases (60 % one digit), PCA-32, k-means k = 40; each centre labelled with
   the digits of >= 30 % of its members. For the two-digit canvases: the share whose both digits the top-l centres
   imply, and the precision of the implied digit set, for l = 1, 2, 4, 8. Once as in the notes (centres labelled
   with all rows, evaluated on the same rows), once held out (labelled with the first half, evaluated on the
   second), and the trivial "every digit" answer for scale.
C. Pretrain -> linear probe. 4,000 unlabelled canvases -> PCA-32 -> k-means k = 40 -> top-l pseudo-labels; the
   same MLP pretrained 20 epochs on them; then one logistic regression per digit on 400 labelled canvases, test
   macro mAP on 1,500 canvases from the other digit pool. Against the raw pixels, the PCA-32 features and the
   untrained network.
D. A check on real multi-label text, not a tuning run: NLU++ BANKING intents (48 labels; ../shared/datasets/nlupp),
   "large" (18 folds -> 2) and "low" (1 fold -> 19) settings, run = seed; TF-IDF + SVD-128 features (no embedding
   model), every learner at its defaults: MultiLabelClassifier(loss="bce"), MultiLabelClassifier(loss="mlcd")
   (both at the default threshold 0.5) and MultiLabelHead (PTEC-style: max-ratio pos_weight, Platt, tuned
   thresholds). Micro- and macro-F1, macro mAP on the test folds.

Threads: 1 (torch.set_num_threads). Prints one table per experiment (mean +- std over seeds, per-seed values).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from labelwise.learn.mlcd import ClusterPseudoLabeler, CosineClassifier  # noqa: E402
from labelwise.testing.mosaics import digit_pairs  # noqa: E402
from tests.learn.mlcd_experiment import (  # noqa: E402
    cosines,
    features,
    pair_data,
    probe_data,
    probe_map,
    scores,
    train_cosine,
)

A_ARMS = {  # name: (loss, neg_sample_ratio)
    "MLCD decoupled": ("decoupled", 1.0),
    "MLCD decoupled, r = 0.5": ("decoupled", 0.5),
    "coupled pairwise (Circle-style)": ("coupled", 1.0),
    "softmax, several positives": ("softmax", 1.0),
    "BCE on s*cos": ("bce", 1.0),
}
C_ARMS = {  # name: (top_l, loss)
    "l=1 softmax (single-label, UNICOM-style)": (1, "softmax"),
    "l=2 MLCD decoupled": (2, "decoupled"),
    "l=4 MLCD decoupled": (4, "decoupled"),
    "l=4 coupled pairwise": (4, "coupled"),
}
TOP_LS = (1, 2, 4, 8)


def fmt(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def per_seed(values: list[float]) -> str:
    return " / ".join(f"{v:.3f}" for v in values)


def experiment_a(seeds: list[int]) -> dict:
    out: dict = {name: {"mAP": [], "F1@0": [], "exact@0": []} for name in A_ARMS}
    for seed in seeds:
        data = pair_data(4000, 1500, seed=seed)
        for name, (loss, ratio) in A_ARMS.items():
            model = train_cosine(data.X_train, data.Y_train, loss, seed=seed, epochs=25, neg_sample_ratio=ratio)
            for key, value in scores(data.Y_test, cosines(model, data.X_test)).items():
                out[name][key].append(value)
    print("\nA. Loss level (4,000 train / 1,500 test, 10 labels, s = 16, 25 epochs); threshold cos > 0, untuned")
    print("| loss | mAP | macro-F1 @ cos>0 | exact set @ cos>0 | F1 per seed |")
    print("|---|---|---|---|---|")
    for name, r in out.items():
        print(f"| {name} | {fmt(r['mAP'])} | {fmt(r['F1@0'])} | {fmt(r['exact@0'])} | {per_seed(r['F1@0'])} |")
    return out


def experiment_b(seeds: list[int]) -> dict:
    out: dict = {"notes": [], "held_out": [], "every_digit_precision": []}
    n = 5000
    for seed in seeds:
        p = digit_pairs(n, single_fraction=0.6, seed=seed)
        E = PCA(32, random_state=seed).fit_transform(p.images.reshape(n, -1))
        two = p.Y.sum(1) == 2
        pl = ClusterPseudoLabeler(n_clusters=40, min_share=0.3, random_state=seed).fit(E, p.Y)
        out["notes"].append(pl.coverage_report(E[two], p.Y[two], top_ls=TOP_LS))
        pl.label_centres(p.Y[: n // 2], E=E[: n // 2])
        rest = np.arange(n // 2, n)[two[n // 2:]]
        out["held_out"].append(pl.coverage_report(E[rest], p.Y[rest], top_ls=TOP_LS))
        out["every_digit_precision"].append(2 / 10)
    print("\nB. Assignment level (5,000 canvases, 60 % one digit; PCA-32, k-means k = 40, centre labels >= 30 % of "
          "members); two-digit canvases")
    print("| centres labelled with | l | both digits implied | digit recall | precision of the implied set | "
          "implied set size |")
    print("|---|---|---|---|---|---|")
    for key, label in (("notes", "all rows, evaluated on the same rows (the notes)"),
                       ("held_out", "first half, evaluated on the second half")):
        reps = out[key]
        for i, l in enumerate(TOP_LS):
            print(f"| {label} | {l} | {fmt([r.all_covered[i] for r in reps])} | {fmt([r.recall[i] for r in reps])} | "
                  f"{fmt([r.precision[i] for r in reps])} | {fmt([r.set_size[i] for r in reps])} |")
    print("| (every digit, no clusters) | - | 1.000 | 1.000 | 0.200 | 10 |")
    return {key: [{"top_l": list(TOP_LS), "all_covered": r.all_covered.tolist(), "recall": r.recall.tolist(),
                   "precision": r.precision.tolist(), "set_size": r.set_size.tolist()} for r in out[key]]
            for key in ("notes", "held_out")}


def experiment_c(seeds: list[int]) -> dict:
    names = ["raw pixels (128)", "PCA-32", "untrained network (64)", *C_ARMS]
    out: dict = {name: [] for name in names}
    for seed in seeds:
        d = probe_data(4000, 400, 1500, seed=seed)
        pca = PCA(32, random_state=seed).fit(d.U)
        out["raw pixels (128)"].append(probe_map(d.X_probe, d.Y_probe, d.X_test, d.Y_test))
        out["PCA-32"].append(probe_map(pca.transform(d.X_probe), d.Y_probe, pca.transform(d.X_test), d.Y_test))
        torch.manual_seed(seed)
        untrained = CosineClassifier(d.U.shape[1], 40, (256, 64))
        out["untrained network (64)"].append(probe_map(features(untrained, d.X_probe), d.Y_probe,
                                                       features(untrained, d.X_test), d.Y_test))
        pl = ClusterPseudoLabeler(n_clusters=40, random_state=seed).fit(pca.transform(d.U))
        for name, (top_l, loss) in C_ARMS.items():
            P = pl.transform(pca.transform(d.U), top_l=top_l)
            enc = train_cosine(d.U, P, loss, seed=seed, epochs=20)
            out[name].append(probe_map(features(enc, d.X_probe), d.Y_probe, features(enc, d.X_test), d.Y_test))
    print("\nC. Cluster-discrimination pretraining -> linear probe (4,000 unlabelled, 400 probe labels, 1,500 test "
          "from the other digit pool; k = 40 centres on PCA-32)")
    print("| features | probe mAP | per seed |")
    print("|---|---|---|")
    for name, v in out.items():
        print(f"| {name} | {fmt(v)} | {per_seed(v)} |")
    return out


def experiment_d(seeds: list[int]) -> dict:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.metrics import average_precision_score, f1_score

    from labelwise.data.nlupp import intent_matrix, load_nlupp, load_nlupp_ontology, nlupp_intent_names, nlupp_splits
    from labelwise.features import TfidfEncoder
    from labelwise.learn import MultiLabelClassifier, MultiLabelHead

    root = REPO.parent / "shared" / "datasets" / "nlupp"
    if not root.exists():
        print(f"\nD. skipped: {root} not found")
        return {}
    table = load_nlupp(root, domains=("banking",))
    Y = intent_matrix(table["intents"], nlupp_intent_names(load_nlupp_ontology(root), "banking"))
    X = TruncatedSVD(128, random_state=0).fit_transform(TfidfEncoder().fit_transform(table["text"].tolist()))
    X = (X / (np.linalg.norm(X, axis=1, keepdims=True) + 1e-8)).astype(np.float32)
    learners = {
        'MultiLabelClassifier(loss="bce") @0.5': lambda s: MultiLabelClassifier(loss="bce", random_state=s,
                                                                               n_threads=1),
        'MultiLabelClassifier(loss="mlcd") @0.5': lambda s: MultiLabelClassifier(loss="mlcd", random_state=s,
                                                                                n_threads=1),
        "MultiLabelHead (tuned thresholds)": lambda s: MultiLabelHead(random_state=s, n_threads=1),
    }
    out: dict = {}
    for setting in ("large", "low"):
        runs = nlupp_splits(table, "banking", setting)
        for name, make in learners.items():
            r: dict = {"micro-F1": [], "macro-F1": [], "mAP": [], "fit s": []}
            for seed in seeds:
                tr, te = runs[seed]
                start = time.perf_counter()
                clf = make(seed).fit(X[tr], Y[tr])
                r["fit s"].append(time.perf_counter() - start)
                pred, prob, keep = clf.predict(X[te]), clf.predict_proba(X[te]), Y[te].sum(0) > 0
                r["micro-F1"].append(float(f1_score(Y[te], pred, average="micro", zero_division=0)))
                r["macro-F1"].append(float(f1_score(Y[te], pred, average="macro", zero_division=0)))
                r["mAP"].append(float(average_precision_score(Y[te][:, keep], prob[:, keep], average="macro")))
            out[f"{setting} | {name}"] = r
    print("\nD. NLU++ BANKING intents (48 labels), TF-IDF + SVD-128 features, defaults; run = seed")
    print("| setting | learner | micro-F1 | macro-F1 | mAP | fit s |")
    print("|---|---|---|---|---|---|")
    for key, r in out.items():
        print(f"| {key} | {fmt(r['micro-F1'])} | {fmt(r['macro-F1'])} | {fmt(r['mAP'])} | {np.mean(r['fit s']):.1f} |")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (every arm uses the same ones)")
    ap.add_argument("--only", default="A,B,C,D")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"MLCD benchmark, seeds {seeds}, torch threads 1")
    results: dict = {}
    for part, run in (("A", experiment_a), ("B", experiment_b), ("C", experiment_c), ("D", experiment_d)):
        if part in args.only.split(","):
            start = time.perf_counter()
            results[part] = run(seeds)
            print(f"({part}: {time.perf_counter() - start:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
