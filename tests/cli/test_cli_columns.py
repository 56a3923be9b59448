"""`labelwise audit` on tables nobody prepared (issue 14): the text column is found or asked for, bad label and text
columns and impossible folds stop with exit 2 and one line, and every command that reads a table takes --encoding
and --sep."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import typer

from labelwise.cli.main import app, main

TOPICS = {
    "card": ["my card has not arrived", "where is my new card", "the card is still not here"],
    "refund": ["I want my money back", "please refund this order", "how do I get a refund"],
    "pin": ["I forgot my pin", "how do I change my pin", "my pin is blocked"],
}


def _table(n: int = 30) -> pd.DataFrame:
    topics = [list(TOPICS)[i % 3] for i in range(n)]
    texts = [f"{TOPICS[t][(i // 3) % 3]} number {i}" for i, t in enumerate(topics)]
    return pd.DataFrame({"text": texts, "label": topics, "city": ["Paris", "Berlin"] * (n // 2)})


def _run(tmp_path, frame, *args) -> int:
    frame.to_csv(tmp_path / "t.csv", index=False)
    return main(["audit", str(tmp_path / "t.csv"), "--label", "label", "--encoder", "tfidf", "--quiet",
                 "--out", str(tmp_path / "out"), *args])


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_the_one_text_column_is_used_with_a_note(tmp_path, capsys):
    assert _run(tmp_path, _table()) == 0
    err = capsys.readouterr().err
    assert "note: column 'text' looks like free text" in err and "left out: city" in err
    settings = json.loads((tmp_path / "out" / "summary.json").read_text())["settings"]
    assert settings["text_columns"] == ["text"] and settings["notes"][0].startswith("column 'text'")


@pytest.mark.parametrize("change, args, says", [
    (lambda f: f.assign(reply="sorry about: " + f["text"]), [], "2 columns that look like free text: 'text'"),
    (lambda f: f.assign(text=""), ["--text", "text"], "Text column 'text' of"),
    (lambda f: f.assign(text="same"), ["--text", "text"], "holds the same value 'same' in every row"),
    (lambda f: f.assign(label=np.linspace(0.5, 99.5, len(f))), ["--text", "text"], "a quantity to predict (regression)"),
    (lambda f: f, ["--text", "text", "--folds", "31"], "--folds 31 (n_folds) is more than the 30 rows"),
    (lambda f: f.assign(label=[f"c{i}" for i in range(len(f))]), ["--text", "text"], "has a single row"),
])
def test_bad_columns_and_folds_exit_2_with_one_line(tmp_path, capsys, change, args, says):
    assert _run(tmp_path, change(_table()), *args) == 2
    assert says in _one_line_error(capsys)


def test_folds_too_many_for_the_classes_are_cut_with_a_note(tmp_path, capsys):
    """Classes of 10 rows and --folds 21 (an 'internal error' before): 10 folds, said on the terminal and in the
    summary."""
    assert _run(tmp_path, _table(), "--text", "text", "--folds", "21") == 0
    assert "note: cross-validation used 10 folds instead of 21" in capsys.readouterr().err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["settings"]["n_folds"] == 10 and "10 folds instead of 21" in summary["settings"]["notes"][0]


def test_integer_labels_with_few_values_stay_classes(tmp_path):
    frame = _table().assign(label=lambda f: f["label"].map({"card": 1, "refund": 2, "pin": 3}))
    assert _run(tmp_path, frame, "--text", "text", "--folds", "3") == 0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["classes"] == 3


def test_every_command_that_reads_a_table_takes_encoding_and_sep():
    reads_tables = {"audit", "report", "review", "export", "guide", "annotate", "taxonomy"}
    commands = {c.name: c for c in typer.main.get_command(app).commands.values()}
    assert reads_tables <= set(commands)
    for name in reads_tables:
        options = {opt for param in commands[name].params for opt in getattr(param, "opts", [])}
        assert {"--encoding", "--sep"} <= options, name


def test_taxonomy_and_annotate_read_a_semicolon_latin1_table(tmp_path, capsys):
    """Without --sep the table is refused with the separator to pass; with it (and --encoding) it is read, and the
    command goes on to its model (a server nobody listens on: exit 2 about the server, not the table)."""
    table = tmp_path / "t.csv"
    table.write_bytes("text;note\r\ncafé crème;x\r\nmy card;y\r\n".encode("latin-1"))
    server = ["--server", "http://127.0.0.1:9/v1", "--quiet"]
    commands = {"taxonomy": ["--out", str(tmp_path / "tax.yaml")],
                "annotate": ["--labels", "food,bank", "--out", str(tmp_path / "out")]}
    for name, args in commands.items():
        assert main([name, str(table), "--text", "text", "--encoding", "latin-1", *server, *args]) == 2
        assert "Pass --sep ';'" in _one_line_error(capsys)
        assert main([name, str(table), "--text", "text", "--encoding", "latin-1", "--sep", ";", *server, *args]) == 2
        err = _one_line_error(capsys)
        assert "127.0.0.1:9" in err and "--sep" not in err, name


def test_annotate_reads_its_pool_the_way_it_reads_data(tmp_path, monkeypatch, capsys):
    """--pool is read with DATA's --encoding and --sep: its Latin-1 demonstrations reach the prompts intact."""
    import labelwise.llm
    from labelwise.features import HashingTextEncoder
    from labelwise.testing import FakeBackend

    table, pool = tmp_path / "t.csv", tmp_path / "pool.csv"
    table.write_bytes("text;note\r\ncafé crème;x\r\nmy card;y\r\n".encode("latin-1"))
    pool.write_bytes("text;label\r\nthé glacé;food\r\ncard blocked;bank\r\n".encode("latin-1"))
    backend = FakeBackend(score=lambda prompt, continuation=None: 0.0 if continuation.strip() == "food" else -1.0)
    monkeypatch.setattr(labelwise.llm, "open_backend", lambda *a, **k: backend)
    monkeypatch.setattr("labelwise.features.TextEncoder", lambda *a, **k: HashingTextEncoder(dim=64))
    args = ["annotate", str(table), "--text", "text", "--labels", "food,bank", "--pool", str(pool), "--shots", "2",
            "--demos", "fixed", "--encoding", "latin-1", "--sep", ";", "--out", str(tmp_path / "out"), "--quiet"]
    assert main(args) == 0, capsys.readouterr().err
    assert backend.prompts and all("thé glacé" in prompt for prompt in backend.prompts)
