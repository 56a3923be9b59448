"""``labelwise link`` and ``labelwise dedupe`` end to end through the CLI's entry point (exit codes, files)."""

from __future__ import annotations

import pandas as pd

from labelwise.cli.main import main
from labelwise.link import evaluate
from tests.link.synthetic import planted


def _files(tmp_path):
    left, right, truth = planted(n_match=60, n_left_only=20, seed=11)
    left.to_csv(tmp_path / "left.csv", index=False)
    right.to_csv(tmp_path / "right.csv", index=False)
    return left, right, truth


def test_link_command_writes_pairs_and_prints_a_summary(tmp_path, capsys):
    _, _, truth = _files(tmp_path)
    out = tmp_path / "pairs.csv"
    code = main([
        "link", str(tmp_path / "left.csv"), str(tmp_path / "right.csv"), "--on", "name,address,town,phone",
        "--left-id", "id", "--right-id", "id", "--one-to-one", "--out", str(out), "--encoder", "hashing", "-q",
    ])
    assert code == 0
    pairs = pd.read_csv(out)
    assert list(pairs.columns) == ["left_id", "right_id", "score"]
    assert evaluate(pairs, truth)["f1"] >= 0.9
    printed = capsys.readouterr().out
    assert "pairs found" in printed and "threshold" in printed and "expected F1" in printed
    assert "estimated precision" in printed and "one-to-one: yes (given)" in printed


def test_link_command_with_threshold_and_blocking(tmp_path):
    _files(tmp_path)
    out = tmp_path / "pairs.parquet"
    code = main([
        "link", str(tmp_path / "left.csv"), str(tmp_path / "right.csv"), "--on", "name,address", "--block-on",
        "town", "--threshold", "0.5", "--out", str(out), "--encoder", "hashing", "-q",
    ])
    assert code == 0 and (pd.read_parquet(out)["score"] >= 0.5).all()


def test_dedupe_command(tmp_path, capsys):
    left, right, _ = _files(tmp_path)
    pd.concat([left, right]).to_csv(tmp_path / "both.csv", index=False)
    out = tmp_path / "clusters.csv"
    code = main(["dedupe", str(tmp_path / "both.csv"), "--on", "name,address,town,phone", "--id", "id",
                 "--out", str(out), "--encoder", "hashing", "-q"])
    assert code == 0
    clusters = pd.read_csv(out)
    assert {"cluster_id", "representative", "score"} <= set(clusters.columns)
    assert "clusters" in capsys.readouterr().out


def test_errors_exit_2_with_one_message(tmp_path, capsys):
    _files(tmp_path)
    code = main(["link", str(tmp_path / "left.csv"), str(tmp_path / "right.csv"), "--on", "title",
                 "--encoder", "hashing", "-q", "--out", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "title" in err and "Its columns are" in err and "Traceback" not in err
    (tmp_path / "latin.csv").write_bytes("id,name\n1,Müller\n".encode("latin-1"))
    code = main(["dedupe", str(tmp_path / "latin.csv"), "--on", "name", "--encoder", "hashing", "-q",
                 "--out", str(tmp_path / "c.csv")])
    assert code == 2 and "--encoding latin-1" in capsys.readouterr().err
    code = main(["dedupe", str(tmp_path / "latin.csv"), "--on", "name", "--encoder", "hashing", "-q",
                 "--encoding", "latin-1", "--out", str(tmp_path / "c.csv")])
    assert code == 0
    assert not (tmp_path / "p.csv").exists()  # nothing half-written after a failure
