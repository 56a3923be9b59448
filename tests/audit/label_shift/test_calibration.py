"""Bias-corrected temperature scaling (Alexandari et al. 2020) recovers a planted temperature and bias."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from labelwise.audit.label_shift.calibration import BiasCorrectedTemperatureScaling
from tests.audit.label_shift.known_cases import SOURCE_PRIOR, mixture


def test_bcts_recovers_a_planted_temperature_and_bias():
    rng = np.random.default_rng(5)
    labels, probs = mixture(200_000, SOURCE_PRIOR, rng)  # many rows: the fitted biases' sampling error is ~0.01
    bias = np.array([0.6, -0.3, 0.0, 0.9, -1.2])
    distorted = softmax(3.0 * np.log(probs) + bias, axis=1)  # overconfident and biased
    calibrator = BiasCorrectedTemperatureScaling().fit(distorted, labels)
    assert calibrator.temperature_ == pytest.approx(3.0, rel=0.02)
    np.testing.assert_allclose(calibrator.bias_, -(bias - bias.mean()) / 3.0, atol=0.03)
    # at the optimum the mean calibrated prediction equals the label frequencies (the bias terms' condition)
    np.testing.assert_allclose(
        calibrator.transform(distorted).mean(axis=0), np.bincount(labels) / labels.size, atol=1e-5
    )
