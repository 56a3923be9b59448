"""A semicolon-separated Latin-1 table goes through audit -> review -> export and comes back in its own separator and
encoding, every cell nobody changed byte for byte (issue 14)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("sqlalchemy", reason="the review store needs the review extra (pip install -e '.[review]')")

from labelwise.cli.main import main  # noqa: E402
from labelwise.review.project import open_audit_project  # noqa: E402

CELLS = ["café, crème", "Zürich", "000123", "NA", '"quoted; with semicolon"', "1,5", "", "naïve façade", "-5",
         " padded "]


def _semicolon_latin1(path, n=30) -> bytes:
    lines = ["id;note;amount;category"]
    for i in range(n):
        note = CELLS[i % len(CELLS)]
        lines.append(f"{i:05d};{note};{i},{i % 7};{['süß', 'bitter', 'sauer'][i % 3]}")
    data = ("\r\n".join(lines) + "\r\n").encode("latin-1")
    path.write_bytes(data)
    np.save(path.with_suffix(".npy"), np.random.default_rng(0).dirichlet(np.ones(3), n))
    return data


def test_semicolon_latin1_table_is_written_back_in_kind(tmp_path, capsys):
    table = tmp_path / "t.csv"
    original = _semicolon_latin1(table)
    assert main(["audit", str(table), "--label", "category", "--pred-probs", str(table.with_suffix(".npy")),
                 "--encoding", "latin-1", "--sep", ";", "--out", str(tmp_path / "audit"), "--quiet"]) == 0
    settings = json.loads((tmp_path / "audit" / "summary.json").read_text())["settings"]
    assert (settings["encoding"], settings["sep"]) == ("latin-1", ";")  # kept for review and export

    store, pid, classes = open_audit_project(tmp_path / "audit")
    assert sorted(classes) == ["bitter", "sauer", "süß"]
    by_row = {v.row: v for v in store.queue(pid, limit=100)}
    store.decide(by_row[1].id, labels=["süß"], decision="relabel", author="ana", expected_version=0)
    assert main(["export", str(tmp_path / "audit"), "--out", str(tmp_path / "out")]) == 0

    written = (tmp_path / "out" / "t.reviewed.csv").read_bytes()
    before, after = original.split(b"\r\n"), written.split(b"\r\n")
    assert after[0] == b"id;note;amount;category;category_given;review_decision;reviewed_by"
    assert len(after) == len(before)
    for i in range(1, len(before) - 1):
        if i == 2:  # data row 1: relabelled, in Latin-1
            assert after[i] == before[i].rsplit(b";", 1)[0] + ";süß;bitter;relabel;ana".encode("latin-1")
        else:  # every other row: its bytes, then the given label again and two empty review columns
            assert after[i] == before[i] + b";" + before[i].rsplit(b";", 1)[1] + b";;"


def test_export_refuses_a_separator_the_file_does_not_use(tmp_path, capsys):
    table = tmp_path / "t.csv"
    _semicolon_latin1(table)
    assert main(["audit", str(table), "--label", "category", "--pred-probs", str(table.with_suffix(".npy")),
                 "--encoding", "latin-1", "--out", str(tmp_path / "audit"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "Pass --sep ';'" in err and len(err.splitlines()) == 1
