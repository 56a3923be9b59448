"""MLLS by EM (Saerens et al. 2002): exact with a perfect classifier, a fixed point when the target is the source,
consistent with exact posteriors, and it says when it stops early."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from labelwise.audit.label_shift.maximum_likelihood import mlls
from labelwise.errors import ShapeError
from tests.audit.label_shift.known_cases import (
    K_MIX, SOURCE_LABELS, SOURCE_PRIOR, TARGET_LABELS, TARGET_MIX, l1, mixture, onehot,
)


def test_perfect_classifier_mlls_is_exact():
    source_prior = np.bincount(SOURCE_LABELS) / SOURCE_LABELS.size
    np.testing.assert_allclose(mlls(onehot(TARGET_LABELS, 4), source_prior), TARGET_MIX, atol=1e-12)
    calibrated = mlls(onehot(TARGET_LABELS, 4), calibrate_with=(onehot(SOURCE_LABELS, 4), SOURCE_LABELS))
    np.testing.assert_allclose(calibrated, TARGET_MIX, atol=1e-6)


def test_target_equal_to_source_is_a_fixed_point():
    labels, probs = mixture(3000, SOURCE_PRIOR, np.random.default_rng(2))
    prior = np.bincount(labels, minlength=K_MIX) / labels.size
    # after BCTS the mean calibrated source prediction is a fixed point, and equals the label frequencies
    np.testing.assert_allclose(mlls(probs, calibrate_with=(probs, labels)), prior, atol=1e-6)


def test_exact_posteriors_recover_the_target_prior():
    target_labels, target_probs = mixture(20_000, np.array([0.05, 0.10, 0.15, 0.30, 0.40]), np.random.default_rng(3))
    truth = np.bincount(target_labels, minlength=K_MIX) / target_labels.size
    assert l1(mlls(target_probs, SOURCE_PRIOR), truth) < 0.03  # the posteriors are exact: plain EM is consistent


def test_mlls_warns_when_it_stops_early():
    _, probs = mixture(500, SOURCE_PRIOR[::-1], np.random.default_rng(9))
    with pytest.warns(RuntimeWarning, match="did not reach"):
        mlls(probs, SOURCE_PRIOR, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mlls(probs, SOURCE_PRIOR)


def test_bad_inputs_say_what_is_wrong():
    probs = np.full((4, 3), 1 / 3)
    with pytest.raises(ShapeError, match="logits"):
        mlls(probs * 5, [1 / 3] * 3)
    with pytest.raises(ValueError, match="source_prior"):
        mlls(probs)
