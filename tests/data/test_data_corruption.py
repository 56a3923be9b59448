"""flip_labels: exact count, never the same class, uniform over the other classes, deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.data import flip_labels
from labelwise.errors import ShapeError


def test_flips_exactly_round_fraction_n_to_other_classes():
    labels = np.arange(1000) % 7
    noisy, flipped = flip_labels(labels, 0.2, random_state=0)
    assert noisy.shape == (1000,) and flipped.shape == (1000,) and flipped.dtype == bool
    assert flipped.sum() == 200
    assert np.array_equal(flipped, noisy != labels)  # every flipped row changed class, no other row did
    assert noisy.min() >= 0 and noisy.max() < 7


@pytest.mark.parametrize(
    ("n", "fraction", "expected"), [(10, 0.25, 2), (10, 0.35, 4), (7, 0.5, 4), (5, 0.0, 0), (5, 1.0, 5)]
)
def test_count_is_python_round(n, fraction, expected):
    _, flipped = flip_labels(np.arange(n) % 2, fraction, random_state=1)
    assert flipped.sum() == expected == round(fraction * n)


def test_deterministic_for_int_seed_and_varies_across_seeds():
    labels = np.arange(500) % 5
    a = flip_labels(labels, 0.3, random_state=42)
    b = flip_labels(labels, 0.3, random_state=42)
    c = flip_labels(labels, 0.3, random_state=43)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_new_class_is_uniform_over_the_others():
    labels = np.zeros(30000, dtype=int)
    noisy, _ = flip_labels(labels, 1.0, n_classes=4, random_state=0)
    counts = np.bincount(noisy, minlength=4)
    assert counts[0] == 0
    # 10,000 expected each; 5 standard deviations is about 400
    assert np.all(np.abs(counts[1:] - 10000) < 400)


def test_binary_always_swaps():
    labels = np.array([0, 1, 0, 1, 1, 0])
    noisy, flipped = flip_labels(labels, 1.0, random_state=3)
    assert np.array_equal(noisy, 1 - labels) and flipped.all()


def test_input_is_not_modified():
    labels = np.array([0, 1, 2, 0, 1, 2])
    flip_labels(labels, 0.5, random_state=0)
    assert labels.tolist() == [0, 1, 2, 0, 1, 2]


@pytest.mark.parametrize(
    ("labels", "fraction", "k", "match"),
    [
        (np.zeros((2, 2), dtype=int), 0.1, None, r"shape \(n,\)"),
        (np.array([0.0, 1.0]), 0.1, None, "integers"),
        (np.array([0, 1]), 1.5, None, "between 0 and 1"),
        (np.array([0, 0]), 0.5, None, "at least 2 classes"),
        (np.array([0, 3]), 0.5, 3, r"in \[0, 3\)"),
    ],
)
def test_bad_inputs(labels, fraction, k, match):
    with pytest.raises(ShapeError, match=match):
        flip_labels(labels, fraction, k, random_state=0)
