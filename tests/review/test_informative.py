"""`labelwise review --order informative`: the queue in generate.select's order on a model refit with the reviewed
labels, refit on a worker thread that no request waits for, label-quality order before the first refit and after a
failed one."""

from __future__ import annotations

import logging
import re
import threading

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the review app needs the review extra (pip install -e '.[review]')")
pytest.importorskip("httpx", reason="the app tests use FastAPI's TestClient (httpx)")

from fastapi.testclient import TestClient  # noqa: E402

from labelwise.audit.result import AuditResult  # noqa: E402
from labelwise.cli.main import main  # noqa: E402
from labelwise.generate.select import select_next  # noqa: E402
from labelwise.review.app import create_app  # noqa: E402
from labelwise.review.informative import InformativeOrder, rank_for_review, refit_probabilities  # noqa: E402
from labelwise.review.store import ReviewStore  # noqa: E402

CLASSES = ["a", "b", "c"]
N = 30


@pytest.fixture()
def project(tmp_path):
    """(store, project id, audit, X): 30 rows in 3 clusters of 5-d points, given labels i % 3 (so most are wrong
    for their cluster); label quality rises with the row."""
    rng = np.random.default_rng(0)
    truth = np.arange(N) // 10
    X = rng.normal(size=(N, 5)) + 2.0 * np.eye(5)[truth]
    given = np.where(np.arange(N) % 4 == 0, (truth + 1) % 3, truth)
    probs = np.full((N, 3), 1 / 3)
    audit = AuditResult(classes=CLASSES, row_ids=np.arange(N), given=given, suggested=given,
                        label_quality=np.arange(N) / N, is_issue=np.zeros(N, bool), pred_probs=probs, noise=None,
                        n_input_rows=N)
    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    pid = store.create_project("p", CLASSES)
    store.add_items(pid, [{"row": i, "payload": {"text": f"row {i}"}, "given": [CLASSES[given[i]]],
                           "label_quality": float(audit.label_quality[i])} for i in range(N)])
    return store, pid, audit, X


def _expected(X, labels, reviewed):
    """generate.select's margin ranking of the unreviewed rows on the refit model, then the reviewed rows by label
    quality (the row number here)."""
    probs = refit_probabilities(X, labels, 3, "dense")
    free = select_next(probs, strategy="margin", budget=int((~reviewed).sum()), labelled=np.flatnonzero(reviewed))
    return free.tolist() + np.flatnonzero(reviewed).tolist()


def _order(state):
    return [row for row, _ in sorted(state.rank.items(), key=lambda kv: kv[1])]


def test_the_order_is_select_next_on_the_refit_model_and_a_decision_changes_it(project):
    store, pid, audit, X = project
    order = InformativeOrder(store, pid, audit, features=lambda: (X, "dense"), refit_every=2).start()
    try:
        assert order.wait_for_refit(1)
        assert order.error is None
        first = _order(order.current())
        assert first == _expected(X, audit.given, np.zeros(N, bool))
        # a reviewer relabels the least sure row and keeps another: the next refit trains on the decisions
        top, second = (store.queue_in_order(pid, order.current().rank, limit=2)[0])
        store.decide(top.id, decision="relabel", labels=["c"], author="r", expected_version=0)
        store.decide(second.id, decision="keep", author="r", expected_version=0)
        order.decided()
        order.decided()
        assert order.wait_for_refit(2)
        labels = audit.given.copy()
        labels[top.row] = 2
        reviewed = np.isin(np.arange(N), [top.row, second.row])
        after = _order(order.current())
        assert after == _expected(X, labels, reviewed)
        assert after != first and after[-2:] == sorted([top.row, second.row])
        assert order.current().n_reviewed == 2
    finally:
        order.stop()
    assert not order._thread.is_alive()


def test_rank_for_review_puts_k_centers_first_then_quality_then_the_reviewed():
    probs = np.tile([[0.5, 0.5]], (6, 1))
    points = np.array([[0.0], [0.1], [10.0], [0.2], [5.0], [9.9]])
    reviewed = np.array([True, False, False, False, False, False])
    quality = np.array([0.0, 0.5, 0.4, 0.3, 0.2, 0.1])
    order = rank_for_review(probs, reviewed, quality, strategy="k_center", embeddings=points)
    # farthest from the reviewed row 0: 10.0 (row 2), then 5.0 (row 4), then ... each pick farthest from all so far
    assert order.tolist()[:2] == [2, 4] and order[-1] == 0 and sorted(order.tolist()) == list(range(6))


def _login(c, store, pid):
    r = c.get("/login", params={"token": store.issue_token(pid, "rev")}, follow_redirects=False)
    assert r.status_code == 303


def _rows(html):
    return [int(r) for r in re.findall(r'<td class="q">(\d+)</td><td class="q">', html)]


def test_a_slow_refit_blocks_no_request_and_the_queue_says_which_order_it_shows(project):
    store, pid, audit, X = project
    started, release = threading.Event(), threading.Event()

    def slow_fit(X, labels, k, kind):
        started.set()
        assert release.wait(60), "the test never released the refit"
        return refit_probabilities(X, labels, k, kind)

    order = InformativeOrder(store, pid, audit, features=lambda: (X, "dense"), fit=slow_fit)
    with TestClient(create_app(store, pid, CLASSES, order=order)) as c:  # the lifespan starts the worker
        _login(c, store, pid)
        assert started.wait(30)
        # the refit is running (blocked until released): pages and decisions are answered meanwhile
        html = c.get("/").text
        assert "first refit is still running" in html and _rows(html) == list(range(N))  # label-quality order
        item = store.queue(pid, limit=1)[0]
        page = c.get(f"/item/{item.id}").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        r = c.post(f"/item/{item.id}/decide", data={"csrf": csrf, "version": 0, "decision": "keep"},
                   follow_redirects=False)
        assert r.status_code == 303 and order.refits == 0
        release.set()
        assert order.wait_for_refit(1)
        html = c.get("/").text
        assert "Most informative first" in html and "margin, model refit at" in html
        assert _rows(html) == _order(order.current())
        # after a decision the next item is the most informative one without a decision
        first_free = _order(order.current())[0]
        target = store.queue_in_order(pid, order.current().rank, limit=1)[0][0]
        page = c.get(f"/item/{target.id}").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        r = c.post(f"/item/{target.id}/decide", data={"csrf": csrf, "version": 0, "decision": "keep"},
                   follow_redirects=False)
        assert target.row == first_free
        following = store.item(int(r.headers["location"].split("/item/")[1].split("?")[0]))
        assert following.row == _order(order.current())[1]
    assert not order._thread.is_alive()  # stopped with the app


def test_a_failed_refit_falls_back_to_label_quality_and_is_logged(project, caplog):
    store, pid, audit, X = project

    def broken_fit(X, labels, k, kind):
        raise RuntimeError("out of memory")

    order = InformativeOrder(store, pid, audit, features=lambda: (X, "dense"), fit=broken_fit)
    with caplog.at_level(logging.WARNING, logger="labelwise.review"):
        with TestClient(create_app(store, pid, CLASSES, order=order)) as c:
            _login(c, store, pid)
            assert order.wait_for_refit(1)
            r = c.get("/")
            assert r.status_code == 200 and "last refit of the model failed" in r.text
            assert _rows(r.text) == list(range(N))
    assert order.current() is None and "RuntimeError: out of memory" in caplog.text


def test_review_refuses_an_order_it_cannot_give(tmp_path, capsys):
    from tests.review.servers import audit_dir

    folder = audit_dir(tmp_path, n=12)  # its probabilities came with no features to refit on
    assert main(["review", str(folder), "--order", "best"]) == 2
    assert "--order takes quality or informative" in capsys.readouterr().err
    assert main(["review", str(folder), "--strategy", "entropy"]) == 2  # would be ignored in quality order
    assert "add --order informative" in capsys.readouterr().err
    assert main(["review", str(folder), "--order", "informative", "--strategy", "rad"]) == 2
    assert "must be one of margin" in capsys.readouterr().err
    assert main(["review", str(folder), "--order", "informative"]) == 2
    assert "no features to refit a model on" in capsys.readouterr().err


def test_with_several_reviewers_per_item_one_answer_does_not_move_the_item_in_the_others_queue(project):
    store, pid, audit, X = project
    store.set_reviewers_per_item(pid, 2)
    store.issue_tokens(pid, ["ana", "bo"])
    fitted = []

    def fit(X, labels, k, kind):
        fitted.append(labels.copy())
        return refit_probabilities(X, labels, k, kind)

    order = InformativeOrder(store, pid, audit, features=lambda: (X, "dense"), fit=fit, refit_every=1).start()
    try:
        assert order.wait_for_refit(1)
        first = order.current().rank
        item = store.queue_in_order(pid, first, limit=1, reviewer="ana")[0][0]
        store.decide(item.id, decision="relabel", labels=["c"], author="ana", expected_version=0)
        order.decided()
        assert order.wait_for_refit(2)
        # only ana answered: nothing counts as reviewed yet, so bo's queue keeps its order and says nothing of it
        assert order.current().rank == first and order.current().n_reviewed == 0
        assert np.array_equal(fitted[-1], audit.given)
        store.decide(item.id, decision="relabel", labels=["c"], author="bo", expected_version=0)
        order.decided()
        assert order.wait_for_refit(3)
        assert order.current().n_reviewed == 1 and order.current().rank[item.row] == N - 1  # both answered: last
        assert fitted[-1][item.row] == 2  # trained on their consensus
    finally:
        order.stop()
