"""Span projection baselines (exact, fuzzy, embedding) and span_f1 on small hand cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise.data.spans import Span
from labelwise.errors import ParameterError
from labelwise.generate.projection_baselines import project_embedding, project_exact, project_fuzzy, span_f1

# "Federer" twice on neither side, "Nadal" twice on both: the two Nadals must map in order.
REPEAT_SRC = "Federer thanked Nadal, and Nadal thanked the fans."
REPEAT_TGT = "Federer a remercié Nadal, et Nadal a remercié les fans."
REPEAT_SPANS = [Span(0, 7, "PER"), Span(16, 21, "PER"), Span(27, 32, "PER")]
REPEAT_GOLD = [Span(0, 7, "PER"), Span(19, 24, "PER"), Span(29, 34, "PER")]

LONDON_SRC, LONDON_TGT = "The office is in London.", "La oficina está en Londres."  # London: 17..23; Londres: 19..26
GERMANY_SRC, GERMANY_TGT = "Germany won on Wednesday.", "Deutschland hat am Mittwoch gewonnen."


def test_hand_cases_read_what_they_say():
    assert [REPEAT_SRC[s.start:s.end] for s in REPEAT_SPANS] == ["Federer", "Nadal", "Nadal"]
    assert [REPEAT_TGT[s.start:s.end] for s in REPEAT_GOLD] == ["Federer", "Nadal", "Nadal"]
    assert (LONDON_SRC[17:23], LONDON_TGT[19:26]) == ("London", "Londres")
    assert (GERMANY_SRC[0:7], GERMANY_SRC[15:24]) == ("Germany", "Wednesday")


@pytest.mark.parametrize("projector", [project_exact, project_fuzzy])
def test_a_repeated_entity_maps_to_its_occurrences_in_order(projector):
    assert projector(REPEAT_SRC, REPEAT_SPANS, REPEAT_TGT) == REPEAT_GOLD


def test_exact_is_case_insensitive_whole_word_and_nearest_by_relative_position():
    # "Ulm" inside "Ulmer" is not a match; of the two "ulm" words, the one near the end (like the source's) wins
    source = "The cathedral of Ulm is tall, said the guide in Ulm."
    target = "ULM: das Ulmer Münster ist hoch, sagte man in ulm."
    assert (source[17:20], source[48:51], target[0:3], target[46:49]) == ("Ulm", "Ulm", "ULM", "ulm")
    assert project_exact(source, [Span(48, 51, "LOC")], target) == [Span(46, 49, "LOC")]
    assert project_exact(source, [Span(17, 20, "LOC")], target) == [Span(0, 3, "LOC")]


def test_exact_loses_every_changed_form_and_fuzzy_keeps_the_spelling_level_ones():
    london = [Span(17, 23, "LOC")]
    assert project_exact(LONDON_SRC, london, LONDON_TGT) == [None]
    assert project_fuzzy(LONDON_SRC, london, LONDON_TGT) == [Span(19, 26, "LOC")]  # ratio 2*4/13 = 0.615 > 0.5
    assert project_fuzzy(LONDON_SRC, london, LONDON_TGT, threshold=0.7) == [None]
    # case and accents are not edits: Mexico -> México scores 1.0
    assert project_fuzzy("Made in Mexico.", [Span(8, 14, "LOC")], "Hecho en México.") == [Span(9, 15, "LOC")]
    # translations that share (almost) no letters are lost by both
    spans = [Span(0, 7, "LOC"), Span(15, 24, "DATE")]
    assert project_exact(GERMANY_SRC, spans, GERMANY_TGT) == [None, None]
    assert project_fuzzy(GERMANY_SRC, spans, GERMANY_TGT) == [None, None]


def test_fuzzy_takes_extra_words_for_a_longer_translation():
    source, target = "The Tour de France starts in July.", "El Tour de Francia empieza en julio."
    # "Tour de France" (3 tokens) -> "Tour de Francia": ratio 2*13/29 = 0.897
    assert project_fuzzy(source, [Span(4, 18, "MISC")], target) == [Span(3, 18, "MISC")]


@pytest.mark.parametrize("projector", [project_exact, project_fuzzy])
def test_no_spans_or_an_empty_target(projector):
    assert projector("Paris is big.", [], "París es grande.") == []
    assert projector("Paris is big.", [Span(0, 5, "LOC")], "") == [None]


class TableEncoder:
    """Known unit vectors for named texts, zero for every other text; counts the texts it embeds."""

    def __init__(self, table: dict[str, list[float]]):
        self.table, self.seen = table, []

    def encode(self, texts):
        self.seen += list(texts)
        return np.array([self.table.get(t, [0.0, 0.0]) for t in texts])


def test_embedding_takes_the_closest_n_gram_and_never_overlaps():
    encoder = TableEncoder({"Bank": [1.0, 0.0], "Shore": [0.8, 0.6], "banco": [1.0, 0.0], "Orilla": [0.0, 1.0]})
    source, target = "Bank and Shore.", "Orilla del banco."
    spans = [Span(0, 4, "ORG"), Span(9, 14, "LOC")]
    # Shore is closest to "banco" (0.8) but Bank holds it (1.0): Shore takes "Orilla" (0.6 > 0.5)
    assert project_embedding(source, spans, target, encoder=encoder) == [Span(11, 16, "ORG"), Span(0, 6, "LOC")]
    assert sorted(encoder.seen[2:]) == sorted(["Orilla", "Orilla del", "Orilla del banco", "del", "del banco",
                                               "banco"])  # n-grams of up to 1 + 2 tokens, each once
    assert project_embedding(source, spans, target, encoder=encoder, threshold=0.7) == [Span(11, 16, "ORG"), None]
    assert project_embedding(source, [], target, encoder=encoder) == []
    assert project_embedding(source, spans, "", encoder=encoder) == [None, None]


@pytest.mark.model
def test_minilm_embedding_keeps_a_name_and_misses_a_changed_form():
    source, target = "Angela Merkel visited Germany on Monday.", "Angela Merkel visitó Alemania el lunes."
    spans = [Span(0, 13, "PER"), Span(22, 29, "LOC"), Span(33, 39, "DATE")]
    # all-MiniLM-L6-v2 is English-trained: Germany / Alemania and Monday / lunes stay below the 0.5 cosine
    assert project_embedding(source, spans, target) == [Span(0, 13, "PER"), None, None]


def test_span_f1_counts_exact_matches_and_none_as_a_miss():
    predicted = [[Span(0, 5, "PER"), None], [Span(3, 6, "LOC")]]
    gold = [[(0, 5, "PER"), (7, 9, "LOC")], [Span(3, 6, "ORG")]]  # the second row's label is wrong
    scores = span_f1(predicted, gold)
    assert (scores["tp"], scores["n_predicted"], scores["n_gold"]) == (1, 2, 3)
    assert scores["precision"] == 0.5 and scores["recall"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx(0.4)
    # a gold span matches one prediction only
    assert span_f1([[Span(0, 5, "PER"), Span(0, 5, "PER")]], [[(0, 5, "PER")]])["precision"] == 0.5
    assert span_f1([[None]], [[(0, 5, "PER")]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0,
                                                    "n_predicted": 0, "n_gold": 1}
    with pytest.raises(ParameterError, match="2 rows of predictions but 1 rows"):
        span_f1([[], []], [[]])
