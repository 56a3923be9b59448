"""A label head on an LLM's hidden states: the discriminative alternative to prompting the LLM for a label.

Paper: Li, Li, Liu, Xie, Li, Wang, Li, Zhong, "Label Supervised LLaMA Finetuning" (LS-LLaMA, arXiv 2310.01208; code
4AI/LS-LLaMA, MIT). The paper projects the final-layer state of a decoder (last token: LS-LLaMA; mean over tokens
with the causal mask removed: LS-unLLaMA) to the label space with a linear layer and trains it with cross-entropy,
adapting LLaMA-2-7B through LoRA at the same time.

Kept here: the features (pooled final-layer states, from any encoder such as
:class:`labelwise.llm.embeddings.LlamaCppEmbedder`, which reads them from a GGUF model through llama.cpp), the
linear head with cross-entropy (with a bias, which the paper's notes advise for imbalanced labels), and an MLP head.
Not kept: LoRA. llama.cpp runs a model but cannot train it, so the backbone is frozen and only the head learns (a
linear probe of the LLM's latents); a torch LoRA run would need the model in Hugging Face format, which no
package ships offline. Features are standardised with the training mean and standard deviation (an LLM's states
have a few very large coordinates).

Algorithm floor: :class:`LabelHead` takes arrays; :class:`LatentLabelClassifier` takes texts and calls the
``encoder`` it is given (``encode(texts) -> (n, d)``), so it imports no model code.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from labelwise.errors import DataError, ParameterError, ShapeError

__all__ = ["LabelHead", "LatentLabelClassifier", "HEADS"]

HEADS = ("linear", "mlp")
_AUTO_CS = np.logspace(-3, 1, 5)  # the grid C="auto" searches with 3-fold cross-validation


class LabelHead(ClassifierMixin, BaseEstimator):
    """A linear (softmax + cross-entropy) or MLP head on frozen features.

    ``fit(X (n, d) float, y)``: ``y`` is ``(n,)`` labels (one class per row: softmax over the classes) or an
    ``(n, K)`` 0/1 indicator matrix (multi-label: one sigmoid per label, binary cross-entropy). ``predict_proba(X)
    -> (n, K)``; ``predict(X)``: ``(n,)`` labels, or ``(n, K)`` 0/1 with every label whose probability is at least
    ``threshold`` (at least the most probable one per row).

    head: ``"linear"`` (logistic regression, L2 strength ``1/C``, intercept kept) or ``"mlp"`` (one ReLU layer of
    ``hidden`` units, Adam, L2 ``alpha``). C: a float, or ``"auto"`` (the linear head chooses it by 3-fold
    cross-validated log-loss over ``1e-3 .. 10``). Learned: ``mean_``, ``scale_`` ``(d,)``, ``classes_``,
    ``model_`` (the fitted scikit-learn model), ``multi_label_``.
    """

    def __init__(self, head: str = "linear", C: float | str = 1.0, hidden: int = 256, alpha: float = 1e-3,
                 threshold: float = 0.5, max_iter: int = 1000, random_state: Optional[int] = 0):
        self.head = head
        self.C = C
        self.hidden = hidden
        self.alpha = alpha
        self.threshold = threshold
        self.max_iter = max_iter
        self.random_state = random_state

    def _check(self) -> None:
        if self.head not in HEADS:
            raise ParameterError(f"head must be one of {', '.join(HEADS)}; got {self.head!r}.")
        if not (self.C == "auto" or (isinstance(self.C, (int, float)) and self.C > 0)):
            raise ParameterError(f"C must be a positive number or 'auto'; got {self.C!r}.")
        if not (isinstance(self.hidden, int) and self.hidden >= 1):
            raise ParameterError(f"hidden must be a positive integer; got {self.hidden!r}.")

    def _linear(self, multi_label: bool):
        from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

        if self.C == "auto":
            from sklearn.model_selection import KFold, StratifiedKFold

            folds = (KFold if multi_label else StratifiedKFold)(3, shuffle=True, random_state=self.random_state)
            return LogisticRegressionCV(Cs=_AUTO_CS, cv=folds, scoring="neg_log_loss", max_iter=self.max_iter,
                                        random_state=self.random_state)
        return LogisticRegression(C=float(self.C), max_iter=self.max_iter, random_state=self.random_state)

    def fit(self, X: Any, y: Any) -> "LabelHead":
        self._check()
        X = _features(X)
        y = np.asarray(y)
        if len(y) != len(X):
            raise ShapeError(f"X has {len(X)} rows but y has {len(y)}; give one label (row) per feature row.")
        self.mean_ = X.mean(axis=0)
        self.scale_ = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        Z = (X - self.mean_) / self.scale_
        self.multi_label_ = y.ndim == 2
        if self.multi_label_:
            if not np.isin(y, (0, 1)).all():
                raise DataError("A 2-D y must be a 0/1 indicator matrix (n, K); found other values.")
            constant = np.flatnonzero(y.min(axis=0) == y.max(axis=0))
            if len(constant):
                raise DataError(f"Label column(s) {', '.join(map(str, constant[:5]))} are on every row or on none; "
                                "a head cannot learn them. Label more rows or drop those labels.")
            self.classes_ = np.arange(y.shape[1])
            y = y.astype(int)
        else:
            self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise DataError(f"Every row has the label {self.classes_[0]!r}: there is nothing to learn.")
        if self.head == "mlp":
            from sklearn.neural_network import MLPClassifier

            model = MLPClassifier(hidden_layer_sizes=(self.hidden,), alpha=self.alpha, max_iter=self.max_iter,
                                  random_state=self.random_state)
        elif self.multi_label_:
            from sklearn.multiclass import OneVsRestClassifier

            model = OneVsRestClassifier(self._linear(True))
        else:
            model = self._linear(False)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)  # scikit-learn 1.8's notes on CV attributes
            warnings.filterwarnings("ignore", message=".*least populated class.*")
            self.model_ = model.fit(Z, y)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(n, K)`` probabilities over ``classes_`` (multi-label: independent per label)."""
        check_is_fitted(self, "model_")
        X = _features(X)
        if X.shape[1] != len(self.mean_):
            raise ShapeError(f"X has {X.shape[1]} columns; the head was fitted on {len(self.mean_)}.")
        return np.asarray(self.model_.predict_proba((X - self.mean_) / self.scale_), dtype=np.float64)

    def predict(self, X: Any) -> np.ndarray:
        return self.decide(self.predict_proba(X))

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """Labels from ``(n, K)`` probabilities, as :meth:`predict` gives them."""
        check_is_fitted(self, "classes_")
        if not self.multi_label_:
            return self.classes_[np.argmax(proba, axis=1)]
        out = (proba >= self.threshold).astype(int)
        out[np.arange(len(proba)), np.argmax(proba, axis=1)] = 1
        return out


class LatentLabelClassifier(LabelHead):
    """LS-LLaMA with a frozen backbone: ``encoder`` turns texts into hidden states, a :class:`LabelHead` learns the
    labels from them.

    encoder: anything with ``encode(texts) -> (n, d)`` (and ``progress=`` if it takes one), e.g.
    ``labelwise.llm.LlamaCppEmbedder(pooling="last")`` for a GGUF model, or ``labelwise.features.TextEncoder()``
    for MiniLM sentence embeddings. The other parameters are the head's (:class:`LabelHead`).

    ``fit(texts (n,) str, y, progress=None)`` with ``y`` as in :meth:`LabelHead.fit`; ``predict_proba(texts) -> (n,
    K)``; ``predict(texts)``. Learned: as :class:`LabelHead`.

    >>> from labelwise.llm import LlamaCppEmbedder                            # doctest: +SKIP
    >>> clf = LatentLabelClassifier(LlamaCppEmbedder(pooling="last")).fit(texts, labels)  # doctest: +SKIP
    """

    def __init__(self, encoder: Any = None, head: str = "linear", C: float | str = 1.0, hidden: int = 256,
                 alpha: float = 1e-3, threshold: float = 0.5, max_iter: int = 1000,
                 random_state: Optional[int] = 0):
        super().__init__(head=head, C=C, hidden=hidden, alpha=alpha, threshold=threshold, max_iter=max_iter,
                         random_state=random_state)
        self.encoder = encoder

    def _encode(self, texts: Sequence[str], progress) -> np.ndarray:
        if self.encoder is None or not hasattr(self.encoder, "encode"):
            raise ParameterError("LatentLabelClassifier needs an encoder with encode(texts), e.g. "
                                 "labelwise.llm.LlamaCppEmbedder() for a GGUF model.")
        if isinstance(texts, (str, bytes)):
            raise DataError("Give a sequence of texts, not one string: wrap it in a list.")
        texts = [str(t) for t in texts]
        try:
            takes_progress = "progress" in inspect.signature(self.encoder.encode).parameters
        except (TypeError, ValueError):  # a builtin without a signature
            takes_progress = False
        vectors = self.encoder.encode(texts, progress=progress) if takes_progress else self.encoder.encode(texts)
        return _features(vectors, len(texts))

    def fit(self, texts: Sequence[str], y: Any, progress=None) -> "LatentLabelClassifier":
        if len(texts) != len(y):
            raise ShapeError(f"{len(texts)} texts but {len(y)} labels; give one label (row) per text.")
        return super().fit(self._encode(texts, progress), y)

    def predict_proba(self, texts: Sequence[str], progress=None) -> np.ndarray:
        check_is_fitted(self, "model_")
        return super().predict_proba(self._encode(texts, progress))

    def predict(self, texts: Sequence[str], progress=None) -> np.ndarray:
        return self.decide(self.predict_proba(texts, progress))


def _features(X: Any, n: Optional[int] = None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or (n is not None and len(X) != n):
        raise ShapeError(f"Features must be (n, d){'' if n is None else f' with n = {n}'}; got shape {X.shape}.")
    if not np.isfinite(X).all():
        raise DataError("The features hold NaN or infinite values; the encoder's output is damaged.")
    return X
