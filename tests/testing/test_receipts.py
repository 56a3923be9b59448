"""The receipt generator of TAIL's claims: deterministic, six layouts in two languages with one held out, and every
gold field written in its receipt (in the layout's own form); the regex baseline reads the seen layouts only."""

from __future__ import annotations

from labelwise.data.extraction_schema import schema_from_dict
from labelwise.generate.field_values import field_anls, locate_value
from labelwise.testing.receipts import RECEIPT_SCHEMA, SEEN, TEMPLATES, UNSEEN, make_receipts, regex_fields

SCHEMA = schema_from_dict(RECEIPT_SCHEMA)


def test_receipts_are_deterministic_and_cover_every_layout():
    a, b = make_receipts(24, seed=3), make_receipts(24, seed=3)
    assert a.texts == b.texts and a.gold == b.gold and a.texts != make_receipts(24, seed=4).texts
    assert len(TEMPLATES) == 6 and set(UNSEEN) <= set(TEMPLATES) and not set(UNSEEN) & set(SEEN)
    assert [a.templates.count(t) for t in TEMPLATES] == [4] * 6
    german = [t for t, tmpl in zip(a.texts, a.templates) if tmpl in ("kassenbon", "rechnung")]
    assert all("MwSt" in t for t in german) and {g["currency"] for g in a.gold} == {"EUR", "USD"}
    assert {len(g["date"]) for g in a.gold} == {10} and all(g["total"].count(".") == 1 for g in a.gold)


def test_every_gold_field_is_written_in_its_receipt():
    data = make_receipts(60, seed=5)
    for text, gold in zip(data.texts, data.gold):
        for name, spec in SCHEMA.fields.items():
            assert locate_value(text, gold[name], spec.type, spec.values) is not None, (name, gold[name], text)


def test_regex_baseline_reads_the_seen_layouts_and_misses_the_unseen_one():
    fields = list(SCHEMA.fields)
    seen, unseen = make_receipts(25, templates=SEEN, seed=6), make_receipts(10, templates=UNSEEN, seed=6)
    assert field_anls([regex_fields(t) for t in seen.texts], seen.gold, fields)["mean"] == 1.0
    assert field_anls([regex_fields(t) for t in unseen.texts], unseen.gold, fields)["mean"] < 0.4
