"""``labelwise dedupe`` on files a user brings: the id column found by default, semicolons, the printed estimate
(calibrated from the hybrid scorer, the default; marked uncalibrated with --scorer cosine)."""

from __future__ import annotations

import pandas as pd

from labelwise.cli.main import main
from tests.link.synthetic import planted


def _table():
    left, right, truth = planted(n_match=40, n_left_only=20, n_right_only=20, seed=3)
    both = pd.concat([left, right], ignore_index=True).rename(columns={"id": "ID"})
    return both, truth


def test_ids_come_from_an_id_column_in_any_case_and_the_output_says_so(tmp_path, capsys):
    both, truth = _table()
    both.to_csv(tmp_path / "both.csv", index=False)
    out = tmp_path / "clusters.csv"
    code = main(["dedupe", str(tmp_path / "both.csv"), "--on", "name,address,town,phone", "--out", str(out),
                 "--encoder", "hashing", "-q"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "ids: column 'ID' (found in the table" in printed
    assert "estimated pairwise F1" in printed and "uncalibrated" not in printed
    assert "scorer: hybrid, clustering: average" in printed and "threshold 0.500 (probability" in printed
    clusters = pd.read_csv(out)
    assert set(clusters.representative) <= set(clusters.ID)  # representatives are ids, not row numbers
    cid = dict(zip(clusters.ID, clusters.cluster_id))
    assert sum(cid[a] == cid[b] for a, b in zip(truth.left_id, truth.right_id)) >= 0.9 * len(truth)
    rep_of = dict(zip(clusters.ID, clusters.representative))
    assert all(cid[rep_of[i]] == cid[i] for i in clusters.ID)  # each representative is in its own cluster


def test_a_repeated_id_column_falls_back_to_row_numbers_with_a_note(tmp_path, capsys):
    both, _ = _table()
    both["id"] = 7  # a lower-case 'id' is preferred, but it repeats
    both.to_csv(tmp_path / "both.csv", index=False)
    code = main(["dedupe", str(tmp_path / "both.csv"), "--on", "name", "--out", str(tmp_path / "c.csv"),
                 "--encoder", "hashing", "-q"])
    assert code == 0
    assert "ids: row numbers (column 'id' repeats values" in capsys.readouterr().out
    assert set(pd.read_csv(tmp_path / "c.csv").representative) <= set(range(len(both)))


def test_semicolon_separated_input(tmp_path, capsys):
    both, _ = _table()
    both.to_csv(tmp_path / "both.csv", index=False, sep=";")
    args = ["dedupe", str(tmp_path / "both.csv"), "--on", "name,address", "--out", str(tmp_path / "c.csv"),
            "--encoder", "hashing", "-q"]
    assert main(args) == 2 and "--sep" in capsys.readouterr().err
    assert main(args + ["--sep", ";"]) == 0
    assert len(pd.read_csv(tmp_path / "c.csv")) == len(both)


def test_components_clustering_is_still_available(tmp_path, capsys):
    both, _ = _table()
    both.to_csv(tmp_path / "both.csv", index=False)
    base = ["dedupe", str(tmp_path / "both.csv"), "--on", "name,address,town,phone", "--encoder", "hashing", "-q",
            "--scorer", "cosine", "--threshold", "0.5"]
    assert main(base + ["--out", str(tmp_path / "avg.csv")]) == 0
    assert "uncalibrated" in capsys.readouterr().out  # cosines are not match probabilities
    assert main(base + ["--clustering", "components", "--out", str(tmp_path / "cc.csv")]) == 0
    avg = pd.read_csv(tmp_path / "avg.csv").cluster_id.value_counts().max()
    cc = pd.read_csv(tmp_path / "cc.csv").cluster_id.value_counts().max()
    assert cc > avg  # at a low threshold the word-hashing fake chains rows into components; average linkage does not
    assert main(base + ["--clustering", "single", "--out", str(tmp_path / "x.csv")]) == 2
    assert "must be one of average, components" in capsys.readouterr().err
