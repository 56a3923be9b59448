"""Out-of-fold token probabilities for users who bring token labels but no model.

The token audit (:mod:`~labelwise.audit.token_classification.filter`, ``rank``, ``spans``) needs per-token
probabilities from a model that never saw the token's sentence (Wang & Mueller 2022, arXiv:2210.03920, use
out-of-fold predictions from a fine-tuned tagger). This is the cheap floor: a multinomial logistic regression on
each token's features plus a little context (the mean features of the ``context`` tokens on either side and two
sentence-edge indicators), trained in K folds split by sentence, so tokens of one sentence never inform each
other's out-of-fold prediction.
"""

from __future__ import annotations

import warnings
from typing import Optional, Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold

from labelwise.errors import ParameterError, ShapeError

#: Probability mass given to a class that no training token of a fold carries (the rows are then renormalised), so
#: a class seen only in held-out sentences keeps a small, non-zero probability.
UNSEEN_CLASS_PROB = 1e-6


def context_features(features: np.ndarray, context: int = 1) -> np.ndarray:
    """One sentence's token features with their neighbourhood.

    features: (T, d) float -> (T, 3 d + 2): the token's own features, the mean of the ``context`` tokens before it
    and the mean of the ``context`` tokens after it (zeros where there are none), then two indicators: first token,
    last token.
    """
    x = np.asarray(features, dtype=np.float64)
    length, dim = x.shape
    before = np.zeros_like(x)
    after = np.zeros_like(x)
    for offset in range(1, context + 1):
        if offset >= length:
            break
        before[offset:] += x[:-offset]
        after[:-offset] += x[offset:]
    counts = np.arange(length, dtype=np.float64)
    before /= np.maximum(np.minimum(counts, context), 1)[:, None]
    after /= np.maximum(np.minimum(counts[::-1], context), 1)[:, None]
    edges = np.zeros((length, 2))
    if length:
        edges[0, 0] = 1.0
        edges[-1, 1] = 1.0
    return np.hstack([x, before, after, edges]).reshape(length, 3 * dim + 2)


def out_of_fold_token_probs(token_features: Sequence, labels: Sequence, num_classes: int, *, n_splits: int = 5,
                            context: int = 1, C: float = 1.0, random_state: Optional[int] = 0,
                            max_iter: int = 200, tol: float = 1e-3) -> list[np.ndarray]:
    """Per-token probabilities, each from a model trained on the other folds' sentences.

    token_features: per-sentence list of (T_i, d) float; labels: per-sentence list of (T_i,) int in
    ``[0, num_classes)``; n_splits: folds over sentences (at most the number of sentences); context: tokens on
    either side whose mean features are added (:func:`context_features`); C: the logistic regression's inverse
    L2 strength (features are standardised on each fold's training tokens); max_iter, tol: the lbfgs solver's
    (a looser tolerance than scikit-learn's 1e-4, as
    :mod:`labelwise.audit.out_of_fold` uses for large tables: token tables are long). Returns the per-sentence list of
    (T_i, num_classes) float arrays whose rows sum to 1, the ``pred_probs`` that
    :func:`~labelwise.audit.token_classification.filter.find_label_issues` takes.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(token_features) != len(labels):
        raise ShapeError(f"token_features has {len(token_features)} sentences but labels has {len(labels)}; "
                         "pass one entry per sentence.")
    if num_classes < 2:
        raise ParameterError(f"num_classes={num_classes}: token probabilities need at least 2 classes.")
    if context < 0:
        raise ParameterError(f"context={context}: pass 0 or more neighbouring tokens.")
    n_sentences = len(labels)
    if n_splits < 2 or n_splits > n_sentences:
        raise ParameterError(f"n_splits={n_splits} with {n_sentences} sentences: pass 2 <= n_splits <= the number "
                             "of sentences.")
    dims = set()
    blocks, flat_labels = [], []
    for i, (x, y) in enumerate(zip(token_features, labels)):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.int64).reshape(-1)
        if x.ndim != 2 or len(x) != len(y):
            raise ShapeError(f"sentence {i}: token_features has shape {x.shape} but labels has {len(y)} tokens; "
                             "token_features[i] must be (T_i, d).")
        dims.add(x.shape[1])
        blocks.append(context_features(x, context))
        flat_labels.append(y)
    if len(dims) > 1:
        raise ShapeError(f"token_features have different widths {sorted(dims)}; every sentence needs the same d.")
    y = np.concatenate(flat_labels)
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise ParameterError(f"labels run from {y.min()} to {y.max()}; pass ints in [0, {num_classes}).")
    x = np.vstack(blocks)
    lengths = np.array([len(t) for t in flat_labels])
    starts = np.concatenate([[0], np.cumsum(lengths)])
    sentence_of = np.repeat(np.arange(n_sentences), lengths)

    probs = np.zeros((len(y), num_classes))
    folds = KFold(n_splits, shuffle=True, random_state=random_state).split(np.arange(n_sentences))
    for train_sentences, _ in folds:
        train = np.isin(sentence_of, train_sentences)
        test = ~train
        seen = np.unique(y[train])
        if len(seen) == 1:  # one class only: it gets all the mass the unseen ones leave
            probs[np.ix_(test, seen)] = 1.0
        else:
            model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, tol=tol))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(x[train], y[train])
            probs[np.ix_(test, model.classes_)] = model.predict_proba(x[test])
    probs = np.maximum(probs, UNSEEN_CLASS_PROB)
    probs /= probs.sum(axis=1, keepdims=True)
    return [probs[starts[i]:starts[i + 1]] for i in range(n_sentences)]
