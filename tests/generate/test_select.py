"""Active selection (labelwise.generate.select): exact scores, k-center against brute force, RAD's probabilities and
sampling with given inclusion probabilities."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from labelwise.errors import ParameterError
from labelwise.generate.select import (entropy, k_center_greedy, least_confidence, margin_gain, rad_sampling_probs,
                                       sample_with_inclusion, select_next, worst_case_value)

P = np.array([[0.7, 0.2, 0.1],
              [0.4, 0.35, 0.25],
              [1.0, 0.0, 0.0],
              [0.5, 0.5, 0.0]])


def test_scores_by_hand():
    np.testing.assert_allclose(least_confidence(P), [0.3, 0.6, 0.0, 0.5])
    np.testing.assert_allclose(margin_gain(P), [0.5, 0.95, 0.0, 1.0])
    h = lambda *q: -sum(x * np.log(x) for x in q)  # noqa: E731
    np.testing.assert_allclose(entropy(P), [h(0.7, 0.2, 0.1), h(0.4, 0.35, 0.25), 0.0, np.log(2)])


def test_select_next_takes_the_top_scores_and_skips_labelled():
    assert select_next(P, strategy="least_confidence", budget=2).tolist() == [1, 3]
    assert select_next(P, strategy="margin", budget=2).tolist() == [3, 1]
    assert select_next(P, strategy="entropy", budget=1).tolist() == [1]
    assert select_next(P, strategy="margin", budget=2, labelled=[3]).tolist() == [1, 0]
    r = select_next(P, strategy="random", budget=3, labelled=[0], random_state=1)
    assert len(set(r.tolist())) == 3 and 0 not in r
    with pytest.raises(ParameterError, match="budget"):
        select_next(P, strategy="margin", budget=4, labelled=[0])
    with pytest.raises(ParameterError, match="unknown strategy"):
        select_next(P, strategy="smallest", budget=1)
    with pytest.raises(ParameterError, match="teacher_error"):
        select_next(P, strategy="rad", budget=1)


def _radius(x, centres):
    d = np.linalg.norm(x[:, None, :] - x[None, centres, :], axis=2)
    return d.min(axis=1).max()


@pytest.mark.parametrize("seed", range(5))
def test_k_center_within_twice_the_brute_force_optimum(seed):
    x = np.random.default_rng(seed).normal(size=(11, 2))
    for budget in (2, 3, 4):
        greedy = k_center_greedy(x, budget, random_state=seed)
        assert len(set(greedy.tolist())) == budget
        best = min(_radius(x, list(c)) for c in itertools.combinations(range(len(x)), budget))
        assert _radius(x, greedy) <= 2 * best + 1e-12


def test_k_center_each_pick_is_the_farthest_point():
    x = np.random.default_rng(0).normal(size=(30, 3))
    picks = k_center_greedy(x, 5, labelled=[4, 9])
    chosen = [4, 9]
    for i in picks:  # brute force: the farthest row from everything chosen so far
        d = np.linalg.norm(x[:, None] - x[None, chosen], axis=2).min(axis=1)
        assert i == int(np.argmax(d))
        chosen.append(int(i))
    assert select_next(embeddings=x, strategy="k_center", budget=5, labelled=[4, 9]).tolist() == picks.tolist()


def test_k_center_never_picks_a_labelled_row_and_refuses_a_budget_beyond_the_rest():
    assert sorted(k_center_greedy(np.eye(3), 2, labelled=[0])) == [1, 2]
    with pytest.raises(ParameterError, match="only 2 unlabelled rows"):
        k_center_greedy(np.eye(3), 3, labelled=[0])  # picked row 0 again, labelled, as its third pick
    with pytest.raises(ParameterError, match="outside 0..2"):
        k_center_greedy(np.eye(3), 1, labelled=[5])


@pytest.mark.parametrize("mode", [dict(k=3.0), dict(teacher_error=0.1), dict(k=0.0), "conf"])
def test_rad_probabilities_sum_to_budget_and_equalise_contributions(mode):
    rng = np.random.default_rng(1)
    g = rng.uniform(0.05, 1.0, 60)
    kw = dict(teacher_conf=rng.uniform(0.3, 1.0, 60)) if mode == "conf" else mode
    p = rad_sampling_probs(g, 10, **kw)
    assert p.sum() == pytest.approx(10.0)
    assert (p <= 1 + 1e-12).all() and (p >= 0).all()
    support = p > 0
    contribution = p[support] * g[support]
    np.testing.assert_allclose(contribution, contribution[0])  # p_i g_i = v on the support
    assert g[support].min() >= g[~support].max()  # the support is the top gains


def test_rad_support_is_the_best_nested_one_and_grows_with_k():
    g = np.random.default_rng(2).uniform(0.05, 1.0, 40)
    sizes = []
    for k in (0.0, 2.0, 5.0, 10.0):
        p = rad_sampling_probs(g, 5, k=k)
        best = -1.0
        order = np.argsort(-g)
        for m in range(5, 41):  # brute force over every feasible nested support
            q = np.zeros_like(g)
            q[order[:m]] = (5 / np.sum(1 / g[order[:m]])) / g[order[:m]]
            if q.max() <= 1 + 1e-12:
                best = max(best, worst_case_value(q, g, k))
        assert worst_case_value(p, g, k) == pytest.approx(best)
        sizes.append(int((p > 0).sum()))
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]
    # top-b greedy is the adversary's favourite: with k >= b it is left with nothing, RAD is not
    greedy = np.zeros_like(g)
    greedy[np.argsort(-g)[:5]] = 1.0
    assert worst_case_value(greedy, g, 5.0) == 0.0 < worst_case_value(rad_sampling_probs(g, 5, k=5.0), g, 5.0)


def test_worst_case_value_by_brute_force():
    p, g = np.array([0.5, 1.0, 0.2, 0.8]), np.array([0.9, 0.3, 1.0, 0.5])
    c = p * g
    for k in range(5):
        brute = min(sum(c[i] for i in range(4) if i not in m) for m in itertools.combinations(range(4), k))
        assert worst_case_value(p, g, k) == pytest.approx(brute)
    assert worst_case_value(p, g, 1.5) == pytest.approx(c.sum() - 0.45 - 0.5 * 0.4)


def test_rad_edge_cases():
    assert rad_sampling_probs(np.array([0.5, 0.0, 0.2]), 2).tolist() == [1.0, 0.0, 1.0]
    wide = rad_sampling_probs(np.array([1.0, 0.5, 1e-5]), 2)  # no top-m support is feasible: water-filling
    assert wide.sum() == pytest.approx(2.0) and wide.max() <= 1 + 1e-12
    with pytest.raises(ParameterError, match="at most one"):
        rad_sampling_probs(np.ones(3), 1, k=1, teacher_error=0.1)


def test_sampling_hits_each_inclusion_probability_in_expectation():
    g = np.random.default_rng(3).uniform(0.05, 1.0, 25)
    p = rad_sampling_probs(g, 6, k=2.0)
    draws = 10000
    counts = np.zeros_like(p)
    for seed in range(draws):
        picked = sample_with_inclusion(p, seed)
        assert len(picked) == 6 and len(np.unique(picked)) == 6
        counts[picked] += 1
    freq = counts / draws
    # 4.5 standard errors of a binomial proportion at each row (fixed seeds, so the test is deterministic)
    tolerance = 4.5 * np.sqrt(p * (1 - p) / draws) + 1e-9
    assert (np.abs(freq - p) <= tolerance).all()
    assert (counts[p == 0] == 0).all()
