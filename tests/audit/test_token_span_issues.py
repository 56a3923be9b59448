"""Span issue types (labelwise.audit.token_classification.spans) against a known truth: an exact hand-made case and
synthetic corruption (swapped types, shifted boundaries, dropped spans) of BIO tags with simulated probabilities."""

from pathlib import Path

import numpy as np
import pytest

from labelwise.audit.token_classification.spans import SpanIssue, span_issue_types, spans_of
from labelwise.errors import ParameterError
from labelwise.data.nlupp import load_nlupp
from labelwise.testing.span_noise import (bio_class_names, corrupt_spans, nlupp_slot_bio, random_bio, score_span_issues,
                                          simulate_pred_probs)

NAMES = bio_class_names(["PER", "LOC", "ORG"])  # O B-PER I-PER B-LOC I-LOC B-ORG I-ORG


def onehot(tags, p=0.9):
    out = np.full((len(tags), len(NAMES)), (1 - p) / (len(NAMES) - 1))
    out[np.arange(len(tags)), tags] = p
    return out


def test_decoding_is_lenient_bio():
    assert spans_of([0, 1, 2, 2, 0, 4, 4, 3, 1, 0], NAMES) == [(1, 4, "PER"), (5, 7, "LOC"), (7, 8, "LOC"),
                                                               (8, 9, "PER")]


def test_hand_made_sentence_every_issue_type():
    #            0  1  2  3  4  5  6  7  8  9 10 11
    truth = [1, 2, 0, 3, 4, 0, 5, 0, 0, 1, 0, 0]  # PER[0,2) LOC[3,5) ORG[6,7) PER[9,10)
    given = [1, 2, 0, 5, 6, 0, 5, 6, 0, 0, 0, 3]  # ok, ORG for LOC, ORG[6,8) too long, PER dropped, LOC[11,12) extra
    issues = span_issue_types([given], [onehot(truth)], NAMES)
    assert {(i.issue, i.start, i.end, i.given_type, i.predicted_start, i.predicted_end, i.predicted_type)
            for i in issues} == {
        ("wrong_type", 3, 5, "ORG", 3, 5, "LOC"),
        ("wrong_boundary", 6, 8, "ORG", 6, 7, "ORG"),
        ("missed_span", -1, -1, "", 9, 10, "PER"),
        ("extra_span", 11, 12, "LOC", -1, -1, ""),
    }
    assert all(i.confidence == pytest.approx(0.9 - 0.1 / 6) for i in issues)  # P(predicted) - P(given) per token
    assert span_issue_types([truth], [onehot(truth)], NAMES) == []
    # a confident-enough threshold drops the missed span
    assert "missed_span" not in {i.issue for i in span_issue_types([given], [onehot(truth)], NAMES, threshold=0.9)}


def test_type_and_boundary_both_wrong():
    issues = span_issue_types([[0, 5, 6, 0]], [onehot([0, 3, 0, 0])], NAMES)
    assert issues == [SpanIssue(0, "wrong_type_and_boundary", 1, 3, "ORG", 1, 2, "LOC", pytest.approx(0.9 - 0.1 / 6))]


@pytest.mark.parametrize("seed", [0, 1])
def test_synthetic_corruption_is_classified(seed):
    rng = np.random.default_rng(seed)
    truth_tags = random_bio(rng, 600, 3)
    given, planted = corrupt_spans(rng, truth_tags, 3, rate=0.15)
    pred_probs = simulate_pred_probs(rng, truth_tags, len(NAMES))
    for kind, (precision, recall, planted_count) in score_span_issues(
            span_issue_types(given, pred_probs, NAMES), planted).items():
        assert planted_count > 30
        assert recall > 0.9 and precision > 0.9, (kind, recall, precision)


@pytest.mark.shared
def test_nlupp_slots_with_planted_corruption():
    table = load_nlupp(Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "nlupp")
    _, truth_tags, types = nlupp_slot_bio(table)
    assert len(truth_tags) > 1200 and len(types) == 17
    rng = np.random.default_rng(0)
    given, planted = corrupt_spans(rng, truth_tags, len(types), rate=0.15)
    names = bio_class_names(types)
    pred_probs = simulate_pred_probs(rng, truth_tags, len(names))
    for kind, (precision, recall, planted_count) in score_span_issues(
            span_issue_types(given, pred_probs, names), planted).items():
        assert planted_count > 40
        assert recall > 0.9 and precision > 0.9, (kind, recall, precision)


def test_bad_class_names():
    with pytest.raises(ParameterError, match="BIO"):
        span_issue_types([[0]], [np.ones((1, 2)) / 2], ["O", "PER"])
