"""End to end on real text: Banking77 train with 10% of labels flipped (seeded), audited from raw text.

MiniLM embeddings (offline) -> 5-fold logistic regression -> confident learning. The flipped rows are the known
truth. Measured figures are written to test-artifacts/banking77_flip10.json for the record.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import labelwise
from labelwise.data import flip_labels
from tests.conftest import REPO, shared_dataset

pytestmark = [pytest.mark.shared, pytest.mark.model, pytest.mark.slow]


def _prf(flagged: np.ndarray, truth: np.ndarray) -> dict:
    hits = int((flagged & truth).sum())
    precision, recall = hits / max(int(flagged.sum()), 1), hits / int(truth.sum())
    return {"flagged": int(flagged.sum()), "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / max(precision + recall, 1e-12)}


def test_banking77_flipped_labels_are_found():
    frame = pd.read_csv(shared_dataset("banking77", "train.csv"))
    classes = sorted(frame["category"].unique())
    codes = np.searchsorted(classes, frame["category"].to_numpy())
    noisy, flipped = flip_labels(codes, 0.10, n_classes=len(classes), random_state=0)
    frame["category"] = np.asarray(classes, dtype=object)[noisy]

    result = labelwise.audit_dataset(frame, label="category", text="text", random_state=0)
    figures = {"rows": len(frame), "flipped": int(flipped.sum()),
               "model_accuracy_vs_true_labels": float(np.mean(result.suggested == codes)),
               "estimated_error_rate": result.error_rate}
    for filter_by in ["prune_by_noise_rate", "both", "predicted_neq_given"]:
        mask = labelwise.audit.label_errors.find_label_issues(result.given, result.pred_probs, filter_by=filter_by)
        figures[filter_by] = _prf(mask, flipped)
    out = REPO / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "banking77_flip10.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))

    cl = figures["prune_by_noise_rate"]
    assert cl["precision"] > 0.6 and cl["recall"] > 0.7 and cl["f1"] > 0.7
    assert cl["f1"] > figures["predicted_neq_given"]["f1"]
    # Banking77 has real label noise of its own, so the estimate sits at or a little above the 10% we injected
    assert 0.08 < result.error_rate < 0.2


def test_banking77_label_shift_estimate_with_known_truth():
    """Test split resampled to a Dirichlet(1) class prior (seeded): MLLS must land within L1 0.15 of the truth
    and beat assuming no shift; the chi-square test must see the shift."""
    train = pd.read_csv(shared_dataset("banking77", "train.csv"))
    test = pd.read_csv(shared_dataset("banking77", "test.csv"))
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
    l1_mlls, l1_none = np.abs(mlls.estimate - truth).sum(), np.abs(mlls.source_prior - truth).sum()
    coverage = np.mean((mlls.lower <= truth) & (truth <= mlls.upper))
    l1_bbse = np.abs(shift.bbse.estimate - truth).sum()
    figures = {"l1_mlls": l1_mlls, "l1_bbse": l1_bbse, "l1_no_shift": l1_none, "interval_coverage": coverage}
    print(json.dumps(figures, indent=2))
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    (REPO / "test-artifacts" / "banking77_label_shift.json").write_text(json.dumps(figures, indent=2))
    assert l1_mlls < 0.15 and l1_mlls < l1_none
    assert shift.leakage > 0  # resampled test rows repeat, and Banking77 paraphrases cross the split

    labelled = labelwise.audit_dataset(train, label="category", text="text", compare_to=shifted, checks=("shift",),
                               pred_probs=result.pred_probs)  # the labels' chi-square test needs no model
    assert labelled.checks.shift.summary.test.shifted
