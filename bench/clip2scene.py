"""Benchmark: CLIP2Scene's prototype distillation (paper 36) as cross-view label transfer, the notes' experiment.

    python bench/clip2scene.py [--seeds 0,1] [--epochs 30] [--parts banking77,kaomoji]

The notes use AG News (4 classes), which is not in ../shared/datasets; this runs the same protocol on two real
labelled sets that are:

- **banking77** (../shared/datasets/banking77, CC-BY-4.0): 77 intents. Teacher view = MiniLM embedding of the
  query, labelled zero-shot by the nearest class-prompt embedding (the intent name, underscores as spaces, in
  ``DEFAULT_TEMPLATES``, ensembled; calibrated). Student view = the same query as word TF-IDF -> truncated
  SVD(256), a representation the teacher cannot read. Distillation on train (10,003 rows, no labels used),
  evaluation on test (3,080 rows).
- **kaomoji** (the ``kaomoji-dataset`` package, CC-BY-4.0, installs offline): emoticons of 12 emotion / activity
  categories (core and mixed tiers) with an English description. Teacher view = the description ("Sleepy face",
  "Waving"); student view = the emoticon itself as character 1-3-gram TF-IDF -> SVD: a catalogue whose
  descriptions label the items, and a student that labels new emoticons that have none. 70 % distillation,
  30 % evaluation, split per seed.

Arms (the notes' section 4), per seed: teacher zero-shot accuracy (calibration none / mean / domain; one
template vs the ensemble); the student's annotation-free accuracy on the evaluation rows with and without
switchable self-training (and without the alignment term), and the same student trained on the true labels (the
ceiling of its view); linear probes (multinomial logistic regression, C=1,
standardised features) with 1 % and 10 % of the distillation rows labelled, on (i) the raw student view ("from
scratch"), (ii) the distilled student features, (iii) the teacher's MiniLM features (reference); and a probe on
the raw view with every label.
Writes bench/results/clip2scene.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
KAOMOJI_CLASSES = ["happy", "sad", "angry", "surprised", "sleepy", "love", "scared", "shy", "confused", "greeting",
                   "dance", "food"]


def banking77():
    train = pd.read_csv(SHARED / "banking77" / "train.csv")
    test = pd.read_csv(SHARED / "banking77" / "test.csv")
    labels = sorted(train["category"].unique())
    return {0: (train, test)}, labels, "text", "text", "category"


def kaomoji(seeds):
    import kaomoji_dataset

    rows = [(r["names"]["en"], r["text"], r["category"]) for r in kaomoji_dataset.load()
            if r.get("names", {}).get("en") and r["tier"] in ("core", "mixed") and r["category"] in KAOMOJI_CLASSES]
    frame = pd.DataFrame(rows, columns=["description", "kaomoji", "category"]).drop_duplicates("kaomoji")
    splits = {}
    for seed in seeds:
        order = np.random.default_rng(seed).permutation(len(frame))
        cut = int(0.7 * len(frame))
        splits[seed] = (frame.iloc[order[:cut]].reset_index(drop=True), frame.iloc[order[cut:]].reset_index(drop=True))
    return splits, KAOMOJI_CLASSES, "description", "kaomoji", "category"


def probe_accuracy(F_train, y_train, F_test, y_test) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    return float((model.fit(F_train, y_train).predict(F_test) == y_test).mean())


def run_part(name, seeds, epochs, encoder):
    from labelwise.generate.transfer import (DEFAULT_TEMPLATES, class_prompts_for, prompt_prototypes,
                                             teacher_probabilities, transfer_labels)
    from labelwise.learn.prototype_distill import PrototypeDistiller
    from labelwise.llm.calibration import calibrate, random_domain_texts

    splits, labels, teacher_col, student_col, truth_col = banking77() if name == "banking77" else kaomoji(seeds)
    index = {c: i for i, c in enumerate(labels)}
    rows = []
    for seed in seeds:
        train, test = splits.get(seed, splits.get(0))
        y_train = train[truth_col].map(index).to_numpy()
        y_test = test[truth_col].map(index).to_numpy()
        t0 = time.perf_counter()
        E_train = encoder.encode(train[teacher_col].astype(str).tolist())
        E_test = encoder.encode(test[teacher_col].astype(str).tolist())
        row = {"part": name, "seed": seed, "n_distill": len(train), "n_eval": len(test), "classes": len(labels),
               "encode_s": round(time.perf_counter() - t0, 1)}
        # teacher arms (calibration prior from the distillation rows, applied to the evaluation rows)
        for tag, templates in (("ensemble", DEFAULT_TEMPLATES), ("single", ("{}",))):
            P = prompt_prototypes(class_prompts_for(labels, templates), encoder)
            raw_train, raw_test = teacher_probabilities(E_train, P), teacher_probabilities(E_test, P)
            noise = random_domain_texts(train[teacher_col].astype(str).tolist(), random_state=seed)
            priors = {"none": np.full(len(labels), 1 / len(labels)), "mean": raw_train.mean(0),
                      "domain": teacher_probabilities(encoder.encode(noise), P).mean(0)}
            for cal, prior in priors.items():
                row[f"teacher_{tag}_{cal}"] = float((calibrate(raw_test, prior).argmax(1) == y_test).mean())
        # students (the workflow: teacher labels the distillation rows, the student labels the evaluation rows)
        results = {}
        for arm, kwargs in (("self_training", {"self_training": True}), ("no_self_training", {"self_training": False}),
                            ("no_alignment", {"lambda_align": 0.0, "self_training": True})):
            t0 = time.perf_counter()
            result = transfer_labels(train, teacher_columns=[teacher_col], student_columns=[student_col],
                                     labels=labels, encoder=encoder, epochs=epochs, holdout=0.0, random_state=seed,
                                     **kwargs)
            results[arm] = result
            row[f"student_{arm}"] = float((result.predict_proba(test).argmax(1) == y_test).mean())
            row[f"student_{arm}_s"] = round(time.perf_counter() - t0, 1)
        main = results["self_training"]  # the paper's full recipe: its features go to the probes
        row["teacher_workflow_distill_rows"] = float((main.teacher_labels == y_train).mean())
        # the ceiling of the student's view: the same student trained on the true labels of the distillation rows
        oracle = PrototypeDistiller(main.distiller.prototypes_, lambda_align=0.0, self_training=False, epochs=epochs,
                                    random_state=seed)
        oracle.fit(main.view.transform(train), teacher_labels=y_train)
        row["student_true_labels"] = float((oracle.predict(main.view.transform(test)) == y_test).mean())
        # linear probes on few labels: raw student view, distilled features, teacher features
        X_train, X_test = main.view.transform(train), main.view.transform(test)
        D_train, D_test = main.features(train), main.features(test)
        rng = np.random.default_rng(seed)
        for share in (0.01, 0.10):
            pick = rng.choice(len(train), size=max(len(labels), int(round(share * len(train)))), replace=False)
            pct = f"{round(share * 100)}pct"
            row[f"probe_{pct}_n"] = len(pick)
            row[f"probe_{pct}_raw"] = probe_accuracy(X_train[pick], y_train[pick], X_test, y_test)
            row[f"probe_{pct}_distilled"] = probe_accuracy(D_train[pick], y_train[pick], D_test, y_test)
            row[f"probe_{pct}_teacher"] = probe_accuracy(E_train[pick], y_train[pick], E_test, y_test)
        row["probe_100pct_raw"] = probe_accuracy(X_train, y_train, X_test, y_test)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--parts", default="banking77,kaomoji")
    args = parser.parse_args()
    import torch

    from labelwise.features.text import TextEncoder

    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    encoder = TextEncoder(n_threads=1)
    rows = [r for part in args.parts.split(",") for r in run_part(part, seeds, args.epochs, encoder)]
    table = pd.DataFrame(rows)
    means = table.drop(columns=["seed"]).groupby("part").mean(numeric_only=True).T
    with pd.option_context("display.max_rows", 200, "display.width", 200):
        print(f"\nmean over seeds {seeds}, {args.epochs} epochs:\n{means.round(3).to_string()}")
    out = Path(__file__).resolve().parent / "results" / "clip2scene.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"seeds": seeds, "epochs": args.epochs, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
