"""Span labels: spans <-> BIO/BILOU tags, repair rules, validation errors, CoNLL and JSONL round trips, NLU++."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from labelwise.data.spans import (
    ConllSentence,
    conll_to_records,
    Span,
    SpanRecord,
    convert_tags,
    nlupp_spans,
    read_conll,
    read_span_jsonl,
    records_to_conll,
    spans_to_tags,
    tags_to_spans,
    tokenize,
    validate_spans,
    write_conll,
    write_span_jsonl,
)
from labelwise.errors import DataError, ParameterError

TEXT = "John Smith flew to New York, today."
#       0    5     11   16 19  23  27 29  33
SPANS = [Span(0, 10, "PER"), Span(19, 27, "LOC")]


def test_tokenize_offsets():
    assert tokenize("Hi, Bob's") == [(0, 2), (2, 3), (4, 7), (7, 8), (8, 9)]
    assert tokenize("  ") == []
    assert [TEXT[a:b] for a, b in tokenize(TEXT)] == ["John", "Smith", "flew", "to", "New", "York", ",", "today", "."]


def test_spans_to_bio_and_bilou():
    assert spans_to_tags(TEXT, SPANS) == ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O", "O", "O"]
    assert spans_to_tags(TEXT, SPANS, scheme="bilou") == ["B-PER", "L-PER", "O", "O", "B-LOC", "L-LOC", "O", "O", "O"]
    assert spans_to_tags(TEXT, [(29, 34, "DATE"), (11, 15, "V"), (0, 4, "P")], scheme="BILOU") == [
        "U-P", "O", "U-V", "O", "O", "O", "O", "U-DATE", "O"]
    three = [(0, 3), (4, 7), (8, 11)]
    assert spans_to_tags("aaa bbb ccc", [(0, 11, "X")], three, "BILOU") == ["B-X", "I-X", "L-X"]


def test_other_tokenizer_offsets_with_subwords():
    # a subword tokenizer: "New" "Yo" "rk"; special tokens with (0, 0) get "O"
    offsets = [(0, 0), (0, 3), (4, 6), (6, 8), (0, 0)]
    assert spans_to_tags("New York", [(0, 8, "LOC")], offsets) == ["O", "B-LOC", "I-LOC", "I-LOC", "O"]
    assert tags_to_spans(["O", "B-LOC", "I-LOC", "I-LOC", "O"], offsets) == [Span(0, 8, "LOC")]


def test_round_trip_both_schemes():
    off = tokenize(TEXT)
    for scheme in ("BIO", "BILOU"):
        assert tags_to_spans(spans_to_tags(TEXT, SPANS, off, scheme), off) == SPANS
    bio = spans_to_tags(TEXT, SPANS, off)
    assert convert_tags(convert_tags(bio, "BILOU"), "BIO") == bio


def test_repair_rules():
    off = [(2 * k, 2 * k + 1) for k in range(6)]
    # I- without B- starts a span
    assert tags_to_spans(["O", "I-X", "I-X", "O", "O", "O"], off) == [Span(2, 5, "X")]
    # I- of another label starts a new span
    assert tags_to_spans(["B-X", "I-Y", "O", "O", "O", "O"], off) == [Span(0, 1, "X"), Span(2, 3, "Y")]
    # B- after B- of the same label: two spans
    assert tags_to_spans(["B-X", "B-X", "O", "O", "O", "O"], off) == [Span(0, 1, "X"), Span(2, 3, "X")]
    # I- after a closed L- or U- starts a new span; a span open at the end is closed
    assert tags_to_spans(["B-X", "L-X", "I-X", "U-X", "I-X", "I-X"], off) == [
        Span(0, 3, "X"), Span(4, 5, "X"), Span(6, 7, "X"), Span(8, 11, "X")]
    # IOBES's E-/S- read as L-/U-; a bare label as I-
    assert tags_to_spans(["S-X", "B-Y", "E-Y", "PER", "PER", "O"], off) == [
        Span(0, 1, "X"), Span(2, 5, "Y"), Span(6, 9, "PER")]
    assert convert_tags(["I-X", "I-X", "O", "I-Y"], "BIO") == ["B-X", "I-X", "O", "B-Y"]


@pytest.mark.parametrize("spans, message", [
    ([(5, 5, "X")], "row 7: span [5, 5) 'X': start >= end; a span needs at least one character."),
    ([(6, 2, "X")], "row 7: span [6, 2) 'X': start >= end; a span needs at least one character."),
    ([(30, 40, "X")], "row 7: span [30, 40) 'X' is out of range: the text has 35 characters."),
    ([(-1, 4, "X")], "row 7: span [-1, 4) 'X' is out of range: the text has 35 characters."),
    ([(0, 10, "PER"), (5, 18, "LOC")],
     "row 7: spans [0, 10) 'PER' and [5, 18) 'LOC' overlap; keep one of them (token tags hold one label per token)."),
    ([(0, 4, "")], "row 7: span [0, 4): the label must be a non-empty string, got ''."),
    ([(0.0, 4, "X")], "row 7: span (0.0, 4, 'X'): start and end must be integers (character offsets)."),
    ([(0, 4)], "row 7: span (0, 4) is not (start, end, label); give three values."),
])
def test_validation_errors(spans, message):
    with pytest.raises(DataError) as err:
        validate_spans(TEXT, spans, row=7)
    assert str(err.value) == message
    with pytest.raises(DataError):
        spans_to_tags(TEXT, spans, row=7)


def test_cut_token_errors_name_token_and_nearest_boundaries():
    with pytest.raises(DataError) as err:
        spans_to_tags(TEXT, [(2, 10, "PER")], row="doc1")
    assert str(err.value) == ("row doc1: span [2, 10) 'PER': start 2 cuts token 0 'John' [0, 4); "
                              "nearest token starts: 0 or 5.")
    with pytest.raises(DataError) as err:
        spans_to_tags(TEXT, [(19, 25, "LOC")])
    assert str(err.value) == ("span [19, 25) 'LOC': end 25 cuts token 5 'York' [23, 27); "
                              "nearest token ends: 22 or 27.")
    with pytest.raises(DataError) as err:
        spans_to_tags("a  b", [(1, 3, "X")], row=0)
    assert str(err.value) == "row 0: span [1, 3) 'X' covers no token ('  '); remove it or fix its offsets."
    with pytest.raises(ParameterError):
        spans_to_tags(TEXT, SPANS, scheme="IOB2")


def test_tag_errors():
    with pytest.raises(DataError) as err:
        tags_to_spans(["O", "X-PER"], [(0, 1), (2, 3)], row=3)
    assert str(err.value) == ("row 3: token 1: tag 'X-PER' has an unknown prefix or no label; use B-X, I-X, L-X, U-X "
                              "(or E-X, S-X) or O.")
    with pytest.raises(DataError, match="row 3: 1 tags for 2 tokens"):
        tags_to_spans(["O"], [(0, 1), (2, 3)], row=3)
    with pytest.raises(DataError, match="unknown prefix or no label"):
        tags_to_spans(["B-"], [(0, 1)])


CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

Hi UH B-INTJ O
"""


def test_conll_2003_read_and_exact_round_trip(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text(CONLL)
    sents = read_conll(src)
    assert [s.tokens for s in sents] == [["EU", "rejects", "German"], ["Peter", "Blackburn"], ["Hi"]]
    assert sents[0].tags == ["B-ORG", "O", "B-MISC"] and sents[0].columns[0] == ["NNP", "B-NP"]
    assert [s.doc_start for s in sents] == ["-DOCSTART- -X- -X- O", None, "-DOCSTART- -X- -X- O"]
    assert sents[1].text_and_offsets() == ("Peter Blackburn", [(0, 5), (6, 15)])
    assert sents[1].spans() == [Span(0, 15, "PER")]
    out = write_conll(tmp_path / "sub" / "out.txt", sents, sep=" ")
    assert out.read_text() == CONLL + "\n"  # a blank line ends the last sentence too
    assert read_conll(out) == sents


def test_conll_two_columns_tab(tmp_path):
    src = tmp_path / "in.tsv"
    src.write_text("New\tB-LOC\nYork\tI-LOC\n\n\nok\tO\n")
    sents = read_conll(src)
    assert sents == [ConllSentence(["New", "York"], ["B-LOC", "I-LOC"], [[], []]), ConllSentence(["ok"], ["O"], [[]])]
    assert write_conll(tmp_path / "out.tsv", sents).read_text() == "New\tB-LOC\nYork\tI-LOC\n\nok\tO\n\n"


def test_conll_to_jsonl_and_back(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text(CONLL)
    sents = read_conll(src)
    recs = conll_to_records(sents)
    assert [(r.text, r.spans) for r in recs] == [
        ("EU rejects German", [Span(0, 2, "ORG"), Span(11, 17, "MISC")]), ("Peter Blackburn", [Span(0, 15, "PER")]),
        ("Hi", [])]
    back = records_to_conll(read_span_jsonl(write_span_jsonl(tmp_path / "s.jsonl", recs)))
    assert [(s.tokens, s.tags) for s in back] == [(s.tokens, s.tags) for s in sents]
    spaces = records_to_conll([SpanRecord("U.S. GDP", [Span(0, 4, "LOC")])],
                              lambda t: [m.span() for m in re.finditer(r"\S+", t)], "BILOU")
    assert (spaces[0].tokens, spaces[0].tags) == (["U.S.", "GDP"], ["U-LOC", "O"])
    with pytest.raises(DataError, match=r"row 1: span \[0, 2\) 'LOC': end 2 cuts token 0 'USA'"):
        records_to_conll([SpanRecord("ok", []), SpanRecord("USA GDP", [Span(0, 2, "LOC")])])


def test_long_document_with_overlapping_tokenizer_offsets():
    words = ["w"] * 2000
    text = " ".join(words)
    spans = [Span(4 * k, 4 * k + 3, "X") for k in range(500)]  # tokens 2k and 2k + 1 (start 4k, 4k + 2)
    tags = spans_to_tags(text, spans)
    assert tags[:5] == ["B-X", "I-X", "B-X", "I-X", "B-X"] and tags_to_spans(tags, tokenize(text)) == spans
    # tokens out of order: B- goes to the first by position; nested offsets take the path without bisection
    assert spans_to_tags("w w", [(0, 3, "X")], [(2, 3), (0, 1)]) == ["I-X", "B-X"]
    assert spans_to_tags("w w w", [(0, 5, "X")], [(0, 5), (2, 3), (4, 5)]) == ["B-X", "I-X", "I-X"]
    with pytest.raises(DataError, match="start 2 cuts token 0 'w w w' \\[0, 5\\)"):
        spans_to_tags("w w w", [(2, 5, "X")], [(0, 5), (0, 1), (2, 3), (4, 5)])


def test_conll_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("a B-X\nlonely\n")
    with pytest.raises(DataError) as err:
        read_conll(bad)
    assert str(err.value) == f"{bad}, line 2: 'lonely' has one column; expected 'token<TAB>tag' (the tag last)."
    bad.write_text("a NN B-X\nb O\n")
    with pytest.raises(DataError) as err:
        read_conll(bad)
    assert str(err.value) == f"{bad}, line 2: 2 columns, but the sentence's first line has 3."
    with pytest.raises(DataError, match="2 tokens, 1 tags"):
        write_conll(tmp_path / "o.txt", [ConllSentence(["a", "b"], ["O"])])
    assert not (tmp_path / "o.txt").exists()


def test_jsonl_formats_and_round_trip(tmp_path):
    rows = [
        {"id": 1, "text": "Ann met Bob", "spans": [{"start": 8, "end": 11, "label": "PER", "token_start": 2},
                                                   {"start": 0, "end": 3, "label": "PER"}], "meta": {"a": [1]}},
        {"text": "in Paris", "label": [[3, 8, "LOC"]], "user": "x"},
        {"text": "Rome", "entities": [[0, 4, "GPE"]]},
        {"text": "nothing here"},
    ]
    src = tmp_path / "in.jsonl"
    text = "".join(json.dumps(r) + "\n" for r in rows)
    src.write_text(text + "\n")
    recs = read_span_jsonl(src)
    assert [r.spans for r in recs] == [[Span(0, 3, "PER"), Span(8, 11, "PER")], [Span(3, 8, "LOC")],
                                       [Span(0, 4, "GPE")], []]
    assert [r.key for r in recs] == ["spans", "label", "entities", "spans"]
    out = write_span_jsonl(tmp_path / "out.jsonl", recs)
    assert out.read_text() == text  # unchanged spans: every field as read, extra span fields kept
    recs[0].spans = [Span(8, 11, "PER"), Span(4, 7, "V")]
    recs[1].spans.append(Span(0, 2, "X"))
    recs[3].spans = [Span(0, 7, "NEG")]
    lines = [json.loads(x) for x in write_span_jsonl(out, recs).read_text().splitlines()]
    assert lines[0] == {"id": 1, "text": "Ann met Bob", "spans": [
        {"start": 4, "end": 7, "label": "V"}, {"start": 8, "end": 11, "label": "PER", "token_start": 2}],
        "meta": {"a": [1]}}
    assert lines[1] == {"text": "in Paris", "label": [[0, 2, "X"], [3, 8, "LOC"]], "user": "x"}
    assert lines[2] == rows[2]
    assert lines[3] == {"text": "nothing here", "spans": [{"start": 0, "end": 7, "label": "NEG"}]}
    new = write_span_jsonl(tmp_path / "new.jsonl", [SpanRecord("ab", [Span(0, 1, "A")])])
    assert new.read_text() == '{"text": "ab", "spans": [{"start": 0, "end": 1, "label": "A"}]}\n'


def test_jsonl_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    for content, message in [
        ('{"text": "ab"}\n{"text": "ab", "spans": [[0, 5, "X"]]}\n',
         "line 2: span [0, 5) 'X' is out of range: the text has 2 characters."),
        ('{"text": "abc", "label": [[0, 2, "X"], [1, 3, "Y"]]}\n',
         "line 1: spans [0, 2) 'X' and [1, 3) 'Y' overlap"),
        ('{"text": "abc", "spans": [{"start": 0, "label": "X"}]}\n',
         "line 1: span {'start': 0, 'label': 'X'} needs 'start', 'end' and 'label'."),
        ('{"txt": "abc"}\n', "line 1: expected an object with a string 'text'."),
        ('{"text": \n', "line 1: not valid JSON"),
    ]:
        bad.write_text(content)
        with pytest.raises(DataError) as err:
            read_span_jsonl(bad)
        assert str(err.value).startswith(f"{bad}, {message}")
    with pytest.raises(DataError, match="o.jsonl, row 0: spans \\[0, 2\\) 'X' and \\[1, 3\\) 'Y' overlap"):
        write_span_jsonl(tmp_path / "o.jsonl", [SpanRecord("abc", [Span(0, 2, "X"), Span(1, 3, "Y")])])
    assert not (tmp_path / "o.jsonl").exists()


def test_nlupp_spans_keep_longest_of_nested():
    slots = [{"slot": "date_period", "start": 0, "end": 10}, {"slot": "date", "start": 5, "end": 10}]
    assert nlupp_spans("only today", slots) == [Span(0, 10, "date_period")]
    slots = [{"slot": "b", "start": 5, "end": 10}, {"slot": "a", "start": 0, "end": 4}, {"slot": "e", "start": 3,
                                                                                          "end": 3}]
    assert nlupp_spans("only today", slots) == [Span(0, 4, "a"), Span(5, 10, "b")]


@pytest.mark.shared
def test_nlupp_spans_valid_and_bio_round_trip_exact():
    from labelwise.data.nlupp import load_nlupp

    root = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "nlupp"
    if not root.is_dir():
        pytest.skip(f"NLU++ not found at {root}")
    table = load_nlupp(root)
    aligned = misaligned = n_spans = 0
    for rid, text, slots in zip(table["id"], table["text"], table["slots"]):
        spans = nlupp_spans(text, slots, row=rid)
        assert validate_spans(text, spans) == spans
        n_spans += len(spans)
        off = tokenize(text)
        try:
            tags = spans_to_tags(text, spans, off, row=rid)
        except DataError as exc:
            assert "cuts token" in str(exc)
            misaligned += 1
            continue
        aligned += 1
        assert tags_to_spans(tags, off) == spans
        assert tags_to_spans(spans_to_tags(text, spans, off, "BILOU"), off) == spans
    # 3080 utterances, 1987 slots of which 2 are nested in a longer one; one ('5ish') cuts a token
    assert (len(table), n_spans, aligned, misaligned) == (3080, 1985, 3079, 1)


def test_span_cells_of_a_table_are_read_and_checked(tmp_path):
    from labelwise.data.spans import parse_spans, read_span_data

    path = tmp_path / "slots.csv"
    path.write_text('text,spans\n"Ann met Bob","[[0, 3, ""PER""], {""start"": 8, ""end"": 11, ""label"": ""PER""}]"\n'
                    'no spans here,\n', encoding="utf-8")
    texts, spans = read_span_data(path, spans="spans")
    assert texts == ["Ann met Bob", "no spans here"]
    assert spans == [[Span(0, 3, "PER"), Span(8, 11, "PER")], []]
    with pytest.raises(DataError, match=r"row 4: span \[0, 1\] is neither"):
        parse_spans("[[0, 1]]", "abc", 4)
    with pytest.raises(DataError, match=r"row 2: span .* needs 'start', 'end' and 'label'"):
        parse_spans([{"start": 0, "end": 1}], "abc", 2)
    with pytest.raises(DataError, match="no column 'slots'"):
        read_span_data(path, spans="slots")
