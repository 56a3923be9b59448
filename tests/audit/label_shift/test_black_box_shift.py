"""BBSE (Lipton et al. 2018): exact with a perfect classifier, exactly no shift when the target is the source."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.audit.label_shift.black_box_shift import bbse
from labelwise.errors import ShapeError
from tests.audit.label_shift.known_cases import (
    K_MIX, SOURCE_LABELS, SOURCE_PRIOR, TARGET_LABELS, TARGET_MIX, mixture, onehot,
)


@pytest.mark.parametrize("soft", [False, True])
def test_perfect_classifier_bbse_is_exact(soft):
    estimate = bbse(onehot(SOURCE_LABELS, 4), SOURCE_LABELS, onehot(TARGET_LABELS, 4), soft=soft)
    np.testing.assert_allclose(estimate, TARGET_MIX, atol=1e-12)


def test_target_equal_to_source_is_no_shift_exactly():
    labels, probs = mixture(3000, SOURCE_PRIOR, np.random.default_rng(2))
    np.testing.assert_allclose(bbse(probs, labels, probs), np.bincount(labels, minlength=K_MIX) / labels.size,
                               atol=1e-10)


def test_bad_inputs_say_what_is_wrong():
    probs = np.full((4, 3), 1 / 3)
    labels = np.array([0, 1, 2, 0])
    with pytest.raises(ShapeError, match="columns"):
        bbse(probs, labels, np.full((4, 2), 0.5))
    with pytest.raises(ShapeError, match="same rows"):
        bbse(probs, labels[:3], probs)
