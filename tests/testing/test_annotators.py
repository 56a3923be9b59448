"""labelwise.testing.annotators: the simulated annotators have the accuracies, confusion matrices and density they
were drawn with."""

from __future__ import annotations

import numpy as np

from labelwise.testing.annotators import simulate_annotators


def test_simulated_annotators_follow_their_parameters():
    truth = np.random.default_rng(0).integers(0, 4, 20000)
    for errors in ("uniform", "confusion"):
        sim = simulate_annotators(truth, 5, n_classes=4, accuracy=(0.5, 0.9), density=0.5, errors=errors)
        given = ~np.isnan(sim.labels)
        assert given.any(axis=1).all() and abs(given.mean() - 0.5) < 0.02
        assert ((sim.accuracy >= 0.5) & (sim.accuracy <= 0.9)).all()
        np.testing.assert_allclose(sim.confusion.sum(axis=2), 1)
        for j in range(5):
            rows = np.flatnonzero(given[:, j])
            said = sim.labels[rows, j].astype(int)
            assert abs((said == truth[rows]).mean() - sim.accuracy[j]) < 0.02
            empirical = np.stack([np.bincount(said[truth[rows] == c], minlength=4) for c in range(4)])
            np.testing.assert_allclose(empirical / empirical.sum(axis=1, keepdims=True), sim.confusion[j], atol=0.04)
