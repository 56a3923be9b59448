"""`labelwise audit --reviewed DIR`: the audit again with the labels as reviewed, and what changed, counted exactly."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sqlalchemy", reason="the review store needs the review extra (pip install -e '.[review]')")

from labelwise.audit.result import AuditResult  # noqa: E402
from labelwise.cli.main import main  # noqa: E402
from labelwise.generate.select import select_next  # noqa: E402
from labelwise.review.informative import InformativeOrder, audit_features, refit_probabilities  # noqa: E402
from labelwise.review.project import export_decisions, open_audit_project  # noqa: E402
from labelwise.review.reaudit import reviewed_labels  # noqa: E402
from tests.conftest import shared_dataset  # noqa: E402
from tests.review.servers import audit_dir  # noqa: E402

KEEP = ["card_arrival", "exchange_rate", "pin_blocked", "top_up_failed"]


@pytest.mark.shared
@pytest.mark.slow
def test_fixed_rows_leave_the_issues_and_the_report_counts_them(tmp_path, capsys):
    train = pd.read_csv(shared_dataset("banking77", "train.csv"))
    table = train[train["category"].isin(KEEP)].groupby("category").head(30).reset_index(drop=True)
    truth = table["category"].copy()
    rng = np.random.default_rng(0)
    for i in rng.choice(len(table), 12, replace=False):  # 10% of the labels flipped to another class
        table.loc[i, "category"] = rng.choice([c for c in KEEP if c != truth[i]])
    data = tmp_path / "tickets.csv"
    table.to_csv(data, index=False)
    first = tmp_path / "audit"
    assert main(["audit", str(data), "--label", "category", "--text", "text", "--encoder", "hashing", "--out",
                 str(first), "--quiet", "--show", "0"]) == 0
    before = AuditResult.load(first)

    # a reviewer goes through every flagged row and gives it its true label
    store, pid, _ = open_audit_project(first, audit=before)
    relabelled, kept = set(), set()
    for view in store.queue(pid, limit=1000):
        if not before.is_issue[view.row]:
            continue
        if truth[view.row] != view.current_labels[0]:
            store.decide(view.id, decision="relabel", labels=[truth[view.row]], author="ana", expected_version=0)
            relabelled.add(view.row)
        else:
            store.decide(view.id, decision="keep", author="ana", expected_version=0)
            kept.add(view.row)
    assert len(relabelled) >= 5  # the audit found most of the flips

    # the informative order on this audit: its features rebuilt from the table, the model refit with the decisions
    order = InformativeOrder(store, pid, before).start()
    try:
        assert order.wait_for_refit(1, timeout=120) and order.error is None
        X, kind = audit_features(before)
        labels = np.array([KEEP.index(truth[i]) if i in relabelled else before.given[i] for i in range(len(table))])
        done = np.isin(np.arange(len(table)), sorted(relabelled | kept))
        probs = refit_probabilities(X, labels, len(KEEP), kind)
        expected = select_next(probs, strategy="margin", budget=int((~done).sum()), labelled=np.flatnonzero(done))
        ranked = sorted(order.current().rank, key=order.current().rank.get)
        assert ranked[:len(expected)] == expected.tolist()
    finally:
        order.stop()
    capsys.readouterr()

    assert main(["audit", "--reviewed", str(first), "--quiet", "--show", "0"]) == 0
    shown = capsys.readouterr().out
    second = tmp_path / "audit.reaudit"
    after = AuditResult.load(second)
    summary = json.loads((second / "changes.json").read_text())
    changes = pd.read_csv(second / "changes.csv")

    assert after.source_path == str((second / "tickets.reviewed.csv").resolve())
    corrected = pd.read_csv(second / "tickets.reviewed.csv")
    expected = table["category"].copy()
    expected[sorted(relabelled)] = truth[sorted(relabelled)]
    assert corrected["category"].tolist() == expected.tolist() and corrected["text"].equals(table["text"])

    assert not after.is_issue[sorted(relabelled)].any()  # every fixed row left the issues
    assert summary["relabelled"] == len(relabelled) == summary["relabelled_flagged_before"]
    assert summary["reviewed"] == len(relabelled) + len(kept)
    assert set(changes.loc[changes["change"] == "fixed", "row"]) == relabelled
    assert summary["changes"]["fixed"] == len(relabelled)
    assert set(changes.loc[changes["decision"] == "keep", "row"]) == kept
    newly = set(np.flatnonzero(after.is_issue & ~before.is_issue))
    assert set(changes.loc[changes["change"] == "newly flagged", "row"]) == newly
    assert summary["issues"]["label"] == [before.n_issues, after.n_issues]
    assert f"label issues: {before.n_issues} -> {after.n_issues} (fixed {len(relabelled)}," in shown

    # the same labels and decisions from an export, once the database is gone
    from_db = reviewed_labels(first, before)
    export_decisions(store, pid, first)
    store.dispose()
    (first / "review.db").rename(tmp_path / "elsewhere.db")
    from_export = reviewed_labels(first, before)
    assert from_export.current == from_db.current and from_export.decisions == from_db.decisions
    assert from_export.source.name == "labels_reviewed.csv"

    # the table moved: the features come back from the texts the audit kept, the same vectors
    data.rename(tmp_path / "moved.csv")
    assert np.array_equal(audit_features(before)[0], X)


def test_bad_input_is_one_line(tmp_path, capsys, monkeypatch):
    source = tmp_path / "table.csv"
    pd.DataFrame({"text": [f"text {i}" for i in range(12)], "label": ["abc"[i % 3] for i in range(12)]}
                 ).to_csv(source, index=False)
    folder = audit_dir(tmp_path, n=12, source=source)

    def error(*args):
        capsys.readouterr()
        assert main(["audit", *map(str, args)]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "Traceback" not in err
        return err

    assert "has no review yet" in error("--reviewed", folder)
    with monkeypatch.context() as m:
        m.chdir(folder)
        assert "has no review yet" in error("--reviewed", ".")  # the new audit goes beside it, into audit.reaudit
    assert "is not a folder" in error("--reviewed", tmp_path / "nothing")
    exported = tmp_path / "exported"
    exported.mkdir()
    (exported / "labels_reviewed.csv").write_text("row,label\n0,a\n")
    assert "is an export folder" in error("--reviewed", exported)
    assert "drop --label" in error("--reviewed", folder, "--label", "label")
    assert "drop --encoder, --random-state" in error("--reviewed", folder, "--encoder", "tfidf", "--seed", "3")
    assert "is the reviewed folder itself" in error("--reviewed", folder, "--out", folder)
    assert "give the table to audit" in error("--quiet")

    store, pid, _ = open_audit_project(folder)
    store.decide(store.queue(pid, limit=1)[0].id, decision="relabel", labels=["b"], author="bo", expected_version=0)
    other = tmp_path / "other.csv"  # another dataset with as many rows
    pd.DataFrame({"text": [f"other {i}" for i in range(12)], "label": ["x"] * 6 + ["y"] * 6}).to_csv(other, index=False)
    assert "is not the table audited" in error(other, "--reviewed", folder, "--out", tmp_path / "new")
    shutil.rmtree(tmp_path / "new", ignore_errors=True)
    store.dispose()
    for name in ("review.db-wal", "review.db-shm"):
        (folder / name).unlink(missing_ok=True)
    (folder / "review.db").write_bytes(b"not a database" * 100)
    assert "Cannot read the review database" in error("--reviewed", folder)


def test_with_several_reviewers_per_item_the_reviewed_label_is_their_consensus(tmp_path):
    folder = audit_dir(tmp_path, n=6)
    audit = AuditResult.load(folder)
    store, pid, classes = open_audit_project(folder, audit=audit)
    store.set_reviewers_per_item(pid, 3)
    store.issue_tokens(pid, ["ana", "bo", "cy"])
    item = {v.row: v for v in store.queue(pid, limit=10)}[0]  # given "a"
    for name, label in (("ana", "c"), ("bo", "c"), ("cy", "b")):  # the last answer is not the consensus
        store.decide(item.id, labels=[label], decision="relabel", author=name, expected_version=0)
    from_db = reviewed_labels(folder, audit)
    assert from_db.current[0] == ["c"] and all(from_db.current[r] == [classes[r % 3]] for r in range(1, 6))
    export_decisions(store, pid, folder, pred_probs=audit.pred_probs, row_ids=audit.row_ids)  # as `labelwise export`
    store.dispose()
    (folder / "review.db").rename(tmp_path / "elsewhere.db")
    assert reviewed_labels(folder, audit).current == from_db.current


def test_a_row_only_skipped_was_not_reviewed(tmp_path):
    folder = audit_dir(tmp_path, n=6)
    audit = AuditResult.load(folder)
    store, pid, _ = open_audit_project(folder, audit=audit)
    ids = {v.row: v.id for v in store.queue(pid, limit=10)}
    store.decide(ids[0], decision="skip", author="ana", expected_version=0)
    store.decide(ids[1], decision="keep", author="ana", expected_version=0)
    store.decide(ids[1], decision="skip", author="bo", expected_version=1)  # kept, then skipped: still kept
    from_db = reviewed_labels(folder, audit)
    assert from_db.decisions == {1: "keep"}
    export_decisions(store, pid, folder)
    store.dispose()
    (folder / "review.db").rename(tmp_path / "elsewhere.db")
    assert reviewed_labels(folder, audit).decisions == {1: "keep"}
