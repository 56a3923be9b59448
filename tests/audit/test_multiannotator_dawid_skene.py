"""Dawid-Skene by EM (labelwise.audit.multiannotator.dawid_skene): equal to crowd-kit's DawidSkene on the same
inputs (labels, posteriors, confusion matrices, priors, iterations), and recovers known confusion matrices."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.audit.multiannotator import dawid_skene
from labelwise.errors import ParameterError, ShapeError
from labelwise.testing.annotators import simulate_annotators


def crowd(n=1500, m=8, k=5, density=0.4, errors="confusion", seed=0, accuracy=(0.5, 0.9)):
    truth = np.random.default_rng(seed).integers(0, k, n)
    return truth, simulate_annotators(truth, m, n_classes=k, accuracy=accuracy, density=density, errors=errors,
                                      random_state=seed + 1)


@pytest.mark.parametrize("seed, errors", [(0, "confusion"), (1, "uniform"), (2, "confusion")])
def test_matches_crowd_kit(seed, errors):
    aggregation = pytest.importorskip("crowdkit.aggregation", reason="crowd-kit is the reference (pip install -e '.[dev]')")
    import pandas as pd

    _, sim = crowd(n=800, seed=seed, errors=errors, density=0.3)
    labels = sim.labels
    rows, cols = np.nonzero(~np.isnan(labels))
    data = pd.DataFrame({"task": rows, "worker": cols, "label": labels[rows, cols].astype(int)})
    theirs = aggregation.DawidSkene(n_iter=100, tol=1e-5).fit(data)
    ours = dawid_skene(labels, max_iter=100, tol=1e-5)
    classes = sorted(theirs.probas_.columns)
    np.testing.assert_array_equal(ours.labels, theirs.labels_.sort_index().to_numpy())
    np.testing.assert_allclose(ours.posteriors, theirs.probas_.sort_index()[classes].to_numpy(), atol=1e-9)
    np.testing.assert_allclose(ours.priors, theirs.priors_.sort_index().to_numpy(), atol=1e-12)
    assert ours.n_iter == len(theirs.loss_history_)
    np.testing.assert_allclose(ours.elbo, theirs.loss_history_, atol=1e-8)
    errors_table = theirs.errors_  # rows (worker, given label), columns true class
    for (worker, given), row in errors_table.iterrows():
        np.testing.assert_allclose(ours.confusion[worker, :, given], row[classes].to_numpy(), atol=1e-12)


def test_recovers_known_confusion_matrices():
    """Known truth: the simulated confusion matrices and priors come back within a few points, and the consensus is
    as accurate as the posterior computed with the true parameters (the best any aggregator can do here)."""
    from labelwise.audit.multiannotator.dawid_skene_em import dawid_skene_posteriors

    truth, sim = crowd(n=4000, m=6, k=4, density=0.6, errors="confusion", seed=4, accuracy=(0.55, 0.85))
    result = dawid_skene(sim.labels)
    assert np.abs(result.confusion - sim.confusion).max() < 0.06  # 0.047
    assert np.abs(result.priors - np.bincount(truth) / len(truth)).max() < 0.01
    oracle = dawid_skene_posteriors(sim.labels, np.bincount(truth) / len(truth), sim.confusion)
    accuracy = (result.labels == truth).mean()
    assert accuracy > (oracle.argmax(axis=1) == truth).mean() - 0.01  # 0.901 against 0.906
    vote = np.argmax(np.stack([(sim.labels == c).sum(axis=1) for c in range(4)], axis=1), axis=1)
    assert accuracy > (vote == truth).mean() + 0.05  # 0.834: majority vote ignores who confuses what


def test_exact_small_case_and_options():
    # three annotators: 0 and 1 always agree, 2 always says the other class; two classes, both frequent
    labels = np.array([[0, 0, 1], [1, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=float)
    result = dawid_skene(labels, n_classes=3)
    assert result.labels.tolist() == [0, 1, 0, 1]
    assert result.posteriors.shape == (4, 3) and result.confusion.shape == (3, 3, 3)
    assert result.priors[2] < 1e-9  # a class nobody gave keeps no mass
    np.testing.assert_allclose(result.confusion[2, :2, :2], [[0, 1], [1, 0]], atol=1e-6)  # annotator 2 swaps
    assert dawid_skene(labels, max_iter=0).n_iter == 0
    with pytest.raises(ParameterError, match="n_classes"):
        dawid_skene(labels, n_classes=1)


def test_posteriors_under_given_parameters_check_their_shapes():
    from labelwise.audit.multiannotator.dawid_skene_em import dawid_skene_posteriors

    labels = np.array([[0, 2], [1, 1]], dtype=float)
    confusion = np.broadcast_to(np.eye(3) * 0.7 + 0.1, (2, 3, 3))
    np.testing.assert_allclose(dawid_skene_posteriors(labels, np.full(3, 1 / 3), confusion).sum(axis=1), 1)
    for priors, conf in ((np.full(3, 1 / 3), confusion[:1]), (np.full(2, 0.5), confusion[:, :2, :2]),
                         (np.full(4, 0.25), confusion)):
        with pytest.raises(ShapeError, match="confusion must be"):
            dawid_skene_posteriors(labels, priors, conf)
