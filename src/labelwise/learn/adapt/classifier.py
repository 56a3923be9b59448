"""A fitted scikit-learn classifier corrected, batch by batch, for a stream whose label mix changed: the target
prior is re-estimated by EM as batches arrive and the predictions are re-weighted in closed form,
``p_t(y | x) ∝ p_s(y | x) prior_t(y) / prior_s(y)`` (Saerens, Latinne, Decaestecker 2002). This is the honest
baseline of the label shift adapter (Park et al., ICCV 2023), and what works on any model with ``predict_proba``.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from labelwise.audit.label_shift import BiasCorrectedTemperatureScaling
from labelwise.errors import ParameterError, ShapeError
from labelwise.learn.adapt.priors import StreamingPriorEstimator, adjust_proba

__all__ = ["LabelShiftClassifier"]

PRECOMPUTED = "precomputed"


class LabelShiftClassifier(ClassifierMixin, BaseEstimator):
    """Streaming label-shift correction of a fitted classifier (closed form, EM prior; Saerens et al. 2002).

    estimator: a fitted classifier with ``predict_proba`` and ``classes_`` (a scikit-learn pipeline, say), or
    ``"precomputed"``: X are then the source model's probabilities (n, k) and ``classes`` names their columns
    (default 0..k-1). momentum, prior_update: of :class:`~labelwise.learn.adapt.priors.StreamingPriorEstimator`.
    calibrate: fit bias-corrected temperature scaling (:class:`labelwise.audit.label_shift.
    BiasCorrectedTemperatureScaling`) on the source rows given to ``fit`` and apply it before EM (Alexandari et al.
    2020); only worth it when those rows were held out from the model's training.

    ``fit(X_source, y_source)``: the source prior ``source_prior_`` (k,) from the labels (each of ``classes_`` must
    occur), the calibration, a fresh prior estimate. ``partial_fit(X)``: fold one stream batch into the prior
    estimate. ``update(X)``: ``partial_fit`` then ``predict_proba`` on the same batch. ``predict_proba(X)`` (n, k)
    and ``predict(X)`` (n,) with the current estimate. ``prior_`` (k,) the current estimate; ``priors_``
    (n_batches, k) the estimate after each batch; ``source_proba(X)`` the uncorrected (calibrated) probabilities.
    """

    def __init__(self, estimator: Any = PRECOMPUTED, *, classes=None, momentum: float = 0.9,
                 prior_update: str = "em", calibrate: bool = False):
        self.estimator = estimator
        self.classes = classes
        self.momentum = momentum
        self.prior_update = prior_update
        self.calibrate = calibrate

    def _raw_proba(self, X, k: Optional[int] = None) -> np.ndarray:
        """(n, k) the model's probabilities of X (X itself when precomputed); k: the columns expected (None: any)."""
        if isinstance(self.estimator, str) and self.estimator == PRECOMPUTED:
            probs = np.asarray(X, dtype=np.float64)
        else:
            probs = np.asarray(self.estimator.predict_proba(X), dtype=np.float64)
        if probs.ndim != 2 or (k is not None and probs.shape[1] != k):
            raise ShapeError(f"expected probabilities of shape (n, {k if k is not None else 'k'}); got "
                             f"{probs.shape}.")
        if not np.all(np.isfinite(probs)) or np.any(probs < 0):
            bad = int(np.flatnonzero(~np.isfinite(probs).all(axis=1) | (probs < 0).any(axis=1))[0])
            raise ShapeError(f"the probabilities of row {bad} are missing (NaN), infinite or negative; every row "
                             "needs one probability per class.")
        return probs

    def source_proba(self, X) -> np.ndarray:
        """(n, k) the source model's probabilities (after the calibration, when fitted), before any correction."""
        check_is_fitted(self, "source_prior_")
        probs = self._raw_proba(X, len(self.classes_))
        return self.calibrator_.transform(probs) if self.calibrator_ is not None else probs

    def _classes(self, k: int) -> np.ndarray:
        if isinstance(self.estimator, str):
            if self.estimator != PRECOMPUTED:
                raise ParameterError(f"estimator must be a fitted classifier or 'precomputed'; got {self.estimator!r}.")
            classes = np.arange(k) if self.classes is None else np.asarray(self.classes)
        else:
            if not hasattr(self.estimator, "predict_proba") or not hasattr(self.estimator, "classes_"):
                raise ParameterError("estimator must be a fitted classifier with predict_proba and classes_.")
            classes = np.asarray(self.estimator.classes_)
        if classes.shape != (k,):
            raise ShapeError(f"{classes.shape[0] if classes.ndim else 0} classes for probabilities of {k} columns.")
        return classes

    def codes(self, y) -> np.ndarray:
        """(n,) int positions in ``classes_`` of the labels y (n,); ShapeError naming a label the model lacks."""
        y = np.asarray(y)
        order = np.argsort(self.classes_, kind="stable")
        sorted_classes = self.classes_[order]
        where = np.clip(np.searchsorted(sorted_classes, y), 0, len(order) - 1)
        found = sorted_classes[where] == y
        if not np.all(found):
            unknown = list(dict.fromkeys(y[~found].tolist()))[:5]
            raise ShapeError(f"labels {unknown} are not classes of the model (it knows {self.classes_.tolist()[:10]}"
                             f"{' ...' if len(self.classes_) > 10 else ''}).")
        return order[where]

    def fit(self, X, y) -> "LabelShiftClassifier":
        probs = self._raw_proba(X)
        self.classes_ = self._classes(probs.shape[1])
        codes = self.codes(y)
        if codes.shape[0] != probs.shape[0]:
            raise ShapeError(f"X has {probs.shape[0]} rows but y has {codes.shape[0]}.")
        counts = np.bincount(codes, minlength=len(self.classes_))
        if np.any(counts == 0):
            missing = self.classes_[counts == 0].tolist()[:5]
            raise ShapeError(f"the source rows have no row of class {missing}; the source prior needs every class "
                             "the model predicts (give labelled rows from the model's training distribution).")
        self.source_prior_ = counts / counts.sum()
        self.calibrator_ = BiasCorrectedTemperatureScaling().fit(probs, codes) if self.calibrate else None
        self.prior_estimator_ = StreamingPriorEstimator(self.source_prior_, momentum=self.momentum,
                                                        update=self.prior_update)
        return self

    @property
    def prior_(self) -> np.ndarray:
        check_is_fitted(self, "prior_estimator_")
        return self.prior_estimator_.prior_

    @property
    def priors_(self) -> np.ndarray:
        check_is_fitted(self, "prior_estimator_")
        history = self.prior_estimator_.history_
        return np.array(history) if history else np.empty((0, len(self.classes_)))

    def partial_fit(self, X, y=None) -> "LabelShiftClassifier":
        """Fold one batch of stream rows X into the prior estimate (y is ignored: the stream is unlabelled).
        The estimator must be fitted on source rows first (``fit``): the source prior cannot come from a stream."""
        probs = self.source_proba(X)  # first: NotFittedError before fit
        self.prior_estimator_.update(probs)
        return self

    def update(self, X) -> np.ndarray:
        """Fold batch X into the estimate, then return its corrected probabilities (n, k)."""
        probs = self.source_proba(X)
        self.prior_estimator_.update(probs)
        return adjust_proba(probs, self.prior_, self.source_prior_)

    def predict_proba(self, X) -> np.ndarray:
        return adjust_proba(self.source_proba(X), self.prior_, self.source_prior_)

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "source_prior_")
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
