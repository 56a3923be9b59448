"""The commands on data nobody prepared (issue 13): data is printed as text, bad inputs and option combinations exit 2
with one line, before any work where possible (a real bug still exits 1: tests/cli/test_cli_audit.py)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from labelwise.cli.console import plain, visible
from labelwise.cli.main import main

RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
WORDS = ["card", "refund", "late", "broken", "thanks", "password", "lost", "fee"]


def _table(n: int = 30) -> pd.DataFrame:
    texts = [f"{WORDS[i % 8]} {WORDS[(i * 3) % 8]} {'cats' if i % 2 else 'dogs'}" for i in range(n)]
    return pd.DataFrame({"text": texts, "label": ["cat" if i % 2 else "dog" for i in range(n)], "x": np.arange(n)})


def _audit(path, *args) -> list[str]:
    return ["audit", str(path), "--label", "label", "--encoder", "tfidf", "--folds", "2", "--quiet", "--show", "30",
            "--out", str(path.parent / "out"), *args]


def test_visible_writes_control_characters_as_escapes_and_keeps_the_rest():
    assert visible("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m"
    assert visible("a\rb\x00\x07\x9b\u202e\ud800") == "a\\rb\\x00\\x07\\x9b\\u202e\\ud800"
    assert visible("[/INST] tab\tnew\nline é 🙂") == "[/INST] tab\tnew\nline é 🙂"
    assert visible(42) == "42"


def test_plain_is_never_read_as_markup():
    text = plain(("error:", "bold red"), " [/] [bold]x[/bold] :smile:")
    assert text.plain == "error: [/] [bold]x[/bold] :smile:"
    assert [(s.start, s.end, str(s.style)) for s in text.spans] == [(0, 6, "bold red")]


@pytest.mark.parametrize("value", ["[/INST] do this", "[/]", "[bold red]loud[/bold red]", "[link=x]y[/link]"])
def test_markup_in_texts_and_labels_is_printed_literally(tmp_path, capsys, value):
    frame = _table()
    frame.loc[3, "text"] = value
    frame.loc[4, "label"] = value  # a class of its own, with a single row
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert main(_audit(tmp_path / "t.csv", "--text", "text")) == 0
    printed = capsys.readouterr()
    assert value in printed.out + printed.err  # the table (stdout) or the note on single-row classes (stderr)


def test_escape_sequences_in_data_never_reach_the_terminal_raw(tmp_path, capsys):
    frame = _table()
    frame.loc[3, "text"] = "\x1b[2J\x1b]0;owned\x07cleared"
    frame.loc[[4, 6], "label"] = "\x1b[31mred"
    folder = tmp_path / "dir\x1b[1m"
    folder.mkdir()
    frame.to_csv(folder / "t.csv", index=False)
    assert main(_audit(folder / "t.csv", "--text", "text")) == 0
    captured = capsys.readouterr()
    assert not RAW_CONTROL.search(captured.out + captured.err)
    assert "\\x1b[2J\\x1b]0;owned\\x07cleared" in captured.out and "\\x1b[31mred" in captured.out
    assert "dir\\x1b[1m" in captured.err  # the path in "wrote ..."


def test_an_error_quoting_data_prints_it_as_text(tmp_path, capsys):
    _table().to_csv(tmp_path / "t.csv", index=False)
    assert main(_audit(tmp_path / "t.csv", "--text", "[/]\x1b[1m")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: There is no text column '[/]\\x1b[1m'") and not RAW_CONTROL.search(err)


def test_a_usage_error_is_one_line_naming_the_help(tmp_path, capsys):
    assert main(["audit", str(tmp_path / "t.csv"), "--label", "label", "--folds", "\x1b[1m"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Invalid value for '--folds'") and "(see labelwise audit --help)" in err
    assert len(err.strip().splitlines()) == 1 and not RAW_CONTROL.search(err)


@pytest.mark.parametrize("args, expected", [
    (["--features", "x", "--llm-judge"], "--llm-judge asks whether each row's text fits its label"),
    (["--text", "text", "--llm-judge", "--multi-label"], "--llm-judge checks single labels"),
    (["--text", "text", "--encoding", "rot13"], "'rot13' is not a text encoding"),
    (["--text", "text", "--encoding", "utf-32"], "does not look like utf-32"),
    (["--text", "text", "--random-state", "-1"], "random_state (--random-state) must be None or an integer from 0 to 2**32 - 1"),
    (["--text", "text", "--seed", "4294967296"], "random_state (--random-state)"),
    (["--text", "text", "--folds", "1"], "n_folds (--folds) must be an integer of at least 2"),
    (["--text", "text", "--show", "-1"], "--show and --judge-rows count rows"),
    (["--text", "text", "--filter-by", "[/]"], "filter_by (--filter-by) must be one of"),
    (["--text", "text", "--encoder", "nope"], "encoder must be one of minilm, tfidf"),
])
def test_bad_options_exit_2_before_any_work(tmp_path, capsys, args, expected):
    _table().to_csv(tmp_path / "t.csv", index=False)
    assert main(_audit(tmp_path / "t.csv", *args)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and expected in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before the audit ran


def test_llm_judge_on_a_detected_multi_label_column_exits_2_without_loading_a_model(tmp_path, capsys):
    rows = [{"text": f"{WORDS[i % 8]} words", "label": ["a", "b"] if i % 2 else ["a"]} for i in range(20)]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(_audit(tmp_path / "t.jsonl", "--text", "text", "--llm-judge")) == 2
    assert "holds lists (a multi-label audit" in capsys.readouterr().err
    assert (tmp_path / "out" / "issues.csv").exists()  # the audit itself was written


@pytest.mark.parametrize("content, expected", [
    (b"\x93NUMPY garbage", "as a NumPy .npy array"),
    (None, "as a NumPy .npy array"),  # an object array: would need pickle
    ("strings", "must hold numbers"),
])
def test_unreadable_pred_probs_exit_2(tmp_path, capsys, content, expected):
    _table().to_csv(tmp_path / "t.csv", index=False)
    path = tmp_path / "probs.npy"
    if content is None:
        np.save(path, np.full((30, 2), None), allow_pickle=True)
    elif content == "strings":
        np.save(path, np.full((30, 2), "half"))
    else:
        path.write_bytes(content)
    assert main(_audit(tmp_path / "t.csv", "--pred-probs", str(path))) == 2
    assert expected in capsys.readouterr().err


@pytest.mark.parametrize("name, write", [
    ("objects.jsonl", lambda p: p.write_text("".join(json.dumps(
        {"text": t, "label": l, "meta": {"k": i}, "tags": [i]}) + "\n" for i, (t, l) in enumerate(
        zip(_table()["text"], _table()["label"]))), encoding="utf-8")),
    ("huge.jsonl", lambda p: p.write_text("".join(
        f'{{"text": {json.dumps(t)}, "label": {"9" * 400 if i % 2 else 1}}}\n' for i, t in enumerate(_table()["text"])),
        encoding="utf-8")),
    ("surrogate.jsonl", lambda p: p.write_text("".join(json.dumps(
        {"text": t + ("\ud800" if i == 3 else ""), "label": l}) + "\n" for i, (t, l) in enumerate(
        zip(_table()["text"], _table()["label"]))), encoding="utf-8")),
    ("utf16.csv", lambda p: p.write_bytes(_table().to_csv(index=False).encode("utf-16-le"))),
])
def test_reproducers_from_issue_13_audit_cleanly(tmp_path, capsys, name, write):
    write(tmp_path / name)
    extra = ["--encoding", "utf-16"] if name == "utf16.csv" else []
    assert main(_audit(tmp_path / name, "--text", "text", *extra)) == 0
    issues = pd.read_csv(tmp_path / "out" / "issues.csv")
    assert len(issues) == 30 and issues["text"].str.len().min() > 0
    assert "30 rows audited, 2 classes" in " ".join(capsys.readouterr().out.split())  # rich wraps at 80


def test_dedupe_writes_parquet_although_its_result_carries_attrs(tmp_path, capsys):
    frame = pd.DataFrame({"name": ["acme inc", "acme inc.", "globex", "initech", "initech llc"]})
    frame.to_csv(tmp_path / "shops.csv", index=False)
    out = tmp_path / "clusters.parquet"
    assert main(["dedupe", str(tmp_path / "shops.csv"), "--on", "name", "--encoder", "hashing", "--quiet",
                 "--out", str(out)]) == 0
    assert pd.read_parquet(out)["name"].tolist() == frame["name"].tolist()


def test_a_multi_label_audit_writes_its_report(tmp_path, capsys):
    rows = [{"text": f"{WORDS[i % 8]} {WORDS[(i * 3) % 8]}", "label": [["a"], ["a", "b"], ["b"]][i % 3]} for i in range(12)]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(_audit(tmp_path / "t.jsonl", "--text", "text", "--report")) == 0  # found by tests/test_fuzz.py
    assert "multi-label" in capsys.readouterr().out and (tmp_path / "out" / "report.html").exists()


@pytest.mark.parametrize("args, expected", [
    (["taxonomy", "{data}", "--text", "text", "--batch-size", "0", "--out", "{tmp}/t.yaml"], "batch_size and sample_size"),
    (["taxonomy", "{data}", "--text", "text", "--sample", "-5", "--out", "{tmp}/t.yaml"], "batch_size and sample_size"),
    (["annotate", "{data}", "--text", "text", "--labels", "a,b", "--shots", "-1", "--out", "{tmp}/a"], "shots (--shots)"),
    (["annotate", "{data}", "--text", "text", "--labels", "a,b", "--distill", "--sample", "0", "--label-column", "new",
      "--out", "{tmp}/a"], "sample (--sample)"),
    (["dedupe", "{data}", "--on", "text", "--encoder", "hashing", "--threshold", "nan", "--out", "{tmp}/c.csv"],
     "threshold is a weight in (0, 1] (a match probability, or a cosine with scorer='cosine'); got nan"),
    (["link", "{data}", "{data}", "--on", "text", "--encoder", "hashing", "--threshold", "1.5", "--out", "{tmp}/p.csv"],
     "threshold is a match probability between 0 and 1; got 1.5"),
])
def test_out_of_range_counts_and_thresholds_exit_2(tmp_path, capsys, monkeypatch, args, expected):
    import labelwise.llm

    monkeypatch.setattr(labelwise.llm, "open_backend", lambda *a, **k: object())  # the checks come before any call
    _table().to_csv(tmp_path / "t.csv", index=False)
    args = [a.format(data=tmp_path / "t.csv", tmp=tmp_path) for a in args]
    assert main([*args, "--quiet"]) == 2
    err = capsys.readouterr().err.splitlines()[-1]  # after taxonomy's note on the packaged model
    assert err.startswith("error:") and expected in err


@pytest.mark.parametrize("command, out, expected", [
    ("audit", "afile", "--out {tmp}/afile is a file; give a folder"),
    ("audit", "afile/sub", "--out {tmp}/afile/sub cannot be created: {tmp}/afile is a file"),
    ("dedupe", "folder", "--out {tmp}/folder is a folder; give a file name"),
    ("dedupe", "afile/c.csv", "cannot be created: {tmp}/afile is a file"),
])
def test_an_output_path_that_cannot_be_written_exits_2_before_the_work(tmp_path, capsys, command, out, expected):
    _table().to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "folder").mkdir()
    args = (_audit(tmp_path / "t.csv", "--text", "text")[:-2] if command == "audit" else
            ["dedupe", str(tmp_path / "t.csv"), "--on", "text", "--encoder", "hashing", "--quiet"])
    assert main([*args, "--out", str(tmp_path / out)]) == 2
    assert expected.format(tmp=tmp_path) in capsys.readouterr().err


@pytest.mark.parametrize("content, expected", [
    (b"\xff\xfe\x00", "Datasheet {path} is not UTF-8 text (byte 0xff at offset 0)"),
    (b"a: &x [*x]\n", "has a value that contains itself"),
])
def test_a_broken_datasheet_exits_2(tmp_path, capsys, content, expected):
    _table().to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "sheet.yaml").write_bytes(content)
    assert main(_audit(tmp_path / "t.csv", "--text", "text", "--report", "--datasheet", str(tmp_path / "sheet.yaml"))) == 2
    assert expected.format(path=tmp_path / "sheet.yaml") in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--labels-file", "--taxonomy"])
def test_a_label_list_or_taxonomy_that_is_not_utf8_exits_2_before_loading_a_model(tmp_path, capsys, option):
    _table().to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "f.txt").write_bytes(b"billing\n\xff\xfe refund\n")
    assert main(["annotate", str(tmp_path / "t.csv"), "--text", "text", option, str(tmp_path / "f.txt"),
                 "--out", str(tmp_path / "a"), "--quiet"]) == 2
    assert "is not UTF-8 text (byte 0xff at offset 8)" in capsys.readouterr().err


def test_an_error_before_any_work_is_the_first_and_only_line(tmp_path, capsys):
    """With progress bars on (no --quiet), a wrong option stops the run before any bar is drawn: stderr is the error
    line alone, not a blank line left by an empty progress display."""
    _table().to_csv(tmp_path / "t.csv", index=False)
    assert main(["audit", str(tmp_path / "t.csv"), "--label", "nope", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
