"""Label-quality scores of sentences and tokens, as ``cleanlab.token_classification.rank`` (2.9) computes them."""

from __future__ import annotations

from typing import Optional

import numpy as np

from labelwise.audit import label_errors
from labelwise.audit.token_classification._inputs import flatten, positions
from labelwise.errors import ParameterError, ShapeError

SENTENCE_SCORES = ("min", "softmin")
_EPSILON = 1e-6  # cleanlab.internal.constants.EPSILON, the floor of the softmin temperature


def get_label_quality_scores(
    labels: list,
    pred_probs: list,
    *,
    tokens: Optional[list] = None,
    token_score_method: str = "self_confidence",
    sentence_score_method: str = "min",
    sentence_score_kwargs: Optional[dict] = None,
) -> tuple[np.ndarray, list]:
    """Score each sentence and each token, lower = more likely mislabeled (Wang & Mueller 2022).

    labels: list of (T_i,) int; pred_probs: list of (T_i, K) float; tokens: optional list of T_i words (checked
    for length only: cleanlab makes them the index of its Series). token_score_method: a label-quality score of
    :func:`labelwise.audit.label_errors.label_quality_scores`. sentence_score_method: ``min`` (the worst token) or
    ``softmin`` (sum_t s_t * softmax((1 - s)/temperature)_t, ``sentence_score_kwargs={"temperature": 0.05}``; 0
    gives the min, inf the mean).
    Returns (sentence_scores (S,) float, token_info: list of S (T_i,) float arrays of token scores). cleanlab returns
    ``pandas.Series`` (arrays here: this is the algorithm floor); ``pd.Series(token_info[i], index=tokens[i])`` is
    cleanlab's, value for value.
    """
    if sentence_score_method not in SENTENCE_SCORES:
        raise ParameterError(
            f"sentence_score_method must be one of {', '.join(SENTENCE_SCORES)}; got {sentence_score_method!r}."
        )
    if token_score_method not in label_errors.SCORES:
        raise ParameterError(
            f"token_score_method must be one of {', '.join(label_errors.SCORES)}; got {token_score_method!r}."
        )
    flat_labels, flat_probs, starts = flatten(labels, pred_probs)
    if np.any(np.diff(starts) == 0):
        raise ShapeError(f"sentence {int(np.flatnonzero(np.diff(starts) == 0)[0])} has no tokens; drop empty ones.")
    scores = label_errors.label_quality_scores(flat_labels, flat_probs, method=token_score_method)
    temperature = (sentence_score_kwargs or {}).get("temperature", 0.05)
    if sentence_score_method == "min" or temperature == 0:
        sentence_scores = np.minimum.reduceat(scores, starts[:-1])
    else:
        sentence_scores = _softmin(scores, starts, temperature)
    if tokens is not None and [len(t) for t in tokens] != np.diff(starts).tolist():
        raise ShapeError("tokens must hold one word per label in every sentence; check that they come from the same "
                         "tokenisation as labels.")
    token_info = np.split(scores, starts[1:-1])
    return sentence_scores, token_info


def _softmin(scores: np.ndarray, starts: np.ndarray, temperature: float) -> np.ndarray:
    """scores: (N,) flat token scores; starts: (S + 1,) -> (S,) softmin of each sentence, all sentences at once."""
    lengths = np.diff(starts)
    if temperature == np.inf:
        return np.add.reduceat(scores, starts[:-1]) / lengths
    x = (1.0 - scores) / max(temperature, _EPSILON)
    x = x - np.repeat(np.maximum.reduceat(x, starts[:-1]), lengths)
    weights = np.exp(x)
    return np.add.reduceat(scores * weights, starts[:-1]) / np.add.reduceat(weights, starts[:-1])


def issues_from_scores(
    sentence_scores: np.ndarray, *, token_scores: Optional[list] = None, threshold: float = 0.1
):
    """The issues whose score is below ``threshold``, lowest first.

    sentence_scores: (S,) float. With token_scores (list of S (T_i,) score arrays or Series, as
    :func:`get_label_quality_scores` returns them): a list of (sentence, token) pairs (ties in reading order);
    without: (m,) int indices of the sentences.
    """
    if token_scores:
        lengths = [len(s) for s in token_scores]
        flat = np.concatenate([s.to_numpy() if hasattr(s, "to_numpy") else np.asarray(s) for s in token_scores])
        starts = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        low = np.flatnonzero(flat < threshold)
        return positions(low[np.argsort(flat[low], kind="stable")], starts)
    sentence_scores = np.asarray(sentence_scores)
    ranking = np.argsort(sentence_scores)  # cleanlab's (default-kind) sort, so ties come out as there
    return ranking[: int(np.count_nonzero(sentence_scores < threshold))]
