"""labelwise.audit.token_classification gives cleanlab 2.9's token_classification results on the same inputs."""

import numpy as np
import pandas as pd
import pytest

from labelwise.audit.token_classification import filter as lw_filter
from labelwise.audit.token_classification import rank as lw_rank
from labelwise.audit.token_classification import summary as lw_summary
from labelwise.errors import ParameterError, ShapeError

cl_filter = pytest.importorskip("cleanlab.token_classification.filter")
cl_rank = pytest.importorskip("cleanlab.token_classification.rank")
cl_summary = pytest.importorskip("cleanlab.token_classification.summary")


def noisy_tokens(seed, n_sentences=300, k=5, noise=0.1):
    """Sentences of 1..15 tokens; pred_probs peaked at the true class; `noise` of the given labels flipped."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 16, n_sentences)
    labels, pred_probs, words = [], [], []
    vocab = [f"w{v}" for v in range(40)]
    for length in lengths:
        truth = rng.integers(0, k, length)
        alpha = np.full((length, k), 0.3)
        alpha[np.arange(length), truth] += rng.uniform(1, 8, length)
        pred_probs.append(np.array([rng.dirichlet(a) for a in alpha]))
        given = truth.copy()
        flip = rng.random(length) < noise
        given[flip] = rng.integers(0, k, flip.sum())
        labels.append(given.tolist())
        words.append([vocab[t] for t in rng.integers(0, 40, length)])
    return labels, pred_probs, words


def test_cleanlab_docstring_example():
    labels = [[0, 0, 1], [0, 1]]
    pred_probs = [np.array([[0.9, 0.1], [0.7, 0.3], [0.05, 0.95]]), np.array([[0.8, 0.2], [0.8, 0.2]])]
    assert lw_filter.find_label_issues(labels, pred_probs) == [(1, 1)]
    assert cl_filter.find_label_issues(labels, pred_probs) == [(1, 1)]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("ranked_by", ["self_confidence", "normalized_margin", "confidence_weighted_entropy"])
def test_find_label_issues_equals_cleanlab(seed, ranked_by):
    labels, pred_probs, _ = noisy_tokens(seed)
    ours = lw_filter.find_label_issues(labels, pred_probs, return_indices_ranked_by=ranked_by)
    theirs = cl_filter.find_label_issues(labels, pred_probs, return_indices_ranked_by=ranked_by)
    assert len(ours) > 20
    assert ours == [tuple(map(int, pair)) for pair in theirs]


@pytest.mark.parametrize("filter_by", ["prune_by_class", "both", "confident_learning", "predicted_neq_given"])
def test_find_label_issues_filters_equal_cleanlab(filter_by):
    labels, pred_probs, _ = noisy_tokens(2, n_sentences=150)
    ours = lw_filter.find_label_issues(labels, pred_probs, filter_by=filter_by, frac_noise=0.8)
    theirs = cl_filter.find_label_issues(labels, pred_probs, filter_by=filter_by, frac_noise=0.8)
    assert ours == [tuple(map(int, pair)) for pair in theirs]


@pytest.mark.parametrize("token_method", ["self_confidence", "normalized_margin", "confidence_weighted_entropy"])
@pytest.mark.parametrize("sentence_method,kwargs", [("min", {}), ("softmin", {}), ("softmin", {"temperature": 0.5}),
                                                     ("softmin", {"temperature": 0}),
                                                     ("softmin", {"temperature": np.inf})])
def test_label_quality_scores_equal_cleanlab(token_method, sentence_method, kwargs):
    labels, pred_probs, words = noisy_tokens(3, n_sentences=120)
    args = dict(token_score_method=token_method, sentence_score_method=sentence_method, sentence_score_kwargs=kwargs)
    ours_s, ours_t = lw_rank.get_label_quality_scores(labels, pred_probs, tokens=words, **args)
    theirs_s, theirs_t = cl_rank.get_label_quality_scores(labels, pred_probs, tokens=words, **args)
    np.testing.assert_allclose(ours_s, theirs_s, rtol=1e-10, atol=1e-12)
    assert len(ours_t) == len(theirs_t)
    for a, b in zip(ours_t, theirs_t):
        pd.testing.assert_series_equal(pd.Series(a, index=b.index), b, rtol=1e-12)


def test_issues_from_scores_equal_cleanlab():
    labels, pred_probs, _ = noisy_tokens(4, n_sentences=120)
    sentence_scores, token_info = cl_rank.get_label_quality_scores(labels, pred_probs)
    for threshold in (0.05, 0.1, 0.3):
        ours = lw_rank.issues_from_scores(sentence_scores, threshold=threshold)
        np.testing.assert_array_equal(ours, cl_rank.issues_from_scores(sentence_scores, threshold=threshold))
        ours = lw_rank.issues_from_scores(sentence_scores, token_scores=token_info, threshold=threshold)
        assert ours == cl_rank.issues_from_scores(sentence_scores, token_scores=token_info, threshold=threshold)
    assert len(lw_rank.issues_from_scores(sentence_scores, threshold=2.0)) == len(labels)  # cleanlab raises here
    ours_s, ours_t = lw_rank.get_label_quality_scores(labels, pred_probs)
    assert lw_rank.issues_from_scores(ours_s, token_scores=ours_t) == cl_rank.issues_from_scores(
        sentence_scores, token_scores=token_info)


def test_summary_tables_equal_cleanlab():
    labels, pred_probs, words = noisy_tokens(5, n_sentences=150)
    issues = cl_filter.find_label_issues(labels, pred_probs)
    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    for kwargs in ({}, {"labels": labels, "pred_probs": pred_probs}, {"labels": labels, "pred_probs": pred_probs,
                                                                     "class_names": names, "exclude": [(0, 1)]}):
        ours = pd.DataFrame(lw_summary.common_label_issues(issues, words, **kwargs))
        theirs = cl_summary.common_label_issues(issues, words, verbose=False, **kwargs)
        pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)
    for word in ("w3", "W7"):
        assert lw_summary.filter_by_token(word, issues, words) == cl_summary.filter_by_token(word, issues, words)


def test_display_issues_text():
    tokens = [["Hello", "Paris", "!"], ["I", "live", "in", "(", "Rome", ")"]]
    labels = [[0, 1, 0], [0, 0, 0, 0, 3, 0]]
    pred_probs = [np.eye(4)[[0, 3, 0]], np.eye(4)[[0, 0, 0, 0, 1, 0]]]
    text = lw_summary.display_issues([(0, 1), (1, 4)], tokens, labels=labels, pred_probs=pred_probs,
                                     class_names=["O", "PER", "ORG", "LOC"])
    assert text == [
        "Sentence index: 0, Token index: 1\nToken: Paris\n"
        "Given label: PER, predicted label according to provided pred_probs: LOC\n----\nHello [Paris]!",
        "Sentence index: 1, Token index: 4\nToken: Rome\n"
        "Given label: LOC, predicted label according to provided pred_probs: PER\n----\nI live in ([Rome])",
    ]
    assert lw_summary.display_issues([(0, 1), (1, 4)], tokens, labels=labels, pred_probs=pred_probs,
                                     exclude=[(1, 3)], top=1)[0].startswith("Sentence index: 1")
    assert lw_summary.display_issues([1], tokens) == ["Sentence issue: I live in (Rome)"]


def test_errors_are_labelwise():
    with pytest.raises(ShapeError, match="sentence 1"):
        lw_filter.find_label_issues([[0], [0, 1]], [np.ones((1, 2)) / 2, np.ones((3, 2)) / 2])
    with pytest.raises(ParameterError, match="num_to_remove"):
        lw_filter.find_label_issues([[0]], [np.ones((1, 2)) / 2], num_to_remove_per_class=[1])
    with pytest.raises(ShapeError, match="tokens"):
        lw_rank.get_label_quality_scores([[0, 1]], [np.ones((2, 2)) / 2], tokens=[["a"]])
    with pytest.raises(ParameterError, match="sentence_score_method"):
        lw_rank.get_label_quality_scores([[0]], [np.ones((1, 2)) / 2], sentence_score_method="max")
