"""Codec's constrained marker search (seed paper 7) against its O(n²) brute-force reference, on the ToyScorer."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.errors import ParameterError
from labelwise.generate.marker_search import (brute_force_marker_search, candidate_open_positions,
                                              constrained_marker_search)
from labelwise.testing.toy_scorer import ToyScorer, random_marker_case

def _case(seed: int, short: bool = False):
    scorer, marked, target = random_marker_case(seed, short)
    return scorer, marked, scorer.tokenize(target)


def _key(m):
    return m.open, m.close, m.open_id, m.close_id


@pytest.mark.parametrize("short", [True, False])
def test_exact_search_equals_brute_force_with_fewer_token_evaluations(short):
    brute_tokens = exact_tokens = 0
    for seed in range(20):
        scorer, marked, y = _case(seed, short)
        brute = brute_force_marker_search(scorer, marked, y)
        before = scorer.tokens
        brute_tokens += before
        best = constrained_marker_search(scorer, marked, y, n_best=5)
        exact_tokens += scorer.tokens - before
        assert _key(best[0]) == _key(brute[0])
        np.testing.assert_allclose([m.score for m in best], [m.score for m in brute[:5]], rtol=0, atol=1e-9)
        assert all(m.exact for m in best)
        # the candidate's score is the brute-force score of its marked sequence
        assert best[0].score == pytest.approx(float(np.sum(scorer.sequence_logprobs(marked, best[0].tokens(y)))))
    assert exact_tokens * 2 < brute_tokens  # 2.8x fewer on the short cases, 3.6x on the longer (bench/codec_search.py)


def test_brute_force_enumerates_every_nonempty_span_and_marker_id():
    scorer, marked, y = _case(0, short=True)
    brute = brute_force_marker_search(scorer, marked, y)
    n = len(y)
    assert len(brute) == n * (n + 1) // 2 * 4  # two ids per marker
    assert len({_key(m) for m in brute}) == len(brute)
    assert all(0 <= m.open < m.close <= n for m in brute)
    assert [m.score for m in brute] == sorted((m.score for m in brute), reverse=True)


def test_every_marker_id_is_tried():
    """The best candidates of a scorer that prefers the second id of each marker use those ids."""
    scorer, marked, y = _case(3, short=True)
    base = scorer._logprobs

    def prefer_variants(source, prefix):
        out = base(source, prefix).copy()
        out[[2, 3]] += 20.0
        return out - np.log(np.exp(out).sum())

    scorer._logprobs = prefer_variants
    best = constrained_marker_search(scorer, marked, y, n_best=1)[0]
    assert (best.open_id, best.close_id) == (2, 3)
    assert _key(best) == _key(brute_force_marker_search(scorer, marked, y)[0])


def test_fast_mode_agrees_mostly_and_saves_calls():
    agree = exact_calls = fast_calls = 0
    for seed in range(20):
        scorer, marked, y = _case(seed)
        before = scorer.calls
        exact = constrained_marker_search(scorer, marked, y)
        exact_calls += scorer.calls - before
        before = scorer.calls
        fast = constrained_marker_search(scorer, marked, y, future_steps=5)
        fast_calls += scorer.calls - before
        agree += _key(fast[0]) == _key(exact[0])
        assert fast[0].score <= exact[0].score + 1e-9  # a heuristic never beats the optimum
    assert agree >= 14 and fast_calls < exact_calls  # measured: 18/20, 1.45x fewer calls (bench/codec_search.py)


def test_open_positions_restrict_the_open_marker():
    scorer, marked, y = _case(5)
    best = constrained_marker_search(scorer, marked, y, open_positions=[2, 4], n_best=5)
    brute = [m for m in brute_force_marker_search(scorer, marked, y) if m.open in (2, 4)]
    assert [_key(m) for m in best] == [_key(m) for m in brute[:5]]


def test_max_expansions_returns_the_best_found_marked_inexact():
    scorer, marked, y = _case(1)
    out = constrained_marker_search(scorer, marked, y, max_expansions=len(y) + 3)
    assert out and not out[0].exact
    assert out[0].close > out[0].open
    before = scorer.calls
    constrained_marker_search(scorer, marked, y, max_expansions=10)
    assert scorer.calls - before == 10


def test_toy_translator_finds_the_aligned_span_and_position_pruning_keeps_it():
    source, marked = "Only France and Britain backed the plan", "Only France and [ Britain ] backed the plan"
    target = "Solo Francia y Gran Bretaña apoyaron el plan"
    scorer = ToyScorer(noise=0.3, lexicon={"Britain": "Bretaña"}, translations={source: target})
    y = scorer.tokenize(target)
    best = constrained_marker_search(scorer, marked, y, n_best=1)[0]
    starts = scorer.char_starts(target, y) + [len(target)]
    assert target[starts[best.open]: starts[best.close]].strip() == "Bretaña"
    positions = candidate_open_positions(scorer, source, marked, y)
    assert best.open in positions and len(positions) < len(y)
    pruned = constrained_marker_search(scorer, marked, y, n_best=1, open_positions=positions)[0]
    assert _key(pruned) == _key(best)


def test_bad_parameters_raise_parameter_errors():
    scorer, marked, y = _case(0)
    with pytest.raises(ParameterError, match="n_best"):
        constrained_marker_search(scorer, marked, y, n_best=0)
    scorer.marker_ids = {}
    with pytest.raises(ParameterError, match="marker"):
        constrained_marker_search(scorer, marked, y)
