"""labelwise.audit.multiannotator against cleanlab 2.9's multiannotator module on the same inputs: the same dict
keys, DataFrame columns, dtypes, index and values (to 1e-9), on several patterns of missing labels, ties and edge
annotators; plus the input checks (one-line ParameterError / ShapeError, both ValueErrors)."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pandas as pd
import pytest

from labelwise.audit import multiannotator as ma
from labelwise.errors import ParameterError, ShapeError
from labelwise.testing.annotators import simulate_annotators


@pytest.fixture(scope="module")
def cl():
    """cleanlab.multiannotator, the reference implementation (quiet: it prints notes)."""
    pytest.importorskip("cleanlab", reason="cleanlab is the reference implementation (pip install -e '.[dev]')")
    from cleanlab import multiannotator

    def call(name, *args, **kwargs):
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(multiannotator, name)(*args, **kwargs)
    return call


@pytest.fixture
def cl_fixed(cl, monkeypatch):
    """cleanlab with its class-count bug fixed: ``value_counts`` of float labels (any matrix with NaN, or a complete
    float one) fills the
    counts of the classes present into the first slots (a row labelled {2, 3} counts as {0, 1}), which skews
    ``calibrate_probs`` and ``quality_method='agreement'``; labelwise counts each class in its own slot."""
    import cleanlab.internal.multiannotator_utils as utils
    import cleanlab.multiannotator as module
    from cleanlab.internal.util import value_counts

    def counts(x, *, num_classes=None, multi_label=False):
        return value_counts(np.asarray(x).astype(int), num_classes=num_classes)
    monkeypatch.setattr(utils, "value_counts", counts)
    monkeypatch.setattr(module, "value_counts", counts)
    return cl


def probs_for(truth, k, seed, strength=0.5):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(k), len(truth)) * (1 - strength)
    p[np.arange(len(truth)), truth] += strength
    return p


def pattern(name: str):
    """(labels (n, m) float with NaN, pred_probs (n, K)) for one missing-label pattern."""
    rng = np.random.default_rng(7)
    n, m, k = 240, 6, 4
    truth = rng.integers(0, k, n)
    density = {"half": 0.5, "sparse": 0.2, "full": 1.0, "edges": 0.5, "two": 1.0}[name]
    if name == "two":
        m = 2
    labels = simulate_annotators(truth, m, n_classes=k, accuracy=(0.5, 0.9), density=density,
                                 random_state=3).labels
    if name == "edges":
        labels = np.column_stack([labels, np.full(n, np.nan), np.full(n, np.nan)])
        labels[5, -2] = 1  # an annotator who labels one item
        solo = np.flatnonzero((~np.isnan(labels)).sum(axis=1) == 1)[:3]
        labels[solo, -1] = 2  # an annotator whose items nobody else labels
        labels[solo, :-1] = np.nan
    return labels, probs_for(truth, k, seed=11)


def assert_same(ours: dict, theirs: dict):
    assert list(ours) == list(theirs)
    for key in theirs:
        if isinstance(theirs[key], pd.DataFrame):
            pd.testing.assert_frame_equal(ours[key], theirs[key], rtol=1e-9, atol=1e-12, obj=key)
        else:
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-9, err_msg=key)


@pytest.mark.parametrize("name", ["half", "sparse", "full", "edges", "two"])
@pytest.mark.parametrize("consensus", ["best_quality", "majority_vote", ["majority_vote", "best_quality"]])
def test_crowdlab_matches_cleanlab(cl, name, consensus):
    labels, probs = pattern(name)
    kwargs = dict(consensus_method=consensus, return_weights=not isinstance(consensus, list))
    assert_same(ma.get_label_quality_multiannotator(labels, probs, **kwargs),
                cl("get_label_quality_multiannotator", labels, probs, **kwargs))


@pytest.mark.parametrize("score", [{"method": "normalized_margin"}, {"method": "confidence_weighted_entropy"},
                                   {"adjust_pred_probs": True}, {"method": "normalized_margin",
                                                                 "adjust_pred_probs": True}])
def test_label_quality_score_kwargs_match_cleanlab(cl, score):
    labels, probs = pattern("half")
    kwargs = dict(label_quality_score_kwargs=score, return_weights=True)
    assert_same(ma.get_label_quality_multiannotator(labels, probs, **kwargs),
                cl("get_label_quality_multiannotator", labels, probs, **kwargs))


@pytest.mark.parametrize("name", ["half", "edges"])
@pytest.mark.parametrize("quality, calibrate", [("agreement", False), ("crowdlab", True), ("agreement", True)])
def test_agreement_and_calibration_match_cleanlab_with_its_counts_fixed(cl_fixed, name, quality, calibrate):
    labels, probs = pattern(name)
    for consensus in ("best_quality", "majority_vote"):
        kwargs = dict(consensus_method=consensus, quality_method=quality, calibrate_probs=calibrate)
        assert_same(ma.get_label_quality_multiannotator(labels, probs, **kwargs),
                    cl_fixed("get_label_quality_multiannotator", labels, probs, **kwargs))


def test_agreement_and_calibration_match_unpatched_cleanlab_on_integer_labels(cl):
    """Complete integer matrices do not reach cleanlab's float-label count bug: equal without any patch."""
    labels, probs = pattern("full")
    labels = labels.astype(np.int64)
    for kwargs in (dict(quality_method="agreement"), dict(calibrate_probs=True, return_weights=True)):
        assert_same(ma.get_label_quality_multiannotator(labels, probs, **kwargs),
                    cl("get_label_quality_multiannotator", labels, probs, **kwargs))


def test_cleanlab_count_bug_needs_float_labels_not_nan(cl):
    """The documented trigger: a complete float matrix (no NaN) already meets cleanlab's count bug, the same labels
    as integers do not; labelwise gives the integer answer for both."""
    labels = np.array([[2, 2, 2], [2, 2, 1], [0, 1, 1], [0, 0, 0]], dtype=float)
    flat = np.full((4, 3), 1 / 3)

    def consensus(call, x):
        return call(x, flat, quality_method="agreement")["label_quality"]["consensus_label"].tolist()
    theirs_int = consensus(lambda *a, **k: cl("get_label_quality_multiannotator", *a, **k), labels.astype(np.int64))
    theirs_float = consensus(lambda *a, **k: cl("get_label_quality_multiannotator", *a, **k), labels)
    assert theirs_int == [2, 2, 1, 0] and theirs_float != theirs_int
    assert consensus(ma.get_label_quality_multiannotator, labels) == theirs_int


def test_agreement_consensus_counts_each_class_in_its_own_slot():
    """The exact case cleanlab 2.9 gets wrong: both annotators of row 0 say 2, and so does the consensus."""
    labels = np.array([[2, 2, np.nan], [2, 2, 1], [0, 1, 1], [0, 0, np.nan]])
    table = ma.get_label_quality_multiannotator(labels, np.full((4, 3), 1 / 3), quality_method="agreement")
    assert table["label_quality"]["consensus_label"].tolist() == [2, 2, 1, 0]
    assert table["label_quality"]["annotator_agreement"].tolist() == pytest.approx([1, 2 / 3, 2 / 3, 1])


def test_dataframe_input_keeps_ids_index_and_dtypes(cl):
    labels, probs = pattern("edges")
    frame = pd.DataFrame(labels, columns=[f"ann_{j}" for j in range(labels.shape[1])],
                         index=pd.Index([f"ex{i}" for i in range(len(labels))])).astype("Float64")  # pd.NA
    ours = ma.get_label_quality_multiannotator(frame, probs)
    assert_same(ours, cl("get_label_quality_multiannotator", frame, probs))
    assert list(ours["detailed_label_quality"].columns) == [f"quality_annotator_ann_{j}" for j in range(8)]
    assert ours["label_quality"].dtypes.tolist() == [np.int64, np.float64, np.float64, np.int64]
    assert ours["annotator_stats"].dtypes.tolist() == [np.float64, np.float64, np.int64, np.int64]


def test_majority_vote_tie_breaks_match_cleanlab(cl):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, (400, 2)).astype(float)  # two annotators: every disagreement is a tie
    labels[rng.random(labels.shape) < 0.1] = np.nan
    labels[np.isnan(labels).all(axis=1), 0] = 0
    probs = probs_for(rng.integers(0, 3, 400), 3, seed=2)
    np.testing.assert_array_equal(ma.get_majority_vote_label(labels, probs),
                                  cl("get_majority_vote_label", labels, probs))
    # equal pred_probs: ties fall to the rarer class, then to the annotators who agree more with the untied votes
    flat = np.full((400, 3), 1 / 3)
    np.testing.assert_array_equal(ma.get_majority_vote_label(labels, flat), cl("get_majority_vote_label", labels, flat))
    np.testing.assert_array_equal(ma.get_majority_vote_label(labels), cl("get_majority_vote_label", labels))


def test_many_ties_and_unused_classes_match_cleanlab(cl):
    """Equal pred_probs (every tie goes past the model to class frequency and annotator agreement), unbalanced
    classes; then pred_probs with two classes nobody gave."""
    rng = np.random.default_rng(5)
    labels = rng.choice([0, 1, 2], (300, 3), p=[0.5, 0.3, 0.2]).astype(float)
    labels[rng.random(labels.shape) < 0.4] = np.nan
    labels[np.isnan(labels).all(axis=1), 0] = 1
    for probs in (np.full((300, 3), 1 / 3), probs_for(rng.integers(0, 5, 300), 5, seed=1)):
        assert_same(ma.get_label_quality_multiannotator(labels, probs, return_weights=True),
                    cl("get_label_quality_multiannotator", labels, probs, return_weights=True))


def test_majority_vote_tie_breaks_by_annotator_agreement_then_seeded_choice():
    # classes 0 and 1 are given equally often; annotator 0 agrees with every untied vote, annotator 1 with none
    labels = np.array([[0, 1, 0], [1, 0, 1], [0, 1, np.nan], [1, np.nan, 1], [np.nan, 0, 0]], dtype=float)
    labels = np.vstack([labels, [[0, 1, np.nan]]])
    vote = ma.majority_vote_label(labels)
    assert vote[:2].tolist() == [0, 1] and vote[2] == 0 and vote[5] == 0
    # annotators of identical standing: the seeded draw picks one of the tied classes, the same one every time
    tied = np.array([[0, 1], [1, 0]], dtype=float)
    first = ma.majority_vote_label(tied, random_state=5)
    assert set(first) <= {0, 1} and (ma.majority_vote_label(tied, random_state=5) == first).all()


def test_active_learning_scores_match_cleanlab(cl_fixed):
    """ActiveLab always calibrates, so with NaN in the labels it meets cleanlab's count bug: compared with it fixed."""
    labels, probs = pattern("half")
    unlabeled = probs_for(np.arange(30) % 4, 4, seed=5)
    for args in ((labels, probs, unlabeled), (labels, probs, None), (None, None, unlabeled)):
        ours, theirs = ma.get_active_learning_scores(*args), cl_fixed("get_active_learning_scores", *args)
        for a, b in zip(ours, theirs):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=1e-9)


def test_active_learning_scores_match_unpatched_cleanlab(cl):
    labels, probs = pattern("full")
    unlabeled = probs_for(np.arange(30) % 4, 4, seed=5)
    single = np.full((40, 3), np.nan)  # one label per example: scored by the model alone
    single[np.arange(40), np.arange(40) % 3] = np.arange(40) % 4
    for args in ((labels.astype(np.int64), probs, unlabeled), (single, probs[:40], unlabeled)):
        for a, b in zip(ma.get_active_learning_scores(*args), cl("get_active_learning_scores", *args)):
            np.testing.assert_allclose(a, b, rtol=1e-9)


def test_long_to_wide_and_label_formatting_match_cleanlab(cl):
    from cleanlab.internal.multiannotator_utils import format_multiannotator_labels

    long = pd.DataFrame({"task": [3, 1, 1, 2, 3], "annotator": ["b", "a", "b", "a", "a"],
                         "label": ["cat", "dog", "cat", "bird", "dog"]})
    wide = ma.convert_long_to_wide_dataset(long)
    pd.testing.assert_frame_equal(wide, cl("convert_long_to_wide_dataset", long))
    ours, mapping = ma.format_multiannotator_labels(wide)
    theirs, their_mapping = format_multiannotator_labels(wide)
    assert mapping == their_mapping == {0: "bird", 1: "cat", 2: "dog"}
    np.testing.assert_array_equal(ours.to_numpy(dtype=float), theirs.to_numpy(dtype=float))
    numbers, numeric_mapping = ma.format_multiannotator_labels(np.array([[10.0, np.nan], [30.0, 10.0]]))
    assert numeric_mapping == {0: 10, 1: 30} and np.isnan(numbers.iloc[0, 1]) and numbers.iloc[1, 0] == 1


@pytest.mark.parametrize("labels, probs, error, words", [
    (np.array([0, 1, 1]), None, ShapeError, "2-D"),
    (np.array([[0, 1], [np.nan, np.nan]]), None, ParameterError, "examples 1 have no label"),
    (np.array([[0, np.nan], [1, np.nan]]), None, ParameterError, "annotators 1 labelled no example"),
    (np.array([[0], [1]]), None, ParameterError, "one annotator column"),
    (np.array([[0, np.nan], [np.nan, 1]]), None, ParameterError, "exactly one label per example"),
    (np.array([[0, 1.5], [1, 1]]), None, ParameterError, "class indices"),
    (np.array([["a", "b"], ["b", "b"]]), None, ParameterError, "format_multiannotator_labels"),
    (np.array([[0, 2], [1, 1]]), np.full((2, 2), 0.5), ShapeError, "at least 3 columns"),
    (np.array([[0, 1], [1, 1]]), np.full((3, 2), 0.5), ShapeError, "3 rows"),
])
def test_invalid_inputs_raise_one_line_value_errors(labels, probs, error, words):
    probs = np.full((len(labels), 2), 0.5) if probs is None else probs
    with pytest.raises(error) as caught:
        ma.get_label_quality_multiannotator(labels, probs)
    assert isinstance(caught.value, ValueError) and words in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("kwargs, words", [
    (dict(consensus_method="dawid_skene"), "consensus_method"),
    (dict(quality_method="vote"), "quality_method"),
    (dict(quality_method="agreement", return_weights=True), "return_weights"),
    (dict(label_quality_score_kwargs={"method": "margin"}), "method"),
    (dict(label_quality_score_kwargs={"method": "confidence_weighted_entropy", "adjust_pred_probs": True}),
     "adjust_pred_probs"),
])
def test_invalid_options_raise_parameter_errors(kwargs, words):
    labels, probs = pattern("half")
    with pytest.raises(ParameterError, match=words):
        ma.get_label_quality_multiannotator(labels, probs, **kwargs)


def test_crowdlab_beats_majority_vote_and_ranks_annotators_on_known_accuracies():
    """Known truth: 8 simulated annotators of known accuracy, a model right 75% of the time."""
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, 1500)
    crowd = simulate_annotators(truth, 8, n_classes=5, accuracy=(0.35, 0.9), density=0.25, random_state=1)
    model = np.where(rng.random(1500) < 0.75, truth, rng.integers(0, 5, 1500))
    probs = probs_for(model, 5, seed=3, strength=0.4)
    result = ma.get_label_quality_multiannotator(crowd.labels, probs)
    crowdlab = (result["label_quality"]["consensus_label"].to_numpy() == truth).mean()
    vote = (ma.get_majority_vote_label(crowd.labels, probs) == truth).mean()
    assert crowdlab > vote + 0.03
    quality = result["annotator_stats"]["annotator_quality"].sort_index().to_numpy()
    assert pd.Series(quality).corr(pd.Series(crowd.accuracy), method="spearman") > 0.85
    # the consensus quality score ranks wrong consensus labels first
    from sklearn.metrics import roc_auc_score
    wrong = result["label_quality"]["consensus_label"].to_numpy() != truth
    assert roc_auc_score(wrong, -result["label_quality"]["consensus_quality_score"]) > 0.7  # 0.73 here


def test_active_learning_errors_name_the_dataframe_annotators():
    """An annotator with no label is named by its column, as get_label_quality_multiannotator names it."""
    labels = pd.DataFrame({"ana": [0, 1, 1.0], "bo": [np.nan] * 3, "cy": [0, 1, 0.0]})
    for call in (ma.get_active_learning_scores, ma.get_label_quality_multiannotator):
        with pytest.raises(ParameterError, match="annotators bo labelled no example"):
            call(labels, np.full((3, 2), 0.5))


def test_format_labels_reads_pd_na_of_nullable_columns():
    """Int64 / string columns hold pd.NA for a missing label (it used to raise TypeError: boolean value of NA)."""
    frame = pd.DataFrame({"a": [5, 7, None], "b": [7, 7, 5]}).astype("Int64")
    formatted, mapping = ma.format_multiannotator_labels(frame)
    assert mapping == {0: 5, 1: 7}
    np.testing.assert_array_equal(formatted.to_numpy(dtype=float), [[0, 1], [1, 1], [np.nan, 0]])
    words = pd.DataFrame({"a": ["chat", pd.NA, "élan"], "b": ["élan", "chat", "nan"]}, dtype="string")
    formatted, mapping = ma.format_multiannotator_labels(words)
    assert mapping == {0: "chat", 1: "élan"}
    np.testing.assert_array_equal(formatted.to_numpy(dtype=float), [[0, 1], [np.nan, 0], [1, np.nan]])
