"""TAIL's claim at a small budget (notes 13.4): a student distilled from the LLM teacher's labels beats the
rule-based baseline on a receipt layout that neither the rules nor the teacher's labels covered.

The teacher is the packaged Gemma 3 270M with the task-aware prompt, its labels of 30 unlabelled training receipts
cached in tests/fixtures/tail_teacher_labels.json (written by `python bench/tail_extraction.py --train 30
--save-teacher-labels tests/fixtures/tail_teacher_labels.json`; the bench has the other arms and the figures)."""

from __future__ import annotations

import json
from pathlib import Path

from labelwise.data.extraction_schema import schema_from_dict
from labelwise.generate.field_values import field_anls
from labelwise.generate.span_student import SpanExtractorStudent
from labelwise.testing.receipts import RECEIPT_SCHEMA, UNSEEN, make_receipts, regex_fields

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tail_teacher_labels.json"
SCHEMA = schema_from_dict(RECEIPT_SCHEMA)
FIELDS = list(SCHEMA.fields)


def test_student_distilled_from_cached_gemma_labels_beats_the_regex_baseline_on_the_unseen_layout():
    cached = json.loads(FIXTURE.read_text(encoding="utf-8"))
    spec = cached["receipts"]
    train = make_receipts(spec["n"], templates=tuple(spec["templates"]), seed=spec["seed"])
    assert train.texts == cached["texts"]  # the generator still makes the receipts the teacher read
    student = SpanExtractorStudent(list(SCHEMA.fields.values())).fit(train.texts, cached["labels"])
    unseen = make_receipts(30, templates=UNSEEN, seed=3)
    distilled = field_anls(student.predict(unseen.texts), unseen.gold, FIELDS)
    rules = field_anls([regex_fields(t) for t in unseen.texts], unseen.gold, FIELDS)
    assert distilled["mean"] >= rules["mean"] + 0.3, (distilled, rules)
