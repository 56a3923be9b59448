"""The chi-square test of two labelled splits' label counts: exact tables by hand, planted shifts, effect sizes."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.audit.label_shift.count_test import label_count_test
from labelwise.errors import ShapeError
from tests.audit.label_shift.known_cases import K_MIX, SOURCE_PRIOR


def test_no_shift_gives_no_evidence():
    rng = np.random.default_rng(0)
    source = rng.choice(K_MIX, size=2000, p=SOURCE_PRIOR)
    target = rng.choice(K_MIX, size=1000, p=SOURCE_PRIOR)
    test = label_count_test(source, target, K_MIX)
    assert not test.shifted and test.p_value > 0.05
    assert test.verdict.startswith("no evidence of label shift (p=")
    assert test.dof == K_MIX - 1 and test.n_classes_tested == K_MIX
    assert test.cramers_v < 0.1


def test_planted_shift_is_detected_with_its_effect_size():
    rng = np.random.default_rng(1)
    source = rng.choice(K_MIX, size=2000, p=SOURCE_PRIOR)
    target = rng.choice(K_MIX, size=1000, p=SOURCE_PRIOR[::-1])
    test = label_count_test(source, target, K_MIX)
    assert test.shifted and test.p_value < 1e-20
    assert test.verdict.startswith("label shift detected (p=")
    assert 0.2 < test.cramers_v < 1.0


def test_table_by_hand_and_absent_classes_are_dropped():
    # counts [10, 20, 0, 30] vs [20, 10, 0, 30]; class 2 is in neither split, so dof = 2
    source = np.repeat([0, 1, 3], [10, 20, 30])
    target = np.repeat([0, 1, 3], [20, 10, 30])
    test = label_count_test(source, target, 4)
    table = np.array([[10, 20, 30], [20, 10, 30]], dtype=float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    assert test.dof == 2 and test.n_classes_tested == 3
    assert test.statistic == pytest.approx(statistic)
    assert test.cramers_v == pytest.approx(np.sqrt(statistic / 120))
    assert test.n_source == 60 and test.n_target == 60


def test_large_samples_make_a_negligible_shift_significant():
    # 50/50 against 51/49 with 100,000 rows a side: "significant", yet Cramér's V says it is negligible
    source = np.repeat([0, 1], [50_000, 50_000])
    target = np.repeat([0, 1], [51_000, 49_000])
    test = label_count_test(source, target, 2)
    assert test.shifted and test.p_value < 1e-4 and test.cramers_v == pytest.approx(0.01, rel=1e-3)
    assert "negligible effect" in test.verdict


def test_one_class_and_small_counts():
    test = label_count_test([1, 1, 1], [1, 1], 3)
    assert not test.shifted and test.p_value == 1.0 and test.dof == 0
    small = label_count_test([0, 1, 2, 2], [0, 1, 1], 3)
    assert small.small_expected_fraction == 1.0 and "only approximate" in small.verdict


def test_bad_labels_say_what_is_wrong():
    with pytest.raises(ShapeError, match="encode string labels"):
        label_count_test(np.array(["a", "b"]), np.array(["a"]), 2)
    with pytest.raises(ShapeError, match="at least one label"):
        label_count_test([], [0], 2)
