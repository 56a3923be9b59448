"""The extraction schema file: what it reads, and the one-line error for each mistake (file and key named)."""

from __future__ import annotations

import pytest

from labelwise.data.extraction_schema import FieldSpec, read_schema
from labelwise.errors import DataError

GOOD = """
name: receipt
instruction: |
  Extract the header fields of a shop receipt.
fields:
  merchant: {description: "the shop's name as printed", type: string, required: true}
  date: {description: "date of purchase", type: date}
  total: {description: "amount paid", type: number}
  currency: {description: "ISO code", type: string, values: [EUR, USD]}
  note: "anything handwritten"
attributes:
  color: [red, blue, teal]
"""


def test_reads_fields_attributes_and_defaults(tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text(GOOD, encoding="utf-8")
    schema = read_schema(path)
    assert schema.name == "receipt" and schema.instruction == "Extract the header fields of a shop receipt."
    assert list(schema.fields) == ["merchant", "date", "total", "currency", "note"]
    assert schema.fields["merchant"] == FieldSpec("merchant", "the shop's name as printed", "string", None, True)
    assert schema.fields["currency"].values == ("EUR", "USD")
    assert schema.fields["note"] == FieldSpec("note", "anything handwritten")
    assert schema.attributes == {"color": ["red", "blue", "teal"]}
    only_attributes = tmp_path / "a.yaml"
    only_attributes.write_text("attributes:\n  material: [cotton, wool]\n", encoding="utf-8")
    assert read_schema(only_attributes).fields == {}


@pytest.mark.parametrize("text, key", [
    ("fields:\n  total: {type: money}\n", "fields.total.type"),
    ("fields:\n  total: {kind: number}\n", "'kind'"),
    ("fields:\n  currency: {values: []}\n", "fields.currency.values"),
    ("fields:\n  currency: {values: [EUR, EUR]}\n", "fields.currency.values"),
    ("fields:\n  total: {required: maybe}\n", "fields.total.required"),
    ("fields:\n  total amount: number\n", "fields.total amount"),
    ("fields:\n  total: [1, 2]\n", "fields.total"),
    ("fields: [merchant, date]\n", "'fields'"),
    ("attributes:\n  color: red\n", "attributes.color"),
    ("attributes:\n  color: [red, red]\n", "attributes.color"),
    ("attributes:\n  color: [red, '']\n", "attributes.color holds an empty value"),
    ("attributes:\n  color: ['red; blue']\n", "attributes.color holds an empty value or one with ';'"),
    ("attributes:\n  'size: eu': [38]\n", "attributes.size: eu: an attribute name"),
    ("attributes:\n  '': [red]\n", "an attribute name is non-empty"),
    ("fields:\n  currency: {values: [EUR, '']}\n", "fields.currency.values holds an empty value"),
    ("name: receipt\n", "neither 'fields' nor 'attributes'"),
    ("fields:\n  a: x\nfeilds:\n  b: y\n", "'feilds'"),
    ("- merchant\n- date\n", "not a mapping"),
    ("fields: {a: [\n", "not valid YAML"),
])
def test_each_mistake_is_one_line_naming_file_and_key(tmp_path, text, key):
    path = tmp_path / "schema.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_schema(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and key in message


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="Schema file not found"):
        read_schema(tmp_path / "nope.yaml")
