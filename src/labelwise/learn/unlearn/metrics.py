"""How well a model forgot: accuracies on the forget, remaining and test rows, and a membership-inference check.

The membership-inference attack is the LAF paper's evaluation (a train-vs-test attacker on the sorted softmax
vector), with a logistic regression for XGBoost: it learns to tell remaining training rows (members) from held-out
rows (non-members) by the model's sorted log-probabilities, then is asked about the forget rows. For forgotten
random rows, a model that truly forgot them calls them members about as often as it calls held-out rows members
(``mia_test``, estimated out of fold); for a forgotten class, a model retrained without it calls them members even
less often (its predictions on them are wrong and unsure), so compare with :func:`~labelwise.learn.unlearn.retrain`.
When the attack's AUC (``mia_auc``) is near 0.5 it cannot tell members from unseen rows at all, and its rates say
little (the LAF notes: weak on small data). Algorithm floor (arrays in, a dataclass out).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Optional, Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from labelwise.errors import ShapeError
from labelwise.learn.estimators import _seed
from labelwise.learn.unlearn.model import predict_proba

__all__ = ["UnlearningReport", "membership_inference", "unlearning_report"]


def _attack_features(probs: np.ndarray) -> np.ndarray:
    """``(n, k)`` probabilities -> ``(n, k)`` log-probabilities sorted from the largest (the label-free view)."""
    return np.log(np.clip(-np.sort(-np.asarray(probs, dtype=np.float64), axis=1), 1e-12, 1.0))


def membership_inference(probs_members: np.ndarray, probs_nonmembers: np.ndarray, probs_target: np.ndarray,
                         random_state: Any = 0) -> tuple[float, float, float]:
    """``(member rate of the target rows, member rate of the non-members out of fold, the attack's AUC)``.

    A logistic regression on sorted log-probabilities learns members (``(n_m, k)``) against non-members
    (``(n_n, k)``), the larger side subsampled to the smaller so that the attacker has no prior; the first rate is
    the share of ``probs_target: (n_t, k)`` it calls members, the second the share of non-members it calls members
    when they were not in its training fold (5-fold), the rate an unseen row gets; the AUC (out of fold, members
    against non-members) says how strong the attack is at all: 0.5 is a coin.
    """
    rng = np.random.default_rng(_seed(random_state))
    m, n = np.asarray(probs_members), np.asarray(probs_nonmembers)
    if min(len(m), len(n)) < 5:
        raise ShapeError(f"membership inference needs at least 5 member and 5 non-member rows, got {len(m)} and "
                         f"{len(n)}.")
    size = min(len(m), len(n))
    m, n = m[rng.choice(len(m), size, replace=False)], n[rng.choice(len(n), size, replace=False)]
    X = _attack_features(np.concatenate([m, n]))
    y = np.r_[np.ones(size), np.zeros(size)]
    attacker = LogisticRegression(C=1.0, max_iter=1000)
    folds = StratifiedKFold(5, shuffle=True, random_state=_seed(random_state) % (2**31))
    with warnings.catch_warnings():  # lbfgs may stop at max_iter on many classes; the attacker is a diagnostic
        warnings.simplefilter("ignore", ConvergenceWarning)
        oof = cross_val_predict(attacker, X, y, cv=folds, method="predict_proba")[:, 1]
        attacker.fit(X, y)
    target = attacker.predict(_attack_features(probs_target))
    return float(target.mean()), float((oof[size:] > 0.5).mean()), float(roc_auc_score(y, oof))


@dataclass
class UnlearningReport:
    """Accuracies (share of rows whose argmax is their label) and membership-inference rates of one model.

    forget_accuracy, remain_accuracy, test_accuracy: on the forget rows, the remaining rows, the held-out rows.
    test_accuracy_forgotten / test_accuracy_retained: on the held-out rows of the forgotten classes / of the other
    classes (NaN unless ``forgotten_classes`` was given). mia_forget: the attacker's member rate on the forget rows;
    mia_test: its rate on held-out rows (out of fold), what "looks unseen" means; mia_auc: the attack's AUC between
    remaining and held-out rows (0.5: it cannot tell them apart, so its rates mean little). seconds: the unlearning's time.
    """

    forget_accuracy: float
    remain_accuracy: float
    test_accuracy: float
    test_accuracy_forgotten: float
    test_accuracy_retained: float
    mia_forget: float
    mia_test: float
    mia_auc: float
    seconds: float = math.nan

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def _accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    return float((probs.argmax(1) == y).mean()) if len(y) else math.nan


def unlearning_report(model, X_remain: Any, y_remain: Any, X_forget: Any, y_forget: Any, X_test: Any, y_test: Any, *,
                      forgotten_classes: Optional[Sequence[int]] = None, seconds: float = math.nan,
                      random_state: Any = 0) -> UnlearningReport:
    """Evaluate ``model`` after unlearning (labels for evaluation only). ``X_*: (n, ...)``, ``y_*: (n,) int``;
    ``forgotten_classes``: the class indices removed (class forgetting), for the split test accuracies."""
    p_r, p_f, p_t = (predict_proba(model, X) for X in (X_remain, X_forget, X_test))
    y_r, y_f, y_t = (np.asarray(y) for y in (y_remain, y_forget, y_test))
    gone = np.isin(y_t, list(forgotten_classes)) if forgotten_classes is not None else None
    mia_forget, mia_test, mia_auc = membership_inference(p_r, p_t, p_f, random_state=random_state)
    return UnlearningReport(
        forget_accuracy=_accuracy(p_f, y_f), remain_accuracy=_accuracy(p_r, y_r), test_accuracy=_accuracy(p_t, y_t),
        test_accuracy_forgotten=_accuracy(p_t[gone], y_t[gone]) if gone is not None else math.nan,
        test_accuracy_retained=_accuracy(p_t[~gone], y_t[~gone]) if gone is not None else math.nan,
        mia_forget=mia_forget, mia_test=mia_test, mia_auc=mia_auc, seconds=seconds)
