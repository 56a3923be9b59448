"""The shift check: why it cannot run, the label-count test against a labelled split, the estimate from given
probabilities, and leakage counted exactly on planted copies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import labelwise
from labelwise.audit.checks import ShiftCheck, SkipReason
from labelwise.audit.label_shift import label_count_test
from labelwise.data.other_split import load_other_split
from labelwise.errors import DataError
from labelwise.features import HashingTextEncoder
from tests.audit.checks.inputs import check_inputs

LABELS = np.repeat([0, 1, 2], [50, 30, 20])


def _other(labels=None, n=40):
    frame = pd.DataFrame({"x": range(n)} if labels is None else {"label": labels})
    return load_other_split(frame, label="label")


def test_shift_says_why_it_cannot_run():
    assert ShiftCheck().run(check_inputs(None, LABELS)).reason is SkipReason.NO_OTHER_SPLIT
    multi = check_inputs(None, LABELS, other=_other(), multi_label=True)
    assert ShiftCheck().run(multi).reason is SkipReason.MULTI_LABEL
    unlabelled = ShiftCheck().run(check_inputs(None, LABELS, other=_other()))  # no labels, no model, no probs
    assert unlabelled.reason is SkipReason.NOTHING_TO_COMPARE and "no labels" in unlabelled.message


def test_labelled_other_split_is_tested_by_its_label_counts():
    other_labels = ["c0"] * 10 + ["c1"] * 10 + ["c2"] * 15 + ["unknown"] * 3 + [None] * 2
    result = ShiftCheck().run(check_inputs(None, LABELS, other=_other(other_labels)))
    summary = result.summary
    expected = label_count_test(LABELS, np.repeat([0, 1, 2], [10, 10, 15]), 3)
    assert summary.test == expected and summary.verdict == expected.verdict
    assert summary.short_verdict == ("shift detected" if expected.shifted else "no evidence")
    assert summary.unknown_labels == 5 and summary.other_rows == 40
    np.testing.assert_allclose(summary.other_prior, np.round([10 / 35, 10 / 35, 15 / 35], 6))
    assert summary.mlls is None and summary.bbse is None and summary.leakage is None


def test_given_probabilities_give_the_estimated_mix():
    onehot = np.eye(3)
    other_truth = np.repeat([0, 1, 2], [5, 5, 30])
    inputs = check_inputs(None, LABELS, other=_other(), pred_probs=onehot[LABELS],
                          other_pred_probs=onehot[other_truth])
    summary = ShiftCheck().run(inputs).summary
    np.testing.assert_allclose(summary.mlls.estimate, [5 / 40, 5 / 40, 30 / 40], atol=1e-6)
    np.testing.assert_allclose(summary.bbse.estimate, [5 / 40, 5 / 40, 30 / 40], atol=1e-9)
    assert summary.test is None and summary.short_verdict == f"estimated L1 {summary.mlls.l1_shift:.2f}"
    wrong = check_inputs(None, LABELS, other=_other(), other_pred_probs=np.full((40, 2), 0.5))
    with pytest.raises(DataError, match="compare_pred_probs"):
        ShiftCheck().run(wrong)


@pytest.mark.filterwarnings("ignore:MLLS EM did not reach")  # random words carry no class: EM drifts slowly
def test_leakage_counts_the_planted_copies():
    rng = np.random.default_rng(0)
    vocabulary = [f"w{i}" for i in range(5000)]

    def texts(n):
        return [" ".join(rng.choice(vocabulary, 6, replace=False)) for _ in range(n)]

    train = pd.DataFrame({"text": texts(150), "label": np.repeat(["a", "b", "c"], 50)})
    near = ["  ".join(text.split()) for text in train["text"].iloc[[7, 90]]]  # same words, not the same cell
    test = pd.DataFrame({"text": texts(30) + train["text"].iloc[[3, 60, 61, 140]].tolist() + near,
                         "label": ["a"] * 36})
    result = labelwise.audit_dataset(train, label="label", text="text", encoder=HashingTextEncoder(256), n_folds=3,
                             compare_to=test, checks=("shift",))
    shift = result.checks.shift.summary
    assert shift.exact_leakage == 4 and shift.leakage == 6 and shift.leakage_threshold == 0.95
    assert shift.test.shifted and shift.mlls is not None and shift.other_rows == 36
