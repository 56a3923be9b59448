"""``labelwise select`` on a table a user brings: empty label cells are the pool, the chosen rows are written with
their rank, and a wrong option is one line and exit 2."""

from __future__ import annotations

import numpy as np
import pandas as pd

from labelwise.cli.main import main


def _table(tmp_path):
    rng = np.random.default_rng(0)
    topics = {"card": "card blocked lost stolen", "loan": "loan rate interest repay", "fee": "fee charge cost extra"}
    rows = []
    for i in range(90):
        topic = list(topics)[i % 3]
        words = rng.choice(topics[topic].split(), 3).tolist() + ["please", "help"]
        rows.append({"body": " ".join(words), "topic": topic if i < 30 else ""})
    path = tmp_path / "tickets.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_select_writes_unlabelled_rows_in_rank_order(tmp_path, capsys):
    path, out = _table(tmp_path), tmp_path / "next.csv"
    code = main(["select", str(path), "--text", "body", "--label", "topic", "--budget", "7", "--out", str(out),
                 "--encoder", "hashing"])
    assert code == 0
    assert "30 labelled, 60 unlabelled rows: picked 7 by margin." in capsys.readouterr().out
    picked = pd.read_csv(out, keep_default_na=False)
    assert picked.selection_rank.tolist() == list(range(1, 8))
    table = pd.read_csv(path, keep_default_na=False)
    assert (table.loc[picked["row"], "body"].tolist() == picked["body"].tolist())  # row: the position in DATA
    assert (picked.topic == "").all() and {"model_label", "model_confidence"} <= set(picked.columns)
    for strategy in ("k_center",):
        assert main(["select", str(path), "-t", "body", "-l", "topic", "-n", "5", "-s", strategy, "-o", str(out),
                     "--encoder", "hashing"]) == 0
        assert (pd.read_csv(out, keep_default_na=False).topic == "").all()


def test_select_errors_are_one_line(tmp_path, capsys):
    path = _table(tmp_path)
    base = ["select", str(path), "--label", "topic", "--encoder", "hashing", "-o", str(tmp_path / "o.csv")]
    for extra, words in ((["--text", "text", "-n", "3"], "no column 'text'"),
                         (["--text", "body", "-n", "61"], "between 1 and the 60 unlabelled rows"),
                         (["--text", "body", "-n", "3", "-s", "rad"], "--labeller-error"),
                         (["--text", "body", "-n", "3", "-s", "best"], "unknown strategy 'best'")):
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1


def test_select_reads_labels_like_every_command(tmp_path):
    """A label column of 0/1 with empty cells is read by pandas as floats; the model's guesses must still be the
    user's labels ("1", not "1.0"), and " card" is the class "card"."""
    path, out = tmp_path / "numbers.csv", tmp_path / "next.csv"
    words = ["card blocked", "loan rate", "card lost", "loan repay", "card stolen", "loan interest"]
    pd.DataFrame({"body": words, "topic": ["0", "1", " 0", "1", "", ""]}).to_csv(path, index=False)
    assert main(["select", str(path), "-t", "body", "-l", "topic", "-n", "2", "-o", str(out),
                 "--encoder", "hashing"]) == 0
    picked = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert sorted(picked.body) == ["card stolen", "loan interest"]
    assert set(picked.model_label) <= {"0", "1"}


def test_select_refuses_a_labeller_error_outside_0_1_naming_the_option(tmp_path, capsys):
    path = _table(tmp_path)
    assert main(["select", str(path), "-t", "body", "-l", "topic", "-n", "3", "-s", "rad", "--labeller-error", "1.5",
                 "--encoder", "hashing", "-o", str(tmp_path / "o.csv")]) == 2
    assert "--labeller-error 1.5" in capsys.readouterr().err
