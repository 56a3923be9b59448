"""Average-linkage clusters of weighted pairs, and the pairwise F1 the weights imply: exact small cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelwise.errors import ParameterError
from labelwise.link import dedupe
from labelwise.link.clustering import average_linkage, cluster_pairs, expected_pairwise_f1


def test_a_chain_of_close_pairs_is_not_one_cluster():
    # a-b, b-c, c-d each 0.9; a-c, b-d, a-d never candidates (weight 0)
    a, b, w = [0, 1, 2], [1, 2, 3], [0.9, 0.9, 0.9]
    assert cluster_pairs(4, a, b, w, 0.5, method="components").tolist() == [0, 0, 0, 0]  # components chain
    labels = average_linkage(4, a, b, w, 0.5)
    assert labels.tolist() == [0, 0, 1, 1]  # {a,b} and {c,d}: 1 close pair of 4 cross pairs, mean 0.225 < 0.5


def test_a_chain_with_weak_end_to_end_pairs_stays_apart_but_a_clique_stays_together():
    # rows 0-2: a true clique (every pair close); rows 3-6: a chain whose far pairs are candidates with low weight
    a = [0, 0, 1, 3, 4, 5, 3, 4, 3]
    b = [1, 2, 2, 4, 5, 6, 5, 6, 6]
    w = [0.9, 0.8, 0.85, 0.95, 0.9, 0.95, 0.3, 0.3, 0.1]
    labels = average_linkage(8, a, b, w, 0.6)
    assert labels[:3].tolist() == [0, 0, 0]
    assert labels[3] == labels[4] and labels[5] == labels[6] and labels[3] != labels[5]
    assert labels[7] not in labels[:7]  # the singleton keeps a cluster id of its own
    assert labels.tolist() == [0, 0, 0, 1, 1, 2, 2, 3]  # numbered in order of first row


def test_a_row_joins_a_cluster_when_the_mean_over_all_its_pairs_reaches_the_threshold():
    # {0,1} at 0.9; row 2 has 0.9 to row 0 and 0.6 to row 1: mean 0.75
    assert average_linkage(3, [0, 0, 1], [1, 2, 2], [0.9, 0.9, 0.6], 0.75).tolist() == [0, 0, 0]
    assert average_linkage(3, [0, 0, 1], [1, 2, 2], [0.9, 0.9, 0.6], 0.76).tolist() == [0, 0, 1]
    # without the 1-2 pair the mean is 0.45
    assert average_linkage(3, [0, 0], [1, 2], [0.9, 0.9], 0.5).tolist() == [0, 0, 1]


def test_repeated_and_reversed_pairs_count_once_with_their_largest_weight():
    assert average_linkage(2, [0, 1, 0], [1, 0, 1], [0.2, 0.7, 0.1], 0.5).tolist() == [0, 0]
    assert average_linkage(3, [], [], [], 0.5).tolist() == [0, 1, 2]


def test_the_highest_mean_merges_first():
    # 1 is closer to 2 (0.9) than to 0 (0.8); {1,2} forms, then 0 joins only if (0.8 + w02) / 2 >= t
    labels = average_linkage(3, [0, 1, 0], [1, 2, 2], [0.8, 0.9, 0.0], 0.5)
    assert labels.tolist() == [0, 1, 1]


def test_many_rows_sparse_pairs():
    # 20,000 rows in planted groups of 4 (every inner pair 0.9) plus random noise pairs at 0.55 between groups
    rng = np.random.default_rng(0)
    n = 20_000
    group = np.arange(n) // 4
    inner = [(i, j) for g in range(n // 4) for i in range(4 * g, 4 * g + 4) for j in range(i + 1, 4 * g + 4)]
    a, b = map(np.array, zip(*inner))
    noise_a, noise_b = rng.integers(0, n, 3 * n), rng.integers(0, n, 3 * n)
    a, b = np.r_[a, noise_a], np.r_[b, noise_b]
    w = np.r_[np.full(len(inner), 0.9), np.full(3 * n, 0.55)]
    avg = average_linkage(n, a, b, w, 0.5)
    comp = cluster_pairs(n, a, b, w, 0.5, method="components")
    assert np.bincount(comp).max() > n // 2  # the noise pairs chain most rows into one component
    assert np.bincount(avg).max() == 4
    assert (pd.Series(avg).groupby(group).nunique() == 1).all()  # every planted group intact


def test_bad_weights_and_threshold_are_refused():
    with pytest.raises(ParameterError, match=r"\[0, 1\]"):
        average_linkage(2, [0], [1], [1.5], 0.5)
    with pytest.raises(ParameterError, match="threshold"):
        average_linkage(2, [0], [1], [0.5], 0.0)
    with pytest.raises(ParameterError, match="must be one of"):
        cluster_pairs(2, [0], [1], [0.5], 0.5, method="single")


def test_expected_pairwise_f1_exact():
    # clusters {0,1,2} and {3}; candidate pairs 0-1 0.9, 1-2 0.6, 0-3 0.3 (0-2 never a candidate: counts 0)
    est = expected_pairwise_f1([0, 0, 0, 1], [0, 1, 0, 3], [1, 2, 3, 0], [0.9, 0.6, 0.3, 0.2], calibrated=False)
    # within-cluster pairs: 3 (0-1, 0-2, 1-2), their probabilities 0.9 + 0 + 0.6 = 1.5; all candidates: 1.8
    assert est.predicted_pairs == 3 and est.expected_true == pytest.approx(1.5)
    assert est.precision == pytest.approx(0.5)
    assert est.recall == pytest.approx(1.5 / 1.8)
    assert est.f1 == pytest.approx(2 * 0.5 * (1.5 / 1.8) / (0.5 + 1.5 / 1.8))
    assert "uncalibrated" in est.describe()
    alone = expected_pairwise_f1([0, 1], [0], [1], [0.4])
    assert (alone.precision, alone.recall, alone.f1) == (1.0, 0.0, 0.0) and "uncalibrated" not in alone.describe()


def test_dedupe_takes_match_probabilities_from_a_scorer():
    table = pd.DataFrame({"name": ["acme corp", "acme corp", "acme corp inc", "zeta llc", "zeta llc"]})

    class Exact:  # an encoder that makes every row equally similar: only the probabilities separate them
        def encode(self, texts):
            return np.ones((len(texts), 4), np.float32) / 2

    values = table["name"].to_numpy()

    def same_name(a, b, cosine):
        return (values[a] == values[b]).astype(float)

    out = dedupe(table, on="name", encoder=Exact(), pair_probabilities=same_name)
    assert out.cluster_id.tolist() == [0, 0, 1, 2, 2]
    assert out.attrs["threshold"].value == 0.5
    est = out.attrs["estimate"]
    assert est.calibrated and est.precision == 1.0 and est.recall == 1.0
