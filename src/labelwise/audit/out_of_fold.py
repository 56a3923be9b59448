"""Out-of-fold predicted probabilities: the input confident learning needs.

Every row's probabilities come from a model that never saw that row (stratified K-fold), so a wrong label
cannot be memorised into its own prediction. In-sample probabilities make confident learning find almost
nothing (Northcutt et al. 2021, "Pervasive Label Errors in Test Sets", section 2).
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold

from labelwise.errors import ParameterError, ShapeError
from labelwise.progress import ProgressCallback, report


#: From this many rows on the audit uses 3 outer folds instead of 5, the solver stops at tolerance 1e-3 instead of
#: 1e-4, and the default linear model keeps C=1 instead of searching it (see :func:`default_classifier`).
LARGE_TABLE_ROWS = 50_000
#: Inverse regularisation strengths the default linear model compares: one per decade (a logistic regression's
#: held-out loss changes little within a factor of 3 of C), two decades either side of scikit-learn's default C=1.
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
#: Inner cross-validation folds that choose C inside each outer fold: the fewest that still train each inner model
#: on two thirds of the outer training part.
INNER_FOLDS = 3


def logistic_regression_cv(*, n_rows: int = 0, scoring: str = "neg_log_loss", max_iter: int = 1000,
                           random_state: Optional[int] = 0):
    """L2 logistic regression whose ``C`` is chosen from :data:`C_GRID` by stratified ``INNER_FOLDS``-fold
    cross-validation on the rows it is fitted on, then refitted on all of them (``C_`` is the choice).

    scoring: ``"neg_log_loss"`` by default, a proper scoring rule: confident learning thresholds the
    probabilities themselves, so C is chosen for calibrated probabilities, not for accuracy alone.
    n_rows: the rows it will be fitted on, for the solver's tolerance (:func:`_tolerance`).
    """
    import inspect

    from sklearn.linear_model import LogisticRegressionCV

    # scikit-learn's API for this class is changing (1.8-1.11); say what the newer versions would otherwise warn about
    options: dict = {}
    parameters = inspect.signature(LogisticRegressionCV).parameters
    if parameters["penalty"].default == "deprecated":  # >= 1.8: the L2 penalty is l1_ratio 0
        options["l1_ratios"] = (0.0,)
    if "use_legacy_attributes" in parameters:  # >= 1.9: C_ is a float
        options["use_legacy_attributes"] = False
    return LogisticRegressionCV(
        Cs=list(C_GRID), cv=StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=random_state), scoring=scoring,
        max_iter=max_iter, tol=_tolerance(n_rows), random_state=random_state, **options)


def _tolerance(n_rows: int) -> float:
    """The lbfgs tolerance: 1e-3 from LARGE_TABLE_ROWS rows on (about 4x fewer iterations, same held-out accuracy
    in our checks), else 1e-4 (at 10,000 rows the looser one cost 0.004 F1 in label-error detection)."""
    return 1e-3 if n_rows >= LARGE_TABLE_ROWS else 1e-4


def default_classifier(kind: str = "dense", *, n_rows: int = 0, random_state: Optional[int] = 0):
    """A sensible classifier for the features at hand.

    kind: ``dense`` (embeddings) or ``sparse`` (TF-IDF): L2 logistic regression, below ``LARGE_TABLE_ROWS`` rows
    with C chosen by inner cross-validation (:func:`logistic_regression_cv`; it runs inside each outer fold of
    :func:`out_of_fold_probabilities`, so the probabilities stay out-of-sample), from there on with C=1:
    scikit-learn's C multiplies the summed loss, so a fixed C regularises less as rows grow, while the search's
    cost grows with them. ``tabular`` (mixed numeric/one-hot columns): histogram gradient boosting, which needs no
    scaling and handles interactions. Logistic regression on sentence embeddings is the standard linear probe:
    fast, convex, well-calibrated enough for per-class thresholds. ``bench/default_learner.py`` measures the inner
    search against a fixed C=1 (time and label-error F1).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    if kind in ("dense", "sparse"):
        if n_rows >= LARGE_TABLE_ROWS:
            return LogisticRegression(C=1.0, max_iter=1000, tol=_tolerance(n_rows), random_state=random_state)
        return logistic_regression_cv(n_rows=n_rows, random_state=random_state)
    if kind == "tabular":
        return HistGradientBoostingClassifier(max_iter=200, early_stopping=True, random_state=random_state)
    raise ParameterError(f"kind must be 'dense', 'sparse' or 'tabular'; got {kind!r}.")


def out_of_fold_probabilities(
    features,
    labels: np.ndarray,
    *,
    n_classes: Optional[int] = None,
    classifier=None,
    n_folds: int = 5,
    multi_label: bool = False,
    random_state: Optional[int] = 0,
    progress: Optional[ProgressCallback] = None,
) -> np.ndarray:
    """Predict every row with a classifier trained on the other folds.

    features: (n, d) float array or scipy sparse matrix; labels: (n,) int in [0, k) or, with ``multi_label``,
    an (n, k) 0/1 indicator. classifier: any scikit-learn classifier with ``predict_proba`` (default:
    :func:`default_classifier`); it is cloned per fold. Folds are stratified by label (plain shuffled K-fold for
    multi-label, or when no class has ``n_folds`` rows). A class missing from a fold's training part, or with a
    single row there, gets probability 0 in that fold.

    Returns (n, k) float64 probabilities; single-label rows sum to 1.
    """
    labels = check_fold_inputs(features, labels, n_folds)
    n = labels.shape[0]
    if classifier is None:
        classifier = default_classifier("sparse" if sparse.issparse(features) else "dense", n_rows=n,
                                        random_state=random_state)
    if multi_label:
        return _multi_label(features, labels.astype(bool), classifier, n_folds, random_state, progress)

    labels = labels.astype(np.int64)
    k = int(n_classes if n_classes is not None else labels.max() + 1)
    probs = np.zeros((n, k), dtype=np.float64)
    report(progress, "cross-validation", 0, n_folds)
    for fold, (train, test) in enumerate(fold_splits(labels, n_folds, n_classes=k, random_state=random_state)):
        probs[test] = fit_fold(features, labels, train, test, classifier, k)
        report(progress, "cross-validation", fold + 1, n_folds)
    return probs


def check_fold_inputs(features, labels, n_folds: int) -> np.ndarray:
    """``labels`` as an array, after checking that features (n, d) and labels (n,) or (n, k) fit ``n_folds``
    folds."""
    labels = np.asarray(labels)
    n = labels.shape[0]
    if features.shape[0] != n:
        raise ShapeError(f"features have {features.shape[0]} rows but labels have {n}.")
    if n_folds < 2:
        raise ParameterError(f"n_folds must be at least 2; got {n_folds}.")
    if n < n_folds:
        raise ShapeError(f"{n} rows are too few for {n_folds}-fold cross-validation; use fewer folds.")
    return labels


def fold_splits(labels: np.ndarray, n_folds: int, *, n_classes: int, random_state: Optional[int] = 0) -> list:
    """The outer folds of :func:`out_of_fold_probabilities`: ``[(train (t,) int, test (s,) int), ...]`` for
    ``labels: (n,) int``. Stratified whenever some class fills every fold (a class of one row stays stratified for
    the others), else plain shuffled K-fold."""
    n = labels.shape[0]
    splitter = (
        StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
        if np.bincount(labels, minlength=n_classes).max() >= n_folds
        else KFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    )
    with warnings.catch_warnings():
        # StratifiedKFold warns when a class has fewer rows than folds; fit_fold handles that case
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        return list(splitter.split(np.zeros(n), labels))


def fit_fold(features, labels: np.ndarray, train: np.ndarray, test: np.ndarray, classifier, n_classes: int
             ) -> np.ndarray:
    """One outer fold: a clone of ``classifier`` fitted on ``features[train]`` predicts ``features[test]``.
    features: (n, d); labels: (n,) int. Returns (len(test), n_classes) float64; a class missing from the training
    part, or with a single row there (left out of training: it cannot be learned, and breaks classifiers that split
    off a stratified validation set), gets probability 0."""
    k = n_classes
    out = np.zeros((len(test), k), dtype=np.float64)
    train_counts = np.bincount(labels[train], minlength=k)
    learnable = train[train_counts[labels[train]] >= 2]
    if np.unique(labels[learnable]).size >= 2:
        train = learnable
    train_labels = labels[train]
    model = suited_to(clone(classifier), train_labels)
    if np.unique(train_labels).size == 1:  # degenerate fold: predict the only class seen
        out[:, train_labels[0]] = 1.0
        return out
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        model.fit(features[train], train_labels)
        out[:, model.classes_.astype(np.int64)] = model.predict_proba(features[test])
    return out


def suited_to(model, labels: np.ndarray):
    """``model`` set up so that it can be fitted on ``labels`` ((n,) int, or several such columns as (n, c) for a
    one-vs-rest fit), and returned. A small table or fold may hold too few rows of a class for what the model
    splits off internally:

    - early stopping (gradient boosting's) holds out a stratified ``validation_fraction`` of the rows: it needs two
      rows of every class and one held-out row per class; without them it is turned off;
    - the inner cross-validation that chooses C (:func:`logistic_regression_cv`) needs as many rows of every class
      as it has folds: it gets fewer folds (at least 2), and with a class of one row a plain logistic regression
      with C=1 takes its place.
    """
    present = [counts[counts > 0] for counts in map(np.bincount, labels.reshape(len(labels), -1).astype(np.int64).T)]
    smallest = min(int(c.min()) for c in present)
    n_classes = max(c.size for c in present)
    if getattr(model, "early_stopping", False) is True and isinstance(model.validation_fraction, float) and (
            smallest < 2 or model.validation_fraction * len(labels) < n_classes):
        model.set_params(early_stopping=False)
    cv = getattr(model, "cv", None)
    if isinstance(cv, StratifiedKFold) and smallest < cv.n_splits:
        if smallest >= 2:
            model.set_params(cv=StratifiedKFold(smallest, shuffle=True, random_state=cv.random_state))
        else:
            from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

            if isinstance(model, LogisticRegressionCV):
                model = LogisticRegression(C=1.0, max_iter=model.max_iter, tol=model.tol,
                                           random_state=model.random_state)
    return model


def _multi_label(features, labels: np.ndarray, classifier, n_folds, random_state, progress) -> np.ndarray:
    from sklearn.multiclass import OneVsRestClassifier

    n, k = labels.shape
    probs = np.zeros((n, k), dtype=np.float64)
    splitter = KFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    report(progress, "cross-validation", 0, n_folds)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*least populated class.*")  # a rare label in the inner folds
        warnings.filterwarnings("ignore", message=".*Label .* is present in all training examples.*")
        warnings.filterwarnings("ignore", message=".*Label not .* is present in all training examples.*")
        for fold, (train, test) in enumerate(splitter.split(np.zeros(n))):
            train_labels = labels[train].astype(int)
            fitted = [j for j in range(k) if 0 < train_labels[:, j].sum() < len(train)]  # constant ones are not fitted
            base = suited_to(clone(classifier), train_labels[:, fitted]) if fitted else clone(classifier)
            model = OneVsRestClassifier(base)
            model.fit(features[train], train_labels)
            probs[test] = model.predict_proba(features[test])
            report(progress, "cross-validation", fold + 1, n_folds)
    return probs
