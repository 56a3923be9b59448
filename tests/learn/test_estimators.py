"""Estimator API: fit/predict/predict_proba, classes_, random_state, early stopping, progress, threads, errors, and
scikit-learn's conventions (get_params/clone, pickling, NotFittedError, its own estimator checks)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from labelwise.errors import ParameterError, ShapeError  # noqa: E402
from labelwise.learn import (  # noqa: E402
    ImbalancedRegressor,
    MultiLabelClassifier,
    MultiLabelHead,
    NoisyLabelClassifier,
)


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 6)) * 3
    y = rng.integers(0, 3, size=240)
    X = (centers[y] + rng.normal(size=(240, 6))).astype(np.float32)
    return X, np.array(["cat", "dog", "eel"])[y]


@pytest.mark.parametrize("loss", ["ce", "gce", "ldr", "aldr"])
def test_noisy_classifier_api(blobs, loss):
    X, y = blobs
    clf = NoisyLabelClassifier(loss=loss, epochs=30, lr=1e-2, random_state=0, n_threads=1).fit(X, y)
    assert clf.classes_.tolist() == ["cat", "dog", "eel"]
    P = clf.predict_proba(X)
    assert P.shape == (240, 3) and np.allclose(P.sum(1), 1)
    pred = clf.predict(X)
    assert pred.dtype.kind in "UO" and (pred == y).mean() > 0.9
    assert (clf.classes_[P.argmax(1)] == pred).all()
    if loss == "aldr":
        lam = clf.loss_.lambdas
        assert ((lam >= 5.0 - 1e-5) & (lam <= 10.0 + 1e-5)).all() and (lam < 10.0).any()


def test_int_labels_and_reproducibility(blobs):
    X, y = blobs
    yi = np.searchsorted(np.unique(y), y) * 10
    a = NoisyLabelClassifier(epochs=5, random_state=3, n_threads=1).fit(X, yi)
    b = NoisyLabelClassifier(epochs=5, random_state=3, n_threads=1).fit(X, yi)
    c = NoisyLabelClassifier(epochs=5, random_state=4, n_threads=1).fit(X, yi)
    assert a.classes_.tolist() == [0, 10, 20]
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_global_rng_and_threads_untouched(blobs):
    X, y = blobs
    torch.manual_seed(123)
    expected = torch.rand(1).item()
    torch.manual_seed(123)
    before = torch.get_num_threads()
    NoisyLabelClassifier(epochs=2, random_state=0, n_threads=1).fit(X, y)
    assert torch.get_num_threads() == before
    assert torch.rand(1).item() == expected


def test_progress_and_early_stopping(blobs):
    X, y = blobs
    calls = []
    clf = NoisyLabelClassifier(epochs=200, patience=3, lr=1e-2, random_state=0, n_threads=1).fit(
        X, y, progress=lambda *a: calls.append(a))
    assert clf.n_epochs_ < 200  # stopped early
    assert calls[0] == ("training", 1, 200) and calls[-1] == ("training", clf.n_epochs_, 200)
    assert clf.best_val_score_ > 0.9


def test_errors(blobs):
    X, y = blobs
    with pytest.raises(ParameterError, match="loss"):
        NoisyLabelClassifier(loss="hinge").fit(X, y)
    with pytest.raises(ShapeError, match="rows"):
        NoisyLabelClassifier().fit(X, y[:-1])
    with pytest.raises(ShapeError, match="one class"):
        NoisyLabelClassifier().fit(X, np.zeros(len(X), dtype=int))
    Xn = X.copy()
    Xn[5, 2] = np.nan
    with pytest.raises(ShapeError, match="row 5"):
        NoisyLabelClassifier().fit(Xn, y)
    clf = NoisyLabelClassifier(epochs=1, n_threads=1, random_state=0).fit(X, y)
    with pytest.raises(ShapeError, match="features"):
        clf.predict(X[:, :3])
    with pytest.raises(NotFittedError):
        NoisyLabelClassifier().predict(X)
    with pytest.raises(NotFittedError):
        ImbalancedRegressor().predict(X)
    with pytest.raises(ParameterError, match="random_state"):
        NoisyLabelClassifier(epochs=1, random_state="zero").fit(X, y)


@pytest.fixture(scope="module")
def multilabel():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 8)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0.5, X[:, 2] + X[:, 3] > 1.0], 1).astype(int)
    return X, Y


@pytest.mark.parametrize("loss", ["bce", "pu_mlc"])
def test_multilabel_api(multilabel, loss):
    X, Y = multilabel
    clf = MultiLabelClassifier(loss=loss, epochs=40, lr=1e-2, random_state=0, n_threads=1).fit(X, Y)
    P = clf.predict_proba(X)
    assert P.shape == Y.shape and ((P >= 0) & (P <= 1)).all()
    pred = clf.predict(X)
    assert set(np.unique(pred)) <= {0, 1} and (pred == Y).mean() > 0.8
    assert clf.classes_.tolist() == [0, 1, 2]


def test_pu_mlc_with_mixup_runs(multilabel):
    X, Y = multilabel
    clf = MultiLabelClassifier(loss="pu_mlc", mixup=0.1, epochs=5, random_state=0, n_threads=1).fit(X, Y)
    assert np.isfinite(clf.predict_proba(X)).all()


def test_multilabel_label_lists_and_head(multilabel):
    X, Y = multilabel
    names = np.array(["red", "blue", "green"])
    lists = [list(names[np.flatnonzero(r)]) for r in Y]
    head = MultiLabelHead(epochs=60, random_state=0, n_threads=1).fit(X, lists)
    assert head.classes_.tolist() == ["blue", "green", "red"]
    labels = head.predict_labels(X[:5])
    assert all(set(lab) <= set(names) for lab in labels)
    assert head.thresholds_.shape == (3,) and head.calibrator_ is not None
    assert clone(head).get_params()["threshold"] == "tuned"
    with pytest.raises(ShapeError, match="string"):
        MultiLabelClassifier().fit(X[:2], ["red", "blue"])
    with pytest.raises(ShapeError, match="1 \\(positive\\)"):
        MultiLabelClassifier().fit(X, Y * 2)


def test_regressor_api():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    y = 10 * X[:, 0] + 3 * X[:, 1] ** 2
    for conr in (False, True):
        reg = ImbalancedRegressor(conr=conr, window=1.0, epochs=30, random_state=0, n_threads=1).fit(X, y)
        pred = reg.predict(X)
        assert pred.shape == (200,) and np.abs(pred - y).mean() < np.abs(y - y.mean()).mean()
        again = ImbalancedRegressor(conr=conr, window=1.0, epochs=30, random_state=0, n_threads=1).fit(X, y)
        assert np.array_equal(pred, again.predict(X))
    with pytest.raises(ParameterError, match="hidden"):
        ImbalancedRegressor(conr=True, hidden=()).fit(X, y)


def test_random_state_accepts_numpy_random_states(blobs):
    """An int is the seed itself; a RandomState or Generator in the same state gives the same fit."""
    X, y = blobs

    def fit(random_state):
        return NoisyLabelClassifier(epochs=3, random_state=random_state, n_threads=1).fit(X, y).predict_proba(X)

    np.testing.assert_array_equal(fit(np.random.RandomState(7)), fit(np.random.RandomState(7)))
    np.testing.assert_array_equal(fit(np.random.default_rng(7)), fit(np.random.default_rng(7)))


ESTIMATORS = [
    NoisyLabelClassifier(loss="aldr", epochs=5, random_state=0, n_threads=1),
    NoisyLabelClassifier(loss="gce", epochs=5, random_state=0, n_threads=1),
    MultiLabelHead(epochs=5, random_state=0, n_threads=1),
    ImbalancedRegressor(epochs=5, random_state=0, n_threads=1),
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: f"{type(e).__name__}-{getattr(e, 'loss', '')}")
def test_pickle_round_trip_and_clone(estimator, blobs, multilabel, tmp_path):
    """Fitted estimators pickle (torch module and loss included) and predict the same after loading; clone gives
    an unfitted copy with the same parameters; __init__ keeps parameters as given."""
    import pickle

    X, y = multilabel if isinstance(estimator, MultiLabelClassifier) else blobs
    if isinstance(estimator, ImbalancedRegressor):
        y = X[:, 0] * 3.0
    with pytest.raises(NotFittedError):
        estimator.predict(X)
    fitted = clone(estimator).fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(fitted.predict(X), again.predict(X))
    if hasattr(fitted, "predict_proba"):
        np.testing.assert_array_equal(fitted.predict_proba(X), again.predict_proba(X))
    copy = clone(fitted)
    assert copy.get_params() == estimator.get_params() and not hasattr(copy, "model_")
    hidden = (7, 3)
    assert type(estimator)(hidden=hidden).hidden is hidden  # stored untouched, not converted


CHECKED = [NoisyLabelClassifier(epochs=20, lr=1e-2, hidden=(), random_state=0, n_threads=1),
           ImbalancedRegressor(epochs=20, lr=1e-2, hidden=(16,), random_state=0, n_threads=1)]
# scikit-learn's checks that do not hold here on purpose, with the reason. MultiLabelClassifier/MultiLabelHead are
# not run through them: their targets are (n, C) matrices with -1/0/1 entries or label lists, which the checks'
# single-output data do not exercise (test_multilabel_* and the pickle/clone test above cover their API).
EXPECTED_FAILURES = {
    "check_dtype_object": "non-numeric X raises labelwise's ShapeError (a ValueError, like every input error "
                          "labelwise raises) where scikit-learn asks for a TypeError",
}


@parametrize_with_checks(CHECKED, expected_failed_checks=lambda estimator: EXPECTED_FAILURES)
def test_scikit_learn_estimator_checks(estimator, check):
    """scikit-learn's own estimator checks (as check_estimator runs them), minus EXPECTED_FAILURES."""
    check(estimator)
