"""The synthetic parallel tagging corpus (FILTER's check, paper 17): its translation and its tags are what the
notes describe."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.testing.parallel_tags import bio_span_f1, parallel_tags


@pytest.fixture(scope="module")
def corpus():
    return parallel_tags(400, random_state=3)


def test_sizes_and_lengths(corpus):
    assert len(corpus) == 400 and corpus.tag_names[:3] == ["O", "B-PER", "I-PER"] and len(corpus.tag_names) == 9
    assert all(8 <= len(s) <= 14 and s.max() < 300 for s in corpus.source_ids)
    assert all(300 <= t.min() and t.max() < 620 for t in corpus.target_ids)


def test_lexicon_is_a_bijection_and_gold_tags_follow_the_alignment(corpus):
    mapping: dict[int, int] = {}
    for s, st, t, g, a in zip(corpus.source_ids, corpus.source_tags, corpus.target_ids, corpus.gold_target_tags,
                              corpus.alignment):
        kept = a >= 0
        assert sorted(a[kept].tolist()) == list(range(len(s)))  # every source token once, particles besides
        assert (t[~kept] >= 600).all() and (g[~kept] == 0).all()
        assert np.array_equal(g[kept], st[a[kept]])
        for x, y in zip(s[a[kept]].tolist(), t[kept].tolist()):
            assert mapping.setdefault(x, y) == y
    assert len(set(mapping.values())) == len(mapping)


def test_entities_survive_translation_whole(corpus):
    # the same spans (type and length) on both sides, so gold target tags are valid BIO
    for st, g in zip(corpus.source_tags, corpus.gold_target_tags):
        src = sorted((b - a, t) for a, b, t in _spans(st, corpus.tag_names))
        assert src == sorted((b - a, t) for a, b, t in _spans(g, corpus.tag_names))
        for k in range(1, len(g)):  # an I- tag continues a span of its type
            if g[k] > 0 and g[k] % 2 == 0:
                assert g[k - 1] in (g[k], g[k] - 1)


def _spans(tags, names):
    from labelwise.data.spans import tags_to_spans
    return [tuple(s) for s in tags_to_spans([names[t] for t in tags], [(k, k + 1) for k in range(len(tags))])]


def test_projection_copies_by_position_and_is_noisy(corpus):
    for st, p in zip(corpus.source_tags, corpus.projected_tags):
        m = min(len(st), len(p))
        assert np.array_equal(p[:m], st[:m]) and (p[m:] == 0).all()
    assert 0.1 < corpus.noise_rate < 0.4
    f1 = bio_span_f1(corpus.projected_tags, corpus.gold_target_tags, corpus.tag_names)["f1"]
    assert 0.3 < f1 < 0.8


def test_without_reordering_the_projection_is_exact():
    c = parallel_tags(100, p_swap=0.0, p_move=0.0, p_insert=0.0, random_state=1)
    assert c.noise_rate == 0.0
    assert all(np.array_equal(a, np.arange(len(a))) for a in c.alignment)


def test_aligner_projection_errs_at_random_and_language_is_fixed_by_its_seed():
    pos = parallel_tags(200, random_state=7)
    ali = parallel_tags(200, projection="aligner", p_miss=0.4, random_state=7)
    assert 0 < ali.noise_rate < pos.noise_rate
    other = parallel_tags(50, random_state=8)
    # same language seed: a source word has the same translation in both corpora
    table = {}
    for c in (pos, other):
        for s, t, a in zip(c.source_ids, c.target_ids, c.alignment):
            for x, y in zip(s[a[a >= 0]].tolist(), t[a >= 0].tolist()):
                assert table.setdefault(x, y) == y
    with pytest.raises(ValueError, match="projection"):
        parallel_tags(1, projection="x")


def test_span_f1_by_hand():
    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    gold = [np.array([1, 2, 0, 3]), np.array([0, 3, 4])]
    pred = [np.array([1, 2, 0, 1]), np.array([0, 3, 0])]  # one right, one wrong type, one wrong boundary
    r = bio_span_f1(pred, gold, names)
    assert r == pytest.approx({"precision": 1 / 3, "recall": 1 / 3, "f1": 1 / 3})
    assert bio_span_f1(gold, gold, names)["f1"] == 1.0


def test_span_f1_refuses_mismatched_lengths_instead_of_scoring_a_part():
    from labelwise.errors import ShapeError

    names = ["O", "B-PER", "I-PER"]
    gold = [np.array([1, 2, 0]), np.array([0, 1, 2])]
    with pytest.raises(ShapeError, match="1 predicted sequences but 2 gold"):
        bio_span_f1(gold[:1], gold, names)  # zip would score the first sentence alone: f1 1.0
    with pytest.raises(ShapeError, match="sentence 1 has 2 predicted tags and 3 gold"):
        bio_span_f1([gold[0], np.array([0, 1])], gold, names)
