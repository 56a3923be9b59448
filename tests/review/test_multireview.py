"""Several reviewers per item: balanced deterministic assignment, blind queues and histories, independent answers
that never conflict, and the consensus, quality and agreement of the page and the export (checked against
labelwise.audit.multiannotator on the same answers). Answers at the same moment run on SQLite and PostgreSQL, with
the blind views' queries; the rest on SQLite."""

from __future__ import annotations

import re
import threading

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sqlalchemy", reason="the review store needs the review extra (pip install -e '.[review]')")

from labelwise.audit.multiannotator import (  # noqa: E402
    cohen_kappa_pairs, get_label_quality_multiannotator, get_majority_vote_label, krippendorff_alpha,
)
from labelwise.errors import LabelwiseError, ParameterError  # noqa: E402
from labelwise.review.consensus import CROWDLAB, MAJORITY, review_consensus  # noqa: E402
from labelwise.review.project import export_decisions  # noqa: E402
from labelwise.review.store import ConflictError, ReviewStore  # noqa: E402

CLASSES = ["a", "b", "c"]


def _project(url, n=12, k=2, reviewers=("ana", "bo"), *, store=None, name="p"):
    """(store, project id): ``n`` items, ``k`` reviewers per item, accounts for ``reviewers`` added one at a time;
    ``store``: a store to add the project (``name``) to instead of opening ``url``."""
    store = store or ReviewStore(url)
    pid = store.create_project(name, CLASSES)
    store.add_items(pid, [{"row": i, "payload": {"text": f"t{i}"}, "given": [CLASSES[i % 3]],
                           "label_quality": (i * 5 % n) / n} for i in range(n)])
    store.set_reviewers_per_item(pid, k)
    for name in reviewers:
        store.issue_token(pid, name)
    return store, pid


def _mine(store, pid, name):
    return {v.row for v in store.queue(pid, reviewer=name, limit=1000)}


def test_assignment_is_balanced_deterministic_and_topped_up(tmp_path):
    store, pid = _project(f"sqlite:///{tmp_path / 'a.db'}", n=12, k=2, reviewers=("ana", "bo", "cy"))
    loads = {name: _mine(store, pid, name) for name in ("ana", "bo", "cy")}
    assert sorted(map(len, loads.values())) == [8, 8, 8]  # 12 items x 2 = 24, added one reviewer at a time
    for row in range(12):
        assert sum(row in rows for rows in loads.values()) == 2  # two different reviewers per item
    _, again = _project(None, n=12, k=2, reviewers=("ana", "bo", "cy"), store=store, name="again")
    assert {name: _mine(store, again, name) for name in loads} == loads  # deterministic
    # ana answers 3 items; a fourth reviewer takes untouched items only, and loads even out again
    for view in store.queue(pid, reviewer="ana", limit=3):
        store.decide(view.id, decision="keep", author="ana", expected_version=0)
    answered = {v.row for v in store.queue(pid, reviewer="ana", reviewed=True, limit=100)}
    store.issue_token(pid, "dee")
    after = {name: _mine(store, pid, name) for name in ("ana", "bo", "cy", "dee")}
    assert sorted(map(len, after.values())) == [6, 6, 6, 6]
    assert answered <= after["ana"]  # nothing answered moves
    assert all(sum(row in rows for rows in after.values()) == 2 for row in range(12))
    # raising k tops every item up to three reviewers
    store.set_reviewers_per_item(pid, 3)
    assert all(sum(row in _mine(store, pid, n) for n in after) == 3 for row in range(12))


def test_a_reviewer_works_blind_until_they_have_answered(tmp_path):
    store, pid = _project(f"sqlite:///{tmp_path / 'r.db'}", n=6)
    item = store.queue(pid, reviewer="ana")[0]
    store.decide(item.id, labels=["c"], decision="relabel", author="ana", expected_version=0, reason="ana's why")
    view, history, _, _ = store.item_page(pid, item.id, reviewer="bo")
    assert view.current_labels == [CLASSES[view.row % 3]] and not view.reviewed and view.version == 0
    assert [e["author"] for e in history] == ["labelwise"]  # ana's answer is not in bo's history yet
    assert all(v.current_labels != ["c"] or v.row % 3 == 2 for v in store.queue(pid, reviewer="bo"))
    # bo's answer is checked against bo's own version: ana's answer in between is no conflict
    assert store.decide(item.id, labels=["b"], decision="relabel", author="bo", expected_version=0) == 1
    view, history, _, _ = store.item_page(pid, item.id, reviewer="bo")
    assert view.current_labels == ["b"] and view.reviewed
    assert [e["author"] for e in history] == ["labelwise", "ana", "bo"]  # answered: now bo sees ana's
    assert item.id not in {v.id for v in store.queue(pid, reviewer="bo", reviewed=False)}
    assert store.progress(pid, reviewer="bo") == (1, 6)
    with pytest.raises(ConflictError, match="another window"):  # the same reviewer in a stale tab
        store.decide(item.id, labels=["a"], decision="relabel", author="bo", expected_version=0)
    # undo withdraws bo's answer: the item is back in bo's queue, ana's answer untouched
    store.undo(item.id, author="bo", expected_version=1, project_id=pid)
    assert item.id in {v.id for v in store.queue(pid, reviewer="bo", reviewed=False)}
    assert store.export_snapshot(pid).answers()[item.row].keys() == {"ana"}
    # a third reviewer of the project has no items here and cannot open or answer this one
    store.issue_token(pid, "cy")
    theirs = {v.id for v in store.queue(pid, reviewer="cy", limit=100)}
    other = next(v.id for v in store.queue(pid, limit=100) if v.id not in theirs)
    with pytest.raises(LabelwiseError):
        store.item_page(pid, other, reviewer="cy")
    with pytest.raises(LabelwiseError, match="not one of"):
        store.decide(other, labels=["a"], decision="relabel", author="cy", expected_version=0)


def test_two_reviewers_answering_one_item_at_once_both_count(store_url):
    store, pid = _project(store_url, n=1, reviewers=[f"r{i}" for i in range(6)], k=6)
    item = store.queue(pid)[0]
    errors = []

    def answer(name):
        try:
            store.decide(item.id, labels=["b"], decision="relabel", author=name, expected_version=0)
        except Exception as err:  # noqa: BLE001 - any failure is the finding
            errors.append(err)

    threads = [threading.Thread(target=answer, args=(f"r{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert sorted(store.export_snapshot(pid).answers()[0]) == [f"r{i}" for i in range(6)]
    assert [e["version"] for e in store.history(item.id) if e["source"] == "human"] == [1, 2, 3, 4, 5, 6]
    # the blind views' queries on this database too (their behaviour: test_a_reviewer_works_blind_...)
    assert store.progress(pid, reviewer="r0") == (1, 1) and store.answered_by_all(pid) == {0}
    assert [v.current_labels for v in store.queue(pid, reviewer="r0", reviewed=True)] == [["b"]]
    store.undo(item.id, author="r0", expected_version=1, project_id=pid)
    view, history, _, _ = store.item_page(pid, item.id, reviewer="r0")
    assert not view.reviewed and [e["author"] for e in history if e["source"] == "human"] == ["r0", "r0"]
    assert store.answered_by_all(pid) == set() and store.next_to_review(pid, reviewer="r0") == item.id


def test_switching_between_one_and_several_reviewers_after_decisions_is_refused(tmp_path):
    store, pid = _project(f"sqlite:///{tmp_path / 'r.db'}", k=1)
    item = store.queue(pid)[0]
    store.decide(item.id, decision="keep", author="ana", expected_version=0)
    with pytest.raises(ParameterError, match="cannot switch"):
        store.set_reviewers_per_item(pid, 2)
    with pytest.raises(ParameterError, match="from 1 to"):
        store.set_reviewers_per_item(pid, 0)
    assert store.reviewers_per_item(pid) == 1 and len(store.queue(pid, reviewer="ana")) == 12  # k = 1: all


# the answers of the exact case: rows 0-5, ana and bo (cy answered row 6 alone with two labels: not counted)
ANSWERS = {0: ("a", "a"), 1: ("b", "c"), 2: ("c", "c"), 3: ("a", None), 4: ("b", "b"), 5: ("a", "b")}


def _answer_all(store, pid):
    ids = {v.row: v.id for v in store.queue(pid, limit=100)}
    for row, pair in ANSWERS.items():
        for name, label in zip(("ana", "bo"), pair):
            if label is not None:
                store.decide(ids[row], labels=[label], decision="relabel", author=name, expected_version=0)


def _matrix():
    return np.array([[CLASSES.index(x) if x is not None else np.nan for x in pair] for pair in ANSWERS.values()])


def test_consensus_and_agreement_match_the_multiannotator_functions(tmp_path):
    store, pid = _project(f"sqlite:///{tmp_path / 'r.db'}", n=6, k=2)
    _answer_all(store, pid)
    found = review_consensus(store.export_snapshot(pid).answers(), CLASSES)
    labels = _matrix()
    assert found.method == MAJORITY and found.reviewers == ["ana", "bo"] and list(found.rows) == list(range(6))
    np.testing.assert_array_equal(found.labels, labels)
    vote = get_majority_vote_label(pd.DataFrame(labels, columns=["ana", "bo"]), verbose=False)
    assert found.consensus == [CLASSES[c] for c in vote]
    assert found.consensus[:5] == ["a", found.consensus[1], "c", "a", "b"] and found.consensus[1] in ("b", "c")
    assert found.status == ["unanimous", "tie", "unanimous", "single", "unanimous", "tie"]
    assert found.alpha == pytest.approx(krippendorff_alpha(labels)) and np.isfinite(found.alpha)
    assert found.kappa[0, 1] == pytest.approx(cohen_kappa_pairs(labels)[0, 1]) and found.shared[0, 1] == 5
    # by hand: 3 of 5 shared items agree; chance from ana (a, b, c, b, a) and bo (a, c, c, b, b): (2 + 4 + 2) / 25
    assert found.kappa[0, 1] == pytest.approx((3 / 5 - 8 / 25) / (1 - 8 / 25))
    # with the audit's probabilities: CROWDLAB, as get_label_quality_multiannotator gives it
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=6)
    crowd = review_consensus(store.export_snapshot(pid).answers(), CLASSES, pred_probs=probs[::-1],
                             row_ids=np.arange(6)[::-1])
    reference = get_label_quality_multiannotator(pd.DataFrame(labels, columns=["ana", "bo"]), probs, verbose=False)
    assert crowd.method == CROWDLAB
    assert crowd.consensus == [CLASSES[c] for c in reference["label_quality"]["consensus_label"]]
    np.testing.assert_allclose(crowd.quality, reference["label_quality"]["consensus_quality_score"])
    np.testing.assert_allclose(crowd.reviewer_quality,
                               reference["annotator_stats"].loc[["ana", "bo"], "annotator_quality"])


def test_the_export_writes_the_consensus_and_keeps_every_other_value(tmp_path):
    store, pid = _project(f"sqlite:///{tmp_path / 'r.db'}", n=7, k=2, reviewers=("ana", "=bo"))
    ids = {v.row: v.id for v in store.queue(pid, limit=100)}
    for row, pair in ANSWERS.items():
        for name, label in zip(("ana", "=bo"), pair):
            if label is not None:
                store.decide(ids[row], labels=[label], decision="relabel", author=name, expected_version=0)
    store.decide(ids[6], labels=["a", "b"], decision="several", author="ana", expected_version=0)
    table = tmp_path / "data.csv"
    raw = "id,label,note\r\n" + "".join(f"00{i},{CLASSES[i % 3]},\"x, {i}\"\r\n" for i in range(7))
    table.write_bytes(raw.encode())
    out = tmp_path / "out"
    out.mkdir()
    result = export_decisions(store, pid, out, source=table, label_column="label")
    found = review_consensus(store.export_snapshot(pid).answers(), CLASSES)
    written = pd.read_csv(result.paths["dataset"], dtype=str, keep_default_na=False)
    expected = found.consensus + ["a"]  # row 6: only a "several" answer, so its given label stays
    assert list(written["label"]) == expected and list(written["label_given"]) == [CLASSES[i % 3] for i in range(7)]
    assert list(written["review_decision"])[:6] == found.status and written["review_decision"][6] == ""
    assert written["reviewed_by"][0] == "ana|=bo" and written["reviewed_by"][3] == "ana"  # who answered
    lines = result.paths["dataset"].read_bytes().split(b"\r\n")
    for i in range(7):  # every value nobody changed is the same bytes
        assert lines[i + 1].startswith(f"00{i},".encode()) and f'"x, {i}"'.encode() in lines[i + 1]
    labels = pd.read_csv(result.paths["labels"], dtype=str)
    assert list(labels["label"]) == expected
    annotations = pd.read_csv(result.paths["annotations"], dtype=str)
    assert len(annotations) == 12 and set(annotations["reviewer"]) == {"ana", "'=bo"}
    assert list(annotations.query("row == '6'")["label"]) == ["a|b"]
    annotators = pd.read_csv(result.paths["annotators"])
    answered = dict(zip(annotators["reviewer"], annotators["items_answered"]))
    assert answered == {"ana": 6, "'=bo": 5}  # ana's "several" answer is not counted
    agreement = pd.read_csv(result.paths["agreement"])
    assert agreement["value"][0] == pytest.approx(krippendorff_alpha(_matrix()))
    assert agreement["value"][1] == pytest.approx(cohen_kappa_pairs(_matrix())[0, 1])
    assert {agreement["reviewer_a"][1], agreement["reviewer_b"][1]} == {"ana", "'=bo"}
    consensus = pd.read_csv(result.paths["consensus"])
    assert list(consensus["label"]) == found.consensus and set(consensus["method"]) == {"majority_vote"}


def test_the_agreement_page_is_blind_escaped_and_secured(tmp_path):
    from fastapi.testclient import TestClient

    from labelwise.review.app import COOKIE, create_app

    hostile = '<script>window.x=1</script>'
    store = ReviewStore(f"sqlite:///{tmp_path / 'r.db'}")
    pid = store.create_project("p", [*CLASSES, hostile])
    store.add_items(pid, [{"row": i, "payload": {"text": "t"}, "given": ["a"], "label_quality": i / 4}
                          for i in range(4)])
    store.set_reviewers_per_item(pid, 2)
    clients = {}
    app = create_app(store, pid, [*CLASSES, hostile])
    for name in ("ana", "<b>bo</b>"):
        client = TestClient(app)
        client.cookies.set(COOKIE, client.get("/login", params={"token": store.issue_token(pid, name)},
                                              follow_redirects=False).cookies[COOKIE])
        clients[name] = client
    items = [v.id for v in store.queue(pid, limit=10)]
    store.decide(items[0], labels=[hostile], decision="relabel", author="ana", expected_version=0)
    store.decide(items[1], labels=["b"], decision="relabel", author="ana", expected_version=0)
    store.decide(items[1], labels=["c"], decision="relabel", author="<b>bo</b>", expected_version=0)
    page = clients["<b>bo</b>"].get("/agreement")
    assert page.status_code == 200 and "Content-Security-Policy" in page.headers and "<script>" not in page.text
    rows = re.findall(r'<tr><td class="q">(\d+)</td>', page.text.split('id="items"')[1])
    assert rows == ["1"]  # bo answered row 1 only: ana's answer to row 0 stays hidden
    assert "&lt;b&gt;bo&lt;/b&gt;" in page.text and "majority vote" in page.text
    assert clients["ana"].get("/agreement").text.count("&lt;script&gt;") == 2  # consensus and answer, escaped
    assert TestClient(app).get("/agreement").status_code == 401


def test_the_agreement_statistics_wait_until_the_viewer_may_see_the_answers(tmp_path):
    from fastapi.testclient import TestClient

    from labelwise.review.app import COOKIE, create_app

    store, pid = _project(f"sqlite:///{tmp_path / 'r.db'}", n=2, k=3, reviewers=("ana", "bo", "cy"))
    app = create_app(store, pid, CLASSES)

    def pairs(name):  # the kappa table as (reviewer, reviewer, items both answered)
        client = TestClient(app)
        client.cookies.set(COOKIE, client.get("/login", params={"token": store.issue_token(pid, name)},
                                              follow_redirects=False).cookies[COOKIE])
        html = client.get("/agreement").text.split('id="kappa"')[1].split("</table>")[0]
        return re.findall(r"<tr><td>(\w+)</td><td>(\w+)</td><td class=\"q\">(\d+)</td>", html)

    item = store.queue(pid, limit=1)[0].id
    for name, label in (("bo", "b"), ("cy", "c")):
        store.decide(item, labels=[label], decision="relabel", author=name, expected_version=0)
    assert pairs("ana") == []  # bo and cy disagree on ana's item: nothing on ana's page says so yet
    assert pairs("bo") == [("bo", "cy", "1")]  # bo has answered: he may see cy's answer
    store.decide(item, labels=["b"], decision="relabel", author="ana", expected_version=0)
    assert pairs("ana") == [("ana", "bo", "1"), ("ana", "cy", "1"), ("bo", "cy", "1")]


def test_the_commands_take_reviewers_per_item_and_export_crowdlab_consensus(tmp_path, capsys):
    from labelwise.cli.main import main
    from labelwise.review.project import open_audit_project
    from tests.review.servers import audit_dir, free_port

    folder = audit_dir(tmp_path, n=9)
    assert main(["review", str(folder), "--reviewers-per-item", "0", "--port", str(free_port())]) == 2
    assert "--reviewers-per-item must be from 1 to" in capsys.readouterr().err
    store, pid, classes = open_audit_project(folder)
    store.set_reviewers_per_item(pid, 2)  # what `labelwise review --reviewers-per-item 2` does before serving
    for name in ("ana", "bo"):
        store.issue_token(pid, name)
        for view in store.queue(pid, reviewer=name, limit=3):
            store.decide(view.id, labels=[classes[(view.row + (name == "bo")) % 3]], decision="relabel",
                         author=name, expected_version=0)
    assert main(["review", str(folder), "--port", str(free_port())]) == 2  # no -r: no default account's share
    assert "name the reviewers" in capsys.readouterr().err
    assert main(["export", str(folder)]) == 0
    consensus = pd.read_csv(folder / "consensus.csv")
    assert list(consensus["row"]) == [0, 1, 2] and set(consensus["method"]) == {"crowdlab"}
    assert set(consensus["status"]) == {"tie"} and len(pd.read_csv(folder / "annotations.csv")) == 6
    labels = pd.read_csv(folder / "labels_reviewed.csv")
    assert list(labels["label"][:3]) == list(consensus["label"]) and len(labels) == 9


def test_a_revoked_reviewers_untouched_items_go_to_the_others(tmp_path):
    store, pid = _project(f"sqlite:///{tmp_path / 'r.db'}", n=12, k=2, reviewers=("ana", "bo", "cy"))
    done = store.queue(pid, reviewer="cy", limit=2)
    for view in done:
        store.decide(view.id, decision="keep", author="cy", expected_version=0)
    store.revoke_tokens(pid, "cy")
    store.issue_tokens(pid, ["ana", "bo"])  # what the next `labelwise review ... -r ana -r bo` does
    assert _mine(store, pid, "cy") == {v.row for v in done}  # cy's answered items stay cy's (the answers count)
    mine = {name: _mine(store, pid, name) for name in ("ana", "bo")}
    for row in range(12):  # every other item has both ana and bo; cy's answered ones one of them
        assert sum(row in rows for rows in mine.values()) == (1 if row in _mine(store, pid, "cy") else 2)
