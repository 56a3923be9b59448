"""The review app over HTTP (FastAPI TestClient): login, queue order, decisions, CSRF, conflicts, escaping."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("fastapi", reason="the review app needs the review extra (pip install -e '.[review]')")
pytest.importorskip("httpx", reason="the app tests use FastAPI's TestClient (httpx)")

from fastapi.testclient import TestClient  # noqa: E402

from labelwise.review.app import create_app  # noqa: E402
from labelwise.review.store import QueueFilter, ReviewStore  # noqa: E402

CLASSES = ["card_arrival", "<script>alert('label')</script>", "pin_blocked"]
XSS = "<img src=x onerror=alert(1)><script>alert('text')</script>"


@pytest.fixture()
def client(store_url):
    store = ReviewStore(store_url)
    pid = store.create_project("p", CLASSES)
    rows = [{"row": i, "payload": {"text": XSS if i == 2 else f"question {i}"}, "given": [CLASSES[i % 3]],
             "label_quality": [0.9, 0.5, 0.01, 0.3][i], "issues": [["label"], [], ["outlier"], ["label"]][i],
             "suggestion": {"labels": ["pin_blocked"], "probabilities": {"pin_blocked": 0.7, "card_arrival": 0.2}}}
            for i in range(4)]
    store.add_items(pid, rows)
    app = create_app(store, pid, CLASSES)
    c = TestClient(app)
    c.token = store.issue_token(pid, "reviewer")
    return c, store


def _login(c, token=None):
    r = c.get("/login", params={"token": token or c.token}, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_every_page_needs_the_token(client):
    c, _ = client
    assert c.get("/").status_code == 401
    assert c.get("/login", params={"token": "wrong"}).status_code == 403
    assert c.get("/item/1").status_code == 401


def test_queue_is_worst_first_and_data_is_escaped(client):
    c, _ = client
    _login(c)
    html = c.get("/").text
    rows = re.findall(r'<td class="q">(\d+)</td><td class="q">', html)
    assert rows == ["2", "3", "1", "0"]
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;text&#39;)" in html
    assert "<img src=x" not in html


def _csrf_and_version(html):
    return (re.search(r'name="csrf" value="([^"]+)"', html).group(1),
            int(re.search(r'name="version" value="(\d+)"', html).group(1)))


def test_relabel_records_an_event_and_moves_to_the_next_item(client):
    c, store = client
    _login(c)
    item = store.queue(1, limit=1)[0]
    html = c.get(f"/item/{item.id}").text
    assert "&lt;script&gt;alert(&#39;label&#39;)" in html and "<script>" not in html
    csrf, version = _csrf_and_version(html)
    r = c.post(f"/item/{item.id}/decide", data={"csrf": csrf, "version": version, "decision": "relabel",
                                                 "label": "pin_blocked", "reason": "asks about a PIN"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/item/")
    assert store.item(item.id).current_labels == ["pin_blocked"]
    assert store.history(item.id)[-1]["author"] == "reviewer"
    r = c.post(f"/item/{item.id}/decide", data={"csrf": csrf, "version": 1, "decision": "undo"},
               follow_redirects=False)
    assert r.status_code == 303 and store.item(item.id).current_labels == [CLASSES[item.row % 3]]


def test_post_without_the_csrf_token_is_refused(client):
    c, store = client
    _login(c)
    item = store.queue(1, limit=1)[0]
    r = c.post(f"/item/{item.id}/decide", data={"version": 0, "decision": "keep", "csrf": "forged"})
    assert r.status_code == 403 and store.item(item.id).version == 0


def test_a_second_reviewer_sees_the_conflict(client):
    c, store = client
    _login(c)
    item = store.queue(1, limit=1)[0]
    csrf, version = _csrf_and_version(c.get(f"/item/{item.id}").text)
    store.decide(item.id, labels=["card_arrival"], decision="relabel", author="someone", expected_version=version)
    r = c.post(f"/item/{item.id}/decide", data={"csrf": csrf, "version": version, "decision": "relabel",
                                                 "label": "pin_blocked"})
    assert r.status_code == 409 and "changed by someone else" in r.text
    assert store.item(item.id).current_labels == ["card_arrival"]


@pytest.mark.model
def test_open_an_audit_folder_resume_it_and_export(tmp_path):
    """From `labelwise audit --out DIR` to a project; re-opening resumes; export writes labels and changelog."""
    import pandas as pd

    from labelwise.cli.main import main
    from labelwise.review.project import export_decisions, open_audit_project

    frame = pd.DataFrame({"text": [f"question {i} {XSS if i == 0 else ''}" for i in range(60)],
                          "category": ["card_arrival", "pin_blocked", "card_linking"] * 20})
    frame.to_csv(tmp_path / "t.csv", index=False)
    import numpy as np

    probs = np.random.default_rng(0).dirichlet(np.ones(3), 60)
    np.save(tmp_path / "p.npy", probs)
    assert main(["audit", str(tmp_path / "t.csv"), "--label", "category", "--text", "text", "--pred-probs",
                 str(tmp_path / "p.npy"),
                 "--out", str(tmp_path / "audit"), "--quiet"]) == 0
    store, pid, classes = open_audit_project(tmp_path / "audit")
    assert store.progress(pid) == (0, 60) and sorted(classes) == ["card_arrival", "card_linking", "pin_blocked"]
    worst = store.queue(pid, limit=1)[0]
    store.decide(worst.id, labels=["pin_blocked"], decision="relabel", author="ana", expected_version=0, reason="r")
    store2, pid2, _ = open_audit_project(tmp_path / "audit")  # resume: same project, nothing added twice
    assert pid2 == pid and store2.progress(pid2) == (1, 60)
    written = export_decisions(store2, pid2, tmp_path / "export", table=frame, label_column="category",
                               dataset_name="t.reviewed.csv").paths
    labels, changelog = written["labels"], written["changelog"]
    out = pd.read_csv(labels)
    assert len(out) == 60 and out.set_index("row").loc[worst.row, "label"] == "pin_blocked"
    log = pd.read_csv(changelog)
    assert log["author"].tolist() == ["ana"] and log["row"].tolist() == [worst.row]
    corrected = pd.read_csv(written["dataset"], keep_default_na=False)
    assert len(corrected) == 60 and corrected["text"].tolist() == frame["text"].tolist()  # the user's table, in order
    assert corrected.loc[worst.row, "category"] == "pin_blocked"
    assert corrected.loc[worst.row, "category_given"] == frame.loc[worst.row, "category"]
    assert corrected.loc[worst.row, "reviewed_by"] == "ana" and corrected.loc[worst.row, "review_decision"] == "relabel"
    others = corrected.drop(index=worst.row)
    assert (others["category"] == others["category_given"]).all() and (others["reviewed_by"] == "").all()
    # the CLI finds the audited table through the audit's summary.json and writes <name>.reviewed.csv
    assert main(["export", str(tmp_path / "audit"), "--out", str(tmp_path / "export2")]) == 0
    assert pd.read_csv(tmp_path / "export2" / "t.reviewed.csv").equals(pd.read_csv(written["dataset"]))
    assert main(["review", str(tmp_path / "nothing")]) == 2


def test_a_table_is_audited_first_and_reopened_later(tmp_path):
    import numpy as np
    import pandas as pd

    from labelwise.cli.review import prepare_audit
    from labelwise.errors import LabelwiseError

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(90, 4)), columns=list("wxyz"))
    frame["label"] = ["a", "b", "c"] * 30
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(LabelwiseError, match="--label"):
        prepare_audit(tmp_path / "t.csv", label=None, text=None)
    folder = prepare_audit(tmp_path / "t.csv", label="label", text=None, quiet=True)
    assert folder == tmp_path / "t.csv.labelwise" and (folder / "issues.csv").is_file()
    stamp = (folder / "issues.csv").stat().st_mtime_ns
    assert prepare_audit(tmp_path / "t.csv", label="label", text=None) == folder  # resumes, no second audit
    assert (folder / "issues.csv").stat().st_mtime_ns == stamp
    with pytest.raises(LabelwiseError, match="neither"):
        prepare_audit(tmp_path / "missing.csv", label="label", text=None)


def test_filters_by_issue_class_and_reviewed_survive_decisions(client):
    c, store = client
    _login(c)
    html = c.get("/", params={"issue": "label"}).text
    assert re.findall(r'<td class="q">(\d+)</td><td class="q">', html) == ["3", "0"]
    html = c.get("/", params={"class": "pin_blocked"}).text  # given class of row 2 (2 % 3)
    assert re.findall(r'<td class="q">(\d+)</td><td class="q">', html) == ["2"]
    first = store.queue(1, limit=10, where=QueueFilter(issue="label"))[0]
    csrf, version = _csrf_and_version(c.get(f"/item/{first.id}?issue=label").text)
    r = c.post(f"/item/{first.id}/decide?issue=label", data={"csrf": csrf, "version": version, "decision": "keep"},
               follow_redirects=False)
    following = store.queue(1, limit=10, where=QueueFilter(issue="label"))[1]
    assert r.headers["location"] == f"/item/{following.id}?issue=label"  # the next item of the same filter
    html = c.get("/", params={"reviewed": "yes"}).text
    assert re.findall(r'<td class="q">(\d+)</td><td class="q">', html) == [str(first.row)]
    assert c.get("/", params={"issue": "../../etc/passwd", "reviewed": "maybe"}).status_code == 200  # ignored


def test_several_labels_and_top_suggestions(client):
    c, store = client
    _login(c)
    item = store.queue(1, limit=1)[0]
    html = c.get(f"/item/{item.id}").text
    assert re.findall(r'id="top(\d)" data-label="([^"]+)"', html) == [("1", "pin_blocked"), ("2", "card_arrival")]
    csrf, version = _csrf_and_version(html)
    r = c.post(f"/item/{item.id}/decide", data={"csrf": csrf, "version": version, "decision": "several",
                                                 "labels": ["pin_blocked"]})
    assert r.status_code == 400 and store.item(item.id).version == 0  # one label is not "several"
    r = c.post(f"/item/{item.id}/decide", data={"csrf": csrf, "version": version, "decision": "several",
                                                 "labels": ["pin_blocked", "card_arrival"]}, follow_redirects=False)
    assert r.status_code == 303 and store.item(item.id).current_labels == ["pin_blocked", "card_arrival"]


def test_each_reviewer_has_an_account_and_sessions_outlive_the_app(client):
    c, store = client
    ana, bo = store.issue_token(1, "ana"), store.issue_token(1, "bo")
    _login(c, ana)
    item = store.queue(1, limit=1)[0]
    csrf, version = _csrf_and_version(c.get(f"/item/{item.id}").text)
    c.post(f"/item/{item.id}/decide", data={"csrf": csrf, "version": version, "decision": "keep"})
    c2 = TestClient(c.app)
    _login(c2, bo)
    csrf2, version2 = _csrf_and_version(c2.get(f"/item/{item.id}").text)
    c2.post(f"/item/{item.id}/decide", data={"csrf": csrf2, "version": version2, "decision": "ambiguous"})
    assert [e["author"] for e in store.history(item.id) if e["source"] == "human"] == ["ana", "bo"]
    assert csrf != csrf2  # every session its own CSRF token
    # a restarted app (new store object, same database) still knows the session cookie
    again = ReviewStore(store.url)
    c3 = TestClient(create_app(again, 1, CLASSES))
    c3.cookies.set("labelwise_session", c.cookies.get("labelwise_session"))
    assert c3.get("/").status_code == 200 and "signed in as ana" in c3.get("/").text
    assert "ana" in again.reviewers(1) and store.revoke_tokens(1, "ana") == 1
    assert c3.get("/login", params={"token": ana}).status_code == 403  # revoked
    assert c3.get("/").status_code == 401  # and her session ended, in the other app too
    assert TestClient(create_app(ReviewStore(store.url), 1, CLASSES)).get("/login", params={"token": bo}
                                                                           ).status_code == 200


def test_an_item_of_another_project_in_the_same_database_is_out_of_reach(client):
    c, store = client
    other = store.create_project("another dataset", CLASSES)
    store.add_items(other, [{"row": 0, "payload": {"text": "secret"}, "given": ["pin_blocked"],
                             "label_quality": 0.0}])
    foreign = store.queue(other, limit=1)[0]
    _login(c)
    assert c.get(f"/item/{foreign.id}").status_code == 404
    csrf, _ = _csrf_and_version(c.get(f"/item/{store.queue(1, limit=1)[0].id}").text)
    r = c.post(f"/item/{foreign.id}/decide", data={"csrf": csrf, "version": 0, "decision": "keep"})
    assert r.status_code == 404 and store.item(foreign.id).version == 0
