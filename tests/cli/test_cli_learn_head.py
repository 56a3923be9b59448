"""``labelwise learn head``: a label head on a GGUF model's hidden states (LS-LLaMA, frozen model) on a table a user
brings: held-out scores, predictions for new rows, multi-label, and one line with exit 2 for each bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from labelwise.cli.main import main
from tests.llm.toy_topics import ANIMALS, MONEY

pytest.importorskip("torch")



@pytest.fixture
def table(tmp_path):
    path = tmp_path / "rows.csv"
    pd.DataFrame({"text": ANIMALS + MONEY, "topic": ["animal"] * 6 + ["money"] * 6}).to_csv(path, index=False)
    pd.DataFrame({"text": ["A sheep ate the grass.", "=HYPERLINK(\"x\") pay my credit card bill"]}).to_csv(
        tmp_path / "new.csv", index=False)
    return path


@pytest.mark.model
def test_llm_head_scores_held_out_rows_and_labels_new_ones(table, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABELWISE_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert main(["learn", "head", str(table), "--text", "text", "--labels", "topic", "--test-size", "0.34",
                 "--predict", str(tmp_path / "new.csv"), "--out", str(out), "-q"]) == 0
    scores = json.loads((out / "scores.json").read_text())
    assert (scores["train"], scores["test"], scores["accuracy"]) == (8, 4, 1.0)
    assert scores["encoder"].startswith("llama.cpp:gemma-3-270m")
    predictions = pd.read_csv(out / "predictions.csv")
    assert predictions.label.tolist() == ["animal", "money"]
    assert predictions.text[1].startswith("'=")  # a formula typed into the data is written as text
    assert len(pd.read_csv(out / "test_predictions.csv")) == 4


def test_multi_label_with_hashed_words(tmp_path):
    rows = [("cat dog", "animal"), ("dog pet", "animal|pet"), ("cat pet", "animal|pet"), ("loan bank", "money"),
            ("bank card", "money"), ("loan fee", "money")] * 5
    pd.DataFrame(rows, columns=["text", "tags"]).to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "out"
    assert main(["learn", "head", str(tmp_path / "t.csv"), "--text", "text", "--labels", "tags", "--label-delimiter",
                 "|", "--encoder", "hashing", "--out", str(out), "-q"]) == 0
    scores = json.loads((out / "scores.json").read_text())
    assert scores["multi_label"] and scores["labels"] == 3 and scores["accuracy"] == 1.0


@pytest.mark.parametrize("extra,message", [
    (["--encoder", "bert"], "--encoder must be one of"),
    (["--head", "svm"], "--head must be one of"),
    (["--pooling", "max"], "--pooling must be one of"),
    (["--test-size", "1.5"], "--test-size must be between"),
    (["--encoder", "hashing", "--model", "x.gguf"], "--model names a GGUF model for --encoder llm"),
    (["--model", "missing.gguf"], "No GGUF model at"),
    (["--labels", "nope"], "no label column 'nope'"),
])
def test_bad_input_is_one_line_and_exit_2(table, tmp_path, extra, message, capsys):
    args = ["learn", "head", str(table), "--text", "text", "--labels", "topic", "--out", str(tmp_path / "o"), "-q"]
    assert main(args + extra) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_learn_compare_takes_the_llm_encoder_options(tmp_path, capsys):
    pd.DataFrame({"text": ["cat dog", "loan bank"] * 10, "tags": ["animal", "money|bank"] * 10}).to_csv(
        tmp_path / "t.csv", index=False)
    args = ["learn", "compare", str(tmp_path / "t.csv"), "--text", "text", "--labels", "tags", "--label-delimiter",
            "|", "--out", str(tmp_path / "o"), "-q"]
    assert main(args + ["--encoder", "hashing", "--model", "x.gguf"]) == 2
    assert "--model names a GGUF model for --encoder llm" in capsys.readouterr().err
    assert main(args + ["--encoder", "llm", "--model", str(tmp_path / "none.gguf")]) == 2
    assert "No GGUF model at" in capsys.readouterr().err
