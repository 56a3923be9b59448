"""`labelwise annotate DATA --transfer-from TEXT --to COLS`: a table labelled by a zero-shot text teacher, a student
on other columns, new rows labelled by the student alone (a bag-of-words encoder stands in for MiniLM here; the
MiniLM claim is checked in tests/generate/test_transfer.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from tests.learn.conftest import one_torch_thread  # noqa: E402,F401  (autouse: torch on one thread here)
from labelwise.cli.main import main  # noqa: E402
from labelwise.features import HashingTextEncoder  # noqa: E402

WORDS = {"sports": "football match goal", "music": "guitar song band", "cooking": "recipe oven salt"}


def _table(n, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    names = list(WORDS)
    text = [f"{names[k]} {rng.choice(WORDS[names[k]].split())} today" for k in y]
    return pd.DataFrame({"id": range(n), "note": text, "score": y * 3.0 + rng.normal(0, 0.5, n),
                         "shop": np.array(["north", "east", "south"])[y]}), np.array(names, dtype=object)[y]


@pytest.fixture
def fake_encoder(monkeypatch):
    monkeypatch.setattr("labelwise.features.TextEncoder", lambda *a, **k: HashingTextEncoder(dim=128))


def test_transfer_labels_the_table_and_new_rows(tmp_path, fake_encoder, capsys):
    frame, truth = _table(150)
    frame.iloc[:120].to_csv(tmp_path / "items.csv", index=False)
    frame.iloc[120:][["id", "score", "shop"]].to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "out"
    code = main(["annotate", str(tmp_path / "items.csv"), "--transfer-from", "note", "--to", "score,shop",
                 "--labels", "sports,music,cooking", "--new", str(tmp_path / "new.csv"), "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    labelled = pd.read_csv(out / "items.labelled.csv")
    assert list(labelled.columns) == ["id", "note", "score", "shop", "label", "label_probability", "label_by"]
    assert (labelled["label"] == truth[:120]).all() and (labelled["label_by"] == "teacher").all()
    pd.testing.assert_frame_equal(labelled[["id", "note", "score", "shop"]], frame.iloc[:120])  # yours kept as read
    new = pd.read_csv(out / "new.labelled.csv")
    assert (new["label"] == truth[120:]).mean() > 0.9 and (new["label_by"] == "student").all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows"] == 120 and summary["calibration"] == "mean" and summary["labels"] == list(WORDS)
    assert (out / "annotations.csv").exists() and (out / "transfer.joblib").exists()
    printed = capsys.readouterr()
    assert "the teacher labelled 120 from note" in printed.out and "new.labelled.csv" in printed.err


@pytest.mark.parametrize("args, message", [
    (["--transfer-from", "note"], "needs both --transfer-from"),
    (["--transfer-from", "note", "--to", "price"], "no column 'price'"),
    (["--transfer-from", "note", "--to", "score", "--text", "note"], "leave out --text"),
    (["--transfer-from", "note", "--to", "score", "--calibration", "contextual"], "auto, domain, mean or none"),
    (["--transfer-from", "note", "--to", "score", "--label-column", "shop"], "--label-column"),
    (["--labels", "a,b"], "--text"),
    (["--transfer-from", "note", "--to", "score", "--new", "{tmp}/items.csv"], None),
    (["--transfer-from", "note", "--to", "score", "--new", "{tmp}/new.csv"], "--new"),
])
def test_transfer_errors_are_one_line_and_exit_2(tmp_path, fake_encoder, capsys, args, message):
    _table(30)[0].to_csv(tmp_path / "items.csv", index=False)
    _table(30)[0][["note"]].to_csv(tmp_path / "new.csv", index=False)  # lacks the student's column
    extra = [] if "--labels" in args else ["--labels", "sports,music"]
    args = [a.format(tmp=tmp_path) for a in args]
    code = main(["annotate", str(tmp_path / "items.csv"), *args, *extra, "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    if message is None:  # the control: the same command with a good --new runs
        assert code == 0, err
        return
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "items.labelled.csv").exists()  # refused before any work
