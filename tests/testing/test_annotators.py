"""labelwise.testing.annotators: the simulated annotators have the accuracies, confusion matrices and density they
were drawn with."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.errors import ParameterError
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


@pytest.mark.parametrize("truth, kwargs, words", [
    (np.zeros(5, dtype=int), {}, "n_classes >= 2"),  # one class: no wrong label to draw (divided by zero)
    (np.array([0, 1, 3]), {"n_classes": 3}, "n_classes=3"),  # class 3 beyond n_classes: was an IndexError
    (np.array([0, 1]), {"errors": "biased"}, "errors"),
])
def test_bad_parameters_raise_one_line_parameter_errors(truth, kwargs, words):
    with pytest.raises(ParameterError, match=words):
        simulate_annotators(truth, 3, **kwargs)
