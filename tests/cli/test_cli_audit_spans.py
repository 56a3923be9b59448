"""`labelwise audit DATA --spans COL` as a user meets it: files written, plain-text output, one-line errors (exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labelwise.cli.main import main


@pytest.fixture(scope="module")
def span_table(tmp_path_factory):
    # PER names and LOC cities; rows 7, 27, ... have the city labelled PER; one text starts with '='
    rng = np.random.default_rng(0)
    people, cities = ["ann", "bob", "carla", "dmitri"], ["oslo", "rome", "lima", "pune"]
    texts, cells = [], []
    for i in range(120):
        person, city = rng.choice(people), rng.choice(cities)
        prefix = "=" if i == 7 else ""
        text = f"{prefix}{person} flew to {city}"
        p0 = len(prefix)
        c0 = p0 + len(person) + len(" flew to ")
        cells.append(json.dumps([{"start": p0, "end": p0 + len(person), "label": "PER"},
                                 {"start": c0, "end": c0 + len(city), "label": "PER" if i % 20 == 7 else "LOC"}]))
        texts.append(text)
    folder = tmp_path_factory.mktemp("spans")
    pd.DataFrame({"sentence": texts, "entities": cells}).to_csv(folder / "spans.csv", index=False)
    return folder


def test_span_audit_finds_planted_errors(span_table, capsys):
    out = span_table / "audit"
    code = main(["audit", str(span_table / "spans.csv"), "--spans", "entities", "--text", "sentence", "--encoder",
                 "hashing", "--folds", "4", "--out", str(out), "--quiet"])
    assert code == 0
    issues = pd.read_csv(out / "span_issues.csv")
    assert set(issues.row.head(6)) == {7, 27, 47, 67, 87, 107}
    assert set(issues.issue.head(6)) == {"wrong_type"}
    assert set(issues.suggested_label.head(6)) == {"LOC"}
    assert pd.read_csv(out / "row_scores.csv").text.str.startswith("'=").sum() == 1  # formula neutralised
    printed = capsys.readouterr().out
    assert "120 rows" in printed and "wrong_type" in printed and "\x1b" not in printed


@pytest.mark.parametrize("args, message", [
    (["--spans", "nope", "--text", "sentence"], "no column 'nope'"),
    (["--spans", "entities"], "no column 'text'"),
    (["--spans", "entities", "--text", "sentence", "--label", "x"], "--label is not used by the span audit"),
    (["--spans", "entities", "--text", "sentence", "--encoder", "tfidf"], "--encoder tfidf gives no token features"),
    ([], "name the label column with --label"),
])
def test_bad_options_one_line_exit_2(span_table, tmp_path, capsys, args, message):
    code = main(["audit", str(span_table / "spans.csv"), *args, "--encoder", "hashing", "--out", str(tmp_path / "o"),
                 "--quiet"] if "--encoder" not in args else
                ["audit", str(span_table / "spans.csv"), *args, "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
