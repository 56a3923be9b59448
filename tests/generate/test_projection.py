"""Span projection onto translations (Codec) with the deterministic ToyScorer."""

from __future__ import annotations

import math

import pytest

from labelwise.data.spans import Span, read_span_jsonl
from labelwise.errors import DataError, ParameterError
from labelwise.generate.projection import ProjectionResult, mark_source, project_spans, project_table
from labelwise.testing.toy_scorer import ToyScorer

SOURCE = "Only France and Britain backed the plan."
TARGET = "Solo Francia y Bretaña apoyaron el plan."
SPANS = [Span(5, 11, "LOC"), Span(16, 23, "LOC")]
LEXICON = {"France": "Francia", "Britain": "Bretaña"}


def _scorer(**kw):
    return ToyScorer(noise=0.3, lexicon=LEXICON, translations={SOURCE: TARGET}, **kw)


def test_mark_source_spaces_markers_like_the_paper():
    assert mark_source(SOURCE, SPANS[1]) == "Only France and [ Britain ] backed the plan."


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_spans_land_on_their_translations_with_exact_offsets(mode):
    out = project_spans(SOURCE, SPANS, TARGET, _scorer(), mode=mode)
    assert out == [Span(5, 12, "LOC"), Span(15, 22, "LOC")]
    assert [TARGET[s.start: s.end] for s in out] == ["Francia", "Bretaña"]


def test_offsets_survive_accents_and_leading_spaces():
    target = "  Él vio a Bretaña   y Francia."
    out = project_spans(SOURCE, SPANS, target, ToyScorer(noise=0.3, lexicon=LEXICON,
                                                         translations={SOURCE: target}))
    assert [target[s.start: s.end] for s in out] == ["Francia", "Bretaña"]


def test_empty_translation_and_overlap_fail_per_span():
    assert project_spans(SOURCE, SPANS, "  ", _scorer()) == [None, None]
    # both source spans align to the same target word: the second takes another candidate, never an overlap
    lexicon = {"France": "Francia", "Britain": "Francia"}
    out = project_spans(SOURCE, SPANS, TARGET, ToyScorer(noise=0.3, lexicon=lexicon, translations={SOURCE: TARGET}))
    assert out[0] == Span(5, 12, "LOC")
    assert out[1] is None or out[1].start >= 12 or out[1].end <= 5


def test_table_result_saves_span_jsonl_and_csv_and_loads_back(tmp_path):
    sources = [SOURCE, "Germany won.", "No entity here."]
    targets = [TARGET, "Alemania ganó.", ""]
    spans = [SPANS, [[0, 7, "LOC"]], []]
    scorer = ToyScorer(noise=0.3, lexicon={**LEXICON, "Germany": "Alemania"},
                       translations=dict(zip(sources, targets)))
    calls = []
    result = project_table(sources, spans, targets, scorer, progress=lambda *a: calls.append(a))
    assert calls[-1] == ("projecting spans", 3, 3)
    assert result.target_spans == [[Span(5, 12, "LOC"), Span(15, 22, "LOC")], [Span(0, 8, "LOC")], []]
    assert result.settings["scorer_calls"] > 0 and "3 spans projected" in repr(result)
    result.save(tmp_path)
    records = read_span_jsonl(tmp_path / "projected.jsonl")
    assert [r.text for r in records] == targets
    assert records[1].spans == [Span(0, 8, "LOC")] and records[1].record["source"] == "Germany won."
    frame = result.to_frame()
    assert list(frame["target_text"]) == ["Francia", "Bretaña", "Alemania"]
    assert list(frame["status"]) == ["projected"] * 3
    back = ProjectionResult.load(tmp_path)
    assert back.target_spans == result.target_spans and back.source_texts == sources
    assert back.to_frame().equals(frame)


def test_bad_input_raises_one_line_errors():
    with pytest.raises(ParameterError, match="mode"):
        project_spans(SOURCE, SPANS, TARGET, _scorer(), mode="greedy")
    with pytest.raises(DataError, match="translations"):
        project_table([SOURCE], [SPANS], [], _scorer())
    with pytest.raises(DataError, match="row 0"):
        project_table([SOURCE], [[[30, 99, "LOC"]]], [TARGET], _scorer())


def test_span_edges_drop_spaces_and_the_punctuation_the_entity_lacks():
    from labelwise.generate.projection import _char_span

    text = ' "John." '
    assert _char_span(text, [0], 0, 1, "PER", "John") == Span(2, 6, "PER")
    assert _char_span(text, [0], 0, 1, "ORG", '"Acme Inc."') == Span(1, 8, "ORG")
    assert _char_span(" . ", [0], 0, 1, "X", "John") is None


def test_a_scorer_error_fails_that_span_only():
    from labelwise.errors import LLMError

    scorer = _scorer()
    calls = []
    base = scorer.next_logprobs

    def refuse_britain(source, prefix, candidates):
        if "[ Britain ]" in source:
            raise LLMError("too long for the model's context")
        calls.append(source)
        return base(source, prefix, candidates)

    scorer.next_logprobs = refuse_britain
    out = project_spans(SOURCE, SPANS, TARGET, scorer, prune=False)
    assert out == [Span(5, 12, "LOC"), None]
    from labelwise.generate.projection import project_spans_detailed

    assert project_spans_detailed(SOURCE, SPANS, TARGET, scorer, prune=False)[1].status == \
        "failed: too long for the model's context"


def test_load_keeps_labels_that_look_like_formulas(tmp_path):
    """projection.csv is formula-neutralised ('=PER'); load takes labels from projected.jsonl, not from it."""
    source, target = "=cmd won.", "=cmd ganó."
    scorer = ToyScorer(noise=0.3, translations={source: target})
    result = project_table([source], [[[0, 4, "=PER"]]], [target], scorer)
    assert result.target_spans == [[Span(0, 4, "=PER")]]
    result.save(tmp_path)
    assert "'=PER" in (tmp_path / "projection.csv").read_text(encoding="utf-8")
    back = ProjectionResult.load(tmp_path)
    assert back.target_spans == result.target_spans
    assert back.projected[0][0].source == Span(0, 4, "=PER")


def test_project_spans_checks_its_spans_and_keeps_their_order():
    with pytest.raises(DataError, match="out of range"):  # was a silent search on a garbled marked source
        project_spans(SOURCE, [(30, 99, "LOC")], TARGET, _scorer())
    with pytest.raises(DataError, match="start and end"):
        project_spans(SOURCE, [{"start": 5, "end": 11, "label": "LOC"}], TARGET, _scorer())
    out = project_spans(SOURCE, SPANS[::-1], TARGET, _scorer())
    assert out == [Span(15, 22, "LOC"), Span(5, 12, "LOC")]


def test_rerank_keeps_similar_or_reverse_likely_candidates_and_orders_them_by_mode():
    from labelwise.generate.projection import _ranked

    long_ = (Span(0, 10, "X"), -1.0, 0.3, 4.0)  # kept by its reverse NLL (< 5)
    short = (Span(0, 5, "X"), -2.0, 0.4, 1.0)  # kept by its reverse NLL, the lowest
    tie = (Span(0, 4, "X"), -2.5, 0.2, 1.0)  # the same NLL, shorter: before `short` under "reverse"
    sure = (Span(0, 3, "X"), -3.0, 0.95, 9.0)  # similarity >= 0.9 wins
    neither = (Span(5, 8, "X"), -0.5, 0.1, 8.0)  # neither kept: after the kept ones
    found = [neither, long_, short, tie, sure]
    assert _ranked(found, "none") == found
    assert _ranked(found, "filter") == [sure, long_, short, tie, neither]
    assert _ranked(found, "reverse") == [sure, tie, short, long_, neither]


class ReversibleToy(ToyScorer):
    """A toy with Codec's reverse scorer: the same kind of model translating target entities back."""

    def reverse(self):
        return ToyScorer(noise=0.3, translations={"Francia": "France", "Bretaña": "Britain"})


def test_the_reverse_scorers_calls_count_in_the_table_settings():
    scorer = ReversibleToy(noise=0.3, lexicon=LEXICON, translations={SOURCE: TARGET})
    plain = _scorer()
    with_reverse = project_table([SOURCE], [SPANS], [TARGET], scorer)
    without = project_table([SOURCE], [SPANS], [TARGET], plain)
    assert with_reverse.target_spans == without.target_spans
    assert not any(math.isnan(p.reverse_nll) for p in with_reverse.projected[0])
    # the reverse scorer was asked once per distinct candidate: its calls are the model's calls too
    n_candidates = with_reverse.settings["scorer_calls"] - without.settings["scorer_calls"]
    assert n_candidates >= len(SPANS)
