"""TAIL (seed paper 13): normalisation, ANLS, value location, prompts, the teacher's answer filter and votes, the
distilled student, and extract_fields end to end with a fake teacher. Exact small cases throughout."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from labelwise.data.extraction_schema import schema_from_dict
from labelwise.data.spans import read_span_jsonl
from labelwise.errors import DataError, LLMError
from labelwise.generate.extraction import (FRAME_COLUMNS, ExtractionResult, SpanExtractorStudent, TaskAwareLabeler,
                                           answer_schema, extract_fields, generic_instruction, task_aware_instruction)
from labelwise.generate.field_values import (anls, field_anls, find_values, locate_value, normalise_value,
                                             parse_date, parse_number)
from labelwise.testing import FakeBackend
from labelwise.testing.receipts import RECEIPT_SCHEMA, SEEN, make_receipts

SCHEMA = schema_from_dict(RECEIPT_SCHEMA)
FIELDS = list(SCHEMA.fields)


# ---- ANLS: hand cases -------------------------------------------------------------------------------------------

def test_anls_hand_cases():
    assert anls("Golden Leaf", "  golden   LEAF ") == 1.0  # case and white space normalised on both sides
    assert anls("abcd", "abce") == 0.75  # one edit in four characters
    assert anls("abcd", "abef") == 0.0  # NL = 0.5 is not below the threshold
    assert anls("abcd", "abef", threshold=0.6) == 0.5
    assert anls(None, "") == 1.0 and anls("", None) == 1.0 and anls(None, None) == 1.0  # absent = empty
    assert anls("x", None) == 0.0 and anls(None, "x") == 0.0
    assert anls("12.30", ["12,30", "12.30"]) == 1.0  # the best gold variant counts
    scores = field_anls([{"a": "x", "b": None}, None], [{"a": "x", "b": "y"}, {"a": None, "b": "y"}], ["a", "b"])
    assert scores == {"a": 1.0, "b": 0.0, "mean": 0.5}


# ---- normalisation and location ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [("1.234,50 €", "1234.50"), ("$1,234.5", "1234.50"), ("12", "12.00"),
                                           ("40,94", "40.94"), ("1,234", "1234.00"), ("-3.5", "-3.50"),
                                           ("0.125", "0.125"), ("no number", None)])
def test_parse_number(raw, expected):
    assert parse_number(raw) == expected


@pytest.mark.parametrize("raw, expected", [("Date: 01/25/2023 13:38", "2023-01-25"), ("15.11.2023", "2023-11-15"),
                                           ("2024-11-17", "2024-11-17"), ("15. März 2024", "2024-03-15"),
                                           ("March 5, 2024", "2024-03-05"), ("31/12/2023", "2023-12-31"),
                                           ("13/13/2023", None), ("1.1.24", "2024-01-01")])
def test_parse_date(raw, expected):
    assert parse_date(raw) == expected


def test_normalise_value_by_type():
    assert normalise_value("$", "string", ("EUR", "USD")) == "USD"
    assert normalise_value("eur", "string", ("EUR", "USD")) == "EUR"
    assert normalise_value("GBP", "string", ("EUR", "USD")) is None
    assert normalise_value(12.3, "number") == "12.30" and normalise_value("12,7", "integer") == "12"
    # a JSON number whose repr is in exponent form is the number, not its first digit
    assert normalise_value(1e-05, "number") == "0.00001"
    assert normalise_value(1.5e20, "integer") == "150000000000000000000"
    assert normalise_value("  Old   Mill ", "string") == "Old Mill"
    assert normalise_value("null", "string") is None and normalise_value(None, "date") is None


def test_locate_value_finds_values_however_they_are_written():
    text = "Kiosk Foxmann\nDatum: 15.03.2024\nZwischensumme 84,86 €\nGesamt 100,98 €\nTOTAL $40.94"
    assert text[slice(*locate_value(text, "2024-03-15", "date"))] == "15.03.2024"
    assert text[slice(*locate_value(text, "100.98", "number"))] == "100,98"
    assert text[slice(*locate_value(text, "USD", "string", ("EUR", "USD")))] == "$"
    assert text[slice(*locate_value(text, "kiosk foxmann"))] == "Kiosk Foxmann"  # exact, case-insensitive
    assert text[slice(*locate_value(text, "Kiosk Foxman"))] == "Kiosk Foxmann"  # fuzzy, widened to the word
    assert locate_value(text, "Old Bean Cafe") is None and locate_value(text, "12.00", "number") is None
    assert [v for _, _, v in find_values("x1 4.45 and 1.234,50", "number")] == ["1.00", "4.45", "1234.50"]


# ---- prompts and the answer filter ------------------------------------------------------------------------------

def test_task_aware_prompt_has_definitions_rules_and_null_the_generic_one_only_names():
    aware, generic = task_aware_instruction(SCHEMA), generic_instruction(SCHEMA)
    assert "YYYY-MM-DD" in aware and "one of EUR, USD" in aware and "null" in aware
    assert "not the subtotal" in aware and RECEIPT_SCHEMA["instruction"] in aware
    assert generic == "Extract the following information from the document as JSON: merchant, date, total, currency."
    typed = answer_schema(SCHEMA)
    assert typed["properties"]["currency"] == {"enum": ["EUR", "USD", None]}
    assert typed["properties"]["date"]["pattern"] == "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
    assert typed["required"] == FIELDS and typed["additionalProperties"] is False
    assert all(p["type"] == ["string", "null"] for p in answer_schema(SCHEMA, task_aware=False)["properties"].values())


def test_labeler_drops_and_counts_bad_answers_and_normalises_good_ones():
    answers = iter([
        '{"merchant": "Old Mill", "date": "2024-03-15", "total": 12.3, "currency": "$"}',
        'not json at all',
        '{"merchant": "Old Mill", "date": "2024-03-15"}',  # fields missing
        '{"merchant": "A", "date": "someday", "total": 1, "currency": "EUR"}',  # not a date
        '{"merchant": null, "date": null, "total": null, "currency": null}',
    ])
    backend = FakeBackend(complete=lambda prompt: next(answers))
    labeler = TaskAwareLabeler(backend, SCHEMA, examples=[("Shop\nTOTAL 1.00", {"merchant": "Shop", "total": "1.00"})])
    out = labeler.label(["doc one", "doc two", "doc three", "doc four", "doc five"])
    assert out[0] == {"merchant": "Old Mill", "date": "2024-03-15", "total": "12.30", "currency": "USD"}
    assert out[1:4] == [None, None, None] and out[4] == dict.fromkeys(FIELDS)
    assert labeler.dropped == {"unparseable": 1, "invalid": 2}
    prompt = backend.prompts[0]
    assert prompt.endswith("Document:\ndoc one\nJSON:") and "Document:\nShop\nTOTAL 1.00\nJSON: {" in prompt
    assert '"date": null' in prompt  # a worked example's missing field is written as null


def test_votes_take_the_majority_per_field_with_agreement_as_confidence():
    answers = iter(['{"merchant": "A", "date": null, "total": 1, "currency": "EUR"}',
                    '{"merchant": "B", "date": null, "total": 1, "currency": "EUR"}',
                    'garbage',
                    '{"merchant": "A", "date": null, "total": 2, "currency": "EUR"}'])
    labeler = TaskAwareLabeler(FakeBackend(complete=lambda prompt: next(answers)), SCHEMA, n_votes=4)
    values, agreement = labeler.label_one("doc")
    assert values == {"merchant": "A", "date": None, "total": "1.00", "currency": "EUR"}
    assert agreement == {"merchant": 0.5, "date": 0.75, "total": 0.5, "currency": 0.75}  # dropped vote counts against
    assert labeler.dropped == {"unparseable": 1, "invalid": 0}


def test_generic_labeler_keeps_values_as_written():
    backend = FakeBackend(complete=lambda p: '{"merchant": "X", "date": "01/25/2023", "total": "$4", "currency": "$"}')
    out = TaskAwareLabeler(backend, SCHEMA, task_aware=False).label(["doc"])
    assert out == [{"merchant": "X", "date": "01/25/2023", "total": "$4", "currency": "$"}]


# ---- the student and the workflow ---------------------------------------------------------------------------------

def test_student_projects_teacher_values_onto_the_text():
    student = SpanExtractorStudent(list(SCHEMA.fields.values()))
    text = "Markt Bell\nSumme EUR 16,55\nDatum: 04.11.2024"
    spans = student.project(text, {"merchant": "Markt Bell", "date": "2024-11-04", "total": "16.55",
                                   "currency": "EUR"})
    assert [(text[s:e], name) for s, e, name in spans] == [("Markt Bell", "merchant"), ("04.11.2024", "date"),
                                                            ("16,55", "total"), ("EUR", "currency")]


def test_student_span_without_a_value_of_its_kind_gives_no_typed_value():
    """A date or amount span that holds no date or amount is no value (not its raw text as the date)."""
    date, total, merchant = (SCHEMA.fields[name] for name in ("date", "total", "merchant"))
    text = "Markt Bell\nSumme EUR 16,55\nDatum: 04.11.2024"
    assert SpanExtractorStudent._value(text, 0, 10, date) is None
    assert SpanExtractorStudent._value(text, 0, 5, total) is None
    assert SpanExtractorStudent._value(text, 40, 44, date) == ("2024-11-04", 34, 44)
    assert SpanExtractorStudent._value(text, 0, 10, merchant) == ("Markt Bell", 0, 10)


def _gold_teacher(receipts):
    """A fake LLM that answers each receipt's gold fields (read from the document at the end of the prompt)."""
    by_text = {text.strip(): gold for text, gold in zip(receipts.texts, receipts.gold)}

    def complete(prompt):
        document = prompt.rpartition("Document:\n")[2].rpartition("\nJSON:")[0]
        gold = dict(by_text[document])
        gold["total"] = float(gold["total"])
        return json.dumps(gold)

    return FakeBackend(complete=complete)


def test_extract_fields_teacher_subset_then_student_and_the_files(tmp_path):
    receipts = make_receipts(36, templates=SEEN, seed=7)
    backend = _gold_teacher(receipts)
    result = extract_fields(receipts.texts, SCHEMA, backend, teacher_rows=20, random_state=0)
    assert len(backend.prompts) == 20 and result.summary["teacher_rows"] == 20
    sources = [set(s.values()) for s in result.source]
    assert sum(s == {"teacher"} for s in sources) == 20 and sum(s == {"student"} for s in sources) == 16
    gold = [{k: g[k] for k in FIELDS} for g in receipts.gold]
    taught = [i for i, s in enumerate(sources) if s == {"teacher"}]
    assert [result.values[i] for i in taught] == [gold[i] for i in taught]
    rest = [i for i in range(36) if i not in taught]  # the student learnt the layouts from 20 labelled receipts
    assert field_anls([result.values[i] for i in rest], [gold[i] for i in rest], FIELDS)["mean"] >= 0.9
    frame = result.to_frame()
    assert list(frame.columns) == FRAME_COLUMNS and len(frame) == 36 * 4
    assert str(frame["start"].dtype) == "Int64" and set(frame["kind"]) == {"field"}
    assert frame["confidence"].between(0, 1).all()
    for line in frame.itertuples():  # every value is located in its text
        written = receipts.texts[line.row][line.start:line.end]
        assert normalise_value(written, SCHEMA.fields[line.name].type, SCHEMA.fields[line.name].values) == line.value
    result.save(tmp_path, ids=[f"r{i}" for i in range(36)], id_name="receipt_id")
    table = pd.read_csv(tmp_path / "extractions.csv")
    assert list(table.columns) == ["row", "receipt_id", *FRAME_COLUMNS[1:]] and table["receipt_id"][0] == "r0"
    records = read_span_jsonl(tmp_path / "spans.jsonl")
    assert [r.text for r in records] == receipts.texts and records[0].record["receipt_id"] == "r0"
    assert sorted(s.label for s in records[0].spans) == sorted(FIELDS)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["teacher_usable_rows"] == 20 and summary["student_rows"] == 16
    back = ExtractionResult.load(tmp_path)
    assert back.values == result.values and back.spans == result.spans and back.source == result.source


def test_no_distill_labels_every_row_and_no_usable_answer_is_an_error():
    receipts = make_receipts(4, templates=SEEN, seed=8)
    result = extract_fields(receipts.texts, SCHEMA, _gold_teacher(receipts), distill=False)
    assert {v for s in result.source for v in s.values()} == {"teacher"} and "student_rows" not in result.summary
    with pytest.raises(LLMError, match="no usable answer.*2 unparseable"):
        extract_fields(["a", "b"], SCHEMA, FakeBackend(complete=lambda p: "{oops"))
    assert math.isclose(result.to_frame()["confidence"].min(), 1.0)


def test_an_empty_text_goes_to_no_one_and_gets_no_values():
    """The teacher never reads an empty text (it would answer from nothing) and the student finds nothing in it."""
    receipts = make_receipts(3, templates=SEEN, seed=8)
    texts = [receipts.texts[0], "", receipts.texts[1], "  ", receipts.texts[2]]
    backend = _gold_teacher(receipts)
    result = extract_fields(texts, SCHEMA, backend, distill=False)
    assert len(backend.prompts) == 3 and set(result.to_frame()["row"]) == {0, 2, 4}
    result = extract_fields(texts, SCHEMA, _gold_teacher(receipts), teacher_rows=2)
    assert result.summary["teacher_rows"] == 2 and result.values[1] == dict.fromkeys(FIELDS)
    with pytest.raises(DataError, match="All 2 texts are empty"):
        extract_fields(["", " "], SCHEMA, FakeBackend(complete=lambda p: "{}"))


def test_a_formula_like_value_is_neutralised_in_the_csv_and_read_back_as_it_was(tmp_path):
    text = "=SUM(A1) shop\nTOTAL 3.00"
    result = ExtractionResult([text], ["merchant", "total"], [{"merchant": "=SUM(A1) shop", "total": "3.00"}],
                              [{"merchant": (0, 13), "total": None}], [{"merchant": 0.5, "total": 1.0}],
                              [{"merchant": "student", "total": "teacher"}], {"fields": ["merchant", "total"]})
    result.save(tmp_path)
    assert pd.read_csv(tmp_path / "extractions.csv", dtype=str)["value"].tolist() == ["'=SUM(A1) shop", "3.00"]
    back = ExtractionResult.load(tmp_path)
    assert back.values == result.values and back.spans == result.spans and back.confidence == result.confidence
    with pytest.raises(DataError, match="has no summary.json: give the folder"):
        ExtractionResult.load(tmp_path / "elsewhere")
