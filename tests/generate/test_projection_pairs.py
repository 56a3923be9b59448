"""The hand-written span-projection fixture (tests/fixtures/projection_pairs.jsonl) is well formed.

Its pairs are the ground truth of ``bench/span_projection.py``: an offset off by one, or a ``changed_form`` flag
that does not match the texts, would silently change every method's score.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from labelwise.data.spans import validate_spans

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "projection_pairs.jsonl"
KEYS = {"id", "source_lang", "target_lang", "source", "source_spans", "target", "target_spans", "changed_form"}


def _rows() -> list[dict]:
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_fixture_has_about_forty_en_to_es_fr_de_pairs_with_unique_ids():
    rows = _rows()
    assert all(set(r) == KEYS for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)
    assert 36 <= len(rows) <= 48
    assert {r["source_lang"] for r in rows} == {"en"}
    per_language = Counter(r["target_lang"] for r in rows)
    assert set(per_language) == {"es", "fr", "de"}
    assert max(per_language.values()) - min(per_language.values()) <= 2  # roughly equal thirds


def test_spans_are_in_range_apart_and_paired_label_by_label():
    for r in _rows():
        n = len(r["source_spans"])
        assert 1 <= n <= 3, r["id"]
        assert len(r["target_spans"]) == n == len(r["changed_form"]), r["id"]
        # validate_spans raises on an offset outside the text, an empty span or two overlapping spans
        validate_spans(r["source"], r["source_spans"], row=r["id"])
        validate_spans(r["target"], r["target_spans"], row=r["id"])
        for (s0, s1, source_label), (t0, t1, target_label) in zip(r["source_spans"], r["target_spans"]):
            assert source_label == target_label, r["id"]
            for text, a, b in ((r["source"], s0, s1), (r["target"], t0, t1)):
                assert text[a:b] == text[a:b].strip(), (r["id"], text[a:b])  # no space at an edge
                assert a == 0 or not text[a - 1].isalnum(), (r["id"], text[a:b])  # whole words
                assert b == len(text) or not text[b].isalnum(), (r["id"], text[a:b])


def test_changed_form_is_true_exactly_when_the_target_text_differs_and_for_at_least_half_of_the_spans():
    flags = []
    for r in _rows():
        for (s0, s1, _), (t0, t1, _), changed in zip(r["source_spans"], r["target_spans"], r["changed_form"]):
            assert changed == (r["source"][s0:s1].casefold() != r["target"][t0:t1].casefold()), r["id"]
            flags.append(changed)
    assert sum(flags) >= len(flags) / 2
    assert sum(flags) < len(flags)  # unchanged spans (names, brands) too
