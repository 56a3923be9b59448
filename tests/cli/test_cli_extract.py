"""`labelwise extract DATA --text COL --schema schema.yaml --out DIR` on a CSV of receipts a user brings, with a fake
LLM that answers each receipt's true fields; and the one-line errors for bad input (exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

import labelwise.llm
from labelwise.cli.main import main
from labelwise.data.spans import read_span_jsonl
from labelwise.testing import FakeBackend
from labelwise.testing.receipts import RECEIPT_SCHEMA, SEEN, make_receipts


@pytest.fixture
def receipts(tmp_path, monkeypatch):
    """receipts.csv (receipt_id, text), schema.yaml and examples.jsonl in tmp_path; the LLM answers the truth."""
    data = make_receipts(30, templates=SEEN, seed=21)
    pd.DataFrame({"receipt_id": [f"R{i:02d}" for i in range(30)], "text": data.texts}).to_csv(
        tmp_path / "receipts.csv", index=False)
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump(RECEIPT_SCHEMA, allow_unicode=True), encoding="utf-8")
    demo = make_receipts(1, seed=99)
    (tmp_path / "examples.jsonl").write_text(json.dumps({"text": demo.texts[0], **demo.gold[0]}) + "\n",
                                             encoding="utf-8")
    truth = {text.strip(): gold for text, gold in zip(data.texts, data.gold)}
    backend = FakeBackend(complete=lambda prompt: json.dumps(
        truth[prompt.rpartition("Document:\n")[2].rpartition("\nJSON:")[0]]))
    monkeypatch.setattr(labelwise.llm, "open_backend", lambda *a, **k: backend)
    monkeypatch.chdir(tmp_path)
    return data, backend


def test_extract_writes_fields_spans_and_summary(receipts, tmp_path, capsys):
    data, backend = receipts
    code = main(["extract", "receipts.csv", "--text", "text", "--schema", "schema.yaml", "--id", "receipt_id",
                 "--examples", "examples.jsonl", "--teacher-rows", "15", "--out", "fields", "--quiet"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert len(backend.prompts) == 15 and "Document:\n" + make_receipts(1, seed=99).texts[0] in backend.prompts[0]
    table = pd.read_csv(tmp_path / "fields" / "extractions.csv", dtype={"value": str})
    assert list(table.columns) == ["row", "receipt_id", "kind", "name", "value", "start", "end", "confidence",
                                   "source"]
    assert set(table["source"]) == {"teacher", "student"} and (table["receipt_id"] == [f"R{r:02d}" for r in
                                                                                      table["row"]]).all()
    teacher = table[table["source"] == "teacher"]
    assert all(data.gold[r][name] == value for r, name, value in zip(teacher["row"], teacher["name"],
                                                                     teacher["value"]))
    records = read_span_jsonl(tmp_path / "fields" / "spans.jsonl")
    assert len(records) == 30 and records[3].record["receipt_id"] == "R03"
    assert {s.label for s in records[3].spans} == {"merchant", "date", "total", "currency"}
    summary = json.loads((tmp_path / "fields" / "summary.json").read_text())
    assert summary["teacher_rows"] == 15 and summary["student_rows"] == 15 and summary["data"] == "receipts.csv"
    assert "the LLM (fake) labelled 15" in printed.out and "wrote fields/" in printed.err


@pytest.mark.parametrize("args, message", [
    (["--text", "body"], "has no column 'body'"),
    (["--schema", "missing.yaml"], "Schema file not found: missing.yaml"),
    (["--id", "nope"], "no column 'nope' for --id"),
    (["--teacher-rows", "0"], "--teacher-rows 0"),
    (["--examples", "receipts.csv"], "column 'receipt_id' is not a field"),
])
def test_bad_input_is_one_line_and_exit_2(receipts, capsys, args, message):
    base = {"--text": "text", "--schema": "schema.yaml"}
    for option, value in zip(args[::2], args[1::2]):
        base[option] = value
    code = main(["extract", "receipts.csv", *[x for kv in base.items() for x in kv], "--out", "o", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_bad_schema_names_the_key(receipts, tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("fields:\n  total: {type: money}\n", encoding="utf-8")
    assert main(["extract", "receipts.csv", "--text", "text", "--schema", "bad.yaml", "--out", "o"]) == 2
    assert "bad.yaml: fields.total.type is 'money'" in capsys.readouterr().err


@pytest.fixture
def products(tmp_path, monkeypatch):
    """products.csv (sku, title, values, also_viewed) from a synthetic catalogue, a third of the rows without their
    known values, and attributes.yaml with every value of the catalogue; returns (catalogue, hidden rows)."""
    from labelwise.testing.catalog import make_catalog

    catalog = make_catalog(150, random_state=3)
    known = catalog.known()
    hidden = set(range(0, 150, 3))
    pd.DataFrame({"sku": [f"P{i:03d}" for i in range(150)], "title": catalog.texts,
                  "values": ["" if i in hidden else "; ".join(known[i]) for i in range(150)],
                  "also_viewed": ["; ".join(map(str, v)) for v in catalog.also_view]}).to_csv(
        tmp_path / "products.csv", index=False)
    (tmp_path / "attributes.yaml").write_text(yaml.safe_dump({"attributes": catalog.attributes}), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return catalog, hidden


def test_extract_attribute_values_for_rows_without_them(products, tmp_path, capsys):
    catalog, hidden = products
    code = main(["extract", "products.csv", "--text", "title", "--schema", "attributes.yaml", "--known", "values",
                 "--groups", "also_viewed", "--id", "sku", "--encoder", "hashing", "--top-k", "3", "--out", "values",
                 "--quiet"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    table = pd.read_csv(tmp_path / "values" / "extractions.csv")
    assert list(table.columns) == ["row", "sku", "kind", "name", "value", "start", "end", "confidence", "source"]
    assert set(table["row"]) <= hidden and set(table["kind"]) == {"attribute"}
    assert set(table["source"]) == {"hypergraph"}
    assert (table.groupby("row").size() <= 3).all() and table["confidence"].between(0, 1).all()
    truth = set(map(tuple, catalog.edges.tolist()))
    index = {s: j for j, s in enumerate(catalog.av_strings)}
    hits = [(r, index[f"{n}: {v}"]) in truth for r, n, v in zip(table["row"], table["name"], table["value"])]
    chance = len(truth) / (150 * len(catalog.av))  # a random value is right this often
    assert np.mean(hits) > 3 * chance, (np.mean(hits), chance)
    summary = json.loads((tmp_path / "values" / "summary.json").read_text())
    assert summary["attributes"]["rows_predicted"] == len(hidden)
    assert f"taught the {len(hidden)} rows without" in printed.out


@pytest.mark.parametrize("args, message", [
    ([], "lists attributes: name the column of each row's known values with --known COL"),
    (["--known", "vals"], "products.csv has no column 'vals' for --known"),
    (["--known", "values", "--groups", "views"], "no column 'views' for --groups"),
    (["--known", "values", "--encoder", "bert"], "--encoder must be one of minilm, hashing"),
])
def test_bad_attribute_options_are_one_line(products, capsys, args, message):
    code = main(["extract", "products.csv", "--text", "title", "--schema", "attributes.yaml", *args, "--out", "o",
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_known_without_attributes_in_the_schema(receipts, capsys):
    code = main(["extract", "receipts.csv", "--text", "text", "--schema", "schema.yaml", "--known", "text",
                 "--out", "o", "--quiet"])
    assert code == 2 and "lists no 'attributes:' to learn" in capsys.readouterr().err


@pytest.mark.parametrize("cells, message", [
    ({"values": "color: purple"}, "products.csv (--known values, --groups also_viewed; rows count from 0): row 1: "
                                  "known label 'color: purple' is not"),
    ({"also_viewed": "2; 150"}, "row 1: groups names row 150, outside the table's rows 0..149"),
    ({"also_viewed": "2; next"}, "row 1: groups must list row positions"),
])
def test_bad_cells_are_one_line_naming_the_table_and_row(products, tmp_path, capsys, cells, message):
    table = pd.read_csv(tmp_path / "products.csv", keep_default_na=False)
    for column, cell in cells.items():
        table.loc[1, column] = cell
    table.to_csv(tmp_path / "products.csv", index=False)
    code = main(["extract", "products.csv", "--text", "title", "--schema", "attributes.yaml", "--known", "values",
                 "--groups", "also_viewed", "--encoder", "hashing", "--out", "o", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_a_groups_column_of_single_positions(products, tmp_path, capsys):
    """A column of one position per row (pandas reads it as float, with empty cells) is row positions."""
    table = pd.read_csv(tmp_path / "products.csv", keep_default_na=False)
    table["also_viewed"] = [str(i + 1) if i % 2 == 0 and i < 149 else "" for i in range(150)]
    table.to_csv(tmp_path / "products.csv", index=False)
    code = main(["extract", "products.csv", "--text", "title", "--schema", "attributes.yaml", "--known", "values",
                 "--groups", "also_viewed", "--encoder", "hashing", "--top-k", "1", "--out", "o", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["attributes"]["hyperedges"] == 75


def test_a_missing_id_is_null_in_spans_jsonl(products, tmp_path):
    table = pd.read_csv(tmp_path / "products.csv")
    table["sku"] = table["sku"].where(table.index != 3)  # row 3 has no id
    table.to_csv(tmp_path / "products.csv", index=False)
    assert main(["extract", "products.csv", "--text", "title", "--schema", "attributes.yaml", "--known", "values",
                 "--id", "sku", "--encoder", "hashing", "--top-k", "1", "--out", "values", "--quiet"]) == 0
    lines = (tmp_path / "values" / "spans.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[3])["sku"] is None and "NaN" not in lines[3]  # strict JSON
    assert json.loads(lines[4])["sku"] == "P004"
