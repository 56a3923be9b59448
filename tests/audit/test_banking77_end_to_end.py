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


def test_banking77_flipped_labels_are_found(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LABELWISE_CACHE_DIR", str(tmp_path_factory.mktemp("embedding-cache")))
    frame = pd.read_csv(shared_dataset("banking77", "train.csv"))
    classes = sorted(frame["category"].unique())
    codes = np.searchsorted(classes, frame["category"].to_numpy())
    noisy, flipped = flip_labels(codes, 0.10, n_classes=len(classes), random_state=0)
    frame["category"] = np.asarray(classes, dtype=object)[noisy]

    result = labelwise.audit(frame, label="category", text="text", random_state=0)
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
