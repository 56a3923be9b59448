"""Banking77 end to end from raw text, with known truths: flipped labels found, and a planted label shift estimated.

    .venv/bin/python bench/banking77_end_to_end.py            # full size: all 10,003 train rows (minutes)
    .venv/bin/python bench/banking77_end_to_end.py --rows 3000  # the stratified subsample make test runs

1. Flipped labels: Banking77 train, 10% of the labels flipped uniformly at random (seed 0), audited with the defaults
   (MiniLM embeddings -> out-of-fold logistic regression with C chosen by inner cross-validation -> confident
   learning); precision / recall / F1 of each filter against the flips.
2. Label shift: Banking77 test resampled (with replacement, seed 1) to a class prior drawn from Dirichlet(1); the
   audit estimates the target's class mix without its labels (MLLS with bias-corrected calibration, BBSE), and the
   labels' chi-square test must see the shift.

``tests/audit/test_banking77_end_to_end.py`` runs both on a stratified subsample of train (``--rows 3000``); the
figures in docs/benchmarks.md are from the full size. Prints one JSON object per experiment.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets" / "banking77"


def _prf(flagged: np.ndarray, truth: np.ndarray) -> dict:
    hits = int((flagged & truth).sum())
    precision, recall = hits / max(int(flagged.sum()), 1), hits / int(truth.sum())
    return {"flagged": int(flagged.sum()), "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / max(precision + recall, 1e-12)}


def train_rows(n_rows: Optional[int], data: Path = DATA) -> pd.DataFrame:
    """Banking77 train, or a class-stratified sample of about ``n_rows`` of it (seed 0), in file order."""
    frame = pd.read_csv(data / "train.csv")
    if n_rows is None or n_rows >= len(frame):
        return frame
    sample = frame.groupby("category", group_keys=False).sample(frac=n_rows / len(frame), random_state=0)
    return sample.sort_index().reset_index(drop=True)


def flipped_labels(n_rows: Optional[int] = None, data: Path = DATA) -> tuple[dict, object]:
    """Audit train (or ``n_rows`` of it) with 10% of its labels flipped; the figures and the AuditResult."""
    import labelwise
    from labelwise.audit.label_errors import find_label_issues
    from labelwise.data import flip_labels

    frame = train_rows(n_rows, data)
    classes = sorted(frame["category"].unique())
    codes = np.searchsorted(classes, frame["category"].to_numpy())
    noisy, flipped = flip_labels(codes, 0.10, n_classes=len(classes), random_state=0)
    frame["category"] = np.asarray(classes, dtype=object)[noisy]

    result = labelwise.audit_dataset(frame, label="category", text="text", random_state=0)
    figures = {"rows": len(frame), "flipped": int(flipped.sum()),
               "model_accuracy_vs_true_labels": float(np.mean(result.suggested == codes)),
               "estimated_error_rate": result.error_rate}
    for filter_by in ["prune_by_noise_rate", "both", "predicted_neq_given"]:
        figures[filter_by] = _prf(find_label_issues(result.given, result.pred_probs, filter_by=filter_by), flipped)
    return figures, result


def label_shift(n_rows: Optional[int] = None, data: Path = DATA) -> tuple[dict, object]:
    """Estimate the class mix of Banking77 test resampled to a Dirichlet(1) prior, from a model trained on train (or
    ``n_rows`` of it); the figures and the shift check's summary (its ``test`` is the labelled chi-square test)."""
    import labelwise

    train = train_rows(n_rows, data)
    test = pd.read_csv(data / "test.csv")
    classes = sorted(train["category"].unique())
    test_codes = np.searchsorted(classes, test["category"].to_numpy())
    rng = np.random.default_rng(1)
    prior = rng.dirichlet(np.ones(len(classes)))
    draw = rng.choice(len(classes), size=len(test), p=prior)
    rows = np.array([rng.choice(np.flatnonzero(test_codes == c)) for c in draw])
    shifted = test.iloc[rows].reset_index(drop=True)
    truth = np.bincount(test_codes[rows], minlength=len(classes)) / len(rows)

    unlabelled = shifted.drop(columns="category")  # estimation must not peek at the labels
    result = labelwise.audit_dataset(train, label="category", text="text", compare_to=unlabelled,
                                     checks=("shift",), random_state=0)
    shift = result.checks.shift.summary
    mlls = shift.mlls
    figures = {"train_rows": len(train),
               "l1_mlls": float(np.abs(mlls.estimate - truth).sum()),
               "l1_bbse": float(np.abs(shift.bbse.estimate - truth).sum()),
               "l1_no_shift": float(np.abs(mlls.source_prior - truth).sum()),
               "interval_coverage": float(np.mean((mlls.lower <= truth) & (truth <= mlls.upper))),
               "leakage": float(shift.leakage)}
    labelled = labelwise.audit_dataset(train, label="category", text="text", compare_to=shifted, checks=("shift",),
                                       pred_probs=result.pred_probs)  # the labels' chi-square test needs no model
    figures["labelled_test_sees_shift"] = bool(labelled.checks.shift.summary.test.shifted)
    return figures, shift


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=None, help="A stratified sample of train (default: all of it).")
    parser.add_argument("--only", choices=["flips", "shift"], default=None)
    args = parser.parse_args(argv)
    if args.only in (None, "flips"):
        print(json.dumps({"experiment": "flipped_labels", **flipped_labels(args.rows)[0]}, indent=2))
    if args.only in (None, "shift"):
        print(json.dumps({"experiment": "label_shift", **label_shift(args.rows)[0]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
