"""Krippendorff's alpha against Krippendorff's own worked example (2011, missing values, four levels) and the
krippendorff package; Cohen's kappa per pair against scikit-learn's cohen_kappa_score."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from labelwise.audit.multiannotator import cohen_kappa_pairs, krippendorff_alpha
from labelwise.errors import ParameterError

nan = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers, 12 units, 7 missing
WORKED = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
]).T  # (units, observers)


@pytest.mark.parametrize("level, published", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849),
                                              ("ratio", 0.797)])
def test_krippendorff_worked_example(level, published):
    assert krippendorff_alpha(WORKED, level) == pytest.approx(published, abs=5e-4)


def test_krippendorff_nominal_by_hand():
    # 3 units by 2 coders: (0, 0), (0, 1), (1, 1): coincidences o00 = 2, o01 = o10 = 1, o11 = 2; n = 6
    # D_o = 2 / 6; D_e = 2 * 3 * 3 / (6 * 5) = 0.6; alpha = 1 - (1/3) / 0.6 = 4/9
    assert krippendorff_alpha(np.array([[0, 0], [0, 1], [1, 1]])) == pytest.approx(4 / 9)
    assert np.isnan(krippendorff_alpha(np.array([[1, 1], [1, 1]])))  # one value only: no expected disagreement
    assert np.isnan(krippendorff_alpha(np.array([[0, nan], [nan, 1]])))  # nothing pairable


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_krippendorff_matches_the_krippendorff_package(level):
    krippendorff = pytest.importorskip("krippendorff", reason="the reference package (pip install -e '.[dev]')")
    rng = np.random.default_rng(0)
    labels = rng.integers(1, 6, (300, 7)).astype(float)
    labels[:, 1] = np.where(rng.random(300) < 0.6, labels[:, 0], labels[:, 1])
    labels[rng.random(labels.shape) < 0.55] = nan
    ours = krippendorff_alpha(labels, level)
    assert ours == pytest.approx(krippendorff.alpha(reliability_data=labels.T, level_of_measurement=level), abs=1e-12)


def test_cohen_kappa_pairs_match_sklearn():
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, (250, 6)).astype(float)
    labels[:, 1] = np.where(rng.random(250) < 0.7, labels[:, 0], labels[:, 1])
    labels[rng.random(labels.shape) < 0.6] = nan
    labels[:, 5] = nan
    labels[[3, 8], 5] = [2, 2]  # annotator 5: two items, one class
    labels[10, 4] = 1
    kappa = cohen_kappa_pairs(labels)
    assert kappa.shape == (6, 6)
    np.testing.assert_allclose(kappa, kappa.T, equal_nan=True)
    for a in range(6):
        for b in range(6):
            both = ~np.isnan(labels[:, a]) & ~np.isnan(labels[:, b])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # sklearn warns and returns NaN when chance agreement is 1
                ref = cohen_kappa_score(labels[both, a], labels[both, b]) if both.sum() >= 2 else nan
            assert kappa[a, b] == pytest.approx(ref, abs=1e-12, nan_ok=True), (a, b)
    assert np.isnan(kappa[5, 5]) and kappa[0, 0] == pytest.approx(1.0)


def test_bad_inputs():
    with pytest.raises(ParameterError, match="level"):
        krippendorff_alpha(WORKED, "cardinal")
    with pytest.raises(ValueError, match="2-D"):
        cohen_kappa_pairs(np.array([0, 1]))
