"""The terminal summary of `labelwise audit --compare-to`: label shift and train/test leakage each get one line with
their numbers, on stdout (results), next to the files."""

from __future__ import annotations

import numpy as np
import pandas as pd

from labelwise.cli.main import main


def tables(tmp_path, monkeypatch, *, copies: int, shifted: bool):
    """train.csv: 200 rows of 32 Gaussian features (no two near each other), label y = sign of the first; test.csv:
    100 rows, of which ``copies`` are exact copies of training rows; with ``shifted`` the test rows are all y = 1."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 32))
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(32)]).assign(y=(x[:, 0] > 0).astype(int))
    train, rest = frame.iloc[:200], frame.iloc[200:]
    fresh = rest[rest["y"] == 1] if shifted else rest
    test = pd.concat([fresh.iloc[: 100 - copies], train[train["y"] == 1].iloc[:copies]])
    monkeypatch.chdir(tmp_path)  # the summary names the files as given
    train.to_csv("train.csv", index=False)
    test.to_csv("test.csv", index=False)
    return ["audit", "train.csv", "--label", "y", "--compare-to", "test.csv", "--out", "audit", "--quiet", "--show", "0"]


def test_planted_leak_and_shift_are_in_the_terminal_summary(tmp_path, monkeypatch, capsys):
    """The test split holds 20 exact copies of training rows and only y = 1: the summary says so."""
    assert main(tables(tmp_path, monkeypatch, copies=20, shifted=True)) == 0
    out = capsys.readouterr().out.splitlines()
    shift = [line for line in out if line.startswith("label shift vs ")]
    leak = [line for line in out if line.startswith(("leakage from ", "no leakage from "))]
    assert len(shift) == 1 and "test.csv (100 rows): label shift detected (p=" in shift[0]
    assert leak == ["leakage from test.csv: 20 of its 100 rows (20.0%) are exact copies of rows here; 20 (20.0%) "
                    "have a near-duplicate here (cosine >= 0.95)"]


def test_no_leakage_says_so_with_its_numbers(tmp_path, monkeypatch, capsys):
    assert main(tables(tmp_path, monkeypatch, copies=0, shifted=False)) == 0
    out = capsys.readouterr().out
    assert ("no leakage from test.csv: 0 of its 100 rows (0.0%) are exact copies of rows here; 0 (0.0%) have a "
            "near-duplicate here (cosine >= 0.95)") in out
    assert "label shift vs test.csv (100 rows): no evidence of label shift (p=" in out
