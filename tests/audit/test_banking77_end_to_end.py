"""End to end on real text with known truths, on a class-stratified 3,000-row sample of Banking77 train.

The experiments are ``bench/banking77_end_to_end.py``'s (which runs them at full size for docs/benchmarks.md):
MiniLM embeddings (offline) -> 5-fold logistic regression -> confident learning finds 10% flipped labels (seeded),
and the shift check estimates a planted Dirichlet(1) class mix of the test split without its labels. Figures are
written to test-artifacts/ for the record.
"""

from __future__ import annotations

import json

import pytest

from bench.banking77_end_to_end import flipped_labels, label_shift
from tests.conftest import REPO, shared_dataset

pytestmark = [pytest.mark.shared, pytest.mark.model, pytest.mark.slow]

ROWS = 3000  # about 39 rows per intent: the full 10,003 rows take 4x longer and give the same conclusions


def _record(name: str, figures: dict) -> None:
    print(json.dumps(figures, indent=2))
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    (REPO / "test-artifacts" / name).write_text(json.dumps(figures, indent=2))


def test_banking77_flipped_labels_are_found():
    figures, result = flipped_labels(ROWS, shared_dataset("banking77", "train.csv").parent)
    _record("banking77_flip10.json", figures)
    assert figures["rows"] == pytest.approx(ROWS, abs=40) and figures["flipped"] == round(0.1 * figures["rows"])
    cl = figures["prune_by_noise_rate"]
    assert cl["precision"] > 0.6 and cl["recall"] > 0.7 and cl["f1"] > 0.7
    assert cl["f1"] > figures["predicted_neq_given"]["f1"]
    # Banking77 has real label noise of its own, so the estimate sits at or a little above the 10% we injected
    assert 0.08 < result.error_rate < 0.2


def test_banking77_label_shift_estimate_with_known_truth():
    """MLLS must land within L1 0.15 of the true mix and beat assuming no shift; the chi-square test on the
    labelled target must see the shift; resampled test rows repeat, so the leakage check finds them."""
    figures, _ = label_shift(ROWS, shared_dataset("banking77", "train.csv").parent)
    _record("banking77_label_shift.json", figures)
    assert figures["l1_mlls"] < 0.15 and figures["l1_mlls"] < figures["l1_no_shift"]
    assert figures["leakage"] > 0
    assert figures["labelled_test_sees_shift"]
