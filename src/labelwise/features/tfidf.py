"""TF-IDF features: the light, model-free text encoder.

A thin scikit-learn estimator over :class:`sklearn.feature_extraction.text.TfidfVectorizer` with defaults chosen
for short labelled texts: word 1-2-grams, sublinear term frequency, accents stripped, rows L2-normalised,
at most 50,000 columns (the most frequent terms), float32.

``min_df=1`` is the default: on Banking77 (10,003 texts, 5-fold logistic regression) it scored 0.880 accuracy
against 0.878 for ``min_df=2`` (23,608 against 10,292 columns), and it never fails on a handful of texts where no
term occurs twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from labelwise.errors import LabelwiseError

__all__ = ["TfidfEncoder"]


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise LabelwiseError("TfidfEncoder takes a sequence of texts, not one string: wrap it in a list.")
    out = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise LabelwiseError(
                f"Text at position {i} is {t!r} ({type(t).__name__}), not a string. Fill missing texts "
                "(e.g. with '') or drop those rows first."
            )
        out.append(str(t))
    return out


class TfidfEncoder(TransformerMixin, BaseEstimator):
    """Texts -> TF-IDF matrix ``(n, n_features) scipy.sparse.csr_matrix float32``, rows L2-normalised.

    Parameters
    ----------
    max_features:
        Keep the most frequent terms (over the fitted texts), at most this many.
    ngram_range:
        ``(min_n, max_n)`` word n-grams.
    min_df:
        Drop terms found in fewer texts than this (int) or this fraction of texts (float).
    sublinear_tf:
        Use ``1 + log(tf)`` instead of raw counts.

    Learned: ``vectorizer_`` (the fitted TfidfVectorizer), ``vocabulary_`` (term -> column),
    ``feature_names_out_: (n_features,) object``, ``n_features_out_``.
    """

    def __init__(
        self,
        max_features: int | None = 50_000,
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int | float = 1,
        sublinear_tf: bool = True,
    ):
        self.max_features = max_features
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf

    def _vectorizer(self) -> TfidfVectorizer:
        return TfidfVectorizer(
            max_features=self.max_features,
            ngram_range=tuple(self.ngram_range),
            min_df=self.min_df,
            sublinear_tf=self.sublinear_tf,
            strip_accents="unicode",
            lowercase=True,
            dtype=np.float32,
        )

    def _learned(self, vectorizer: TfidfVectorizer) -> None:
        self.vectorizer_ = vectorizer
        self.vocabulary_ = vectorizer.vocabulary_
        self.feature_names_out_ = vectorizer.get_feature_names_out()
        self.n_features_out_ = len(self.feature_names_out_)

    def fit(self, texts: Sequence[str], y: Any = None) -> "TfidfEncoder":
        """Learn the vocabulary and idf weights from ``texts: (n,) str``."""
        self.fit_transform(texts)
        return self

    def fit_transform(self, texts: Sequence[str], y: Any = None) -> sp.csr_matrix:
        """Fit on ``texts: (n,) str`` and return their ``(n, n_features) csr float32`` matrix."""
        docs = _check_texts(texts)
        if not docs:
            raise LabelwiseError("TfidfEncoder.fit needs at least one text; got none.")
        vectorizer = self._vectorizer()
        try:
            X = vectorizer.fit_transform(docs)
        except ValueError as exc:  # empty vocabulary after stop/min_df pruning
            raise LabelwiseError(
                f"TF-IDF found no usable terms in {len(docs)} texts ({exc}). Texts need words of 2+ letters or "
                "digits; with few texts, lower min_df."
            ) from exc
        self._learned(vectorizer)
        return sp.csr_matrix(X, dtype=np.float32)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """``texts: (n,) str`` -> ``(n, n_features) csr float32``; unseen terms are ignored."""
        check_is_fitted(self, "vectorizer_")
        return sp.csr_matrix(self.vectorizer_.transform(_check_texts(texts)), dtype=np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The term of each column: ``(n_features,) object``."""
        check_is_fitted(self, "vectorizer_")
        return self.feature_names_out_
